"""The sandbox's shared core: state on disk, the request log, quotas, faults and the clock.

Every system (Salesforce, GitLab, Google, Mavenlink, Slack) is a `System`: a router mounted under
`/<name>`, a renderer for that API's real error shape, its published quotas and its seed data. One ASGI
middleware wraps them all, so logging, quotas and fault injection behave the same for every system.

Handlers are `async def` and never await between reading and writing state: the event loop then runs
each one atomically, the way the real APIs make a create-or-upsert atomic.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Json = dict[str, Any]

# How much of a request body the log keeps; enough to read any psflow write in full.
LOG_BODY_LIMIT = 64 * 1024


class ApiError(Exception):
    """An error answer, rendered in the shape of the system that gives it.

    `code` is the system's own error code or reason (e.g. Salesforce `NOT_FOUND`, Google `notFound`,
    Slack `channel_not_found`); each system's renderer decides where it goes in the body.
    """

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def default_error(err: ApiError) -> Response:
    return JSONResponse({"error": err.message, "code": err.code}, err.status, err.headers)


# --- storage -------------------------------------------------------------------------------------


class Store:
    """Tables of JSON objects kept in memory and written through to SQLite, so state survives a
    restart. `table()` returns the live dict: mutate an object, then `save()` it."""

    def __init__(self, path: Path | None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            str(path) if path else ":memory:", check_same_thread=False, isolation_level=None
        )
        self._db.executescript(
            """
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            CREATE TABLE IF NOT EXISTS objects (
                system TEXT, kind TEXT, id TEXT, seq INTEGER, data TEXT,
                PRIMARY KEY (system, kind, id));
            CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER);
            CREATE TABLE IF NOT EXISTS requests (
                id INTEGER PRIMARY KEY, time REAL, system TEXT, service TEXT, method TEXT,
                path TEXT, query TEXT, status INTEGER, duration_ms REAL, write INTEGER,
                fault TEXT, quota TEXT, auth TEXT, body TEXT);
            CREATE TABLE IF NOT EXISTS responses (id INTEGER PRIMARY KEY, body TEXT);
            """
        )
        self._tables: dict[tuple[str, str], dict[str, Json]] = defaultdict(dict)
        self._seq = 0
        for system, kind, id_, seq, data in self._db.execute(
            "SELECT system, kind, id, seq, data FROM objects ORDER BY seq"
        ):
            self._tables[(system, kind)][id_] = json.loads(data)
            self._seq = max(self._seq, seq)

    @property
    def empty(self) -> bool:
        return not any(self._tables.values())

    def table(self, system: str, kind: str) -> dict[str, Json]:
        """The live objects of one kind, in creation order."""
        return self._tables[(system, kind)]

    def kinds(self, system: str) -> list[str]:
        return [kind for (sys_, kind), rows in self._tables.items() if sys_ == system and rows]

    def get(self, system: str, kind: str, id_: str) -> Json | None:
        return self._tables[(system, kind)].get(str(id_))

    def put(self, system: str, kind: str, id_: str, obj: Json) -> Json:
        id_ = str(id_)
        self._tables[(system, kind)][id_] = obj
        self._seq += 1
        self._db.execute(
            "INSERT INTO objects VALUES (?, ?, ?, ?, ?) ON CONFLICT (system, kind, id) "
            "DO UPDATE SET data = excluded.data",
            (system, kind, id_, self._seq, json.dumps(obj)),
        )
        return obj

    def save(self, system: str, kind: str, id_: str) -> Json:
        return self.put(system, kind, id_, self._tables[(system, kind)][str(id_)])

    def delete(self, system: str, kind: str, id_: str) -> None:
        self._tables[(system, kind)].pop(str(id_), None)
        self._db.execute(
            "DELETE FROM objects WHERE system = ? AND kind = ? AND id = ?", (system, kind, str(id_))
        )

    def next_id(self, name: str, start: int = 1) -> int:
        """A counter that never repeats, even across restarts."""
        row = self._db.execute(
            "INSERT INTO counters VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + 1 "
            "RETURNING value",
            (name, start),
        ).fetchone()
        return int(row[0])

    def constant(self, name: str, make: Callable[[], int]) -> int:
        """A value drawn once for this store (`make()` on first use), kept across resets and
        restarts."""
        self._db.execute(
            "INSERT INTO counters VALUES (?, ?) ON CONFLICT (name) DO NOTHING", (name, make())
        )
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0])

    def objects(self) -> dict[tuple[str, str], dict[str, Json]]:
        """A copy of every object, by system and kind (a snapshot's)."""
        return {key: json.loads(json.dumps(rows)) for key, rows in self._tables.items() if rows}

    def replace(self, objects: dict[tuple[str, str], dict[str, Json]]) -> None:
        """Every object and the request log forgotten, then these objects held (copied)."""
        self.clear()
        for (system, kind), rows in objects.items():
            for id_, obj in json.loads(json.dumps(rows)).items():
                self.put(system, kind, id_, obj)

    def clear(self) -> None:
        """Forget every object and the request log. Counters go on: like the real systems, the
        sandbox never hands out an id twice, even across resets (events are keyed by ids)."""
        self._tables.clear()
        # the log's ids start again after a reset: the answers kept for the old ones go with them
        self._db.executescript("DELETE FROM objects; DELETE FROM requests; DELETE FROM responses;")

    # The request log lives beside the objects so a restart keeps both.
    def log(self, record: RequestRecord) -> int:
        cur = self._db.execute(
            "INSERT INTO requests (time, system, service, method, path, query, status, "
            "duration_ms, write, fault, quota, auth, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                record.time,
                record.system,
                record.service,
                record.method,
                record.path,
                record.query,
                record.status,
                record.duration_ms,
                int(record.write),
                record.fault,
                record.quota,
                record.auth,
                record.body,
            ),
        )
        return int(cur.lastrowid or 0)

    def keep_response(self, request_id: int, body: bytes) -> None:
        text = body.decode("utf-8", "replace")
        self._db.execute("INSERT INTO responses (id, body) VALUES (?, ?)", (request_id, text))

    def responses(self, ids: list[int]) -> dict[int, str]:
        """The answers kept for these requests (while `Sandbox.keep_responses` was on)."""
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(f"SELECT id, body FROM responses WHERE id IN ({marks})", ids)
        return {int(id_): str(body) for id_, body in rows}

    def requests(self, where: str = "", params: tuple[Any, ...] = ()) -> Iterator[Json]:
        cur = self._db.execute(f"SELECT * FROM requests {where} ORDER BY id", params)
        names = [d[0] for d in cur.description]
        for row in cur:
            rec = dict(zip(names, row, strict=True))
            rec["write"] = bool(rec["write"])
            yield rec

    def clear_requests(self) -> None:
        self._db.execute("DELETE FROM requests")
        self._db.execute("DELETE FROM responses")

    def close(self) -> None:
        self._db.close()


@dataclass
class RequestRecord:
    """One line of the request log: what tests and benchmarks count."""

    time: float
    system: str
    service: str
    method: str
    path: str
    query: str
    write: bool
    auth: str
    body: str
    status: int = 0
    duration_ms: float = 0.0
    fault: str | None = None
    quota: str | None = None


# --- quotas --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quota:
    """A published per-window request quota of one system, e.g. Sheets' 60 write requests per minute
    per user. `applies(method, path)` says whether a request counts toward it."""

    id: str  # "<system>.<name>", e.g. "google.sheets-write-per-user"
    description: str
    limit: int
    window_seconds: float
    applies: Callable[[str, str], bool]
    per_user: bool = True


class Quotas:
    """Sliding-window counters, switched on per sandbox (off by default, so tests run unthrottled)."""

    def __init__(self) -> None:
        self.enabled = False
        self.overrides: dict[str, int] = {}
        self.window_overrides: dict[str, float] = {}
        self._hits: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def limit(self, quota: Quota) -> int:
        return self.overrides.get(quota.id, quota.limit)

    def window(self, quota: Quota) -> float:
        return self.window_overrides.get(quota.id, quota.window_seconds)

    def check(
        self, quotas: tuple[Quota, ...], method: str, path: str, user: str
    ) -> tuple[Quota, float] | None:
        """Count this request; return the exceeded quota and the seconds until a slot frees up."""
        now = time.monotonic()
        counted: list[deque[float]] = []
        for quota in quotas:
            if not quota.applies(method, path):
                continue
            hits = self._hits[(quota.id, user if quota.per_user else "")]
            while hits and hits[0] <= now - self.window(quota):
                hits.popleft()
            if self.enabled and len(hits) >= self.limit(quota):
                return quota, max(hits[0] + self.window(quota) - now, 0.001)
            counted.append(hits)
        for hits in counted:
            hits.append(now)
        return None

    def used(self, quota: Quota, user: str = "") -> int:
        now = time.monotonic()
        hits = self._hits[(quota.id, user if quota.per_user else "")]
        return sum(1 for t in hits if t > now - self.window(quota))

    def reset(self) -> None:
        self._hits.clear()


# --- faults --------------------------------------------------------------------------------------


class Fault(BaseModel):
    """A fault injected on the requests whose method and path match.

    kind: `status` answers `status` in the system's error shape; `drop` closes the connection with no
    answer; `delay` waits `delay` seconds and then answers normally (a client timeout); `stale`
    answers a search from an index `delay` seconds behind (Gmail's `q` does not promise to find
    at once what was just written).
    after_commit: apply the request first, then fail it as `kind` says: the write happened, the
    client sees an error.
    """

    method: str | None = Field(None, description="HTTP method to match; any when empty")
    path: str = Field(description="regular expression matched against the whole request path")
    kind: Literal["status", "drop", "delay", "stale"] = "status"
    status: int = Field(503, ge=400, le=599)
    retry_after: int | None = Field(None, ge=0, description="seconds sent in a Retry-After header")
    delay: float = Field(0.0, ge=0)
    after_commit: bool = False
    times: int | None = Field(1, ge=1, description="how many requests it hits; forever when null")
    skip: int = Field(0, ge=0, description="matching requests let through before the first hit")
    hits: int = 0
    passed: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return re.fullmatch(self.path, path) is not None

    def label(self) -> str:
        what = {
            "status": str(self.status),
            "drop": "drop",
            "delay": f"delay {self.delay}s",
            "stale": f"stale {self.delay}s",
        }[self.kind]
        return f"{what} after commit" if self.after_commit else what


class Faults:
    def __init__(self) -> None:
        self.active: list[Fault] = []

    def take(self, method: str, path: str) -> Fault | None:
        for fault in self.active:
            if fault.matches(method, path):
                if fault.passed < fault.skip:
                    fault.passed += 1
                    continue
                fault.hits += 1
                if fault.times is not None and fault.hits >= fault.times:
                    self.active.remove(fault)
                return fault
        return None


# --- clock ---------------------------------------------------------------------------------------


class Clock:
    """The sandbox's idea of now, which the control API can move forward (business-day timers)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


# --- systems and the sandbox ---------------------------------------------------------------------


def _default_is_write(method: str, path: str) -> bool:
    return method not in ("GET", "HEAD", "OPTIONS")


@dataclass
class System:
    """One stand-in API, mounted under `/<name>`."""

    name: str
    router: APIRouter
    render_error: Callable[[ApiError], Response] = default_error
    seed: Callable[[Sandbox], None] = lambda sb: None
    quotas: tuple[Quota, ...] = ()
    quota_error: Callable[[Quota, float], ApiError] = lambda q, wait: ApiError(
        429,
        f"Rate limit exceeded: {q.description}",
        "rate_limited",
        {"Retry-After": str(int(wait) + 1)},
    )
    is_write: Callable[[str, str], bool] = _default_is_write
    service: Callable[[str], str] | None = None  # finer name for the log, e.g. google -> sheets
    control: APIRouter | None = None  # routes under /_sandbox/<name>: the other people's actions
    pages: APIRouter | None = None  # the web pages its links open (sandbox/pages.py), after the API
    validation_status: int = 400


@dataclass(frozen=True)
class Snapshot:
    objects: dict[tuple[str, str], dict[str, Json]]
    clock: timedelta


@dataclass
class Sandbox:
    """Everything the handlers share, reachable in a route as the `SandboxDep` dependency."""

    store: Store
    systems: dict[str, System]
    quotas: Quotas = field(default_factory=Quotas)
    faults: Faults = field(default_factory=Faults)
    clock: Clock = field(default_factory=Clock)
    # Keep every answer's body beside its request (a test compares them with the vendors' specs)
    keep_responses: bool = False
    snapshots: dict[str, Snapshot] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock.now()

    def system_for(self, path: str) -> System | None:
        head = path.split("/", 2)[1] if path.startswith("/") else ""
        return self.systems.get(head)

    def reset(self, seed: bool = True) -> None:
        self.store.clear()
        self._settle()
        if seed:
            for system in self.systems.values():
                system.seed(self)

    def snapshot(self, name: str) -> None:
        """Keep every object and the clock under `name`, for `restore` (in memory only)."""
        self.snapshots[name] = Snapshot(self.store.objects(), self.clock.offset)

    def restore(self, name: str) -> None:
        """Back to the snapshot `name`, as `reset` is back to the seed: its objects and clock, an
        empty request log, no faults or quotas. Ids go on: none handed out since comes again."""
        snapshot = self.snapshots[name]
        self.store.replace(snapshot.objects)
        self._settle()
        self.clock.offset = snapshot.clock

    def _settle(self) -> None:
        self.faults.active.clear()
        self.quotas.reset()
        self.quotas.enabled = False
        self.quotas.overrides.clear()
        self.quotas.window_overrides.clear()
        self.clock.offset = timedelta()
        self.keep_responses = False

    # small conveniences for system modules
    def table(self, system: str, kind: str) -> MutableMapping[str, Json]:
        return self.store.table(system, kind)


def get_sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]


def base_url(request: Request, system: str) -> str:
    """The URL under which a system is reached by this request's client, e.g. for links."""
    return f"{str(request.base_url).rstrip('/')}/{system}"


# --- the middleware ------------------------------------------------------------------------------


class SandboxMiddleware:
    """Logs every request to a system, enforces quotas and injects faults.

    Control requests (`/_sandbox/...`) pass straight through and are not logged, so what tests count
    is only what psflow sent.
    """

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        system = self.sandbox.system_for(path)
        if system is None:
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        body = await _read_body(receive)
        replay = _replay(body, receive)
        method = scope["method"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        auth = headers.get("authorization") or headers.get("private-token") or ""
        record = RequestRecord(
            time=self.sandbox.now().timestamp(),
            system=system.name,
            service=system.service(path) if system.service else system.name,
            method=method,
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            write=system.is_write(method, path),
            auth=auth,
            body=body[:LOG_BODY_LIMIT].decode("utf-8", "replace"),
        )
        status_box = [0]
        answer = bytearray() if self.sandbox.keep_responses else None

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
            elif message["type"] == "http.response.body" and answer is not None:
                answer.extend(message.get("body", b""))
            await send(message)

        try:
            exceeded = self.sandbox.quotas.check(system.quotas, method, path, auth)
            if exceeded:
                quota, wait = exceeded
                record.quota = quota.id
                await system.render_error(system.quota_error(quota, wait))(
                    scope, replay, send_logged
                )
                return
            fault = self.sandbox.faults.take(method, path)
            if fault is None:
                await self.app(scope, replay, send_logged)
                return
            record.fault = fault.label()
            if fault.kind == "stale":  # the system's search reads it from the request's state
                scope.setdefault("state", {})["stale_seconds"] = fault.delay
                await self.app(scope, replay, send_logged)
                return
            await self._inject(fault, system, scope, replay, send_logged, send)
        finally:
            record.status = status_box[0]
            record.duration_ms = (time.perf_counter() - started) * 1000
            request_id = self.sandbox.store.log(record)
            if answer is not None:
                self.sandbox.store.keep_response(request_id, bytes(answer))

    async def _inject(
        self,
        fault: Fault,
        system: System,
        scope: Scope,
        receive: Receive,
        send: Callable[[Message], Awaitable[None]],
        raw_send: Send,
    ) -> None:
        answer: list[Message] = []
        if fault.after_commit:
            await self.app(scope, receive, _collect(answer))
        if fault.kind == "delay":
            await asyncio.sleep(fault.delay)
            if not fault.after_commit:
                await self.app(scope, receive, send)
            for message in answer:  # the write was applied before the wait: answer it, late
                await send(message)
            return
        if fault.kind == "drop":
            _drop_connection(raw_send)
            return
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        error = ApiError(
            fault.status, f"Injected fault: HTTP {fault.status}", _reason(fault.status), headers
        )
        await system.render_error(error)(scope, receive, send)


def _collect(messages: list[Message]) -> Send:
    async def collect(message: Message) -> None:
        messages.append(message)

    return collect


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _drop_connection(send: Send) -> None:
    """Close the TCP connection without an answer, as a crashed proxy would.

    uvicorn's `send` is a bound method of the request cycle, which holds the transport; aborting it
    resets the connection, so the client sees a connection error rather than an HTTP status.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("sandbox fault: connection dropped")
    transport.abort()


_REASONS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "notFound",
    409: "conflict",
    429: "rateLimitExceeded",
    500: "internalError",
    502: "badGateway",
    503: "backendError",
    504: "gatewayTimeout",
}


def _reason(status: int) -> str:
    return _REASONS.get(status, "error")
