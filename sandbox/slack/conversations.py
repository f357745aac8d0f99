"""Conversations: channels, their members, history and threads."""

from __future__ import annotations

import re

from fastapi import Request
from starlette.responses import JSONResponse, Response

from sandbox.core import Json, Sandbox
from sandbox.slack.api import (
    CHANNEL_NAME,
    NAME,
    channel_of,
    channel_view,
    encode_cursor,
    fail,
    limit_of,
    message_of,
    message_view,
    method,
    paged,
    require_member,
    slack_id,
    table,
    truthy,
    uncursor,
)


def new_channel(sb: Sandbox, name: str, creator: str, members: list[str], private: bool) -> Json:
    channel_id = slack_id(
        "G" if private else "C", f"channel:{name}:{sb.store.next_id('slack.channel')}"
    )
    created = int(sb.now().timestamp())
    channel: Json = {
        "id": channel_id,
        "name": name,
        "name_normalized": name,
        "is_channel": not private,
        "is_group": private,
        "is_im": False,
        "is_mpim": False,
        "is_private": private,
        "is_archived": False,
        "is_general": name == "general",
        "is_shared": False,
        "is_org_shared": False,
        "created": created,
        "creator": creator,
        "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0},
        "members": list(dict.fromkeys(members)),  # kept apart from the object Slack shows
    }
    return sb.store.put(NAME, "channels", channel_id, channel)


@method("conversations.list")
async def conversations_list(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    types = {t.strip() for t in str(args.get("types") or "public_channel").split(",") if t.strip()}
    if types - {"public_channel", "private_channel", "mpim", "im"}:
        raise fail("invalid_types")
    rows = []
    for channel in sorted(table(sb, "channels").values(), key=lambda c: c["id"]):
        if truthy(args.get("exclude_archived")) and channel["is_archived"]:
            continue
        if channel["is_private"]:
            if "private_channel" not in types or caller not in channel["members"]:
                continue
        elif "public_channel" not in types:
            continue
        rows.append(channel_view(channel, caller, with_count=True))
    return paged(args, rows, "channels", default=100, maximum=1000)


@method("conversations.info")
async def conversations_info(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    channel = channel_of(sb, args, caller)
    return {"channel": channel_view(channel, caller, truthy(args.get("include_num_members")))}


@method("conversations.create")
async def conversations_create(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    name = _free_name(sb, args)
    channel = new_channel(sb, name, caller, [caller], truthy(args.get("is_private")))
    return {"channel": channel_view(channel, caller)}


def _free_name(sb: Sandbox, args: Json) -> str:
    """The `name` argument, when it is a valid channel name no channel has (archived ones too)."""
    name = str(args.get("name") or "")
    if not name.strip():
        raise fail("invalid_name_required")
    if len(name) > 80:
        raise fail("invalid_name_maxlength")
    if not CHANNEL_NAME.fullmatch(name):
        raise fail("invalid_name_specials")
    if not re.search(r"[a-z0-9]", name):
        raise fail("invalid_name_punctuation")
    if any(c["name"] == name for c in table(sb, "channels").values()):
        raise fail("name_taken")
    return name


@method("conversations.rename")
async def conversations_rename(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    """A channel's new name; its id stays (what people do in Slack's UI, a member's call here)."""
    channel = channel_of(sb, args, caller)
    require_member(channel, caller)
    name = _free_name(sb, args)
    channel.update(name=name, name_normalized=name)
    sb.store.save(NAME, "channels", channel["id"])
    return {"channel": channel_view(channel, caller)}


@method("conversations.archive")
async def conversations_archive(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    channel = channel_of(sb, args, caller)
    if channel["is_general"]:
        raise fail("cant_archive_general")
    if channel["is_archived"]:
        raise fail("already_archived")
    require_member(channel, caller)
    channel["is_archived"] = True
    sb.store.save(NAME, "channels", channel["id"])
    return {}


@method("conversations.join")
async def conversations_join(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    channel = channel_of(sb, args, caller)
    if channel["is_private"]:
        raise fail("method_not_supported_for_channel_type")
    if channel["is_archived"]:
        raise fail("is_archived")
    if caller in channel["members"]:
        return {
            "channel": channel_view(channel, caller),
            "warning": "already_in_channel",
            "response_metadata": {"warnings": ["already_in_channel"]},
        }
    channel["members"].append(caller)
    sb.store.save(NAME, "channels", channel["id"])
    return {"channel": channel_view(channel, caller)}


@method("conversations.invite")
async def conversations_invite(
    sb: Sandbox, request: Request, args: Json, caller: str
) -> Json | Response:
    channel = channel_of(sb, args, caller)
    if channel["is_archived"]:
        raise fail("is_archived")
    require_member(channel, caller)
    users = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
    if not users:
        raise fail("no_user")
    errors = []
    for user_id in users:
        if user_id == caller:
            errors.append({"user": user_id, "ok": False, "error": "cant_invite_self"})
        elif sb.store.get(NAME, "users", user_id) is None:
            errors.append({"user": user_id, "ok": False, "error": "user_not_found"})
        elif user_id in channel["members"]:
            errors.append({"user": user_id, "ok": False, "error": "already_in_channel"})
    if not errors or truthy(args.get("force")):
        # `force` invites the valid ones anyway; the answer is the same error all the same: the
        # documented error shape, `ok` false with an `errors` entry per user that was not invited
        failed = {e["user"] for e in errors}
        channel["members"].extend(u for u in users if u not in failed)
        sb.store.save(NAME, "channels", channel["id"])
    if errors:
        return JSONResponse({"ok": False, "error": errors[0]["error"], "errors": errors})
    return {"channel": channel_view(channel, caller)}


@method("conversations.members")
async def conversations_members(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    channel = channel_of(sb, args, caller)
    rows = [{"id": member} for member in channel["members"]]
    page = paged(args, rows, "members", default=100, maximum=1000)
    page["members"] = [row["id"] for row in page["members"]]
    return page


def _window(args: Json, sb: Sandbox) -> tuple[str, str, bool]:
    oldest = str(args.get("oldest") or "0")
    latest = str(args.get("latest") or f"{sb.now().timestamp() + 1:.6f}")
    return oldest, latest, truthy(args.get("inclusive"))


def _within(ts: str, oldest: str, latest: str, inclusive: bool) -> bool:
    value, low, high = float(ts), float(oldest), float(latest)
    return low <= value <= high if inclusive else low < value < high


@method("conversations.history")
async def conversations_history(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    """Top-level messages (and thread parents), newest first."""
    channel = channel_of(sb, args, caller)
    require_member(channel, caller)
    oldest, latest, inclusive = _window(args, sb)
    with_metadata = truthy(args.get("include_all_metadata"))
    before = uncursor(args.get("cursor"), "next_ts:")
    rows = sorted(
        (
            m
            for m in table(sb, "messages").values()
            if m["channel"] == channel["id"]
            and m.get("thread_ts", m["ts"]) == m["ts"]
            and _within(m["ts"], oldest, latest, inclusive)
            and (before is None or float(m["ts"]) <= float(before))
        ),
        key=lambda m: float(m["ts"]),
        reverse=True,
    )
    limit = limit_of(args, 100, 999)
    chunk, rest = rows[:limit], rows[limit:]
    return {
        "messages": [message_view(m, with_metadata) for m in chunk],
        "has_more": bool(rest),
        "pin_count": sum(
            1 for m in table(sb, "messages").values() if channel["id"] in m.get("pinned_to", [])
        ),
        "response_metadata": {
            "next_cursor": encode_cursor(f"next_ts:{rest[0]['ts']}") if rest else ""
        },
    }


@method("conversations.replies")
async def conversations_replies(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    """A thread: its parent first, then the replies, oldest first."""
    channel = channel_of(sb, args, caller)
    require_member(channel, caller)
    parent = message_of(sb, channel, args.get("ts"), missing="thread_not_found")
    thread_ts = parent.get("thread_ts", parent["ts"])
    oldest, latest, inclusive = _window(args, sb)
    rows = sorted(
        (
            m
            for m in table(sb, "messages").values()
            if m["channel"] == channel["id"]
            and (m["ts"] == thread_ts or m.get("thread_ts") == thread_ts)
            and _within(m["ts"], oldest, latest, inclusive)
        ),
        key=lambda m: float(m["ts"]),
    )
    with_metadata = truthy(args.get("include_all_metadata"))
    page = paged(args, [message_view(m, with_metadata) for m in rows], "messages", 1000, 1000)
    page["has_more"] = bool(page["response_metadata"]["next_cursor"])
    return page
