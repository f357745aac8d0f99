"""Deploy & Close: the customer's sign-off, the financial wrap-up, the closeout report, the closure
meeting, nothing left open, Completed.

`close` runs when Validate completes (every activity accepted) and again when the customer signs
off (`ps.engagement.signed-off`): each run does what is next, and stops where the customer or a
person must act.

1. Sign-off: the e-mail "<Customer>- project sign off" from its template to the customer's contact,
   CC the PS Ops Manager (a setting) and the Project Owner (Gmail); its issue in the customer epic,
   which keeps when it was asked and, once signed off, how (GitLab); the PS Engagement in Closure
   (Salesforce). The customer's reply "accepted" (the mail watcher's `reply` run) signs off, or,
   where the SOW has passive-acceptance language (the Mavenlink project's custom field), the
   passive clock after five business days (`flows/passive.py`): Signed Acceptance and the Sign Off
   Date (and Passive Acceptance Used) on the PS Engagement, then `ps.engagement.signed-off`.
2. The financial wrap-up (`engagement/close.py`): the Plan tab's hours against Kantata's time
   entries, the budget against their cost at each person's cost rate, the margin against 40%,
   the revenue recognised.
3. The closeout report: a Google Doc from its template with a chart of the hours (Drive), approved
   by the Project Owner in the UI's form with the lessons learned, posted to PS leadership's
   channel (its record: a re-run reads the answer back) and kept as the run's artifact.
4. The closure meeting: its agenda from its template with the wrap-up's figures (Drive), the
   meeting with the customer and the team inside everyone's working hours (Calendar), a "Project
   closure" row in the Project Definition's meeting notes (Sheets).
5. Loose ends: the sign-off issue and the customer epic closed (an activity reopened since is
   listed, never forced), every booking ended on the closure meeting's day (Mavenlink), the
   customer's channel told (Slack); the Mavenlink project Closed: work done, billing pending.
6. The PS Project Coordinator says in the form that billing is done: the Mavenlink project
   Completed and the PS Engagement Completed with its completion day, the org's required fields
   checked before any write; `ps.phase.completed` (close), the lifecycle's end.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.input import RunInput
from prefect.states import Completed, State
from pydantic import Field

from core.events import ENGAGEMENT_SIGNED_OFF, Phase
from engagement.charts import estimate_png
from engagement.close import (
    AWAITING,
    NothingLogged,
    WrapUp,
    closeout_values,
    sign_off_note,
    wrap_up,
)
from engagement.keys import Kind, engagement_folders, slack_customer_channel
from engagement.lifecycle import NotReady, Team
from engagement.models import Billing, EngagementStatus, Opportunity
from engagement.plan import plan_titles, planned
from engagement.project_definition import MEETING_NOTES
from engagement.refs import Ref
from engagement.replies import Reply, Verdict
from engagement.slugs import slack_text
from engagement.templates import Template
from engagement.validate import (
    ACCEPTED,
    QUESTION,
    REQUESTED,
    Acceptance,
    How,
    passive_deadline,
    sent_at,
)
from engagement.workdays import MeetingSlot, meeting_slot
from flows.change_request import approved_team, name_run
from flows.forms import ask
from flows.guard import (
    engagement_document,
    for_the_account,
    not_asked_elsewhere,
    one_at_a_time,
    phase_run,
)
from flows.initiate import meeting
from flows.plan import Initiated, initiated_objects
from flows.reporting import announce, announce_completed, publish_summary
from flows.validate import NO_ANSWER, plan_tab
from tasks.calendar import find_event_start
from tasks.clients import systems
from tasks.docs import ensure_document_filled
from tasks.drive import ensure_shared, ensure_upload
from tasks.gitlab import (
    ensure_epic,
    ensure_epic_closed,
    ensure_issue,
    ensure_issue_closed,
    ensure_issue_labels,
    ensure_issue_note,
    find_issue_labels,
    find_issue_labels_by_part,
    find_issue_note,
    find_issue_parts,
    find_open_parts,
)
from tasks.gmail import ensure_email
from tasks.mavenlink import (
    CLOSED,
    COMPLETED,
    ensure_bookings_ended,
    ensure_workspace_status,
    find_passive_language,
    get_activity_tasks,
    get_billed,
    get_time_entries,
)
from tasks.salesforce import (
    ensure_engagement_completed,
    ensure_engagement_signed_off,
    ensure_engagement_status,
    find_engagement,
    get_opportunity,
    get_users,
)
from tasks.sheets import ensure_rows
from tasks.slack import ensure_message, find_channel, find_message

PHASE = Phase.CLOSE
SIGN_OFF = "sign-off"  # the acceptance's "activity" when it is the whole project's
CLOSURE_LENGTH = timedelta(hours=1)
PNG = "image/png"


@flow(name="close", flow_run_name="close · {customer} · {opportunity_id}")
def close(opportunity_id: str, customer: str = "") -> State[Any]:
    """The handbook's Deploy & Close for one opportunity, as far as it can go now.

    Args:
        opportunity_id: the Salesforce Opportunity id (15 or 18 characters).
        customer: the account's name, for the run's name in the UI only.
    """
    return phase_run(PHASE, opportunity_id, run_close)


def run_close(opportunity_id: str) -> State[Any]:
    opportunity = get_opportunity(opportunity_id)
    initiated = initiated_objects(opportunity, "Close")
    tab = plan_tab(initiated)
    labels = find_issue_labels_by_part(initiated.project, Kind.ACTIVITY_ISSUE, opportunity.id)
    if waiting := [code for code in plan_titles(tab) if ACCEPTED not in labels.get(code, ())]:
        raise NotReady(
            opportunity.id,
            "Close",
            [
                f"activity {code}: not accepted yet (Validate labels it {ACCEPTED})"
                for code in waiting
            ],
        )
    team = approved_team(opportunity)
    engagement = initiated.engagement
    if not engagement.signed_acceptance:
        return request_sign_off(opportunity, initiated, team)

    made: list[Ref] = [initiated.workspace, initiated.definition]
    wrap = financial_wrap_up(opportunity, initiated, tab)
    values = closeout_values(
        opportunity,
        team.project_owner,
        wrap,
        deliverables(opportunity, initiated, list(plan_titles(tab))),
        f"{engagement.sign_off_date}"
        + (" (passive acceptance)" if engagement.passive_acceptance_used else " (by reply)"),
        change_requests(opportunity, initiated),
    )
    made.extend(closeout_report(opportunity, team, wrap, values))
    closure, day = closure_meeting(opportunity, initiated, team, values)
    made.append(closure)
    made.extend(loose_ends(opportunity, initiated, day))
    billing_done(opportunity, team)
    ensure_workspace_status(initiated.workspace, COMPLETED)
    # read again: the sign-off and the status were written since this run read it
    current = find_engagement(opportunity.id) or engagement
    ensure_engagement_completed(
        current, systems().clock().today(opportunity.account.time_zone), wrap.actual
    )
    publish_summary(PHASE, opportunity, made, waiting="nothing: the engagement is Completed")
    announce_completed(PHASE, opportunity)
    return Completed(message=f"Completed; {wrap.explained()[-2]}")


# --- 1. the sign-off -----------------------------------------------------------------------------


def request_sign_off(opportunity: Opportunity, initiated: Initiated, team: Team) -> State[Any]:
    """The sign-off e-mail and its issue (when it was asked, the clock's label), the PS Engagement
    in Closure; then the customer's answer, or the passive clock, signs off."""
    ops_manager = systems().settings.ops_manager_email
    if not ops_manager:
        raise ValueError(
            "psflow Settings: ops_manager_email is empty (the PS Ops Manager is copied on every "
            "sign-off e-mail); set it in the Prefect UI's Blocks"
        )
    if not opportunity.contacts:
        raise NotReady(opportunity.id, "Close", ["OpportunityContactRole: no contact to ask"])
    contact = opportunity.primary_contact or opportunity.contacts[0]
    project, workspace = initiated.project, initiated.workspace
    epic = ensure_epic(project.rsplit("/", 1)[0], opportunity)
    issue = ensure_issue(
        project,
        Kind.SIGN_OFF_ISSUE,
        opportunity.id,
        f"Project sign-off: {opportunity.account.name} – {opportunity.sow_number}",
        f"The customer's sign-off of {opportunity.name}: psflow records the request, the "
        "answer and how it was signed off here.",
        epic=epic.id,
    )
    passive = find_passive_language(workspace.id)
    sign_off = (project, Kind.SIGN_OFF_ISSUE, opportunity.id, None)
    recorded = find_issue_note(*sign_off, Kind.ACCEPTANCE_SENT)
    sent = (sent_at(recorded) if recorded else None) or systems().clock().now()
    zone, country = opportunity.account.time_zone, opportunity.account.country
    deadline = passive_deadline(sent, zone, country) if passive else None
    email = ensure_email(
        Kind.SIGN_OFF_EMAIL,
        opportunity.id,
        [str(contact.email)],
        list(dict.fromkeys([ops_manager, team.project_owner])),
        Template(
            key="sign-off-email",
            values={
                "customer": opportunity.account.name,
                "contact_first_name": contact.first_name,
                "sow_number": opportunity.sow_number or "",
                "project_owner": team.project_owner,
            },
        ),
    )
    ensure_issue_note(
        *sign_off, Kind.ACCEPTANCE_SENT, sign_off_note(sent, str(contact.email), deadline)
    )
    labels = find_issue_labels(*sign_off) or ()
    if not {REQUESTED, QUESTION, ACCEPTED, AWAITING} & set(labels):
        ensure_issue_labels(*sign_off, add=[REQUESTED if passive else AWAITING])
    ensure_engagement_status(initiated.engagement, EngagementStatus.CLOSURE)
    waiting = f"{contact.email}'s reply"
    if deadline is not None:
        waiting += f", or the end of {deadline - timedelta(microseconds=1):%Y-%m-%d}"
    create_markdown_artifact(
        key=f"sign-off-{opportunity.id.lower()}",
        markdown=(
            f"# {opportunity.name}: sign-off requested\n\n- {email.kind}: {email.name}\n"
            f"- {issue.kind}: [{issue.name}]({issue.url})\n- sent {sent:%Y-%m-%d %H:%M %Z}; "
            + (
                f"signed off passively at {deadline:%Y-%m-%d %H:%M %Z} unless answered"
                if deadline
                else "no passive acceptance (the SOW has no such language)"
            )
            + f"\n\n**Waiting for:** {waiting}.\n"
        ),
        description=f"sign-off · {opportunity.account.name} · {opportunity.name}",
    )
    return Completed(message=f"sign-off asked of {contact.email}; waiting for {waiting}")


def customer_sign_off(opportunity_id: str, reply: Reply) -> State[Any]:
    """A reply to the sign-off e-mail, read by the handbook's rule: "accepted" from a contact
    signs off; a contact's other answer is an open question (it stops the passive clock) for the
    Project Owner; a stranger's is shown to the Project Owner and changes nothing."""
    opportunity = get_opportunity(opportunity_id)
    name_run(f"reply · {opportunity.account.name} · sign-off")
    initiated = initiated_objects(opportunity, "the sign-off")
    reading = reply.read([str(contact.email) for contact in opportunity.contacts])
    if reading.verdict is Verdict.AUTO_REPLY:
        return Completed(message=f"sign-off: {reading.why}, left alone; still waiting")
    sign_off = (initiated.project, Kind.SIGN_OFF_ISSUE, opportunity.id, None)
    quoted = "\n".join(f"> {line}" for line in reply.text.strip().splitlines()[:20])
    if initiated.engagement.signed_acceptance:
        note = f"A reply after the sign-off, recorded (it changes nothing): {reading.why}"
        ensure_issue_note(
            *sign_off, Kind.ACCEPTANCE_QUESTION, f"{note}\n\n{quoted}", note_part=reply.id
        )
        return Completed(message="signed off already; the reply is recorded")
    if reading.verdict is Verdict.ACCEPTED:
        zone = ZoneInfo(opportunity.account.time_zone)
        accepted = Acceptance(
            activity=SIGN_OFF,
            how=How.BY_REPLY,
            on=reply.received.astimezone(zone).date(),
            by=reply.sender,
            evidence=f"Gmail message {reply.id}",
        )
        record_sign_off(opportunity, initiated, accepted)
        return Completed(message=f"signed off by {reply.sender}")
    from_a_contact = reply.sender.lower() in {str(c.email).lower() for c in opportunity.contacts}
    ensure_issue_note(
        *sign_off,
        Kind.ACCEPTANCE_QUESTION,
        f"An answer for the Project Owner: {reading.why}\n\n{quoted}",
        note_part=reply.id,
    )
    if from_a_contact:  # an open question: the clock stops until the customer accepts
        ensure_issue_labels(*sign_off, add=[QUESTION], remove=[REQUESTED, AWAITING])
    owner = approved_team(opportunity).project_owner
    ensure_message(
        slack_customer_channel(opportunity.account.id, opportunity.account.name),
        f"{slack_text(owner)}: the answer to the sign-off of {slack_text(opportunity.name)} is "
        f"not a sign-off ({slack_text(reading.why)}). Answer the customer; their reply "
        '"accepted" signs off.',
        Kind.CUSTOMER_REPLY,
        opportunity.id,
        part=reply.id,
    )
    return Completed(message=f"not a sign-off: {reading.why}; the Project Owner is told")


def record_sign_off(opportunity: Opportunity, initiated: Initiated, accepted: Acceptance) -> None:
    """The sign-off recorded once, whichever comes first, the reply or the clock (the
    opportunity's acceptance slot is held): the PS Engagement's fields and the event, then the
    note saying how, the label last (a run that failed between them is finished by its retry, or
    by the clock, which still finds it waiting)."""
    with one_at_a_time("acceptance", opportunity.id):
        sign_off = (initiated.project, Kind.SIGN_OFF_ISSUE, opportunity.id, None)
        if find_issue_note(*sign_off, Kind.SIGNED_OFF) is None:
            engagement = find_engagement(opportunity.id) or initiated.engagement
            ensure_engagement_signed_off(engagement, accepted.on, accepted.how is How.PASSIVELY)
            announce(
                ENGAGEMENT_SIGNED_OFF, opportunity, opportunity.id, PHASE, how=accepted.how.value
            )
            ensure_issue_note(*sign_off, Kind.SIGNED_OFF, accepted.note())
        ensure_issue_labels(*sign_off, add=[ACCEPTED], remove=[REQUESTED, QUESTION, AWAITING])


def passive_sign_off(opportunity_id: str, now: datetime) -> bool:
    """The engagement signed off passively when its clock has ended (the passive clock's part for
    sign-offs): True when it was signed off now."""
    opportunity = get_opportunity(opportunity_id)
    initiated = initiated_objects(opportunity, "the passive sign-off")
    note = find_issue_note(
        initiated.project, Kind.SIGN_OFF_ISSUE, opportunity.id, None, Kind.ACCEPTANCE_SENT
    )
    sent = sent_at(note) if note else None
    if sent is None:
        return False  # labelled by a person without a request: nothing to count from
    zone, country = opportunity.account.time_zone, opportunity.account.country
    deadline = passive_deadline(sent, zone, country)
    if now < deadline:
        return False
    accepted = Acceptance(
        activity=SIGN_OFF,
        how=How.PASSIVELY,
        on=deadline.date(),
        by=NO_ANSWER,
        evidence=f"requested {sent.astimezone(ZoneInfo(zone)):%Y-%m-%d}",
    )
    record_sign_off(opportunity, initiated, accepted)
    return True


# --- 2. the financial wrap-up --------------------------------------------------------------------


def financial_wrap_up(
    opportunity: Opportunity, initiated: Initiated, tab: list[list[Any]]
) -> WrapUp:
    """The wrap-up from the Plan tab, Kantata's time entries (with their cost rates) and tasks,
    and for a fixed fee its Billing Schedule."""
    workspace = initiated.workspace
    logged = get_time_entries(workspace.id)
    if not logged:
        raise NothingLogged(f"{workspace.name} ({workspace.url})")
    estimates = {code: hours for code, _, hours in planned(tab)}
    fixed = opportunity.billing is Billing.FIXED_FEE
    return wrap_up(
        currency=opportunity.currency,
        billing=opportunity.billing,
        estimates=estimates,
        logged=logged,
        activity_of_task=get_activity_tasks(workspace.id, opportunity.id),
        budget=workspace.price or opportunity.amount,
        scoped_hours=initiated.engagement.scoped_hours or sum(estimates.values(), Decimal(0)),
        billed=get_billed(workspace.id) if fixed else (),
    )


def deliverables(
    opportunity: Opportunity, initiated: Initiated, codes: list[str]
) -> dict[str, str]:
    """Each activity with how and when it was accepted, as its issue records it."""
    found = {}
    for code in codes:
        note = find_issue_note(
            initiated.project, Kind.ACTIVITY_ISSUE, opportunity.id, code, Kind.ACTIVITY_ACCEPTED
        )
        found[code] = (note or "not recorded").splitlines()[0].replace("**", "")
    return found


def change_requests(opportunity: Opportunity, initiated: Initiated) -> dict[str, str]:
    """Each change request by its number, as its issue's first line says it."""
    issues = find_issue_parts(initiated.project, Kind.CHANGE_REQUEST_ISSUE, opportunity.id)
    return {
        number: next((line for line in text.splitlines() if line.strip()), "")[:160]
        for number, text in sorted(issues.items())
    }


# --- 3. the closeout report ----------------------------------------------------------------------


class CloseoutForm(RunInput):
    """The Project Owner's review of the closeout report."""

    lessons_learned: str = Field(
        min_length=1, max_length=4000, description="What went well, what to do differently"
    )
    approve: bool = Field(
        default=False, description="Approve the report (as linked above) for PS leadership"
    )


def closeout_report(
    opportunity: Opportunity, team: Team, wrap: WrapUp, values: Mapping[str, str]
) -> list[Ref]:
    """The report from its template with the chart, the Project Owner's approval and lessons
    (asked once: their record is the post to PS leadership), the lessons in the report, the
    run's artifact."""
    report = engagement_document(
        "closeout-report", Kind.CLOSEOUT_DOC, "Closeout Report", opportunity
    )
    estimated = {a.activity: a.estimated for a in wrap.activities}
    actual = {a.activity: a.actual for a in wrap.activities}
    png = estimate_png(estimated, actual, f"{opportunity.account.name} – {opportunity.sow_number}")
    with for_the_account(opportunity.account.id):
        chart = ensure_upload(
            Kind.CLOSEOUT_CHART,
            opportunity.id,
            "Estimated vs actual hours.png",
            engagement_folders(opportunity),
            png,
            PNG,
        )
    ensure_document_filled(
        report.id, Kind.CLOSEOUT_DOC, {**values, "hours": f"{values['hours']} Chart: {chart.url}"}
    )
    ensure_shared(report.id, list(team.internal))
    channel = systems().settings.leadership_channel
    recorded = find_message(find_channel(channel), Kind.CLOSEOUT_REPORT, opportunity.id)
    if recorded is None:
        lessons = ask_closeout(opportunity, team, report)
        posted = ensure_message(
            channel,
            f"Closeout report of *{slack_text(opportunity.name)}* "
            f"({slack_text(opportunity.account.name)}), approved by "
            f"{slack_text(team.project_owner)}: {report.url}\n{slack_text(values['margin'])}",
            Kind.CLOSEOUT_REPORT,
            opportunity.id,
            payload={"lessons_learned": lessons, "approved_by": team.project_owner},
        )
    else:
        lessons = str(recorded.payload.get("lessons_learned", ""))
        posted = ensure_message(channel, recorded.text, Kind.CLOSEOUT_REPORT, opportunity.id)
    ensure_document_filled(report.id, Kind.CLOSEOUT_DOC, {"lessons_learned": lessons})
    picture = base64.b64encode(png).decode("ascii")
    create_markdown_artifact(
        key=f"closeout-{opportunity.id.lower()}",
        markdown="\n".join(
            [
                f"# Closeout: {opportunity.name}\n",
                *wrap.explained(),
                f"\n![Estimated vs actual](data:image/png;base64,{picture})\n",
                f"**Lessons learned:** {lessons}\n",
                f"[The report]({report.url}) · [PS leadership]({posted.url})",
            ]
        ),
        description=f"closeout · {opportunity.account.name} · {opportunity.name}",
    )
    return [report, chart, posted]


def ask_closeout(opportunity: Opportunity, team: Team, report: Ref) -> str:
    """The Project Owner's approval and lessons learned, in the UI's form; not approved, the run
    fails saying so, and its Retry asks again once the report is edited."""
    not_asked_elsewhere(opportunity.id)
    answer = ask(
        CloseoutForm.with_initial_data(
            description=(
                f"{team.project_owner}: review the closeout report of {opportunity.name} "
                f"({opportunity.account.name}) at {report.url}, write the lessons learned and "
                "approve it for PS leadership."
            )
        ),
        key="closeout-approval",
        hours=systems().settings.approval_timeout_hours,
    )
    if not answer.approve:
        raise ValueError(
            f"closeout report not approved by {team.project_owner}: edit it at {report.url}, "
            "then press Retry on this run to be asked again"
        )
    return answer.lessons_learned.strip()


# --- 4. the closure meeting ----------------------------------------------------------------------


def closure_meeting(
    opportunity: Opportunity, initiated: Initiated, team: Team, values: Mapping[str, str]
) -> tuple[Ref, date]:
    """The agenda filled with the wrap-up, the meeting inside the working hours of the customer's
    contacts and the team (where people moved it, it stays), and its row in the meeting notes;
    and its day, in the organiser's time zone."""
    agenda = engagement_document(
        "closure-agenda", Kind.CLOSURE_AGENDA, "Closure Agenda", opportunity
    )
    ensure_document_filled(agenda.id, Kind.CLOSURE_AGENDA, values)
    ensure_shared(agenda.id, list(team.internal))
    people = {user.email: user for user in get_users([*team.internal])}
    customer = {str(c.email): opportunity.account.time_zone for c in opportunity.contacts}
    zones = {e: u.time_zone for e, u in people.items() if u.time_zone} | customer
    organiser = zones.get(team.project_owner, opportunity.account.time_zone)
    held = find_event_start(Kind.CLOSURE_MEETING, opportunity.id)
    slot = (
        MeetingSlot(start=held, end=held + CLOSURE_LENGTH)  # as it stands: people may move it
        if held is not None
        else meeting_slot(
            systems().clock().today(organiser),
            1,
            CLOSURE_LENGTH,
            organiser,
            zones,
            systems().settings.meeting_hour,
            opportunity.account.country,
        )
    )
    event = meeting(
        Kind.CLOSURE_MEETING,
        opportunity,
        f"Project closure: {opportunity.account.name} – {opportunity.sow_number}",
        f"Closure of {opportunity.name}. The agenda: {agenda.url}",
        slot,
        [*customer, *team.internal],
        organiser,
    )
    day = slot.start.astimezone(ZoneInfo(organiser)).date()
    attendees = ", ".join(
        [
            *(c.name for c in opportunity.contacts),
            *(people[e].name for e in team.internal if e in people),
        ]
    )
    ensure_rows(
        initiated.definition.id,
        {MEETING_NOTES: [[day.isoformat(), "Project closure", attendees, f"Agenda: {agenda.url}"]]},
    )
    return event, day


# --- 5. loose ends -------------------------------------------------------------------------------


def loose_ends(opportunity: Opportunity, initiated: Initiated, closure_day: date) -> list[Ref]:
    """Nothing left open: the sign-off issue and the customer epic closed, an activity reopened
    since listed (its people decide), the bookings ended on the closure meeting's day, the
    customer's channel told, the project Closed (work done, billing pending)."""
    project, workspace = initiated.project, initiated.workspace
    made = [
        ref
        for ref in (
            ensure_issue_closed(project, Kind.SIGN_OFF_ISSUE, opportunity.id),
            ensure_epic_closed(project.rsplit("/", 1)[0], opportunity.id),
        )
        if ref is not None
    ]
    reopened = find_open_parts(project, Kind.ACTIVITY_ISSUE, opportunity.id)
    made.extend(ensure_bookings_ended(workspace.id, opportunity.id, closure_day))
    left = (
        f" Reopened since their acceptance, left open: {', '.join(reopened)}." if reopened else ""
    )
    made.append(
        ensure_message(
            slack_customer_channel(opportunity.account.id, opportunity.account.name),
            f"*{slack_text(opportunity.name)}* is closed: signed off, the closure meeting on "
            f"{closure_day}, bookings end that day, the project is Closed in Mavenlink until "
            f"billing is done.{slack_text(left)}",
            Kind.ENGAGEMENT_CLOSED,
            opportunity.id,
        )
    )
    ensure_workspace_status(workspace, CLOSED)
    return made


# --- 6. billing done: Completed ------------------------------------------------------------------


class BillingForm(RunInput):
    """The PS Project Coordinator's word that the engagement is fully billed."""

    billing_done: bool = Field(default=False, description="Every invoice of the engagement is out")


def billing_done(opportunity: Opportunity, team: Team) -> None:
    """The coordinator's word that billing is done: recorded in #ps_planning (a re-run, or a word
    given outside the form), or asked in the UI's form and then recorded."""
    planning = systems().settings.planning_channel
    if find_message(find_channel(planning), Kind.BILLING_DONE, opportunity.id) is not None:
        return
    not_asked_elsewhere(opportunity.id)
    answer = ask(
        BillingForm.with_initial_data(
            description=(
                f"{team.coordinator}: once every invoice of {opportunity.name} "
                f"({opportunity.account.name}) is out, say so: the Mavenlink project and the PS "
                "Engagement become Completed."
            )
        ),
        key="billing-done",
        hours=systems().settings.approval_timeout_hours,
    )
    if not answer.billing_done:
        raise ValueError(
            f"billing of {opportunity.name} is not done ({team.coordinator}): press Retry on this "
            "run once it is"
        )
    post_billing_done(opportunity, team.coordinator)


def post_billing_done(opportunity: Opportunity, by: str) -> Ref:
    """The coordinator's word in #ps_planning: the planners see it, a re-run reads it."""
    return ensure_message(
        systems().settings.planning_channel,
        f"Billing of *{slack_text(opportunity.name)}* ({slack_text(opportunity.account.name)}) "
        f"is done (said by {slack_text(by)}): the engagement is Completed.",
        Kind.BILLING_DONE,
        opportunity.id,
    )
