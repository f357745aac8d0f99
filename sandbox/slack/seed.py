"""The Northwind Cloud workspace: its people, the psflow bot, the PS channels and the ops alerts
webhook."""

from __future__ import annotations

from sandbox import seed as demo
from sandbox.core import Sandbox
from sandbox.slack.api import (
    BOT_ID,
    BOT_NAME,
    NAME,
    OPS_WEBHOOK_CHANNEL,
    OPS_WEBHOOK_PATH,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    WEBHOOK_BOT_ID,
    bot_user_id,
)
from sandbox.slack.conversations import new_channel
from sandbox.slack.users import new_user


def seed(sb: Sandbox) -> None:
    """The Northwind Cloud workspace: its people, the psflow bot, the PS channels and the ops
    alerts webhook."""
    sb.store.put(NAME, "meta", "team", {"id": TEAM_ID, "name": TEAM_NAME, "domain": TEAM_DOMAIN})
    people = [new_user(sb, p) for p in (*demo.STAFF, *demo.PSES)]
    bot = bot_user_id()
    sb.store.put(
        NAME,
        "users",
        bot,
        {
            "id": bot,
            "team_id": TEAM_ID,
            "name": BOT_NAME,
            "deleted": False,
            "real_name": "psflow",
            "profile": {"real_name": "psflow", "display_name": "psflow", "bot_id": BOT_ID},
            "is_bot": True,
            "is_app_user": False,
            "updated": int(sb.now().timestamp()),
        },
    )
    humans = [u["id"] for u in people]
    staff = [u["id"] for u in people[: len(demo.STAFF)]]
    channels = {}
    for name in demo.CHANNELS:
        # the bot was added to the PS channels; it is not in #general until it joins
        members = humans if name == "general" else [*staff, bot]
        channels[name] = new_channel(sb, name, staff[0], members, private=False)
    hook_path = OPS_WEBHOOK_PATH.removeprefix(f"/{NAME}/services/")
    sb.store.put(
        NAME,
        "webhooks",
        hook_path,
        {
            "path": hook_path,
            "channel_id": channels[OPS_WEBHOOK_CHANNEL]["id"],
            "bot_id": WEBHOOK_BOT_ID,
        },
    )
