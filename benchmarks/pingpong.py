"""Two benchmark-only phases that hand over to each other exactly as psflow's phases do: each emits
`ps.phase.completed` (the opportunity as the resource, the phase as a related one) at its end, and
the other's deployment has a DeploymentEventTrigger on it. A chain of N hand-overs gives N samples of
"one phase completing -> the next phase's run Running". The hops left travel in the event's payload.

They do nothing else, but their module imports psflow's deployment definitions and with them every
phase's libraries, so a run starts as a real phase's run does (a process forked warm, psflow/warm.py,
or a cold one importing all of it where there is no zygote).
"""

from __future__ import annotations

from prefect import flow
from prefect.events import DeploymentEventTrigger, emit_event

from core.events import PHASE_COMPLETED, PHASE_RESOURCE_PREFIX, event_kwargs
from deployments.definitions import Deployment, phase_trigger

PING = "bench-ping"
PONG = "bench-pong"
TAGS = ("psflow-benchmark",)


@flow(name=PING, flow_run_name="bench-ping · {opportunity_id} · {hops}")
def bench_ping(opportunity_id: str, customer: str = "", hops: int = 0) -> int:
    """Hand over to bench-pong while hops remain."""
    return hand_over(PING, opportunity_id, customer, hops)


@flow(name=PONG, flow_run_name="bench-pong · {opportunity_id} · {hops}")
def bench_pong(opportunity_id: str, customer: str = "", hops: int = 0) -> int:
    """Hand over to bench-ping while hops remain."""
    return hand_over(PONG, opportunity_id, customer, hops)


def hand_over(phase: str, opportunity_id: str, customer: str, hops: int) -> int:
    """What a psflow phase does last: emit `ps.phase.completed` for its opportunity."""
    if hops > 0:
        kwargs = event_kwargs(
            PHASE_COMPLETED,
            opportunity_id,
            key=f"{opportunity_id}:{phase}:{hops}",  # one event id per hop
            customer=customer,
            payload={"hops": hops - 1},
        )
        # psflow's Phase enum names only its real phases; the related resource has the same shape
        kwargs["related"] = [
            {
                "prefect.resource.id": f"{PHASE_RESOURCE_PREFIX}{phase}",
                "prefect.resource.role": "phase",
            }
        ]
        emit_event(**kwargs)
    return hops


def after(phase: str) -> DeploymentEventTrigger:
    """psflow's phase trigger on `ps.phase.completed`, for the completion of `phase` only."""
    base = phase_trigger(PHASE_COMPLETED)
    return DeploymentEventTrigger(
        name=f"after {phase}",
        expect=base.expect,
        match=base.match,
        match_related={
            "prefect.resource.id": f"{PHASE_RESOURCE_PREFIX}{phase}",
            "prefect.resource.role": "phase",
        },
        for_each=base.for_each,
        parameters={**(base.parameters or {}), "hops": "{{ event.payload.hops }}"},
    )


PINGPONG = (
    Deployment(
        name=PING,
        flow=bench_ping,
        description="Benchmark only: hands over to bench-pong.",
        triggers=(after(PONG),),
        tags=TAGS,
    ),
    Deployment(
        name=PONG,
        flow=bench_pong,
        description="Benchmark only: hands over to bench-ping.",
        triggers=(after(PING),),
        tags=TAGS,
    ),
)
