"""A real Prefect server for the whole session (it takes ~15 s to start) and psflow's deployments
served against it and the session's sandbox, as the demo runs them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.client.schemas.objects import FlowRun
from prefect.settings import PREFECT_API_URL, temporary_settings

from blocks import save_sandbox_blocks
from deployments.definitions import DEPLOYMENTS
from psflow.local import (
    Child,
    free_port,
    launch_prefect,
    prefect_env,
    serve_argv,
    start,
    wait_prefect,
)
from sandbox.server import SandboxServer
from tests.e2e.browser import WAIT_MS, Screen, chromium


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """The e2e tests' own sandbox: the served watcher polls it all session long, and must not
    show up in the request logs the integration tests count."""
    with SandboxServer(tmp_path_factory.mktemp("e2e-sandbox")) as server:
        yield server


@contextmanager
def blocks_for(sandbox_url: str) -> Iterator[None]:
    """The sandbox's Blocks saved on the current server, and this process's clients built from
    them until the block exits (a process loads each Block once and keeps it)."""
    from tasks import clients

    save_sandbox_blocks(sandbox_url)
    clients.reset()
    try:
        yield
    finally:
        clients.reset()


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


class PrefectStack:
    """A Prefect server on SQLite and psflow's deployments served against it, each restartable
    (the approval wait must survive both)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.server, self.api_url = launch_prefect(home, port=self.port)  # the UI: browser tests
        wait_prefect(self.server, self.api_url)
        self.runner: Child | None = None

    def serve(self) -> None:
        argv = serve_argv("psflow.serve", "--watch-seconds", "3")
        env = prefect_env(self.home, self.api_url)
        self.runner = start("serve", argv, self.home / "serve.log", env)
        wait_until(_deployments_ready, timeout=60, what="served deployments", log=self.runner.tail)

    def restart_runner(self) -> None:
        if self.runner is not None:
            self.runner.stop()
        self.serve()

    def restart_server(self) -> None:
        self.server.stop()
        self.server, _ = launch_prefect(self.home, port=self.port)
        wait_prefect(self.server, self.api_url)

    def stop(self) -> None:
        for child in (self.runner, self.server):
            if child is not None:
                child.stop()


@pytest.fixture(scope="session")
def prefect_stack(prefect_home: Path) -> Iterator[PrefectStack]:
    stack = PrefectStack(prefect_home)
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


def _deployments_ready() -> bool:
    with get_client(sync_client=True) as client:
        return len(client.read_deployments()) >= len(DEPLOYMENTS)


def wait_until(
    check: Callable[[], Any], timeout: float, what: str, log: Callable[[], str] | None = None
) -> Any:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.25)
    raise AssertionError(
        f"timed out after {timeout:.0f} s waiting for {what}\n{log() if log else ''}"
    )


def flow_runs(name_part: str) -> list[FlowRun]:
    """Flow runs whose name contains `name_part` (runs are named after their opportunity)."""
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=name_part))
        )


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
