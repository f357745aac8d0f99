"""Initiate: on Closed Won, every system provisioned exactly once.

Started by `ps.opportunity.closed-won`. It reads the opportunity (Salesforce), the approved staffing
(#ps_planning) and the cost estimate (Sheets), and stops before any write when something is missing,
saying what and where. Then it creates, each found by its natural key first: the customer group, PS
project, customer epic, hand-off issue and one issue per SOW activity (GitLab), the PS Engagement
record with the project's link (Salesforce), the project set up with budget, margin, tasks and
team (Mavenlink), the Project Definition (Drive), the customer's internal channel (Slack), the
initiation e-mail (Gmail) and the alignment and hand-off meetings (Calendar); then it emits
`ps.phase.completed`.

An opportunity that reached Closed Won without Negotiating first gets the Pre-Initiate steps it
missed, the coordinator's approval included. A re-run writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Completed, State

from core.events import Phase
from engagement.cost_estimate import activity_name
from engagement.keys import Kind, slack_customer_channel
from engagement.lifecycle import NotReady, Team, initiate_problems
from engagement.models import CostEstimate, Engagement, EngagementStatus, Opportunity
from engagement.people import User
from engagement.project_definition import prefill as project_definition_cells
from engagement.refs import Ref
from engagement.slugs import slack_text
from engagement.templates import Template, engagement_values
from engagement.workdays import MeetingSlot, meeting_slot
from flows.guard import engagement_document, phase_run
from flows.pre_initiate import StaffingDecision, pre_initiate_steps, recorded_decision
from flows.reporting import announce_completed, publish_summary
from tasks.calendar import ensure_event
from tasks.clients import systems
from tasks.drive import ensure_shared, find_keyed_file
from tasks.gitlab import (
    ensure_customer_group,
    ensure_epic,
    ensure_issue,
    ensure_project,
    ensure_project_member,
    find_user,
)
from tasks.gmail import ensure_email
from tasks.mavenlink import (
    IN_SET_UP,
    PROVIDER_TEAM,
    ensure_lead,
    ensure_participants,
    ensure_story,
    ensure_workspace,
    ensure_workspace_details,
    workspace_fields,
)
from tasks.salesforce import ensure_engagement, get_opportunity, get_users
from tasks.sheets import ensure_prefilled, get_cost_estimate
from tasks.slack import (
    ensure_channel,
    ensure_members,
    ensure_message,
    ensure_pinned,
)

PHASE = Phase.INITIATE
TARGET_MARGIN_PERCENT = 40  # the handbook's target margin for every engagement
HALF_HOUR, THREE_QUARTERS = timedelta(minutes=30), timedelta(minutes=45)  # alignment, hand-off


@flow(name="initiate", flow_run_name="initiate · {customer} · {opportunity_id}")
def initiate(opportunity_id: str, customer: str = "") -> State[Any]:
    """The handbook's Initiate steps for one opportunity.

    Args:
        opportunity_id: the Salesforce Opportunity id (15 or 18 characters).
        customer: the account's name, for the run's name in the UI only.
    """
    return phase_run(PHASE, opportunity_id, run_initiate)


def run_initiate(opportunity_id: str) -> State[Any]:
    """Initiate for one opportunity, inside its run's slot."""
    settings = systems().settings
    opportunity = get_opportunity(opportunity_id, customer_history=True)
    if problems := initiate_problems(opportunity, settings.closed_won_stage):
        raise NotReady(opportunity.id, "Initiate", problems)

    made: list[Ref] = []
    decision = approved_staffing(opportunity)
    if decision is None:
        get_run_logger().warning("Closed Won without Pre-Initiate: running its steps first")
        missed = pre_initiate_steps(opportunity)
        made.extend(missed.made)
        decision = missed.decision
    estimate = cost_estimate_gate(opportunity)
    team = team_of(opportunity, decision)
    # who they are in Salesforce: names for the e-mail, ids for the record, time zones for meetings
    people = {user.email: user for user in get_users([*team.internal, *team.sales])}

    names = {email: user.name for email, user in people.items()}
    values = engagement_values(opportunity, team, names, settings.company_name)
    gitlab, project_url = gitlab_project(opportunity, team, values)
    # one write: the record is made once its GitLab link exists, not made and then updated
    record = engagement_record(opportunity, estimate, decision, people, project_url)
    made.append(ensure_engagement(record))
    made.extend(gitlab)
    workspace = ensure_workspace(opportunity, IN_SET_UP)  # Pre-Initiate's Prospect project
    definition = project_definition(opportunity, team, project_url, workspace.url)
    made.extend(mavenlink_project(opportunity, team, workspace, project_url, definition.url))
    made.append(definition)
    made.extend(customer_channel(opportunity, team, made))
    made.append(initiation_email(opportunity, team, values))
    made.extend(meetings(opportunity, team, people))

    publish_summary(PHASE, opportunity, made, waiting="the kickoff (Plan)")
    announce_completed(PHASE, opportunity)
    created = sum(a.created for a in made)
    return Completed(message=f"{created} created, {len(made) - created} already existed")


# --- 1. what Initiate needs first -----------------------------------------------------------------


def approved_staffing(opportunity: Opportunity) -> StaffingDecision | None:
    """The approval recorded in #ps_planning by Pre-Initiate, or None when it never ran."""
    decision = recorded_decision(opportunity)
    return decision if decision is not None and decision.approve else None


def cost_estimate_gate(opportunity: Opportunity) -> CostEstimate:
    """The cost estimate must exist and be complete before anything is provisioned."""
    sheet = find_keyed_file(Kind.COST_ESTIMATE, opportunity.id)
    if sheet is None:
        raise NotReady(opportunity.id, "Initiate", ["the cost estimate sheet does not exist"])
    estimate = get_cost_estimate(sheet.id, opportunity.id)
    sold = [activity_name(item) for item in opportunity.line_items]
    if missing := estimate.missing(sold):
        raise NotReady(
            opportunity.id,
            "Initiate",
            [f"cost estimate {sheet.url}: {item}" for item in missing],
        )
    return estimate


def team_of(opportunity: Opportunity, decision: StaffingDecision) -> Team:
    return Team(
        engagement_manager=str(opportunity.engagement_manager_email),
        coordinator=decision.approver,
        pses=decision.pses,
        project_owner=decision.owner,
        account_executive=opportunity.account_executive_email,
    )


def engagement_record(
    opportunity: Opportunity,
    estimate: CostEstimate,
    decision: StaffingDecision,
    people: Mapping[str, User],
    project_url: str | None = None,
) -> Engagement:
    approver, owner = people.get(decision.approver), people.get(decision.owner)
    return Engagement(
        name=f"{opportunity.sow_number} {opportunity.account.name}"[:80],
        opportunity_id=opportunity.id,
        opportunity_amount=opportunity.amount,
        currency=opportunity.currency,
        status=EngagementStatus.INITIATION,
        sow_link=opportunity.sow_link,
        collaboration_project=project_url,
        scoped_hours=estimate.total_hours,
        expected_start=opportunity.expected_start,
        expected_completion=opportunity.expected_completion,
        approved=decision.approve,
        approver=decision.approver,
        approver_id=approver.id if approver else None,
        project_owner_id=owner.id if owner else None,
    )


# --- 2. GitLab ------------------------------------------------------------------------------------


def gitlab_project(
    opportunity: Opportunity, team: Team, values: dict[str, str]
) -> tuple[list[Ref], str]:
    """The customer group, the PS project, the customer epic with the hand-off issue and one issue
    per SOW activity in it, and the project owner as maintainer and assignee."""
    group = ensure_customer_group(opportunity.account.id, opportunity.account.name)
    project = ensure_project(group.id, opportunity)
    epic = ensure_epic(group.id, opportunity)
    owner = find_user(team.project_owner)
    assignees = [owner.id] if owner is not None else []
    if owner is not None:
        ensure_project_member(project.id, owner.id)

    handoff = ensure_issue(
        project.id,
        Kind.HANDOFF_ISSUE,
        opportunity.id,
        f"Sales to PS hand-off: {opportunity.account.name} – {opportunity.sow_number}",
        Template(key="handoff-issue", values=values),
        epic=epic.id,
        assignee_ids=assignees,
    )
    activities = [
        ensure_issue(
            project.id,
            Kind.ACTIVITY_ISSUE,
            opportunity.id,
            activity_name(item),
            f"SOW activity {item.code}: {item.description}\n\nSold: {item.quantity} {item.unit}.",
            part=item.code,
            epic=epic.id,
            assignee_ids=assignees,
        )
        for item in opportunity.line_items
    ]
    return [group, project, epic, handoff, *activities], str(project.url)


# --- 3. Mavenlink ---------------------------------------------------------------------------------


def mavenlink_project(
    opportunity: Opportunity,
    team: Team,
    workspace: Ref,
    project_url: str,
    definition_url: str | None,
) -> list[Ref]:
    """The project moves to In Set Up with its budget, the 40% target margin, the SOW number and
    the links to the GitLab project and the Project Definition; one task per SOW activity with its
    hours; the team as participants, the owner as lead."""
    ensure_workspace_details(
        workspace.id,
        opportunity.amount,
        opportunity.currency,
        TARGET_MARGIN_PERCENT,
        workspace_fields(opportunity, project_url, definition_url),
        status=IN_SET_UP,
    )
    tasks = [
        ensure_story(workspace.id, opportunity.id, item.code, activity_name(item), item.hours)
        for item in opportunity.line_items
    ]
    ensure_participants(workspace.id, list(team.internal), PROVIDER_TEAM)
    ensure_lead(workspace.id, team.project_owner)
    return [workspace, *tasks]


# --- 4. Drive -------------------------------------------------------------------------------------


def project_definition(
    opportunity: Opportunity, team: Team, project_url: str, mavenlink_url: str | None
) -> Ref:
    """The Project Definition, copied from its template into the SOW folder and prefilled with
    the team and the links to the GitLab and Mavenlink projects."""
    sheet = engagement_document(
        "project-definition", Kind.PROJECT_DEFINITION, "Project Definition", opportunity
    )
    ensure_prefilled(
        sheet.id,
        project_definition_cells(
            opportunity, team.project_owner, team.engagement_manager, project_url, mavenlink_url
        ),
    )
    ensure_shared(sheet.id, list(team.internal))
    return sheet


# --- 5. Slack -------------------------------------------------------------------------------------


def customer_channel(opportunity: Opportunity, team: Team, made: list[Ref]) -> list[Ref]:
    """The customer's internal channel with the team in it and the key links pinned."""
    name = slack_customer_channel(opportunity.account.id, opportunity.account.name)
    channel = ensure_channel(name)
    ensure_members(channel.id, list(team.internal))
    links = "\n".join(f"• {ref.kind}: {slack_text(ref.url)}" for ref in made if ref.url)
    title = slack_text(f"{opportunity.name} ({opportunity.sow_number})")
    message = ensure_message(
        name,
        f"*{title}* is initiated.\n{links}",
        Kind.ENGAGEMENT_LINKS,
        opportunity.id,
    )
    ensure_pinned(channel.id, message.id)
    return [channel, message]


# --- 6. Gmail and Calendar -------------------------------------------------------------------------


def initiation_email(opportunity: Opportunity, team: Team, values: dict[str, str]) -> Ref:
    """The initiation e-mail to the primary contact, from the new- or the existing-customer
    template (a Google Doc the PS team edits without a code change), sent from the PS mailbox on
    the PS Project Coordinator's behalf: answers go to them, the engagement manager in copy."""
    existing = opportunity.account.existing_customer
    contact = opportunity.primary_contact
    return ensure_email(
        Kind.INITIATION_EMAIL,
        opportunity.id,
        [str(contact.email)] if contact else [],
        [team.engagement_manager, team.coordinator],
        Template(
            key="initiation-email-existing" if existing else "initiation-email", values=values
        ),
        reply_to=team.coordinator,
        on_behalf_of=values["coordinator"],
    )


def meetings(opportunity: Opportunity, team: Team, people: Mapping[str, User]) -> list[Ref]:
    """The internal alignment meeting (EM, PC, PSEs) and the sales-to-PS hand-off meeting (the
    account executive too), each inside the working hours of the people invited, on a working
    day of each, as the engagement manager's calendar counts the days after the close (the
    customer's public holidays are not working days)."""
    handoff_people = [*team.internal, *team.sales]
    zones = {email: user.time_zone for email, user in people.items() if user.time_zone}
    organiser = zones.get(team.engagement_manager, opportunity.account.time_zone)
    after = max(opportunity.close_date, systems().clock().today(organiser))
    hour, country = systems().settings.meeting_hour, opportunity.account.country
    title = f"{opportunity.account.name} – {opportunity.sow_number}"
    return [
        meeting(
            Kind.ALIGNMENT_MEETING,
            opportunity,
            f"Internal alignment: {title}",
            f"Internal PS alignment for {opportunity.name}.",
            meeting_slot(
                after, 1, HALF_HOUR, organiser, _known(team.internal, zones), hour, country
            ),
            list(team.internal),
            organiser,
        ),
        meeting(
            Kind.HANDOFF_MEETING,
            opportunity,
            f"Sales to PS hand-off: {title}",
            f"Hand-off of {opportunity.name}; complete the hand-off issue in the customer epic.",
            meeting_slot(
                after, 2, THREE_QUARTERS, organiser, _known(handoff_people, zones), hour, country
            ),
            handoff_people,
            organiser,
        ),
    ]


def _known(people: Iterable[str], zones: Mapping[str, str]) -> dict[str, str]:
    """The people whose time zone is known; the others are said in the run's log."""
    unknown = [person for person in people if person not in zones]
    if unknown:
        get_run_logger().warning(
            "No Salesforce user with a time zone for %s: their hours are not considered",
            ", ".join(unknown),
        )
    return {person: zones[person] for person in people if person in zones}


def meeting(
    kind: Kind,
    opportunity: Opportunity,
    summary: str,
    description: str,
    slot: MeetingSlot,
    attendees: list[str],
    time_zone: str,
) -> Ref:
    """The meeting at its slot; when no time suited everyone, its summary row and invitation
    say who is outside their working hours."""
    if slot.outside_hours:
        description += f"\n\nThe time: {slot.note()}."
    event = ensure_event(
        kind,
        opportunity.id,
        summary,
        description,
        slot.start,
        slot.end,
        attendees,
        time_zone,
    )
    if slot.outside_hours:
        return event.model_copy(update={"name": f"{event.name} ({slot.note()})"})
    return event
