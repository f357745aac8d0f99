"""Replies: the customer's answers to psflow's e-mails, found and taken where they go.

`watch-replies` runs on a schedule. Each poll is ONE search of the PS mailbox's inbox since a
watermark (a Prefect Variable), then a read of each thread it finds: psflow's e-mail that starts a
thread names what it is in its `X-PSFlow-Key` header, so an answer in that thread is known to
answer, say, CR-2 of an opportunity. Each answer to an e-mail that waits for one is emitted as
`ps.email.replied` with an id derived from Gmail's id of the answer: a repeated poll, an
overlapping window or a second watcher emits the same event again, and Prefect ignores it. The
watermark advances only after the events are out.

The `reply` deployment runs once per answer: it reads the answer again and hands it to what waits
for it (`ANSWERED`): a change request's e-mail to `flows.change_request.customer_answer`, an
acceptance request's to `flows.validate.customer_answer`, the sign-off's to
`flows.close.customer_sign_off`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.events import emit_event
from prefect.states import Completed, State

from core.events import EMAIL_REPLIED, event_kwargs
from engagement.keys import Kind
from engagement.replies import Reply
from flows import change_request, close, validate, watermarks
from flows.guard import phase_run
from tasks.gmail import find_replies, get_reply

WATERMARK = "psflow_gmail_watermark"
OVERLAP_SECONDS = 300  # Gmail's search may show a message some time after it arrived

# What takes the answers to each kind of e-mail that waits for one
ANSWERED: dict[Kind, Callable[[str, Reply], State[Any]]] = {
    Kind.CHANGE_REQUEST_EMAIL: change_request.customer_answer,
    Kind.ACCEPTANCE_EMAIL: validate.customer_answer,
    Kind.SIGN_OFF_EMAIL: close.customer_sign_off,
}


@flow(name="watch-replies")
def watch_replies(overlap_seconds: int = OVERLAP_SECONDS) -> int:
    """Emit `ps.email.replied` for every answer to a psflow e-mail that waits for one, received
    since the last poll.

    Returns:
        How many answers this poll emitted (repeats included).
    """
    found, emitted = poll(find_replies, overlap_seconds)
    get_run_logger().info("%d answers to psflow's e-mails, %d events", found, emitted)
    return emitted


def poll(
    find: Callable[[datetime], list[Reply]], overlap_seconds: int = OVERLAP_SECONDS
) -> tuple[int, int]:
    """One poll: the answers since the watermark (looked up by `find`), their events out, the
    watermark advanced. Returns (answers found, events emitted). Also run by the demo's fast
    loop (psflow/serve.py) without a flow run each time."""
    stored, watermark = watermarks.read(WATERMARK)
    replies = find(watermark - timedelta(seconds=overlap_seconds))
    emitted = 0
    for reply in replies:
        if reply.answers.kind not in ANSWERED:
            continue
        emit_event(
            **event_kwargs(
                EMAIL_REPLIED,
                reply.answers.record_id,
                key=reply.id,
                payload={
                    "kind": reply.answers.kind.value,
                    "part": reply.answers.part or "",
                    "thread": reply.thread,
                    "message": reply.id,
                },
            )
        )
        emitted += 1
    newest = max((reply.received for reply in replies), default=watermark)
    if not stored or newest > watermark:
        watermarks.advance(WATERMARK, max(newest, watermark))
    return len(replies), emitted


@flow(name="reply", flow_run_name="reply · {customer} · {opportunity_id}")
def reply(opportunity_id: str, thread: str, message: str, customer: str = "") -> State[Any]:
    """One answer to a psflow e-mail, taken where it goes (one run per answer; the answers of
    an opportunity one at a time, so two answers to one request never both act on it).

    Args:
        opportunity_id: the Salesforce Opportunity id the answered e-mail belongs to.
        thread: Gmail's id of the thread.
        message: Gmail's id of the answer.
        customer: the account's name, for the run's name in the UI only.
    """
    return phase_run("reply", opportunity_id, lambda record_id: take(record_id, thread, message))


def take(opportunity_id: str, thread: str, message: str) -> State[Any]:
    answer = get_reply(thread, message)
    if answer.answers.record_id != opportunity_id:
        raise ValueError(
            f"message: {message} answers an e-mail of {answer.answers.record_id}, "
            f"not of opportunity {opportunity_id}"
        )
    taker = ANSWERED.get(answer.answers.kind)
    if taker is None:
        return Completed(message=f"an answer to the {answer.answers.kind}: nothing waits on it")
    return taker(opportunity_id, answer)
