"""Prefect Blocks: one connection per outside system, each returning the real configured client.

Every flow loads the documents saved under `BLOCK_NAME`. Pointing psflow at the sandbox or at the
real services is only a matter of what those documents hold (see README, "Real services").
"""

from __future__ import annotations

from typing import TypeVar, cast

from prefect.blocks.core import Block

from blocks.gitlab import GitLabConnection
from blocks.google import GoogleWorkspaceConnection
from blocks.mavenlink import MavenlinkConnection
from blocks.salesforce import SalesforceConnection
from blocks.settings import PsflowSettings
from blocks.slack import SlackConnection

BLOCK_NAME = "psflow"
OPS_WEBHOOK_BLOCK = (
    "psflow-ops-alerts"  # a Prefect Webhook block: the ops channel's incoming webhook
)

B = TypeVar("B", bound=Block)

CONNECTIONS: tuple[type[Block], ...] = (
    SalesforceConnection,
    GitLabConnection,
    GoogleWorkspaceConnection,
    MavenlinkConnection,
    SlackConnection,
)

__all__ = [
    "BLOCK_NAME",
    "CONNECTIONS",
    "GitLabConnection",
    "GoogleWorkspaceConnection",
    "MavenlinkConnection",
    "PsflowSettings",
    "SalesforceConnection",
    "SlackConnection",
    "load",
    "sandbox_blocks",
    "save_sandbox_blocks",
]


def load(block_type: type[B]) -> B:
    """The saved connection of this type (`Block.load` is typed for async callers too)."""
    return cast(B, block_type.load(BLOCK_NAME))


def sandbox_blocks(sandbox_url: str, secret: str = "sandbox", pace: bool = False) -> list[Block]:
    """Connections to every system of a sandbox at `sandbox_url`, and default settings. The
    sandbox accepts any token; `secret` makes them distinctive (tests look for them in logs).
    The Google token names psflow's OAuth client before its first "." (`psflow.`), so its Drive
    appProperties, private to that client, are those the sandbox's seed gave psflow.
    The sandbox enforces quotas only when asked (`SandboxClient.set_quotas`): requests are paced
    by them (`pace`) only where it does."""
    url = sandbox_url.rstrip("/")
    return [
        SalesforceConnection(instance_url=f"{url}/salesforce", access_token=f"{secret}-sf-token"),
        GitLabConnection(url=f"{url}/gitlab", token=f"{secret}-gitlab-token"),
        GoogleWorkspaceConnection(
            root_url=f"{url}/google/", access_token=f"psflow.{secret}-google-token"
        ),
        MavenlinkConnection(
            base_url=f"{url}/mavenlink/api/v1/",
            web_url=f"{url}/mavenlink",
            token=f"{secret}-ml-token",
        ),
        SlackConnection(base_url=f"{url}/slack/api/", bot_token=f"xoxb-{secret}-slack-token"),
        PsflowSettings(
            company_name="Northwind Cloud",
            coordinator_email="priya.raman@northwind.example",
            ops_manager_email="olivia.park@northwind.example",
            clock_url=f"{url}/_sandbox/clock",
            pace_requests=pace,
        ),
    ]


# The sandbox's Slack incoming webhook into #ps_ops_alerts (sandbox/slack/api.py OPS_WEBHOOK_PATH).
SANDBOX_OPS_WEBHOOK = "/slack/services/T0NWCLD001/B0OPSHOOK1/sandboxOpsAlertsWebhook01"


def save_sandbox_blocks(sandbox_url: str, secret: str = "sandbox", pace: bool = False) -> list[str]:
    """Register every Block type and save connections to the sandbox under `BLOCK_NAME`, and the
    ops channel's webhook, on the Prefect API of the current settings. Returns the slugs."""
    saved = []
    for block in sandbox_blocks(sandbox_url, secret, pace):
        type(block).register_type_and_schema()
        block.save(BLOCK_NAME, overwrite=True)
        saved.append(f"{block.get_block_type_slug()}/{BLOCK_NAME}")
    from prefect.blocks.webhook import Webhook  # only the setup path needs it

    ops = Webhook(
        url=f"{sandbox_url.rstrip('/')}{SANDBOX_OPS_WEBHOOK}",
        headers={"Content-Type": "application/json"},
    )
    ops.save(OPS_WEBHOOK_BLOCK, overwrite=True)
    saved.append(f"webhook/{OPS_WEBHOOK_BLOCK}")
    return saved
