"""A real Prefect server for the whole session (it takes ~15 s to start) and psflow's deployments
served against it and the session's sandbox, as the demo runs them."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.client.schemas.objects import FlowRun
from prefect.settings import PREFECT_API_URL, temporary_settings

from blocks import save_sandbox_blocks
from psflow.local import launch_prefect, prefect_env, running, start, wait_prefect
from sandbox.server import SandboxServer


@pytest.fixture(scope="session")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prefect")


@pytest.fixture(scope="session")
def prefect_api(prefect_home: Path) -> Iterator[str]:
    """The API URL of a running Prefect server; this process's Prefect settings point at it."""
    child, api_url = launch_prefect(prefect_home, ui=False)
    with running(child):
        wait_prefect(child, api_url)
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield api_url


@pytest.fixture(scope="session")
def served(prefect_api: str, prefect_home: Path, sandbox_server: SandboxServer) -> Iterator[str]:
    """Every deployment served (`python -m deployments.serve`), the watcher polling each second,
    with Blocks pointing at the session's sandbox. Yields the Prefect API URL."""
    save_sandbox_blocks(sandbox_server.url)
    env = {**prefect_env(prefect_home, prefect_api), "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    argv = [sys.executable, "-m", "deployments.serve", "--watch-seconds", "3"]
    child = start("serve", argv, prefect_home / "serve.log", env)
    with running(child):
        wait_until(
            lambda: _deployments_ready(), timeout=60, what="served deployments", log=child.tail
        )
        yield prefect_api


def _deployments_ready() -> bool:
    with get_client(sync_client=True) as client:
        return len(client.read_deployments()) >= 2


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
