"""One run per opportunity and phase at a time, every run tagged with its opportunity; and what
belongs to the customer rather than one opportunity made by one run at a time.

A duplicate event or an ops retry racing a trigger then waits for the running one to finish, and
finds everything already done (the tasks look each object up first)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import StateType
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.runtime import flow_run
from prefect.states import Cancelled, Completed, State

from engagement.keys import Kind, drive_name, engagement_folders
from engagement.models import Opportunity
from engagement.refs import Ref
from tasks.drive import ensure_copy
from tasks.salesforce import opportunity_id as valid_opportunity_id

# The slot is a lease the run renews while it runs (every 3/4 of it). A run whose worker vanished
# renews nothing: its slot comes back when the lease expires, so its rescued run waits at most this
# long. 60 s is the shortest lease Prefect accepts (its default, 300 s).
LEASE_SECONDS = 60


def opportunity_tag(opportunity_id: str) -> str:
    return f"opportunity:{opportunity_id}"


@contextmanager
def one_at_a_time(scope: str, record_id: str) -> Iterator[None]:
    """Hold the slot of `scope` (a phase, or "account") for this record. The limit is created on
    first use: without it Prefect would run unguarded (`strict=True` makes a missing limit an
    error, never a skip).

    A suspended run leaves the block (its process exits), so it does not hold the slot while it
    waits for a person."""
    name = f"psflow-{scope}-{record_id.lower()}"
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            # another run of the same opportunity may create it first: that is just as good
            with suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1)
                )
    with concurrency(name, occupy=1, strict=True, lease_duration=LEASE_SECONDS):
        yield


class AskedElsewhere(Exception):
    """An earlier run for the opportunity is still under way: it asks the person."""

    def __init__(self, run_name: str, duplicate: bool = True) -> None:
        said = f"{run_name} is under way and asks for this answer"
        super().__init__(f"a duplicate: {said}" if duplicate else f"{said}: answer it there")


# A run in one of these has not ended: it may be waiting for a person, or just answered
UNDER_WAY = [
    StateType.SCHEDULED,
    StateType.PENDING,
    StateType.RUNNING,
    StateType.PAUSED,
    StateType.CANCELLING,
]


def not_asked_elsewhere(opportunity_id: str, *tags: str, any_flow: bool = False) -> None:
    """Before a run asks a person: when an earlier run of its flow for the opportunity has not
    ended (a duplicate trigger came while it waits for the answer, or while it goes on with it),
    this one ends (`AskedElsewhere`), so the UI shows one form per question and nobody answers
    twice. The earliest run asks: a run just answered is under way again, and a duplicate that
    got to its form meanwhile must not make it give up. `tags` narrow the question (a week's
    report: last week's waiting review is another question); with `any_flow`, a run of another
    flow tagged alike asks the same question (the staffing approval: Pre-Initiate's, or Initiate's
    for an opportunity won without it)."""
    this, flow = flow_run.get_id(), flow_run.get_flow_name()
    if this is None:
        return
    with get_client(sync_client=True) as client:
        mine = client.read_flow_run(UUID(this))
        others = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[opportunity_tag(opportunity_id), *tags]),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=UNDER_WAY)),
            )
        )
        earlier = [
            run
            for run in others
            if run.id != mine.id
            and (run.created, str(run.id)) < (mine.created, str(mine.id))
            and (any_flow or client.read_flow(run.flow_id).name == flow)
        ]
    if earlier:
        raise AskedElsewhere(earlier[0].name, duplicate=earlier[0].flow_id == mine.flow_id)


def withdraw_questions(opportunity_id: str, tag: str, why: str) -> list[str]:
    """Cancel the opportunity's runs that wait at a form tagged `tag`, saying `why`: a question
    nobody needs to answer any more (the staffing of a lost deal). Their names."""
    with get_client(sync_client=True) as client:
        waiting = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[opportunity_tag(opportunity_id), tag]),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])),
            )
        )
        for run in waiting:
            # a suspended run has no process to stop: it is Cancelled at once
            client.set_flow_run_state(run.id, Cancelled(message=why), force=True)
    return [run.name for run in waiting]


def tag_run(opportunity_id: str, *more: str) -> None:
    """Tag the current flow run with its opportunity (and `more`), so `psflow status` and the UI
    filter by it."""
    run_id = flow_run.get_id()
    if run_id is None:
        return
    wanted = [opportunity_tag(opportunity_id), *more]
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(run_id))
        if missing := [tag for tag in wanted if tag not in run.tags]:
            client.update_flow_run(run.id, tags=[*run.tags, *missing])


def for_the_account(account_id: str) -> AbstractContextManager[None]:
    """Hold the account's slot: what belongs to the customer rather than to one opportunity (its
    Drive folder) is looked up and made by one run at a time, whatever the opportunities racing."""
    return one_at_a_time("account", account_id)


def engagement_document(template_key: str, kind: Kind, title: str, opportunity: Opportunity) -> Ref:
    """The opportunity's copy of a template, e.g. "Cost Estimate – Acme – SOW-2026-041", in its
    SOW folder in the customer's folder, each made if missing. Two engagements of one customer may
    run at once and Drive allows two folders of one name: the account's slot is held."""
    with for_the_account(opportunity.account.id):
        return ensure_copy(
            template_key,
            kind,
            opportunity.id,
            drive_name(title, opportunity.account.name, opportunity.sow_number),
            engagement_folders(opportunity),
        )


def phase_run(phase: str, opportunity_id: str, body: Callable[[str], State[Any]]) -> State[Any]:
    """What every phase run does: check the id (before any request), tag the run, take the
    opportunity's slot for the phase and run `body` with the 18-character id inside it. A
    duplicate run that finds another waiting for a person's answer ends there, completed, naming
    it (`not_asked_elsewhere`)."""
    record_id = valid_opportunity_id(opportunity_id)
    tag_run(record_id)
    with one_at_a_time(phase, record_id):
        try:
            return body(record_id)
        except AskedElsewhere as duplicate:
            return Completed(message=str(duplicate))
