"""Slack's Web API conventions: the method dispatch, arguments, the token, errors and paging.

As documented at https://docs.slack.dev/reference/methods:
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
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from sandbox import seed as demo
from sandbox.core import ApiError, Json, Quota, Sandbox, SandboxDep
from sandbox.kit import bearer_token, json_object, parse_json

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


def quota_error(quota: Quota, wait: float) -> ApiError:
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


def message_key(channel_id: str, ts: str) -> str:
    return f"{channel_id}-{ts}"


def encode_cursor(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def uncursor(cursor: str | None, prefix: str) -> str | None:
    if not cursor:
        return None
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except ValueError:
        raise fail("invalid_cursor") from None
    if not text.startswith(prefix):
        raise fail("invalid_cursor")
    return text[len(prefix) :]


def truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes")


def limit_of(args: Json, default: int, maximum: int) -> int:
    raw = args.get("limit")
    if raw in (None, "", 0, "0"):
        return default
    try:
        return max(1, min(int(raw), maximum))
    except ValueError:
        raise fail("invalid_limit") from None


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


async def arguments(request: Request) -> Json:
    """The method's arguments from the query string, a form body or a JSON body."""
    args: Json = dict(request.query_params)
    raw = await request.body()
    if raw.strip():
        if request.headers.get("content-type", "").startswith("application/json"):
            args.update(json_object(raw, fail("invalid_json")))
        else:
            args.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return args


def caller_of(request: Request, args: Json) -> str:
    """The bot's user id, once the token checks out."""
    token = bearer_token(request) or str(args.get("token") or "")
    if not token:
        raise fail("not_authed")
    if not re.fullmatch(r"xox[bp]-[A-Za-z0-9-]+", token):
        raise fail("invalid_auth")
    return bot_user_id()


def channel_of(
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


def require_member(channel: Json, caller: str) -> None:
    if caller not in channel["members"]:
        raise fail("not_in_channel")


def message_of(sb: Sandbox, channel: Json, ts: Any, missing: str = "message_not_found") -> Json:
    message = sb.store.get(NAME, "messages", message_key(channel["id"], str(ts or "")))
    if message is None:
        raise fail(missing)
    return message


def metadata_of(value: Any) -> Json | None:
    """chat.postMessage's `metadata`: a JSON object, or its JSON text in a form body."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        value = parse_json(value, fail("invalid_metadata_format"))
    if not isinstance(value, dict):
        raise fail("invalid_metadata_format")
    event_type, payload = value.get("event_type"), value.get("event_payload")
    if not isinstance(event_type, str) or not event_type or not isinstance(payload, dict):
        raise fail("invalid_metadata_schema")
    return {"event_type": event_type, "event_payload": payload}


def blocks_of(value: Any) -> list[Json] | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        value = parse_json(value, fail("invalid_blocks_format"))
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
    args = await arguments(request)
    caller = caller_of(request, args)
    answer = await handler(sb, request, args, caller)
    return answer if isinstance(answer, Response) else {"ok": True, **answer}


def paged(
    args: Json, rows: list[Json], key: str, default: int, maximum: int, extra: Json | None = None
) -> Json:
    """Cursor paging over a stable list: the cursor holds the offset, base64 like Slack's."""
    limit = limit_of(args, default, maximum)
    start = int(uncursor(args.get("cursor"), "offset:") or 0)
    chunk = rows[start : start + limit]
    more = start + limit < len(rows)
    return {
        key: chunk,
        **(extra or {}),
        "response_metadata": {
            "next_cursor": encode_cursor(f"offset:{start + limit}") if more else ""
        },
    }
