"""A real Prefect server for the whole session (it takes ~15 s to start) and psflow's deployments
served against it and the session's sandbox, as the demo runs them (testkit/stack.py); a browser."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from blocks import save_sandbox_blocks
from psflow.production import database
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from testkit.browser import WAIT_MS, Screen, chromium
from testkit.faults import BATCHED_KINDS, MATRIX, Reference, configured, reference_run
from testkit.runs import busy_since, wait_until
from testkit.stack import PrefectStack


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """The e2e tests' own sandbox: the served watcher polls it all session long, and must not
    show up in the request logs the integration tests count."""
    with SandboxServer(tmp_path_factory.mktemp("e2e-sandbox")) as server:
        yield server


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """A sandbox for a module that runs a Prefect stack of its own: the session's served watcher
    polls the session's sandbox, and would start runs of its own for that module's opportunities
    (modules use it as `sandbox_server`)."""
    with SandboxServer(tmp_path_factory.mktemp("own-sandbox")) as server:
        yield server


@pytest.fixture(scope="session")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prefect")


@pytest.fixture(scope="session")
def prefect_stack(prefect_home: Path) -> Iterator[PrefectStack]:
    """On PostgreSQL, as in production: on SQLite, writes that collide under the suite's load are
    refused as "database is locked"; Prefect's client retries them for a minute, the UI does not."""
    with database() as url:
        stack = PrefectStack(prefect_home, url)
        try:
            with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
                yield stack
        finally:
            stack.stop()


@pytest.fixture(scope="session")
def prefect_api(prefect_stack: PrefectStack) -> str:
    """The API URL of a running Prefect server; this process's Prefect settings point at it."""
    return prefect_stack.api_url


@pytest.fixture(scope="session")
def served(prefect_stack: PrefectStack, sandbox_server: SandboxServer) -> PrefectStack:
    """Every deployment served (`python -m psflow.serve`), the watcher polling every 3 s,
    with Blocks pointing at the session's sandbox."""
    save_sandbox_blocks(sandbox_server.url)
    if prefect_stack.runner is None:
        prefect_stack.serve()
    return prefect_stack


@pytest.fixture(scope="module")
def world(prefect_api: str, sandbox_server: SandboxServer) -> Iterator[SandboxClient]:
    """The e2e sandbox, with the phases' tasks pointed at it (short client timeouts): phases run in
    this process (`testkit.phases.run_phase`), prepared by `testkit.faults.prepare`."""
    client = SandboxClient(sandbox_server.url)
    with configured(sandbox_server.url):
        yield client
    client.reset()
    client.close()


@pytest.fixture(autouse=True)
def runs_settled(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that moved an opportunity started runs through the served watcher, wanted or not (a
    stage set only to test a refusal starts that stage's phase); they end before the next test
    resets the sandbox, or their late writes would land in its counts."""
    if "served" not in request.fixturenames:
        yield
        return
    started = datetime.now(UTC)
    yield
    with contextlib.suppress(AssertionError):  # a run stuck by the test's own doing: not ours
        wait_until(lambda: not busy_since(started), 90, "the test's runs to settle")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def screen(browser: Any, request: pytest.FixtureRequest) -> Iterator[Screen]:
    """A fresh page of the browser; its screenshots under .data/screenshots/<test>/."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    try:
        yield Screen(context.new_page(), request.node.name)
    finally:
        context.close()


# --- the fault matrix, in the modules `MATRIX` names (three test processes share it) ---------------


def _matrix_phases(module: Any) -> tuple[str, ...]:
    return MATRIX.get(module.__name__.rsplit(".", 1)[-1], ())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A fault-matrix module's test taking `phase` and `kind` runs for each of its phases and
    each batched kind of fault."""
    phases = _matrix_phases(metafunc.module)
    if phases and {"phase", "kind"} <= set(metafunc.fixturenames):
        metafunc.parametrize("phase", phases)
        metafunc.parametrize("kind", BATCHED_KINDS)


@pytest.fixture(scope="module", autouse=True)
def no_triggers_in_the_matrix(request: pytest.FixtureRequest) -> Iterator[None]:
    """The matrix runs its phases in this process, and their events reach the server: a served
    deployment they trigger (Validate's completion starts Close, a sign-off Close again) would
    write into the cases' counts and meet their faults. While a matrix module runs, the served
    deployments' triggers are paused; nothing is queued for later."""
    if not _matrix_phases(request.module):
        yield
        return
    request.getfixturevalue("prefect_api")
    with get_client(sync_client=True) as client:
        paused = [a.id for a in client.read_automations() if a.enabled]
        for automation in paused:
            client.pause_automation(automation)
    try:
        yield
    finally:
        with get_client(sync_client=True) as client:
            for automation in paused:
                client.resume_automation(automation)


@pytest.fixture(scope="module")
def references(world: SandboxClient, request: pytest.FixtureRequest) -> dict[str, Reference]:
    """A clean run of each of the module's phases: its write routes and what it leaves."""
    return {phase: reference_run(world, phase) for phase in _matrix_phases(request.module)}
