"""A crash of the process in the middle of a phase: the runner killed (its whole process group, the
flow run's process with it) at a random point of the phase, before or right after one of its
outside writes, restarted, the crashed run retried the ops way; the same outcome, every object
exactly once (testkit/crashes.py). And a phase started twice at once, as a duplicate event does.

The points are drawn from each phase's clean reference run with a fixed seed, so a run of the
suite is repeatable; `benchmarks.crash` kills every phase at as many points as asked.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from blocks import PsflowSettings
from psflow.local import events_to
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from testkit.crashes import crash, random_point, storage, twice_at_once
from testkit.faults import Reference, configured, reference_run
from testkit.stack import PrefectStack, blocks_for

pytestmark = pytest.mark.e2e

# Close, with the most writes (each case waits out the killed run's concurrency lease, about a
# minute): `benchmarks.crash` kills every phase, and test_production loses a worker mid-Initiate.
KILLED = ("close-out",)


@pytest.fixture(scope="module")
def sandbox_server(own_sandbox: SandboxServer) -> SandboxServer:
    return own_sandbox


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, sandbox_server: SandboxServer
) -> Iterator[PrefectStack]:
    """A Prefect server and runner of these tests' own: a killed run leaves leases behind (the
    watcher deployment's concurrency slot, held until it expires, cancels every new poll), and they
    must not reach the other tests. Its deployments have no triggers: each case starts its phase."""
    stack = PrefectStack(tmp_path_factory.mktemp("prefect-crash"), by_hand=True)
    try:
        with (
            events_to(stack.api_url),
            temporary_settings(updates={PREFECT_API_URL: stack.api_url}),
            blocks_for(sandbox_server.url),
        ):
            settings = PsflowSettings.load("psflow")
            settings.status_review = False  # the week's report goes out as gathered
            settings.save("psflow", overwrite=True)
            stack.serve()
            yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def world(served: PrefectStack, sandbox_server: SandboxServer) -> Iterator[SandboxClient]:
    """The phases run in this process remembering where the runner does (`prepared` restores
    both)."""
    sandbox = SandboxClient(sandbox_server.url)
    with configured(sandbox_server.url, memory=storage(served)):
        yield sandbox
    sandbox.close()


_REFERENCES: dict[str, Reference] = {}


def reference(sandbox: SandboxClient, phase: str) -> Reference:
    if phase not in _REFERENCES:
        _REFERENCES[phase] = reference_run(sandbox, phase)
    return _REFERENCES[phase]


@pytest.mark.parametrize("phase", KILLED)
def test_a_runner_killed_at_a_random_point_of_a_phase_then_retried_ends_with_every_object_once(
    served: PrefectStack, world: SandboxClient, phase: str
) -> None:
    clean = reference(world, phase)
    case = crash(served, world, clean, random_point(clean, seed=phase))
    assert not case.problems, case.name


@pytest.mark.parametrize("phase", ["close-out"])  # Initiate's: test_concurrent_runs
def test_a_phase_started_twice_at_once_runs_one_at_a_time_with_one_set_of_objects(
    served: PrefectStack, world: SandboxClient, phase: str
) -> None:
    case = twice_at_once(world, reference(world, phase))
    assert not case.problems, case.name
