"""Execute's weekly status report of one engagement (issue 19, being built), run in this process
against a real Prefect server: an engagement through Plan, the team logs hours and books time
off, the week's report is one row, one health report, and a re-run that week writes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import cast

import pytest
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment

from engagement.execute import iso_week
from engagement.keys import Kind
from engagement.plan import hard_until
from engagement.project_definition import MEETING_NOTES, STATUS_REPORT
from flows.execute import status_report
from flows.initiate import approved_staffing, initiate
from flows.plan import plan
from sandbox.client import SandboxClient
from tasks.clients import systems
from tasks.drive import find_keyed_file
from tasks.mavenlink import find_workspace
from tasks.salesforce import get_opportunity
from tasks.sheets import get_tables
from testkit.expect import body_text, sent_mail, written
from testkit.faults import prepare, prepare_many
from testkit.phases import log_hours, run_phase
from testkit.runs import FINAL, paused_at, resume, run_of, wait_for_state
from testkit.stack import PrefectStack

pytestmark = pytest.mark.e2e


def test_a_weeks_report_is_one_row_and_one_health_report_and_a_rerun_writes_nothing(
    world: SandboxClient,
) -> None:
    opportunity = prepare(world, "plan")  # a new customer's engagement, Plan's answers recorded
    state, _ = run_phase(plan, opportunity)
    assert state.type == StateType.COMPLETED, state.message
    (engagement,) = [
        e
        for e in world.state("salesforce", "PS_Engagement__c")
        if opportunity in e["Opportunity_Id__c"]
    ]
    start = datetime.fromisoformat(engagement["Actual_Start__c"]).date()
    workspace = find_workspace.fn(opportunity)
    assert workspace is not None
    decision = approved_staffing(get_opportunity.fn(opportunity))
    assert decision is not None
    (pse,) = decision.pses

    # two weeks in: the PSE logged six days of eight hours and books two days off
    world.set_clock(datetime.combine(start + timedelta(days=11), time(15), UTC))
    log_hours(world, opportunity, start, (0, 1, 2, 7, 8, 9))
    world.act(
        "google",
        "/calendar/out_of_office",
        email=pse,
        start=(start + timedelta(days=14)).isoformat(),
        end=(start + timedelta(days=15)).isoformat(),
    )

    before = world.last_request_id()
    state, _ = run_phase(status_report, opportunity)
    assert state.type == StateType.COMPLETED, state.message
    # the week's row and the next weekly meeting's notes row (two appends), the day's health, the
    # hours on the PS Engagement, the chart in Drive, the e-mail (its draft, then its sending)
    assert written(world, before) == {
        "sheets": 2,
        "mavenlink": 1,
        "salesforce": 1,
        "drive": 1,
        "gmail": 2,
    }
    today = systems().clock().today("UTC")
    week = iso_week(today)
    (report,) = world.state("mavenlink", "status_reports")
    assert report["color"] in {"green", "yellow", "red"}
    definition = find_keyed_file.fn(Kind.PROJECT_DEFINITION, opportunity)
    assert definition is not None
    tables = get_tables.fn(definition.id, [STATUS_REPORT, MEETING_NOTES])
    (row,) = [r for r in tables[STATUS_REPORT][1:] if r[0] == week]
    assert float(row[2]) == 48  # hours used
    assert pse in row[5]  # out of office
    assert row[6] == report["color"]
    chart = find_keyed_file.fn(Kind.BURN_DOWN_CHART, opportunity, part=week)
    assert chart is not None
    assert (chart.name, row[8]) == (f"Burn-down {week}.png", chart.url)
    png = systems().drive().files().get_media(fileId=chart.id).execute()
    assert png.startswith(b"\x89PNG")
    contacts = [c.email for c in get_opportunity.fn(opportunity).contacts]
    assert row[10] == f"sent to {', '.join(contacts)} on {today}"
    (mail,) = sent_mail(world, f"status report {week}")
    assert mail["To"] == ", ".join(contacts)
    assert pse in mail["Cc"]
    assert "48 of" in body_text(mail)
    [attached] = list(mail.iter_attachments())
    assert (attached.get_filename(), attached.get_content()) == (f"Burn-down {week}.png", png)
    # the next weekly meeting (Plan's series: a week after the start, weekly) has its notes row
    meeting = start + timedelta(days=14)
    notes = [r for r in tables[MEETING_NOTES][1:] if r[1] == f"Weekly project meeting {meeting}"]
    assert [r[0] for r in notes] == [meeting.isoformat()]

    # later the same week: the report as sent stands, nothing written
    before = world.last_request_id()
    state, _ = run_phase(status_report, opportunity)
    assert state.type == StateType.COMPLETED, state.message
    assert written(world, before) == {}

    # the PSE logs four more hours that day: Salesforce's hours follow; the week's report as the
    # customer got it stands
    world.act(
        "mavenlink",
        "/time_entries",
        workspace_id=workspace.id,
        user_email=pse,
        date=today.isoformat(),
        hours=4,
    )
    before = world.last_request_id()
    state, _ = run_phase(status_report, opportunity)
    assert state.type == StateType.COMPLETED, state.message
    assert written(world, before) == {"salesforce": 1}

    # a week of overrun: the hours pass the scoped ones, a work exception is raised, once
    scoped = float(engagement["Scoped_Hours__c"])
    world.act(
        "mavenlink",
        "/time_entries",
        workspace_id=workspace.id,
        user_email=pse,
        date=today.isoformat(),
        hours=scoped - 52,  # to exactly the scoped hours
    )
    before = world.last_request_id()
    state, _ = run_phase(status_report, opportunity)
    assert state.type == StateType.COMPLETED, state.message
    # the hours, the exception's issue and its notice to the engagement manager
    assert written(world, before) == {"salesforce": 1, "gitlab": 1, "slack": 1}
    (issue,) = [i for i in world.state("gitlab", "issue") if "Work exception" in i["title"]]
    assert "(100%)" in issue["title"]
    before = world.last_request_id()
    state, _ = run_phase(status_report, opportunity)
    assert state.type == StateType.COMPLETED, state.message
    assert written(world, before) == {}

    # the next week: its own row, chart, e-mail and health report; last week's stand
    world.set_clock(datetime.combine(today + timedelta(days=7), time(15), UTC))
    before = world.last_request_id()
    state, _ = run_phase(status_report, opportunity)
    assert state.type == StateType.COMPLETED, state.message
    assert written(world, before) == {
        "sheets": 2,  # the week's row, the next meeting's notes row
        "mavenlink": 1,
        "drive": 1,
        "gmail": 2,
    }
    next_week = iso_week(systems().clock().today("UTC"))
    rows = get_tables.fn(definition.id, [STATUS_REPORT])[STATUS_REPORT]
    assert [r[0] for r in rows[1:] if r[0] in (week, next_week)] == [week, next_week]
    assert len(sent_mail(world, "status report")) == 2
    assert len(world.state("mavenlink", "status_reports")) == 2


def test_each_week_the_team_is_booked_hard_two_months_ahead(world: SandboxClient) -> None:
    opportunity = prepare(world, "plan", weeks=26)  # half a year: hard two months, soft the rest
    state, _ = run_phase(plan, opportunity)
    assert state.type == StateType.COMPLETED, state.message
    workspace = find_workspace.fn(opportunity)
    assert workspace is not None

    def booked() -> dict[bool, tuple[str, str]]:
        rows = world.state("mavenlink", "workspace_allocations")
        mine = [a for a in rows if str(a["workspace_id"]) == workspace.id]
        return {a["hard"]: (a["start_date"], a["end_date"]) for a in mine}

    start = date.fromisoformat(booked()[True][0])
    end = date.fromisoformat(booked()[False][1])
    assert date.fromisoformat(booked()[True][1]) == hard_until(start, start)  # Plan's booking

    # five weeks later, the weekly report's run: the hard booking reaches two months ahead of
    # that week, the soft one starts after it and still ends with the engagement
    world.set_clock(datetime.combine(start + timedelta(weeks=5), time(15), UTC))
    today = systems().clock().today("UTC")
    state, _ = run_phase(status_report, opportunity)
    assert state.type == StateType.COMPLETED, state.message
    until = hard_until(start, today)
    assert booked() == {
        True: (start.isoformat(), until.isoformat()),
        False: ((until + timedelta(days=1)).isoformat(), end.isoformat()),
    }


def test_a_report_for_an_engagement_not_in_progress_is_refused_before_any_write(
    world: SandboxClient,
) -> None:
    # initiated, Plan's answers not given: a Plan the served deployments may start from
    # Initiate's completion waits at its first form, writing nothing; no kickoff yet
    opportunity = prepare(world, "initiate")
    state, _ = run_phase(initiate, opportunity)
    assert state.type == StateType.COMPLETED, state.message
    before = world.last_request_id()
    state, _ = run_phase(status_report, opportunity)
    assert state.type == StateType.FAILED
    assert "Status__c is 'Initiation', not In Progress since a kickoff" in str(state.message)
    assert written(world, before) == {}


def test_the_weekly_cadence_reports_every_engagement_once_each_reviewed_by_its_owner(
    served: PrefectStack, world: SandboxClient
) -> None:
    # three engagements In Progress, the team logging hours; the weekly schedule fires (the
    # served deployments do not schedule: it is started as the schedule starts it)
    engagements = prepare_many(world, "plan", 3)
    for opportunity in engagements:
        state, _ = run_phase(plan, opportunity)
        assert state.type == StateType.COMPLETED, state.message
    starts = {
        e["Opportunity_Id__c"]: date.fromisoformat(e["Actual_Start__c"])
        for e in world.state("salesforce", "PS_Engagement__c")
        if e["Opportunity_Id__c"] in engagements
    }
    world.set_clock(datetime.combine(max(starts.values()) + timedelta(days=11), time(15), UTC))
    for opportunity in engagements:
        log_hours(world, opportunity, starts[opportunity], days=(0, 1, 2, 7, 8))
    week = iso_week(systems().clock().today("UTC"))
    before = world.last_request_id()
    weekly = cast(FlowRun, run_deployment("weekly-status/weekly-status", timeout=0))
    done = wait_for_state(weekly, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message

    # one status run per engagement, each waiting for its Project Owner's review of its week
    runs = {o: run_of("status", o) for o in engagements}
    forms = {o: paused_at(run, f"status-review-{week.lower()}") for o, run in runs.items()}
    first, second, third = engagements
    assert runs[first].name.endswith(f" · {week}")
    assert forms[first]["properties"]["send"]["default"] is True
    resume(runs[first], forms[first])  # as gathered
    resume(
        runs[second],
        forms[second],
        note="Cutover moves to March.",
        health_override="red: the customer's test environment is two weeks late",
    )
    resume(runs[third], forms[third], send=False)  # skipped this week
    for run in runs.values():
        done = wait_for_state(run, *FINAL, timeout=120)
        assert done.type == StateType.COMPLETED, done.message

    # each: one row of the week, one chart, one health report; an e-mail unless skipped
    for opportunity in engagements:
        definition = find_keyed_file.fn(Kind.PROJECT_DEFINITION, opportunity)
        assert definition is not None
        rows = get_tables.fn(definition.id, [STATUS_REPORT])[STATUS_REPORT]
        (row,) = [r for r in rows[1:] if r[0] == week]
        assert find_keyed_file.fn(Kind.BURN_DOWN_CHART, opportunity, part=week) is not None
        expected = "not sent: skipped by the Project Owner" if opportunity == third else "sent to"
        assert row[10].startswith(expected), row
    assert len(world.state("mavenlink", "status_reports")) == 3
    mails = sent_mail(world, f"status report {week}")
    assert len(mails) == 2
    (reviewed,) = [m for m in mails if "Cutover moves to March." in body_text(m)]
    assert "**Health: red** — set by" in body_text(reviewed)
    colours = {r["color"] for r in world.state("mavenlink", "status_reports")}
    assert "red" in colours

    # the schedule fires again that week: no run is started twice, nothing is written
    again_from = world.last_request_id()
    weekly = cast(FlowRun, run_deployment("weekly-status/weekly-status", timeout=0))
    assert wait_for_state(weekly, *FINAL, timeout=120).type == StateType.COMPLETED
    assert {o: run_of("status", o).id for o in engagements} == {o: r.id for o, r in runs.items()}
    assert written(world, again_from) == {}
    assert written(world, before)["gmail"] == 4  # two e-mails: a draft and its sending each


def test_a_report_before_any_hours_are_logged_shows_none_used(world: SandboxClient) -> None:
    opportunity = prepare(world, "plan")
    state, _ = run_phase(plan, opportunity)
    assert state.type == StateType.COMPLETED, state.message
    state, _ = run_phase(status_report, opportunity)  # nobody has logged time yet
    assert state.type == StateType.COMPLETED, state.message
    definition = find_keyed_file.fn(Kind.PROJECT_DEFINITION, opportunity)
    assert definition is not None
    week = iso_week(systems().clock().today("UTC"))
    rows = get_tables.fn(definition.id, [STATUS_REPORT])[STATUS_REPORT]
    (row,) = [r for r in rows[1:] if r[0] == week]
    assert float(row[2]) == 0  # hours used
    assert row[10].startswith("sent to")


def test_an_engagement_whose_project_definition_is_gone_is_named_before_any_write(
    world: SandboxClient,
) -> None:
    opportunity = prepare(world, "execute")
    definition = find_keyed_file.fn(Kind.PROJECT_DEFINITION, opportunity)
    assert definition is not None
    systems().drive().files().update(fileId=definition.id, body={"trashed": True}).execute()
    before = world.last_request_id()
    state, _ = run_phase(status_report, opportunity)
    assert state.type == StateType.FAILED
    assert "not ready for a status report" in str(state.message)
    assert "no Project Definition (Drive)" in str(state.message)
    assert written(world, before) == {}
