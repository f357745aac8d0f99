"""The Salesforce watcher's cost per poll (issue 7): 10,000 opportunities in the sandbox, 10 of
which changed stage since the last poll (none created since); one poll of `watch-opportunities`
(the flow itself, run in-process against a real Prefect server): the requests it makes, the rows
it reads (against the 10,000 a scan would read), its wall time, and the sandbox's own time
answering it. For contrast, the cost of the scan it avoids (every opportunity's stage, read with
`query_all`).

    .venv/bin/python -m benchmarks.watcher [--opportunities 10000] [--changed 10] [--polls 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.stack import header, load, prefect_home, stack


def run(data: Path, opportunities: int, changed: int, polls: int) -> int:
    from prefect.variables import Variable

    from flows.watch_opportunities import WATERMARK, watch_opportunities
    from tasks.clients import systems
    from tasks.salesforce import find_stage_changes
    from testkit import factories

    header("watcher cost per poll")
    with stack(data, serve=False) as st:
        sandbox = st.sandbox
        started = time.perf_counter()
        # the pipeline as it stands: created before the watcher's window
        ids = factories.opportunities(
            sandbox, count=opportunities, amount=None, imported=True, details=False
        )
        print(f"setup: {len(ids)} opportunities in {time.perf_counter() - started:.1f} s")
        since = datetime.now(UTC) - timedelta(seconds=1)
        Variable.set(WATERMARK, since.isoformat(), overwrite=True)
        step = max(len(ids) // changed, 1)
        for opportunity in ids[::step][:changed]:
            sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="5-Negotiating")
        t0 = time.perf_counter()
        rows = len(find_stage_changes.fn(since - timedelta(seconds=300)))
        query_ms = (time.perf_counter() - t0) * 1000

        walls, sandbox_ms, counts = [], [], []
        for _ in range(polls):
            first = sandbox.last_request_id()
            t0 = time.perf_counter()
            emitted = watch_opportunities()
            walls.append(time.perf_counter() - t0)
            log = sandbox.requests(since=first)
            counts.append(len(log))
            sandbox_ms.append(sum(r["duration_ms"] for r in log))
        print(
            f"\none poll ({polls} polls; each re-reads the 5-minute overlap, so each finds the "
            f"same {changed} changes):"
        )
        print(
            f"  Salesforce requests per poll: {counts[0]} (floor 2: the stage history, the "
            f"records created since)  all polls: {counts}"
        )
        print(
            f"  rows read: {rows} (floor {changed} changes; a scan reads {len(ids)}); "
            f"events emitted: {emitted}"
        )
        print(
            f"  wall time of a poll (the flow run, Prefect included): first "
            f"{walls[0] * 1000:.0f} ms, p50 {statistics.median(walls) * 1000:.0f} ms, "
            f"mean {statistics.mean(walls) * 1000:.0f} ms"
        )
        print(
            f"  of which the query itself (psflow's client, no Prefect): {query_ms:.0f} ms; "
            f"the sandbox's time answering it (its SOQL engine): p50 "
            f"{statistics.median(sandbox_ms):.1f} ms per poll"
        )

        # the scan the watcher avoids: every opportunity's stage (2,000 rows per page)
        first = sandbox.last_request_id()
        t0 = time.perf_counter()
        scanned = systems().salesforce().query_all("SELECT Id, StageName FROM Opportunity")
        wall = time.perf_counter() - t0
        log = sandbox.requests(since=first)
        print(
            f"\nfor contrast, a scan: {len(log)} requests, {scanned['totalSize']} rows, "
            f"{wall * 1000:.0f} ms wall, sandbox {sum(r['duration_ms'] for r in log):.0f} ms"
        )
    print(f"\n{load()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--opportunities", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--polls", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, help="keep servers' data and logs here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="psflow-watcher-") as tmp:
        data = (args.data_dir or Path(tmp)).resolve()
        prefect_home(data)
        return run(data, args.opportunities, args.changed, args.polls)


if __name__ == "__main__":
    raise SystemExit(main())
