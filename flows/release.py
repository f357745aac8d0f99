"""Release: what a deal held, given back when it is lost or withdrawn.

Started by `ps.opportunity.closed-lost`, and by `ps.opportunity.withdrawn` (the opportunity went back
from Negotiating or a later stage to an earlier one). It reads the opportunity (Salesforce) and
finds the engagement's Mavenlink project. Withdrawn: psflow's soft bookings are deleted (the PSEs
are free again; the coordinator's approval stands, and Pre-Initiate books them anew if the deal comes
back). Closed Lost: the bookings too, and the Prospect project moves to Cancelled and the Technical
Architect's review issue is closed (GitLab). Either way #ps_planning is told, and a staffing form
still waiting is withdrawn (its run Cancelled, saying why). Each step finds its object first: a
re-run or a repeated event writes nothing.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.states import Completed, State

from core.events import Phase
from engagement.keys import Kind
from engagement.lifecycle import NotReady, release_problems
from engagement.models import Opportunity
from engagement.refs import Ref
from engagement.slugs import slack_text
from flows.guard import phase_run, withdraw_questions
from flows.pre_initiate import STAFFING_QUESTION
from flows.reporting import publish_summary
from tasks.clients import systems
from tasks.gitlab import ensure_issue_closed
from tasks.mavenlink import (
    CANCELLED,
    ensure_bookings_released,
    ensure_workspace_status,
    find_workspace,
)
from tasks.salesforce import get_opportunity
from tasks.slack import ensure_message

PHASE = Phase.RELEASE


@flow(name="release", flow_run_name="release · {customer} · {opportunity_id}")
def release(opportunity_id: str, customer: str = "") -> State[Any]:
    """The release of what a lost or withdrawn opportunity held.

    Args:
        opportunity_id: the Salesforce Opportunity id (15 or 18 characters).
        customer: the account's name, for the run's name in the UI only.
    """
    return phase_run(PHASE, opportunity_id, run_release)


def run_release(opportunity_id: str) -> State[Any]:
    settings = systems().settings
    opportunity = get_opportunity(opportunity_id)
    lost = opportunity.stage == settings.closed_lost_stage
    holding = {
        settings.negotiating_stage,
        settings.awaiting_signature_stage,
        *settings.later_stages,
    }
    if problems := release_problems(opportunity, settings.closed_lost_stage, holding):
        raise NotReady(opportunity.id, "a release", problems)
    # a form still asking for its staffing asks nobody any more (back in Negotiating, it asks anew)
    withdrawn = withdraw_questions(
        opportunity.id,
        STAFFING_QUESTION,
        f"Withdrawn by release: the opportunity is {opportunity.stage}",
    )
    made: list[Ref] = []
    workspace = find_workspace(opportunity.id)
    if workspace is not None:
        made.extend(ensure_bookings_released(workspace.id, opportunity.id))
        if lost:
            ensure_workspace_status(workspace, CANCELLED)
            made.append(workspace)
    if lost and (
        review := ensure_issue_closed(
            settings.planning_project, Kind.TA_REVIEW_ISSUE, opportunity.id
        )
    ):
        made.append(review)
    if made:
        made.append(announce_release(opportunity, made))
    publish_summary(
        PHASE,
        opportunity,
        made,
        waiting="nothing: the engagement is over" if lost else "Negotiating again (Pre-Initiate)",
    )
    released = sum(a.kind == "released soft booking" for a in made)
    forms = f"; the staffing form withdrawn ({', '.join(withdrawn)})" if withdrawn else ""
    if lost:
        return Completed(message=f"Released: {released} soft bookings; project Cancelled{forms}")
    return Completed(message=f"Released: {released} soft bookings ({opportunity.stage}){forms}")


def announce_release(opportunity: Opportunity, made: list[Ref]) -> Ref:
    listed = "\n".join(f"• {slack_text(a.kind)}: {slack_text(a.name)}" for a in made)
    return ensure_message(
        systems().settings.planning_channel,
        f"*{slack_text(opportunity.name)}* ({slack_text(opportunity.account.name)}) is now "
        f"{slack_text(opportunity.stage)}. Released:\n{listed}",
        Kind.ENGAGEMENT_RELEASED,
        opportunity.id,
        part=opportunity.stage,  # a withdrawal, then the loss: each told once
    )
