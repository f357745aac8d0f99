"""The Prefect UI as the team's console: the servers psflow starts serve a UI that can reach them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from psflow.local import launch_prefect, running, wait_prefect

pytestmark = pytest.mark.e2e


def test_the_ui_calls_the_api_of_the_server_that_serves_it(tmp_path: Path) -> None:
    # left to Prefect, the UI calls the default port's API and shows "Oops. Something went wrong."
    server, api_url = launch_prefect(tmp_path, ui=True)
    with running(server):
        wait_prefect(server, api_url)
        ui = api_url.removesuffix("/api")
        settings = httpx.get(f"{ui}/ui-settings", timeout=10).json()
        assert settings["api_url"] == api_url
        assert '<div id="app"' in httpx.get(f"{ui}/", timeout=10).text  # the UI itself
