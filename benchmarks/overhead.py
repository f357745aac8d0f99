"""Per-task orchestration overhead (issue 7): the same sandbox call (Slack `auth.test`, through
psflow's client and `calling`) made N times inside one flow run against a real Prefect server,

  (1) as psflow's `@outside_task` (4 retries on TransientError, retry condition, result persisted),
  (2) as a bare Prefect `@task`,
  (3) as a plain function call,

per call: p50 and mean ms. (1) - (3) is what psflow's task costs over the call itself. And (4)
what pacing (tasks/pacing.py) adds to each request toward a paced quota: taking one slot of a
Prefect rate limit that has room (one Prefect API call).

    .venv/bin/python -m benchmarks.overhead [--calls 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.stack import header, load, prefect_home, stack

SLOT = "bench-overhead-slot"
WARM_UP = 5  # calls dropped from each series: the first task run imports and creates what it needs


def call(i: int) -> str:
    """One sandbox request (`i` only makes each call's inputs differ: a persisted task's cache key
    then never repeats, so every call really runs)."""
    from tasks.calls import calling
    from tasks.clients import systems

    with calling("Slack", "auth.test"):
        return str(systems().slack().auth_test()["team_id"])


def run(data: Path, calls: int) -> int:
    from prefect import flow, task
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.concurrency.sync import rate_limit

    from tasks.calls import outside_task

    header("per-task overhead")
    series: dict[str, list[float]] = {}

    def slot(i: int) -> None:
        """What pacing adds to a paced request: one rate-limit slot (one Prefect API call), on a
        limit that never makes it wait."""
        rate_limit(SLOT, strict=True)

    variants: dict[str, Callable[[int], Any]] = {
        "psflow @outside_task": outside_task("call {i}")(call),
        "bare Prefect @task": task(call),
        "plain call": call,
        "rate-limit slot only": slot,
    }

    @flow(name="bench-overhead")
    def measure(n: int) -> None:
        # round robin, so a change in the machine's load hits the three alike
        for i in range(n + WARM_UP):
            for offset, (name, fn) in enumerate(variants.items()):
                t0 = time.perf_counter()
                fn(offset * 1_000_000 + i)  # inputs never seen: no variant reads another's cache
                if i >= WARM_UP:
                    series.setdefault(name, []).append((time.perf_counter() - t0) * 1000)

    with stack(data, serve=False) as st:
        with get_client(sync_client=True) as client:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=SLOT, limit=10_000, slot_decay_per_second=10_000)
            )
        measure(calls)
        requests = len(st.sandbox.requests(system="slack"))
    plain = statistics.median(series["plain call"])
    print(f"\n{calls} calls each (after {WARM_UP} warm-up), {requests} Slack requests in all")
    print(f"{'':<22} {'p50 ms':>8} {'mean ms':>8} {'p50 over plain':>15}")
    for name, times in series.items():
        p50 = statistics.median(times)
        print(f"{name:<22} {p50:>8.1f} {statistics.mean(times):>8.1f} {p50 - plain:>12.1f} ms")
    print(f"\n{load()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, help="keep servers' data and logs here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="psflow-overhead-") as tmp:
        data = (args.data_dir or Path(tmp)).resolve()
        prefect_home(data)
        return run(data, args.calls)


if __name__ == "__main__":
    raise SystemExit(main())
