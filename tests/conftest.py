"""Fixtures shared by every test folder: one sandbox server per session, reset before each test."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from psflow.local import prefect_env
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer

# Before anything imports Prefect (these imports do not): tests never touch ~/.prefect.
os.environ.update(prefect_env(Path(tempfile.mkdtemp(prefix="psflow-tests-prefect-"))))

# Property tests are deterministic, and a busy machine must not fail them for being slow.
settings.register_profile(
    "psflow",
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("psflow")


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with SandboxServer(tmp_path_factory.mktemp("sandbox")) as server:
        yield server


@pytest.fixture
def sandbox_url(sandbox_server: SandboxServer) -> str:
    return sandbox_server.url


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxClient]:
    """The control API of a freshly reset and re-seeded sandbox."""
    client = SandboxClient(sandbox_server.url)
    client.reset()
    yield client
    client.close()


@pytest.fixture
def outside(sandbox: SandboxClient, sandbox_url: str, tmp_path: Path) -> Iterator[SandboxClient]:
    """psflow's tasks pointed at the freshly reset sandbox (Blocks given directly, no Prefect
    server); yields the sandbox's control client to count what the tasks did."""
    from prefect.filesystems import LocalFileSystem
    from prefect.results import ResultStore

    from blocks import sandbox_blocks
    from tasks import clients

    # what psflow remembers starts empty with the reset sandbox, as the mailbox it is about
    memory = ResultStore(result_storage=LocalFileSystem(basepath=str(tmp_path / "memory")))
    clients.configure(sandbox_blocks(sandbox_url), memory)
    yield sandbox
    clients.reset()


# `make test` gives each test process a module at a time, in collection order: the longest e2e
# modules go first, so none of them starts last and runs alone at the end (the short integration
# and unit modules fill the gaps). Longest first, as `--durations` measured them.
LONGEST_FIRST = (
    "test_lifecycle",
    "test_validate",
    "test_close",
    "test_crash",
    "test_fault_matrix_close",
    "test_production",
    "test_change_request",
    "test_fault_matrix_changes",
    "test_fault_matrix",
    "test_fault_matrix_under_way",
    "test_execute",
    "test_ui",
    "test_plan",
    "test_concurrent_runs",
    "test_pre_initiate",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def weight(item: pytest.Item) -> tuple[int, int]:
        folder, module = item.path.parent.name, item.path.stem
        if module in LONGEST_FIRST and folder == "e2e":
            return (0, LONGEST_FIRST.index(module))
        return ({"e2e": 1, "integration": 2}.get(folder, 3), 0)

    items.sort(key=weight)  # stable: a module's tests keep their order
