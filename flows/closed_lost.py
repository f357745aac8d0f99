"""Closed Lost: what the deal held is released.

Started by `ps.opportunity.closed-lost`. It reads the opportunity (Salesforce) and finds the
engagement's Mavenlink project; it deletes psflow's soft bookings on it (the PSEs are free again),
moves the Prospect project to Cancelled, closes the Technical Architect's review issue if there is
one (GitLab), and says so in #ps_planning. Each step finds its object first: a re-run or a repeated
event writes nothing. An opportunity that never reached Negotiating holds nothing: nothing is done.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.states import Completed, State

from deployments.events import Phase
from engagement.artifacts import Artifact
from engagement.keys import ArtifactKind
from engagement.lifecycle import NotReady
from engagement.models import Opportunity
from engagement.slugs import slack_text
from flows.guard import phase_run
from flows.reporting import publish_summary
from tasks import clients
from tasks.gitlab import ensure_issue_closed
from tasks.mavenlink import (
    CANCELLED,
    ensure_bookings_released,
    ensure_workspace_status,
    find_workspace,
)
from tasks.salesforce import get_opportunity
from tasks.slack import ensure_message

PHASE = Phase.CLOSED_LOST


@flow(name="closed-lost", flow_run_name="closed-lost · {customer} · {opportunity_id}")
def closed_lost(opportunity_id: str, customer: str = "") -> State[Any]:
    """The release of what a lost opportunity held.

    Args:
        opportunity_id: the Salesforce Opportunity id (15 or 18 characters).
        customer: the account's name, for the run's name in the UI only.
    """
    with phase_run(PHASE, opportunity_id) as record_id:
        return run_closed_lost(record_id)


def run_closed_lost(opportunity_id: str) -> State[Any]:
    settings = clients.settings()
    opportunity = get_opportunity(opportunity_id)
    if opportunity.stage != settings.closed_lost_stage:
        raise NotReady(
            opportunity.id,
            "the release",
            [f"StageName is {opportunity.stage!r}, not {settings.closed_lost_stage!r}"],
        )
    made: list[Artifact] = []
    workspace = find_workspace(opportunity.id)
    if workspace is not None:
        made.extend(ensure_bookings_released(workspace.id or "", opportunity.id))
        ensure_workspace_status(workspace.id or "", CANCELLED)
        made.append(workspace)
    review = ensure_issue_closed(
        settings.planning_project, ArtifactKind.TA_REVIEW_ISSUE, opportunity.id
    )
    if review is not None:
        made.append(review)
    if made:
        made.append(announce_release(opportunity, made))
    publish_summary(PHASE, opportunity, made, waiting="nothing: the engagement is over")
    released = sum(a.kind == "released soft booking" for a in made)
    return Completed(message=f"Released: {released} soft bookings; project Cancelled")


def announce_release(opportunity: Opportunity, made: list[Artifact]) -> Artifact:
    listed = "\n".join(f"• {slack_text(a.kind)}: {slack_text(a.name)}" for a in made)
    return ensure_message(
        clients.settings().planning_channel,
        f"*{slack_text(opportunity.name)}* ({slack_text(opportunity.account.name)}) is Closed "
        f"Lost. Released:\n{listed}",
        ArtifactKind.ENGAGEMENT_RELEASED,
        opportunity.id,
    )
