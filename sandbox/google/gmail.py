"""Gmail API v1 stand-in: the PS team's mailbox (`sandbox.seed.PS_MAILBOX`, userId `me`).

A message is kept as Gmail keeps it: the RFC 822 bytes (`raw`, base64url) plus labels, thread and
dates; every format of messages.get is derived from the bytes with the `email` package.

What Gmail does to a message sent through the API, and this stand-in copies:
- it replaces the client's `Message-ID` with its own `<CA...@mail.gmail.com>` (reported by lieer
  #198, FlowCrypt #4273: "sending via the API creates new ones", and the original is not kept), so
  a client-chosen Message-ID can NOT be found again with `rfc822msgid:`;
- it adds `Date` when missing and puts the account's address in `From` when it is missing or not
  the account's;
- a message joins the requested `threadId` only when its In-Reply-To/References name a message of
  that thread and the subjects match (users.messages `threadId` docs); otherwise it starts a new one.
Header values are kept as parsed: text that looks like a header inside a value stays in that value.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import hashlib
import html
import re
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, Field

from sandbox.core import ApiError, Json, Quota, Sandbox, SandboxDep
from sandbox.google import common
from sandbox.seed import PS_MAILBOX

router = APIRouter(tags=["google-gmail"])
control = APIRouter(tags=["google-gmail-control"])

_PREFIX = "/google/gmail/v1/users/"
_KIND = "message"  # stored under system "google"; ids are Gmail's 16 hex digits


def _is_send(method: str, path: str) -> bool:
    return path.startswith(_PREFIX) and path.endswith(("/messages/send", "/drafts/send"))


def _is_other(method: str, path: str) -> bool:
    return path.startswith(_PREFIX) and not _is_send(method, path)


# Published limits (https://developers.google.com/gmail/api/reference/quota): 15,000 quota units
# per user per minute; messages.send costs 100 units, messages.get/list/modify and threads.get 5
# (labels.list 1, counted as 5 here). The core counts requests, not units, so the per-user budget
# is split by cost: 150 sends, or 3,000 other calls, per minute.
QUOTAS: tuple[Quota, ...] = (
    Quota(
        "google.gmail-send-per-user", "messages.send: 100 of 15,000 units/min", 150, 60, _is_send
    ),
    Quota("google.gmail-read-per-user", "5-unit calls: 5 of 15,000 units/min", 3000, 60, _is_other),
)


def quota_error(quota: Quota, wait: float) -> ApiError | None:
    """Gmail answers a user over its rate with 429 and the time to retry in the message (not in a
    Retry-After header): "User-rate limit exceeded.  Retry after <RFC 3339>"."""
    if quota not in QUOTAS:
        return None
    retry = datetime.now().astimezone() + timedelta(seconds=wait)
    stamp = retry.strftime("%Y-%m-%dT%H:%M:%S.") + f"{retry.microsecond // 1000:03d}Z"
    return ApiError(429, f"User-rate limit exceeded.  Retry after {stamp}", "rateLimitExceeded")


SYSTEM_LABELS = (
    "INBOX",
    "SENT",
    "UNREAD",
    "STARRED",
    "IMPORTANT",
    "TRASH",
    "SPAM",
    "DRAFT",
    "CHAT",
    "CATEGORY_PERSONAL",
    "CATEGORY_SOCIAL",
    "CATEGORY_PROMOTIONS",
    "CATEGORY_UPDATES",
    "CATEGORY_FORUMS",
)


# --- the mailbox ---------------------------------------------------------------------------------


def _mailbox(user_id: str) -> str:
    """`me` and the account's own address name the PS mailbox; a service account may not read
    anyone else's."""
    if user_id in ("me", PS_MAILBOX):
        return PS_MAILBOX
    raise ApiError(403, f"Delegation denied for {PS_MAILBOX}", "forbidden")


def _messages(sb: Sandbox) -> list[Json]:
    """Newest first, as Gmail lists them."""
    return sorted(
        sb.store.table(common.SYSTEM, _KIND).values(),
        key=lambda m: (int(m["internalDate"]), m["id"]),
        reverse=True,
    )


def _get(sb: Sandbox, message_id: str) -> Json:
    if not re.fullmatch(r"[0-9a-f]{1,16}", message_id):
        raise ApiError(400, "Invalid id value", "invalidArgument")
    message = sb.store.get(common.SYSTEM, _KIND, message_id)
    if message is None:
        raise ApiError(404, "Requested entity was not found.", "notFound")
    return message


def _history_id(sb: Sandbox) -> str:
    return str(sb.store.next_id("google.gmail.history", 1000))


def _raw_bytes(message: Json) -> bytes:
    return base64.urlsafe_b64decode(message["raw"])


def _parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _decode_raw(raw: Any) -> bytes:
    if not isinstance(raw, str) or not raw:
        raise ApiError(
            400,
            "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
            "invalidArgument",
        )
    try:  # Gmail takes base64url; padding may be left out
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        raise ApiError(400, "Invalid value for ByteString", "invalidArgument") from None


def _split_headers(data: bytes) -> tuple[list[bytes], bytes, bytes]:
    """The header block as logical headers (folded lines kept), the line ending, and the rest."""
    ends = [i for i in (data.find(b"\r\n\r\n"), data.find(b"\n\n")) if i >= 0]
    cut = min(ends) if ends else len(data)
    eol = b"\r\n" if data[cut : cut + 2] == b"\r\n" or b"\r\n" in data[:cut] else b"\n"
    headers: list[bytes] = []
    for line in data[:cut].split(eol):
        if line[:1] in (b" ", b"\t") and headers:
            headers[-1] += eol + line
        elif line:
            headers.append(line)
    return headers, eol, data[cut:]


def _with_headers(data: bytes, replace: dict[str, str]) -> bytes:
    """The message with the named headers replaced (or added), edited on the bytes so every other
    header stays exactly as the client wrote it."""
    headers, eol, rest = _split_headers(data)
    names = {name.lower() for name in replace}
    kept = [
        h for h in headers if h.split(b":", 1)[0].strip().decode("latin-1").lower() not in names
    ]
    added = [f"{name}: {value}".encode() for name, value in replace.items()]
    if not rest:
        rest = eol
    return eol.join(kept + added) + rest


def _normal_subject(subject: str) -> str:
    return re.sub(r"^\s*((re|fwd?|aw|wg)\s*:\s*)*", "", subject or "", flags=re.I).strip().lower()


def _ids(value: str | None) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value or "")


def _header(parsed: EmailMessage, name: str) -> str:
    value = parsed.get(name)
    return str(value) if value is not None else ""


def _find_by_message_id(sb: Sandbox, message_id: str) -> Json | None:
    wanted = message_id.strip().strip("<>").lower()
    for message in _messages(sb):
        if message.get("messageId", "").strip("<>").lower() == wanted:
            return message
    return None


def _thread_of(
    sb: Sandbox, parsed: EmailMessage, requested: str | None, inbound: bool
) -> str | None:
    """The thread a new message joins, or None for a new one. It must answer (In-Reply-To or
    References) a message of that thread with the same subject; on send, the thread must also be
    the one the client asked for."""
    subject = _normal_subject(_header(parsed, "Subject"))
    refs = _ids(_header(parsed, "In-Reply-To")) + _ids(_header(parsed, "References"))
    for ref in reversed(refs):  # the nearest ancestor first
        parent = _find_by_message_id(sb, ref)
        if parent is None or _normal_subject(parent.get("subject", "")) != subject:
            continue
        if inbound or parent["threadId"] == requested:
            return str(parent["threadId"])
    return None


def _store(sb: Sandbox, data: bytes, labels: list[str], thread_id: str | None) -> Json:
    """Keep a message; its id grows with time like Gmail's."""
    stamp = int(sb.now().timestamp() * 1000)
    message_id = f"{(stamp << 20) + sb.store.next_id('google.gmail.message') % (1 << 20):016x}"
    parsed = _parse(data)
    message = {
        "id": message_id,
        "threadId": thread_id or message_id,
        "labelIds": labels,
        "historyId": _history_id(sb),
        "internalDate": str(stamp),
        "sizeEstimate": len(data),
        "messageId": _header(parsed, "Message-ID").strip(),  # as folded: white space around
        "subject": _header(parsed, "Subject"),
        "raw": _b64(data),
    }
    return sb.store.put(common.SYSTEM, _KIND, message_id, message)


def _gmail_message_id(sb: Sandbox) -> str:
    digest = hashlib.sha256(f"gmail:{sb.store.next_id('google.gmail.rfc822')}".encode()).digest()
    token = base64.b64encode(digest).decode("ascii")[:40].replace("/", "_")
    return f"<CA{token}@mail.gmail.com>"


# --- search --------------------------------------------------------------------------------------

_TERM = re.compile(r'(-?)(?:([A-Za-z0-9_]+):)?("[^"]*"|\S+)')
_PST = ZoneInfo("America/Los_Angeles")  # Gmail reads query dates as midnight Pacific time


def _text(parsed: EmailMessage) -> str:
    """The message's readable text: its text/plain part, else its HTML without tags."""
    for kind in ("plain", "html"):
        part = parsed.get_body(preferencelist=(kind,))
        if part is not None:
            content = part.get_content()
            text = content if isinstance(content, str) else content.decode("utf-8", "replace")
            return re.sub(r"<[^>]+>", " ", text) if kind == "html" else text
    return ""


def _addresses(parsed: EmailMessage, *names: str) -> str:
    values = [str(v) for n in names for v in parsed.get_all(n, [])]
    return " ".join(f"{name} {addr}" for name, addr in getaddresses(values)).lower()


def _contains(haystack: str, needle: str) -> bool:
    words = [re.escape(w) for w in needle.lower().split()]
    return bool(words) and re.search(r"\b" + r"\s+".join(words) + r"\b", haystack) is not None


def _query_time(value: str) -> float:
    if value.isdigit():
        return float(value)  # seconds since the epoch
    parts = [int(p) for p in re.split(r"[/-]", value)]
    return datetime(parts[0], parts[1], parts[2], tzinfo=_PST).timestamp()


def _age(value: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([dmy])", value.lower())
    if not match:
        raise ValueError(value)
    days = {"d": 1, "m": 30, "y": 365}[match[2]] * int(match[1])
    return timedelta(days=days)


def _matches(sb: Sandbox, message: Json, parsed: EmailMessage, key: str, value: str) -> bool:
    labels = set(message["labelIds"])
    when = int(message["internalDate"]) / 1000
    match key:
        case "rfc822msgid":
            return message.get("messageId", "").strip("<>").lower() == value.strip("<>").lower()
        case "from":
            return value.lower() in _addresses(parsed, "From")
        case "to":
            return value.lower() in _addresses(parsed, "To", "Cc", "Bcc")
        case "cc" | "bcc":
            return value.lower() in _addresses(parsed, key.capitalize())
        case "subject":
            return _contains(_header(parsed, "Subject").lower(), value)
        case "in" | "label":
            wanted = value.upper()
            return wanted == "ANYWHERE" or wanted in labels
        case "is":
            if value.lower() == "read":
                return "UNREAD" not in labels
            return value.upper() in labels
        case "after" | "before" | "newer" | "older":
            limit = _query_time(value)
            return when >= limit if key in ("after", "newer") else when < limit
        case "newer_than" | "older_than":
            limit = (sb.now() - _age(value)).timestamp()
            return when > limit if key == "newer_than" else when <= limit
        case "has":
            return value.lower() == "attachment" and any(
                part.get_filename() for part in parsed.walk()
            )
        case _:  # plain words, and operators Gmail does not know, are searched as text
            text = " ".join(
                (
                    _header(parsed, "Subject"),
                    _text(parsed),
                    _addresses(parsed, "From", "To", "Cc"),
                )
            ).lower()
            return _contains(text, f"{key} {value}" if key else value)


def _search(sb: Sandbox, request: Request) -> list[Json]:
    """messages.list's filter: `q` terms (space = AND, `-` = NOT, quotes = phrase), `labelIds`
    (all of them), spam and trash left out unless asked for."""
    params = request.query_params
    query = params.get("q", "")
    label_ids = params.getlist("labelIds")
    include_spam_trash = params.get("includeSpamTrash", "false").lower() == "true"
    terms = [(m[1] == "-", (m[2] or "").lower(), m[3].strip('"')) for m in _TERM.finditer(query)]
    if any(t[1] == "in" and t[2].lower() in ("trash", "spam", "anywhere") for t in terms):
        include_spam_trash = True
    # a stale index (the `stale` fault) has not seen what was written in its last seconds yet
    stale = float(getattr(request.state, "stale_seconds", 0)) if query else 0.0
    indexed_until = (sb.now() - timedelta(seconds=stale)).timestamp() * 1000
    found = []
    for message in _messages(sb):
        if int(message["internalDate"]) > indexed_until:
            continue
        labels = set(message["labelIds"])
        if not include_spam_trash and labels & {"SPAM", "TRASH"}:
            continue
        if not set(label_ids) <= labels:
            continue
        parsed = _parse(_raw_bytes(message))
        try:
            if all(_matches(sb, message, parsed, k, v) != negated for negated, k, v in terms):
                found.append(message)
        except (ValueError, IndexError):
            raise ApiError(400, f"Invalid query: {query}", "invalidArgument") from None
    return found


def _page(items: list[Json], request: Request) -> tuple[list[Json], str | None]:
    params = request.query_params
    try:
        size = min(max(int(params.get("maxResults", 100)), 1), 500)
        start = int(params.get("pageToken") or 0)
    except ValueError:
        raise ApiError(400, "Invalid pageToken", "invalidArgument") from None
    end = start + size
    return items[start:end], (f"{end:020d}" if end < len(items) else None)


# --- message formats -----------------------------------------------------------------------------


def _snippet(parsed: EmailMessage) -> str:
    return html.escape(" ".join(_text(parsed).split())[:200])


def _part(part: EmailMessage, part_id: str) -> Json:
    """MessagePart: headers as parsed, decoded body bytes in base64url, children in `parts`."""
    out: Json = {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": part.get_filename() or "",
        "headers": [{"name": k, "value": str(v)} for k, v in part.items()],
    }
    if part.is_multipart():
        out["body"] = {"size": 0}
        children = part.get_payload()
        assert isinstance(children, list)
        prefix = f"{part_id}." if part_id else ""
        out["parts"] = [_part(child, f"{prefix}{i}") for i, child in enumerate(children)]
    else:
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        out["body"] = {"size": len(data), "data": _b64(data)} if data else {"size": 0}
    return out


def _resource(message: Json, fmt: str, metadata_headers: list[str]) -> Json:
    out: Json = {
        "id": message["id"],
        "threadId": message["threadId"],
        "labelIds": list(message["labelIds"]),
        "snippet": "",
        "sizeEstimate": message["sizeEstimate"],
        "historyId": message["historyId"],
        "internalDate": message["internalDate"],
    }
    data = _raw_bytes(message)
    parsed = _parse(data)
    out["snippet"] = _snippet(parsed)
    if fmt == "raw":
        out["raw"] = message["raw"]
    elif fmt == "full":
        out["payload"] = _part(parsed, "")
    elif fmt == "metadata":
        wanted = {h.lower() for h in metadata_headers}
        headers = [
            {"name": k, "value": str(v)}
            for k, v in parsed.items()
            if not wanted or k.lower() in wanted
        ]
        out["payload"] = {"partId": "", "mimeType": parsed.get_content_type(), "headers": headers}
    elif fmt != "minimal":
        raise ApiError(400, f"Invalid value at 'format' ({fmt})", "invalidArgument")
    return out


def _format(request: Request) -> tuple[str, list[str]]:
    params = request.query_params
    return params.get("format", "full").lower(), params.getlist("metadataHeaders")


# --- routes --------------------------------------------------------------------------------------

BodyDep = Annotated[Json | None, Body()]


@router.post("/gmail/v1/users/{user_id}/messages/send")
async def send(sb: SandboxDep, user_id: str, body: BodyDep = None) -> Json:
    """messages.send with `raw` (and optionally `threadId`): labelled SENT, plus INBOX and UNREAD
    when the mailbox sent to itself."""
    body = body or {}
    message = _send(sb, _mailbox(user_id), _decode_raw(body.get("raw")), body.get("threadId"))
    return {"id": message["id"], "threadId": message["threadId"], "labelIds": message["labelIds"]}


def _send(sb: Sandbox, mailbox: str, data: bytes, requested: str | None) -> Json:
    """Send the message `data`: Gmail's Message-ID, Date and From, its thread, SENT."""
    parsed = _parse(data)
    recipients = [
        a
        for _, a in getaddresses(
            [str(v) for n in ("To", "Cc", "Bcc") for v in parsed.get_all(n, [])]
        )
        if a
    ]
    if not recipients:
        raise ApiError(400, "Recipient address required", "invalidArgument")
    if requested and not any(m["threadId"] == requested for m in _messages(sb)):
        raise ApiError(400, "Invalid thread_id value", "invalidArgument")
    changes = {"Message-ID": _gmail_message_id(sb)}
    if parsed.get("Date") is None:
        changes["Date"] = format_datetime(sb.now())
    sender = getaddresses([_header(parsed, "From")])
    if not sender or sender[0][1].lower() != mailbox:
        name = sender[0][0] if sender else ""
        changes["From"] = f"{name} <{mailbox}>" if name else mailbox
    data = _with_headers(data, changes)
    thread = _thread_of(sb, parsed, requested, inbound=False) if requested else None
    to_self = mailbox in (a.lower() for a in recipients)
    labels = ["SENT", *(["INBOX", "UNREAD"] if to_self else [])]
    return _store(sb, data, labels, thread)


# --- drafts: a message kept by id, sent by id ----------------------------------------------------

_DRAFT = "draft"  # {id, message}: the draft's id and its message's


def _draft(sb: Sandbox, draft_id: Any) -> Json:
    draft = sb.store.get(common.SYSTEM, _DRAFT, str(draft_id or ""))
    if draft is None:  # never made, deleted, or sent: a sent draft is a draft no more
        raise ApiError(404, "Requested entity was not found.", "notFound")
    return draft


def _draft_view(draft: Json, message: Json) -> Json:
    return {
        "id": draft["id"],
        "message": {"id": message["id"], "threadId": message["threadId"], "labelIds": ["DRAFT"]},
    }


@router.post("/gmail/v1/users/{user_id}/drafts")
async def create_draft(sb: SandboxDep, user_id: str, body: BodyDep = None) -> Json:
    """drafts.create with `message.raw`: the message kept with the DRAFT label, sent by nobody."""
    _mailbox(user_id)
    data = _decode_raw(((body or {}).get("message") or {}).get("raw"))
    message = _store(sb, data, ["DRAFT"], None)
    draft = {"id": f"r{sb.store.next_id('google.gmail.draft', 5_000_000_000_000_000_000)}"}
    draft["message"] = message["id"]
    sb.store.put(common.SYSTEM, _DRAFT, draft["id"], draft)
    return _draft_view(draft, message)


@router.get("/gmail/v1/users/{user_id}/drafts")
async def list_drafts(sb: SandboxDep, request: Request, user_id: str) -> Json:
    """drafts.list: the drafts whose message matches `q`, newest first."""
    _mailbox(user_id)
    by_message = {d["message"]: d for d in sb.store.table(common.SYSTEM, _DRAFT).values()}
    found = [m for m in _search(sb, request) if m["id"] in by_message]
    page, token = _page(found, request)
    out: Json = {"resultSizeEstimate": len(found)}
    if page:
        out["drafts"] = [
            {"id": by_message[m["id"]]["id"], "message": {"id": m["id"], "threadId": m["threadId"]}}
            for m in page
        ]
    if token:
        out["nextPageToken"] = token
    return out


@router.get("/gmail/v1/users/{user_id}/drafts/{draft_id}")
async def get_draft(sb: SandboxDep, request: Request, user_id: str, draft_id: str) -> Json:
    _mailbox(user_id)
    draft = _draft(sb, draft_id)
    return {"id": draft["id"], "message": _resource(_get(sb, draft["message"]), *_format(request))}


@router.delete("/gmail/v1/users/{user_id}/drafts/{draft_id}")
async def delete_draft(sb: SandboxDep, user_id: str, draft_id: str) -> Response:
    _mailbox(user_id)
    draft = _draft(sb, draft_id)
    sb.store.delete(common.SYSTEM, _DRAFT, draft["id"])
    sb.store.delete(common.SYSTEM, _KIND, draft["message"])
    return Response(status_code=204)


@router.post("/gmail/v1/users/{user_id}/drafts/send")
async def send_draft(sb: SandboxDep, user_id: str, body: BodyDep = None) -> Json:
    """drafts.send with the draft's `id`. As the Gmail guide says: "the draft is automatically
    deleted and a new message with an updated ID is created with the SENT system label", so
    sending the same id again is a 404 ("Requested entity was not found.")."""
    mailbox = _mailbox(user_id)
    draft = _draft(sb, (body or {}).get("id"))
    kept = _get(sb, draft["message"])
    message = _send(sb, mailbox, _raw_bytes(kept), None)
    sb.store.delete(common.SYSTEM, _DRAFT, draft["id"])
    sb.store.delete(common.SYSTEM, _KIND, kept["id"])
    return {"id": message["id"], "threadId": message["threadId"], "labelIds": message["labelIds"]}


@router.get("/gmail/v1/users/{user_id}/messages")
async def list_messages(sb: SandboxDep, request: Request, user_id: str) -> Json:
    _mailbox(user_id)
    found = _search(sb, request)
    page, token = _page(found, request)
    out: Json = {"resultSizeEstimate": len(found)}
    if page:
        out["messages"] = [{"id": m["id"], "threadId": m["threadId"]} for m in page]
    if token:
        out["nextPageToken"] = token
    return out


@router.get("/gmail/v1/users/{user_id}/messages/{message_id}")
async def get_message(sb: SandboxDep, request: Request, user_id: str, message_id: str) -> Json:
    _mailbox(user_id)
    return _resource(_get(sb, message_id), *_format(request))


@router.post("/gmail/v1/users/{user_id}/messages/{message_id}/modify")
async def modify_message(
    sb: SandboxDep, user_id: str, message_id: str, body: BodyDep = None
) -> Json:
    _mailbox(user_id)
    message = _get(sb, message_id)
    body = body or {}
    add, remove = body.get("addLabelIds") or [], body.get("removeLabelIds") or []
    for label in (*add, *remove):
        if label not in SYSTEM_LABELS:
            raise ApiError(400, f"Invalid label: {label}", "invalidArgument")
    labels = [label for label in message["labelIds"] if label not in remove]
    labels += [label for label in add if label not in labels]
    message = {**message, "labelIds": labels, "historyId": _history_id(sb)}
    sb.store.put(common.SYSTEM, _KIND, message_id, message)
    return _resource(message, "minimal", [])


@router.get("/gmail/v1/users/{user_id}/threads")
async def list_threads(sb: SandboxDep, request: Request, user_id: str) -> Json:
    """threads.list: a thread is listed when any of its messages matches, newest first."""
    _mailbox(user_id)
    latest: dict[str, Json] = {}
    for message in _search(sb, request):
        latest.setdefault(message["threadId"], message)
    threads = [
        {"id": tid, "snippet": _snippet(_parse(_raw_bytes(m))), "historyId": m["historyId"]}
        for tid, m in latest.items()
    ]
    page, token = _page(threads, request)
    out: Json = {"resultSizeEstimate": len(threads)}
    if page:
        out["threads"] = page
    if token:
        out["nextPageToken"] = token
    return out


@router.get("/gmail/v1/users/{user_id}/threads/{thread_id}")
async def get_thread(sb: SandboxDep, request: Request, user_id: str, thread_id: str) -> Json:
    _mailbox(user_id)
    messages = [m for m in reversed(_messages(sb)) if m["threadId"] == thread_id]
    if not messages:
        raise ApiError(404, "Requested entity was not found.", "notFound")
    fmt, headers = _format(request)
    return {
        "id": thread_id,
        "historyId": max((m["historyId"] for m in messages), key=int),
        "messages": [_resource(m, fmt, headers) for m in messages],
    }


@router.get("/gmail/v1/users/{user_id}/profile")
async def get_profile(sb: SandboxDep, user_id: str) -> Json:
    """users.getProfile: the mailbox's address and counts."""
    mailbox = _mailbox(user_id)
    messages = _messages(sb)
    return {
        "emailAddress": mailbox,
        "messagesTotal": len(messages),
        "threadsTotal": len({m["threadId"] for m in messages}),
        "historyId": str(max((int(m["historyId"]) for m in messages), default=1000)),
    }


@router.get("/gmail/v1/users/{user_id}/labels")
async def list_labels(user_id: str) -> Json:
    _mailbox(user_id)
    return {"labels": [{"id": label, "name": label, "type": "system"} for label in SYSTEM_LABELS]}


# --- control: the customer answers ---------------------------------------------------------------


class Reply(BaseModel):
    message_id: str = Field(
        description="the Message-ID header of the message being answered (or its Gmail id)"
    )
    from_: str | None = Field(
        None, alias="from", description="who answers; default: the first recipient of the message"
    )
    body: str = Field("accepted", description="the text of the reply")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="more headers, e.g. Auto-Submitted: auto-replied for an out-of-office",
    )


@control.post("/gmail/reply")
async def reply(sb: SandboxDep, answer: Reply) -> Json:
    """Deliver a customer's reply to a message psflow sent: In-Reply-To and References name it,
    the subject is "Re: ...", and it arrives in the same thread with INBOX and UNREAD, as Gmail
    threads an incoming answer."""
    original = _find_by_message_id(sb, answer.message_id)
    if original is None and re.fullmatch(r"[0-9a-f]{16}", answer.message_id):
        original = sb.store.get(common.SYSTEM, _KIND, answer.message_id)
    if original is None:
        raise ApiError(404, f"no message with Message-ID {answer.message_id}", "notFound")
    parsed = _parse(_raw_bytes(original))
    sender = answer.from_ or next(
        (a for _, a in getaddresses([_header(parsed, "To")]) if a), "customer@example.com"
    )
    subject = _header(parsed, "Subject")
    reply_msg = EmailMessage()
    reply_msg["From"] = sender
    reply_msg["To"] = PS_MAILBOX
    reply_msg["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    reply_msg["Date"] = format_datetime(sb.now())
    reply_msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    reply_msg["In-Reply-To"] = original["messageId"]
    reply_msg["References"] = " ".join(
        [*_ids(_header(parsed, "References")), original["messageId"]]
    )
    for name, value in answer.headers.items():
        reply_msg[name] = value
    reply_msg.set_content(answer.body)
    data = reply_msg.as_bytes(policy=email.policy.SMTP)
    thread = _thread_of(sb, _parse(data), None, inbound=True)
    message = _store(sb, data, ["INBOX", "UNREAD", "CATEGORY_PERSONAL"], thread)
    return {"id": message["id"], "threadId": message["threadId"], "messageId": message["messageId"]}
