"""The full fault matrix: every write route of Pre-Initiate and Initiate x every kind of fault, one
case each, on a real Prefect server; prints cases tried, faults injected, duplicates found, objects
lost and the failed cases.

The write routes come from a clean reference run of each phase (testkit/faults.py). A case
injects one fault on one route, runs the phase in this process, lets the tasks' retries (transient
kinds) or ops retries (permanent kinds) finish it, and compares every object in the sandbox with
the reference run's. By default each route gets one variant of each kind (500, 503 and 429 with
Retry-After rotate over the routes, so do 400/403/404 and the fail-after-commit variants);
`--all-variants` tries every variant on every route. It starts and stops its own sandbox and
Prefect server.

    .venv/bin/python -m benchmarks.reliability [--phase initiate] [--kind timeout] [--all-variants]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from psflow.local import prefect_env

if TYPE_CHECKING:
    from testkit.faults import Case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--phase", action="append", help="only this phase (repeatable)")
    parser.add_argument("--kind", action="append", help="only this kind of fault (repeatable)")
    parser.add_argument("--all-variants", action="store_true", help="every variant on every route")
    parser.add_argument("--data-dir", type=Path, help="keep the servers' data and logs here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="psflow-reliability-") as tmp:
        data = (args.data_dir or Path(tmp)).resolve()
        (data / "client").mkdir(parents=True, exist_ok=True)
        # Prefect reads its settings when first imported: this process gets a home of its own
        os.environ.update(prefect_env(data / "client"))
        return run(data, args.phase, args.kind, args.all_variants)


def run(data: Path, phases: list[str] | None, kinds: list[str] | None, every: bool) -> int:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from psflow.local import launch_prefect, launch_sandbox, running, wait_prefect, wait_sandbox
    from sandbox.client import SandboxClient
    from testkit.faults import KINDS, PHASES, configured, reference_run, run_case, variants

    started = time.monotonic()
    sandbox_child, sandbox_url = launch_sandbox(data / "sandbox")
    server, api_url = launch_prefect(data / "prefect", ui=False)
    cases: list[Case] = []
    with running(sandbox_child), running(server):
        wait_sandbox(sandbox_child, sandbox_url)
        wait_prefect(server, api_url)
        sandbox = SandboxClient(sandbox_url)
        with temporary_settings(updates={PREFECT_API_URL: api_url}), configured(sandbox_url):
            for phase in phases or list(PHASES):
                reference = reference_run(sandbox, phase)
                print(f"{phase}: {len(reference.routes)} write routes", flush=True)
                for kind in kinds or KINDS:
                    for index, route in enumerate(reference.routes):
                        picks = range(len(variants(kind))) if every else [index]
                        for variant in picks:
                            variant %= len(variants(kind))
                            case = run_case(sandbox, reference, kind, [route], variant)
                            cases.append(case)
                            mark = "ok" if not case.problems else "FAILED"
                            print(f"  {mark:6} {case.name}", flush=True)
        sandbox.close()
    return report(cases, time.monotonic() - started)


def report(cases: list[Case], seconds: float) -> int:
    failed = [c for c in cases if c.problems]
    duplicates = sum(sum((c.duplicates or {}).values()) for c in cases)
    lost = sum(sum((c.lost or {}).values()) for c in cases)
    print()
    print(f"cases tried        {len(cases)}")
    print(f"faults injected    {sum(c.faults for c in cases)}")
    print(f"ops retries        {sum(c.runs - 1 for c in cases)}")
    print(f"duplicates found   {duplicates}   (must be 0)")
    print(f"objects lost       {lost}   (must be 0)")
    print(f"failed cases       {len(failed)}")
    for case in failed:
        print(f"  {case.name}")
        for problem in case.problems:
            print(f"    {problem}")
    print(f"wall time          {seconds / 60:.1f} min")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
