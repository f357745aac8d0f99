"""The sandbox's shared machinery (log, faults, quotas, persistence, clock) on a tiny test system.

Each real system's module has its own tests through its real client library; these pin down the
behaviour every one of them inherits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from sandbox.app import create_app
from sandbox.client import SandboxClient
from sandbox.core import ApiError, Quota, SandboxDep, System
from sandbox.server import bind

router = APIRouter()


@router.post("/notes")
async def create_note(sb: SandboxDep, note: dict[str, str]) -> dict[str, str]:
    note_id = str(sb.store.next_id("notes"))
    return sb.store.put("notes", "note", note_id, {"id": note_id, **note})


@router.get("/notes/{note_id}")
async def get_note(sb: SandboxDep, note_id: str) -> dict[str, str]:
    note = sb.store.get("notes", "note", note_id)
    if note is None:
        raise ApiError(404, f"note {note_id} not found", "not_found")
    return note


def render(err: ApiError) -> Response:
    return JSONResponse({"oops": err.message, "reason": err.code}, err.status, err.headers)


NOTES = System(
    name="notes",
    router=router,
    render_error=render,
    quotas=(
        Quota("notes.writes", "3 writes per minute per user", 3, 60, lambda m, p: m == "POST"),
    ),
)


class Server:
    def __init__(self, data_dir: Path | None) -> None:
        self.sock = bind()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(create_app(data_dir, [NOTES]), log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> Server:
        self.thread.start()
        while not self.server.started:
            self.thread.join(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join()
        self.sock.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with Server(tmp_path) as srv:
        yield srv


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/notes", headers={"Authorization": "Bearer u1"}) as c:
        yield c


@pytest.fixture
def control(server: Server) -> SandboxClient:
    return SandboxClient(server.url)


def test_every_request_is_logged_with_system_and_write_flag(
    http: httpx.Client, control: SandboxClient
) -> None:
    note = http.post("/notes", json={"title": "a"}).json()
    assert http.get(f"/notes/{note['id']}").status_code == 200
    assert http.get("/notes/999").status_code == 404

    log = control.requests()
    assert [(r["method"], r["status"], r["write"]) for r in log] == [
        ("POST", 200, True),
        ("GET", 200, False),
        ("GET", 404, False),
    ]
    assert {r["system"] for r in log} == {"notes"}
    assert log[0]["body"] == '{"title":"a"}'
    assert log[0]["auth"] == "Bearer u1"
    assert control.writes() == 1
    assert control.summary() == {"notes": {"reads": 2, "writes": 1, "faults": 0, "throttled": 0}}


def test_errors_and_unknown_routes_use_the_system_error_shape(http: httpx.Client) -> None:
    assert http.get("/notes/999").json() == {"oops": "note 999 not found", "reason": "not_found"}
    assert http.get("/nowhere").json()["reason"] == "not_found"
    bad = http.post("/notes", json=["not", "an", "object"])
    assert bad.status_code == 400
    assert "Invalid request" in bad.json()["oops"]


def test_status_fault_hits_only_matching_requests_then_expires(
    http: httpx.Client, control: SandboxClient
) -> None:
    control.add_fault(r"/notes/notes", method="POST", status=503, retry_after=2, times=2)
    first = http.post("/notes", json={"title": "a"})
    assert first.status_code == 503
    assert first.headers["Retry-After"] == "2"
    assert first.json()["reason"] == "backendError"
    assert http.post("/notes", json={"title": "a"}).status_code == 503
    assert http.post("/notes", json={"title": "a"}).status_code == 200
    assert len(control.state("notes", "note")) == 1  # faulted requests wrote nothing
    assert [r["fault"] for r in control.requests()] == ["503", "503", None]


def test_a_fault_may_let_the_first_matching_requests_through(
    http: httpx.Client, control: SandboxClient
) -> None:
    control.add_fault(r"/notes/notes", method="POST", status=500, skip=2)
    assert [http.post("/notes", json={"title": t}).status_code for t in "abcd"] == [
        200,
        200,
        500,
        200,
    ]
    assert [n["title"] for n in control.state("notes", "note")] == ["a", "b", "d"]


def test_fail_after_commit_applies_the_write_and_answers_an_error(
    http: httpx.Client, control: SandboxClient
) -> None:
    control.add_fault(r"/notes/notes", status=500, after_commit=True)
    assert http.post("/notes", json={"title": "a"}).status_code == 500
    assert [n["title"] for n in control.state("notes", "note")] == ["a"]


@pytest.mark.parametrize("after_commit", [False, True])
def test_dropped_connection_gives_the_client_a_transport_error(
    http: httpx.Client, control: SandboxClient, after_commit: bool
) -> None:
    control.add_fault(r"/notes/notes", kind="drop", after_commit=after_commit)
    with pytest.raises(httpx.TransportError):
        http.post("/notes", json={"title": "a"})
    assert len(control.state("notes", "note")) == (1 if after_commit else 0)
    assert http.post("/notes", json={"title": "b"}).status_code == 200  # server still fine


def test_delay_fault_times_the_client_out_and_the_write_still_lands_when_after_commit(
    http: httpx.Client, control: SandboxClient
) -> None:
    control.add_fault(r"/notes/notes", kind="delay", delay=1.0, after_commit=True)
    with pytest.raises(httpx.ReadTimeout):
        http.post("/notes", json={"title": "late"}, timeout=0.2)
    control.add_fault(r"/notes/notes/.*", kind="delay", delay=0.3)
    assert http.get("/notes/1", timeout=5).json()["title"] == "late"


def test_quota_answers_429_with_retry_after_per_user_once_enabled(
    server: Server, http: httpx.Client, control: SandboxClient
) -> None:
    for _ in range(4):  # off by default: no throttling
        assert http.post("/notes", json={"title": "x"}).status_code == 200
    control.set_quotas(enabled=True, limits={"notes.writes": 2})
    statuses = [http.post("/notes", json={"title": "x"}).status_code for _ in range(2)]
    assert statuses == [429, 429]  # the 4 earlier writes are still in the window
    throttled = http.post("/notes", json={"title": "x"})
    assert 1 <= int(throttled.headers["Retry-After"]) <= 61
    other = httpx.post(
        f"{server.url}/notes/notes", json={"title": "y"}, headers={"Authorization": "Bearer u2"}
    )
    assert other.status_code == 200  # quotas are per user
    assert http.get("/notes/1").status_code == 200  # reads do not count
    assert [r["quota"] for r in control.requests(status=429)] == ["notes.writes"] * 3


def test_unknown_quota_ids_are_refused(control: SandboxClient) -> None:
    with pytest.raises(httpx.HTTPStatusError) as err:
        control.set_quotas(enabled=True, limits={"notes.nope": 1})
    assert "notes.nope" in err.value.response.text


def test_state_and_log_survive_a_restart_and_reset_forgets_them(tmp_path: Path) -> None:
    with Server(tmp_path) as srv:
        httpx.post(f"{srv.url}/notes/notes", json={"title": "kept"})
    with Server(tmp_path) as srv:
        control = SandboxClient(srv.url)
        assert [n["title"] for n in control.state("notes", "note")] == ["kept"]
        assert len(control.requests()) == 1
        note = httpx.post(f"{srv.url}/notes/notes", json={"title": "next"}).json()
        assert note["id"] == "2"  # counters survive too
        control.reset()
        assert control.state("notes") == {}
        assert control.requests() == []


def test_a_reset_forgets_the_answers_kept_with_the_log(control: SandboxClient) -> None:
    # the log's ids start again after a reset: an answer kept before it must not be handed out
    # as the answer of the request that reuses its id
    control.keep_responses()
    httpx.post(f"{control.url}/notes/notes", json={"title": "before"})
    control.reset()
    control.keep_responses()
    httpx.post(f"{control.url}/notes/notes", json={"title": "after"})
    (request,) = control.requests(responses=True)
    assert '"after"' in request["response"]


def test_a_snapshot_restored_is_its_objects_and_clock_with_an_empty_log(
    control: SandboxClient,
) -> None:
    kept = httpx.post(f"{control.url}/notes/notes", json={"title": "kept"}).json()
    moved = control.advance_clock(days=3)
    control.snapshot("prepared")
    later = httpx.post(f"{control.url}/notes/notes", json={"title": "later"}).json()
    control.advance_clock(days=7)
    control.add_fault("/notes/notes", method="POST")

    control.restore("prepared")
    assert control.state("notes", "note") == [kept]
    assert control._call("GET", "/clock")["now"][:10] == moved[:10]
    assert control.requests() == []
    note = httpx.post(f"{control.url}/notes/notes", json={"title": "again"})
    assert note.status_code == 200  # the fault went with the rest
    assert int(note.json()["id"]) == int(later["id"]) + 1  # no id is handed out twice
    control.restore("prepared")  # as often as wanted, each time as it was
    assert control.state("notes", "note") == [kept]
    with pytest.raises(httpx.HTTPStatusError) as err:
        control.restore("nope")
    assert "prepared" in err.value.response.text


def test_clock_moves_forward(control: SandboxClient) -> None:
    before = control._call("GET", "/clock")["now"]
    after = control.advance_clock(days=5)
    assert after[:10] > before[:10]
