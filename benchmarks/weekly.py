"""The Friday status reports (issue 19): N engagements In Progress (default 500), each with two
weeks of hours logged, get their weekly report from one start of the `weekly-status` deployment,
with the sandbox enforcing the published quotas (Sheets reads and writes per minute, Gmail sends,
Kantata, ...); wall time until every `status` run has Completed, against the floor the quotas
imply, CPU-seconds per report, reads and writes per report, and duplicates (none allowed).

The engagements are made in bulk with psflow's own tasks (testkit/seeding.py: what the phases
before leave, without running them), quotas off. The reports go out as gathered
(`PsflowSettings.status_review` off): the benchmark measures the machine, not 500 people's reviews.
Topologies as `benchmarks.burst`.

    .venv/bin/python -m benchmarks.weekly [--engagements 500] [--workers 1] [--topology sqlite]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path

from benchmarks.burst import (
    TOPOLOGIES,
    against_the_floor,
    busy_cpu_seconds,
    cpu_by_role,
    duplicates,
    first_completions,
    runs_of,
    servers_running_here,
)
from benchmarks.stack import header, load, prefect_home

START = date(2027, 1, 4)  # a Monday: the reports are of the second week, ISO 2027-W02


def sent_without_review() -> None:
    """The saved settings with the review off: each report goes out as gathered."""
    from blocks import PsflowSettings

    settings = PsflowSettings.load("psflow")
    settings.status_review = False
    settings.save("psflow", overwrite=True)


def run(data: Path, engagements: int, workers: int, topology: str, concurrency: int) -> int:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    from blocks import sandbox_blocks
    from deployments.definitions import WORK_POOL
    from psflow.local import prefect_command
    from tasks import clients
    from testkit.seeding import in_progress

    header(
        f"Friday status reports: {engagements} engagements, {workers} worker(s), {topology}, "
        f"pool concurrency {concurrency}"
    )
    with TOPOLOGIES[topology](data, workers) as (sandbox, api_url, logs, pids):
        pids = {**pids, **servers_running_here()}
        prefect_command(
            data / "cli", api_url, "work-pool", "set-concurrency-limit", WORK_POOL, str(concurrency)
        )
        with get_client(sync_client=True) as client:
            watcher = client.read_deployment_by_name("watch-opportunities/watch-opportunities")
            client.pause_deployment(watcher.id)  # nothing moves stage here
        sent_without_review()
        t0 = time.perf_counter()
        clients.configure(sandbox_blocks(sandbox.url))
        try:
            ids = in_progress(sandbox, engagements, START)
        finally:
            clients.reset()
        print(
            f"setup: {len(ids)} engagements In Progress in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )

        sandbox.set_quotas(True)
        since = sandbox.last_request_id()
        started, cpu = datetime.now().astimezone(), busy_cpu_seconds()
        roles = cpu_by_role(pids)
        run_deployment("weekly-status/weekly-status", timeout=0)
        deadline = time.monotonic() + 3 * 3600
        while time.monotonic() < deadline:
            runs = runs_of("status")
            final = [r for r in runs if r.state and r.state.is_final()]
            if first_completions(runs).keys() >= set(ids) or len(final) >= len(ids):
                break
            print(
                f"  {time.strftime('%H:%M:%S')} status runs {len(runs)}, final {len(final)}; "
                f"{load()}",
                flush=True,
            )
            time.sleep(15)
        else:
            raise RuntimeError(f"the reports did not finish in three hours\n{logs()}")

        cpu = busy_cpu_seconds() - cpu
        roles = {role: seconds - roles[role] for role, seconds in cpu_by_role(pids).items()}
        rows = sandbox.requests(since=since)
        sandbox.set_quotas(False)
        states = Counter(r.state.type.value for r in runs if r.state)
        ends = first_completions(runs)
        wall = (max(ends.values()) - started).total_seconds() if ends else float("nan")
        writes = Counter(r["system"] for r in rows if r["write"])
        reads = Counter(r["system"] for r in rows if not r["write"])
        extra = duplicates(sandbox)
        mails = [m for m in sandbox.state("google", "message") if "SENT" in m.get("labelIds", [])]
        health = len(sandbox.state("mavenlink", "status_reports"))

    n = len(ids)
    print(f"\nstatus runs by state: {dict(states)}")
    for failed in [
        r for r in runs if r.state and r.state.is_final() and not r.state.is_completed()
    ][:5]:
        print(f"  {failed.name}: {failed.state.message}")
    print(f"e-mails sent: {len(mails)}; health reports: {health} (one each: {n})")
    print(f"wall time, the schedule's start -> last report Completed: {wall:.0f} s")
    against_the_floor(rows, wall, cpu, roles, n, "report")
    print(
        f"per report: {sum(reads.values()) / n:.1f} reads {dict(reads)}, "
        f"{sum(writes.values()) / n:.1f} writes {dict(writes)} (totals)"
    )
    print(f"duplicates (same natural keys twice): {sum(extra.values())} {dict(extra)}")
    print(f"\n{load()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engagements", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--topology", choices=sorted(TOPOLOGIES), default="sqlite")
    parser.add_argument("--concurrency", type=int, default=24, help="the pool's concurrency limit")
    parser.add_argument("--data-dir", type=Path, help="keep servers' data and logs here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="psflow-weekly-") as tmp:
        data = (args.data_dir or Path(tmp)).resolve()
        prefect_home(data)
        return run(data, args.engagements, args.workers, args.topology, args.concurrency)


if __name__ == "__main__":
    raise SystemExit(main())
