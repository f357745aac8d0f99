"""The end-of-quarter burst (issue 7; issue 8 with --workers 2 --topology production): N staffed
opportunities (default 200) go Closed Won within a minute, with the sandbox enforcing the published
quotas; wall time until every Initiate has Completed, against the floor the quotas imply.

Production's configuration: `prefect deploy --all`, process workers on the `psflow` pool (its
concurrency capped: each flow run is a ~250 MB process), the Salesforce watcher finding the stage
changes (run every `--watch-seconds` by the benchmark instead of its 2-minute schedule) and the
`initiate` deployment's trigger starting each run. Requests are paced by deployments/quotas.py.

The floor: a quota of Q requests per W seconds lets n requests through no sooner than
(ceil(n / Q) - 1) * W after the first; n is what the burst itself sent toward each quota (sandbox
request log), and the floor is the largest over the quotas. Duplicates: objects of one kind in one
system carrying the same natural keys (engagement/keys.py), which must be none.

    .venv/bin/python -m benchmarks.burst [--engagements 200] [--workers 1] [--topology sqlite]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from benchmarks.api_calls import burst_floor, quota_use
from benchmarks.stack import approved, header, load, prefect_home

SYSTEMS = ("salesforce", "gitlab", "google", "mavenlink", "slack")


# --- where it runs ---------------------------------------------------------------------------


@contextmanager
def sqlite(data: Path, workers: int) -> Iterator[tuple[Any, str, Any, Pids]]:
    """One Prefect server on SQLite, deployed, `workers` process workers on its pool."""
    from benchmarks.stack import stack
    from deployments.definitions import WORK_POOL
    from psflow.local import deploy_all, launch_worker, prefect_env

    with stack(data, serve=False, pace=True) as st:
        deploy_all(st.home, st.api_url, WORK_POOL)
        # README's "Deploying": the automations too (the rescue of a run that crashed, e.g. one
        # a busy SQLite server refused to hand to its worker)
        subprocess.run(
            [sys.executable, "-m", "deployments.automations"],
            env={**os.environ, **prefect_env(st.home / "deploy", st.api_url)},
            check=True,
            capture_output=True,
        )
        children = [
            launch_worker(st.home / f"worker-{n + 1}", st.api_url, WORK_POOL)
            for n in range(workers)
        ]
        pids = {**st.pids, "workers and their flow runs": [c.process.pid for c in children]}

        def logs() -> str:
            return str(st.logs()) + "".join(c.tail() for c in children)

        try:
            yield st.sandbox, st.api_url, logs, pids
        finally:
            for child in children:
                child.stop()


@contextmanager
def production(data: Path, workers: int) -> Iterator[tuple[Any, str, Any, Pids]]:
    """psflow/production.py's topology: two API servers (the benchmark uses A, the workers B
    and A in turn), PostgreSQL and Redis, `workers` process workers."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from blocks import save_sandbox_blocks
    from deployments.definitions import WORK_POOL
    from psflow.local import launch_sandbox, running, wait_sandbox
    from psflow.production import as_operator, deploy, topology
    from sandbox.client import SandboxClient

    sandbox_child, sandbox_url = launch_sandbox(data / "sandbox")
    with running(sandbox_child), topology(data / "prefect") as stack, as_operator(stack):
        wait_sandbox(sandbox_child, sandbox_url)
        first, second = stack.api_urls
        with temporary_settings(updates={PREFECT_API_URL: first}):
            save_sandbox_blocks(sandbox_url, pace=True)
            deploy(stack, first, WORK_POOL)
            for n in range(workers):
                stack.start_workers(1, (second, first)[n % 2], WORK_POOL)
            pids = {
                "sandbox": [sandbox_child.process.pid],
                "Prefect API servers": [c.process.pid for c in stack.servers],
                "Prefect services": [stack.services.process.pid] if stack.services else [],
                "workers and their flow runs": [c.process.pid for c in stack.workers],
            }
            yield SandboxClient(sandbox_url, timeout=120), first, stack.logs, pids


TOPOLOGIES = {"sqlite": sqlite, "production": production}
Pids = dict[str, list[int]]


# --- the figures -----------------------------------------------------------------------------


@cache
def _keys() -> re.Pattern[str]:
    from engagement.keys import Kind

    kinds = "|".join(re.escape(k.value) for k in Kind)
    return re.compile(rf"(?<![\w-])(?:{kinds}):[A-Za-z0-9]{{18}}(?::[A-Za-z0-9._~-]+)?")


def natural_keys(row: dict[str, Any]) -> tuple[str, ...]:
    """The psflow natural keys an object carries ("<kind>:<18-character id>[:<part>]")."""
    return tuple(sorted(set(_keys().findall(json.dumps(row, default=str)))))


def duplicates(sandbox: Any) -> Counter[str]:
    """Objects beyond the first of one kind carrying the same natural keys, per system and kind."""
    extra: Counter[str] = Counter()
    for system in SYSTEMS:
        for kind, rows in sandbox.state(system).items():
            seen = Counter(keys for keys in map(natural_keys, rows) if keys)
            extra.update({f"{system} {kind}": n - 1 for n in seen.values() if n > 1})
    return extra


def first_completions(runs: list[Any]) -> dict[str, datetime]:
    """Each opportunity's first Completed Initiate: an event delivered twice (prefect-redis
    redelivers what a busy consumer did not acknowledge) can start a second run, which then
    finds everything made and writes nothing."""
    from prefect.client.schemas.objects import StateType

    ends: dict[str, datetime] = {}
    for run in runs:
        if run.state and run.state.type == StateType.COMPLETED and run.end_time:
            key = str(run.parameters.get("opportunity_id"))
            ends[key] = min(ends.get(key, run.end_time), run.end_time)
    return ends


def servers_running_here() -> Pids:
    """The machine's PostgreSQL (its postmaster: ended backends are its reaped children) and
    Redis, which the production topology uses."""
    from psflow.local import proc_stat

    found: Pids = {"PostgreSQL": [], "Redis": []}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            name = (entry / "comm").read_text().strip()
            parent = int(proc_stat(int(entry.name))[1])
            parent_name = Path(f"/proc/{parent}/comm").read_text().strip() if parent > 1 else ""
        except (OSError, ValueError, IndexError):
            continue
        if name == "postgres" and parent_name != "postgres":
            found["PostgreSQL"].append(int(entry.name))
        elif name == "redis-server":
            found["Redis"].append(int(entry.name))
    return found


def cpu_by_role(pids: Pids) -> dict[str, float]:
    from psflow.local import cpu_seconds

    return {role: sum(map(cpu_seconds, each)) for role, each in pids.items()}


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy since boot (/proc/stat), every process counted."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def runs_of(flow: str) -> list[Any]:
    """Every run of the flow named `flow`, page by page."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    runs: list[Any] = []
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[flow])),
                offset=len(runs),
                limit=200,
            )
            runs += page
            if len(page) < 200:
                return runs


def run(
    data: Path,
    engagements: int,
    workers: int,
    topology: str,
    concurrency: int,
    watch_seconds: float,
) -> int:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    from deployments.definitions import WORK_POOL
    from psflow.local import prefect_command

    header(
        f"end-of-quarter burst: {engagements} engagements, {workers} worker(s), {topology}, "
        f"pool concurrency {concurrency}"
    )
    with TOPOLOGIES[topology](data, workers) as (sandbox, api_url, logs, pids):
        pids = {**pids, **servers_running_here()}  # (this process: in "everything else")
        prefect_command(
            data / "cli",
            api_url,
            "work-pool",
            "set-concurrency-limit",
            WORK_POOL,
            str(concurrency),
        )
        with get_client(sync_client=True) as client:
            watcher = client.read_deployment_by_name("watch-opportunities/watch-opportunities")
            client.pause_deployment(watcher.id)  # the benchmark polls on its own beat
        t0 = time.perf_counter()
        ids = approved(sandbox, engagements)
        print(
            f"setup: {len(ids)} opportunities staffed in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
        run_deployment(watcher.id, timeout=120)  # the watermark past the setup

        sandbox.set_quotas(True)
        since = sandbox.last_request_id()
        started, cpu = datetime.now().astimezone(), busy_cpu_seconds()
        roles = cpu_by_role(pids)
        for opportunity in ids:
            sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
        moved = (datetime.now().astimezone() - started).total_seconds()
        print(f"{len(ids)} opportunities moved to Closed Won in {moved:.0f} s", flush=True)

        deadline = time.monotonic() + 3600
        last_poll = 0.0
        while time.monotonic() < deadline:
            runs = runs_of("initiate")
            final = [r for r in runs if r.state and r.state.is_final()]
            if first_completions(runs).keys() >= set(ids):
                break
            if len(runs) < len(ids) and time.monotonic() - last_poll >= watch_seconds:
                run_deployment(watcher.id, timeout=0)
                last_poll = time.monotonic()
            print(
                f"  {time.strftime('%H:%M:%S')} initiate runs {len(runs)}, final {len(final)}; "
                f"{load()}",
                flush=True,
            )
            time.sleep(10)
        else:
            raise RuntimeError(f"the burst did not finish in an hour\n{logs()}")

        cpu = busy_cpu_seconds() - cpu
        roles = {role: seconds - roles[role] for role, seconds in cpu_by_role(pids).items()}
        rows = sandbox.requests(since=since)
        sandbox.set_quotas(False)
        states = Counter(r.state.type.value for r in runs if r.state)
        ends = first_completions(runs)
        wall = (max(ends.values()) - started).total_seconds() if ends else float("nan")
        writes = Counter(r["system"] for r in rows if r["write"])
        extra = duplicates(sandbox)

    print(f"\nInitiate runs by state (second runs of an opportunity included): {dict(states)}")
    print(f"wall time, first Closed Won -> last Initiate Completed: {wall:.0f} s")
    against_the_floor(rows, wall, cpu, roles, len(ids), "engagement")
    print(f"writes per system: {dict(writes)}")
    print(f"duplicates (same natural keys twice): {sum(extra.values())} {dict(extra)}")
    print(f"\n{load()}")
    return 0


def against_the_floor(
    rows: list[dict[str, Any]], wall: float, cpu: float, roles: dict[str, float], n: int, each: str
) -> None:
    """Print the wall time against the floor the quotas set for `rows` (the requests of the
    burst), the busiest quotas, the CPU spent (in all and by role, per `each` of the `n`) and the
    quota answers."""
    use = quota_use(rows)
    floor, binding = burst_floor(use, 1)
    print(
        f"floor: {floor:g} s, set by {binding.id} ({use[binding]} requests, "
        f"{binding.limit} per {binding.window_seconds:g} s)"
    )
    # a burst small enough to fit in one window of every quota has a floor of 0
    ratio = f"{wall / floor:.2f}" if floor else "n/a (every quota's first window holds it)"
    print(f"wall / floor: {ratio}  (target <= 1.2)")
    print("busiest quotas (requests in the burst, floor):")
    for quota, used in sorted(use.items(), key=lambda i: -burst_floor({i[0]: i[1]}, 1)[0])[:6]:
        print(f"  {quota.id:<38} {used:>6}  {burst_floor({quota: used}, 1)[0]:>6g} s")
    cores = os.cpu_count() or 1
    print(
        f"CPU busy during the burst, every process: {cpu:.0f} s = {cpu / n:.2f} s per {each}; "
        f"on {cores} cores that alone takes {cpu / cores:.0f} s"
    )
    for role, seconds in sorted(roles.items(), key=lambda r: -r[1]):
        print(f"  {role:<30} {seconds:>7.0f} s  {seconds / n:>5.2f} s per {each}")
    other = cpu - sum(roles.values())
    print(f"  {'everything else':<30} {other:>7.0f} s  {other / n:>5.2f} s per {each}")
    throttled = Counter(r["quota"] for r in rows if r["quota"])
    print(f"quota answers (429 and the like): {sum(throttled.values())} {dict(throttled)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engagements", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--topology", choices=sorted(TOPOLOGIES), default="sqlite")
    parser.add_argument("--concurrency", type=int, default=24, help="the pool's concurrency limit")
    parser.add_argument("--watch-seconds", type=float, default=15)
    parser.add_argument("--data-dir", type=Path, help="keep servers' data and logs here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="psflow-burst-") as tmp:
        data = (args.data_dir or Path(tmp)).resolve()
        prefect_home(data)
        return run(
            data,
            args.engagements,
            args.workers,
            args.topology,
            args.concurrency,
            args.watch_seconds,
        )


if __name__ == "__main__":
    raise SystemExit(main())
