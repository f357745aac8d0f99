"""Re-baseline: an approved change request applied to every system at once.

Started by `ps.change-request.approved` (the customer's "accepted", after the engagement
manager's approval) for one CR of one opportunity. It reads the change as its GitLab issue records
it, checks both approvals are on record, and moves the engagement to its new baseline
(`engagement.change_request.rebaselined`, which gives the same baseline however often it is
applied): the quiet records first, what people read last:

1. Mavenlink: the project's budget and due date; the milestones re-dated over the new schedule,
   made for added activities, deleted for removed ones (a completed one stays as it was);
2. GitLab: an issue for each added activity in the customer epic, the removed ones closed, every
   activity issue's due date moved;
3. the Project Definition's Plan tab; the cost estimate's Change Log row (keyed by the CR number);
4. the team's allocations extended to the new end, or released when it comes sooner;
5. Salesforce: the PS Engagement's scoped hours and expected completion;
6. the CR issue closed, and the new baseline posted in the customer's channel.

Each write is looked up first (by the activity code, or the CR number), so a retry after a crash
in the middle finishes what was left and applies nothing twice.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, State

from core.events import Phase
from engagement.change_request import (
    CHANGE_LOG,
    Recorded,
    approver_of,
    baseline_text,
    change_log_row,
    rebaselined,
    recorded,
)
from engagement.keys import Kind, slack_customer_channel
from engagement.lifecycle import NotReady
from engagement.models import Opportunity
from engagement.plan import Milestone, TeamAllocation, milestones, plan_titles
from engagement.project_definition import PLAN, plan_rows
from engagement.refs import Ref
from engagement.slugs import slack_text
from flows.change_request import baseline_of, name_run
from flows.guard import phase_run
from flows.plan import bookings, initiated_objects
from tasks.clients import systems
from tasks.drive import find_keyed_file
from tasks.gitlab import (
    ensure_epic,
    ensure_issue,
    ensure_issue_closed,
    ensure_issue_due_dates,
    find_issue_note,
    find_issue_parts,
)
from tasks.mavenlink import ensure_milestones_moved, ensure_workspace_baseline
from tasks.salesforce import engagement_ref, ensure_engagement_baseline, get_opportunity
from tasks.sheets import ensure_rows, get_tables
from tasks.slack import ensure_message, find_channel, find_messages

PHASE = Phase.CHANGE_REQUEST
WHAT = "a re-baseline"
PLAN_REWRITTEN = PLAN.rewritten()  # the CR is the agreement: its plan replaces the cells


@flow(name="rebaseline", flow_run_name="rebaseline · {customer} · {number}")
def rebaseline(opportunity_id: str, number: str, customer: str = "") -> State[Any]:
    """Apply one approved change request to every system.

    Args:
        opportunity_id: the Salesforce Opportunity id.
        number: the change request's number within the opportunity, e.g. "CR-2".
        customer: the account's name, for the run's name in the UI only.
    """
    return phase_run(PHASE, opportunity_id, lambda record_id: apply(record_id, number))


def apply(opportunity_id: str, number: str) -> State[Any]:
    opportunity = get_opportunity(opportunity_id)
    name_run(f"rebaseline · {opportunity.account.name} · {number}")
    initiated = initiated_objects(opportunity, WHAT)
    record, approved_by = approved(opportunity, initiated.project, number)
    current, _ = baseline_of(opportunity, initiated)
    new = rebaselined(current, record.change)
    planning = find_messages(
        find_channel(systems().settings.planning_channel),
        (Kind.TEAM_ALLOCATION,),
        opportunity.id,
    )
    if Kind.TEAM_ALLOCATION not in planning:
        raise NotReady(opportunity.id, WHAT, ["#ps_planning holds no team allocation"])
    allocation = TeamAllocation.from_payload(planning[Kind.TEAM_ALLOCATION].payload)
    # each activity's milestone title: the Plan tab's, or the name the change gives an added one
    titles = plan_titles(get_tables(initiated.definition.id, [PLAN])[PLAN]) | {
        a.code: a.name or a.code for a in record.change.added
    }
    schedule = milestones(
        [(code, titles.get(code, code), hours) for code, hours in new.activities.items()],
        allocation.start,
        new.end,
        opportunity.account.country,
    )
    removed = list(record.change.removed)

    made: list[Ref] = []
    if ensure_workspace_baseline(initiated.workspace, new.budget, new.end):
        made.append(initiated.workspace.model_copy(update={"created": True}))
    made.extend(ensure_milestones_moved(initiated.workspace.id, opportunity.id, schedule, removed))
    made.extend(activity_issues(opportunity, initiated.project, schedule, removed))
    ensure_rows(
        initiated.definition.id, {PLAN_REWRITTEN: plan_rows(schedule)}, {PLAN_REWRITTEN: removed}
    )
    today = systems().clock().today(opportunity.account.time_zone)
    estimate = find_keyed_file(Kind.COST_ESTIMATE, opportunity.id)
    if estimate is not None:  # Pre-Initiate made it; a person may have moved it away since
        row = change_log_row(number, record, new, today, approved_by)
        ensure_rows(estimate.id, {CHANGE_LOG: [row]})
    made.extend(bookings(opportunity, initiated.workspace, allocation.until(new.end)))
    if ensure_engagement_baseline(initiated.engagement, record.scoped_hours(new), new.end):
        made.append(engagement_ref(initiated.engagement))
    closed = ensure_issue_closed(
        initiated.project, Kind.CHANGE_REQUEST_ISSUE, opportunity.id, number
    )
    made.extend([closed] if closed else [])
    lines = baseline_text(record.baseline, new)
    made.append(
        ensure_message(
            slack_customer_channel(opportunity.account.id, opportunity.account.name),
            f"{slack_text(number)} ({record.paper.value}) of *{slack_text(opportunity.name)}* "
            f"is applied: approved by {slack_text(approved_by)}.\n"
            + "\n".join(f"• {slack_text(line)}" for line in lines),
            Kind.CHANGE_REQUEST_APPLIED,
            opportunity.id,
            part=number,
        )
    )
    publish(opportunity, number, record, lines, made)
    return Completed(message=f"{number} applied: " + "; ".join(lines[:2]))


def approved(opportunity: Opportunity, project: str, number: str) -> tuple[Recorded, str]:
    """The change request as its issue records it, and who approved it for the customer; NotReady
    (before any write) when it is missing or either approval is not on record."""
    texts = find_issue_parts(project, Kind.CHANGE_REQUEST_ISSUE, opportunity.id)
    record = recorded(texts.get(number, ""))
    if record is None:
        raise NotReady(opportunity.id, WHAT, [f"{number}: no change request issue records it"])
    channel = slack_customer_channel(opportunity.account.id, opportunity.account.name)
    kinds = (Kind.CHANGE_REQUEST_APPROVAL,)
    em = find_messages(find_channel(channel), kinds, opportunity.id, part=number)
    note = find_issue_note(
        project, Kind.CHANGE_REQUEST_ISSUE, opportunity.id, number, Kind.CUSTOMER_APPROVAL
    )
    problems = []
    word = em.get(Kind.CHANGE_REQUEST_APPROVAL)
    if word is None or word.payload.get("approve") != "yes":
        problems.append(f"{number}: the engagement manager's approval is not on record")
    if note is None:
        problems.append(f"{number}: the customer's approval is not on the issue")
    if problems:
        raise NotReady(opportunity.id, WHAT, problems)
    assert note is not None
    return record, approver_of(note)


def activity_issues(
    opportunity: Opportunity, project: str, schedule: tuple[Milestone, ...], removed: list[str]
) -> list[Ref]:
    """An issue for each activity the change adds (in the customer epic), the removed ones closed,
    every activity issue due on its milestone's new date."""
    made = []
    existing = find_issue_parts(project, Kind.ACTIVITY_ISSUE, opportunity.id)
    added = [m for m in schedule if m.code not in existing]
    if added:
        epic = ensure_epic(project.rsplit("/", 1)[0], opportunity)
        for milestone in added:
            made.append(
                ensure_issue(
                    project,
                    Kind.ACTIVITY_ISSUE,
                    opportunity.id,
                    milestone.title,
                    f"Activity {milestone.code}, added by a change request: "
                    f"{milestone.hours} hours.",
                    part=milestone.code,
                    epic=epic.id,
                )
            )
    for code in removed:
        if closed := ensure_issue_closed(project, Kind.ACTIVITY_ISSUE, opportunity.id, code):
            made.append(closed)
    due = {m.code: m.due for m in schedule}
    made.extend(
        ensure_issue_due_dates(project, Kind.ACTIVITY_ISSUE, opportunity.id, due, moved=True)
    )
    return made


def publish(
    opportunity: Opportunity, number: str, record: Recorded, lines: list[str], made: list[Ref]
) -> None:
    """The run's artifact: the new baseline against the old, and what was written where."""
    changed = [ref for ref in made if ref.created]
    markdown = "\n".join(
        [
            f"# {number} applied: {record.change.description}",
            "",
            f"A **{record.paper.value}**, approved by the engagement manager and the customer.",
            "",
            *(f"- {line}" for line in lines),
            "",
            "## Written now",
            "",
            *(
                f"- {ref.kind}: [{ref.name}]({ref.url})" if ref.url else f"- {ref.kind}: {ref.name}"
                for ref in changed
            ),
            *([] if changed else ["- nothing: everything held the new baseline already"]),
        ]
    )
    create_markdown_artifact(
        key=f"rebaseline-{opportunity.id.lower()}-{number.lower()}",
        markdown=markdown + "\n",
        description=f"{number} applied · {opportunity.account.name} · {opportunity.name}",
    )
