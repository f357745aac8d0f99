"""Slack stand-in: the Web API under `/slack/api/<method>` and incoming webhooks under
`/slack/services/<T>/<B>/<secret>`.

What psflow uses: posting (with message `metadata` carrying its idempotency key), finding its own
earlier post again in `conversations.history`, threads, pins, customer channels (create, invite,
join) and user look-ups by email; ops alerts arrive through an incoming webhook.

Wire format, as documented at https://docs.slack.dev/reference/methods:
- every method is a POST (slack_sdk posts form fields or JSON; GET with a query string works too),
  authenticated with `Authorization: Bearer xoxb-...` (or a `token` argument);
- answers are HTTP 200 `{"ok": true, ...}`, and errors HTTP 200 `{"ok": false, "error": "<code>"}`
  (slack_sdk raises `SlackApiError`); only throttling (429 + `Retry-After`) and server faults use
  other statuses;
- lists page with `cursor` / `limit` and answer `response_metadata.next_cursor` ("" at the end);
- message metadata is returned by history and replies only with `include_all_metadata`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from sandbox import pages as web
from sandbox import seed as demo
from sandbox.core import ApiError, Json, Quota, Sandbox, SandboxDep, System, base_url

NAME = "slack"
TEAM_ID = "T0NWCLD001"
TEAM_NAME = demo.COMPANY
TEAM_DOMAIN = "northwind-cloud"
BOT_NAME = "psflow"
BOT_ID = "B0PSFLOW01"
APP_ID = "A0PSFLOW01"
WEBHOOK_BOT_ID = "B0OPSHOOK1"
# The incoming webhook psflow's failure automation posts to (a Prefect `Webhook` block on
# `<sandbox url>` + OPS_WEBHOOK_PATH); it posts into OPS_WEBHOOK_CHANNEL.
OPS_WEBHOOK_CHANNEL = "ps_ops_alerts"
OPS_WEBHOOK_PATH = f"/slack/services/{TEAM_ID}/{WEBHOOK_BOT_ID}/sandboxOpsAlertsWebhook01"

# Methods that only read: POSTs like every Slack method, but not writes in the request log.
READ_METHODS = frozenset(
    {
        "auth.test",
        "chat.getPermalink",
        "conversations.history",
        "conversations.info",
        "conversations.list",
        "conversations.members",
        "conversations.replies",
        "pins.list",
        "users.info",
        "users.list",
        "users.lookupByEmail",
    }
)

CHANNEL_NAME = re.compile(r"[a-z0-9_-]+")
MAX_TEXT = 40_000  # chat.postMessage truncates beyond this; longer is `msg_too_long`
MAX_BLOCKS = 50


# --- errors --------------------------------------------------------------------------------------


def render_error(err: ApiError) -> Response:
    """Slack answers its own errors with HTTP 200; throttling is a 429 and outages a 5xx."""
    if err.status == 429:
        return JSONResponse({"ok": False, "error": "ratelimited"}, 429, err.headers)
    if err.status >= 500:
        code = {500: "internal_error", 503: "service_unavailable"}.get(err.status, "fatal_error")
        return JSONResponse({"ok": False, "error": code}, err.status, err.headers)
    code = err.code if err.code and err.status != 404 else "unknown_method"
    return JSONResponse({"ok": False, "error": code}, 200, err.headers)


def fail(code: str) -> ApiError:
    return ApiError(200, code, code)


def _quota_error(quota: Quota, wait: float) -> ApiError:
    return ApiError(
        429,
        f"rate limited: {quota.description}",
        "ratelimited",
        {"Retry-After": str(int(wait) + 1)},
    )


# --- ids, time and storage -----------------------------------------------------------------------


def slack_id(prefix: str, seed_text: str) -> str:
    digest = hashlib.sha256(seed_text.encode()).digest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return prefix + "".join(alphabet[b % len(alphabet)] for b in digest[:10])


def table(sb: Sandbox, kind: str) -> dict[str, Json]:
    return sb.store.table(NAME, kind)


def next_ts(sb: Sandbox) -> str:
    """A message timestamp: seconds.microseconds, unique and increasing across the workspace."""
    clock = sb.store.get(NAME, "meta", "clock") or {"last": 0}
    micros = max(int(sb.now().timestamp() * 1_000_000), clock["last"] + 1)
    sb.store.put(NAME, "meta", "clock", {"last": micros})
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _message_key(channel_id: str, ts: str) -> str:
    return f"{channel_id}-{ts}"


def _cursor(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _uncursor(cursor: str | None, prefix: str) -> str | None:
    if not cursor:
        return None
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except ValueError:
        raise fail("invalid_cursor") from None
    if not text.startswith(prefix):
        raise fail("invalid_cursor")
    return text[len(prefix) :]


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes")


def _limit(args: Json, default: int, maximum: int) -> int:
    raw = args.get("limit")
    if raw in (None, "", 0, "0"):
        return default
    try:
        return max(1, min(int(raw), maximum))
    except ValueError:
        raise fail("invalid_limit") from None


# --- objects -------------------------------------------------------------------------------------


def new_user(sb: Sandbox, person: demo.Person) -> Json:
    user_id = slack_id("U", person.key)
    offset = datetime.now(ZoneInfo(person.time_zone)).utcoffset()
    first_name = person.name.split()[0]
    user: Json = {
        "id": user_id,
        "team_id": TEAM_ID,
        "name": person.key,
        "deleted": False,
        "real_name": person.name,
        "tz": person.time_zone,
        "tz_label": datetime.now(ZoneInfo(person.time_zone)).tzname(),
        "tz_offset": int(offset.total_seconds()) if offset else 0,
        "profile": {
            "title": person.title,
            "real_name": person.name,
            "real_name_normalized": person.name,
            "display_name": first_name,
            "display_name_normalized": first_name,
            "email": person.email,
            "team": TEAM_ID,
        },
        "is_admin": False,
        "is_owner": False,
        "is_bot": False,
        "is_app_user": False,
        "updated": int(sb.now().timestamp()),
    }
    return sb.store.put(NAME, "users", user_id, user)


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


def channel_view(channel: Json, caller: str, with_count: bool = False) -> Json:
    out = {k: v for k, v in channel.items() if k != "members"}
    out["is_member"] = caller in channel["members"]
    if with_count:
        out["num_members"] = len(channel["members"])
    return out


def message_view(message: Json, with_metadata: bool) -> Json:
    out = {k: v for k, v in message.items() if k not in ("channel", "metadata")}
    if with_metadata and message.get("metadata"):
        out["metadata"] = message["metadata"]
    return out


def bot_user_id() -> str:
    return slack_id("U", f"bot:{BOT_NAME}")


# --- request handling ----------------------------------------------------------------------------


async def _args(request: Request) -> Json:
    """The method's arguments from the query string, a form body or a JSON body."""
    args: Json = dict(request.query_params)
    raw = await request.body()
    if raw.strip():
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = json.loads(raw)
            except ValueError:
                raise fail("invalid_json") from None
            if not isinstance(body, dict):
                raise fail("invalid_json")
            args.update(body)
        else:
            args.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return args


def _caller(request: Request, args: Json) -> str:
    """The bot's user id, once the token checks out."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    token = token or str(args.get("token") or "")
    if not token:
        raise fail("not_authed")
    if not re.fullmatch(r"xox[bp]-[A-Za-z0-9-]+", token):
        raise fail("invalid_auth")
    return bot_user_id()


def _channel(
    sb: Sandbox, args: Json, caller: str, by_name: bool = False, key: str = "channel"
) -> Json:
    """The conversation an argument names (ids; `#name` too where Slack takes names)."""
    ref = str(args.get(key) or "").strip()
    if not ref:
        raise fail("channel_not_found")
    channel = sb.store.get(NAME, "channels", ref)
    if channel is None and by_name:
        name = ref.removeprefix("#")
        channel = next((c for c in table(sb, "channels").values() if c["name"] == name), None)
    if channel is None or (channel["is_private"] and caller not in channel["members"]):
        raise fail("channel_not_found")
    return channel


def _member(channel: Json, caller: str) -> None:
    if caller not in channel["members"]:
        raise fail("not_in_channel")


def _message(sb: Sandbox, channel: Json, ts: Any, missing: str = "message_not_found") -> Json:
    message = sb.store.get(NAME, "messages", _message_key(channel["id"], str(ts or "")))
    if message is None:
        raise fail(missing)
    return message


def _metadata(value: Any) -> Json | None:
    """chat.postMessage's `metadata`: a JSON object, or its JSON text in a form body."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise fail("invalid_metadata_format") from None
    if not isinstance(value, dict):
        raise fail("invalid_metadata_format")
    event_type, payload = value.get("event_type"), value.get("event_payload")
    if not isinstance(event_type, str) or not event_type or not isinstance(payload, dict):
        raise fail("invalid_metadata_schema")
    return {"event_type": event_type, "event_payload": payload}


def _blocks(value: Any) -> list[Json] | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise fail("invalid_blocks_format") from None
    if not isinstance(value, list) or not all(isinstance(b, dict) and b.get("type") for b in value):
        raise fail("invalid_blocks")
    if len(value) > MAX_BLOCKS:
        raise fail("invalid_blocks")
    return value


Handler = Callable[[Sandbox, Request, Json, str], Awaitable[Json | Response]]
METHODS: dict[str, Handler] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        METHODS[name] = handler
        return handler

    return register


router = APIRouter()


@router.api_route("/api/{method_name}", methods=["GET", "POST"])
async def web_api(sb: SandboxDep, request: Request, method_name: str) -> Any:
    handler = METHODS.get(method_name)
    if handler is None:
        raise fail("unknown_method")
    args = await _args(request)
    caller = _caller(request, args)
    answer = await handler(sb, request, args, caller)
    return answer if isinstance(answer, Response) else {"ok": True, **answer}


# --- auth, users ---------------------------------------------------------------------------------


@method("auth.test")
async def auth_test(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    return {
        "url": f"{base_url(request, NAME)}/",
        "team": TEAM_NAME,
        "user": BOT_NAME,
        "team_id": TEAM_ID,
        "user_id": caller,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


@method("users.lookupByEmail")
async def users_lookup_by_email(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    email = str(args.get("email") or "").strip().lower()
    for user in table(sb, "users").values():
        if not user["deleted"] and user["profile"].get("email", "").lower() == email:
            return {"user": user}
    raise fail("users_not_found")


@method("users.info")
async def users_info(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    user = sb.store.get(NAME, "users", str(args.get("user") or ""))
    if user is None:
        raise fail("user_not_found")
    return {"user": user}


@method("users.list")
async def users_list(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    users = sorted(table(sb, "users").values(), key=lambda u: u["id"])
    return _page(args, users, "members", default=200, maximum=1000, extra={"cache_ts": 0})


def _page(
    args: Json, rows: list[Json], key: str, default: int, maximum: int, extra: Json | None = None
) -> Json:
    """Cursor paging over a stable list: the cursor holds the offset, base64 like Slack's."""
    limit = _limit(args, default, maximum)
    start = int(_uncursor(args.get("cursor"), "offset:") or 0)
    chunk = rows[start : start + limit]
    more = start + limit < len(rows)
    return {
        key: chunk,
        **(extra or {}),
        "response_metadata": {"next_cursor": _cursor(f"offset:{start + limit}") if more else ""},
    }


# --- conversations -------------------------------------------------------------------------------


@method("conversations.list")
async def conversations_list(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    types = {t.strip() for t in str(args.get("types") or "public_channel").split(",") if t.strip()}
    if types - {"public_channel", "private_channel", "mpim", "im"}:
        raise fail("invalid_types")
    rows = []
    for channel in sorted(table(sb, "channels").values(), key=lambda c: c["id"]):
        if _truthy(args.get("exclude_archived")) and channel["is_archived"]:
            continue
        if channel["is_private"]:
            if "private_channel" not in types or caller not in channel["members"]:
                continue
        elif "public_channel" not in types:
            continue
        rows.append(channel_view(channel, caller, with_count=True))
    return _page(args, rows, "channels", default=100, maximum=1000)


@method("conversations.info")
async def conversations_info(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    channel = _channel(sb, args, caller)
    return {"channel": channel_view(channel, caller, _truthy(args.get("include_num_members")))}


@method("conversations.create")
async def conversations_create(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    name = str(args.get("name") or "")
    if not name.strip():
        raise fail("invalid_name_required")
    if len(name) > 80:
        raise fail("invalid_name_maxlength")
    if not CHANNEL_NAME.fullmatch(name):
        raise fail("invalid_name_specials")
    if not re.search(r"[a-z0-9]", name):
        raise fail("invalid_name_punctuation")
    if any(c["name"] == name for c in table(sb, "channels").values()):  # archived ones too
        raise fail("name_taken")
    channel = new_channel(sb, name, caller, [caller], _truthy(args.get("is_private")))
    return {"channel": channel_view(channel, caller)}


@method("conversations.join")
async def conversations_join(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    channel = _channel(sb, args, caller)
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
    channel = _channel(sb, args, caller)
    if channel["is_archived"]:
        raise fail("is_archived")
    _member(channel, caller)
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
    if not errors or _truthy(args.get("force")):
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
    channel = _channel(sb, args, caller)
    rows = [{"id": member} for member in channel["members"]]
    page = _page(args, rows, "members", default=100, maximum=1000)
    page["members"] = [row["id"] for row in page["members"]]
    return page


def _window(args: Json, sb: Sandbox) -> tuple[str, str, bool]:
    oldest = str(args.get("oldest") or "0")
    latest = str(args.get("latest") or f"{sb.now().timestamp() + 1:.6f}")
    return oldest, latest, _truthy(args.get("inclusive"))


def _within(ts: str, oldest: str, latest: str, inclusive: bool) -> bool:
    value, low, high = float(ts), float(oldest), float(latest)
    return low <= value <= high if inclusive else low < value < high


@method("conversations.history")
async def conversations_history(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    """Top-level messages (and thread parents), newest first."""
    channel = _channel(sb, args, caller)
    _member(channel, caller)
    oldest, latest, inclusive = _window(args, sb)
    with_metadata = _truthy(args.get("include_all_metadata"))
    before = _uncursor(args.get("cursor"), "next_ts:")
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
    limit = _limit(args, 100, 999)
    chunk, rest = rows[:limit], rows[limit:]
    return {
        "messages": [message_view(m, with_metadata) for m in chunk],
        "has_more": bool(rest),
        "pin_count": sum(
            1 for m in table(sb, "messages").values() if channel["id"] in m.get("pinned_to", [])
        ),
        "response_metadata": {"next_cursor": _cursor(f"next_ts:{rest[0]['ts']}") if rest else ""},
    }


@method("conversations.replies")
async def conversations_replies(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    """A thread: its parent first, then the replies, oldest first."""
    channel = _channel(sb, args, caller)
    _member(channel, caller)
    parent = _message(sb, channel, args.get("ts"), missing="thread_not_found")
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
    with_metadata = _truthy(args.get("include_all_metadata"))
    page = _page(args, [message_view(m, with_metadata) for m in rows], "messages", 1000, 1000)
    page["has_more"] = bool(page["response_metadata"]["next_cursor"])
    return page


# --- messages ------------------------------------------------------------------------------------


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
        parent = sb.store.get(NAME, "messages", _message_key(channel["id"], thread_ts))
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
        sb.store.save(NAME, "messages", _message_key(channel["id"], parent["ts"]))
    key = _message_key(channel["id"], ts)
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


def _pace(sb: Sandbox, channel: Json) -> None:
    """Slack's one message per second per channel, counted per channel rather than per token."""
    exceeded = sb.quotas.check((PER_CHANNEL,), "POST", f"#channel:{channel['id']}", channel["id"])
    if exceeded:
        raise _quota_error(*exceeded)


@method("chat.postMessage")
async def chat_post_message(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    channel = _channel(sb, args, caller, by_name=True)
    if channel["is_archived"]:
        raise fail("is_archived")
    _member(channel, caller)
    text = str(args.get("text") or "")
    blocks = _blocks(args.get("blocks"))
    if not text and not blocks and not args.get("attachments"):
        raise fail("no_text")
    if len(text) > MAX_TEXT:
        raise fail("msg_too_long")
    metadata = _metadata(args.get("metadata"))
    thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
    if thread_ts:
        _message(sb, channel, thread_ts, missing="thread_not_found")
    _pace(sb, channel)
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
    channel = _channel(sb, args, caller)
    message = _message(sb, channel, args.get("ts"))
    if message.get("user") != caller:
        raise fail("cant_update_message")
    if "text" in args:
        message["text"] = str(args["text"] or "")
    if "blocks" in args:
        blocks = _blocks(args["blocks"])
        if blocks is None:
            message.pop("blocks", None)
        else:
            message["blocks"] = blocks
    if "metadata" in args:
        metadata = _metadata(args["metadata"])
        if metadata is not None:
            message["metadata"] = metadata
    if len(message["text"]) > MAX_TEXT:
        raise fail("msg_too_long")
    message["edited"] = {"user": caller, "ts": next_ts(sb)}
    key = _message_key(channel["id"], message["ts"])
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
    channel = _channel(sb, args, caller)
    message = _message(sb, channel, args.get("message_ts"))
    link = f"{base_url(request, NAME)}/archives/{channel['id']}/p{message['ts'].replace('.', '')}"
    if message.get("thread_ts") and message["thread_ts"] != message["ts"]:
        link += f"?thread_ts={message['thread_ts']}&cid={channel['id']}"
    return {"channel": channel["id"], "permalink": link}


@method("pins.add")
async def pins_add(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    channel = _channel(sb, args, caller)
    if not args.get("timestamp"):
        raise fail("no_item_specified")
    _member(channel, caller)
    message = _message(sb, channel, args["timestamp"])
    if channel["id"] in message.get("pinned_to", []):
        raise fail("already_pinned")
    message["pinned_to"] = [*message.get("pinned_to", []), channel["id"]]
    sb.store.save(NAME, "messages", _message_key(channel["id"], message["ts"]))
    pin = {"created": int(sb.now().timestamp()), "created_by": caller}
    sb.store.put(NAME, "pins", _message_key(channel["id"], message["ts"]), pin)
    return {}


@method("pins.list")
async def pins_list(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    """The channel's pinned messages, newest pin first: `{"items": [{"type": "message",
    "channel", "message", "created", "created_by"}]}` (no paging, as in Slack)."""
    channel = _channel(sb, args, caller)
    items = []
    for message in table(sb, "messages").values():
        if channel["id"] not in message.get("pinned_to", []):
            continue
        pin = sb.store.get(NAME, "pins", _message_key(channel["id"], message["ts"])) or {}
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
        payload = json.loads(await request.body())
    except ValueError:
        return PlainTextResponse("invalid_payload", 400)
    if not isinstance(payload, dict):
        return PlainTextResponse("invalid_payload", 400)
    text = str(payload.get("text") or "")
    try:
        blocks = _blocks(payload.get("blocks"))
    except ApiError:
        return PlainTextResponse("invalid_blocks", 400)
    if not text and not blocks:
        return PlainTextResponse("no_text", 400)
    channel = sb.store.get(NAME, "channels", hook["channel_id"])
    if channel is None or channel["is_archived"]:
        return PlainTextResponse("channel_is_archived", 410)
    _pace(sb, channel)
    post_message(
        sb, channel, text, user=None, bot_id=hook["bot_id"], blocks=blocks, subtype="bot_message"
    )
    return PlainTextResponse("ok")


# --- the pages behind permalinks and channel links ------------------------------------------------

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
    message = sb.store.get(NAME, "messages", _message_key(channel_id, ts))
    if message is None:
        return web.not_found("Slack", f"message {ts} in {channel_id}")
    shown = sb.store.get(NAME, "rendered", _message_key(channel_id, ts)) or {}
    title = str(shown.get("text") or message["text"]).partition("\n")[0][:120]
    return web.object_page("Slack", "message", title, message)


# --- seed ----------------------------------------------------------------------------------------


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


# --- the system ----------------------------------------------------------------------------------

# Web API rate-limit tiers, per method per workspace per app (https://docs.slack.dev/apis/web-api/
# rate-limits and each method's reference page): Tier 2 "20+ per minute", Tier 3 "50+ per minute",
# Tier 4 "100+ per minute". chat.postMessage is "Special": about one message per second per
# channel, like incoming webhooks.
TIERS = {
    "conversations.create": 2,
    "conversations.list": 2,
    "pins.add": 2,
    "pins.list": 2,
    "users.list": 2,
    "chat.update": 3,
    "conversations.history": 3,
    "conversations.info": 3,
    "conversations.invite": 3,
    "conversations.join": 3,
    "conversations.replies": 3,
    "users.lookupByEmail": 3,
    "conversations.members": 4,
    "users.info": 4,
}
PER_MINUTE = {2: 20, 3: 50, 4: 100}


def _for_method(name: str) -> Callable[[str, str], bool]:
    path = f"/{NAME}/api/{name}"
    return lambda method_, request_path: request_path == path


PER_CHANNEL = Quota(
    "slack.chat-post-per-channel",
    "one message per second per channel (chat.postMessage and incoming webhooks)",
    1,
    1.0,
    # counted by the handlers per channel, never by the middleware per token
    lambda method_, path: path.startswith("#channel:"),
)
QUOTAS = (
    *(
        Quota(
            f"slack.{name}",
            f"{name}: Tier {tier}, {PER_MINUTE[tier]}+ per minute",
            PER_MINUTE[tier],
            60,
            _for_method(name),
        )
        for name, tier in TIERS.items()
    ),
    PER_CHANNEL,
)


def is_write(http_method: str, path: str) -> bool:
    """A Web API call writes unless it is a read method, whatever its HTTP verb."""
    prefix = f"/{NAME}/api/"
    if path.startswith(prefix):
        return path[len(prefix) :] not in READ_METHODS
    return http_method not in ("GET", "HEAD", "OPTIONS")


SYSTEM = System(
    name=NAME,
    router=router,
    render_error=render_error,
    seed=seed,
    quotas=QUOTAS,
    quota_error=_quota_error,
    is_write=is_write,
    pages=pages,
)
