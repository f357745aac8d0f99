"""The control API under `/_sandbox/`: what tests, benchmarks and the demo use to look inside the
sandbox and steer it. The actions that play other people (move an opportunity, reply to an email)
live with their system, under `/_sandbox/<system>/`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from sandbox.core import Fault, SandboxDep

router = APIRouter(tags=["control"])


@router.get("/systems")
async def systems(sb: SandboxDep) -> dict[str, Any]:
    """Every system: where it is mounted, its quotas and how many objects of each kind it holds."""
    return {
        name: {
            "base_path": f"/{name}",
            "objects": {kind: len(sb.store.table(name, kind)) for kind in sb.store.kinds(name)},
            "quotas": [
                {
                    "id": q.id,
                    "description": q.description,
                    "limit": sb.quotas.limit(q),
                    "window_seconds": sb.quotas.window(q),
                }
                for q in system.quotas
            ],
        }
        for name, system in sb.systems.items()
    }


@router.post("/reset")
async def reset(sb: SandboxDep, seed: bool = True) -> dict[str, str]:
    """Forget everything (objects, request log, faults, quota counters, clock) and re-seed."""
    sb.reset(seed=seed)
    return {"status": "reset"}


@router.put("/snapshots/{name}")
async def snapshot(sb: SandboxDep, name: str) -> dict[str, str]:
    """Keep every object and the clock under `name` (in memory, until the server stops): a test
    prepares an engagement once and restores it for each case."""
    sb.snapshot(name)
    return {"status": "kept", "name": name}


@router.post("/snapshots/{name}/restore")
async def restore(sb: SandboxDep, name: str) -> dict[str, str]:
    """Back to the snapshot's objects and clock, as a reset is back to the seed (an empty request
    log, no faults, quotas off); the ids handed out since are not handed out again."""
    if name not in sb.snapshots:
        raise HTTPException(404, f"no snapshot {name!r}; snapshots: {sorted(sb.snapshots)}")
    sb.restore(name)
    return {"status": "restored", "name": name}


# --- the request log -----------------------------------------------------------------------------

_FILTERS = {
    "system": "system = ?",
    "service": "service = ?",
    "method": "method = ?",
    "status": "status = ?",
    "since": "id > ?",
    "path": "path LIKE ?",
}


def _where(filters: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    clauses, params = [], []
    for name, value in filters.items():
        if value is None:
            continue
        if name == "write":
            clauses.append("write = ?")
            params.append(int(value))
        else:
            clauses.append(_FILTERS[name])
            params.append(value)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)


@router.get("/requests")
async def requests(
    sb: SandboxDep,
    system: str | None = None,
    service: str | None = None,
    method: str | None = None,
    path: str | None = Query(None, description="SQL LIKE pattern, e.g. /gitlab/api/v4/projects%"),
    write: bool | None = None,
    status: int | None = None,
    since: int | None = Query(None, description="only requests with a larger id"),
    responses: bool = Query(False, description="each with its answer's body, where one was kept"),
) -> dict[str, Any]:
    """The request log, oldest first: system, method, path, status, time, write, fault, quota."""
    where, params = _where(
        {
            "system": system,
            "service": service,
            "method": method,
            "path": path,
            "write": write,
            "status": status,
            "since": since,
        }
    )
    rows = list(sb.store.requests(where, params))
    if responses:
        kept = sb.store.responses([int(row["id"]) for row in rows])
        for row in rows:
            row["response"] = kept.get(int(row["id"]))
    return {"count": len(rows), "requests": rows}


class Keeping(BaseModel):
    responses: bool = Field(description="keep every answer's body beside its request")


@router.post("/record")
async def record(sb: SandboxDep, keeping: Keeping) -> dict[str, bool]:
    """Keep (or stop keeping) the answers' bodies in the request log, until the next reset."""
    sb.keep_responses = keeping.responses
    return {"responses": sb.keep_responses}


@router.get("/requests/summary")
async def summary(sb: SandboxDep, since: int | None = None) -> dict[str, Any]:
    """Reads and writes per service, and how many requests hit a fault or a quota."""
    where, params = _where({"since": since})
    out: dict[str, dict[str, int]] = {}
    for rec in sb.store.requests(where, params):
        row = out.setdefault(rec["service"], {"reads": 0, "writes": 0, "faults": 0, "throttled": 0})
        row["writes" if rec["write"] else "reads"] += 1
        row["faults"] += rec["fault"] is not None
        row["throttled"] += rec["quota"] is not None
    return out


@router.delete("/requests")
async def clear_requests(sb: SandboxDep) -> dict[str, str]:
    sb.store.clear_requests()
    return {"status": "cleared"}


# --- state ---------------------------------------------------------------------------------------


@router.get("/state/{system}")
async def state(sb: SandboxDep, system: str) -> dict[str, list[dict[str, Any]]]:
    """What exists in one system, by kind of object."""
    if system not in sb.systems:
        raise HTTPException(404, f"no system {system!r}; systems: {sorted(sb.systems)}")
    return {kind: list(sb.store.table(system, kind).values()) for kind in sb.store.kinds(system)}


@router.get("/state/{system}/{kind}")
async def state_of_kind(sb: SandboxDep, system: str, kind: str) -> list[dict[str, Any]]:
    if system not in sb.systems:
        raise HTTPException(404, f"no system {system!r}; systems: {sorted(sb.systems)}")
    return list(sb.store.table(system, kind).values())


# --- faults --------------------------------------------------------------------------------------


@router.get("/faults")
async def faults(sb: SandboxDep) -> list[Fault]:
    return sb.faults.active


@router.post("/faults")
async def add_fault(sb: SandboxDep, fault: Fault) -> Fault:
    """Inject a fault on the requests matching `method` and the `path` regular expression."""
    sb.faults.active.append(fault)
    return fault


@router.delete("/faults")
async def clear_faults(sb: SandboxDep) -> dict[str, str]:
    sb.faults.active.clear()
    return {"status": "cleared"}


# --- quotas --------------------------------------------------------------------------------------


class QuotaSettings(BaseModel):
    enabled: bool = Field(
        description="answer over-quota requests with the system's throttling error"
    )
    limits: dict[str, int] = Field(default_factory=dict, description="quota id -> limit override")
    windows: dict[str, float] = Field(
        default_factory=dict, description="quota id -> window override, in seconds (tests)"
    )


@router.post("/quotas")
async def set_quotas(sb: SandboxDep, settings: QuotaSettings) -> dict[str, Any]:
    known = {q.id for s in sb.systems.values() for q in s.quotas}
    if unknown := (set(settings.limits) | set(settings.windows)) - known:
        raise HTTPException(422, f"unknown quota ids {sorted(unknown)}; known: {sorted(known)}")
    sb.quotas.enabled = settings.enabled
    sb.quotas.overrides = dict(settings.limits)
    sb.quotas.window_overrides = dict(settings.windows)
    return {
        "enabled": sb.quotas.enabled,
        "limits": sb.quotas.overrides,
        "windows": sb.quotas.window_overrides,
    }


# --- clock ---------------------------------------------------------------------------------------


class ClockMove(BaseModel):
    advance_days: float = Field(0, ge=0, description="move the sandbox's clock forward this far")
    now: datetime | None = Field(None, description="or set it to this instant (timezone-aware)")


@router.get("/clock")
async def clock(sb: SandboxDep) -> dict[str, str]:
    return {"now": sb.now().isoformat()}


@router.post("/clock")
async def move_clock(sb: SandboxDep, move: ClockMove) -> dict[str, str]:
    if move.now is not None:
        if move.now.tzinfo is None:
            raise HTTPException(422, "now: needs a timezone, e.g. 2026-12-01T09:00:00Z")
        sb.clock.offset = move.now - (sb.now() - sb.clock.offset)
    sb.clock.offset += timedelta(days=move.advance_days)
    return {"now": sb.now().isoformat()}
