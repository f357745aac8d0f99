"""Messages: chat.postMessage, chat.update, chat.getPermalink, and incoming webhooks."""

from __future__ import annotations

import re

from fastapi import Request
from starlette.responses import PlainTextResponse, Response

from sandbox.core import ApiError, Json, Quota, Sandbox, SandboxDep, base_url
from sandbox.kit import parse_json
from sandbox.slack.api import (
    APP_ID,
    BOT_ID,
    MAX_TEXT,
    NAME,
    TEAM_ID,
    blocks_of,
    channel_of,
    fail,
    message_key,
    message_of,
    message_view,
    metadata_of,
    method,
    next_ts,
    quota_error,
    require_member,
    router,
)

PER_CHANNEL = Quota(
    "slack.chat-post-per-channel",
    "one message per second per channel (chat.postMessage and incoming webhooks)",
    1,
    1.0,
    # counted by the handlers per channel, never by the middleware per token
    lambda method_, path: path.startswith("#channel:"),
)


def post_message(
    sb: Sandbox,
    channel: Json,
    text: str,
    *,
    user: str | None,
    bot_id: str,
    blocks: list[Json] | None = None,
    metadata: Json | None = None,
    thread_ts: str | None = None,
    subtype: str | None = None,
) -> Json:
    ts = next_ts(sb)
    message: Json = {
        "type": "message",
        "ts": ts,
        "text": text,
        "bot_id": bot_id,
        "app_id": APP_ID,
        "team": TEAM_ID,
        "channel": channel["id"],
    }
    if user:
        message["user"] = user
    if subtype:
        message["subtype"] = subtype
    if blocks is not None:
        message["blocks"] = blocks
    if metadata is not None:
        message["metadata"] = metadata
    if thread_ts:
        parent = sb.store.get(NAME, "messages", message_key(channel["id"], thread_ts))
        assert parent is not None
        message["thread_ts"] = parent["ts"]
        message["parent_user_id"] = parent.get("user", "")
        parent["thread_ts"] = parent["ts"]
        parent["reply_count"] = parent.get("reply_count", 0) + 1
        parent["reply_users"] = list(
            dict.fromkeys([*parent.get("reply_users", []), user or bot_id])
        )
        parent["reply_users_count"] = len(parent["reply_users"])
        parent["latest_reply"] = ts
        sb.store.save(NAME, "messages", message_key(channel["id"], parent["ts"]))
    key = message_key(channel["id"], ts)
    sb.store.put(NAME, "rendered", key, {"channel": channel["id"], "ts": ts, **rendered(text)})
    return sb.store.put(NAME, "messages", key, message)


# Slack's control sequences in message text (docs.slack.dev, "Formatting text for app surfaces"):
# <!channel>, <!here>, <!everyone> notify everyone in the channel, <@U…> a person, <!subteam^S…> a
# user group, <#C…> names a channel, anything else is a link, `|` starting its label. `&lt;` etc.
# are text.
_CONTROL = re.compile(r"<([^<>]*)>")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}


def rendered(text: str) -> Json:
    """What Slack makes of `text`: whom it notifies, where its links go, and the text people see
    (kept by the sandbox for tests, never answered by its API)."""
    notifies: list[str] = []
    links: list[str] = []

    def show(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("!"):
            notifies.append(target[1:].split("^")[-1])
            return label or f"@{target[1:]}"
        if target.startswith("@"):
            notifies.append(target[1:])
            return label or target
        if not target.startswith("#"):
            links.append(target)
        return label or target

    shown = _CONTROL.sub(show, text)
    shown = re.sub("&lt;|&gt;|&amp;", lambda m: _ENTITIES[m.group(0)], shown)
    return {"notifies": notifies, "links": links, "text": shown}


def pace(sb: Sandbox, channel: Json) -> None:
    """Slack's one message per second per channel, counted per channel rather than per token."""
    exceeded = sb.quotas.check((PER_CHANNEL,), "POST", f"#channel:{channel['id']}", channel["id"])
    if exceeded:
        raise quota_error(*exceeded)


@method("chat.postMessage")
async def chat_post_message(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    channel = channel_of(sb, args, caller, by_name=True)
    if channel["is_archived"]:
        raise fail("is_archived")
    require_member(channel, caller)
    text = str(args.get("text") or "")
    blocks = blocks_of(args.get("blocks"))
    if not text and not blocks and not args.get("attachments"):
        raise fail("no_text")
    if len(text) > MAX_TEXT:
        raise fail("msg_too_long")
    metadata = metadata_of(args.get("metadata"))
    thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
    if thread_ts:
        message_of(sb, channel, thread_ts, missing="thread_not_found")
    pace(sb, channel)
    message = post_message(
        sb,
        channel,
        text,
        user=caller,
        bot_id=BOT_ID,
        blocks=blocks,
        metadata=metadata,
        thread_ts=thread_ts,
    )
    return {"channel": channel["id"], "ts": message["ts"], "message": message_view(message, True)}


@method("chat.update")
async def chat_update(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    channel = channel_of(sb, args, caller)
    message = message_of(sb, channel, args.get("ts"))
    if message.get("user") != caller:
        raise fail("cant_update_message")
    if "text" in args:
        message["text"] = str(args["text"] or "")
    if "blocks" in args:
        blocks = blocks_of(args["blocks"])
        if blocks is None:
            message.pop("blocks", None)
        else:
            message["blocks"] = blocks
    if "metadata" in args:
        metadata = metadata_of(args["metadata"])
        if metadata is not None:
            message["metadata"] = metadata
    if len(message["text"]) > MAX_TEXT:
        raise fail("msg_too_long")
    message["edited"] = {"user": caller, "ts": next_ts(sb)}
    key = message_key(channel["id"], message["ts"])
    view = {"channel": channel["id"], "ts": message["ts"], **rendered(message["text"])}
    sb.store.put(NAME, "rendered", key, view)
    sb.store.save(NAME, "messages", key)
    return {
        "channel": channel["id"],
        "ts": message["ts"],
        "text": message["text"],
        "message": message_view(message, True),
    }


@method("chat.getPermalink")
async def chat_get_permalink(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    channel = channel_of(sb, args, caller)
    message = message_of(sb, channel, args.get("message_ts"))
    link = f"{base_url(request, NAME)}/archives/{channel['id']}/p{message['ts'].replace('.', '')}"
    if message.get("thread_ts") and message["thread_ts"] != message["ts"]:
        link += f"?thread_ts={message['thread_ts']}&cid={channel['id']}"
    return {"channel": channel["id"], "permalink": link}


# --- incoming webhooks ---------------------------------------------------------------------------


@router.post("/services/{team}/{bot}/{secret}")
async def incoming_webhook(
    sb: SandboxDep, request: Request, team: str, bot: str, secret: str
) -> Response:
    """Slack answers webhooks in plain text: `ok`, or an error word with a 4xx status."""
    hook = sb.store.get(NAME, "webhooks", f"{team}/{bot}/{secret}")
    if hook is None:
        return PlainTextResponse("no_service", 404)
    try:
        payload = parse_json(await request.body(), fail("invalid_payload"))
    except ApiError:
        payload = None
    if not isinstance(payload, dict):
        return PlainTextResponse("invalid_payload", 400)
    text = str(payload.get("text") or "")
    try:
        blocks = blocks_of(payload.get("blocks"))
    except ApiError:
        return PlainTextResponse("invalid_blocks", 400)
    if not text and not blocks:
        return PlainTextResponse("no_text", 400)
    channel = sb.store.get(NAME, "channels", hook["channel_id"])
    if channel is None or channel["is_archived"]:
        return PlainTextResponse("channel_is_archived", 410)
    pace(sb, channel)
    post_message(
        sb, channel, text, user=None, bot_id=hook["bot_id"], blocks=blocks, subtype="bot_message"
    )
    return PlainTextResponse("ok")
