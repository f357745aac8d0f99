"""Serve every deployment from this process (the demo and the e2e tests; production uses
`prefect deploy --all` and a process worker instead).

    python -m psflow.serve [--watch-seconds N] [--poll-seconds S]

Each served run is a process forked from a warm one that imported Prefect and the flows once
(`psflow.warm.start_runs_warm`), not a new interpreter importing them again (2-3 s of CPU).

With `--watch-seconds`, this process polls Salesforce, the PS mailbox and GitLab itself every N
seconds, in a thread, instead of the watcher deployments' schedules (a run per poll would keep a core busy
every few seconds). The deployments stay, unscheduled, for a person to run by hand.
"""

from __future__ import annotations

import argparse
import threading
import time

from prefect.logging import get_logger

log = get_logger("psflow.watcher")


def watch_every(seconds: float) -> None:
    """Poll, then sleep `seconds`, for as long as the process lives."""
    from prefect.context import SyncClientContext

    from flows import replies, validate, watch_opportunities
    from tasks import clients
    from tasks.gitlab import find_keyed_issues
    from tasks.gmail import find_replies
    from tasks.salesforce import find_stage_changes

    # One Prefect client for every poll (the watermarks, the Blocks): a new one costs ~30 ms of
    # CPU (its TLS context), and a poll every few seconds would spend a tenth of a core on them.
    with SyncClientContext.get_or_create() as prefect:
        saved: set[tuple[str, str]] = set()
        while True:
            try:  # the tasks' bodies: no task run
                now_saved = {
                    (str(d.name), str(d.updated))
                    for d in prefect.client.read_block_documents(include_secrets=False)
                }
                if now_saved != saved:  # the Blocks as saved now, as a new run would load them
                    clients.reset()
                    saved = now_saved
                changes, emitted = watch_opportunities.poll(find_stage_changes.fn)
                if changes:
                    log.info("%d stage changes, %d lifecycle events", changes, emitted)
                answers, emitted = replies.poll(find_replies.fn)
                if answers:
                    log.info("%d answers to psflow's e-mails, %d events", answers, emitted)
                if done := validate.poll(find_keyed_issues.fn):
                    log.info("%d activities completed", done)
            except Exception:  # a poll that fails is retried by the next; the loop must live on
                log.exception("watcher poll failed")
            time.sleep(seconds)


def main(argv: list[str] | None = None) -> None:
    from psflow.warm import start_runs_warm

    start_runs_warm()  # first: the zygote is forked from this process before it starts any thread
    # Imported here, not at the top: a served run's process started cold (no zygote) imports this
    # module again as `__mp_main__` (multiprocessing's spawn), and needs only its own flow's module.
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
    parser.add_argument(
        "--by-hand",
        action="store_true",
        help="serve the deployments without their triggers: each phase starts only when asked",
    )
    args = parser.parse_args(argv)
    ensure_automations()
    declare()  # the quotas' rate limits (a run would create them), in the UI from the start
    if args.watch_seconds:
        threading.Thread(target=watch_every, args=(args.watch_seconds,), daemon=True).start()
    runners = (
        d.to_runner(scheduled=not args.watch_seconds, triggered=not args.by_hand)
        for d in DEPLOYMENTS
    )
    serve(*runners, limit=20, query_seconds=args.poll_seconds)


if __name__ == "__main__":
    main()
