"""Validate: each SOW activity accepted by the customer, by reply or by the passive clock.

- `watch-activities` runs on a schedule: ONE listing of the activity issues closed under the
  customers' GitLab group since a watermark (a Prefect Variable); each emits
  `ps.activity.completed` with an id derived from the activity, so a repeated poll, an issue
  closed twice or a second watcher starts its request once.
- `validate` runs once per activity (`accept · <customer> · <activity>`): the acceptance request
  from its template to the customer's contact, CC the Project Owner and the engagement manager,
  the deliverables and the passive-acceptance date written out in the customer's time zone
  (Gmail); "sign-off sent" on the activity's issue, a note with the moment and a label (GitLab),
  and on its milestone, Sign-Off Sent (Mavenlink).
- the customer's answer arrives through the mail watcher (`flows/replies.py`) at
  `customer_answer`: "accepted" from a contact accepts; anything else is an open question for the
  Project Owner (the customer's channel, and a form to accept on the customer's behalf).
- the passive clock (`flows/passive.py`) runs every hour: each request whose fifth business day
  has ended in the customer's time zone, with no acceptance and no open question, is accepted
  passively (`engagement/validate.py`).

An acceptance, however it comes, is recorded once, under the opportunity's acceptance slot: a note
saying how (GitLab), the label, the milestone completed with Sign-Off Received and, passive,
Passive Acceptance Utilized, and for a fixed fee its share of the fee on the Billing Schedule
(Mavenlink), `ps.activity.accepted`; once every activity of the plan is accepted, `ps.phase.completed`
(validate), which starts Close. A reply after that is noted and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.events import emit_event
from prefect.input import RunInput
from prefect.states import Completed, State
from pydantic import Field

from core.events import ACTIVITY_ACCEPTED, ACTIVITY_COMPLETED, Phase, event_kwargs
from engagement.keys import Kind, slack_customer_channel
from engagement.lifecycle import NotReady
from engagement.models import Billing, Opportunity
from engagement.plan import plan_titles, planned
from engagement.project_definition import PLAN
from engagement.replies import Reply, Verdict
from engagement.slugs import slack_text
from engagement.templates import Template
from engagement.validate import (
    ACCEPTED,
    QUESTION,
    REQUESTED,
    SIGN_OFF_SENT,
    Acceptance,
    How,
    acceptance_values,
    fee_shares,
    minor_units,
    passive_deadline,
    sent_at,
    sent_note,
)
from flows import watermarks
from flows.change_request import approved_team, name_run
from flows.forms import ask
from flows.guard import not_asked_elsewhere, one_at_a_time, phase_run, tag_run
from flows.plan import Initiated, initiated_objects
from flows.reporting import announce, announce_completed
from tasks.clients import systems
from tasks.gitlab import (
    KeyedIssue,
    ensure_issue_labels,
    ensure_issue_note,
    find_issue_labels,
    find_issue_labels_by_part,
    find_issue_note,
    find_keyed_issues,
)
from tasks.gmail import ensure_email
from tasks.mavenlink import ensure_billing_milestone, ensure_milestone_record
from tasks.salesforce import get_opportunity
from tasks.sheets import get_tables
from tasks.slack import ensure_message

PHASE = Phase.VALIDATE
WHAT = "an acceptance request"
WATERMARK = "psflow_gitlab_watermark"
OVERLAP_SECONDS = 300
NO_ANSWER = "nobody: no answer in five business days"


# --- an activity is done -------------------------------------------------------------------------


@flow(name="watch-activities")
def watch_activities(overlap_seconds: int = OVERLAP_SECONDS) -> int:
    """Emit `ps.activity.completed` for every activity issue closed since the last poll.

    Returns:
        How many this poll emitted (repeats included).
    """
    emitted = poll(find_keyed_issues, overlap_seconds)
    get_run_logger().info("%d activities completed", emitted)
    return emitted


def poll(find: Callable[..., list[KeyedIssue]], overlap_seconds: int = OVERLAP_SECONDS) -> int:
    """One poll (also the demo's fast loop, psflow/serve.py): the activity issues closed since
    the watermark, their events out, the watermark advanced to the poll's start."""
    now = systems().clock().now()
    stored, watermark = watermarks.read(WATERMARK)
    since = watermark - timedelta(seconds=overlap_seconds)
    closed = find(systems().settings.customers_group, Kind.ACTIVITY_ISSUE, "closed", since)
    for issue in closed:
        emit_event(
            **event_kwargs(
                ACTIVITY_COMPLETED,
                issue.key.record_id,
                key=f"{issue.key.record_id}:{issue.key.part}",
                payload={"activity": issue.key.part or ""},
            )
        )
    if not stored or closed:
        watermarks.advance(WATERMARK, now)
    return len(closed)


# --- the acceptance request ----------------------------------------------------------------------


@flow(name="validate", flow_run_name="accept · {customer} · {activity}")
def validate(opportunity_id: str, activity: str, customer: str = "") -> State[Any]:
    """The customer asked to accept one activity of the engagement.

    Args:
        opportunity_id: the Salesforce Opportunity id.
        activity: the SOW activity's code, e.g. "PS-MIG".
        customer: the account's name, for the run's name in the UI only.
    """
    return phase_run(PHASE, opportunity_id, lambda record_id: request(record_id, activity))


def request(opportunity_id: str, code: str) -> State[Any]:
    opportunity = get_opportunity(opportunity_id)
    name_run(f"accept · {opportunity.account.name} · {code}")  # the watcher knows no name
    initiated = initiated_objects(opportunity, WHAT)
    titles = activities(initiated)
    if code not in titles:  # a change request removed it: its issue was closed for that
        return Completed(message=f"{code}: not an activity of the engagement; nothing asked")
    if not opportunity.contacts:
        raise NotReady(opportunity.id, WHAT, ["OpportunityContactRole: no contact to ask"])
    project = initiated.project
    if find_issue_note(project, Kind.ACTIVITY_ISSUE, opportunity.id, code, Kind.ACTIVITY_ACCEPTED):
        return Completed(message=f"{code}: accepted already")
    team = approved_team(opportunity)
    zone, country = opportunity.account.time_zone, opportunity.account.country
    recorded = find_issue_note(
        project, Kind.ACTIVITY_ISSUE, opportunity.id, code, Kind.ACCEPTANCE_SENT
    )
    sent = (sent_at(recorded) if recorded else None) or systems().clock().now()
    deadline = passive_deadline(sent, zone, country)
    contact = str(opportunity.contacts[0].email)
    sold = {item.code: item.description for item in opportunity.line_items}
    values = acceptance_values(
        opportunity, titles[code], sold.get(code, titles[code]), deadline, team.project_owner
    )
    email = ensure_email(
        Kind.ACCEPTANCE_EMAIL,
        opportunity.id,
        [contact],
        [team.project_owner, team.engagement_manager],
        Template(key="acceptance-request", values=values),
        part=code,
    )
    ensure_issue_note(
        project,
        Kind.ACTIVITY_ISSUE,
        opportunity.id,
        code,
        Kind.ACCEPTANCE_SENT,
        sent_note(sent, contact, deadline),
    )
    sent_on = sent.astimezone(ZoneInfo(zone)).date().isoformat()
    ensure_milestone_record(initiated.workspace.id, opportunity.id, code, {SIGN_OFF_SENT: sent_on})
    labels = find_issue_labels(project, Kind.ACTIVITY_ISSUE, opportunity.id, code) or ()
    if not {REQUESTED, QUESTION, ACCEPTED} & set(labels):
        ensure_issue_labels(project, Kind.ACTIVITY_ISSUE, opportunity.id, code, add=[REQUESTED])
    waiting = f"{contact}'s reply, or the end of {deadline - timedelta(microseconds=1):%Y-%m-%d}"
    create_markdown_artifact(
        key=f"accept-{opportunity.id.lower()}-{code.lower()}",
        markdown=(
            f"# {titles[code]}: acceptance requested\n\n- {email.kind}: {email.name}\n"
            f"- sent {sent:%Y-%m-%d %H:%M %Z}; accepted passively at "
            f"{deadline:%Y-%m-%d %H:%M %Z} unless answered\n\n**Waiting for:** {waiting}.\n"
        ),
        description=f"{code} · {opportunity.account.name} · {opportunity.name}",
    )
    return Completed(message=f"{code}: acceptance asked of {contact}; waiting for {waiting}")


def activities(initiated: Initiated) -> dict[str, str]:
    """The engagement's activities and their titles, as Plan and change requests keep the Plan
    tab."""
    return plan_titles(plan_tab(initiated))


def plan_tab(initiated: Initiated) -> list[list[Any]]:
    return get_tables(initiated.definition.id, [PLAN])[PLAN]


# --- the customer's answer -----------------------------------------------------------------------


class AcceptanceForm(RunInput):
    """The Project Owner's answer to a customer's reply that is not an acceptance."""

    accept: bool = Field(default=False, description="Accept it on the customer's behalf")
    reason: str = Field(default="", max_length=1000, description="Why (required to accept)")


def customer_answer(opportunity_id: str, reply: Reply) -> State[Any]:
    """A reply to an acceptance request, read by the handbook's rule."""
    code = str(reply.answers.part)
    opportunity = get_opportunity(opportunity_id)
    name_run(f"reply · {opportunity.account.name} · {code}")
    initiated = initiated_objects(opportunity, "the customer's answer")
    project = initiated.project
    reading = reply.read([str(contact.email) for contact in opportunity.contacts])
    if reading.verdict is Verdict.AUTO_REPLY:
        return Completed(message=f"{code}: {reading.why}, left alone; still waiting")
    zone = ZoneInfo(opportunity.account.time_zone)
    quoted = "\n".join(f"> {line}" for line in reply.text.strip().splitlines()[:20])
    if find_issue_note(project, Kind.ACTIVITY_ISSUE, opportunity.id, code, Kind.ACTIVITY_ACCEPTED):
        note_answer(
            opportunity,
            project,
            code,
            reply,
            "A reply after the acceptance, recorded "
            f"(it changes nothing): {reading.why}\n\n{quoted}",
        )
        mark_accepted(project, Kind.ACTIVITY_ISSUE, opportunity.id, code)  # a retry finishes it
        return Completed(message=f"{code}: accepted already; the reply is recorded")
    if reading.verdict is Verdict.ACCEPTED:
        accepted = Acceptance(
            activity=code,
            how=How.BY_REPLY,
            on=reply.received.astimezone(zone).date(),
            by=reply.sender,
            evidence=f"Gmail message {reply.id}",
        )
        record_acceptance(opportunity, initiated, accepted)
        return Completed(message=f"{code}: accepted by {reply.sender}")
    return question(opportunity, initiated, code, reply, reading.why, quoted)


def note_answer(opportunity: Opportunity, project: str, code: str, reply: Reply, text: str) -> None:
    """A customer's answer that is not (or no longer) an acceptance, noted on the activity's issue
    (one note per answer)."""
    ensure_issue_note(
        project,
        Kind.ACTIVITY_ISSUE,
        opportunity.id,
        code,
        Kind.ACCEPTANCE_QUESTION,
        text,
        note_part=f"{code}-{reply.id}",
    )


def question(
    opportunity: Opportunity, initiated: Initiated, code: str, reply: Reply, why: str, quoted: str
) -> State[Any]:
    """An answer that is not an acceptance: an open question (it stops the passive clock) on the
    issue, the Project Owner told in the customer's channel and asked in the UI's form."""
    project = initiated.project
    note_answer(
        opportunity,
        project,
        code,
        reply,
        f"An open question for the Project Owner: {why}\n\n{quoted}",
    )
    ensure_issue_labels(
        project, Kind.ACTIVITY_ISSUE, opportunity.id, code, add=[QUESTION], remove=[REQUESTED]
    )
    owner = approved_team(opportunity).project_owner
    ensure_message(
        slack_customer_channel(opportunity.account.id, opportunity.account.name),
        f"{slack_text(owner)}: the answer to the acceptance request of {slack_text(code)} "
        f"({slack_text(opportunity.name)}) is not an acceptance ({slack_text(why)}). Answer the "
        "customer; accept it on their behalf in the reply run's form if they agreed elsewhere.",
        Kind.CUSTOMER_REPLY,
        opportunity.id,
        part=reply.id,
    )
    # one form per activity: a second question about it while the first waits asks nobody again
    tag_run(opportunity.id, f"activity:{code}")
    not_asked_elsewhere(opportunity.id, f"activity:{code}")
    answer = ask(
        AcceptanceForm.with_initial_data(
            description=(
                f"{owner}: {reply.sender} answered the acceptance request of {code} of "
                f"{opportunity.name}: {why}. Accept it on the customer's behalf (with the reason),"
                " or leave it waiting for the customer's reply."
            )
        ),
        key=f"acceptance-{code.lower()}-{reply.id}",
        hours=systems().settings.approval_timeout_hours,
    )
    issue = (project, Kind.ACTIVITY_ISSUE, opportunity.id, code)
    if find_issue_note(*issue, Kind.ACTIVITY_ACCEPTED):  # the customer accepted meanwhile
        return Completed(message=f"{code}: accepted already")
    now, zone = systems().clock().now(), opportunity.account.time_zone
    if answer.accept and answer.reason.strip():
        accepted = Acceptance(
            activity=code,
            how=How.ON_BEHALF,
            on=now.astimezone(ZoneInfo(zone)).date(),
            by=owner,
            evidence=answer.reason.strip(),
        )
        record_acceptance(opportunity, initiated, accepted)
        return Completed(message=f"{code}: accepted on the customer's behalf by {owner}")
    # the question answered: the clock runs on to its end, unless that has passed with the
    # question open (then only the customer's "accepted", or the Project Owner's, accepts it)
    sent = sent_at(find_issue_note(*issue, Kind.ACCEPTANCE_SENT) or "")
    if sent is not None and now < passive_deadline(sent, zone, opportunity.account.country):
        ensure_issue_labels(*issue, add=[REQUESTED], remove=[QUESTION])
        return Completed(message=f"{code}: the question is answered; the clock runs on")
    return Completed(message=f"{code}: the question is answered; waiting for an acceptance")


# --- the passive clock ---------------------------------------------------------------------------


def passive(opportunity_id: str, codes: list[str], now: datetime) -> list[str]:
    opportunity = get_opportunity(opportunity_id)
    initiated = initiated_objects(opportunity, "the passive acceptance")
    zone, country = opportunity.account.time_zone, opportunity.account.country
    accepted = []
    for code in codes:
        note = find_issue_note(
            initiated.project, Kind.ACTIVITY_ISSUE, opportunity.id, code, Kind.ACCEPTANCE_SENT
        )
        sent = sent_at(note) if note else None
        if sent is None:
            continue  # labelled by a person without a request: nothing to count from
        deadline = passive_deadline(sent, zone, country)
        if now < deadline:
            continue
        acceptance = Acceptance(
            activity=code,
            how=How.PASSIVELY,
            on=deadline.date(),
            by=NO_ANSWER,
            evidence=f"requested {sent.astimezone(ZoneInfo(zone)):%Y-%m-%d}",
        )
        record_acceptance(opportunity, initiated, acceptance)
        accepted.append(code)
    return accepted


# --- the record ----------------------------------------------------------------------------------


def record_acceptance(opportunity: Opportunity, initiated: Initiated, accepted: Acceptance) -> None:
    """The acceptance recorded once, whichever path comes first (the opportunity's acceptance
    slot is held: a reply racing the clock finds the other's note and writes nothing new).

    The note saying how comes after the records it stands for (the milestone, the fee, the event)
    and the label after the note: a run that failed between them is finished by its retry or by
    the next passive run, which still finds the activity labelled as waiting."""
    code, project = accepted.activity, initiated.project
    with one_at_a_time("acceptance", opportunity.id):
        issue = (project, Kind.ACTIVITY_ISSUE, opportunity.id, code)
        tab = plan_tab(initiated)
        if find_issue_note(*issue, Kind.ACTIVITY_ACCEPTED) is None:
            milestone = ensure_milestone_record(
                initiated.workspace.id, opportunity.id, code, accepted.records(), completed=True
            )
            hours = {activity: planned_hours for activity, _, planned_hours in planned(tab)}
            if opportunity.billing is Billing.FIXED_FEE and code in hours:
                # its share of the budget as it stands (approved change orders move it)
                budget = initiated.workspace.price or opportunity.amount
                fee = fee_shares(minor_units(budget, opportunity.currency), hours)[code]
                ensure_billing_milestone(
                    initiated.workspace.id, opportunity.id, code, milestone, fee, accepted.on
                )
            announce(
                ACTIVITY_ACCEPTED,
                opportunity,
                f"{opportunity.id}:{code}",
                PHASE,
                activity=code,
                how=accepted.how.value,
            )
            ensure_issue_note(*issue, Kind.ACTIVITY_ACCEPTED, accepted.note())
        mark_accepted(*issue)
        labels = find_issue_labels_by_part(project, Kind.ACTIVITY_ISSUE, opportunity.id)
        if all(ACCEPTED in labels.get(c, ()) for c in plan_titles(tab)):
            announce_completed(PHASE, opportunity)


def mark_accepted(project: str, kind: Kind, opportunity_id: str, code: str) -> None:
    """The activity's issue labelled accepted (its other acceptance labels off): the last of an
    acceptance's writes, so a half-recorded one stays on the clock's list."""
    ensure_issue_labels(
        project, kind, opportunity_id, code, add=[ACCEPTED], remove=[REQUESTED, QUESTION]
    )
