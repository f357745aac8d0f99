"""The measurements of `benchmarks.latency` (imported once Prefect's home is set)."""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import prefect
import yaml
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.events import emit_event
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Cancelled

from benchmarks.pingpong import PING, PINGPONG, PONG
from blocks import save_sandbox_blocks
from core.events import OPPORTUNITY_NEGOTIATING, event_kwargs
from deployments.definitions import DEPLOYMENTS, WORK_POOL
from deployments.prefect_yaml import deployment, prefect_yaml
from psflow.local import (
    POLL_SECONDS,
    Child,
    deploy_all,
    events_to,
    launch_prefect,
    launch_sandbox,
    launch_worker,
    prefect_env,
    running,
    serve_argv,
    start,
    wait_prefect,
    wait_sandbox,
)
from sandbox.client import SandboxClient
from tasks.salesforce import find_stage_changes
from testkit.factories import opportunities

TARGET_P50 = 2.0  # seconds, issue 5
TARGET_P95 = 5.0
WATCHER = "watch-opportunities"
FINAL = (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED)


@dataclass
class Figures:
    configuration: str
    measure: str
    samples: list[float]
    # of each sample, from the run's creation (Scheduled) to Running in two parts: to Pending (the
    # executor's poll and submission), then to Running (the flow-run process starting)
    starts: list[tuple[float, float]]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.samples, n=20, method="inclusive")[-1]

    @property
    def start_p50(self) -> float:
        return statistics.median(pickup + process for pickup, process in self.starts)

    @property
    def pickup_p50(self) -> float:
        return statistics.median(pickup for pickup, _ in self.starts)

    @property
    def process_p50(self) -> float:
        return statistics.median(process for _, process in self.starts)

    def line(self) -> str:
        return (
            f"n={len(self.samples)} p50={self.p50:.2f}s p95={self.p95:.2f}s "
            f"min={min(self.samples):.2f}s max={max(self.samples):.2f}s; "
            f"of which creation -> Running p50={self.start_p50:.2f}s "
            f"(-> Pending {self.pickup_p50:.2f}s, Pending -> Running {self.process_p50:.2f}s)"
        )


# --- the two configurations: what executes the deployments' runs ---------------------------------


def served(home: Path, api_url: str) -> list[Child]:
    """The demo's: `python -m psflow.serve` polling every POLL_SECONDS (and the benchmark's
    pair, served the same way beside it)."""
    env = prefect_env(home, api_url)
    return [
        start("serve", serve_argv("psflow.serve"), home / "serve.log", env),
        start("serve pair", serve_argv("benchmarks.serve"), home / "pair.log", env),
    ]


def worker(home: Path, api_url: str) -> list[Child]:
    """Production's: README's "Deploying" with the committed prefect.yaml (and the benchmark's
    pair from a prefect.yaml of its own, same project settings), one process worker."""
    deploy_all(home, api_url, WORK_POOL)
    project = yaml.safe_load(prefect_yaml())
    project["name"] = "psflow-benchmarks"
    project["deployments"] = [deployment(d) for d in PINGPONG]
    pair = home / "prefect.yaml"
    pair.write_text(yaml.safe_dump(project, sort_keys=False, allow_unicode=True))
    deploy_all(home, api_url, WORK_POOL, prefect_file=pair)
    return [launch_worker(home, api_url, WORK_POOL)]


def two_workers(home: Path, api_url: str) -> list[Child]:
    """Production's topology: deployed as `worker` does, two process workers."""
    return [*worker(home, api_url), launch_worker(home / "second", api_url, WORK_POOL)]


# --- the servers: which API the benchmark talks to, which one the executors use ------------------


@contextmanager
def sqlite_server(home: Path) -> Iterator[tuple[str, str]]:
    """One Prefect server on SQLite: the benchmark and the executors use it."""
    server, api_url = launch_prefect(home, ui=False)
    with running(server):
        wait_prefect(server, api_url)
        yield api_url, api_url


@contextmanager
def production_servers(home: Path) -> Iterator[tuple[str, str]]:
    """psflow/production.py's servers on PostgreSQL and Redis: the benchmark sends its events to
    server A, the executors use server B."""
    from psflow.production import as_operator, topology

    with topology(home) as stack, as_operator(stack):
        first, second = stack.api_urls
        yield first, second


Servers = Callable[[Path], AbstractContextManager[tuple[str, str]]]
CONFIGURATIONS: dict[str, tuple[str, Callable[[Path, str], list[Child]], Servers]] = {
    "serve": (f"serve, runner poll {POLL_SECONDS:g} s (demo)", served, sqlite_server),
    "worker": (f"process worker, query {POLL_SECONDS:g} s", worker, sqlite_server),
    "production": ("2 servers PG+Redis, 2 workers", two_workers, production_servers),
}


# --- the run -------------------------------------------------------------------------------------


def run(data: Path, events: int, only: list[str] | None = None) -> int:
    os.chdir(Path(__file__).resolve().parent.parent)  # entrypoints are relative to the checkout
    print(
        f"psflow latency: prefect {prefect.__version__}, {os.cpu_count()} CPUs, "
        f"{events} samples per measure (after one warm-up each); {_load()}",
        flush=True,
    )
    figures: list[Figures] = []
    sandbox_child, sandbox_url = launch_sandbox(data / "sandbox")
    with running(sandbox_child):
        wait_sandbox(sandbox_child, sandbox_url)
        sandbox = SandboxClient(sandbox_url)
        for key, (name, executors, servers) in CONFIGURATIONS.items():
            if not only or key in only:
                print(f"\n{name}", flush=True)
                home = data / f"prefect-{key}"
                figures += measure(name, executors, servers, home, sandbox, events)
    report(figures)
    # the executors compete with everything else for the CPUs: a busy machine inflates every figure
    print(_load())
    return 0


def measure(
    name: str,
    executors: Callable[[Path, str], list[Child]],
    servers: Servers,
    home: Path,
    sandbox: SandboxClient,
    events: int,
) -> list[Figures]:
    with ExitStack() as stack:
        api_url, executors_api_url = stack.enter_context(servers(home))
        stack.enter_context(temporary_settings(updates={PREFECT_API_URL: api_url}))
        stack.enter_context(events_to(api_url))
        save_sandbox_blocks(sandbox.url)
        children = executors(home, executors_api_url)
        for child in children:
            stack.enter_context(running(child))
        logs = Logs(children)
        wait_until(lambda: _ready(len(DEPLOYMENTS) + len(PINGPONG)), 120, "deployments", logs)
        # the benchmark emits the watcher's events itself; a poll of its own would race it
        with _client() as client:
            client.pause_deployment(client.read_deployment_by_name(f"{WATCHER}/{WATCHER}").id)

        handovers(2, logs)  # warm-up: every executor polling, Prefect's imports in the page cache
        a = Figures(
            name, "event -> pre-initiate Running", *event_to_running(sandbox, events + 1, logs)
        )
        a.samples, a.starts = a.samples[1:], a.starts[1:]
        print(f"  (a) {a.line()}", flush=True)
        b = Figures(name, "phase Completed -> next Running", *handovers(events, logs))
        print(f"  (b) {b.line()}", flush=True)
    return [a, b]


def event_to_running(
    sandbox: SandboxClient, events: int, logs: Logs
) -> tuple[list[float], list[float]]:
    """One fresh opportunity at a time: moved to 5-Negotiating, its event emitted as the watcher
    emits it; the seconds from the event to its pre-initiate run Running. Each run is cancelled
    once it waits for the staffing approval, so the next event finds a quiet machine."""
    samples, starts = [], []
    for opportunity in opportunities(sandbox, count=events, amount=None):
        since = datetime.now(UTC) - timedelta(minutes=1)
        sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="5-Negotiating")
        (change,) = [c for c in find_stage_changes.fn(since) if c.opportunity_id == opportunity]
        event = emit_event(
            **event_kwargs(
                OPPORTUNITY_NEGOTIATING,
                change.opportunity_id,
                key=change.id,
                name=change.opportunity_name,
                customer=change.customer,
                payload={"from_stage": change.old_stage, "to_stage": change.new_stage},
            )
        )
        assert event is not None, "Prefect is not configured to emit events"
        run = wait_until(partial(_one_run, opportunity), 60, f"a run for {opportunity}", logs)
        state = wait_until(partial(_reached, run, StateType.PAUSED, *FINAL), 120, "Paused", logs)
        if state.type != StateType.PAUSED:
            raise RuntimeError(f"{run.name} ended {state.type}: {state.message}\n{logs()}")
        samples.append((_running_at(run) - event.occurred).total_seconds())
        starts.append(_start(run))
        with _client() as client:
            client.set_flow_run_state(run.id, Cancelled(message="benchmark sample"), force=True)
    return samples, starts


def handovers(hops: int, logs: Logs) -> tuple[list[float], list[float]]:
    """A chain of `hops` hand-overs between bench-ping and bench-pong; for each, the seconds from
    one run's Completed to the next one's Running."""
    opportunity = f"006BM{uuid.uuid4().hex[:13].upper()}"  # fresh: its events were never seen
    run_deployment(
        f"{PING}/{PING}",
        parameters={"opportunity_id": opportunity, "customer": "Benchmark", "hops": hops},
        timeout=0,
    )

    def chain_done() -> list[FlowRun] | None:
        runs = _runs(opportunity)
        done = [r for r in runs if r.state_type in FINAL]
        return runs if len(done) == hops + 1 else None

    runs = wait_until(chain_done, 30 + 15 * hops, f"{hops} hand-overs", logs)
    runs.sort(key=lambda r: -int(r.parameters["hops"]))
    for r in runs:
        if r.state_type != StateType.COMPLETED:
            raise RuntimeError(f"{r.name} ended {r.state_type}\n{logs()}")
    assert [r.name.split(" · ")[0] for r in runs[:2]] == [PING, PONG], [r.name for r in runs]
    samples = [
        (_running_at(after) - _completed_at(before)).total_seconds()
        for before, after in pairwise(runs)
    ]
    return samples, [_start(after) for after in runs[1:]]


def report(figures: list[Figures]) -> None:
    p50, p95 = f"p50 (<={TARGET_P50:g}s)", f"p95 (<={TARGET_P95:g}s)"
    print(f"\n{'configuration':<30} {'measure':<32} {'n':>3} {p50:>11} {p95:>11}  target  start")
    for f in figures:
        met = "met" if f.p50 <= TARGET_P50 and f.p95 <= TARGET_P95 else "MISSED"
        print(
            f"{f.configuration:<30} {f.measure:<32} {len(f.samples):>3} "
            f"{f.p50:>10.2f}s {f.p95:>10.2f}s  {met:<6} {f.start_p50:>5.2f}s"
        )
    print(
        "start: p50 of the executor's part, from the run's creation by the trigger to Running "
        "(a poll, a new process, Python, Prefect and the flow's module imported)"
    )


# --- reading Prefect -----------------------------------------------------------------------------


class Logs:
    """The tails of the executors' logs, for an error message."""

    def __init__(self, children: list[Child]) -> None:
        self.children = children

    def __call__(self) -> str:
        return "\n".join(f"--- {c.name}:\n{c.tail()}" for c in self.children)


@contextmanager
def _client() -> Iterator[SyncPrefectClient]:
    with get_client(sync_client=True) as client:
        yield client


def wait_until(check: Callable[[], Any], timeout: float, what: str, logs: Logs) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.2)
    raise TimeoutError(f"waited {timeout:.0f} s for {what}\n{logs()}")


def _ready(count: int) -> bool:
    with _client() as client:
        return len(client.read_deployments()) >= count


def _runs(name_part: str) -> list[FlowRun]:
    with _client() as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=name_part))
        )


def _one_run(opportunity: str) -> FlowRun | None:
    runs = _runs(opportunity)
    if len(runs) > 1:
        raise RuntimeError(f"{len(runs)} runs for one event: {[r.name for r in runs]}")
    return runs[0] if runs else None


def _reached(run: FlowRun, *types: StateType) -> Any:
    with _client() as client:
        state = client.read_flow_run(run.id).state
    return state if state is not None and state.type in types else None


def _state_at(run: FlowRun, kind: StateType, first: bool) -> datetime:
    with _client() as client:
        states = [s for s in client.read_flow_run_states(run.id) if s.type == kind]
    if not states:
        raise RuntimeError(f"{run.name} was never {kind.value}")
    states.sort(key=lambda s: s.timestamp)
    return states[0 if first else -1].timestamp


def _running_at(run: FlowRun) -> datetime:
    return _state_at(run, StateType.RUNNING, first=True)


def _completed_at(run: FlowRun) -> datetime:
    return _state_at(run, StateType.COMPLETED, first=False)


def _start(run: FlowRun) -> tuple[float, float]:
    """The executor's part, from the run's creation by the trigger: to Pending (its next poll and
    the submission), then to Running (the flow-run process: forked warm or a new Python importing
    Prefect and the flow's module; the run read, the flow loaded)."""
    scheduled = _state_at(run, StateType.SCHEDULED, first=True)
    pending = _state_at(run, StateType.PENDING, first=True)
    running = _running_at(run)
    return (pending - scheduled).total_seconds(), (running - pending).total_seconds()


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"
