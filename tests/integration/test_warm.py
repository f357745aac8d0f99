"""The warm launcher and its zygote (psflow/warm.py), with a stand-in for Prefect's engine: what the
worker sees of a forked run is what it would see of a cold one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from psflow.warm import FOLDER_PREFIX, SOCKET_ENV

TARGET = "tests.integration.warm_target"
REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    path = str(tmp_path_factory.mktemp("warm") / "zygote.sock")
    code = (
        f"from psflow.warm import serve; serve({path!r}, preload=({TARGET!r}.rsplit('.', 1)[0],))"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=REPOSITORY)
    deadline = time.monotonic() + 30
    while not os.path.exists(path):
        assert process.poll() is None, "the zygote exited"
        assert time.monotonic() < deadline, "the zygote did not listen"
        time.sleep(0.05)
    yield process.pid, path
    process.terminate()
    process.wait(10)


def launch(env: dict[str, str], cwd: Path, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "psflow.warm", TARGET],
        env={**os.environ, "PYTHONPATH": str(REPOSITORY), "WARM_ECHO": "hello", **env},
        cwd=cwd,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # as the process worker starts its runs
        **popen,  # type: ignore[arg-type]
    )


def fields(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split())


def test_a_warm_run_is_forked_from_the_zygote_with_the_launchers_env_cwd_and_exit_code(
    zygote: tuple[int, str], tmp_path: Path
) -> None:
    pid, path = zygote
    launcher = launch({SOCKET_ENV: path, "WARM_EXIT": "3"}, tmp_path, stderr=subprocess.PIPE)
    out, err = launcher.communicate(timeout=30)
    first = fields(out.splitlines()[0])
    assert first["ppid"] == str(pid)  # forked by the zygote, not started by the launcher
    assert (first["cwd"], first["echo"]) == (str(tmp_path), "hello")
    assert out.splitlines()[1] == f"argv=['{REPOSITORY / 'tests/integration/warm_target.py'}']"
    assert launcher.returncode == 3
    assert f"psflow.warm: process {first['pid']}, forked warm by {pid}" in err


def test_a_signal_to_the_launcher_reaches_the_run_and_the_launcher_ends_as_it_did(
    zygote: tuple[int, str], tmp_path: Path
) -> None:
    _, path = zygote
    launcher = launch({SOCKET_ENV: path, "WARM_SLEEP": "60"}, tmp_path)
    assert launcher.stdout is not None
    run = int(fields(launcher.stdout.readline())["pid"])
    launcher.send_signal(signal.SIGTERM)
    assert launcher.wait(30) == -signal.SIGTERM
    assert not Path(f"/proc/{run}").exists() or _zombie(run)


def test_a_killed_launcher_takes_its_run_with_it(zygote: tuple[int, str], tmp_path: Path) -> None:
    _, path = zygote
    launcher = launch({SOCKET_ENV: path, "WARM_SLEEP": "60"}, tmp_path)
    assert launcher.stdout is not None
    run = int(fields(launcher.stdout.readline())["pid"])
    launcher.kill()
    launcher.wait(10)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{run}").exists() and not _zombie(run):
        assert time.monotonic() < deadline, "the run outlived its launcher"
        time.sleep(0.05)


def test_without_a_zygote_the_launcher_becomes_the_run(tmp_path: Path) -> None:
    launcher = launch({SOCKET_ENV: str(tmp_path / "none.sock"), "WARM_EXIT": "4"}, tmp_path)
    out, _ = launcher.communicate(timeout=60)
    assert fields(out.splitlines()[0])["pid"] == str(launcher.pid)  # exec'd: the same process
    assert launcher.returncode == 4


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_zygote_that_fails_to_import_its_preload_leaves_its_runs_to_start_cold(
    tmp_path: Path,
) -> None:
    (tmp_path / "broken_flows.py").write_text(
        "import time\ntime.sleep(2)\nraise ImportError('no')\n"
    )
    path = str(tmp_path / "zygote.sock")
    code = f"from psflow.warm import serve; serve({path!r}, preload=('broken_flows',))"
    zygote = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPOSITORY,
        env={**os.environ, "PYTHONPATH": f"{REPOSITORY}:{tmp_path}"},
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not os.path.exists(path):  # listening, importing: the launcher's request waits
        assert time.monotonic() < deadline, "the zygote did not listen"
        time.sleep(0.01)
    launcher = launch({SOCKET_ENV: path, "WARM_EXIT": "5"}, tmp_path)
    out, _ = launcher.communicate(timeout=60)
    assert fields(out.splitlines()[0])["pid"] == str(launcher.pid)  # exec'd: cold
    assert launcher.returncode == 5
    _, err = zygote.communicate(timeout=30)
    assert b"ImportError: no" in err
    assert not os.path.exists(path)


SPAWNER = """
import multiprocessing, os, subprocess, sys
from psflow.warm import start_runs_warm
from tests.integration.warm_target import spawned

if __name__ == "__main__":
    start_runs_warm(preload=("tests.integration.warm_target",))
    process = multiprocessing.get_context("spawn").Process(target=spawned, args=(sys.argv[1], 6))
    process.start()
    process.join(60)
    print(f"parent={os.getpid()} launcher={process.pid} exitcode={process.exitcode}")
    engine = subprocess.run([sys.executable, "-m", "tests.integration.warm_target"], text=True,
                            env={**os.environ, "WARM_ECHO": "engine"}, capture_output=True)
    print(engine.stdout.splitlines()[0], engine.returncode)
"""


def test_after_start_runs_warm_engine_commands_and_spawned_processes_are_forked_warm(
    tmp_path: Path,
) -> None:
    (tmp_path / "spawner.py").write_text(SPAWNER)
    out = tmp_path / "spawned.txt"
    done = subprocess.run(
        [sys.executable, str(tmp_path / "spawner.py"), str(out)],
        cwd=REPOSITORY,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    spawner, engine = done.stdout.splitlines()
    parent = fields(spawner)
    child = fields(out.read_text())
    assert parent["exitcode"] == "6"  # the target's exit status, through the launcher
    assert child["pid"] != parent["launcher"]  # not the launcher exec'd: a fork
    assert child["ppid"] not in (parent["parent"], parent["launcher"])  # forked by the zygote
    assert f"psflow.warm: process {child['pid']}, forked warm by {child['ppid']}" in done.stderr
    # `sys.executable -m ...`, as Prefect's runner starts `prefect.engine`: warm, exit code kept
    ran, code = engine.rsplit(" ", 1)
    assert (fields(ran)["echo"], code) == ("engine", "0")
    assert fields(ran)["ppid"] == child["ppid"]  # the same zygote


def test_a_zygote_stopped_with_its_process_group_removes_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / f"{FOLDER_PREFIX}stopped"
    folder.mkdir()
    (folder / "python").write_text("the launcher script start_runs_warm writes here")
    path = folder / "zygote.sock"
    code = f"from psflow.warm import serve; serve({str(path)!r}, preload=())"
    zygote = subprocess.Popen([sys.executable, "-c", code], cwd=REPOSITORY)
    deadline = time.monotonic() + 30
    while not path.exists():
        assert time.monotonic() < deadline, "the zygote did not listen"
        time.sleep(0.05)
    zygote.send_signal(signal.SIGTERM)  # what stopping the worker's or runner's group sends
    assert zygote.wait(30) == 0
    assert not folder.exists()
