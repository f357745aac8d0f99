"""The operator's commands: what each phase of an opportunity is doing and waiting for, a retry of a
failed phase run exactly as the Prefect UI's Retry button does it, and a lifecycle event fired by hand.

They talk to the Prefect server named by PREFECT_API_URL (environment or active profile), as any
Prefect CLI does. Phase runs are found by name: every phase run is named
`<phase> · <customer> · <opportunity>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterName,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.client.schemas.responses import OrchestrationResult, SetStateStatus
from prefect.client.schemas.sorting import FlowRunSort
from prefect.events import Event
from prefect.exceptions import PrefectHTTPStatusError
from prefect.settings import PREFECT_API_URL, get_current_settings
from prefect.states import AwaitingRetry
from websockets.exceptions import WebSocketException

from core.events import (
    OPPORTUNITY_RESOURCE_PREFIX,
    TRANSITION_EVENTS,
    Phase,
    event_kwargs,
)
from engagement.models import OPPORTUNITY_PREFIX, salesforce_id
from flows.forms import WAITS_FOR, awaited
from flows.guard import opportunity_tag

RUN_NAME_SEPARATOR = " · "
APPROVAL = WAITS_FOR["staffing-decision"]
# Phases that suspend for the coordinator (Initiate does when Pre-Initiate was skipped).
APPROVAL_PHASES = frozenset({Phase.PRE_INITIATE.value, Phase.INITIATE.value})
RETRYABLE = frozenset({StateType.FAILED, StateType.CRASHED})
LIFECYCLE_ORDER = [phase.value for phase in Phase]

# The events an operator may fire, by short name ("closed-won" for "ps.opportunity.closed-won").
EVENTS = {
    name.removeprefix(OPPORTUNITY_RESOURCE_PREFIX): name for name in TRANSITION_EVENTS.values()
}


class OperatorError(Exception):
    """Something the operator must know or fix; the CLI prints it and exits 1."""


# --- arguments -----------------------------------------------------------------------------------


def opportunity_id(value: str) -> str:
    """The opportunity's 18-character id, or a ValueError saying what a valid id looks like."""
    return salesforce_id(value.strip(), OPPORTUNITY_PREFIX, "Opportunity")


def event_name(value: str) -> str:
    """The full name of a lifecycle event given by its short or full name, or a ValueError listing
    the events psflow knows."""
    name = value.strip()
    if name in EVENTS.values():
        return name
    if name in EVENTS:
        return EVENTS[name]
    known = ", ".join(EVENTS)
    raise ValueError(f"unknown event {value!r}; one of: {known} (or {', '.join(EVENTS.values())})")


# --- reading the phase runs ----------------------------------------------------------------------


def configured_api() -> str:
    api_url = PREFECT_API_URL.value()
    if not api_url:
        raise OperatorError(
            "PREFECT_API_URL is not set: point it (environment or `prefect config set`) at the "
            "Prefect server that runs psflow, e.g. http://127.0.0.1:4200/api"
        )
    return str(api_url)


@contextlib.contextmanager
def prefect() -> Iterator[SyncPrefectClient]:
    """A client of the configured server; refuses to start Prefect's temporary in-process server
    (an empty one would answer that nothing ever ran)."""
    api_url = configured_api()
    try:
        with get_client(sync_client=True) as client:
            yield client
    except httpx.TransportError as err:
        raise OperatorError(f"cannot reach the Prefect API at {api_url}: {err}") from err


def ui_url() -> str:
    """The Prefect UI's base: the PREFECT_UI_URL setting (which Prefect infers from the API URL when
    unset), else the API URL without /api."""
    settings = get_current_settings()
    api_url = str(PREFECT_API_URL.value() or "")
    return str(settings.ui_url or api_url.removesuffix("/api")).rstrip("/")


def staffing_form(run_id: uuid.UUID, timeout: float = 30.0) -> dict[str, Any]:
    """The staffing approval form of a run paused for the decision: a JSON schema whose defaults are
    the proposed PSEs. Prefect proposes Paused before it saves the form, so a reader who has just
    seen Paused may be early; it waits for the form."""
    deadline = time.monotonic() + timeout
    with prefect() as client:
        while True:
            state = client.read_flow_run(run_id).state
            key = state.state_details.pause_key if state is not None else None
            try:
                # Prefect keeps the form (a JSON schema) of a run suspended with `key=K` as K's
                return dict(
                    json.loads(client.read_flow_run_input(run_id, f"suspended-{key}-schema"))
                )
            except PrefectHTTPStatusError as err:
                if err.response.status_code != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(0.2)


def run_link(run: FlowRun) -> str:
    return f"{ui_url()}/runs/flow-run/{run.id}"


def phase_of(run: FlowRun) -> str:
    return run.name.split(RUN_NAME_SEPARATOR, 1)[0]


def _is_about(run: FlowRun, opportunity: str) -> bool:
    # The server's LIKE ignores letter case and Salesforce ids do not, so compare the name's last
    # part exactly, in the 18- or 15-character form the run was started with.
    return run.name.rsplit(RUN_NAME_SEPARATOR, 1)[-1] in (opportunity, opportunity[:15])


def phase_runs(client: SyncPrefectClient, opportunity: str) -> dict[str, list[FlowRun]]:
    """Every run of the opportunity, by phase (in lifecycle order), newest first: the runs named
    after it (a run not started yet is not tagged) and those tagged with it (named after an
    activity, a change request or a week: "accept PS-MIG", "change CR-1", "status 2027-W02")."""
    named = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=opportunity[:15]))
    )
    tagged = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=[opportunity_tag(opportunity_id(opportunity))])
        )
    )
    runs = {r.id: r for r in named if _is_about(r, opportunity)} | {r.id: r for r in tagged}
    by_phase: dict[str, list[FlowRun]] = {}
    for run in sorted(runs.values(), key=lambda r: r.created or datetime.min.replace(tzinfo=UTC)):
        by_phase.setdefault(phase_key(run, opportunity), []).insert(0, run)

    def order(key: str) -> tuple[int, str]:
        phase = str(PART_OF.get(key.split(" ", 1)[0], key.split(" ", 1)[0]))
        known = phase in LIFECYCLE_ORDER
        return (LIFECYCLE_ORDER.index(phase) if known else len(LIFECYCLE_ORDER), key)

    return {key: by_phase[key] for key in sorted(by_phase, key=order)}


# The runs named after a part of the engagement, by the phase they belong to
PART_OF = {
    "status": Phase.EXECUTE,
    "change": Phase.CHANGE_REQUEST,
    "rebaseline": Phase.CHANGE_REQUEST,
    "accept": Phase.VALIDATE,
    "reply": Phase.VALIDATE,  # an answer to a change request, an acceptance or the sign-off
}


def phase_key(run: FlowRun, opportunity: str) -> str:
    """The phase a run is listed under: its name's first part, and its last when that is a part
    of the engagement rather than the opportunity ("accept PS-MIG")."""
    if _is_about(run, opportunity):
        return phase_of(run)
    parts = run.name.split(RUN_NAME_SEPARATOR)
    return f"{parts[0]} {parts[-1]}" if len(parts) > 1 else parts[0]


def latest_runs(client: SyncPrefectClient, opportunity: str) -> dict[str, FlowRun]:
    return {phase: runs[0] for phase, runs in phase_runs(client, opportunity).items()}


# --- status --------------------------------------------------------------------------------------


def when(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "-"
    now = now or datetime.now(UTC)
    seconds = (now - moment).total_seconds()
    if abs(seconds) < 90:
        ago = f"{abs(seconds):.0f} s"
    elif abs(seconds) < 90 * 60:
        ago = f"{abs(seconds) / 60:.0f} min"
    elif abs(seconds) < 48 * 3600:
        ago = f"{abs(seconds) / 3600:.1f} h"
    else:
        ago = f"{abs(seconds) / 86400:.1f} days"
    relative = f"{ago} ago" if seconds >= 0 else f"in {ago}"
    return f"{moment.astimezone():%Y-%m-%d %H:%M:%S %Z} ({relative})"


def first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else "no message"


def waits_for(phase: str, state: State[Any] | None, opportunity: str) -> str:
    """What a phase run in this state waits for, in plain words."""
    if state is None:
        return "no state yet"
    details = state.state_details
    match state.type:
        case StateType.PAUSED:
            key = details.pause_key or ""
            what = awaited(key)
            if what is None:
                what = APPROVAL if phase in APPROVAL_PHASES else "input in the UI (Resume)"
            until = f"; it fails at {when(details.pause_timeout)}" if details.pause_timeout else ""
            return f"waits for {what}{until}"
        case StateType.FAILED | StateType.CRASHED:
            return (
                f"{state.type.value.lower()}: {first_line(state.message)}\n"
                f"fix the cause, then: psflow retry {opportunity} --phase {phase}"
            )
        case StateType.SCHEDULED if state.name == "AwaitingRetry":
            return "a retry was requested: waits for the runner or a worker to pick it up"
        case StateType.SCHEDULED if state.name == "Late":
            return "late: no runner or worker has picked it up (is one running?)"
        case StateType.SCHEDULED:
            start = when(details.scheduled_time)
            return f"scheduled for {start}: waits for the runner or a worker to pick it up"
        case StateType.PENDING:
            return "starting"
        case StateType.RUNNING:
            return "running"
        case StateType.COMPLETED:
            return f"done: {first_line(state.message)}"
        case StateType.CANCELLING:
            return "being cancelled"
        case StateType.CANCELLED:
            return f"cancelled: {first_line(state.message)}"
    return state.name or state.type.value


# The schedules that act on an engagement without an event: what the next run does to it, and
# whether it concerns the engagement, from its phases' latest runs.
SCHEDULES = {
    "weekly-status": (
        "its weekly status report, while it is In Progress",
        lambda latest: "plan" in latest and "close" not in latest,
    ),
    "passive-acceptance": (
        "accepts passively what it was asked to accept five business days ago, unanswered",
        lambda latest: "close" in latest or any(key.startswith("accept ") for key in latest),
    ),
}


def scheduled_steps(client: SyncPrefectClient, latest: dict[str, FlowRun]) -> list[str]:
    """The scheduled deployments that concern the engagement now: when each next acts, and how."""
    lines = []
    for name, (does, concerns) in SCHEDULES.items():
        if not concerns(latest):
            continue
        deployments = client.read_deployments(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[name]))
        )
        if not deployments:
            lines.append(f"{name}: not deployed; {does}")
            continue
        (deployment,) = deployments
        upcoming = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            limit=1,
        )
        if deployment.paused:
            next_run = "paused"
        elif upcoming:
            next_run = f"next {when(upcoming[0].expected_start_time)}"
        else:
            next_run = "no run scheduled (its schedule is off: run it by hand)"
        lines.append(f"{name}: {next_run}; {does}")
    return lines


def status(opportunity: str) -> list[str]:
    """Each phase's latest run: its state, since when, what it waits for, its UI link; then the
    schedules that concern the engagement, and when each next acts."""
    with prefect() as client:
        latest = latest_runs(client, opportunity)
        scheduled = scheduled_steps(client, latest)
    if not latest:
        return [
            f"No phase runs for opportunity {opportunity} yet "
            f"(start one with `psflow emit negotiating {opportunity}`)."
        ]
    lines = [f"Opportunity {opportunity}:"]
    width = max(len(phase) for phase in latest)
    for phase, run in latest.items():
        state = run.state
        name = state.name if state else "-"
        stamp = state.timestamp if state else None
        lines.append(f"  {phase:<{width}}  {name:<14} {when(stamp)}   {run.name}")
        for line in waits_for(phase, state, opportunity).splitlines():
            lines.append(f"  {'':<{width}}  {line}")
        lines.append(f"  {'':<{width}}  {run_link(run)}")
    if scheduled:
        lines.append("Scheduled:")
        lines.extend(f"  {line}" for line in scheduled)
    return lines


# --- retry ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retried:
    run: FlowRun
    was: State[Any]


def retry(opportunity: str, phase: str | None = None) -> Retried:
    """Put the phase's latest run back to AwaitingRetry (forced), as the UI's Retry button does:
    the runner or a worker picks it up again, and tasks already completed in it are not redone.

    Only a phase whose latest run failed is retried: an older failed run that a newer run already
    replaced is history, not work to do.
    """
    with prefect() as client:
        latest = latest_runs(client, opportunity)
        if phase is not None:
            if phase not in latest:
                raise OperatorError(f"no {phase} run for opportunity {opportunity}")
            latest = {phase: latest[phase]}
        failed = [r for r in latest.values() if r.state and r.state.type in RETRYABLE]
        if not failed:
            states = ", ".join(
                f"{p} is {r.state.name if r.state else 'without state'}" for p, r in latest.items()
            )
            raise OperatorError(
                f"nothing to retry for opportunity {opportunity}: "
                + (states or "it has no phase runs")
            )
        run = max(failed, key=_state_time)
        was = run.state
        assert was is not None  # filtered above
        if run.deployment_id is None:
            # the UI offers no Retry either: nothing would pick the run up again
            raise OperatorError(
                f"{run.name} was not started from a deployment, so no runner or worker can pick "
                f"up a retry; start the phase again instead (`psflow emit ...`)"
            )
        answer: OrchestrationResult[Any] = client.set_flow_run_state(
            run.id, AwaitingRetry(message="Retry from psflow retry"), force=True
        )
        if answer.status != SetStateStatus.ACCEPT:
            reason = getattr(answer.details, "reason", None) or answer.status.value
            raise OperatorError(f"the server refused to retry {run.name}: {reason}")
    return Retried(run, was)


def _state_time(run: FlowRun) -> datetime:
    return run.state.timestamp if run.state else datetime.min.replace(tzinfo=UTC)


# --- emit ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpportunityLabels:
    name: str
    customer: str
    stage: str


def read_opportunity(opportunity: str) -> OpportunityLabels:
    """The opportunity's name, account and stage from Salesforce, through the saved Blocks.

    Only these three fields: an event is fired by hand precisely when something is off, and the
    phase run itself reports whatever else the opportunity lacks.
    """
    from tasks.calls import OutsideError, calling
    from tasks.clients import systems

    what = f"opportunity {opportunity}"
    try:
        sf = systems().salesforce()
    except ValueError as err:  # Block.load: no such block document
        raise OperatorError(
            f"cannot load the saved Salesforce Block from {PREFECT_API_URL.value()}: {err} "
            "(save them with `psflow blocks <sandbox-url>` or as README 'Real services' says)"
        ) from err
    try:
        with calling("Salesforce", what):
            rows = sf.query(
                f"SELECT Name, StageName, Account.Name FROM Opportunity WHERE Id = '{opportunity}'"
            )["records"]
    except OutsideError as err:
        raise OperatorError(str(err)) from err
    if not rows:
        raise OperatorError(f"Salesforce has no {what}")
    row = rows[0]
    return OpportunityLabels(
        name=row["Name"],
        customer=(row.get("Account") or {}).get("Name") or "",
        stage=row["StageName"],
    )


def lifecycle_event(event: str, opportunity: str, labels: OpportunityLabels) -> Event:
    """The event as the watcher would emit it, but with a fresh id: the watcher's ids are derived
    from a stage-history row so repeats are ignored, while a hand-fired event is deliberate."""
    kwargs = event_kwargs(
        event,
        opportunity,
        key=f"by-hand:{uuid.uuid4()}",
        name=labels.name,
        customer=labels.customer,
        payload={"source": "psflow emit", "stage": labels.stage},
    )
    return Event(**kwargs)


def emit(event: str, opportunity: str) -> Event:
    """Fire `event` about the opportunity, labelled with its name and customer from Salesforce."""
    from prefect.events.clients import get_events_client

    api_url = configured_api()

    async def send(event: Event) -> None:
        async with get_events_client(reconnection_attempts=2) as events:
            await events.emit(event)

    try:
        sent = lifecycle_event(event, opportunity, read_opportunity(opportunity))
        asyncio.run(send(sent))  # as `prefect event emit` does, so a refusal is not swallowed
    except (OSError, httpx.TransportError, WebSocketException) as err:
        raise OperatorError(f"cannot reach the Prefect API at {api_url}: {err}") from err
    return sent


def triggered_by(event: str) -> list[str]:
    """The deployments whose triggers expect this event."""
    from deployments.definitions import DEPLOYMENTS

    return [d.name for d in DEPLOYMENTS if any(event in trigger.expect for trigger in d.triggers)]
