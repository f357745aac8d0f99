"""A real Prefect server for the whole session (it takes ~15 s to start), on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from psflow.local import launch_prefect, running, wait_prefect


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
