"""Run the sandbox: in the foreground (`psflow sandbox`) or in a background thread (tests, demo)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from sandbox.app import create_app


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket; port 0 picks a free one, with no race between choosing and binding."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # without it, Nagle and delayed ACKs add ~40 ms to every small request on loopback
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _config(data_dir: Path | None) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(data_dir), log_level="warning", lifespan="off", timeout_keep_alive=30
    )


def serve_forever(host: str, port: int, data_dir: Path | None) -> None:
    """Serve until interrupted."""
    sock = bind(host, port)
    uvicorn.Server(_config(data_dir)).run(sockets=[sock])


class SandboxServer:
    """The sandbox on a free loopback port, in a daemon thread of this process.

    >>> with SandboxServer() as sandbox:
    ...     sandbox.url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(self, data_dir: Path | None = None, host: str = "127.0.0.1", port: int = 0):
        self._sock = bind(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        self._server = uvicorn.Server(_config(data_dir))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True, name="sandbox"
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("sandbox server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
