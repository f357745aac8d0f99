"""Mavenlink (Kantata OX): an httpx client on the v1 REST API, authenticated with a bearer token."""

from __future__ import annotations

import httpx
from prefect.blocks.core import Block
from pydantic import Field, SecretStr


class MavenlinkConnection(Block):
    """Connection to the Kantata OX (Mavenlink) API v1 as psflow's integration user.

    Kantata has no Python SDK; `get_client()` returns an `httpx.Client` whose base URL is the API
    root, so calls read `client.get("workspaces.json", params=...)`. Replies are Kantata's
    `{"count", "results", "<kind>": {...}, "meta"}` envelope; errors are `{"errors": [...]}`.
    """

    _block_type_name = "Mavenlink Connection"
    _block_type_slug = "psflow-mavenlink"
    _description = "Kantata OX (Mavenlink) API v1 client for psflow."

    base_url: str = Field(
        default="https://api.mavenlink.com/api/v1/",
        description="Root of the API v1, e.g. http://127.0.0.1:8765/mavenlink/api/v1/ for the "
        "sandbox. Default: the real Kantata OX API.",
    )
    web_url: str = Field(
        default="https://app.mavenlink.com",
        description="The Kantata web app people open, for links to projects, e.g. "
        "https://yourcompany.mavenlink.com (the sandbox's: http://127.0.0.1:8765/mavenlink).",
    )
    token: SecretStr = Field(
        description="OAuth bearer token of the Kantata user psflow acts as (the PS team's "
        "integration user)."
    )
    timeout_seconds: float = Field(
        default=60.0,
        description="Timeout of one HTTP request. Kantata cuts requests off after 3 minutes.",
    )

    def get_client(self) -> httpx.Client:
        """A new client; close it when done (`with connection.get_client() as client:`)."""
        return httpx.Client(
            base_url=self.base_url.rstrip("/") + "/",
            # the token leaves its SecretStr only here, for the wire; httpx masks Authorization in
            # the repr of headers and logs no headers
            headers={
                "Authorization": f"Bearer {self.token.get_secret_value()}",
                "Accept": "application/json",
            },
            timeout=self.timeout_seconds,
        )
