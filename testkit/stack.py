"""A real Prefect server (on SQLite, or PostgreSQL where given) with psflow's deployments served
against it, as the demo runs them, and the sandbox's Blocks saved on the current server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefect.client.orchestration import get_client

from blocks import save_sandbox_blocks
from deployments.definitions import DEPLOYMENTS
from psflow.local import (
    Child,
    free_port,
    launch_prefect,
    prefect_env,
    serve_argv,
    start,
    wait_prefect,
)
from testkit.runs import wait_until


@contextmanager
def blocks_for(sandbox_url: str) -> Iterator[None]:
    """The sandbox's Blocks saved on the current server, and this process's clients built from
    them until the block exits (a process loads each Block once and keeps it)."""
    from tasks import clients

    save_sandbox_blocks(sandbox_url)
    clients.reset()
    try:
        yield
    finally:
        clients.reset()


class PrefectStack:
    """A Prefect server and psflow's deployments served against it, each restartable (the approval
    wait must survive both)."""

    def __init__(self, home: Path, database: str | None = None, by_hand: bool = False) -> None:
        """`by_hand`: the deployments served without their triggers (psflow.serve --by-hand)."""
        self.home, self.database, self.by_hand = home, database, by_hand
        self.port = free_port()
        self.server, self.api_url = self._launch()
        wait_prefect(self.server, self.api_url)
        self.runner: Child | None = None

    def serve(self) -> None:
        argv = serve_argv("psflow.serve", "--watch-seconds", "3", *["--by-hand"] * self.by_hand)
        env = prefect_env(self.home, self.api_url)
        self.runner = start("serve", argv, self.home / "serve.log", env)
        wait_until(deployments_ready, timeout=60, what="served deployments", log=self.runner.tail)

    def restart_runner(self) -> None:
        if self.runner is not None:
            self.runner.stop()
        self.serve()

    def restart_server(self) -> None:
        self.server.stop()
        self.server, _ = self._launch()
        wait_prefect(self.server, self.api_url)

    def _launch(self) -> tuple[Child, str]:
        return launch_prefect(self.home, port=self.port, database=self.database)  # with its UI

    def stop(self) -> None:
        for child in (self.runner, self.server):
            if child is not None:
                child.stop()


def deployments_ready() -> bool:
    """Every deployment of psflow is on the current server."""
    with get_client(sync_client=True) as client:
        return len(client.read_deployments()) >= len(DEPLOYMENTS)
