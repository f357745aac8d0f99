"""Serve every deployment from this process (the demo and the e2e tests; production uses
`prefect deploy --all` and a process worker instead).

    python -m deployments.serve [--watch-seconds N]
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from prefect import serve

from deployments.automations import ensure_automations
from deployments.definitions import DEPLOYMENTS


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--watch-seconds",
        type=float,
        default=None,
        help="poll Salesforce this often instead of the deployment's schedule",
    )
    args = parser.parse_args(argv)
    fast = timedelta(seconds=args.watch_seconds) if args.watch_seconds else None
    ensure_automations()
    serve(*(d.to_runner(fast if d.interval else None) for d in DEPLOYMENTS), limit=20)


if __name__ == "__main__":
    main()
