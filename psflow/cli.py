"""`psflow`: the operator's command line (demo, sandbox, blocks)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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

    return run(Path(args.data_dir))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="psflow", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the lifecycle against the sandbox")
    demo.add_argument("--data-dir", default=str(DATA_DIR / "demo"), help="state of this demo")
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

    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
