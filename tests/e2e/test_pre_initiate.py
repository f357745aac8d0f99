"""Pre-Initiate on a real Prefect server, served as in the demo: a stage change in Salesforce, the
watcher's event, the run waiting for the coordinator, the decision, and what ends up outside."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from datetime import date, timedelta
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.events import emit_event
from prefect.flow_runs import resume_flow_run
from prefect.states import Cancelled

from core.events import OPPORTUNITY_NEGOTIATING, event_kwargs
from engagement.lifecycle import NotReady
from flows.pre_initiate import pre_initiate
from flows.watch_opportunities import WATERMARK, poll, watch_opportunities
from psflow.operate import staffing_form
from sandbox.client import SandboxClient
from testkit.expect import written
from testkit.factories import new_opportunity
from testkit.phases import COORDINATOR, answer, choices, waiting_for_staffing
from testkit.runs import events, flow_runs, run_of, state_of, wait_for_state, wait_until
from testkit.stack import PrefectStack

pytestmark = pytest.mark.e2e


def pause_key(run: FlowRun) -> str | None:
    state = state_of(run)
    return (
        state.state_details.pause_key
        if state is not None and state.type == StateType.PAUSED
        else None
    )


def test_negotiating_to_an_approved_staffing_plan_and_a_rerun_writes_nothing(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity = new_opportunity(sandbox)
    start = sandbox.last_request_id()
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="5-Negotiating")

    run = run_of("pre-initiate", opportunity)
    assert run.parameters["opportunity_id"] == opportunity
    assert run.parameters["customer"] == "Acme Corporation"
    paused = wait_for_state(run, StateType.PAUSED, timeout=90)
    assert paused.name == "Suspended"

    # a bad decision is refused by the server and the run keeps waiting
    for bad in (
        {"approve": True, "pses": ["nobody@northwind.example"], "approver": COORDINATOR},
        {"approve": True, "pses": [], "approver": COORDINATOR},
        {"approve": "maybe", "pses": ["aisha.bello@northwind.example"], "approver": COORDINATOR},
        {"approve": True, "pses": ["grace.kim@northwind.example"], "approver": "not an e-mail"},
        # a date the server would pass on to the run, which could not read it
        {"pses": ["grace.kim@northwind.example"], "approver": COORDINATOR, "start": "next week"},
        # only a PS Project Coordinator may approve: an engagement manager may not
        {
            "approve": True,
            "pses": ["grace.kim@northwind.example"],
            "approver": "marcus.webb@northwind.example",
        },
    ):
        with pytest.raises(RuntimeError, match="Cannot resume"):
            resume_flow_run(run.id, run_input=bad)
        assert state_of(run).type == StateType.PAUSED

    offered = choices(staffing_form(run.id))  # the form the UI shows
    answer(run, pses=offered[:1], comment="good fit", chosen_by="hiro.tanaka@northwind.example")
    done = wait_for_state(run, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, timeout=90)
    assert done.type == StateType.COMPLETED, done.message

    # one write per object, nothing twice (Acme's customer folder already existed)
    assert written(sandbox, start) == {
        "drive": 3,  # the SOW folder, the cost estimate copy, the EM's permission
        "sheets": 1,  # the prefill, one batchUpdate
        "salesforce": 1,  # the estimate's link and the TA flag, one update
        "gitlab": 1,  # the TA review issue
        "slack": 2,  # the proposal, the decision
        "mavenlink": 3,  # the Prospect project, the PSE as a resource, the soft allocation
    }
    drive = sandbox.state("google", "file")
    sheets = [
        f
        for f in drive
        if f["appProperties"].get("psflow_key", "").startswith(f"cost-estimate:{opportunity}")
    ]
    assert len(sheets) == 1
    messages = _messages(sandbox, opportunity)
    assert sorted(messages) == ["staffing-decision", "staffing-proposal"]
    allocations = [a for a in sandbox.state("mavenlink", "workspace_allocations") if not a["hard"]]
    assert len([a for a in allocations if a.get("workspace_id")]) >= 1
    reviews = [i for i in sandbox.state("gitlab", "issue") if opportunity in i["description"]]
    assert len(reviews) == 1  # 75,000 USD is over $50k
    (completed,) = wait_until(  # the server stores events in batches
        lambda: events("ps.phase.completed", opportunity), 30, "the phase's completion event"
    )
    assert completed["related"][0]["prefect.resource.id"] == "ps.phase.pre-initiate"

    # a second run finds the recorded decision: it does not wait, and writes nothing
    before = sandbox.last_request_id()
    again = run_deployment(
        "pre-initiate/pre-initiate", parameters={"opportunity_id": opportunity}, timeout=120
    )
    assert again.state is not None
    assert again.state.type == StateType.COMPLETED, again.state.message
    assert written(sandbox, before) == {}


def test_repeated_overlapping_and_simultaneous_polls_start_the_phase_once(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity = new_opportunity(sandbox, amount=20_000)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="5-Negotiating")
    run = run_of("pre-initiate", opportunity)

    # two more watchers at once, each looking back an hour over the same change ...
    contexts = [copy_context() for _ in range(2)]  # each thread keeps this test's Prefect settings
    with ThreadPoolExecutor(2) as pool:
        emitted = list(
            pool.map(lambda ctx: ctx.run(watch_opportunities, overlap_seconds=3600), contexts)
        )
    assert all(count >= 1 for count in emitted)
    # ... and one more scheduled-style poll through the deployment
    poll = run_deployment(
        "watch-opportunities/watch-opportunities", parameters={"overlap_seconds": 3600}, timeout=120
    )
    assert poll.state is not None
    assert poll.state.type in (StateType.COMPLETED, StateType.CANCELLED)

    wait_for_state(run, StateType.PAUSED, timeout=90)
    time.sleep(3)  # give the trigger service time to (not) act on the repeats
    assert len([r for r in flow_runs(opportunity) if r.name.startswith("pre-initiate")]) == 1
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run.id, state=Cancelled(message="test over"), force=True)
    assert len(events("ps.opportunity.negotiating", opportunity)) == 1  # one id, stored once


def test_a_poll_that_finds_nothing_new_leaves_the_watermark_unwritten(served: PrefectStack) -> None:
    # a write per poll would collide with the runs' on SQLite and stall the next poll
    poll(lambda since: [])  # stored, if no poll had stored it yet
    with get_client(sync_client=True) as client:
        stored = client.read_variable_by_name(WATERMARK)
        assert stored is not None
        poll(lambda since: [])
        again = client.read_variable_by_name(WATERMARK)
    assert again is not None
    assert (again.value, again.updated) == (stored.value, stored.updated)


def _messages(sandbox: SandboxClient, opportunity: str) -> list[str]:
    kinds = []
    for message in sandbox.state("slack", "messages"):
        key = ((message.get("metadata") or {}).get("event_payload") or {}).get("psflow_key", "")
        if opportunity in key:
            kinds.append(key.split(":", 1)[0])
    return kinds


def test_an_opportunity_not_ready_fails_with_every_reason_and_writes_nothing(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity = new_opportunity(sandbox)  # still in 4-Proposal
    sandbox.edit("salesforce", f"/sobjects/Opportunity/{opportunity}", SOW_Number__c=None)
    start = sandbox.last_request_id()
    with pytest.raises(NotReady) as err:
        pre_initiate(opportunity_id=opportunity)
    assert "StageName is '4-Proposal'" in str(err.value)
    assert "SOW_Number__c is empty" in str(err.value)
    assert written(sandbox, start) == {}

    with pytest.raises(ValueError, match=r"opportunity_id: .*Opportunity"):
        pre_initiate(opportunity_id="006'); DROP TABLE --")
    assert written(sandbox, start) == {}


def test_a_rejection_is_posted_and_a_new_proposal_without_them_waits_for_the_coordinator(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity, run = waiting_for_staffing(sandbox)
    first = staffing_form(run.id)["properties"]["pses"]["default"]
    start = sandbox.last_request_id()
    answer(run, approve=False, comment="Bruno knows this customer better")

    # the run proposes again without the rejected PSE, and waits for the coordinator again
    wait_until(lambda: pause_key(run) == "staffing-decision-2", 90, "the second proposal")
    second = staffing_form(run.id)
    assert not set(first) & set(choices(second))
    assert written(sandbox, start) == {"slack": 2}  # the rejection, the new proposal; no booking
    kinds = _messages(sandbox, opportunity)
    assert sorted(kinds) == ["staffing-decision", "staffing-proposal", "staffing-proposal"]

    answer(run)  # the new proposal approved as it stands
    done = wait_for_state(run, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, timeout=90)
    assert done.type == StateType.COMPLETED, done.message
    assert second["properties"]["pses"]["default"][0] in done.message
    assert first[0] not in done.message


def test_the_wait_for_approval_survives_a_restart_of_the_server_and_the_runner(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity, run = waiting_for_staffing(sandbox)

    # the runner must have seen the suspended run's process exit: a runner stopped while that
    # process is still winding down cancels the run (a Prefect runner behaviour, noted for ops)
    assert served.runner is not None
    runner = served.runner
    wait_until(
        lambda: f"Execution of flow run '{run.id}' is paused" in runner.tail(400),
        60,
        "the runner to see the run suspended",
    )
    time.sleep(2)
    served.restart_server()
    served.restart_runner()
    assert state_of(run).type == StateType.PAUSED

    answer(run)
    done = wait_for_state(run, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, timeout=90)
    assert done.type == StateType.COMPLETED, done.message
    assert sorted(_messages(sandbox, opportunity)) == ["staffing-decision", "staffing-proposal"]


def test_a_duplicate_event_while_the_form_waits_ends_naming_the_run_that_asks(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity, run = waiting_for_staffing(sandbox)

    # the same move once more, a distinct event (a replayed webhook, a watcher restarted)
    name = "duplicate"
    emit_event(**event_kwargs(OPPORTUNITY_NEGOTIATING, opportunity, key=name, customer=name))
    duplicate = run_of("pre-initiate", f"pre-initiate · {name} · {opportunity}")
    ended = wait_for_state(duplicate, StateType.COMPLETED, StateType.FAILED, timeout=120)
    assert ended.type == StateType.COMPLETED, ended.message
    assert ended.message == f"a duplicate: {run.name} is under way and asks for this answer"
    assert pause_key(run) == "staffing-decision"  # the one form to answer

    answer(run)
    done = wait_for_state(run, StateType.COMPLETED, StateType.FAILED, timeout=90)
    assert done.type == StateType.COMPLETED, done.message
    assert sorted(_messages(sandbox, opportunity)) == ["staffing-decision", "staffing-proposal"]


def test_an_approval_given_after_the_dates_moved_books_the_new_dates_and_says_so(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity, run = waiting_for_staffing(sandbox)

    # the customer pushes the start by two weeks while the coordinator's form waits
    (row,) = [o for o in sandbox.state("salesforce", "Opportunity") if o["Id"] == opportunity]
    start = date.fromisoformat(row["PS_Expected_Start__c"]) + timedelta(days=14)
    end = date.fromisoformat(row["PS_Expected_Completion__c"]) + timedelta(days=14)
    sandbox.edit(
        "salesforce",
        f"/sobjects/Opportunity/{opportunity}",
        PS_Expected_Start__c=start.isoformat(),
        PS_Expected_Completion__c=end.isoformat(),
    )
    answer(run)  # the form as shown: the window the coordinator saw, as proposed
    done = wait_for_state(run, StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, timeout=90)
    assert done.type == StateType.COMPLETED, done.message

    refs = {
        str(r["subject_id"])
        for r in sandbox.state("mavenlink", "external_references")
        if r["service_model"] == "staffing-booking" and opportunity in r["service_model_ref"]
    }
    (booking,) = [
        a for a in sandbox.state("mavenlink", "workspace_allocations") if str(a["id"]) in refs
    ]
    assert (booking["start_date"], booking["end_date"]) == (start.isoformat(), end.isoformat())
    (decision,) = [
        m["text"]
        for m in sandbox.state("slack", "messages")
        if _key(m).startswith(f"staffing-decision:{opportunity}")
    ]
    assert f"dates moved since the proposal: now {start} to {end}" in decision


def _key(message: dict[str, Any]) -> str:
    return str(((message.get("metadata") or {}).get("event_payload") or {}).get("psflow_key", ""))
