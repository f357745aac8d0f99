"""A benchmark stopped as `timeout` or a supervisor stops it (SIGTERM) stops the servers it started,
as it does on Ctrl-C: none is left running, holding its ports, database or Redis number."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from psflow.local import descendants

# a benchmark's shape: its Prefect home first, then a child process it runs until it is done
BENCHMARK = """
import sys, time
from pathlib import Path
from benchmarks.stack import prefect_home
from psflow.local import running, start

data = Path(sys.argv[1])
prefect_home(data)
with running(start("server", [sys.executable, "-c", "import time; time.sleep(600)"], data / "log")):
    print("started", flush=True)
    time.sleep(600)
"""


def test_a_benchmark_told_to_stop_stops_what_it_started(tmp_path: Path) -> None:
    benchmark = subprocess.Popen(
        [sys.executable, "-c", BENCHMARK, str(tmp_path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert benchmark.stdout is not None
    assert benchmark.stdout.readline() == b"started\n"
    (server,) = descendants(benchmark.pid)
    benchmark.send_signal(signal.SIGTERM)
    assert benchmark.wait(30) == 128 + signal.SIGTERM
    benchmark.stdout.close()
    deadline = time.monotonic() + 10
    while _alive(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(server), "the benchmark's server outlived it"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (its parent gone, not yet reaped by init) is not running
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
