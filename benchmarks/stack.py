"""What the issue-7 benchmarks share: a sandbox, a Prefect server and psflow's deployments served
against them (the demo's configuration), started and stopped around one measurement.

Prefect reads its settings when first imported: call `prefect_home(data)` before importing this
module's users' Prefect-dependent code (as `benchmarks.latency` does).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psflow.local import prefect_env


def prefect_home(data: Path) -> None:
    """This process's own Prefect home (never ~/.prefect), set before Prefect is imported; and a
    stop (SIGTERM, as `timeout` sends it) ends the benchmark as Ctrl-C does, through its `with`
    blocks: the servers it started stop with it."""
    (data / "client").mkdir(parents=True, exist_ok=True)
    os.environ.update(prefect_env(data / "client"))
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


@dataclass
class Stack:
    sandbox: Any  # SandboxClient
    api_url: str
    home: Path
    logs: Any  # benchmarks.measure.Logs: the servers' log tails, for an error message
    pids: dict[str, list[int]]  # the processes it started, by role


@contextmanager
def stack(
    data: Path,
    serve: bool = True,
    serve_env: Mapping[str, str] | None = None,
    sandbox_env: Mapping[str, str] | None = None,
    pace: bool = False,
) -> Iterator[Stack]:
    """A sandbox, a Prefect server (SQLite) with the sandbox's Blocks saved, and, with `serve`,
    `python -m psflow.serve` (runner polling every second) with the watchers paused: the
    benchmarks start the runs they measure themselves."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from benchmarks.measure import Logs, _client, _ready, wait_until
    from blocks import save_sandbox_blocks
    from deployments.definitions import DEPLOYMENTS
    from psflow.local import (
        events_to,
        launch_prefect,
        launch_sandbox,
        running,
        start,
        wait_prefect,
        wait_sandbox,
    )
    from sandbox.client import SandboxClient

    with ExitStack() as stack:
        old = dict(os.environ)
        os.environ.update(sandbox_env or {})
        try:
            sandbox_child, sandbox_url = launch_sandbox(data / "sandbox")
        finally:
            os.environ.clear()
            os.environ.update(old)
        stack.enter_context(running(sandbox_child))
        home = data / "prefect"
        server, api_url = launch_prefect(home, ui=False)
        stack.enter_context(running(server))
        wait_sandbox(sandbox_child, sandbox_url)
        wait_prefect(server, api_url)
        stack.enter_context(temporary_settings(updates={PREFECT_API_URL: api_url}))
        stack.enter_context(events_to(api_url))
        save_sandbox_blocks(sandbox_url, pace=pace)
        children = [sandbox_child]
        if serve:
            env = {
                **prefect_env(home, api_url),
                "PREFECT_RUNNER_POLL_FREQUENCY": "1",
                **(serve_env or {}),
            }
            argv = [sys.executable, "-m", "psflow.serve"]
            runner = start("serve", argv, home / "serve.log", env)
            stack.enter_context(running(runner))
            children.append(runner)
        logs = Logs(children)
        if serve:
            wait_until(lambda: _ready(len(DEPLOYMENTS)), 120, "deployments", logs)
            with _client() as client:
                for name in WATCHERS:
                    watcher = client.read_deployment_by_name(f"{name}/{name}")
                    client.pause_deployment(watcher.id)
        sandbox = SandboxClient(sandbox_url, timeout=120)
        stack.callback(sandbox.close)
        pids = {"sandbox": [sandbox_child.process.pid], "Prefect server": [server.process.pid]}
        if serve:
            pids["served runs"] = [children[-1].process.pid]
        yield Stack(sandbox, api_url, home, logs, pids)


# what runs on its own schedule: paused, or its requests would fall into every count
WATCHERS = ("watch-opportunities", "watch-replies", "watch-activities", "passive-acceptance")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


def header(name: str) -> None:
    import prefect

    print(
        f"psflow {name}: prefect {prefect.__version__}, {os.cpu_count()} CPUs, "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {load()}",
        flush=True,
    )


def approved(sandbox: Any, count: int, amount: float = 30_000, threads: int = 4) -> list[str]:
    """`count` fresh opportunities in 5-Negotiating, through Pre-Initiate with staffing approved,
    as Initiate finds them on Closed Won.

    Benchmark setup, not psflow's path: the opportunities are imported in 5-Negotiating a week
    ago (no stage-history row, no new record: a watcher sees only their later moves); instead of
    a person answering each run's form, the approved decision is posted to #ps_planning first,
    by the same code and in the same form as Pre-Initiate records it
    (`flows.pre_initiate.post_decision`). Pre-Initiate, run in-process (`threads` at a time) and
    unpaced (the sandbox's quotas are off meanwhile), then finds the decision recorded and does
    every other step itself."""
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    from blocks import sandbox_blocks
    from flows.pre_initiate import StaffingDecision, post_decision, pre_initiate
    from tasks import clients
    from tasks.salesforce import get_opportunity
    from tasks.sheets import get_roster
    from testkit.factories import opportunities
    from testkit.phases import COORDINATOR

    clients.configure(sandbox_blocks(sandbox.url, pace=False))
    try:
        # imported: the watcher starts nothing for them
        ids = opportunities(sandbox, count, amount=amount, stage="5-Negotiating", imported=True)
        pses = [pse.email for pse in get_roster.fn().pses]
        for n, opportunity in enumerate(ids):
            decision = StaffingDecision(
                approve=True, pses=[pses[n % len(pses)]], approver=COORDINATOR
            )
            post_decision(get_opportunity.fn(opportunity), decision)

        def run(opportunity: str) -> None:
            state = pre_initiate(
                opportunity_id=opportunity, customer="Benchmark", return_state=True
            )
            if not state.is_completed():
                raise RuntimeError(f"pre-initiate of {opportunity}: {state.type} {state.message}")

        context = contextvars.copy_context()  # Prefect's settings (the API URL) live in it
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda opportunity: context.copy().run(run, opportunity), ids))
        return ids
    finally:
        clients.reset()
