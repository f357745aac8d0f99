"""`psflow`: the operator's command line (demo, sandbox, blocks, worker, status, retry, emit)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from core.events import Phase

DATA_DIR = Path(".data")


def _sandbox(args: argparse.Namespace) -> int:
    from sandbox.server import serve_forever

    data_dir = None if args.memory else Path(args.data_dir)
    print(f"psflow sandbox on http://{args.host}:{args.port} (state: {data_dir or 'memory'})")
    print(f"  control API docs: http://{args.host}:{args.port}/_sandbox/docs")
    serve_forever(args.host, args.port, data_dir)
    return 0


def _blocks(args: argparse.Namespace) -> int:
    import blocks

    saved = blocks.save_sandbox_blocks(args.sandbox_url)
    for name in saved:
        print(f"saved block {name}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from psflow.demo import run

    return run(Path(args.data_dir), keep_open=args.keep_open, interactive=args.interactive)


def _worker(args: argparse.Namespace) -> int:
    from psflow.warm import worker

    worker(["--pool", args.pool, *args.prefect_args])


Command = Callable[[argparse.Namespace], int]


def _operator(command: Command) -> Command:
    """An operator command: what the operator must fix goes to stderr, with exit code 1.
    (Prefect is imported only by these commands, so `psflow sandbox` starts fast.)"""

    def run(args: argparse.Namespace) -> int:
        from psflow.operate import OperatorError

        try:
            return command(args)
        except OperatorError as err:
            print(f"psflow {args.command}: error: {err}", file=sys.stderr)
            return 1

    return run


@_operator
def _status(args: argparse.Namespace) -> int:
    from psflow import operate

    for line in operate.status(args.opportunity):
        print(line)
    return 0


@_operator
def _retry(args: argparse.Namespace) -> int:
    from psflow import operate

    retried = operate.retry(args.opportunity, args.phase)
    print(
        f"Retrying {retried.run.name}: AwaitingRetry "
        f"(was {retried.was.name}: {operate.first_line(retried.was.message)})"
    )
    print(f"  {operate.run_link(retried.run)}")
    print(f"  follow it with: psflow status {args.opportunity}")
    return 0


@_operator
def _emit(args: argparse.Namespace) -> int:
    from psflow import operate

    event = operate.emit(args.event, args.opportunity)
    resource = event.resource
    print(f"Emitted {event.event} (id {event.id})")
    print(f"  resource: {resource.id}")
    print(f"  name:     {resource.get('prefect.resource.name', '')}")
    print(f"  customer: {resource.get('ps.customer', '')}")
    print(f"  Salesforce stage: {event.payload.get('stage', '')}")
    starts = operate.triggered_by(event.event)
    print(f"  starts:   {', '.join(starts) if starts else 'no deployment reacts to it'}")
    return 0


def _checked(parse: Callable[[str], str]) -> Callable[[str], str]:
    """An argparse `type` whose ValueError message is shown as is, after the argument's name."""

    def check(value: str) -> str:
        try:
            return parse(value)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    check.__name__ = parse.__name__
    return check


def _opportunity_id(value: str) -> str:
    from psflow.operate import opportunity_id

    return opportunity_id(value)


def _event_name(value: str) -> str:
    from psflow.operate import event_name

    return event_name(value)


OPPORTUNITY_HELP = "the Salesforce Opportunity id (15 or 18 characters, 006...)"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="psflow", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the lifecycle against the sandbox")
    demo.add_argument("--data-dir", default=str(DATA_DIR / "demo"), help="state of this demo")
    demo.add_argument(
        "--keep-open",
        action="store_true",
        help="after the story, keep the servers and the served deployments up until Ctrl-C",
    )
    demo.add_argument(
        "--interactive",
        action="store_true",
        help="leave the staffing approval to you, in the Prefect UI",
    )
    demo.set_defaults(run=_demo)

    sandbox = commands.add_parser("sandbox", help="run the sandbox in the foreground")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--data-dir", default=str(DATA_DIR / "sandbox"), help="state on disk")
    sandbox.add_argument("--memory", action="store_true", help="keep state in memory only")
    sandbox.set_defaults(run=_sandbox)

    blocks = commands.add_parser(
        "blocks", help="register the Block types and save Blocks pointing at a sandbox"
    )
    blocks.add_argument("sandbox_url", help="e.g. http://127.0.0.1:8765")
    blocks.set_defaults(run=_blocks)

    worker = commands.add_parser(
        "worker",
        help="`prefect worker start --pool P ...` whose flow runs start warm (psflow/warm.py)",
        description="Runs `prefect worker start --pool P` and any further arguments given "
        "beside a process that has imported Prefect and the flows once and forks each flow run "
        "from it: the pool's command, `python -m psflow.warm prefect.engine`, asks it.",
    )
    worker.add_argument("--pool", required=True, help="the work pool (psflow's: psflow)")
    worker.set_defaults(run=_worker)

    opportunity = _checked(_opportunity_id)
    status = commands.add_parser(
        "status", help="each phase's latest run of an opportunity and what it waits for"
    )
    status.add_argument("opportunity", type=opportunity, help=OPPORTUNITY_HELP)
    status.set_defaults(run=_status)

    retry = commands.add_parser(
        "retry", help="retry the failed run of a phase, as the Prefect UI's Retry button does"
    )
    retry.add_argument("opportunity", type=opportunity, help=OPPORTUNITY_HELP)
    retry.add_argument(
        "--phase",
        choices=[phase.value for phase in Phase],
        help="the phase to retry (default: the phase whose latest run failed last)",
    )
    retry.set_defaults(run=_retry)

    emit = commands.add_parser("emit", help="fire a lifecycle event about an opportunity by hand")
    emit.add_argument(
        "event",
        type=_checked(_event_name),
        help="negotiating, closed-won, closed-lost, or the full ps.opportunity.* name",
    )
    emit.add_argument("opportunity", type=opportunity, help=OPPORTUNITY_HELP)
    emit.set_defaults(run=_emit)
    return root


def main(argv: list[str] | None = None) -> int:
    root = parser()
    args, rest = root.parse_known_args(argv)
    if rest and args.command != "worker":  # only the worker passes arguments on (to Prefect's)
        root.error(f"unrecognized arguments: {' '.join(rest)}")
    args.prefect_args = rest
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
