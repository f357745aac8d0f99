"""Production's topology (psflow/production.py, ops/production.env): Prefect on PostgreSQL and
Redis, two API servers without services and one services process, psflow deployed with `prefect
deploy --all` and two process workers. The test process talks to server A (its events, the
approvals); the deployments, the automations and both workers go through server B.

Isolated on the shared PostgreSQL and Redis: a database and a Redis database number of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.events import emit_event
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

from core.events import OPPORTUNITY_CLOSED_WON, OPPORTUNITY_NEGOTIATING, event_kwargs
from deployments.automations import LOST_MESSAGE, RESCUE_MESSAGE
from deployments.definitions import WORK_POOL
from psflow.cli import main
from psflow.local import events_to
from psflow.operate import APPROVAL
from psflow.production import Topology, deploy, topology
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from tasks.salesforce import find_stage_changes
from testkit.browser import Screen
from testkit.expect import EXPECTED, objects_of
from testkit.factories import new_opportunity
from testkit.phases import approve
from testkit.runs import (
    completions,
    run_of,
    state_of,
    wait_for_pause,
    wait_for_state,
    wait_until,
)
from testkit.stack import blocks_for

pytestmark = pytest.mark.e2e

FINAL = (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED)
WATCHER = "watch-opportunities"
# A Mavenlink task create in the middle of Initiate (after Salesforce, GitLab and the workspace)
MID_PHASE = r"/mavenlink/api/v1/stories(\.json)?"


@pytest.fixture(scope="module")
def sandbox_server(own_sandbox: SandboxServer) -> SandboxServer:
    return own_sandbox


@pytest.fixture(scope="module")
def production(
    tmp_path_factory: pytest.TempPathFactory, sandbox_server: SandboxServer
) -> Iterator[Topology]:
    with topology(tmp_path_factory.mktemp("production")) as stack:
        server_a, server_b = stack.api_urls
        with (
            events_to(server_a),
            temporary_settings(
                updates={
                    PREFECT_API_URL: server_a,
                    PREFECT_API_AUTH_STRING: stack.env["PREFECT_API_AUTH_STRING"],
                }
            ),
            blocks_for(sandbox_server.url),
        ):
            deploy(stack, server_b, WORK_POOL)
            # the tests send the watcher's events themselves; its 2-min poll would race them
            with get_client(sync_client=True) as client:
                watcher = client.read_deployment_by_name(f"{WATCHER}/{WATCHER}")
                client.pause_deployment(watcher.id)
            stack.start_workers(2, server_b, WORK_POOL)
            yield stack


def move(sandbox: SandboxClient, opportunity: str, stage: str, event: str) -> None:
    """The account executive moves the opportunity; its event goes out as the watcher sends it,
    to server A."""
    since = datetime.now(UTC) - timedelta(minutes=1)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage=stage)
    changes = [c for c in find_stage_changes.fn(since) if c.opportunity_id == opportunity]
    change = changes[-1]
    assert change.new_stage == stage
    emit_event(
        **event_kwargs(
            event,
            opportunity,
            key=change.id,
            name=change.opportunity_name,
            customer=change.customer,
            payload={"from_stage": change.old_stage, "to_stage": change.new_stage},
        )
    )


def staffed(sandbox: SandboxClient, stack: Topology) -> str:
    """A fresh opportunity through Pre-Initiate on the workers, staffing approved."""
    opportunity = new_opportunity(sandbox, amount=30_000)
    move(sandbox, opportunity, "5-Negotiating", OPPORTUNITY_NEGOTIATING)
    run = run_of("pre-initiate", opportunity, log=lambda: diagnosis(stack, opportunity))
    approve(run)
    done = wait_for_state(run, *FINAL, timeout=90)
    assert done.type == StateType.COMPLETED, f"{done.message}\n{stack.logs()}"
    return opportunity


def closed_won(sandbox: SandboxClient, stack: Topology, opportunity: str) -> FlowRun:
    move(sandbox, opportunity, "Closed Won", OPPORTUNITY_CLOSED_WON)
    return run_of("initiate", opportunity, log=lambda: diagnosis(stack, opportunity))


def diagnosis(stack: Topology, opportunity: str) -> str:
    """For a run that did not come: the opportunity's events as server A stored them, the
    automations it knows, the processes' last lines."""
    with get_client(sync_client=True) as client:
        answer = client.request(
            "POST",
            "/events/filter",
            json={"filter": {"resource": {"id": [f"ps.opportunity.{opportunity}"]}}},
        ).json()
        automations = client.read_automations()
    events = [(e["occurred"], e["event"]) for e in answer["events"]]
    return f"events: {events}\nautomations: {len(automations)}\n{stack.logs()}"


def held(sandbox: SandboxClient) -> bool:
    """The mid-phase fault has caught its request (a fault leaves the list when taken)."""
    return not httpx.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json()


def states(run: FlowRun) -> list[tuple[str, str]]:
    with get_client(sync_client=True) as client:
        history = sorted(client.read_flow_run_states(run.id), key=lambda s: s.timestamp)
    return [(s.name or "", s.message or "") for s in history]


def executed_by(stack: Topology, run: FlowRun) -> list[int]:
    """The workers (by index) that started a process for the run, once per process. Both workers
    take a run they see; the server lets one have it and the other logs an aborted submission."""
    started = []
    for n, worker in enumerate(stack.workers):
        log = Path(worker.log).read_text(errors="replace")
        submitted = log.count(f"submitting flow run '{run.id}'")
        started += [n] * (submitted - log.count(f"Aborted submission of flow run '{run.id}'"))
    return started


def test_the_api_and_the_ui_refuse_anyone_without_the_credential(
    production: Topology, capsys: pytest.CaptureFixture[str]
) -> None:
    user, _, password = production.env["PREFECT_API_AUTH_STRING"].partition(":")
    for url in production.api_urls:
        version = f"{url}/admin/version"
        assert httpx.get(version, timeout=10).status_code == 401
        assert httpx.get(version, auth=(user, "guess"), timeout=10).status_code == 401
        assert httpx.get(version, auth=(user, password), timeout=10).status_code == 200
        # a change needs a CSRF token besides the credential (a page elsewhere cannot forge one)
        change = httpx.post(f"{url}/work_pools/", json={"name": "x"}, auth=(user, password))
        assert change.status_code == 403
        assert "CSRF" in change.text
    # psflow's own commands, as an operator runs them with the credential in their environment
    assert main(["status", "006Dn0000000002IAA"]) == 0
    assert capsys.readouterr().out.startswith("No phase runs for opportunity 006Dn0000000002IAA")


def test_events_sent_to_one_server_run_the_chain_through_the_other(
    production: Topology, sandbox: SandboxClient
) -> None:
    opportunity = staffed(sandbox, production)  # negotiating -> pre-initiate, approved via A
    run = closed_won(sandbox, production, opportunity)
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, f"{done.message}\n{production.logs()}"
    assert objects_of(sandbox, opportunity) == EXPECTED
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(run.id).work_pool_name == WORK_POOL
    assert executed_by(production, run), production.logs()


def test_an_api_server_restarted_during_a_phase_loses_nothing(
    production: Topology, sandbox: SandboxClient
) -> None:
    opportunity = staffed(sandbox, production)
    # hold the phase in its middle long enough to catch it there
    sandbox.add_fault(MID_PHASE, method="POST", kind="delay", delay=3)
    run = closed_won(sandbox, production, opportunity)
    wait_until(lambda: held(sandbox), 60, "Initiate to reach Mavenlink", log=production.logs)
    production.restart_server(1)  # server B: the workers' and their runs' server
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, f"{done.message}\n{production.logs()}"
    assert objects_of(sandbox, opportunity) == EXPECTED
    assert len(executed_by(production, run)) == 1  # the run went on: no crash, no second process
    # its completion event went out after the restart, and reached the other server
    assert wait_until(lambda: completions(opportunity), 30, "the phase's completion event")


def test_a_worker_lost_mid_initiate_its_phase_completes_on_the_other_worker(
    production: Topology, sandbox: SandboxClient
) -> None:
    opportunity = staffed(sandbox, production)
    # the Mavenlink task is created, but its answer never reaches the worker: it dies first
    sandbox.add_fault(MID_PHASE, method="POST", kind="delay", delay=30, after_commit=True)
    run = closed_won(sandbox, production, opportunity)
    wait_until(lambda: held(sandbox), 60, "Initiate to reach Mavenlink", log=production.logs)
    (lost,) = executed_by(production, run)
    production.kill_worker(lost)

    # nobody reports the run: the lost-run automation declares it Crashed after its heartbeats
    # stop, the rescue automation puts it back in the pool, the other worker runs it again
    done = wait_until(
        lambda: (s := state_of(run)).is_final() and s.type != StateType.CRASHED and s,
        240,
        "the rescued run",
        log=production.logs,
    )
    assert done.type == StateType.COMPLETED, f"{done.message}\n{production.logs()}"
    history = states(run)
    assert ("Crashed", LOST_MESSAGE) in history, history
    assert ("AwaitingRetry", RESCUE_MESSAGE) in history, history
    assert sorted(executed_by(production, run)) == [0, 1]  # the lost worker, then the other
    assert objects_of(sandbox, opportunity) == EXPECTED
    # the ops alert still reports the crash (the run itself ended well)
    (alert,) = wait_until(lambda: ops_alerts(sandbox, opportunity), 30, "the ops alert")
    assert "Crashed" in alert
    assert LOST_MESSAGE in alert


# The schedules as the Deployments page states them (cron and intervals in words): when each acts
SCHEDULES = {
    "weekly-status": "At 09:00 AM, only on Friday",
    "passive-acceptance": "At 5 minutes past the hour",
    "watch-replies": "Every 2 minutes",
    "watch-activities": "Every 2 minutes",
}


def test_the_schedules_and_a_waiting_form_show_in_the_ui(
    production: Topology, sandbox: SandboxClient, screen: Screen
) -> None:
    page, ui = screen.page, production.ui_urls[0]
    page.goto(ui)
    # the UI asks for the installation's credential first (ops/production.env)
    page.locator("input[type=password]").fill(production.env["PREFECT_API_AUTH_STRING"])
    screen.shoot("the credential asked")
    page.get_by_role("button", name="Login").click()
    page.locator("input[type=password]").wait_for(state="detached")

    # each schedule in words, and its next run: the scheduler has made them
    with get_client(sync_client=True) as client:
        ids = {d: client.read_deployment_by_name(f"{d}/{d}").id for d in SCHEDULES}
    for deployment, schedule in SCHEDULES.items():
        page.goto(f"{ui}/deployments/deployment/{ids[deployment]}")
        page.get_by_text(schedule).first.wait_for()
        page.get_by_text("Next Run").wait_for()
        page.get_by_text("Scheduled for").first.wait_for()
        screen.shoot(deployment)

    # a run waiting for a person: the runs list shows it Suspended, its page what it waits for
    opportunity = new_opportunity(sandbox, amount=30_000)
    move(sandbox, opportunity, "5-Negotiating", OPPORTUNITY_NEGOTIATING)
    run = run_of("pre-initiate", opportunity, log=lambda: diagnosis(production, opportunity))
    wait_for_pause(run, "staffing-decision")
    page.goto(f"{ui}/runs")
    page.get_by_role("link", name=run.name).wait_for()
    page.get_by_text("Suspended").first.wait_for()
    screen.shoot("the runs, one suspended")
    page.goto(f"{ui}/runs/flow-run/{run.id}")
    page.get_by_text(f"Asks for {APPROVAL}: press Resume").scroll_into_view_if_needed()
    screen.shoot("the waiting run says what it waits for")
    page.get_by_role("button", name="Resume").click()
    page.get_by_role("dialog").get_by_text("Staffing proposal:").wait_for()
    screen.shoot("its form")
    approve(run)
    done = wait_for_state(run, *FINAL, timeout=90)
    assert done.type == StateType.COMPLETED, f"{done.message}\n{production.logs()}"


def ops_alerts(sandbox: SandboxClient, opportunity: str) -> list[str]:
    channel = next(c for c in sandbox.state("slack", "channels") if c["name"] == "ps_ops_alerts")
    return [
        m["text"]
        for m in sandbox.state("slack", "messages")
        if m.get("channel") == channel["id"] and opportunity in m["text"]
    ]
