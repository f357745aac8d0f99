"""Flow runs on the current Prefect server: found by their opportunity, waited for, and the events
the phases emit."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterName,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.settings import PREFECT_API_URL

from psflow.operate import staffing_form

_CLIENTS: dict[str, SyncPrefectClient] = {}


def prefect() -> SyncPrefectClient:
    """A client of the current Prefect server, kept open for the process: the tests poll several
    times a second, and a new client costs ~30 ms of CPU (its TLS context)."""
    url = str(PREFECT_API_URL.value())
    if url not in _CLIENTS:
        _CLIENTS[url] = get_client(sync_client=True).__enter__()
    return _CLIENTS[url]


# The states a phase run ends in, as the tests wait for it (a cancelled run is the test's own doing)
FINAL = (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED)


def wait_until(
    check: Callable[[], Any], timeout: float, what: str, log: Callable[[], str] | None = None
) -> Any:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.25)
    raise AssertionError(
        f"timed out after {timeout:.0f} s waiting for {what}\n{log() if log else ''}"
    )


def flow_runs(opportunity: str) -> list[FlowRun]:
    """Flow runs whose name contains `opportunity` (a phase's run is named after it) or tagged
    with it (a weekly status run is named after its customer and week)."""
    client = prefect()
    named = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=opportunity))
    )
    tagged = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"opportunity:{opportunity}"]))
    )
    return list({run.id: run for run in [*named, *tagged]}.values())


def busy_since(since: datetime) -> list[FlowRun]:
    """Runs created since `since` that are still to run or running (a paused run waits for a
    person and writes nothing meanwhile)."""
    active = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.CANCELLING]
    client = prefect()
    return client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            expected_start_time=FlowRunFilterExpectedStartTime(after_=since),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=active)),
        )
    )


def run_of(
    phase: str, opportunity: str, timeout: float = 120, log: Callable[[], str] | None = None
) -> FlowRun:
    """The one run of `phase` for the opportunity, once there is one."""
    runs = wait_until(
        lambda: [r for r in flow_runs(opportunity) if r.name.startswith(f"{phase} ·")],
        timeout,
        f"a {phase} run for {opportunity}",
        log,
    )
    assert len(runs) == 1, [r.name for r in runs]
    return runs[0]


def state_of(run: FlowRun) -> Any:
    client = prefect()
    return client.read_flow_run(run.id).state


def wait_for_state(
    run: FlowRun, *types: StateType, timeout: float = 60, log: Callable[[], str] | None = None
) -> Any:
    """The run's state once it is one of `types`; on a time-out, the state it is in instead."""
    return wait_until(
        lambda: (s := state_of(run)) is not None and s.type in types and s,
        timeout,
        f"run {run.name} to reach {types}",
        log or (lambda: f"it is {state_of(run)!r}"),
    )


def events(name: str, opportunity: str, related: str | None = None) -> list[dict[str, Any]]:
    """The events `name` about the opportunity the server has stored (it stores them in batches),
    only those related to the resource `related` when given (e.g. `ps.phase.initiate`)."""
    wanted: dict[str, Any] = {
        "event": {"name": [name]},
        "resource": {"id": [f"ps.opportunity.{opportunity}"]},
    }
    if related is not None:
        wanted["related"] = {"id": [related]}
    client = prefect()
    answer = client.request("POST", "/events/filter", json={"filter": wanted})
    return list(answer.json()["events"])


def completions(opportunity: str, phase: str = "initiate") -> list[dict[str, Any]]:
    """The `ps.phase.completed` events of the phase for the opportunity."""
    return events("ps.phase.completed", opportunity, related=f"ps.phase.{phase}")


def wait_for_pause(run: FlowRun, key: str, timeout: float = 120) -> Any:
    """The run's state once it waits for a person at the pause `key` (its form); a run that ends
    first fails the wait, saying how it ended."""

    def waiting() -> Any:
        state = state_of(run)
        at_key = state.type == StateType.PAUSED and state.state_details.pause_key == key
        return state if state.is_final() or at_key else None

    state = wait_until(
        waiting, timeout, f"run {run.name} to wait at {key}", lambda: repr(state_of(run))
    )
    assert state.type == StateType.PAUSED, state.message
    return state


def paused_at(run: FlowRun, key: str, timeout: float = 120) -> dict[str, Any]:
    """The form of the run (its JSON schema, with the defaults it shows) once it waits at the
    pause `key`."""
    wait_for_pause(run, key, timeout)
    return staffing_form(run.id)


def resume(run: FlowRun, form: dict[str, Any], **answers: Any) -> None:
    """The form submitted as the UI does: every field as shown (its default), then `answers`."""
    shown = {k: f["default"] for k, f in form["properties"].items() if "default" in f}
    client = prefect()
    result = client.resume_flow_run(run.id, run_input={**shown, **answers})
    assert result.status.value == "ACCEPT", result.details
