"""Execute: the weekly status report of one engagement In Progress (issue 19, being built).

It gathers each fact from the system that owns it: the schedule (Mavenlink milestones), the hours
(Kantata time entries against the PS Engagement's scoped hours), the open action items (the Project
Definition), the issues and escalations (the GitLab project), the team's planned out-of-office
(Calendar). From them, pure (`engagement/execute.py`): the burn-down and the health, explained.
Then the week's row in the Project Definition's Status Report (keyed by ISO week: a re-run the
same week rewrites what changed, never adds a row), the project's health report in Kantata (at
most one a day), the PS Engagement's Hours Consumed (Salesforce), a work exception once per threshold of hours
over the scoped ones (GitLab, Slack), the team's bookings rolled forward (hard two months ahead,
Mavenlink) and the whole report as the run's artifact.

Still to come (issue 19): the chart saved to Drive and the status e-mail, the Project Owner's
review form, the weekly
meeting's notes row, and the weekly schedule over every engagement In Progress.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, State

from core.events import Phase
from engagement.execute import (
    StatusReport,
    burn_down,
    exception_threshold,
    health,
    iso_week,
    issues_and_escalations,
    open_actions,
    report_problems,
)
from engagement.keys import Kind, slack_customer_channel
from engagement.lifecycle import NotReady, Team
from engagement.models import Opportunity
from engagement.plan import TeamAllocation
from engagement.project_definition import ACTIONS, STATUS_REPORT
from engagement.refs import Ref
from engagement.slugs import slack_text
from engagement.staffing import StaffingDecision
from flows.guard import phase_run
from flows.initiate import team_of
from flows.plan import bookings, initiated_objects
from tasks.calendar import get_out_of_office
from tasks.clients import systems
from tasks.gitlab import ensure_issue, get_open_issues
from tasks.mavenlink import ensure_health_report, get_milestones, get_time_entries
from tasks.salesforce import ensure_hours_consumed, get_opportunity
from tasks.sheets import ensure_rows, get_tables
from tasks.slack import ensure_message, find_channel, find_messages

PHASE = Phase.EXECUTE
AHEAD = timedelta(days=14)  # the out-of-office the report shows


@flow(name="status", flow_run_name="status · {customer} · {opportunity_id}")
def status_report(opportunity_id: str, customer: str = "") -> State[Any]:
    """This week's status report of one engagement In Progress.

    Args:
        opportunity_id: the Salesforce Opportunity id (15 or 18 characters).
        customer: the account's name, for the run's name in the UI only.
    """
    return phase_run(PHASE, opportunity_id, run_status_report)


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


def run_status_report(opportunity_id: str) -> State[Any]:
    settings = systems().settings
    opportunity = get_opportunity(opportunity_id)
    initiated = initiated_objects(opportunity, "a status report")
    engagement = initiated.engagement
    if problems := report_problems(engagement):
        raise NotReady(opportunity.id, "a status report", problems)
    scoped = engagement.scoped_hours
    start = engagement.actual_start
    assert scoped is not None  # the problems name them: narrowed for the type checker
    assert start is not None
    zone = opportunity.account.time_zone
    today = systems().clock().today(zone)
    end = opportunity.expected_completion or today
    # the team as staffed and as Plan confirmed it: #ps_planning, one read
    kinds = (Kind.STAFFING_DECISION, Kind.TEAM_ALLOCATION)
    recorded = find_messages(find_channel(settings.planning_channel), kinds, opportunity.id)
    if missing := [kind.value for kind in kinds if kind not in recorded]:
        raise NotReady(
            opportunity.id, "a status report", [f"#ps_planning holds no {m}" for m in missing]
        )
    team = team_of(
        opportunity, StaffingDecision.from_payload(recorded[Kind.STAFFING_DECISION].payload)
    )
    allocation = TeamAllocation.from_payload(recorded[Kind.TEAM_ALLOCATION].payload)

    # the facts, each from the system that owns it
    logged = get_time_entries(initiated.workspace.id)
    milestones = get_milestones(initiated.workspace.id)
    actions = open_actions(get_tables(initiated.definition.id, [ACTIONS])[ACTIONS])
    issues, escalations = issues_and_escalations(get_open_issues(initiated.project))
    absences = get_out_of_office(list(team.internal), today, today + AHEAD)

    consumed = sum((entry.hours for entry in logged), Decimal(0))
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
    points = burn_down(scoped, start, end, [(e.day, e.hours) for e in logged], today, country)
    people: dict[str, Decimal] = {}
    for entry in logged:
        people[entry.person] = people.get(entry.person, Decimal(0)) + entry.hours
    report = StatusReport(
        week=iso_week(today),
        as_of=today,
        title=f"{opportunity.account.name} – {opportunity.name}",
        health=judged,
        due=end,
        milestones=milestones,
        scoped=scoped,
        consumed=consumed,
        by_person=tuple(sorted(people.items())),
        actions=actions,
        issues=tuple(issues),
        absences=absences,
    )

    chart = f"(burn-down: {len(points)} weeks)"  # the chart in Drive: still to come
    ensure_rows(initiated.definition.id, {STATUS_REPORT: [report.row(chart)]})
    midnight = datetime.combine(today, time(0), ZoneInfo(zone))
    reported = ensure_health_report(initiated.workspace, midnight, judged)
    ensure_hours_consumed(engagement, consumed)
    # hard two months ahead of this week, no soft booking left in its month (the handbook)
    bookings(opportunity, initiated.workspace, allocation)
    if (threshold := exception_threshold(consumed, scoped)) is not None:
        work_exception(opportunity, team, initiated.project, consumed, scoped, threshold)
    create_markdown_artifact(
        key=f"status-{opportunity.id.lower()}",
        markdown=report.markdown(chart),
        description=report.title,
    )
    return Completed(message=f"{report.week}: {judged.colour.value}; health report {reported.name}")
