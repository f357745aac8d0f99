"""A crash of the process in the middle of Initiate: the runner killed (its whole process group, the
flow run's process with it) between two steps or right after an outside write committed, restarted,
the crashed run retried the ops way; the same outcome, every object exactly once.

"Right after a write" is held open by the sandbox: an `after_commit` + `delay` fault applies the
write and keeps its answer back, and the runner is killed while it waits. "Between steps" holds the
read that starts the next step (the Mavenlink workspace lookup, after every GitLab write answered).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Failed

from psflow.local import descendants, events_to
from psflow.operate import retry
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from testkit.faults import Reference, census, configured, prepare, reference_run
from testkit.runs import state_of, wait_for_state, wait_until
from testkit.stack import PrefectStack, blocks_for

pytestmark = pytest.mark.e2e

HOLD_SECONDS = 60.0  # far longer than the test waits before it kills the runner


@dataclass(frozen=True)
class Point:
    """Where to kill: the request held open, and what must already be in the sandbox."""

    method: str
    path: str  # regular expression, as a sandbox fault's
    after_commit: bool
    committed: tuple[str, str] | None = None  # (system, kind) that gains an object first


POINTS = {
    "between GitLab and Mavenlink": Point("GET", r"/mavenlink/api/v1/workspaces\.json", False),
    "after the GitLab project is created": Point(
        "POST", r"/gitlab/api/v4/projects", True, ("gitlab", "project")
    ),
    "after the initiation e-mail is sent": Point(
        "POST", r"/google/gmail/v1/users/[^/]+/drafts/send", True, ("google", "message")
    ),
}


@pytest.fixture(scope="module")
def sandbox_server(own_sandbox: SandboxServer) -> SandboxServer:
    return own_sandbox


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, sandbox_server: SandboxServer
) -> Iterator[PrefectStack]:
    """A Prefect server and runner of these tests' own: a killed run leaves leases behind (the
    watcher deployment's concurrency slot, held until it expires, cancels every new poll), and they
    must not reach the other tests."""
    stack = PrefectStack(tmp_path_factory.mktemp("prefect-crash"))
    try:
        with (
            events_to(stack.api_url),
            temporary_settings(updates={PREFECT_API_URL: stack.api_url}),
            blocks_for(sandbox_server.url),
        ):
            stack.serve()
            yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def reference(served: PrefectStack, sandbox_server: SandboxServer) -> Iterator[Reference]:
    """What a clean Initiate leaves, run in this process with the same preparation."""
    client = SandboxClient(sandbox_server.url)
    with configured(sandbox_server.url):
        yield reference_run(client, "initiate")
    client.close()


@pytest.mark.parametrize("where", list(POINTS))
def test_a_runner_killed_inside_initiate_then_retried_ends_with_every_object_once(
    served: PrefectStack,
    sandbox_server: SandboxServer,
    sandbox: SandboxClient,
    reference: Reference,
    where: str,
) -> None:
    point = POINTS[where]
    with configured(sandbox_server.url):  # Pre-Initiate done here, as the reference's was
        opportunity = prepare(sandbox, "initiate")
    before = len(sandbox.state(*point.committed)) if point.committed is not None else 0
    sandbox.add_fault(
        point.path,
        method=point.method,
        kind="delay",
        delay=HOLD_SECONDS,
        after_commit=point.after_commit,
    )
    run = cast(
        FlowRun,  # a sync call: never the coroutine
        run_deployment("initiate/initiate", parameters={"opportunity_id": opportunity}, timeout=0),
    )
    wait_until(lambda: not _active_faults(sandbox), 120, f"Initiate to reach {where}")
    if point.committed is not None:
        committed = point.committed
        wait_until(lambda: len(sandbox.state(*committed)) > before, 10, f"the write {where}")
    assert state_of(run).type == StateType.RUNNING

    _kill_runner(served)
    served.restart_runner()
    # The process is gone and the run still says Running. Ops mark it Failed (Crashed would start
    # psflow's rescue automation, which reschedules it by itself and would race this retry), then
    # `psflow retry` it, as README's operating section says.
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run.id, Failed(message="runner killed"), force=True)
    assert retry(opportunity, phase="initiate").run.id == run.id

    done = wait_for_state(run, StateType.COMPLETED, StateType.FAILED, timeout=180)
    assert done.type == StateType.COMPLETED, done.message
    sandbox.clear_faults()
    assert census(sandbox) == reference.census  # the ops channel's alert about it aside


def _active_faults(sandbox: SandboxClient) -> list[object]:
    return list(httpx.get(f"{sandbox.url}/_sandbox/faults", timeout=10).json())


def _kill_runner(stack: PrefectStack) -> None:
    """SIGKILL the runner's process group; then anything it started that left the group."""
    assert stack.runner is not None
    leader = stack.runner.process
    family = descendants(leader.pid)
    assert family, "the runner has no flow run process to kill"
    with suppress(ProcessLookupError):
        os.killpg(leader.pid, signal.SIGKILL)
    leader.wait(10)
    for pid in family:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not any(_alive(pid) for pid in family), 10, "the runner's processes to die")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
