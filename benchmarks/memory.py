"""Memory (issue 7): peak RSS of a process worker (production's configuration: README's
"Deploying", `prefect deploy --all`, `prefect worker start --pool psflow`) and the flow-run
processes it starts, summed, while it runs N engagements' Initiate at once (default 20): the runs
are scheduled while the work pool is paused and released together, so the worker takes them all in
one poll.

RSS and PSS are read from /proc (smaps_rollup of the worker and every process below it) every
0.2 s. RSS counts a shared page once per process that maps it, so its sum overstates what the
machine gives: flow-run processes forked from the warm zygote share most of their pages with it.
PSS splits each shared page among the processes sharing it: its sum is the tree's real footprint.

    .venv/bin/python -m benchmarks.memory [--engagements 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

from benchmarks.stack import approved, header, load, prefect_home, stack

SAMPLE_SECONDS = 0.2


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB; zeros for a process that is gone."""
    rss = pss = 0.0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, pss


def tree_memory(root: int) -> dict[int, tuple[float, float]]:
    """{pid: (RSS MB, PSS MB)} of `root` and everything below it."""
    tree, found, todo = _children(), {}, [root]
    while todo:
        pid = todo.pop()
        found[pid] = _memory_mb(pid)
        todo.extend(tree.get(pid, []))
    return found


class Sampler(threading.Thread):
    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.done = root, threading.Event()
        self.peak_total, self.peak_processes, self.worker_peak = 0.0, 0, 0.0
        self.peak_pss = 0.0
        self.child_peaks: dict[int, float] = {}  # RSS
        self.child_pss_peaks: dict[int, float] = {}

    def run(self) -> None:
        while not self.done.is_set():
            memory = tree_memory(self.root)
            total = sum(rss for rss, _ in memory.values())
            if total > self.peak_total:
                self.peak_total, self.peak_processes = total, len(memory)
            self.peak_pss = max(self.peak_pss, sum(pss for _, pss in memory.values()))
            self.worker_peak = max(self.worker_peak, memory.get(self.root, (0.0, 0.0))[0])
            for pid, (rss, pss) in memory.items():
                if pid != self.root:
                    self.child_peaks[pid] = max(self.child_peaks.get(pid, 0.0), rss)
                    self.child_pss_peaks[pid] = max(self.child_pss_peaks.get(pid, 0.0), pss)
            time.sleep(SAMPLE_SECONDS)


def _pause_pool(name: str, paused: bool) -> None:
    from prefect.client.schemas.actions import WorkPoolUpdate

    from benchmarks.measure import _client

    with _client() as client:
        client.update_work_pool(name, WorkPoolUpdate(is_paused=paused))


def run(data: Path, engagements: int) -> int:
    from prefect.client.schemas.objects import FlowRun, StateType
    from prefect.deployments import run_deployment

    from benchmarks.measure import FINAL, _client, _reached, wait_until
    from deployments.definitions import WORK_POOL
    from psflow.local import deploy_all, launch_worker, running

    header(f"memory of a process worker running {engagements} Initiates")
    with stack(data, serve=False) as st:
        t0 = time.perf_counter()
        ids = approved(st.sandbox, engagements)
        print(f"setup: {len(ids)} opportunities staffed in {time.perf_counter() - t0:.0f} s")
        deploy_all(st.home, st.api_url, WORK_POOL)
        with _client() as client:
            watcher = client.read_deployment_by_name("watch-opportunities/watch-opportunities")
            client.pause_deployment(watcher.id)
        worker = launch_worker(st.home, st.api_url, WORK_POOL)
        with running(worker):
            # every run scheduled while the pool is paused, then released at once: the worker
            # takes them all in one poll and runs them together
            _pause_pool(WORK_POOL, True)
            runs: list[FlowRun] = []
            for opportunity in ids:
                st.sandbox.act(
                    "salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won"
                )
                runs.append(
                    run_deployment(  # type: ignore[arg-type]  # the sync call returns a FlowRun
                        "initiate/initiate",
                        parameters={"opportunity_id": opportunity, "customer": "Benchmark"},
                        timeout=0,
                    )
                )
            time.sleep(5)  # the worker up and polling the paused pool
            sampler = Sampler(worker.process.pid)
            at_rest = tree_memory(worker.process.pid).values()
            idle, idle_pss = sum(r for r, _ in at_rest), sum(p for _, p in at_rest)
            sampler.start()
            t0 = time.perf_counter()
            _pause_pool(WORK_POOL, False)
            states = [
                wait_until(partial(_reached, r, *FINAL), 900, "initiate", st.logs) for r in runs
            ]
            wall = time.perf_counter() - t0
            sampler.done.set()
            sampler.join()
        completed = sum(s.type == StateType.COMPLETED for s in states)
        children = list(sampler.child_peaks.values())
        print(f"\n{completed}/{len(states)} Initiate runs Completed in {wall:.0f} s")
        for run, state in zip(runs, states, strict=True):
            if state.type != StateType.COMPLETED:
                print(f"  {run.name}: {state.name}: {state.message}")
        print(
            f"worker idle (before the runs, with its zygote): RSS {idle:.0f} MB, PSS {idle_pss:.0f} MB"
        )
        print(
            f"peak RSS, worker + flow-run processes summed: {sampler.peak_total:.0f} MB "
            f"({sampler.peak_processes} processes at that moment)"
        )
        print(f"peak PSS, summed (shared pages counted once): {sampler.peak_pss:.0f} MB")
        print(f"worker process alone: peak {sampler.worker_peak:.0f} MB")
        if children:
            print(
                f"each flow-run process (and what it started): {len(children)} seen, peak p50 "
                f"{statistics.median(children):.0f} MB, max {max(children):.0f} MB; PSS p50 "
                f"{statistics.median(sampler.child_pss_peaks.values()):.0f} MB"
            )
        print(
            f"per engagement: RSS {(sampler.peak_total - idle) / engagements:.0f} MB, PSS "
            f"{(sampler.peak_pss - idle_pss) / engagements:.0f} MB "
            "(peak sum less the idle worker, over the engagements)"
        )
    print(f"\n{load()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engagements", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, help="keep servers' data and logs here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="psflow-memory-") as tmp:
        data = (args.data_dir or Path(tmp)).resolve()
        prefect_home(data)
        return run(data, args.engagements)


if __name__ == "__main__":
    raise SystemExit(main())
