"""Change requests: a scope change classified by the handbook's rules, its paper made, the engagement
manager's approval asked, and the customer asked to sign or confirm.

Started from the Prefect UI by an engagement manager or a Project Owner (the `change-request`
deployment: Run, then the change as its form). The run reads the engagement's baseline (the
Mavenlink project's budget and due date, the SOW's billing type, the activities and hours of the
Project Definition's Plan tab, the milestones accepted), refuses a change that would leave it
inconsistent before any write (naming the form's field), classifies it (`engagement/
change_request.py`: the first rule that fires decides, every rule that fired is listed), numbers it
`CR-<n>` inside the opportunity's slot (a retried run finds its own number again), then:

- the change request document from its template in the SOW folder, filled in (Docs);
- an issue in the customer epic labelled with its paper (GitLab);
- the engagement manager's approval, asked in the UI's form and recorded in the customer's
  channel (Slack), so nobody is asked twice;
- the e-mail to the customer's contacts asking for a signature (change orders) or a reply
  confirming (written confirmation), CC the team (Gmail);
- the run's artifact: the classification, the paper, and what waits on whom.

The customer answers by replying to the e-mail: the `reply` flow (flows/replies.py) hands the
answer to `customer_answer` here, and an approval starts the re-baseline (flows/rebaseline.py).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.input import RunInput
from prefect.runtime import flow_run
from prefect.states import Completed, State
from pydantic import BaseModel, Field

from core.events import CHANGE_REQUEST_APPROVED, Phase
from engagement.change_request import (
    Baseline,
    Change,
    Classification,
    Paper,
    activities_of,
    approval_note,
    classify,
    document_values,
    next_number,
    problems,
    record_marker,
    request_text,
)
from engagement.execute import report_problems
from engagement.keys import Kind, engagement_folders, slack_customer_channel
from engagement.lifecycle import NotReady, Team
from engagement.models import Opportunity
from engagement.project_definition import PLAN
from engagement.refs import Ref
from engagement.replies import Reply, Verdict
from engagement.slugs import slack_text
from engagement.staffing import StaffingDecision
from engagement.templates import Email
from flows.forms import ask
from flows.guard import for_the_account, not_asked_elsewhere, phase_run
from flows.initiate import team_of
from flows.plan import Initiated, initiated_objects
from flows.reporting import announce
from tasks.clients import systems
from tasks.docs import ensure_document_filled
from tasks.drive import ensure_copy
from tasks.gitlab import ensure_epic, ensure_issue, ensure_issue_note, find_issue, find_issue_parts
from tasks.gmail import ensure_email
from tasks.mavenlink import get_milestones
from tasks.salesforce import get_opportunity
from tasks.sheets import get_tables
from tasks.slack import ensure_message, find_channel, find_messages

PHASE = Phase.CHANGE_REQUEST
WHAT = "a change request"
RUN_MARK = "Requested in flow run"  # in the CR issue: a retried run finds its own number


class Approval(BaseModel):
    """The engagement manager's word on a change request, before the customer sees it."""

    approve: bool = Field(default=True, description="Send it to the customer")
    comment: str = Field(default="", max_length=1000, description="Why, for the record")


class ApprovalForm(RunInput, Approval):
    """The engagement manager's approval, as the Prefect UI's form."""


@flow(name="change-request", flow_run_name="change · {customer} · {opportunity_id}")
def change_request(opportunity_id: str, change: Change, customer: str = "") -> State[Any]:
    """A change request for one engagement In Progress.

    Args:
        opportunity_id: the Salesforce Opportunity id (15 or 18 characters).
        change: what changes: its description, the activities added, removed (by code) or
            re-scoped with their hours, the new budget, end date or billing type.
        customer: the account's name, for the run's name in the UI only (it becomes
            `change · <customer> · CR-<n>` once numbered).
    """
    return phase_run(PHASE, opportunity_id, lambda record_id: run_change(record_id, change))


def run_change(opportunity_id: str, change: Change) -> State[Any]:
    opportunity = get_opportunity(opportunity_id)
    initiated = initiated_objects(opportunity, WHAT)
    engagement = initiated.engagement
    if found := report_problems(engagement):
        raise NotReady(opportunity.id, WHAT, found)
    scoped = engagement.scoped_hours
    assert scoped is not None  # the problems name it: narrowed for the type checker
    baseline, accepted = baseline_of(opportunity, initiated)
    today = systems().clock().today(opportunity.account.time_zone)
    if found := problems(change, baseline, today, accepted):
        raise NotReady(opportunity.id, WHAT, [f"the change's {p}" for p in found])
    classified = classify(change, baseline, hours_over=engagement.over_budget)
    team = approved_team(opportunity)

    number = cr_number(initiated.project, opportunity.id)
    name_run(f"change · {opportunity.account.name} · {number}")
    document = change_document(opportunity, number, change, classified, baseline)
    group = initiated.project.rsplit("/", 1)[0]
    epic = ensure_epic(group, opportunity)
    issue = ensure_issue(
        initiated.project,
        Kind.CHANGE_REQUEST_ISSUE,
        opportunity.id,
        f"{number} ({classified.paper.value}): {change.description}"[:250],
        "\n".join(
            [
                change.description,
                "",
                f"**{classified.paper.value}**: " + "; ".join(classified.reasons),
                f"The change request: {document.url or document.name}",
                f"{RUN_MARK} {flow_run.get_id()}.",
                record_marker(change, classified.paper, baseline, scoped),
            ]
        ),
        labels=[f"CR::{classified.paper.value.title()}"],  # PS:: is the kind's scope
        part=number,
        epic=epic.id,
    )
    approval = engagement_managers_approval(opportunity, team, number, classified, document)
    if not approval.approve:
        waiting = f"nothing: the engagement manager declined it ({approval.comment or 'no reason'})"
        publish(opportunity, number, classified, [document, issue], waiting)
        return Completed(message=f"{number}: declined by the engagement manager")
    to = [str(contact.email) for contact in opportunity.contacts]
    email = ensure_email(
        Kind.CHANGE_REQUEST_EMAIL,
        opportunity.id,
        to,
        list(team.internal),
        Email(
            subject=f"{opportunity.account.name} – {number}: {classified.paper.value}",
            body=request_text(number, change, classified, document.url or document.name),
        ),
        part=number,
    )
    asked = "signature" if classified.paper.signed else "confirmation"
    waiting = f"the customer's {asked}, a reply to the e-mail to {', '.join(to)}"
    publish(opportunity, number, classified, [document, issue, email], waiting)
    return Completed(message=f"{number}: {classified.paper.value}; waiting for {waiting}")


def approved_team(opportunity: Opportunity) -> Team:
    """The engagement's team, as the staffing decision recorded in #ps_planning names it."""
    channel = find_channel(systems().settings.planning_channel)
    recorded = find_messages(channel, (Kind.STAFFING_DECISION,), opportunity.id)
    decision = StaffingDecision.from_payload(recorded[Kind.STAFFING_DECISION].payload)
    return team_of(opportunity, decision)


def baseline_of(opportunity: Opportunity, initiated: Initiated) -> tuple[Baseline, set[str]]:
    """The engagement as agreed so far, and the activities the customer accepted: the Mavenlink
    project's budget (the SOW amount until a change moves it) and due date, the SOW's billing,
    the Plan tab's activities and hours (one read each)."""
    workspace = initiated.workspace
    plan = get_tables(initiated.definition.id, [PLAN])[PLAN]
    accepted = {m.title.split(" – ")[0] for m in get_milestones(workspace.id) if m.done}
    end = workspace.due_date or opportunity.expected_completion
    if end is None:  # Plan sets it; a person cleared it since
        raise NotReady(opportunity.id, WHAT, ["PS_Expected_Completion__c is empty"])
    baseline = Baseline(
        budget=workspace.price if workspace.price is not None else opportunity.amount,
        end=end,
        billing=opportunity.billing,
        activities=activities_of(plan),
    )
    return baseline, accepted


def cr_number(project: str, opportunity_id: str) -> str:
    """This run's CR number: the one its issue carries when a retried run made it already, else
    the next of the opportunity's (counted while the opportunity's slot is held)."""
    numbers = find_issue_parts(project, Kind.CHANGE_REQUEST_ISSUE, opportunity_id)
    mine = f"{RUN_MARK} {flow_run.get_id()}."
    return next((n for n, text in numbers.items() if mine in text), None) or next_number(numbers)


def name_run(name: str) -> None:
    """The run's name once it is numbered: `change · <customer> · CR-<n>`."""
    run_id = flow_run.get_id()
    if run_id is not None:
        with get_client(sync_client=True) as client:
            client.update_flow_run(UUID(run_id), name=name)


def change_document(
    opportunity: Opportunity,
    number: str,
    change: Change,
    classified: Classification,
    baseline: Baseline,
) -> Ref:
    """The change request document from its template in the SOW folder, filled in."""
    with for_the_account(opportunity.account.id):  # the customer's folder is the account's
        document = ensure_copy(
            "change-request",
            Kind.CHANGE_REQUEST,
            opportunity.id,
            f"{number} – {opportunity.account.name} – {opportunity.sow_number}",
            engagement_folders(opportunity),
            part=number,
        )
    values = document_values(opportunity, number, change, classified, baseline)
    ensure_document_filled(document.id, Kind.CHANGE_REQUEST, values)
    return document


def engagement_managers_approval(
    opportunity: Opportunity, team: Team, number: str, classified: Classification, document: Ref
) -> Approval:
    """The engagement manager's approval: recorded in the customer's channel (a retried run, an
    approval given outside the form), or asked in the UI's form and then recorded."""
    channel = slack_customer_channel(opportunity.account.id, opportunity.account.name)
    kinds = (Kind.CHANGE_REQUEST_APPROVAL,)
    recorded = find_messages(find_channel(channel), kinds, opportunity.id, part=number)
    if found := recorded.get(Kind.CHANGE_REQUEST_APPROVAL):
        return Approval(
            approve=found.payload.get("approve") == "yes", comment=found.payload.get("comment", "")
        )
    not_asked_elsewhere(opportunity.id)
    answer = ask(
        ApprovalForm.with_initial_data(
            description=(
                f"{team.engagement_manager}: approve {number} of {opportunity.name} "
                f"({opportunity.account.name}) before it goes to the customer: a "
                f"**{classified.paper.value}** ({'; '.join(classified.reasons)}). "
                f"The document: {document.url or document.name}"
            )
        ),
        key=f"change-approval-{number.lower()}",
        hours=systems().settings.approval_timeout_hours,
    )
    approval = Approval.model_validate(answer.model_dump(exclude={"metadata"}))
    post_approval(opportunity, number, classified.paper, team.engagement_manager, approval)
    return approval


def post_approval(
    opportunity: Opportunity, number: str, paper: Paper, by: str, approval: Approval
) -> Ref:
    """The engagement manager's word in the customer's channel: what people see, and what a
    re-run and the re-baseline read back."""
    verdict = "approved" if approval.approve else "declined"
    return ensure_message(
        slack_customer_channel(opportunity.account.id, opportunity.account.name),
        f"{slack_text(number)} ({paper.value}) of *{slack_text(opportunity.name)}* "
        f"{verdict} by {slack_text(by)}"
        + (f": {slack_text(approval.comment)}" if approval.comment else "."),
        Kind.CHANGE_REQUEST_APPROVAL,
        opportunity.id,
        part=number,
        payload={"approve": "yes" if approval.approve else "no", "comment": approval.comment},
    )


def publish(
    opportunity: Opportunity,
    number: str,
    classified: Classification,
    made: list[Ref],
    waiting: str,
) -> None:
    """The run's artifact: the paper and why, every object with its link, what waits on whom."""
    lines = [
        f"# {number}: {classified.paper.value}",
        "",
        *(f"- {reason}" for reason in classified.reasons),
        "",
        *(
            f"- {ref.kind}: [{ref.name}]({ref.url})" if ref.url else f"- {ref.kind}: {ref.name}"
            for ref in made
        ),
        "",
        f"**Waiting for:** {waiting}.",
    ]
    create_markdown_artifact(
        key=f"change-{opportunity.id.lower()}-{number.lower()}",
        markdown="\n".join(lines) + "\n",
        description=f"{number} · {opportunity.account.name} · {opportunity.name}",
    )


# --- the customer's answer -----------------------------------------------------------------------


def customer_answer(opportunity_id: str, reply: Reply) -> State[Any]:
    """The customer's reply to a change request's e-mail, read by the handbook's rule: "accepted"
    from one of the opportunity's contacts is their approval (noted on the CR issue, in the
    customer epic, quoting the reply; then `ps.change-request.approved`, which starts the
    re-baseline); anything else goes to the Project Owner in the customer's channel and changes
    nothing; an automatic reply is left alone."""
    number = str(reply.answers.part)
    opportunity = get_opportunity(opportunity_id)
    name_run(f"reply · {opportunity.account.name} · {number}")
    initiated = initiated_objects(opportunity, "the customer's answer to a change request")
    issue = find_issue(initiated.project, Kind.CHANGE_REQUEST_ISSUE, opportunity.id, part=number)
    if issue is None:
        raise NotReady(opportunity.id, f"the answer to {number}", [f"{number} has no issue"])
    reading = reply.read([str(contact.email) for contact in opportunity.contacts])
    if reading.verdict is Verdict.AUTO_REPLY:
        return Completed(message=f"{number}: {reading.why}, left alone; still waiting")
    if reading.verdict is Verdict.FOR_THE_PROJECT_OWNER:
        owner = approved_team(opportunity).project_owner
        ensure_message(
            slack_customer_channel(opportunity.account.id, opportunity.account.name),
            f"{slack_text(owner)}: an answer to {slack_text(number)} of "
            f"*{slack_text(opportunity.name)}* is not an approval ({slack_text(reading.why)}). "
            'Answer the customer; nothing changes until they reply "accepted".',
            Kind.CUSTOMER_REPLY,
            opportunity.id,
            part=reply.id,
        )
        return Completed(message=f"{number}: for the Project Owner ({reading.why})")
    received = reply.received.astimezone(ZoneInfo(opportunity.account.time_zone))
    ensure_issue_note(
        initiated.project,
        Kind.CHANGE_REQUEST_ISSUE,
        opportunity.id,
        number,
        Kind.CUSTOMER_APPROVAL,
        approval_note(reply.sender, received, reply.text),
    )
    announce(
        CHANGE_REQUEST_APPROVED,
        opportunity,
        f"{opportunity.id}:{number}",
        PHASE,
        number=number,
        by=reply.sender,
    )
    return Completed(message=f"{number}: approved by {reply.sender}")
