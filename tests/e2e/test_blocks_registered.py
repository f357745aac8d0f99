"""The Block types register with `prefect block register`, and saved Blocks reach the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from blocks import (
    BLOCK_NAME,
    CONNECTIONS,
    GitLabConnection,
    GoogleWorkspaceConnection,
    MavenlinkConnection,
    SalesforceConnection,
    SlackConnection,
    save_sandbox_blocks,
)
from psflow.local import prefect_env
from sandbox.client import SandboxClient

pytestmark = pytest.mark.e2e


def test_prefect_block_register_finds_every_connection(
    prefect_api: str, prefect_home: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prefect", "block", "register", "-m", "blocks"],
        env={**os.environ, **prefect_env(prefect_home, prefect_api)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    out = " ".join(result.stdout.split())  # rich wraps the table
    for block_type in CONNECTIONS:
        assert block_type.get_block_type_name() in out


def test_saved_blocks_load_back_and_each_client_reaches_the_sandbox(
    prefect_api: str, sandbox: SandboxClient, sandbox_url: str
) -> None:
    save_sandbox_blocks(sandbox_url)

    sf = SalesforceConnection.load(BLOCK_NAME).get_client()
    assert sf.query("SELECT Id FROM Opportunity LIMIT 1")["totalSize"] == 1
    assert GitLabConnection.load(BLOCK_NAME).get_client().groups.list(search="ps-customers")
    drive = GoogleWorkspaceConnection.load(BLOCK_NAME).drive()
    assert drive.files().list(q="name = 'PS Templates'").execute()["files"]
    ml = MavenlinkConnection.load(BLOCK_NAME).get_client()
    assert ml.get("users/me.json").raise_for_status().json()["count"] == 1
    assert SlackConnection.load(BLOCK_NAME).get_client().auth_test()["ok"]

    by_system = {r["system"] for r in sandbox.requests()}
    assert by_system == {"salesforce", "gitlab", "google", "mavenlink", "slack"}
    assert sandbox.writes() == 0
