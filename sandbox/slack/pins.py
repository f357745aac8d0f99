"""Pins: pins.add and pins.list."""

from __future__ import annotations

from fastapi import Request

from sandbox.core import Json, Sandbox
from sandbox.slack.api import (
    NAME,
    channel_of,
    fail,
    message_key,
    message_of,
    message_view,
    method,
    require_member,
    table,
)


@method("pins.add")
async def pins_add(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    channel = channel_of(sb, args, caller)
    if not args.get("timestamp"):
        raise fail("no_item_specified")
    require_member(channel, caller)
    message = message_of(sb, channel, args["timestamp"])
    if channel["id"] in message.get("pinned_to", []):
        raise fail("already_pinned")
    message["pinned_to"] = [*message.get("pinned_to", []), channel["id"]]
    sb.store.save(NAME, "messages", message_key(channel["id"], message["ts"]))
    pin = {"created": int(sb.now().timestamp()), "created_by": caller}
    sb.store.put(NAME, "pins", message_key(channel["id"], message["ts"]), pin)
    return {}


@method("pins.list")
async def pins_list(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    """The channel's pinned messages, newest pin first: `{"items": [{"type": "message",
    "channel", "message", "created", "created_by"}]}` (no paging, as in Slack)."""
    channel = channel_of(sb, args, caller)
    items = []
    for message in table(sb, "messages").values():
        if channel["id"] not in message.get("pinned_to", []):
            continue
        pin = sb.store.get(NAME, "pins", message_key(channel["id"], message["ts"])) or {}
        items.append(
            {
                "type": "message",
                "channel": channel["id"],
                "message": message_view(message, False),
                "created": pin.get("created", int(float(message["ts"]))),
                "created_by": pin.get("created_by", caller),
            }
        )
    items.sort(key=lambda item: (item["created"], item["message"]["ts"]), reverse=True)
    return {"items": items}
