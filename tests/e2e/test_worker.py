"""The production path of README's "Deploying": a `process` work pool, `prefect deploy --all` of the
committed prefect.yaml, and `prefect worker start`; then an engagement's event runs Pre-Initiate on
that worker, through the coordinator's approval to Completed.

It has a Prefect server of its own: `prefect deploy` would update the session server's served
deployments of the same names, and its runner and this worker would then both take their runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.events import emit_event
from prefect.flow_runs import resume_flow_run
from prefect.settings import PREFECT_API_URL, temporary_settings

from core.events import OPPORTUNITY_NEGOTIATING, event_kwargs
from deployments.definitions import DEPLOYMENTS, WORK_POOL
from psflow.local import (
    Child,
    deploy_all,
    events_to,
    launch_prefect,
    launch_worker,
    running,
    wait_prefect,
)
from psflow.operate import staffing_form
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from tasks.salesforce import find_stage_changes
from testkit.phases import COORDINATOR, choices
from testkit.runs import flow_runs, wait_for_state, wait_until
from testkit.stack import blocks_for

pytestmark = pytest.mark.e2e

FINAL = (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED)


@dataclass
class Production:
    api_url: str
    worker: Child
    deploy_output: str


@pytest.fixture(scope="module")
def sandbox_server(own_sandbox: SandboxServer) -> SandboxServer:
    return own_sandbox


@pytest.fixture(scope="module")
def production(
    tmp_path_factory: pytest.TempPathFactory, sandbox_server: SandboxServer
) -> Iterator[Production]:
    """A Prefect server with psflow deployed as README says and one process worker polling it."""
    home = tmp_path_factory.mktemp("prefect-worker")
    server, api_url = launch_prefect(home, ui=False)
    with running(server):
        wait_prefect(server, api_url)
        with (
            events_to(api_url),
            temporary_settings(updates={PREFECT_API_URL: api_url}),
            blocks_for(sandbox_server.url),
        ):
            output = deploy_all(home, api_url, WORK_POOL)
            with running(launch_worker(home, api_url, WORK_POOL)) as worker:
                yield Production(api_url, worker, output)


def test_an_event_runs_pre_initiate_on_the_worker_through_the_approval(
    production: Production, sandbox: SandboxClient
) -> None:
    with get_client(sync_client=True) as client:
        deployed = {d.name: d for d in client.read_deployments()}
    assert sorted(deployed) == sorted(d.name for d in DEPLOYMENTS), production.deploy_output
    assert {d.work_pool_name for d in deployed.values()} == {WORK_POOL}

    # the account executive moves a fresh opportunity to Negotiating ...
    created = sandbox.act("salesforce", "/opportunities/bulk", count=1, details=True)
    opportunity = str(created["ids"][0])
    since = datetime.now(UTC) - timedelta(minutes=1)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="5-Negotiating")

    # ... and the event goes out as the watcher sends it (its schedule is 2 min in prefect.yaml)
    (change,) = [
        c
        for c in find_stage_changes.fn(since)
        if c.opportunity_id == opportunity and c.old_stage is not None  # the move, not the birth
    ]
    assert change.new_stage == "5-Negotiating"
    emit_event(
        **event_kwargs(
            OPPORTUNITY_NEGOTIATING,
            change.opportunity_id,
            key=change.id,
            name=change.opportunity_name,
            customer=change.customer,
            payload={"from_stage": change.old_stage, "to_stage": change.new_stage},
        )
    )

    run = wait_until(
        lambda: next(
            (r for r in flow_runs(opportunity) if r.name.startswith("pre-initiate")), None
        ),
        timeout=120,
        what=f"a pre-initiate run for {opportunity}",
        log=production.worker.tail,
    )
    assert run.deployment_id == deployed["pre-initiate"].id
    assert run.parameters == {"opportunity_id": opportunity, "customer": change.customer}

    paused = wait_for_state(run, StateType.PAUSED, *FINAL, log=production.worker.tail)
    assert paused.name == "Suspended", paused.message
    assert _submissions(production.worker, run) == 1

    offered = choices(staffing_form(run.id))  # the form the UI shows the coordinator
    resume_flow_run(
        run.id, run_input={"approve": True, "pses": offered[:1], "approver": COORDINATOR}
    )
    done = wait_for_state(run, *FINAL, log=production.worker.tail)
    assert done.type == StateType.COMPLETED, done.message
    assert done.message == f"Staffed: {offered[0]}; owner {offered[0]}"
    with get_client(sync_client=True) as client:
        finished = client.read_flow_run(run.id)
    assert finished.work_pool_name == WORK_POOL
    # the worker started it again after the approval (a suspended run's process exits)
    assert _submissions(production.worker, run) == 2
    assert _warm_starts(production.worker) == 2  # `psflow worker`: each forked warm

    # what the run did outside: the proposal and the decision, each posted once
    keys = [
        ((m.get("metadata") or {}).get("event_payload") or {}).get("psflow_key", "")
        for m in sandbox.state("slack", "messages")
    ]
    mine = sorted(k.split(":", 1)[0] for k in keys if opportunity in k)
    assert mine == ["staffing-decision", "staffing-proposal"]


def _warm_starts(worker: Child) -> int:
    """How many flow-run processes the worker's zygote forked (psflow/warm.py says so in each)."""
    return Path(worker.log).read_text(errors="replace").count("forked warm by")


def _submissions(worker: Child, run: FlowRun) -> int:
    """How many times the worker started a process for the run (its log names each one)."""
    log = Path(worker.log).read_text(errors="replace")
    return log.count(f"submitting flow run '{run.id}'")
