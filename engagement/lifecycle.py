"""Where an opportunity is in the lifecycle: stage transitions and what each phase needs first."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from engagement.models import Engagement, Opportunity
from engagement.workdays import business_days


class Transition(StrEnum):
    """A stage change that starts (or ends) part of the lifecycle."""

    NEGOTIATING = "negotiating"
    AWAITING_SIGNATURE = "awaiting-signature"
    CLOSED_WON = "closed-won"
    CLOSED_LOST = "closed-lost"
    WITHDRAWN = "withdrawn"  # back before Negotiating: what it held is released


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
    change: StageChange,
    *,
    negotiating: str,
    closed_won: str,
    closed_lost: str,
    awaiting_signature: str | None = None,
    later: Collection[str] = (),
) -> Transition | None:
    """The lifecycle transition a stage change makes, if any (moving into the stage is what counts:
    an opportunity that skips Negotiating gets its missed Pre-Initiate steps at Initiate). Given
    the stages `later` than Negotiating, a move from one of them (or Negotiating) back to an
    earlier stage withdraws it.

    Example:
        >>> move = StageChange(id="0Fh1", opportunity_id="006", opportunity_name="", customer="",
        ...                    old_stage="5-Negotiating", new_stage="4-Proposal",
        ...                    changed_at=datetime(2026, 12, 4))
        >>> transition(move, negotiating="5-Negotiating", closed_won="Closed Won",
        ...            closed_lost="8-Closed Lost", later=["6-Awaiting Signature", "Closed Won"])
        <Transition.WITHDRAWN: 'withdrawn'>
    """
    if change.old_stage == change.new_stage:
        return None
    stages = {
        negotiating: Transition.NEGOTIATING,
        closed_won: Transition.CLOSED_WON,
        closed_lost: Transition.CLOSED_LOST,
    }
    if awaiting_signature:
        stages[awaiting_signature] = Transition.AWAITING_SIGNATURE
    if change.new_stage in stages:
        return stages[change.new_stage]
    holding = {negotiating, *later, *filter(None, [awaiting_signature])}
    if later and change.old_stage in holding and change.new_stage not in holding:
        return Transition.WITHDRAWN
    return None


def signature_problems(
    estimate_gaps: Collection[str],
    needs_review: bool,
    review_labels: Collection[str] | None,
    approved_label: str,
) -> list[str]:
    """What must be done before the SOW is signed (the handbook: the cost estimate complete, and
    over $50k the Technical Architect's review approved); empty when nothing is.

    Example:
        >>> signature_problems([], True, ["PS::TA Review"], "TA::Approved")
        ['the Technical Architect has not approved the review (label TA::Approved)']
    """
    problems = [f"cost estimate: {gap}" for gap in estimate_gaps]
    if needs_review and review_labels is None:
        problems.append("the TA review issue does not exist (Pre-Initiate opens it over $50k)")
    elif needs_review and approved_label not in (review_labels or ()):
        problems.append(
            f"the Technical Architect has not approved the review (label {approved_label})"
        )
    return problems


def stage_problems(opportunity: Opportunity, stages: Collection[str], phase: str) -> list[str]:
    """The opportunity's stage where a phase does not run, in Salesforce's field name."""
    if opportunity.stage in stages:
        return []
    return [f"StageName is {opportunity.stage!r}; {phase} run at {', '.join(map(repr, stages))}"]


def release_problems(opportunity: Opportunity, lost: str, holding: Collection[str]) -> list[str]:
    """What keeps a release from running: a deal still on (lost, or moved back before
    Negotiating, it releases)."""
    if opportunity.stage != lost and opportunity.stage in holding:
        return [f"StageName is {opportunity.stage!r}: the deal is on, nothing is released"]
    return []


def initiated_problems(
    engagement: Engagement | None, workspace: object | None, definition: object | None
) -> list[str]:
    """What Initiate left undone that a later phase needs, each object named where it lives."""
    found = {
        "PS Engagement record (Salesforce)": engagement,
        "GitLab project link on the PS Engagement (Collaboration_Project__c)": engagement is None
        or engagement.collaboration_project,
        "Mavenlink project": workspace,
        "Project Definition (Drive)": definition,
    }
    return [f"Initiate has not completed: no {name}" for name, it in found.items() if not it]


def stage_at_creation(stage_now: str, moves: Iterable[StageChange]) -> str:
    """The stage an opportunity was created in: the one its first move left, or the one it is in
    now when it has not moved since (its moves since creation are all in `moves`)."""
    first = min(moves, key=lambda move: (move.changed_at, move.id), default=None)
    return first.old_stage if first is not None and first.old_stage else stage_now


class NotReady(ValueError):
    """The opportunity is not ready for a phase; the message lists every reason, by field."""

    def __init__(self, opportunity_id: str, phase: str, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n".join(f"  - {problem}" for problem in problems)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        # the first line alone says what to fix: UIs and `psflow status` show only that
        super().__init__(
            f"Opportunity {opportunity_id} is not ready for {phase}: {problems[0]}{more}. "
            f"Fix in Salesforce:\n{listed}"
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
    problems.extend(_window_problems(opportunity))
    if not opportunity.line_items:
        problems.append("Opportunity Products: no SOW activity is sold (no line items)")
    return problems


def initiate_problems(opportunity: Opportunity, closed_won: str) -> list[str]:
    """What keeps an opportunity from Initiate, in Salesforce's field names; empty when ready.

    Initiate e-mails the customer, books the team over the engagement window and builds one task
    per SOW activity: each needs its field.
    """
    problems = []
    if opportunity.stage != closed_won:
        problems.append(f"StageName is {opportunity.stage!r}; Initiate runs at {closed_won!r}")
    primary = opportunity.primary_contact
    if primary is None:
        problems.append(
            "OpportunityContactRole: no primary contact (the initiation e-mail goes to them)"
        )
    if opportunity.engagement_manager_email is None:
        problems.append("PS_Engagement_Manager__c: no engagement manager (with an e-mail) is set")
    if not opportunity.sow_number:
        problems.append("SOW_Number__c is empty")
    if opportunity.sow_link is None:
        problems.append("SOW_Link__c is empty (the PS Engagement record links the SOW)")
    if opportunity.expected_start is None or opportunity.expected_completion is None:
        problems.append("PS_Expected_Start__c / PS_Expected_Completion__c: the window is not set")
    problems.extend(_window_problems(opportunity))
    if not opportunity.line_items:
        problems.append("Opportunity Products: no SOW activity is sold (no line items)")
    return problems


def _window_problems(opportunity: Opportunity) -> list[str]:
    """The staffing window must hold a working day: staffing books PSEs on those days only, and
    finding out there (after the cost estimate is written) would stop the phase halfway."""
    start, end = opportunity.expected_start, opportunity.expected_completion
    if start is None or end is None or end < start:  # the model refuses the last case
        return []
    if business_days(start, min(end, start + timedelta(days=6))):
        return []
    return [
        f"PS_Expected_Start__c / PS_Expected_Completion__c: the window {start} to {end} has no "
        "working day (Monday to Friday)"
    ]


class Team(BaseModel):
    """Who works on the engagement once staffing is approved."""

    model_config = ConfigDict(frozen=True)

    engagement_manager: str
    coordinator: str
    pses: tuple[str, ...]
    # The handbook's Project Owner "can be a PM or a PSE": the coordinator names them in the
    # staffing form (the first PSE unless they do).
    project_owner: str
    account_executive: str | None = None

    @property
    def internal(self) -> tuple[str, ...]:
        """Everyone on the PS side, once each (the customer channel, the alignment meeting)."""
        people = (self.engagement_manager, self.coordinator, *self.pses, self.project_owner)
        return tuple(dict.fromkeys(p for p in people if p))

    @property
    def sales(self) -> tuple[str, ...]:
        """The sales side of the hand-off: the account executive."""
        return (self.account_executive,) if self.account_executive else ()
