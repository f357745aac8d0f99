"""The pages behind permalinks and channel links."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from sandbox import pages as web
from sandbox.core import SandboxDep
from sandbox.slack.api import NAME, message_key

pages = APIRouter(include_in_schema=False)


@pages.get("/archives/{channel_id}", response_class=HTMLResponse)
async def channel_page(sb: SandboxDep, channel_id: str) -> HTMLResponse:
    channel = sb.store.get(NAME, "channels", channel_id)
    if channel is None:
        return web.not_found("Slack", f"channel {channel_id}")
    return web.object_page("Slack", "channel", f"#{channel['name']}", channel)


@pages.get("/archives/{channel_id}/{permalink}", response_class=HTMLResponse)
async def message_page(sb: SandboxDep, channel_id: str, permalink: str) -> HTMLResponse:
    """`p` and the message's ts without its dot, as in Slack's permalinks."""
    digits = permalink.removeprefix("p")
    ts = f"{digits[:-6]}.{digits[-6:]}"
    message = sb.store.get(NAME, "messages", message_key(channel_id, ts))
    if message is None:
        return web.not_found("Slack", f"message {ts} in {channel_id}")
    shown = sb.store.get(NAME, "rendered", message_key(channel_id, ts)) or {}
    title = str(shown.get("text") or message["text"]).partition("\n")[0][:120]
    return web.object_page("Slack", "message", title, message)
