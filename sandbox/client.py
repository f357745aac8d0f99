"""A small client of the sandbox's control API, for tests, benchmarks and the demo."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx


class SandboxClient:
    """Look inside the sandbox and steer it.

    >>> from sandbox.server import SandboxServer
    >>> with SandboxServer() as server:
    ...     SandboxClient(server.url).writes()
    0
    """

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=f"{self.url}/_sandbox", timeout=timeout)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    def systems(self) -> dict[str, Any]:
        return dict(self._call("GET", "/systems"))

    def reset(self, seed: bool = True) -> None:
        self._call("POST", "/reset", params={"seed": seed})

    def snapshot(self, name: str) -> None:
        """Keep every object and the clock under `name`, for `restore`."""
        self._call("PUT", f"/snapshots/{name}")

    def restore(self, name: str) -> None:
        """Back to the snapshot `name`, with an empty request log, as `reset` is to the seed."""
        self._call("POST", f"/snapshots/{name}/restore")

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """The request log, oldest first; filters: system, service, method, path (LIKE), write,
        status, since (request id)."""
        params = {k: v for k, v in filters.items() if v is not None}
        return list(self._call("GET", "/requests", params=params)["requests"])

    def writes(self, **filters: Any) -> int:
        """How many writes the log holds (matching the filters)."""
        return len(self.requests(write=True, **filters))

    def last_request_id(self) -> int:
        rows = self.requests()
        return int(rows[-1]["id"]) if rows else 0

    def summary(self, since: int | None = None) -> dict[str, dict[str, int]]:
        params = {"since": since} if since is not None else {}
        return dict(self._call("GET", "/requests/summary", params=params))

    def keep_responses(self, on: bool = True) -> None:
        """Keep every answer's body in the request log (`requests(responses=True)` returns them)
        until the next reset."""
        self._call("POST", "/record", json={"responses": on})

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def state(self, system: str, kind: str | None = None) -> Any:
        return self._call("GET", f"/state/{system}" + (f"/{kind}" if kind else ""))

    def add_fault(self, path: str, **fault: Any) -> dict[str, Any]:
        """Inject a fault; see `sandbox.core.Fault` for the fields."""
        return dict(self._call("POST", "/faults", json={"path": path, **fault}))

    def faults(self) -> list[dict[str, Any]]:
        """The faults still active (a fault with `times` leaves once it hit that often)."""
        return list(self._call("GET", "/faults"))

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def set_quotas(
        self,
        enabled: bool,
        limits: dict[str, int] | None = None,
        windows: dict[str, float] | None = None,
    ) -> None:
        self._call(
            "POST",
            "/quotas",
            json={"enabled": enabled, "limits": limits or {}, "windows": windows or {}},
        )

    def advance_clock(self, days: float) -> str:
        return str(self._call("POST", "/clock", json={"advance_days": days})["now"])

    def set_clock(self, now: datetime) -> str:
        """Move the sandbox's clock (psflow's, in the demo and tests) to `now`, an aware moment."""
        return str(self._call("POST", "/clock", json={"now": now.isoformat()})["now"])

    def act(self, system: str, path: str, **body: Any) -> Any:
        """Play another person in the process, e.g. act("salesforce", "/opportunities/006.../stage",
        stage="5-Negotiating")."""
        return self._call("POST", f"/{system}{path}", json=body)

    def edit(self, system: str, path: str, **fields: Any) -> Any:
        """Change a record as a person would in the system's own UI, e.g.
        edit("salesforce", "/sobjects/Contact/003...", Email=None)."""
        return self._call("PATCH", f"/{system}{path}", json=fields)

    def close(self) -> None:
        self._http.close()
