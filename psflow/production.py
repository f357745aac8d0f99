"""Production's topology on loopback: Prefect on PostgreSQL and Redis (ops/production.env), two API
servers without services, one services process, psflow deployed with `prefect deploy --all` and two
process workers on the `psflow` pool, Blocks pointing at a sandbox.

    python -m psflow.production up [--data-dir DIR]    # until Ctrl-C; then everything is removed

Each run is isolated on the shared PostgreSQL and Redis: a database of its own (psflow_<random>,
dropped at the end) and a Redis database number of its own (prefect-redis has no key prefix;
emptied at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import redis

from psflow.local import (
    REPOSITORY,
    Child,
    deploy_all,
    descendants,
    free_port,
    launch_sandbox,
    launch_worker,
    prefect_env,
    running,
    start,
    wait_prefect,
    wait_sandbox,
)

ENV_FILE = REPOSITORY / "ops" / "production.env"
POSTGRES = "postgres@127.0.0.1:5432"  # loopback: trust auth
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
_CLAIM = "psflow:claimed-by"  # the key that marks a Redis database as this run's


def read_env(path: Path = ENV_FILE) -> dict[str, str]:
    """KEY=value lines of an env file (comments and blank lines skipped)."""
    settings = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


# --- isolation on the shared PostgreSQL and Redis ----------------------------------------------


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(f"postgresql://{POSTGRES}/postgres")
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextlib.contextmanager
def database() -> Iterator[str]:
    """A new PostgreSQL database; yields its SQLAlchemy URL, drops it (and its sessions) at exit."""
    name = f"psflow_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://{POSTGRES}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def redis_database() -> Iterator[int]:
    """A Redis database number nobody uses (database 0 is left to others), claimed with a key;
    emptied at exit."""
    owner = uuid.uuid4().hex
    for number in random.sample(range(1, 16), 15):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number)
        if client.dbsize() == 0 and client.set(_CLAIM, owner, nx=True):
            try:
                yield number
            finally:
                client.flushdb()
                client.close()
            return
        client.close()
    raise RuntimeError("no free Redis database (1-15): stale runs? `redis-cli -n N flushdb`")


# --- the topology --------------------------------------------------------------------------------


@dataclass
class Topology:
    """The processes of one installation. `env` is production.env with this run's database, Redis
    database and result storage: what every process of it is started with."""

    home: Path
    env: dict[str, str]
    ports: list[int]
    servers: list[Child] = field(default_factory=list)
    services: Child | None = None
    workers: list[Child] = field(default_factory=list)

    @property
    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}/api" for port in self.ports]

    @property
    def ui_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def process_env(self, name: str, api_url: str | None = None) -> dict[str, str]:
        return {**self.env, **prefect_env(self.home / name, api_url)}

    def start_server(self, index: int) -> Child:
        """API server `index` with the UI (no services), waited for."""
        name = f"server-{'ab'[index]}"
        port = self.ports[index]
        argv = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--analytics-off", "--ui", "--no-services"]
        env = {
            **self.process_env(name),
            "PREFECT_UI_URL": self.ui_urls[index],
            "PREFECT_UI_API_URL": self.api_urls[index],
        }
        child = start(name, argv, self.home / f"{name}.log", env)
        wait_prefect(child, self.api_urls[index])
        return child

    def restart_server(self, index: int) -> None:
        self.servers[index].stop()
        self.servers[index] = self.start_server(index)

    def start_workers(self, count: int, api_url: str, pool: str) -> None:
        for n in range(len(self.workers), len(self.workers) + count):
            home = self.home / f"worker-{n + 1}"
            worker = launch_worker(home, api_url, pool, env=self.process_env(home.name, api_url))
            worker.name = f"worker {n + 1}"
            self.workers.append(worker)

    def kill_worker(self, index: int) -> None:
        """What a machine's loss does to a worker: it and every flow-run process it started die at
        once (SIGKILL). The process worker starts each flow run in a session of its own, so
        killing its process group would leave the run going."""
        worker = self.workers[index]
        for pid in [worker.process.pid, *descendants(worker.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        worker.process.wait(10)

    def children(self) -> list[Child]:
        services = [self.services] if self.services else []
        return [*self.workers, *services, *self.servers]

    def stop(self) -> None:
        for child in self.children():
            child.stop()

    def logs(self, lines: int = 30) -> str:
        return "\n".join(f"--- {c.name}:\n{c.tail(lines)}" for c in self.children())


@contextlib.contextmanager
def topology(home: Path, servers: int = 2) -> Iterator[Topology]:
    """PostgreSQL database and Redis database of its own, migrated once, `servers` API servers
    without services and one services process; stopped and removed at exit. Deploying and the
    workers are `deploy` and `Topology.start_workers`."""
    with database() as url, redis_database() as redis_db:
        env = {
            **read_env(),
            "PREFECT_API_DATABASE_CONNECTION_URL": url,
            "PREFECT_REDIS_MESSAGING_HOST": REDIS_HOST,
            "PREFECT_REDIS_MESSAGING_PORT": str(REDIS_PORT),
            "PREFECT_REDIS_MESSAGING_DB": str(redis_db),
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(home / "results"),  # every worker's
            "PSFLOW_HOME": str(REPOSITORY),
            **credential(),
        }
        stack = Topology(home, env, [free_port() for _ in range(servers)])
        try:
            _run(
                [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
                stack.process_env("migrate"),
            )
            for index in range(servers):
                stack.servers.append(stack.start_server(index))
            # After the servers are up, not beside them: twice in full-suite runs a services
            # process started with them printed its banner and never consumed (120 s). Its log
            # is at DEBUG so that, should it happen again, services.log shows where it stopped.
            argv = [sys.executable, "-m", "prefect", "server", "services", "start"]
            env = {**stack.process_env("services"), "PREFECT_SERVER_LOGGING_LEVEL": "DEBUG"}
            stack.services = start("services", argv, home / "services.log", env)
            wait_services(stack, redis_db)
            yield stack
        finally:
            stack.stop()


def credential() -> dict[str, str]:
    """This run's API credential, for the servers to check and every client to send."""
    auth = f"psflow:{secrets.token_urlsafe(24)}"
    return {"PREFECT_SERVER_API_AUTH_STRING": auth, "PREFECT_API_AUTH_STRING": auth}


def credential_of(env: Mapping[str, str]) -> dict[str, str]:
    return {"PREFECT_API_AUTH_STRING": env["PREFECT_API_AUTH_STRING"]}


@contextlib.contextmanager
def as_operator(stack: Topology) -> Iterator[None]:
    """This process, and what it starts, with the installation's credential, as an operator's
    shell has it (production.env); until the block exits."""
    from prefect.settings import PREFECT_API_AUTH_STRING, temporary_settings

    auth = stack.env["PREFECT_API_AUTH_STRING"]
    saved = os.environ.get("PREFECT_API_AUTH_STRING")
    os.environ["PREFECT_API_AUTH_STRING"] = auth
    try:
        with temporary_settings(updates={PREFECT_API_AUTH_STRING: auth}):
            yield
    finally:
        if saved is None:
            os.environ.pop("PREFECT_API_AUTH_STRING", None)
        else:
            os.environ["PREFECT_API_AUTH_STRING"] = saved


# The consumer groups the services process creates on Redis when it is listening: the events the
# triggers evaluate and the actions they fire. An event sent before them would wait unseen.
SERVICE_GROUPS = {"events": "reactive-triggers", "actions": "actions"}


def wait_services(stack: Topology, redis_db: int, timeout: float = 120.0) -> None:
    """Wait until the services process consumes events (it has no port to ask)."""
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=redis_db)
    deadline = time.monotonic() + timeout
    try:
        while not all(_has_group(client, s, g) for s, g in SERVICE_GROUPS.items()):
            assert stack.services is not None
            if stack.services.process.poll() is not None:
                raise RuntimeError(f"the services process exited:\n{stack.services.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the services process is not consuming events after "
                    f"{timeout:.0f} s:\n{stack.services.tail()}"
                )
            time.sleep(0.5)
    finally:
        client.close()


def _has_group(client: redis.Redis, stream: str, group: str) -> bool:
    try:
        return any(g["name"].decode() == group for g in client.xinfo_groups(stream))
    except redis.ResponseError:  # no such stream yet
        return False


def deploy(stack: Topology, api_url: str, pool: str) -> str:
    """README's "Deploying" against `api_url`: the pool, `prefect deploy --all`, the automations
    (the Blocks must be saved first: the ops alert names the webhook block). The automations are
    declared by a process with production.env's settings: the lost-run window follows its
    heartbeat frequency."""
    output = deploy_all(stack.home / "deploy", api_url, pool, env=credential_of(stack.env))
    _run([sys.executable, "-m", "deployments.automations"], stack.process_env("deploy", api_url))
    return output


def _run(argv: list[str], env: Mapping[str, str]) -> None:
    done = subprocess.run(
        argv,
        cwd=REPOSITORY,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:])} exited with {done.returncode}:\n{done.stderr}")


# --- `python -m psflow.production up` ------------------------------------------------------------


def up(data: Path) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from blocks import save_sandbox_blocks
    from deployments.definitions import WORK_POOL

    sandbox_child, sandbox_url = launch_sandbox(data / "sandbox")
    with running(sandbox_child), topology(data / "prefect") as stack, as_operator(stack):
        wait_sandbox(sandbox_child, sandbox_url)
        first, second = stack.api_urls
        with temporary_settings(updates={PREFECT_API_URL: first}):
            save_sandbox_blocks(sandbox_url)
        deploy(stack, first, WORK_POOL)
        stack.start_workers(1, first, WORK_POOL)
        stack.start_workers(1, second, WORK_POOL)
        # the UI asks for this run's credential: kept for the operator, never printed
        secret = data / "credential"
        secret.touch(mode=0o600)
        secret.write_text(stack.env["PREFECT_API_AUTH_STRING"] + "\n")
        print(f"sandbox      {sandbox_url}")
        for url, ui, child in zip(stack.api_urls, stack.ui_urls, stack.servers, strict=True):
            print(f"{child.name}     {url}  (UI {ui}, its login: the line in {secret})")
        print(f"services     pid {stack.services.process.pid if stack.services else '-'}")
        for worker in stack.workers:
            print(f"{worker.name}     pid {worker.process.pid}")
        print(f"database     {stack.env['PREFECT_API_DATABASE_CONNECTION_URL']}")
        print(f"redis db     {stack.env['PREFECT_REDIS_MESSAGING_DB']}")
        print(f"logs         {data}\nCtrl-C stops everything and drops the database.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while all(c.process.poll() is None for c in stack.children()):
                time.sleep(1)
            print(f"a process exited:\n{stack.logs()}")
        # a second Ctrl-C must not cut the stop short: servers and a claimed Redis database left
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up"])
    parser.add_argument("--data-dir", type=Path, help="logs and results here (default: temp dir)")
    args = parser.parse_args(argv)
    # `kill <pid>` stops it as Ctrl-C does: children stopped, database dropped
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="psflow-production-") as tmp:
        data = (args.data_dir or Path(tmp)).resolve()
        # this process saves the Blocks: a Prefect home of its own, never ~/.prefect
        (data / "client").mkdir(parents=True, exist_ok=True)
        os.environ.update(prefect_env(data / "client"))
        up(data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
