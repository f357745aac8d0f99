"""Execute: the weekly status report of each engagement In Progress.

`weekly_status` runs on the weekly schedule: it lists the PS Engagements In Progress and starts
one `status` run per engagement (a failure stops none of the others; each is its own run, under
its opportunity's slot, named for its customer and week).

A `status` run gathers each fact from the system that owns it: the schedule (Mavenlink
milestones), the hours (Kantata time entries against the PS Engagement's scoped hours), the open
action items (the Project Definition), the issues and escalations (the GitLab project), the
team's planned out-of-office (Calendar). From them, pure (`engagement/execute.py`): the burn-down
and the health, explained. Every week, whatever the report: the PS Engagement's Hours Consumed
(Salesforce), the team's bookings rolled forward (hard two months ahead, Mavenlink), a work
exception once per threshold of hours over the scoped ones (GitLab, Slack), and the next weekly
meeting's notes row in the Project Definition.

Then the report: the burn-down chart in the SOW folder (Drive, one per week), the Project Owner's
review in the UI (unless the settings send without one: they may edit the issues and the
out-of-office, add a note, set the health with a reason, or skip the e-mail), the week's row in
the Project Definition's Status Report (keyed by ISO week), the health report in Kantata (at most
one a day), the e-mail with the chart to the customer's contacts (CC the team) and the whole
report as the run's artifact. Once sent or skipped, the week's report is final.
"""

from __future__ import annotations

import base64
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.input import RunInput
from prefect.states import Completed, State

from core.events import Phase
from engagement.charts import burn_down_png
from engagement.execute import (
    SENT,
    SKIPPED,
    WAITING,
    StatusReport,
    StatusReview,
    burn_down,
    exception_threshold,
    health,
    is_final,
    iso_week,
    issues_and_escalations,
    open_actions,
    report_problems,
    week_email,
)
from engagement.keys import Kind, engagement_folders, slack_customer_channel
from engagement.lifecycle import NotReady, Team
from engagement.models import EngagementStatus, Opportunity
from engagement.plan import TeamAllocation
from engagement.project_definition import ACTIONS, MEETING_NOTES, STATUS_REPORT, Table
from engagement.refs import Ref
from engagement.slugs import slack_text
from engagement.staffing import StaffingDecision
from engagement.templates import Attachment, Email
from flows.forms import ask, with_defaults
from flows.guard import (
    for_the_account,
    not_asked_elsewhere,
    opportunity_tag,
    phase_run,
    tag_run,
)
from flows.initiate import team_of
from flows.plan import bookings, initiated_objects
from tasks.calendar import find_next_meeting, get_out_of_office
from tasks.clients import systems
from tasks.drive import ensure_upload
from tasks.gitlab import ensure_issue, get_open_issues
from tasks.gmail import ensure_email, find_email
from tasks.mavenlink import ensure_health_report, get_milestones, get_time_entries
from tasks.salesforce import ensure_hours_consumed, find_engagements, get_opportunity
from tasks.sheets import ensure_rows, get_tables
from tasks.slack import ensure_message, find_channel, find_messages

PHASE = Phase.EXECUTE
WHAT = "a status report"
AHEAD = timedelta(days=14)  # the out-of-office the report shows
STATUS_DEPLOYMENT = "status/status"  # the `status` flow's deployment (deployments/definitions.py)


class ReviewForm(RunInput, StatusReview):
    """The Project Owner's review of the week's report, as the Prefect UI's form."""


@flow(name="status", flow_run_name="status · {customer} · {week}")
def status_report(opportunity_id: str, customer: str = "", week: str = "") -> State[Any]:
    """This week's status report of one engagement In Progress.

    Args:
        opportunity_id: the Salesforce Opportunity id (15 or 18 characters).
        customer: the account's name, for the run's name in the UI only.
        week: the ISO week the weekly schedule started it for, for the run's name only (the
            report is the week's of the day it runs, in the customer's time zone).
    """
    return phase_run(PHASE, opportunity_id, run_status_report)


@flow(name="weekly-status", flow_run_name="weekly status reports")
def weekly_status() -> list[Ref]:
    """Start this week's status report of every engagement In Progress: one `status` run each,
    shown beside this run in the UI and listed in its artifact. Started twice in a week, it
    starts none twice (each run's idempotency key is its opportunity and week)."""
    week = iso_week(systems().clock().today("UTC"))
    started = []
    for opportunity_id, customer in find_engagements(EngagementStatus.IN_PROGRESS):
        run = cast(
            FlowRun,
            run_deployment(
                STATUS_DEPLOYMENT,
                parameters={"opportunity_id": opportunity_id, "customer": customer, "week": week},
                timeout=0,  # each report runs on its own: one's failure or wait holds up none
                idempotency_key=f"status-{opportunity_id}-{week}",
                tags=[opportunity_tag(opportunity_id)],  # found by it at once, as it waits
                # its own run, listed in this one's artifact: a subflow could not wait for review
                as_subflow=False,
            ),
        )  # run_deployment is typed for async callers too
        started.append(
            Ref(
                system="Prefect",
                kind="status run",
                name=f"{customer} ({opportunity_id}): {run.name}",
                url=_run_url(str(run.id)),
                id=str(run.id),
                created=True,
            )
        )
    create_table_artifact(
        key="weekly-status",
        table=[ref.row() for ref in started],
        description=f"{week}: the status runs started, one per engagement In Progress",
    )
    return started


def _run_url(run_id: str) -> str | None:
    from prefect.settings import PREFECT_UI_URL

    base = PREFECT_UI_URL.value()
    return f"{base}/runs/flow-run/{run_id}" if base else None


def run_status_report(opportunity_id: str) -> State[Any]:
    settings = systems().settings
    opportunity = get_opportunity(opportunity_id)
    initiated = initiated_objects(opportunity, WHAT)
    engagement = initiated.engagement
    if problems := report_problems(engagement):
        raise NotReady(opportunity.id, WHAT, problems)
    scoped, start, end = (
        engagement.scoped_hours,
        engagement.actual_start,
        engagement.expected_completion,
    )
    assert scoped is not None  # the problems name them: narrowed for the type checker
    assert start is not None
    assert end is not None
    zone = opportunity.account.time_zone
    now = systems().clock().now()
    today = now.astimezone(ZoneInfo(zone)).date()
    week = iso_week(today)
    tag_run(opportunity.id, f"week:{week}")
    # the team as staffed and as Plan confirmed it: #ps_planning, one read
    kinds = (Kind.STAFFING_DECISION, Kind.TEAM_ALLOCATION)
    recorded = find_messages(find_channel(settings.planning_channel), kinds, opportunity.id)
    if missing := [kind.value for kind in kinds if kind not in recorded]:
        raise NotReady(opportunity.id, WHAT, [f"#ps_planning holds no {m}" for m in missing])
    team = team_of(
        opportunity, StaffingDecision.from_payload(recorded[Kind.STAFFING_DECISION].payload)
    )
    # booked until the engagement's end: the one Plan confirmed, or a change request's since
    allocation = TeamAllocation.from_payload(recorded[Kind.TEAM_ALLOCATION].payload).until(end)

    # the facts, each from the system that owns it
    logged = get_time_entries(initiated.workspace.id)
    milestones = get_milestones(initiated.workspace.id)
    tables = get_tables(initiated.definition.id, [ACTIONS, STATUS_REPORT])
    issues, escalations = issues_and_escalations(get_open_issues(initiated.project))
    absences = get_out_of_office(list(team.internal), today, today + AHEAD)
    meeting = find_next_meeting(Kind.WEEKLY_MEETING, opportunity.id, now, now + timedelta(days=7))
    consumed = sum((entry.hours for entry in logged), Decimal(0))

    # every week, whatever becomes of the report
    ensure_hours_consumed(engagement, consumed)
    bookings(opportunity, initiated.workspace, allocation)  # hard two months ahead
    if (threshold := exception_threshold(consumed, scoped)) is not None:
        work_exception(opportunity, team, initiated.project, consumed, scoped, threshold)
    notes = []
    if meeting is not None:
        day = meeting.astimezone(ZoneInfo(zone)).date().isoformat()
        attendees = ", ".join([*(c.name for c in opportunity.contacts), *team.internal])
        notes = [[day, f"Weekly project meeting {day}", attendees, ""]]

    emailed = week_email(tables[STATUS_REPORT], week)
    if is_final(emailed):
        if notes:
            ensure_rows(initiated.definition.id, tables_of(notes))
        return Completed(message=f"{week}: the report stands ({emailed})")

    country = opportunity.account.country
    judged = health(
        today=today,
        start=start,
        end=end,
        scoped=scoped,
        consumed=consumed,
        overdue=[(m.title, m.due) for m in milestones if not m.done and m.due < today],
        escalations=escalations,
        country=country,
    )
    people: dict[str, Decimal] = {}
    for entry in logged:
        people[entry.person] = people.get(entry.person, Decimal(0)) + entry.hours
    report = StatusReport(
        week=week,
        as_of=today,
        title=f"{opportunity.account.name} – {opportunity.name}",
        health=judged,
        due=end,
        milestones=milestones,
        scoped=scoped,
        consumed=consumed,
        by_person=tuple(sorted(people.items())),
        actions=open_actions(tables[ACTIONS]),
        issues=tuple(issues),
        out_of_office=tuple(map(str, absences)),
    )
    points = burn_down(scoped, start, end, [(e.day, e.hours) for e in logged], today, country)
    png = burn_down_png(points, scoped, report.title)
    chart = burn_down_chart(opportunity, week, png)
    link = chart.url or chart.name

    send = True
    if settings.status_review:
        # the row shows the report is waiting; the team sees the meeting's row meanwhile
        ensure_rows(
            initiated.definition.id, {STATUS_REPORT: [report.row(link, WAITING)]} | tables_of(notes)
        )
        notes = []
        # a run that sent the e-mail and then crashed has had its answer: it is not asked again
        if emailed != WAITING or not find_email(Kind.STATUS_REPORT_EMAIL, opportunity.id, week):
            review = ask_review(opportunity, team, report, link, week)
            report = report.reviewed(review, team.project_owner)
            send = review.send

    midnight = datetime.combine(today, time(0), ZoneInfo(zone))
    reported = ensure_health_report(initiated.workspace, midnight, report.health)
    to = [str(contact.email) for contact in opportunity.contacts]
    if send and to:
        ensure_email(
            Kind.STATUS_REPORT_EMAIL,
            opportunity.id,
            to,
            list(team.internal),
            Email(
                subject=f"{report.title}: status report {week}",
                body=report.markdown(link),
                attachments=(
                    Attachment(filename=f"Burn-down {week}.png", mime_type=PNG, data=png),
                ),
            ),
            part=week,
        )
        outcome = f"{SENT}{', '.join(to)} on {today}"
    else:
        why = "skipped by the Project Owner" if to else "the opportunity has no contact"
        outcome = f"{SKIPPED}{why}"
    ensure_rows(
        initiated.definition.id, {STATUS_REPORT: [report.row(link, outcome)]} | tables_of(notes)
    )
    picture = base64.b64encode(png).decode("ascii")
    create_markdown_artifact(
        key=f"status-{opportunity.id.lower()}",
        markdown=report.markdown(link).replace(
            f"![Burn-down]({link})",
            f"![Burn-down](data:image/png;base64,{picture})\n\n[The chart in Drive]({link})",
        )
        + f"\n*E-mail: {outcome}.*\n",
        description=report.title,
    )
    return Completed(message=f"{week}: {report.health.colour.value}; {outcome}; {reported.name}")


PNG = "image/png"


def tables_of(notes: list[list[Any]]) -> dict[Table, list[list[Any]]]:
    """The meeting notes' table with its rows, when there are any."""
    return {MEETING_NOTES: notes} if notes else {}


def burn_down_chart(opportunity: Opportunity, week: str, png: bytes) -> Ref:
    """The week's burn-down chart in the SOW folder: one file a week, its picture replaced when a
    re-run that week draws another. The customer's folder is the account's: its slot is held."""
    with for_the_account(opportunity.account.id):
        return ensure_upload(
            Kind.BURN_DOWN_CHART,
            opportunity.id,
            f"Burn-down {week}.png",
            engagement_folders(opportunity),
            png,
            PNG,
            part=week,
        )


def ask_review(
    opportunity: Opportunity, team: Team, report: StatusReport, chart: str, week: str
) -> StatusReview:
    """The Project Owner's review of the week's report in the UI's form, prefilled with it as
    gathered (one form a week: a duplicate run of the same week ends instead)."""
    not_asked_elsewhere(opportunity.id, f"week:{week}")
    answer = ask(
        with_defaults(
            ReviewForm,
            f"{team.project_owner}: review the status report {week} of {opportunity.name} "
            f"({opportunity.account.name}) before it goes to the customer. Health as computed: "
            f"**{report.health.colour.value}** ({'; '.join(report.health.reasons)}). "
            f"{report.schedule()}. Hours: {report.consumed} of {report.scoped}. "
            f"Chart: {chart}",
            issues=list(report.issues),
            out_of_office=list(report.out_of_office),
        ),
        key=f"status-review-{week.lower()}",  # a form's key is lowercase
        hours=systems().settings.status_review_hours,
    )
    return StatusReview.model_validate(answer.model_dump(exclude={"metadata"}))


def work_exception(
    opportunity: Opportunity,
    team: Team,
    project: str,
    consumed: Decimal,
    scoped: Decimal,
    threshold: int,
) -> list[Ref]:
    """Hours over the scoped ones with no approved change: the handbook's work exception, an issue
    in the GitLab project and the engagement manager told in the customer's channel, once per
    threshold reached (100%, then 110%, 125%, 150%), not every week it stays over."""
    over = f"{consumed.normalize():f} of {scoped.normalize():f} scoped hours ({threshold}%)"
    issue = ensure_issue(
        project,
        Kind.WORK_EXCEPTION,
        opportunity.id,
        f"Work exception: {over}",
        f"The hours logged on **{opportunity.name}** reached {over} with no approved change "
        "request. The engagement manager decides: a change request, or the overrun accepted.",
        part=str(threshold),
    )
    channel = slack_customer_channel(opportunity.account.id, opportunity.account.name)
    notice = ensure_message(
        channel,
        f"{slack_text(team.engagement_manager)}: *work exception* on "
        f"{slack_text(opportunity.name)}: {over}. {slack_text(issue.url or issue.name)}",
        Kind.WORK_EXCEPTION,
        opportunity.id,
        part=str(threshold),
    )
    return [issue, notice]
