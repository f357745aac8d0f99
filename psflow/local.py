"""Local servers for the demo and the end-to-end tests: the sandbox and a Prefect server, each a child
process on a free loopback port, stopped (with everything they started) when the block exits."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from sandbox.server import bind


def free_port() -> int:
    with contextlib.closing(bind()) as sock:
        return int(sock.getsockname()[1])


def prefect_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    """The environment of every Prefect process psflow starts: its own PREFECT_HOME (Prefect would
    otherwise share ~/.prefect and may start a temporary server of its own), no telemetry offline."""
    env = {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    }
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def proc_stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command (which may hold spaces and parentheses)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (from /proc: no psutil here)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            children.setdefault(int(proc_stat(int(entry.name))[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time spent by `pid`, by the children it has reaped and by the live processes below it."""
    ticks = 0
    for each in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError, ValueError, IndexError):
            ticks += sum(map(int, proc_stat(each)[11:15]))  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def events_to(api_url: str) -> Iterator[None]:
    """This process's events go to `api_url` until the block exits. Prefect's events worker is one
    per process, builds its client once and keeps it: a process that talks to several servers in
    turn (the tests, the benchmarks) names the server instead of relying on the settings of the
    moment."""
    from prefect.events.clients import PrefectEventsClient
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(at_exit=False)
    EventsWorker.set_client_override(PrefectEventsClient, api_url=api_url)
    try:
        yield
    finally:
        EventsWorker.drain_all(at_exit=False)  # what was sent is out before the server may stop
        EventsWorker.set_client_override(None)


@dataclass
class Child:
    """A child process in its own process group, so stopping it also stops what it started."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start(name: str, argv: list[str], log: Path, env: Mapping[str, str] | None = None) -> Child:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    return Child(name, process, log)


def wait_healthy(child: Child, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise RuntimeError(
                f"{child.name} exited with {child.process.returncode}:\n{child.tail()}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    child.stop()
    raise RuntimeError(f"{child.name} was not healthy after {timeout:.0f} s:\n{child.tail()}")


def launch_sandbox(data_dir: Path, port: int | None = None) -> tuple[Child, str]:
    """`psflow sandbox` in a child process; returns it and its URL (not yet waited for)."""
    port = port or free_port()
    argv = [
        sys.executable,
        "-m",
        "psflow.cli",
        "sandbox",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    return start("sandbox", argv, data_dir / "sandbox.log"), f"http://127.0.0.1:{port}"


def launch_prefect(
    home: Path, port: int | None = None, ui: bool = True, database: str | None = None
) -> tuple[Child, str]:
    """`prefect server start` on SQLite under `home`, or on `database` (a SQLAlchemy URL); returns
    it and its API URL (…/api)."""
    port = port or free_port()
    argv = [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--analytics-off",
        "--ui" if ui else "--no-ui",
    ]
    # the server renders run links (automations' `ui_url`) from the first; the UI in the browser
    # calls the API at the second (left unset, it is the default port's: "Oops. Something went
    # wrong.")
    env = {
        **prefect_env(home),
        "PREFECT_UI_URL": f"http://127.0.0.1:{port}",
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",
    }
    if database:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database
    child = start("prefect server", argv, home / "server.log", env)
    return child, f"http://127.0.0.1:{port}/api"


def wait_sandbox(child: Child, url: str) -> None:
    wait_healthy(child, f"{url}/_sandbox/systems", timeout=30)


def wait_prefect(child: Child, api_url: str) -> None:
    # a cold start on two cores takes 10-15 s; migrations on a new database a little more
    wait_healthy(child, f"{api_url}/health", timeout=120)


@contextlib.contextmanager
def running(child: Child) -> Iterator[Child]:
    try:
        yield child
    finally:
        child.stop()


# --- production's path: a process work pool, `prefect deploy`, a worker --------------------------

REPOSITORY = Path(__file__).resolve().parent.parent  # the checkout workers run the flows from

# How often the demo's runner and the workers ask the server for due runs (Prefect's default is
# 10 s). Half of it is, on average, added to every event -> running. Each poll is also a write on
# the server (the deployments' or the queue's last poll): at 0.25 s, the SQLite server's trigger
# actions waited 2-13 s for its write lock in half the samples (benchmarks/README.md).
POLL_SECONDS = 0.5


def serve_argv(module: str = "psflow.serve", *args: str) -> list[str]:
    """The command serving a module's deployments, polling every POLL_SECONDS."""
    return [sys.executable, "-m", module, *args, "--poll-seconds", str(POLL_SECONDS)]


def prefect_command(
    home: Path,
    api_url: str,
    *args: str,
    cwd: Path = REPOSITORY,
    env: Mapping[str, str] | None = None,
    timeout: float = 180,
) -> str:
    """Run one `prefect` CLI command against `api_url`, never prompting; returns its output and
    raises with it when the command fails."""
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", *args],
        cwd=cwd,
        env={**os.environ, **prefect_env(home, api_url), **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"prefect {' '.join(args)} exited with {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done.stdout


def deploy_all(
    home: Path,
    api_url: str,
    pool: str,
    prefect_file: Path | None = None,
    project: Path = REPOSITORY,
    env: Mapping[str, str] | None = None,
) -> str:
    """README's "Deploying": the process work pool (kept as it is when it exists) and
    `prefect deploy --all` of `prefect_file` (default: the project's prefect.yaml), run from
    `project` with PSFLOW_HOME pointing at it; `env` adds to each command's environment (the
    API's credential). Returns deploy's output."""
    env = {**(env or {}), "PSFLOW_HOME": str(project)}
    try:
        prefect_command(home, api_url, "work-pool", "inspect", pool, env=env)
    except RuntimeError:  # not there yet
        prefect_command(home, api_url, "work-pool", "create", pool, "--type", "process", env=env)
    args = ["deploy", "--all"]
    if prefect_file is not None:
        args += ["--prefect-file", str(prefect_file)]
    return prefect_command(home, api_url, *args, cwd=project, env=env)


def launch_worker(
    home: Path,
    api_url: str,
    pool: str,
    env: Mapping[str, str] | None = None,
    project: Path = REPOSITORY,
) -> Child:
    """`psflow worker --pool <pool>` (`prefect worker start` whose runs start warm, psflow/warm.py)
    in a child process (not yet waited for). It asks for
    runs every POLL_SECONDS, like the demo's runner, and takes them up to 10 s before they are due
    (more than one query apart, so no scheduled run starts late); `env` can
    override both. Its flow runs find the checkout through PSFLOW_HOME (prefect.yaml's pull step)."""
    argv = [sys.executable, "-m", "psflow.cli", "worker", "--pool", pool]
    worker_env = {
        **prefect_env(home, api_url),
        "PSFLOW_HOME": str(project),
        "PREFECT_WORKER_QUERY_SECONDS": str(POLL_SECONDS),
        "PREFECT_WORKER_PREFETCH_SECONDS": "10",
        # its runs' `python` (prefect.yaml's command) is this venv's, as in an activated venv
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        **(env or {}),
    }
    return start(f"worker {pool}", argv, home / f"worker-{pool}.log", worker_env)
