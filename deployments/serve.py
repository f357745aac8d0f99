"""Serve every deployment from this process (the demo and the e2e tests; production uses
`prefect deploy --all` and a process worker instead).

    python -m deployments.serve [--watch-seconds N] [--poll-seconds S]
"""

from __future__ import annotations

import argparse
from datetime import timedelta


def main(argv: list[str] | None = None) -> None:
    # Imported here, not at the top: every served run's process imports this module again as
    # `__mp_main__` (multiprocessing's spawn), and needs only its own flow's module.
    from prefect import serve

    from deployments.automations import ensure_automations
    from deployments.definitions import DEPLOYMENTS
    from tasks.pacing import declare

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--watch-seconds",
        type=float,
        default=None,
        help="poll Salesforce this often instead of the deployment's schedule",
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=None,
        help="ask the server for due runs this often (default: PREFECT_RUNNER_POLL_FREQUENCY)",
    )
    args = parser.parse_args(argv)
    fast = timedelta(seconds=args.watch_seconds) if args.watch_seconds else None
    ensure_automations()
    declare()  # the quotas' rate limits (a run would create them), in the UI from the start
    runners = (d.to_runner(fast if d.interval else None) for d in DEPLOYMENTS)
    serve(*runners, limit=20, query_seconds=args.poll_seconds)


if __name__ == "__main__":
    main()
