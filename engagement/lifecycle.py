"""Where an opportunity is in the lifecycle: stage transitions and what each phase needs first."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from engagement.models import Opportunity


class Transition(StrEnum):
    """A stage change that starts (or ends) part of the lifecycle."""

    NEGOTIATING = "negotiating"
    CLOSED_WON = "closed-won"
    CLOSED_LOST = "closed-lost"


class StageChange(BaseModel):
    """One row of Salesforce's stage history: an opportunity moved from one stage to another."""

    model_config = ConfigDict(frozen=True)

    id: str  # the history row's id: the natural key of the transition
    opportunity_id: str
    opportunity_name: str
    customer: str
    old_stage: str | None
    new_stage: str
    changed_at: datetime


def transition(
    change: StageChange, *, negotiating: str, closed_won: str, closed_lost: str
) -> Transition | None:
    """The lifecycle transition a stage change makes, if any (moving into the stage is what counts:
    an opportunity that skips Negotiating gets its missed Pre-Initiate steps at Initiate)."""
    if change.old_stage == change.new_stage:
        return None
    return {
        negotiating: Transition.NEGOTIATING,
        closed_won: Transition.CLOSED_WON,
        closed_lost: Transition.CLOSED_LOST,
    }.get(change.new_stage)


class NotReady(ValueError):
    """The opportunity is not ready for a phase; the message lists every reason, by field."""

    def __init__(self, opportunity_id: str, phase: str, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f"Opportunity {opportunity_id} is not ready for {phase}; fix in Salesforce:\n{listed}"
        )


def pre_initiate_problems(opportunity: Opportunity, allowed_stages: Collection[str]) -> list[str]:
    """What keeps an opportunity from Pre-Initiate, in Salesforce's field names; empty when ready.

    Pre-Initiate shares a cost estimate with the engagement manager, staffs the engagement window
    and lists the SOW's activities: each of those needs its field.
    """
    problems = []
    if opportunity.stage not in allowed_stages:
        problems.append(
            f"StageName is {opportunity.stage!r}; Pre-Initiate runs in stages "
            f"{', '.join(repr(s) for s in allowed_stages)}"
        )
    if opportunity.engagement_manager_email is None:
        problems.append("PS_Engagement_Manager__c: no engagement manager (with an e-mail) is set")
    if not opportunity.sow_number:
        problems.append("SOW_Number__c is empty")
    if opportunity.expected_start is None:
        problems.append("PS_Expected_Start__c is empty (the staffing window starts there)")
    if opportunity.expected_completion is None:
        problems.append("PS_Expected_Completion__c is empty (the staffing window ends there)")
    if not opportunity.line_items:
        problems.append("Opportunity Products: no SOW activity is sold (no line items)")
    return problems
