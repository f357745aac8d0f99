"""Slack: a slack_sdk `WebClient` on the Web API, authenticated with the bot token."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

if TYPE_CHECKING:
    from slack_sdk import WebClient


class SlackConnection(Block):
    """Connection to a Slack workspace's Web API as the psflow bot.

    Only the Web API lives here; the ops alerts incoming webhook is a Prefect `Webhook` block of
    its own.
    """

    _block_type_name = "Slack Connection"
    _block_type_slug = "psflow-slack"
    _description = "Slack Web API client (slack_sdk) for psflow's bot."

    base_url: str = Field(
        default="https://slack.com/api/",
        description="Root of the Web API, e.g. http://127.0.0.1:8765/slack/api/ for the sandbox. "
        "Default: the real Slack.",
    )
    bot_token: SecretStr = Field(description="Bot user OAuth token (xoxb-...) of the psflow app.")
    timeout_seconds: float = Field(default=30.0, description="Timeout of one HTTP request.")

    def get_client(self) -> WebClient:
        from slack_sdk import WebClient  # loaded with the client, not with the Block

        return WebClient(
            token=self.bot_token.get_secret_value(),
            base_url=self.base_url.rstrip("/") + "/",  # slack_sdk appends method names to it
            timeout=int(self.timeout_seconds),
            # No SDK retry handlers: psflow's tasks own retries (one shared policy for every
            # system, honouring Retry-After); a second layer here would multiply the attempts and
            # could re-post a message whose answer was lost.
            retry_handlers=[],
        )
