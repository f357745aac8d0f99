"""Warm starts for the process worker's flow runs.

Prefect's process worker starts each flow run as a new `python -m prefect.engine`: an interpreter
that imports Prefect and psflow's flows before the run can propose Running, 1-2 s of CPU on an
idle machine and several seconds on a busy one (benchmarks/README.md). `psflow worker` runs
`prefect worker start` beside one process that has imported them once, the zygote, which forks a
flow-run process per run: a copy of a warm interpreter, ready in milliseconds.

The pool's command (prefect.yaml) is `python -m psflow.warm prefect.engine`, a launcher that
imports nothing heavy. It hands its environment, working directory and stdin/stdout/stderr to the
zygote and stands in for the forked run towards the worker: its pid is the one the worker watches
and signals (signals are passed on), its exit status is the run's. Without a zygote (a plain
`prefect worker start`) the launcher execs `python -m prefect.engine`: the same run, started cold.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from typing import Any, NoReturn

SOCKET_ENV = "PSFLOW_WARM_SOCKET"  # the zygote's socket, in the worker's (so the launcher's) env
# What the zygote imports once: Prefect's engine and every flow a deployment runs.
PRELOAD = ("prefect.engine", "prefect.flow_engine", "deployments.definitions")
PASSED_ON = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)  # launcher -> run


# --- the launcher: the pool's command ------------------------------------------------------------


def launch(module: str) -> NoReturn:
    """Run `python -m <module>` forked from the zygote, or exec'd when there is none."""
    cold = [sys.executable, "-m", module]
    path = os.environ.get(SOCKET_ENV)
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if not path:
            raise FileNotFoundError
        connection.connect(path)
        request = json.dumps({"module": module, "cwd": os.getcwd(), "env": dict(os.environ)})
        data = request.encode() + b"\n"
        sent = socket.send_fds(connection, [data], [0, 1, 2])
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


# --- the zygote ----------------------------------------------------------------------------------


def serve(path: str, preload: tuple[str, ...] = PRELOAD) -> NoReturn:
    """Listen on `path`, import `preload`, fork a run per launcher; exit with the parent (the
    worker). Single-threaded, so that every fork is of a process without other threads."""
    import importlib
    import selectors

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the worker; it ends us
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)  # before the imports: a launcher that comes early waits, warm
    listener.listen(64)
    try:
        for name in preload:
            importlib.import_module(name)
    except BaseException:  # the worker's log says why; its launchers start cold
        os.unlink(path)
        raise
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
                except (OSError, ValueError):  # a launcher killed mid-request: nothing started
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
    os.unlink(path)
    os.rmdir(os.path.dirname(path))
    os._exit(0)


def _fork(connection: socket.socket, others: list[socket.socket]) -> int:
    data, fds, _, _ = socket.recv_fds(connection, 1 << 16, 3)
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
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        _run(request)
    for fd in fds:
        os.close(fd)
    return pid


def _run(request: dict[str, Any]) -> NoReturn:
    """In the forked process: become the launcher's `python -m <module>` and run it."""
    import atexit
    import runpy
    import traceback
    import warnings

    os.setsid()  # a session of its own, as the process worker gives a cold run
    signal.signal(signal.SIGINT, signal.default_int_handler)
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
    sys.argv = [request["module"]]
    print(f"psflow.warm: process {os.getpid()}, forked warm by {os.getppid()}", file=sys.stderr)
    code = 0
    try:
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
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
    import tempfile

    path = os.path.join(tempfile.mkdtemp(prefix="psflow-warm-"), "zygote.sock")
    if os.fork() == 0:
        serve(path)
    os.environ[SOCKET_ENV] = path
    os.execv(sys.executable, [sys.executable, "-m", "prefect", "worker", "start", *argv])


if __name__ == "__main__":
    launch(sys.argv[1] if len(sys.argv) > 1 else "prefect.engine")
