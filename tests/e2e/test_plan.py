"""Plan on a real Prefect server: Initiate's completion starts it; the coordinator's and the Project
Owner's forms answered as the UI does; the engagement ends In Progress and Active, hard-staffed
and scheduled, each object once; a re-run asks nobody and writes nothing."""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

import pytest
from prefect.client.schemas.objects import StateType
from prefect.deployments import run_deployment
from prefect.events import emit_event
from prefect.flow_runs import resume_flow_run

from core.events import PHASE_COMPLETED, Phase, event_kwargs
from flows.plan import plan
from sandbox.client import SandboxClient
from testkit.expect import written
from testkit.factories import opportunities
from testkit.phases import initiated, run_phase, staffed
from testkit.runs import (
    FINAL,
    paused_at,
    resume,
    run_of,
    state_of,
    wait_for_state,
    wait_until,
)
from testkit.stack import PrefectStack

pytestmark = pytest.mark.e2e


# Plan's writes once its forms are answered, each object once (the kickoff meeting was made before
# the Project Owner's answer, the coordinator's answer recorded before the bookings)
ONE_PLAN = {
    # the hard booking; the soft one released (the engagement ends within two months); the
    # project's dates; two milestones; Active
    "mavenlink": 6,
    "gitlab": 3,  # two activity issues' due dates, the hand-off closed
    "drive": 4,  # the deck's copy, shared with the engagement manager, coordinator and PSE
    "sheets": 3,  # the Plan rows, the kickoff's notes, its actions: an append each
    "slides": 1,  # the deck filled, one batchUpdate
    "calendar": 2,  # the kickoff, the weekly series
    "salesforce": 1,  # In Progress with its Actual Start
    "slack": 2,  # the answers recorded: the team in #ps_planning, the kickoff for the team
}


def mine(rows: list[dict[str, Any]], opportunity: str, *fields: str) -> list[dict[str, Any]]:
    return [r for r in rows if any(opportunity in str(r.get(f) or "") for f in fields)]


def test_negotiating_to_in_progress_through_the_served_deployments_each_object_once(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    # Negotiating: the watcher starts Pre-Initiate, the coordinator approves in its form; Closed
    # Won: Initiate; its completion: Plan. Nothing runs in this process.
    (opportunity,) = staffed(sandbox)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
    done = wait_for_state(run_of("initiate", opportunity), *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message

    run = run_of("plan", opportunity)
    assert run.parameters == {"opportunity_id": opportunity, "customer": "Acme Corporation"}
    allocation = paused_at(run, "plan-allocation")
    hours = allocation["properties"]["hours_per_day"]["default"]
    assert list(hours.values()) == [8.0]  # the approved staffing's
    start = sandbox.last_request_id()
    resume(run, allocation, hours_per_day=dict.fromkeys(hours, 6.0))

    kickoff_form = paused_at(run, "kickoff-held")
    (kickoff,) = [e for e in sandbox.state("google", "event") if "Project kickoff" in e["summary"]]
    held_on = kickoff["start"]["dateTime"][:10]
    first_weekly = date.fromisoformat(held_on) + timedelta(days=7)
    resume(
        run,
        kickoff_form,
        held_on=held_on,
        minutes="Scope and timeline confirmed.",
        actions=["Share the repository inventory", "Provision the runners"],
        handoff_complete=True,
        weekly_meeting=f"{first_weekly}T10:00:00",
    )
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message

    # Salesforce and Mavenlink: started
    (record,) = mine(
        sandbox.state("salesforce", "PS_Engagement__c"), opportunity, "Opportunity_Id__c"
    )
    assert (record["Status__c"], record["Actual_Start__c"]) == ("In Progress", held_on)
    (workspace,) = [
        w
        for w in sandbox.state("mavenlink", "workspaces")
        if w["id"]
        in {
            str(r["subject_id"])
            for r in mine(
                sandbox.state("mavenlink", "external_references"), opportunity, "service_model_ref"
            )
            if r["subject_type"] == "Workspace"
        }
    ]
    assert str(workspace["status"]["key"]) == "300"  # Active
    assert workspace["start_date"]
    assert workspace["due_date"]

    # the bookings: hard two months ahead at 6 h a day, the soft rest (or nothing) after it
    refs = mine(sandbox.state("mavenlink", "external_references"), opportunity, "service_model_ref")
    kinds = [r["service_model"] for r in refs]
    assert kinds.count("hard-booking") == len(hours)
    assert kinds.count("milestone") == 2
    hard = [
        a
        for a in sandbox.state("mavenlink", "workspace_allocations")
        if a["workspace_id"] == workspace["id"] and a["hard"]
    ]
    assert len(hard) == len(hours)

    # GitLab: activity issues due, the hand-off closed
    issues = mine(sandbox.state("gitlab", "issue"), opportunity, "description")
    activity = [i for i in issues if "PS::Activity" in i["labels"]]
    assert len(activity) == 2
    assert all(i["due_date"] for i in activity)
    (handoff,) = [i for i in issues if "PS::Hand-off" in i["labels"]]
    assert handoff["state"] == "closed"

    # Calendar: the kickoff with the customer, the weekly series
    weekly = [e for e in sandbox.state("google", "event") if e.get("recurrence")]
    assert len(weekly) == 1
    assert any(a["email"].endswith("@acme.example") for a in kickoff["attendees"])

    writes = written(sandbox, start)
    assert writes == ONE_PLAN
    posted = {m["text"].split(" of ")[0]: m for m in sandbox.state("slack", "messages")}
    assert "6 h/day" in posted["Team"]["text"]
    assert "Provision the runners" in posted["Kickoff"]["text"]

    # a re-run of any phase so far writes nothing, and moves nothing back (the engagement stays
    # In Progress and Active, the soft booking Plan released stays released); Plan asks nobody
    before = sandbox.last_request_id()
    for phase in ("pre-initiate", "initiate", "plan"):
        again = run_deployment(
            f"{phase}/{phase}", parameters={"opportunity_id": opportunity}, timeout=120
        )
        assert again.state is not None
        assert again.state.type == StateType.COMPLETED, (phase, again.state.message)
        assert written(sandbox, before) == {}, phase


def test_a_duplicate_trigger_leaves_one_form_to_answer_and_each_object_once(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity = initiated(sandbox)
    run = run_of("plan", opportunity)
    start = sandbox.last_request_id()
    answers: dict[str, dict[str, Any]] = {
        "plan-allocation": {},
        "kickoff-held": {"minutes": "Scope confirmed.", "weekly_meeting": None},
    }
    for number, (key, answer) in enumerate(answers.items(), start=1):
        form = paused_at(run, key)
        # Initiate's completion once more, a distinct event: Prefect cannot dedupe it
        name = f"duplicate {number}"
        event = event_kwargs(
            PHASE_COMPLETED, opportunity, key=name, customer=name, phase=Phase.INITIATE
        )
        emit_event(**event)
        duplicate = run_of("plan", f"plan · {name} · {opportunity}")
        ended = wait_for_state(duplicate, *FINAL, timeout=120)
        assert ended.type == StateType.COMPLETED, ended.message
        assert f"a duplicate: {run.name} is under way" in str(ended.message)
        assert state_of(run).state_details.pause_key == key  # still the one form to answer
        resume(run, form, **answer)
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message
    # no weekly meeting and no actions in these answers: no series, no actions row
    assert written(sandbox, start) == {**ONE_PLAN, "calendar": 1, "sheets": 2}


# --- refused before any write, the field or the object named --------------------------------------


def refused(sandbox: SandboxClient, opportunity: str, *expected: str) -> None:
    """Plan run in this process fails naming each of `expected`, having written nothing."""
    before = sandbox.last_request_id()
    state, _ = run_phase(plan, opportunity)
    assert state.type == StateType.FAILED
    for text in expected:
        assert text in str(state.message), state.message
    assert written(sandbox, before) == {}


def test_plan_before_initiate_completed_names_what_is_missing(
    prefect_api: str, sandbox: SandboxClient
) -> None:
    (opportunity,) = opportunities(sandbox, stage="Closed Won", imported=True)
    refused(sandbox, opportunity, "not ready for Plan", "Initiate has not completed")


def test_plan_for_an_opportunity_still_negotiating_names_the_stage(
    prefect_api: str, sandbox: SandboxClient
) -> None:
    (opportunity,) = opportunities(sandbox, stage="5-Negotiating", imported=True)
    refused(sandbox, opportunity, "StageName is '5-Negotiating'")


@pytest.mark.parametrize(
    ("sobject", "fields", "named"),
    [
        (
            "Opportunity",
            {"PS_Expected_Start__c": "2027-03-01", "PS_Expected_Completion__c": "2027-02-01"},
            "PS_Expected_Completion__c",
        ),
        ("Account", {"PS_Time_Zone__c": None}, "Account.PS_Time_Zone__c"),
    ],
)
def test_a_bad_window_or_a_customer_without_a_time_zone_is_named(
    prefect_api: str, sandbox: SandboxClient, sobject: str, fields: dict[str, Any], named: str
) -> None:
    (opportunity,) = opportunities(sandbox, stage="Closed Won", imported=True)
    record = opportunity
    if sobject == "Account":
        (row,) = [o for o in sandbox.state("salesforce", "Opportunity") if o["Id"] == opportunity]
        record = row["AccountId"]
    sandbox.edit("salesforce", f"/sobjects/{sobject}/{record}", **fields)
    refused(sandbox, opportunity, named)


def test_a_pse_who_left_stops_plan_before_any_booking(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity = initiated(sandbox)
    pses = paused_at(run_of("plan", opportunity), "plan-allocation")["properties"]
    (pse,) = pses["hours_per_day"]["default"]
    (user,) = [u for u in sandbox.state("salesforce", "User") if u["Email"] == pse]
    sandbox.edit("salesforce", f"/sobjects/User/{user['Id']}", IsActive=False)
    refused(sandbox, opportunity, f"{pse}: no active Salesforce user")


def test_an_opportunity_renamed_after_initiate_keeps_its_gitlab_project(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity = initiated(sandbox)
    run = run_of("plan", opportunity)
    form = paused_at(run, "plan-allocation")
    # sales renames the deal; the GitLab project's path still holds the old name
    sandbox.edit("salesforce", f"/sobjects/Opportunity/{opportunity}", Name="Acme – Renamed deal")
    resume(run, form)
    resume(run, paused_at(run, "kickoff-held"))
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message
    projects = mine(sandbox.state("gitlab", "project"), opportunity, "description")
    assert len(projects) == 1
    due = mine(sandbox.state("gitlab", "issue"), opportunity, "description")
    assert sum(bool(i["due_date"]) for i in due) == 2  # the activity issues, in that project


def test_plans_forms_refuse_answers_outside_their_values_and_wait_through_restarts(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity = initiated(sandbox)
    run = run_of("plan", opportunity)
    form = paused_at(run, "plan-allocation")
    (pse,) = form["properties"]["hours_per_day"]["default"]
    for bad in (
        {"start": "2027-01-04", "hours_per_day": {pse: 0}},  # more than none
        {"start": "2027-01-04", "hours_per_day": {pse: 25}},  # at most a day
        {"start": "2027-01-04", "hours_per_day": {"nobody@northwind.example": 8}},  # not staffed
        {"start": "next week", "hours_per_day": {pse: 8}},  # a date the form's model takes
        {"start": "2027-13-01", "hours_per_day": {pse: 8}},
    ):
        with pytest.raises(RuntimeError, match="Cannot resume"):
            resume_flow_run(run.id, run_input=bad)
        assert state_of(run).state_details.pause_key == "plan-allocation"
    resume(run, form)

    kickoff = paused_at(run, "kickoff-held")
    for bad_kickoff in (
        {"held_on": "yesterday"},
        {"held_on": "2027-01-05", "weekly_meeting": "Tuesdays at ten"},
        {"held_on": "2027-01-05", "actions": "one string, not a list"},
    ):
        with pytest.raises(RuntimeError, match="Cannot resume"):
            resume_flow_run(run.id, run_input=bad_kickoff)
    # the wait survives a restart of both (the runner must have seen the run's process exit)
    runner = served.runner
    assert runner is not None
    wait_until(
        lambda: runner.tail(100_000).count(f"Execution of flow run '{run.id}' is paused") >= 2,
        60,
        "the runner to see the run suspended at the kickoff",
    )
    time.sleep(2)  # its process winding down (as test_pre_initiate's restart)
    served.restart_server()
    served.restart_runner()
    assert state_of(run).state_details.pause_key == "kickoff-held"
    resume(run, kickoff)
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message
