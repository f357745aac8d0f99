"""Secrets stay secret: a full lifecycle (Pre-Initiate approved, Initiate) and a failed run, with a
distinctive value in every secret field of every Block, then a search for those values everywhere
a person or a log shipper could read them.

Where it looks: the Blocks' repr/str/model_dump and the API's block documents; every flow run
(parameters, state messages, names, tags) and task run; every log line in the Prefect API; every
event (`/events/filter`); every artifact; the served runner's and the server's stdout/stderr; the
persisted task results on disk; the sandbox's request log in every field but `auth`, where the
tokens must be (so the test knows they were in use).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.types import SecretDict
from pydantic import SecretStr

from blocks import (
    BLOCK_NAME,
    CONNECTIONS,
    GoogleWorkspaceConnection,
    sandbox_blocks,
    save_sandbox_blocks,
)
from blocks.salesforce import SalesforceConnection
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from testkit.expect import EXPECTED, objects_of
from testkit.phases import staffed
from testkit.runs import FINAL, run_of, wait_for_state
from testkit.stack import PrefectStack

pytestmark = pytest.mark.e2e

MARK = "Zq8xT4vWk2"  # in every secret value, and nowhere else


def secret_blocks(url: str) -> list[Block]:
    """The sandbox's Blocks with `MARK` in every secret, the unused login secrets included."""
    blocks = sandbox_blocks(url, secret=f"tok-{MARK}")
    for block in blocks:
        if isinstance(block, SalesforceConnection):  # the JWT login's key: saved, never used here
            block.private_key = SecretStr(f"-----BEGIN PRIVATE KEY-----{MARK}-sf-key")
    return blocks


def secret_values(block: Block) -> list[str]:
    """Every secret field's value (a new SecretStr field is covered without a test change)."""
    values = []
    for name in type(block).model_fields:
        value = getattr(block, name)
        if isinstance(value, SecretStr):
            values.append(value.get_secret_value())
        elif isinstance(value, SecretDict):
            values.extend(str(v) for v in value.get_secret_value().values())
    return values


@pytest.fixture
def secret_run(served: PrefectStack, sandbox_server: SandboxServer) -> Iterator[list[str]]:
    """The session's Blocks replaced by the marked ones for one test (each flow run is a new
    process that loads them), then put back."""
    blocks = secret_blocks(sandbox_server.url)
    for block in blocks:
        block.save(BLOCK_NAME, overwrite=True)
    try:
        yield [value for block in blocks for value in secret_values(block)]
    finally:
        save_sandbox_blocks(sandbox_server.url)


def test_a_block_shows_no_secret_in_repr_str_or_dump() -> None:
    google = GoogleWorkspaceConnection(
        root_url="http://127.0.0.1:1/google/",
        service_account_info={
            "private_key": f"pk-{MARK}",
            "client_email": f"ps-{MARK}@p.iam.example",
        },
        access_token=f"at-{MARK}",
    )
    for block in [*secret_blocks("http://127.0.0.1:1"), google]:
        values = secret_values(block)
        assert all(MARK in value for value in values), type(block).__name__
        assert values or not isinstance(block, CONNECTIONS), type(block).__name__
        for shown in (repr(block), str(block), block.model_dump(), block.model_dump_json()):
            assert MARK not in str(shown), type(block).__name__


def _pages(client: Any, read: Any) -> list[str]:
    out: list[str] = []
    offset = 0
    while page := read(client, offset):
        out.extend(item.model_dump_json() for item in page)
        offset += len(page)
    return out


def _events(client: Any) -> list[str]:
    answer = client.request(
        "POST",
        "/events/filter",
        json={"filter": {"occurred": {"since": "2000-01-01T00:00:00Z"}}, "limit": 50},
    ).json()
    events = [str(e) for e in answer["events"]]
    while answer.get("next_page"):
        answer = client.request("GET", answer["next_page"]).json()
        events.extend(str(e) for e in answer["events"])
    return events


def everything_prefect_shows(home: Path) -> dict[str, list[str]]:
    """Every place of the Prefect server and its processes a person or a log shipper reads."""
    with get_client(sync_client=True) as client:
        places = {
            "flow runs": _pages(client, lambda c, o: c.read_flow_runs(limit=200, offset=o)),
            "task runs": _pages(client, lambda c, o: c.read_task_runs(limit=200, offset=o)),
            "logs": _pages(client, lambda c, o: c.read_logs(limit=200, offset=o)),
            "artifacts": _pages(client, lambda c, o: c.read_artifacts(limit=200, offset=o)),
            "deployments": [d.model_dump_json() for d in client.read_deployments()],
            "block documents": [
                d.model_dump_json() for d in client.read_block_documents(include_secrets=False)
            ],
            "events": _events(client),
        }
    places["runner and server output"] = [
        path.read_text(errors="replace") for path in home.glob("*.log")
    ]
    places["persisted results"] = [
        path.read_bytes().decode("latin-1")
        for path in (home / "storage").rglob("*")
        if path.is_file()
    ]
    return places


def test_no_secret_in_logs_runs_events_artifacts_errors_or_requests(
    served: PrefectStack, sandbox: SandboxClient, secret_run: list[str]
) -> None:
    start = sandbox.last_request_id()
    done_one, failing = staffed(sandbox, count=2)
    sandbox.act("salesforce", f"/opportunities/{done_one}/stage", stage="Closed Won")
    done = wait_for_state(run_of("initiate", done_one), *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message
    assert objects_of(sandbox, done_one) == EXPECTED

    # a run that fails on a permanent error: its exception text is in the state and the logs
    sandbox.add_fault(r"/mavenlink/api/v1/stories(\.json)?", method="POST", status=403)
    sandbox.act("salesforce", f"/opportunities/{failing}/stage", stage="Closed Won")
    failed = wait_for_state(run_of("initiate", failing), *FINAL, timeout=120)
    sandbox.clear_faults()
    assert failed.type == StateType.FAILED
    assert "Mavenlink" in failed.message

    requests = sandbox.requests(since=start)
    used = {value for row in requests for value in secret_run if value in row["auth"]}
    assert len(used) == 5, used  # one token per system was sent, where it belongs
    for row in requests:
        shown = {k: v for k, v in row.items() if k != "auth"}
        assert MARK not in str(shown), row

    places = everything_prefect_shows(served.home)
    assert all(places.values()), [place for place, texts in places.items() if not texts]
    assert any("Mavenlink" in line for line in places["logs"])  # the failure's traceback
    for place, texts in places.items():
        leaks = [text for text in texts if MARK in text]
        assert not leaks, f"a secret in {place}: {leaks[0][:2000]}"
