"""The fault matrix's parts, shared by tests/e2e/test_fault_matrix.py and benchmarks/reliability.py.

A *write route* is a method and a route template of the sandbox (e.g. `POST /gitlab/api/v4/projects/
{id}/issues`), found by matching the request log of a clean reference run against the sandbox's own
routers: a write psflow starts to make tomorrow is in the list without anyone adding it.

The phases run in this process against a real Prefect server, with the sandbox's Blocks given
directly (`clients.configure`) so the HTTP clients' timeout can be short; an ops retry is what the
UI's Retry does (the run set to AwaitingRetry), then the run executed again by the same engine a
runner uses (`run_flow` with the existing flow run): its completed tasks are not redone.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi.routing import _iter_included_route_candidates
from prefect import Flow, flow
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.filesystems import LocalFileSystem
from prefect.flow_engine import run_flow
from prefect.results import ResultStore
from prefect.states import AwaitingRetry, Completed, Failed, State
from starlette.routing import Match, Route

from blocks import PsflowSettings, sandbox_blocks
from engagement.keys import Kind
from flows.awaiting_signature import awaiting_signature
from flows.change_request import approved_team, change_request
from flows.close import close, post_billing_done
from flows.execute import status_report
from flows.initiate import initiate
from flows.passive import passive_acceptance
from flows.plan import plan
from flows.pre_initiate import pre_initiate, pre_initiate_steps
from flows.rebaseline import rebaseline
from flows.release import release
from flows.validate import validate
from sandbox.app import load_systems
from sandbox.client import SandboxClient
from sandbox.gitlab import api as gitlab_api
from tasks import clients
from tasks.clients import systems
from tasks.mavenlink import PASSIVE_LANGUAGE, find_workspace
from tasks.salesforce import get_opportunity
from tasks.slack import ensure_message
from testkit.discovery import conformance_problems
from testkit.factories import opportunities
from testkit.phases import (
    record_approval,
    record_change_approvals,
    record_plan_answers,
    run_phase,
    three_more_weeks,
    under_way,
)

# The HTTP clients' timeout in these runs (the Blocks' default is 30 s, Mavenlink's 60 s): a
# `delay` fault longer than it is a timeout, without the matrix waiting half a minute for each.
CLIENT_TIMEOUT = 1.0
# A `delay` fault holds the request, then applies it: the client has given up by then, and the
# task's retry (at least 0.5 s later: backoff 1 s, jitter 0.5) comes after the write landed, as when
# a slow server finishes a request its client stopped waiting for.
TIMEOUT_DELAY = CLIENT_TIMEOUT + 0.25


@dataclass(frozen=True, order=True)
class WriteRoute:
    system: str
    method: str
    template: str  # e.g. /gitlab/api/v4/projects/{id}/issues

    @property
    def regex(self) -> str:
        """The template as the sandbox's fault `path` (matched against the whole path): one
        path segment per parameter, `{x:path}` any rest."""
        out, last = [], 0
        for param in re.finditer(r"\{([^}:]+)(:path)?\}", self.template):
            out.append(re.escape(self.template[last : param.start()]))
            out.append(".+" if param.group(2) else "[^/]+")
            last = param.end()
        return "".join([*out, re.escape(self.template[last:])])

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


_ROUTES: list[tuple[str, Route]] | None = None


def _routes() -> list[tuple[str, Route]]:
    global _ROUTES
    if _ROUTES is None:  # flattened as the server sees them (Google's routers are nested)
        _ROUTES = [
            (system.name, route)
            for system in load_systems()
            for route in _iter_included_route_candidates(system.router.routes)
            if isinstance(route, Route)
        ]
    return _ROUTES


def route_of(method: str, path: str) -> WriteRoute | None:
    """The sandbox route that serves this request, as the server would pick it (first match).

    Two systems dispatch below one FastAPI route, as their real APIs are shaped: GitLab on the raw
    path (its own route table), Slack on the Web API method's name (the method is the route)."""
    for system, route in _routes():
        prefix = f"/{system}"
        if not path.startswith(prefix + "/"):
            continue
        scope = {"type": "http", "method": method, "path": path[len(prefix) :]}
        match, _ = route.matches(scope)
        if match != Match.FULL:
            continue
        if route.path == gitlab_api.API_PREFIX + "/{rest:path}":
            return _gitlab_route(method, path[len(prefix) :])
        if route.path == "/api/{method_name}":
            return WriteRoute(system, method, path)
        return WriteRoute(system, method, prefix + route.path)
    return None


def _gitlab_route(method: str, path: str) -> WriteRoute | None:
    segments = path.removeprefix(gitlab_api.API_PREFIX).strip("/").split("/")
    for route in gitlab_api.ROUTES:
        if route.method == method and route.match(segments) is not None:
            template = "/".join(route.parts)
            return WriteRoute("gitlab", method, f"/gitlab{gitlab_api.API_PREFIX}/{template}")
    return None


def write_routes(sandbox: SandboxClient, since: int) -> list[WriteRoute]:
    """Every write route in the request log after `since`; AssertionError naming a write the
    sandbox's routers cannot place (it could not be faulted by route)."""
    found, unplaced = set(), []
    for row in sandbox.requests(write=True, since=since):
        route = route_of(row["method"], row["path"])
        if route is None:
            unplaced.append(f"{row['method']} {row['path']}")
        else:
            found.add(route)
    assert not unplaced, f"writes no sandbox route serves, so no fault can target: {unplaced}"
    return sorted(found)


def faulted(sandbox: SandboxClient, since: int) -> dict[WriteRoute, list[str]]:
    """The fault labels the sandbox applied since `since`, by route."""
    out: dict[WriteRoute, list[str]] = {}
    for row in sandbox.requests(since=since):
        if row["fault"]:
            route = route_of(row["method"], row["path"])
            assert route is not None, row
            out.setdefault(route, []).append(row["fault"])
    return out


# --- the kinds of fault --------------------------------------------------------------------------

# Each kind: the fault fields for the i-th route (statuses alternate across routes, so one batch
# covers each status). Transient kinds are finished by the tasks' own retries, permanent ones by
# an ops retry after the fault is gone (consumed: `times` is 1).
TRANSIENT_KINDS: dict[str, list[dict[str, Any]]] = {
    "transient": [
        {"status": 500},
        {"status": 503},
        {"status": 429, "retry_after": 1},
    ],
    "dropped connection": [{"kind": "drop"}],
    "timeout": [{"kind": "delay", "delay": TIMEOUT_DELAY}],
    "fail after commit": [
        {"status": 500, "after_commit": True},
        {"kind": "drop", "after_commit": True},
        {"kind": "delay", "delay": TIMEOUT_DELAY, "after_commit": True},
    ],
}
PERMANENT_KIND: list[dict[str, Any]] = [{"status": 400}, {"status": 403}, {"status": 404}]
KINDS = [*TRANSIENT_KINDS, "permanent"]
# The test's batches: the kinds a task's own retry finishes before any write was applied share one
# run (each route gets one of them in turn), to keep `make test` short; the benchmark tries each.
NO_ANSWER = "transient, dropped or timed out"
BATCHED_KINDS = [NO_ANSWER, "fail after commit", "permanent"]


def variants(kind: str) -> list[dict[str, Any]]:
    if kind == NO_ANSWER:
        return [
            *TRANSIENT_KINDS["transient"],
            *TRANSIENT_KINDS["dropped connection"],
            *TRANSIENT_KINDS["timeout"],
        ]
    return PERMANENT_KIND if kind == "permanent" else TRANSIENT_KINDS[kind]


def fault_for(kind: str, index: int) -> dict[str, Any]:
    return {**variants(kind)[index % len(variants(kind))], "times": 1}


def inject(sandbox: SandboxClient, route: WriteRoute, fault: dict[str, Any]) -> None:
    sandbox.add_fault(route.regex, method=route.method, **fault)


# --- running the phases in this process ----------------------------------------------------------


_BLOCKS: list[Block] = []  # what `configured` gave the tasks


@contextmanager
def configured(sandbox_url: str, pace: bool = False, memory: Path | None = None) -> Iterator[None]:
    """The tasks pointed at the sandbox with a short client timeout, remembering in a directory
    of their own (or in `memory`: a served runner's, so that `prepared` restores what it
    remembers too); the saved Blocks after."""
    _BLOCKS[:] = sandbox_blocks(sandbox_url, pace=pace)
    for block in _BLOCKS:
        if "timeout_seconds" in type(block).model_fields:
            block.timeout_seconds = CLIENT_TIMEOUT  # type: ignore[attr-defined]
        if isinstance(block, PsflowSettings):
            block.status_review = False  # a run in this process cannot wait for a form
    with tempfile.TemporaryDirectory(prefix="psflow-memory-") as own:
        clients.configure(_BLOCKS, memory=_memory(memory or Path(own)))
        try:
            yield
        finally:
            clients.reset()
            _BLOCKS.clear()


def _memory(directory: Path) -> ResultStore:
    return ResultStore(result_storage=LocalFileSystem(basepath=str(directory)))


def _memory_dir() -> Path:
    storage = systems().memory().result_storage
    assert isinstance(storage, LocalFileSystem), "configured() first"
    return Path(str(storage.basepath))


def ops_retry(phase: Flow[..., Any], run: FlowRun) -> State[Any]:
    """The UI's Retry (`psflow retry`): the run to AwaitingRetry, forced; then the same run
    executed again, as a runner would pick it up."""
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run.id, AwaitingRetry(message="ops retry"), force=True)
        run = client.read_flow_run(run.id)
    state = run_flow(phase, flow_run=run, parameters=run.parameters, return_type="state")
    assert isinstance(state, State)
    return state


# --- a case: one phase run under injected faults, then checked ----------------------------------

# psflow's name of each system, by the sandbox log's service (tasks/*.py SYSTEM)
SYSTEM_NAMES = {
    "salesforce": "Salesforce",
    "gitlab": "GitLab",
    "drive": "Google Drive",
    "sheets": "Google Sheets",
    "docs": "Google Docs",
    "slides": "Google Slides",
    "gmail": "Gmail",
    "calendar": "Google Calendar",
    "mavenlink": "Mavenlink",
    "slack": "Slack",
}
SANDBOX_SYSTEMS = ("salesforce", "gitlab", "google", "mavenlink", "slack")


OPS_CHANNEL = "ps_ops_alerts"


def census(sandbox: SandboxClient) -> dict[str, int]:
    """How many objects of each kind the whole sandbox holds (a case starts from a reset), less
    the ops channel's alerts: psflow's automations post one for each failed run, by design."""
    counts = {
        f"{system} {kind}": len(rows)
        for system in SANDBOX_SYSTEMS
        for kind, rows in sandbox.state(system).items()
    }
    # an e-mail left a draft is lost though the messages add up: sent ones are counted apart
    counts["google sent message"] = sum(
        "SENT" in m.get("labelIds", []) for m in sandbox.state("google", "message")
    )
    ops = {c["id"] for c in sandbox.state("slack", "channels") if c["name"] == OPS_CHANNEL}
    alerts = sum(m.get("channel") in ops for m in sandbox.state("slack", "messages"))
    if alerts:
        counts["slack messages"] -= alerts
        counts["slack rendered"] -= alerts  # the sandbox's reading of each message
    return counts


# The stage each phase's case starts in.
STAGES = {
    "pre-initiate": "5-Negotiating",
    "awaiting-signature": "6-Awaiting Signature",
    "initiate": "Closed Won",
    "plan": "Closed Won",
    "execute": "Closed Won",
    "change-request": "Closed Won",
    "rebaseline": "Closed Won",
    "release": "8-Closed Lost",
    "validate": "Closed Won",
    "passive-acceptance": "Closed Won",
    "close": "Closed Won",
    "close-out": "Closed Won",
}
# Validate's phases: an acceptance request, and the acceptances the passive clock records
VALIDATE = ("validate", "passive-acceptance")
# Close's: a validated engagement (for the matrix, its sign-off asked nine days ago, the forms
# answered: what the passive clock and Close then write)
CLOSE = ("close", "close-out")
# The phases whose case starts with an engagement two weeks under way
UNDER_WAY = ("execute", "change-request", "rebaseline", *VALIDATE, *CLOSE)
# The fault matrix's tests, by module: three test processes share it (cases of phases under way
# prepare the most); every phase is in one of them (tests/e2e/test_fault_matrix.py checks)
MATRIX = {
    "test_fault_matrix": ("pre-initiate", "awaiting-signature", "initiate", "plan", "release"),
    "test_fault_matrix_changes": ("change-request", "rebaseline"),
    "test_fault_matrix_under_way": ("execute", *VALIDATE),
    "test_fault_matrix_close": ("close-out",),
}


@flow(name="left by pre-initiate")
def left_by_pre_initiate(opportunity_id: str) -> None:
    """What Pre-Initiate leaves (the estimate, the TA review, the Prospect project, the soft
    booking, the decision), made by its own steps for an opportunity in any stage: a lost deal's
    release needs them, and moving a stage would leave a history row a served watcher acts on."""
    pre_initiate_steps(get_opportunity(opportunity_id))


# What each phase's case runs first, in this process
BEFORE: dict[str, tuple[Flow[..., Any], ...]] = {
    "pre-initiate": (),
    "awaiting-signature": (pre_initiate,),
    "initiate": (pre_initiate,),
    "plan": (pre_initiate, initiate),
    "execute": (pre_initiate, initiate),  # then Plan, its answers recorded, and two weeks' hours
    "change-request": (pre_initiate, initiate),  # as Execute's, then the EM's approval recorded
    "rebaseline": (pre_initiate, initiate),  # and the change request made, approved by both
    "release": (left_by_pre_initiate,),
    "validate": (pre_initiate, initiate),  # as Execute's, a fixed fee
    "passive-acceptance": (pre_initiate, initiate),  # and every activity's request sent, 9 days ago
    "close": (pre_initiate, initiate),  # as passive-acceptance's, then every activity accepted
    "close-out": (
        pre_initiate,
        initiate,
    ),  # as close's, then the sign-off asked, the forms answered
}


@flow(name="passive acceptance of one engagement")
def accept_passively(opportunity_id: str) -> State[Any]:
    """The hourly clock, as a phase of one opportunity (the matrix's sandbox holds only its
    requests): ending as the clock's run did, with its message."""
    clock = passive_acceptance(return_state=True)
    ended = Completed if clock.is_completed() else Failed
    return ended(message=clock.message)


def first_activity(opportunity_id: str) -> str:
    return get_opportunity(opportunity_id).line_items[0].code


def prepare(sandbox: SandboxClient, phase: str, weeks: int | None = None) -> str:
    """A reset sandbox and a new customer's opportunity ready for the phase: in its stage
    (`STAGES`) with the approval recorded, and through the phases before it (for Plan, its
    forms' answers recorded too); `weeks` long when given (the bulk's run four to twelve).

    A new customer (the second bulk opportunity: Globex) makes every write, its GitLab group, Drive
    folder and Slack channel included; 75,000 is over $50k, so a TA review too. Bulk opportunities
    are imported in their stage a week ago, without a stage-history row: a served watcher polling
    the same sandbox sees no transition, so no triggered run races the case."""
    (opportunity,) = prepare_many(sandbox, phase, 1, weeks)
    return opportunity


def prepare_many(
    sandbox: SandboxClient, phase: str, count: int, weeks: int | None = None
) -> list[str]:
    """As `prepare`, `count` opportunities of the seeded accounts after Acme, in turn."""
    sandbox.reset()
    made = opportunities(sandbox, count=count + 1, amount=None, stage=STAGES[phase], imported=True)
    return [_ready(sandbox, opportunity, phase, weeks) for opportunity in made[1:]]


def _ready(sandbox: SandboxClient, opportunity: str, phase: str, weeks: int | None) -> str:
    edits: dict[str, Any] = {"Amount": 75_000}
    if phase in (*VALIDATE, *CLOSE):  # each accepted milestone releases its share of the fee
        edits["PS_Billing_Type__c"] = "Fixed Fee"
    if weeks is not None:
        (row,) = [o for o in sandbox.state("salesforce", "Opportunity") if o["Id"] == opportunity]
        start = date.fromisoformat(row["PS_Expected_Start__c"])
        edits["PS_Expected_Completion__c"] = (start + timedelta(weeks=weeks)).isoformat()
    sandbox.edit("salesforce", f"/sobjects/Opportunity/{opportunity}", **edits)
    record_approval(opportunity)
    for earlier in BEFORE[phase]:
        state, _ = run_phase(earlier, opportunity)
        assert state.type == StateType.COMPLETED, state.message
    if phase in ("plan", *UNDER_WAY):
        record_plan_answers(opportunity)
    if phase in UNDER_WAY:
        state, _ = run_phase(plan, opportunity)
        assert state.type == StateType.COMPLETED, state.message
        under_way(sandbox, opportunity)
    if phase in ("change-request", "rebaseline"):
        record_change_approvals(opportunity)
    if phase == "rebaseline":
        state, _ = run_phase(change_request, opportunity, change=three_more_weeks(opportunity))
        assert state.type == StateType.COMPLETED, state.message
        record_change_approvals(opportunity, customer=True)
    if phase in ("passive-acceptance", *CLOSE):
        for item in get_opportunity(opportunity).line_items:
            state, _ = run_phase(validate, opportunity, activity=item.code)
            assert state.type == StateType.COMPLETED, state.message
        sandbox.advance_clock(9)  # five business days and a weekend, and more
    if phase in CLOSE:  # Validate completed: what a served Close would start on
        state, _ = run_phase(accept_passively, opportunity)
        assert state.type == StateType.COMPLETED, state.message
    if phase == "close-out":
        sign_off_asked(sandbox, opportunity)
    return opportunity


@dataclass(frozen=True)
class Prepared:
    opportunity: str
    snapshot: str  # the sandbox's
    memory: Path  # a copy of psflow's memory then (Gmail drafts' ids, by the e-mails' keys)


_PREPARED: dict[tuple[str, str], Prepared] = {}


def prepared(sandbox: SandboxClient, phase: str) -> str:
    """As `prepare`, made once per sandbox and phase, then restored: the sandbox's snapshot, and
    psflow's memory as it was then (a draft remembered from a later run would name one the
    restored Gmail never held). The fault matrix's cases of a phase all start from one."""
    kept = _PREPARED.get((sandbox.url, phase))
    if kept is None:
        opportunity = prepare(sandbox, phase)
        copy = Path(tempfile.mkdtemp(prefix=f"psflow-prepared-{phase}-"))
        if _memory_dir().exists():  # a served runner's is made by its first result
            shutil.copytree(_memory_dir(), copy, dirs_exist_ok=True)
        sandbox.snapshot(phase)
        _PREPARED[(sandbox.url, phase)] = Prepared(opportunity, phase, copy)
        return opportunity
    sandbox.restore(kept.snapshot)
    memory = _memory_dir()
    shutil.rmtree(memory, ignore_errors=True)
    shutil.copytree(kept.memory, memory)
    # the tasks start afresh, as in a new test: new clients, no channel listing, the memory reread
    clients.configure(_BLOCKS, memory=_memory(memory))
    return kept.opportunity


def sign_off_asked(sandbox: SandboxClient, opportunity_id: str) -> None:
    """The sign-off asked (the SOW with passive-acceptance language) nine days ago, and the
    Project Owner's and the coordinator's answers recorded as their forms record them: the
    passive clock then signs off, and Close goes to Completed without waiting."""
    workspace = find_workspace(opportunity_id)
    assert workspace is not None
    api = systems().mavenlink()
    fields = api.request("GET", "custom_fields.json", params={"subject_type": "Workspace"}).json()
    (field,) = [f["id"] for f in fields["custom_fields"].values() if f["name"] == PASSIVE_LANGUAGE]
    value = {"subject_type": "Workspace", "subject_id": workspace.id, "custom_field_id": field}
    api.request(
        "POST", "custom_field_values.json", json={"custom_field_value": {**value, "value": "Yes"}}
    ).raise_for_status()
    state, _ = run_phase(close, opportunity_id)
    assert state.type == StateType.COMPLETED, state.message
    sandbox.advance_clock(9)
    opportunity = get_opportunity(opportunity_id)
    team = approved_team(opportunity)
    ensure_message(
        systems().settings.leadership_channel,
        f"Closeout report of {opportunity.name}, approved by {team.project_owner}",
        Kind.CLOSEOUT_REPORT,
        opportunity.id,
        payload={"lessons_learned": "Agree the cutover window in week one."},
    )
    post_billing_done(opportunity, team.coordinator)


@flow(name="close of one engagement, signed off passively")
def close_out(opportunity_id: str) -> State[Any]:
    """The hourly clock signs the engagement off (the matrix's sandbox holds only its sign-off),
    then Close runs to Completed: ending as Close's run did, with its message."""
    clock = passive_acceptance(return_state=True)
    if not clock.is_completed():
        return Failed(message=clock.message)
    closed = close(opportunity_id=opportunity_id, return_state=True)
    ended = Completed if closed.is_completed() else Failed
    return ended(message=closed.message)


def parameters(phase: str, opportunity: str) -> dict[str, Any]:
    """What a phase's case runs with, besides the opportunity."""
    if phase == "change-request":
        return {"change": three_more_weeks(opportunity)}
    if phase == "validate":
        return {"activity": first_activity(opportunity)}
    return {"number": "CR-1"} if phase == "rebaseline" else {}


@dataclass(frozen=True)
class Reference:
    """What a clean run of the phase writes (its routes) and leaves (the census)."""

    phase: str
    routes: list[WriteRoute]
    census: dict[str, int]
    answers: list[dict[str, Any]]  # every request of the run, with the sandbox's answer


def reference_run(sandbox: SandboxClient, phase: str) -> Reference:
    opportunity = prepared(sandbox, phase)
    start = sandbox.last_request_id()
    sandbox.keep_responses()
    state, _ = run_phase(PHASES[phase], opportunity, **parameters(phase, opportunity))
    assert state.type == StateType.COMPLETED, state.message
    answers = sandbox.requests(since=start, responses=True)
    return Reference(phase, write_routes(sandbox, start), census(sandbox), answers)


@dataclass
class Case:
    phase: str
    kind: str
    routes: list[WriteRoute]
    faults: int = 0  # faulted requests the sandbox logged
    runs: int = 0  # the first run and the ops retries
    duplicates: dict[str, int] | None = None
    lost: dict[str, int] | None = None
    problems: list[str] = field(default_factory=list)

    variant: int | None = None

    @property
    def name(self) -> str:
        where = str(self.routes[0]) if len(self.routes) == 1 else f"{len(self.routes)} routes"
        what = self.kind if self.variant is None else str(fault_for(self.kind, self.variant))
        return f"{self.phase} · {what} · {where}"


def run_case(
    sandbox: SandboxClient,
    reference: Reference,
    kind: str,
    routes: list[WriteRoute],
    variant: int | None = None,
) -> Case:
    """The phase with `kind` injected once on each of `routes`, finished by the tasks' retries
    (transient kinds) or by ops retries (permanent), then checked against the reference."""
    case = Case(reference.phase, kind, routes, variant=variant)
    problems = case.problems  # (once `case.problems or []`: a new list, so none ever reached it)
    flow = PHASES[reference.phase]
    opportunity = prepared(sandbox, reference.phase)
    start = sandbox.last_request_id()
    for index, route in enumerate(routes):
        inject(sandbox, route, fault_for(kind, index if variant is None else variant))

    state, run = run_phase(flow, opportunity, **parameters(reference.phase, opportunity))
    case.runs = 1
    mark = start
    while state.type == StateType.FAILED and case.runs <= len(routes):
        problems.extend(_check_permanent(sandbox, kind, mark, state.message or ""))
        mark = sandbox.last_request_id()
        state = ops_retry(flow, run)
        case.runs += 1
    if state.type != StateType.COMPLETED:
        problems.append(f"run ended {state.type.value}: {state.message}")
    if kind == "permanent" and case.runs != len(routes) + 1:
        problems.append(f"{case.runs - 1} ops retries for {len(routes)} permanent faults")

    hit = faulted(sandbox, start)
    case.faults = sum(len(labels) for labels in hit.values())
    problems.extend(f"the fault on {r} was never hit" for r in routes if r not in hit)
    problems.extend(_check_retry_after(sandbox, start))
    sandbox.clear_faults()
    now = census(sandbox)
    keys = set(now) | set(reference.census)
    diff = {k: now.get(k, 0) - reference.census.get(k, 0) for k in keys}
    case.duplicates = {k: d for k, d in diff.items() if d > 0}
    case.lost = {k: -d for k, d in diff.items() if d < 0}
    problems.extend(f"duplicate: {n} more {k}" for k, n in case.duplicates.items())
    problems.extend(f"lost: {n} fewer {k}" for k, n in case.lost.items())
    return case


def assert_every_object_once(sandbox: SandboxClient, reference: Reference, kind: str) -> None:
    """The matrix's test of one phase and kind: `kind` on all of the phase's write routes at
    once (the run meets them one after the other), every object once at the end."""
    case = run_case(sandbox, reference, kind, reference.routes)
    assert case.problems == [], "\n".join(case.problems)
    assert case.faults >= len(reference.routes)


def google_answers(references: Iterable[Reference]) -> list[dict[str, Any]]:
    """Google's successful answers with a body in the reference runs."""
    return [
        answer
        for reference in references
        for answer in reference.answers
        if answer["system"] == "google" and 200 <= answer["status"] < 300 and answer["response"]
    ]


def nonconforming(answers: Iterable[dict[str, Any]]) -> list[str]:
    """What in these answers differs from Google's own spec of them (testkit/discovery.py)."""
    return [
        problem
        for answer in answers
        if "alt=media" not in answer["query"]
        for problem in conformance_problems(
            answer["method"], answer["path"], json.loads(answer["response"])
        )
    ]


def _check_permanent(sandbox: SandboxClient, kind: str, since: int, message: str) -> list[str]:
    """A failed run: only a permanent fault may fail it, its message names the system and the
    object, and its task was not retried (no later request on the route in this run)."""
    rows = [r for r in sandbox.requests(since=since) if r["fault"]]
    if kind != "permanent" or not rows:
        return [f"the run failed: {message}"]
    row = rows[-1]
    route = route_of(row["method"], row["path"])
    assert route is not None
    problems = []
    system = SYSTEM_NAMES[row["service"]]
    # Slack answers an error with HTTP 200 and its error's name (the sandbox as Slack does)
    answered = rf"(HTTP {row['status']}|\S+ \(Slack's error, HTTP 200\))"
    named = re.search(rf"{re.escape(system)}: (.+): {answered}", message)
    if named is None:
        problems.append(f"{route} {row['fault']}: the failure does not name {system}: {message}")
    later = [
        r
        for r in sandbox.requests(method=route.method, since=row["id"])
        if re.fullmatch(route.regex, r["path"])
    ]
    if later:
        problems.append(f"{route} {row['fault']}: retried {len(later)} times after the failure")
    return problems


def _check_retry_after(sandbox: SandboxClient, since: int) -> list[str]:
    """After a 429 with Retry-After, the next request on that route waited at least that long."""
    rows = sandbox.requests(since=since)
    problems = []
    for i, row in enumerate(rows):
        if row["fault"] != "429":
            continue
        route = route_of(row["method"], row["path"])
        assert route is not None
        wait = next(
            (
                r["time"] - row["time"]
                for r in rows[i + 1 :]
                if r["method"] == row["method"] and re.fullmatch(route.regex, r["path"])
            ),
            None,
        )
        retry_after = TRANSIENT_KINDS["transient"][2]["retry_after"]
        if wait is not None and wait < retry_after:
            problems.append(f"{route}: retried {wait:.2f} s after a 429 asking for {retry_after} s")
    return problems


PHASES: dict[str, Flow[..., Any]] = {
    "pre-initiate": pre_initiate,
    "awaiting-signature": awaiting_signature,
    "initiate": initiate,
    "plan": plan,
    "execute": status_report,
    "change-request": change_request,
    "rebaseline": rebaseline,
    "release": release,
    "validate": validate,
    "passive-acceptance": accept_passively,
    "close-out": close_out,
}
