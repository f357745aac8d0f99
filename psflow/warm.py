"""Warm starts for the process worker's flow runs.

Prefect's process worker starts each flow run as a new `python -m prefect.engine`: an interpreter
that imports Prefect and psflow's flows before the run can propose Running, 1-2 s of CPU on an
idle machine and several seconds on a busy one (benchmarks/README.md). `psflow worker` runs
`prefect worker start` beside one process that has imported them once, the zygote, which forks a
flow-run process per run: a copy of a warm interpreter, ready in milliseconds.

The pool's command (prefect.yaml) is `python -m psflow.warm prefect.engine`, a launcher that
imports nothing heavy. It hands its environment, working directory and open files (stdin, stdout,
stderr and any its parent passed on) to the zygote and stands in for the forked run towards the
worker: its pid is the one the worker watches and signals (signals are passed on), its exit
status is the run's. Without a zygote (a plain `prefect worker start`) the launcher execs `python
-m prefect.engine`: the same run, started cold.

The served deployments (`python -m psflow.serve`, the demo) start each run as `sys.executable
-m prefect.engine` (or, for a flow served from memory, with multiprocessing's spawn: `python -c
"...spawn_main(...)" --multiprocessing-fork`): `start_runs_warm()` makes a launcher script that
interpreter, so those runs are forked warm the same way.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import sys
from typing import Any, NoReturn

SOCKET_ENV = "PSFLOW_WARM_SOCKET"  # the zygote's socket, in the worker's (so the launcher's) env
# What the zygote imports once: Prefect's engine, every flow a deployment runs, and the client
# libraries the flows load with their first client (a run importing them spends ~1 s of CPU).
PRELOAD = (
    "prefect.engine",
    "prefect.flow_engine",
    "deployments.definitions",
    "simple_salesforce",
    "gitlab.v4.objects",
    "slack_sdk",
    "blocks.google_clients",
    "holidays.countries",
)
PASSED_ON = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)  # launcher -> run
FOLDER_PREFIX = "psflow-warm-"  # the zygote's folder in the temporary directory, removed with it
MAX_FDS = 16  # the open files a launcher hands over (multiprocessing passes 2-3 beside stdio)


# --- the launcher: the pool's command ------------------------------------------------------------


def launch(argv: list[str]) -> NoReturn:
    """Run `python <argv>` forked from the zygote, or exec'd when there is none. `argv` is what an
    interpreter is given: `-m module ...` or `-c code ...`, maybe after interpreter flags (a warm
    run has the zygote's)."""
    cold = [sys.executable, *argv]
    path = os.environ.get(SOCKET_ENV)
    program = next((i for i, arg in enumerate(argv) if arg in ("-m", "-c")), None)
    fds = _open_fds()  # before the socket is
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if not path or program is None or len(fds) > MAX_FDS:
            raise FileNotFoundError
        connection.connect(path)
        request = {"argv": argv[program:], "fds": fds, "cwd": os.getcwd(), "env": dict(os.environ)}
        data = json.dumps(request).encode() + b"\n"
        sent = socket.send_fds(connection, [data], fds)
        connection.sendall(data[sent:])
        answers = connection.makefile("rb")
        started = answers.readline()
    except OSError:
        started = b""
    if not started:  # no zygote, or it could not start the run: nothing started, so start cold
        connection.close()
        os.execv(sys.executable, cold)
    pid = int(json.loads(started)["pid"])
    for signum in PASSED_ON:
        signal.signal(signum, lambda signum, _: os.kill(pid, signum))
    line = answers.readline()
    if not line:  # the zygote went away: its runs went with it
        os._exit(1)
    status = int(json.loads(line)["status"])
    if os.WIFSIGNALED(status):  # end the way the run ended, for the worker to see
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status))


def _open_fds() -> list[int]:
    """This process's open file descriptors (the listing's own is closed by the time we check)."""
    listed = sorted(int(name) for name in os.listdir("/proc/self/fd"))
    return [fd for fd in listed if _is_open(fd)]


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def start_runs_warm(preload: tuple[str, ...] = PRELOAD) -> None:
    """Fork the flow-run processes this process starts (Prefect's runner: `sys.executable -m
    prefect.engine`, or multiprocessing's spawn for a flow served from memory) from a zygote
    forked from this process now, before it starts any thread. Both are pointed at a launcher
    script standing in for the interpreter. The zygote ends with this process."""
    import multiprocessing

    folder = os.path.dirname(_fork_zygote(preload))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    launcher = os.path.join(folder, "python")
    with open(launcher, "w") as script:  # the interpreter itself runs it: sys.executable there
        script.write(
            f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {root!r})\n"
            "from psflow.warm import launch\nlaunch(sys.argv[1:])\n"
        )
    os.chmod(launcher, 0o755)
    multiprocessing.set_executable(launcher)
    sys.executable = launcher  # what Prefect's runner starts `-m prefect.engine` with


# --- the zygote ----------------------------------------------------------------------------------


def _fork_zygote(preload: tuple[str, ...]) -> str:
    """A zygote forked from this process, its socket in a folder of its own, named in this
    process's environment for the launchers it starts; returns the socket's path."""
    import tempfile

    path = os.path.join(tempfile.mkdtemp(prefix=FOLDER_PREFIX), "zygote.sock")
    if os.fork() == 0:
        serve(path, preload)
    os.environ[SOCKET_ENV] = path
    return path


def serve(path: str, preload: tuple[str, ...] = PRELOAD) -> NoReturn:
    """Listen on `path`, import `preload`, fork a run per launcher; exit with the parent (the
    worker). Single-threaded, so that every fork is of a process without other threads."""
    import importlib
    import selectors

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the worker; it ends us
    signal.signal(signal.SIGTERM, _stop)  # stopped with its process group: clean up first
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)  # before the imports: a launcher that comes early waits, warm
    listener.listen(64)
    try:
        for name in preload:  # should one fail, the worker's log says why; launchers start cold
            importlib.import_module(name)
        parent = os.getppid()
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ)
        runs: dict[int, socket.socket] = {}  # run pid -> its launcher's connection
        while os.getppid() == parent:
            for key, _ in selector.select(timeout=0.2):
                if key.fileobj is listener:
                    connection, _ = listener.accept()
                    try:
                        pid = _fork(connection, [listener, *runs.values()])
                    except (OSError, ValueError):  # a launcher killed mid-request: no run
                        connection.close()
                        continue
                    runs[pid] = connection
                    selector.register(connection, selectors.EVENT_READ, pid)
                    with contextlib.suppress(OSError):  # if it is gone, the next select says so
                        connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                else:  # the launcher went away (killed) before its run ended: the run goes too
                    selector.unregister(key.fileobj)
                    _signal(key.data, signal.SIGKILL)
            _reap(runs, selector)
    except SystemExit:  # SIGTERM
        pass
    finally:
        _clean_up(path)
    os._exit(0)


def _stop(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def _clean_up(path: str) -> None:
    """Remove the socket, and the folder made for it (with the launcher script) if we made it."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    if os.path.basename(os.path.dirname(path)).startswith(FOLDER_PREFIX):
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)


def _fork(connection: socket.socket, others: list[socket.socket]) -> int:
    data, fds, _, _ = socket.recv_fds(connection, 1 << 16, MAX_FDS)
    while not data.endswith(b"\n"):
        chunk = connection.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the launcher went away mid-request")
        data += chunk
    request = json.loads(data)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        for sock in [connection, *others]:
            sock.close()
        # each under the launcher's number; moved out of the way first, as a received file may
        # have been given a number another one goes to
        moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, 256) for fd in fds]
        for fd in fds:
            os.close(fd)
        for fd, number in zip(moved, request["fds"], strict=True):
            os.dup2(fd, number)
            os.close(fd)
        _run(request)
    for fd in fds:
        os.close(fd)
    return pid


def _run(request: dict[str, Any]) -> NoReturn:
    """In the forked process: become the launcher's `python -m <module>` or `python -c <code>`
    and run it."""
    import atexit
    import runpy
    import traceback
    import warnings

    os.setsid()  # a session of its own, as the process worker gives a cold run
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # Prefect read its settings and set up logging when the zygote imported it: again, from the
    # run's environment (Prefect's own refresh, for environment changes after import).
    from prefect.context import refresh_global_settings_context
    from prefect.logging.configuration import setup_logging

    refresh_global_settings_context()
    setup_logging()
    # runpy's note that the module was imported before it runs as __main__: on purpose here
    warnings.filterwarnings("ignore", message=".*found in sys.modules", category=RuntimeWarning)
    option, program, *arguments = request["argv"]
    sys.argv = [program if option == "-m" else "-c", *arguments]
    print(f"psflow.warm: process {os.getpid()}, forked warm by {os.getppid()}", file=sys.stderr)
    code = 0
    try:
        if option == "-m":
            runpy.run_module(program, run_name="__main__", alter_sys=True)
        else:
            exec(compile(program, "<string>", "exec"), {"__name__": "__main__"})
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        atexit._run_exitfuncs()  # what an interpreter's exit runs (Prefect drains its events)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _reap(runs: dict[int, socket.socket], selector: Any) -> None:
    """Tell each launcher whose run ended how it ended."""
    while runs:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = runs.pop(pid, None)
        if connection is None:
            continue
        with contextlib.suppress(KeyError, ValueError):  # unless its launcher had gone already
            selector.unregister(connection)
        with contextlib.suppress(OSError):
            connection.sendall(json.dumps({"status": status}).encode() + b"\n")
        connection.close()


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


# --- `psflow worker` -----------------------------------------------------------------------------


def worker(argv: list[str]) -> NoReturn:
    """`prefect worker start <argv>` with a zygote beside it: forked first, then this process
    becomes the worker (exec), so the zygote and the runs it forks are the worker's descendants
    and go with it."""
    _fork_zygote(PRELOAD)
    os.execv(sys.executable, [sys.executable, "-m", "prefect", "worker", "start", *argv])


if __name__ == "__main__":
    launch(["-m", *(sys.argv[1:] or ["prefect.engine"])])
