"""Reading the sandbox's Kantata (Mavenlink) API as its tests do: psflow's own httpx client of
`MavenlinkConnection`, and the objects of a reply in Kantata's envelope."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from pydantic import SecretStr

from blocks.mavenlink import MavenlinkConnection
from sandbox import seed as demo


@contextmanager
def kantata(sandbox_url: str) -> Iterator[httpx.Client]:
    connection = MavenlinkConnection(
        base_url=f"{sandbox_url}/mavenlink/api/v1/", token=SecretStr("sandbox-token")
    )
    with connection.get_client() as client:
        yield client


def items(reply: httpx.Response, key: str | None = None) -> list[dict[str, Any]]:
    """The objects of a Kantata reply, in `results` order."""
    assert reply.status_code == 200, reply.text
    body = reply.json()
    return [body[r["key"]][r["id"]] for r in body["results"] if key is None or r["key"] == key]


def one(reply: httpx.Response) -> dict[str, Any]:
    rows = items(reply)
    assert len(rows) == 1, rows
    return rows[0]


def errors(reply: httpx.Response) -> dict[str, str]:
    """A 422's validation messages, by field."""
    assert reply.status_code == 422, reply.text
    found = reply.json()["errors"]
    assert {e["type"] for e in found} == {"validation"}
    return {e["field"]: e["message"] for e in found}


def user_id(api: httpx.Client, key: str) -> str:
    """The Kantata id of the seeded person `key`."""
    return str(one(api.get("users.json", params={"by_email_address": demo.staff(key).email}))["id"])
