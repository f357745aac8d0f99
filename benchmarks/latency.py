"""How long psflow's event-driven chain waits: p50 and p95 of

  (a) event -> phase run Running: `ps.opportunity.negotiating` for a fresh opportunity (moved to
      5-Negotiating in the sandbox) until the real pre-initiate run is Running;
  (b) phase completed -> next phase Running: the benchmark's ping-pong pair (benchmarks/pingpong.py),
      chained by `ps.phase.completed` exactly as psflow's phases are;

on (1) the demo's configuration (a Prefect server, `python -m psflow.serve` polling every
`psflow.local.POLL_SECONDS`) and (2) production's (`prefect deploy --all`, `prefect worker start`
of a process pool polling as often), and (3) production's topology (psflow/production.py: two API
servers on PostgreSQL and Redis, a services process, two workers; the events go to one server, the
workers use the other). Every figure comes from Prefect's own timestamps: the
event's `occurred`, the Running state of the run, the Completed state of the run
before. It starts and stops its own sandbox and Prefect servers.

    .venv/bin/python -m benchmarks.latency [--events 20] [--only serve|worker|production ...]
                                           [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from psflow.local import prefect_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20, help="samples of each measure")
    parser.add_argument(
        "--data-dir", type=Path, help="keep the servers' data and logs here (default: a temp dir)"
    )
    parser.add_argument(
        "--only",
        choices=("serve", "worker", "production"),
        action="append",
        help="measure this configuration only (repeatable)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="psflow-latency-") as tmp:
        data = (args.data_dir or Path(tmp)).resolve()
        (data / "client").mkdir(parents=True, exist_ok=True)
        # Prefect reads its settings when first imported: this process gets a home of its own
        # (never ~/.prefect); each configuration then has its own server and home under `data`.
        os.environ.update(prefect_env(data / "client"))
        from benchmarks.measure import run

        return run(data, args.events, args.only)


if __name__ == "__main__":
    raise SystemExit(main())
