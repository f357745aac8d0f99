"""Runs at once: duplicate events run a phase one at a time (runs carry their opportunity's tag),
an ops retry racing a new trigger, and two engagements of one new customer at once, each ending
with one set of objects."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from functools import partial
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterFlowRunId
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.events import emit_event
from prefect.states import AwaitingRetry

from core.events import OPPORTUNITY_CLOSED_WON, event_kwargs
from sandbox.client import SandboxClient
from sandbox.slack import OPS_WEBHOOK_PATH
from tasks.clients import systems
from testkit.expect import EXPECTED, objects_of
from testkit.faults import OPS_CHANNEL
from testkit.phases import approve, negotiated
from testkit.runs import FINAL, flow_runs, run_of, state_of, wait_for_state, wait_until
from testkit.stack import PrefectStack

pytestmark = pytest.mark.e2e

# The writes of one Initiate of a staffed opportunity under $50k, its floor: each object once.
ONE_INITIATE = {
    "salesforce": 1,
    "gitlab": 6,
    "mavenlink": 6,
    "slack": 4,
    "drive": 4,
    "sheets": 1,
    "gmail": 2,  # the initiation e-mail: its draft, then its sending
    "calendar": 2,
}


def test_two_identical_events_at_once_run_the_phase_one_at_a_time_with_one_set_of_objects(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    (opportunity,) = negotiated(sandbox)
    mark = sandbox.last_request_id()
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
    for attempt in ("first", "second"):  # two more, distinct events: Prefect cannot dedupe them
        event = event_kwargs(OPPORTUNITY_CLOSED_WON, opportunity, key=attempt, customer="Acme")
        emit_event(**event)
    runs = wait_until(
        lambda: (
            (r := [r for r in flow_runs(opportunity) if r.name.startswith("initiate")])
            and len(r) == 3
            and r
        ),
        # not a latency bound: on SQLite a write that collides with another's is answered 503,
        # and Prefect's client waits 2, 4, 8, 16, 32 s before its retries
        180,
        "three initiate runs: the watcher's and two duplicates",
    )
    for run in runs:
        final = wait_for_state(run, *FINAL, timeout=180)
        assert final.type == StateType.COMPLETED, final.message
    assert objects_of(sandbox, opportunity) == EXPECTED
    assert applied(sandbox, mark) == ONE_INITIATE  # the later runs wrote nothing

    with get_client(sync_client=True) as client:
        spans = []  # each run's work inside the opportunity's slot: its first to its last task
        for run in runs:
            assert f"opportunity:{opportunity}" in client.read_flow_run(run.id).tags
            tasks = client.read_task_runs(
                task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[run.id]))
            )
            spans.append(
                (
                    min(t.start_time for t in tasks if t.start_time),
                    max(t.end_time for t in tasks if t.end_time),
                )
            )
    spans.sort()
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start  # each waited for the opportunity's slot


def test_an_ops_retry_racing_a_new_trigger_ends_with_one_set_of_objects(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    (opportunity,) = negotiated(sandbox)
    start = sandbox.last_request_id()
    sandbox.add_fault(r"/mavenlink/api/v1/stories(\.json)?", method="POST", status=403)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
    failed = run_of("initiate", opportunity)
    assert wait_for_state(failed, *FINAL, timeout=120).type == StateType.FAILED
    sandbox.clear_faults()

    # at once: ops press Retry on the failed run, and a new Closed Won event arrives
    event = event_kwargs(OPPORTUNITY_CLOSED_WON, opportunity, key="again", customer="Acme")
    with ThreadPoolExecutor(2) as pool:
        done = [
            pool.submit(copy_context().run, _ops_retry, failed),
            pool.submit(copy_context().run, _trigger, event),
        ]
        for future in done:
            future.result()
    runs = wait_until(
        lambda: (r := _initiate_runs(opportunity)) and len(r) == 2 and r,
        120,
        "the retried run and the new one",
    )
    for run in runs:
        final = wait_until(partial(_finished_again, run), 180, f"{run.name} to finish again")
        assert final.type == StateType.COMPLETED, final.message
    assert failed.id in {run.id for run in runs}
    assert objects_of(sandbox, opportunity) == EXPECTED
    # the refused write is not counted; the failure's ops alert is posted by Prefect's automation
    # whenever it gets to it (other tests' failed runs' alerts too): looked for by its opportunity
    assert applied(sandbox, start) == ONE_INITIATE
    assert wait_until(lambda: _alerts(sandbox, opportunity), 60, "the failed run's ops alert")


def test_two_engagements_of_one_new_customer_at_once_share_its_folder_group_and_channel(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    # a customer nobody has worked for: its Drive folder, GitLab group and channel do not exist
    account = (
        systems()
        .salesforce()
        .Account.create(
            {"Name": "Initech", "PS_Time_Zone__c": "America/New_York", "BillingCountry": "US"}
        )["id"]
    )
    created = sandbox.act("salesforce", "/opportunities/bulk", count=2, details=True)["ids"]
    for opportunity in created:
        sandbox.edit("salesforce", f"/sobjects/Opportunity/{opportunity}", AccountId=account)
    # creates slow enough that both runs look before either has made anything
    for path, method in (
        (r"/google/drive/v3/files", "POST"),
        (r"/gitlab/api/v4/groups", "POST"),
        (r"/slack/api/conversations\.create", "POST"),
    ):
        sandbox.add_fault(path, method=method, kind="delay", delay=2, times=None)

    for opportunity in created:
        sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="5-Negotiating")
    runs = [run_of("pre-initiate", opportunity) for opportunity in created]
    for run in runs:
        approve(run)
    for run in runs:
        assert wait_for_state(run, *FINAL, timeout=120).type == StateType.COMPLETED
    for opportunity in created:
        sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
    for opportunity in created:
        done = wait_for_state(run_of("initiate", opportunity), *FINAL, timeout=180)
        assert done.type == StateType.COMPLETED, done.message

    files = sandbox.state("google", "file")
    (folder,) = [f for f in files if f["appProperties"].get("psflow_key", "").endswith(account)]
    sow_folders = [
        f
        for f in files
        if any(f["appProperties"].get("psflow_key") == f"sow-folder:{o}" for o in created)
    ]
    assert [f["parents"] for f in sow_folders] == [[folder["id"]], [folder["id"]]]
    groups = [g for g in sandbox.state("gitlab", "group") if account in g.get("description", "")]
    assert len(groups) == 1
    assert len([c for c in sandbox.state("slack", "channels") if "initech" in c["name"]]) == 1


def _trigger(event: dict[str, Any]) -> None:
    emit_event(**event)


def _finished_again(run: FlowRun) -> Any:
    """The run's final state, once it is final and not the failure it was retried from."""
    state = state_of(run)
    return state.is_final() and state.type != StateType.FAILED and state


def _ops_retry(run: FlowRun) -> None:
    with get_client(sync_client=True) as client:  # what the UI's Retry button does
        client.set_flow_run_state(run.id, AwaitingRetry(), force=True)


def applied(sandbox: SandboxClient, since: int) -> dict[str, int]:
    """The phases' writes the systems applied (a refused one, 4xx, changed nothing), per service;
    ops alerts are not a phase's."""
    out: dict[str, int] = {}
    for row in sandbox.requests(write=True, since=since):
        if row["status"] < 400 and row["path"] != OPS_WEBHOOK_PATH:
            out[row["service"]] = out.get(row["service"], 0) + 1
    return out


def _alerts(sandbox: SandboxClient, opportunity: str) -> list[str]:
    """The ops channel's alerts about the opportunity's runs."""
    ops = {c["id"] for c in sandbox.state("slack", "channels") if c["name"] == OPS_CHANNEL}
    return [
        m["text"]
        for m in sandbox.state("slack", "messages")
        if m.get("channel") in ops and opportunity in m["text"]
    ]


def _initiate_runs(opportunity: str) -> list[FlowRun]:
    return [r for r in flow_runs(opportunity) if r.name.startswith("initiate")]
