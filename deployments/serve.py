"""Serve every deployment from this process (the demo and the e2e tests; production uses
`prefect deploy --all` and a process worker instead).

    python -m deployments.serve [--watch-seconds N] [--poll-seconds S]

With `--watch-seconds`, this process polls Salesforce itself every N seconds, in a thread, instead
of the watcher deployment's 2-minute schedule: a served run is a new Python process (2-3 s of CPU,
5-10 s on a busy machine), so a schedule of a few seconds would keep a core busy starting
watchers. The deployment stays, unscheduled, for a person to run by hand.
"""

from __future__ import annotations

import argparse
import threading
import time

from prefect.logging import get_logger

log = get_logger("psflow.watcher")


def watch_every(seconds: float) -> None:
    """Poll, then sleep `seconds`, for as long as the process lives."""
    from flows.watch_opportunities import poll
    from tasks import clients
    from tasks.salesforce import find_stage_changes

    while True:
        clients.reset()  # the Blocks as saved now, as a new run's process would load them
        try:
            changes, emitted = poll(find_stage_changes.fn)  # the task's body: no task run
            if changes:
                log.info("%d stage changes, %d lifecycle events", changes, emitted)
        except Exception:  # a poll that fails is retried by the next; the loop must live on
            log.exception("watcher poll failed")
        time.sleep(seconds)


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
        help="poll Salesforce this often, in this process, instead of the watcher's schedule",
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=None,
        help="ask the server for due runs this often (default: PREFECT_RUNNER_POLL_FREQUENCY)",
    )
    args = parser.parse_args(argv)
    ensure_automations()
    declare()  # the quotas' rate limits (a run would create them), in the UI from the start
    if args.watch_seconds:
        threading.Thread(target=watch_every, args=(args.watch_seconds,), daemon=True).start()
    runners = (d.to_runner(scheduled=not args.watch_seconds) for d in DEPLOYMENTS)
    serve(*runners, limit=20, query_seconds=args.poll_seconds)


if __name__ == "__main__":
    main()
