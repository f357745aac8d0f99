"""The Salesforce watcher: turns opportunity stage changes into lifecycle events.

Runs on a schedule. Each poll is ONE query of Salesforce's stage history since a watermark (a Prefect
Variable), so its cost grows with the number of changes, not of opportunities. Each transition is
emitted with an id derived from its history row: a repeated poll, an overlapping window or a second
watcher emits the same event again, and Prefect's trigger service ignores an event id it has already
seen. The watermark advances only after the events are out, so a crash never loses a transition.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from prefect import flow, get_run_logger
from prefect.events import emit_event

from core.events import TRANSITION_EVENTS, event_kwargs
from engagement.lifecycle import StageChange, transition
from flows import watermarks
from tasks.clients import systems
from tasks.salesforce import find_stage_changes

WATERMARK = "psflow_salesforce_watermark"
OVERLAP_SECONDS = 300


@flow(name="watch-opportunities")
def watch_opportunities(overlap_seconds: int = OVERLAP_SECONDS) -> int:
    """Emit `ps.opportunity.*` for every stage transition since the last poll.

    Args:
        overlap_seconds: how far before the watermark each poll looks again, for history rows that
            became visible late; their events are repeats Prefect ignores.

    Returns:
        How many transitions this poll emitted (repeats included).
    """
    changes, emitted = poll(find_stage_changes, overlap_seconds)
    get_run_logger().info("%d stage changes, %d lifecycle events", changes, emitted)
    return emitted


def poll(
    find: Callable[[datetime], list[StageChange]], overlap_seconds: int = OVERLAP_SECONDS
) -> tuple[int, int]:
    """One poll: the stage changes since the watermark (looked up by `find`), their events out,
    the watermark advanced. Returns (changes, events emitted). Also the body of the fast loop the
    demo serves (psflow/serve.py), which runs it without a flow run each time."""
    settings = systems().settings
    stored, watermark = watermarks.read(WATERMARK)
    changes = find(watermark - timedelta(seconds=overlap_seconds))

    emitted = 0
    for change in changes:
        kind = transition(
            change,
            negotiating=settings.negotiating_stage,
            closed_won=settings.closed_won_stage,
            closed_lost=settings.closed_lost_stage,
            awaiting_signature=settings.awaiting_signature_stage,
            later=settings.later_stages,
        )
        if kind is None:
            continue
        emit_event(
            **event_kwargs(
                TRANSITION_EVENTS[kind],
                change.opportunity_id,
                key=change.id,
                name=change.opportunity_name,
                customer=change.customer,
                payload={"from_stage": change.old_stage, "to_stage": change.new_stage},
            )
        )
        emitted += 1

    newest = max((change.changed_at for change in changes), default=watermark)
    if not stored or newest > watermark:
        watermarks.advance(WATERMARK, max(newest, watermark))
    return len(changes), emitted
