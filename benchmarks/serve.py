"""Serve the benchmark's ping-pong pair from this process, as `deployments.serve` serves psflow's
deployments (the benchmark runs both side by side).

    python -m benchmarks.serve
"""

from __future__ import annotations

from prefect import serve

from benchmarks.pingpong import PINGPONG

if __name__ == "__main__":
    serve(*(d.to_runner() for d in PINGPONG), limit=20)
