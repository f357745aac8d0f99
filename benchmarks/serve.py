"""Serve the benchmark's ping-pong pair from this process, as `psflow.serve` serves psflow's
deployments, warm starts included (the benchmark runs both side by side).

    python -m benchmarks.serve [--poll-seconds S]
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from psflow.warm import PRELOAD, start_runs_warm

    start_runs_warm((*PRELOAD, "benchmarks.pingpong"))  # first, before any thread
    from prefect import serve

    from benchmarks.pingpong import PINGPONG

    poll = float(sys.argv[2]) if sys.argv[1:2] == ["--poll-seconds"] else None
    serve(*(d.to_runner() for d in PINGPONG), limit=20, query_seconds=poll)
