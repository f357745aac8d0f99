"""Crashes: the served runner killed at random points of every phase (before or right after one of
its outside writes, testkit/crashes.py), restarted, the run retried the ops way; and each phase
started twice at once, as a duplicate event does. Prints the cases, the duplicates and objects
lost (both must be 0) and the failed cases.

Each phase is prepared once (a sandbox snapshot, with what the runner remembers) and restored for
each of its cases; each case waits out the killed run's concurrency lease (about a minute). It
starts and stops its own sandbox, Prefect server and runner.

    .venv/bin/python -m benchmarks.crash [--phase plan] [--points 2] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from psflow.local import prefect_env

if TYPE_CHECKING:
    from testkit.crashes import Crash


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--phase", action="append", help="only this phase (repeatable)")
    parser.add_argument("--points", type=int, default=1, help="random points per phase")
    parser.add_argument("--seed", default="psflow", help="the random points' seed")
    parser.add_argument("--data-dir", type=Path, help="keep the servers' data and logs here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="psflow-crash-") as tmp:
        data = (args.data_dir or Path(tmp)).resolve()
        (data / "client").mkdir(parents=True, exist_ok=True)
        os.environ.update(prefect_env(data / "client"))  # read when Prefect is first imported
        return run(data, args.phase, args.points, args.seed)


def run(data: Path, phases: list[str] | None, count: int, seed: str) -> int:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from blocks import PsflowSettings
    from psflow.local import events_to, launch_sandbox, running, wait_sandbox
    from sandbox.client import SandboxClient
    from testkit.crashes import BY_A_PERSON, DEPLOYMENTS, crash, points, storage, twice_at_once
    from testkit.faults import configured, reference_run
    from testkit.stack import PrefectStack, blocks_for

    started = time.monotonic()
    sandbox_child, sandbox_url = launch_sandbox(data / "sandbox")
    cases: list[Crash] = []
    with running(sandbox_child):
        wait_sandbox(sandbox_child, sandbox_url)
        sandbox = SandboxClient(sandbox_url)
        stack = PrefectStack(data / "prefect", by_hand=True)
        try:
            with (
                events_to(stack.api_url),
                temporary_settings(updates={PREFECT_API_URL: stack.api_url}),
                blocks_for(sandbox_url),
            ):
                settings = PsflowSettings.load("psflow")
                settings.status_review = False  # the week's report goes out as gathered
                settings.save("psflow", overwrite=True)
                stack.serve()
                with configured(sandbox_url, memory=storage(stack)):
                    for phase in phases or list(DEPLOYMENTS):
                        reference = reference_run(sandbox, phase)
                        every = points(reference)
                        picked = random.Random(f"{seed}:{phase}").sample(
                            every, min(count, len(every))
                        )
                        print(f"{phase}: {len(every)} points (each write, before and after)")
                        print(f"  drawn: {', '.join(map(str, picked))}", flush=True)
                        runs = [partial(crash, stack, sandbox, reference, p) for p in picked]
                        if phase not in BY_A_PERSON:
                            runs.append(partial(twice_at_once, sandbox, reference))
                        for one in runs:
                            cases.append(case := one())
                            mark = "ok" if not case.problems else "FAILED"
                            print(f"  {mark:6} {case.name}", flush=True)
        finally:
            stack.stop()
        sandbox.close()
    return report(cases, time.monotonic() - started)


def report(cases: list[Crash], seconds: float) -> int:
    failed = [c for c in cases if c.problems]
    print()
    kills = [c for c in cases if c.what.startswith("killed")]
    print(f"runner kills       {len(kills)} ({len({c.phase for c in kills})} phases)")
    print(f"twice at once      {len(cases) - len(kills)}")
    print(f"duplicates found   {sum(sum(c.duplicates.values()) for c in cases)}   (must be 0)")
    print(f"objects lost       {sum(sum(c.lost.values()) for c in cases)}   (must be 0)")
    print(f"failed cases       {len(failed)}")
    for case in failed:
        print(f"  {case.name}")
        for problem in case.problems:
            print(f"    {problem}")
    print(f"wall time          {seconds / 60:.1f} min")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
