"""What every phase tells when it is done: the objects it made or found (with links) to a person in
the Prefect UI, and `ps.phase.completed` to the next phase."""

from __future__ import annotations

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event

from core.events import OPPORTUNITY_CLOSED_WON, PHASE_COMPLETED, Phase, event_kwargs
from engagement.models import Opportunity
from engagement.refs import Ref


def publish_summary(phase: str, opportunity: Opportunity, made: list[Ref], waiting: str) -> None:
    """A table of every object with its link, created now or already there, and what comes next."""
    create_table_artifact(
        key=f"{phase}-{opportunity.id.lower()}",
        table=[ref.row() for ref in made],
        description=f"{phase} · {opportunity.account.name} · {opportunity.name}",
    )
    created = sum(ref.created for ref in made)
    create_markdown_artifact(
        key=f"{phase}-status-{opportunity.id.lower()}",
        markdown=(
            f"**{opportunity.name}** ({opportunity.account.name}), {phase}: {created} created, "
            f"{len(made) - created} already existed. Next: waiting for {waiting}."
        ),
    )
    get_run_logger().info(
        "%s: %d objects created, %d already existed", phase, created, len(made) - created
    )


def announce(
    event: str,
    opportunity: Opportunity,
    key: str,
    phase: Phase | None = None,
    **payload: str,
) -> None:
    """One lifecycle event about the opportunity. Its id is made from `key`, so a re-run repeats
    the same event and Prefect keeps the first: nothing downstream starts twice."""
    emit_event(
        **event_kwargs(
            event,
            opportunity.id,
            key=key,
            name=opportunity.name,
            customer=opportunity.account.name,
            phase=phase,
            payload=payload,
        )
    )


def announce_completed(phase: Phase, opportunity: Opportunity) -> None:
    """`ps.phase.completed` for the phase, keyed by opportunity and phase."""
    announce(PHASE_COMPLETED, opportunity, f"{opportunity.id}:{phase}", phase)


def announce_won_once_staffed(opportunity: Opportunity) -> None:
    """`ps.opportunity.closed-won` again for an opportunity won while its staffing approval waited:
    the Initiate its first event started found the approval asked by Pre-Initiate and ended, so it
    starts now. Keyed by the opportunity: a re-run repeats the same event."""
    announce(OPPORTUNITY_CLOSED_WON, opportunity, f"{opportunity.id}:staffed")
