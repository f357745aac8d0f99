"""A process killed at a random point of a phase, then retried the ops way: the crash tests'
parts, shared by tests/e2e/test_crash.py and benchmarks/crash.py.

A *point* is one write of the phase's clean reference run (testkit/faults.py), picked at random:
the sandbox holds that request open (a `delay` fault, `skip` past the earlier writes of its route),
either before applying it or right after (`after_commit`: the write landed, its answer never
came). While it is held, the served runner's whole process group is killed (the flow run's process
with it) and started again; ops mark the run Failed and `psflow retry` it, as README's operating
section says. The run must complete with every object of the reference once.

The stack serves the deployments without their triggers (`PrefectStack(by_hand=True)`): a phase
completed would otherwise start the next, writing while a case counts.

The runner remembers what it must (Gmail drafts' ids) in its result storage: the phase's world is
prepared into that directory (`configured(memory=...)`), so a restored snapshot restores what the
runner remembers with the sandbox's objects.
"""

from __future__ import annotations

import os
import random
import signal
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.states import Failed, State

from psflow.local import descendants
from psflow.operate import OperatorError, retry
from sandbox.client import SandboxClient
from testkit.faults import (
    Reference,
    WriteRoute,
    accept_passively,
    census,
    faulted,
    parameters,
    prepared,
    route_of,
)
from testkit.phases import run_phase
from testkit.runs import state_of, wait_for_state, wait_until
from testkit.stack import PrefectStack

HOLD_SECONDS = 60.0  # far longer than a case waits before it kills the runner

# The deployment each phase's served run starts from. Close's case is the close-out: the passive
# clock's sign-off in this process, then the served Close (the clock is one run for every
# engagement, not a phase of one).
DEPLOYMENTS = {
    "pre-initiate": "pre-initiate/pre-initiate",
    "awaiting-signature": "awaiting-signature/awaiting-signature",
    "initiate": "initiate/initiate",
    "plan": "plan/plan",
    "execute": "status/status",
    "change-request": "change-request/change-request",
    "rebaseline": "rebaseline/rebaseline",
    "release": "release/release",
    "validate": "validate/validate",
    "close-out": "close/close",
}


@dataclass(frozen=True)
class Point:
    """Where the runner dies: the `skip + 1`-th request of `route`, held before or after it
    is applied."""

    route: WriteRoute
    skip: int
    after_commit: bool

    def __str__(self) -> str:
        when = "after" if self.after_commit else "before"
        return f"{when} {self.route} #{self.skip + 1}"


def points(reference: Reference) -> list[Point]:
    """Every write of the reference run, each before and after it lands."""
    seen: dict[WriteRoute, int] = {}
    found: list[Point] = []
    for row in reference.answers:
        if not row["write"]:
            continue
        route = route_of(row["method"], row["path"])
        assert route is not None, row
        skip = seen.get(route, 0)
        seen[route] = skip + 1
        found.extend(Point(route, skip, after) for after in (False, True))
    return found


def random_point(reference: Reference, seed: str) -> Point:
    """One of `points`, the same for the same seed (a test stays deterministic)."""
    return random.Random(seed).choice(points(reference))


@dataclass
class Crash:
    phase: str
    what: str  # what befell the phase's run
    duplicates: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.phase} · {self.what}"

    def compare(self, sandbox: SandboxClient, reference: Reference) -> None:
        """Every object in the sandbox counted against the reference's."""
        now = census(sandbox)
        for key in set(now) | set(reference.census):
            diff = now.get(key, 0) - reference.census.get(key, 0)
            if diff > 0:
                self.duplicates[key] = diff
            elif diff < 0:
                self.lost[key] = -diff
        self.problems.extend(f"duplicate: {n} more {k}" for k, n in self.duplicates.items())
        self.problems.extend(f"lost: {n} fewer {k}" for k, n in self.lost.items())


def crash(stack: PrefectStack, sandbox: SandboxClient, reference: Reference, point: Point) -> Crash:
    """The phase's served run killed at `point`, the runner restarted, the run retried: what
    differs from the reference."""
    case = Crash(reference.phase, f"killed {point}")
    opportunity = _ready(sandbox, reference.phase)
    start = sandbox.last_request_id()
    sandbox.add_fault(
        point.route.regex,
        method=point.route.method,
        kind="delay",
        delay=HOLD_SECONDS,
        after_commit=point.after_commit,
        skip=point.skip,
    )
    run = _start(reference.phase, opportunity)
    wait_until(lambda: not sandbox.faults(), 180, f"{reference.phase} to reach {point}")
    if state_of(run).type != StateType.RUNNING:
        case.problems.append(f"the run was {state_of(run).name} when it was killed")

    kill_runner(stack)
    stack.restart_runner()
    with get_client(sync_client=True) as client:
        # Crashed would start psflow's rescue automation, which would race this retry
        client.set_flow_run_state(run.id, Failed(message="runner killed"), force=True)
    try:
        if (retried := retry(opportunity).run.id) != run.id:
            case.problems.append(f"psflow retry picked run {retried}, not the killed {run.id}")
    except OperatorError as refused:
        case.problems.append(f"psflow retry refused: {refused}; the run: {_history(run)}")
        return case
    done = _ended(run)
    if done.type != StateType.COMPLETED:
        case.problems.append(f"the retried run ended {done.name}: {_history(run)}")
    if point.route not in faulted(sandbox, start):
        case.problems.append(f"the hold on {point} was never hit")
    sandbox.clear_faults()
    case.compare(sandbox, reference)
    return case


# Started by a person with the change as its form, not by an event: two submissions are two
# change requests (CR-1, CR-2), so a phase started twice is not a duplicate there.
BY_A_PERSON = ("change-request",)


def twice_at_once(sandbox: SandboxClient, reference: Reference) -> Crash:
    """Two runs of the phase for one opportunity started at once, as a duplicate event's trigger
    starts them: both complete, one after the other (the opportunity's slot), one set of objects."""
    case = Crash(reference.phase, "two runs at once")
    opportunity = _ready(sandbox, reference.phase)
    runs = [_start(reference.phase, opportunity) for _ in range(2)]
    for run in runs:
        done = _ended(run)
        if done.type != StateType.COMPLETED:
            case.problems.append(f"{run.name} ended {done.name}: {_history(run)}")
    case.compare(sandbox, reference)
    return case


def _ended(run: FlowRun) -> State[Any]:
    """The run's final state, or the state it stopped in (a suspended run waits for a form)."""
    try:
        return wait_for_state(run, StateType.COMPLETED, StateType.FAILED, timeout=300)
    except AssertionError:
        return state_of(run)


def _history(run: FlowRun) -> str:
    with get_client(sync_client=True) as client:
        states = client.read_flow_run_states(run.id)
    return ", ".join(f"{s.timestamp:%H:%M:%S} {s.name} {s.message or ''}".strip() for s in states)


def _ready(sandbox: SandboxClient, phase: str) -> str:
    """The phase's world restored; Close's after the passive clock's sign-off."""
    opportunity = prepared(sandbox, phase)
    if phase == "close-out":
        state, _ = run_phase(accept_passively, opportunity)
        assert state.type == StateType.COMPLETED, state.message
    return opportunity


def _start(phase: str, opportunity: str) -> FlowRun:
    parameters = _parameters(phase, opportunity)
    return cast(
        FlowRun,  # a sync call: never the coroutine
        run_deployment(DEPLOYMENTS[phase], parameters=parameters, timeout=0),
    )


def _parameters(phase: str, opportunity: str) -> dict[str, Any]:
    given = parameters(phase, opportunity)
    if "change" in given:  # as the form submits it: JSON
        given["change"] = given["change"].model_dump(mode="json")
    return {"opportunity_id": opportunity, **given}


def kill_runner(stack: PrefectStack) -> None:
    """SIGKILL the runner's process group; then anything it started that left the group."""
    assert stack.runner is not None
    leader = stack.runner.process
    family = descendants(leader.pid)
    assert family, "the runner has no flow run process to kill"
    with suppress(ProcessLookupError):
        os.killpg(leader.pid, signal.SIGKILL)
    leader.wait(10)
    for pid in family:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not any(_alive(pid) for pid in family), 10, "the runner's processes to die")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def storage(stack: PrefectStack) -> Path:
    """Where the served runner's runs keep their results, psflow's memory among them."""
    return stack.home / "storage"
