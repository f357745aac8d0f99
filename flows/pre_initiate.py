"""Pre-Initiate: from "Negotiating" to a cost estimate on the opportunity and an approved staffing plan.

Started by `ps.opportunity.negotiating` (the Salesforce watcher) or by hand. It reads the opportunity
(Salesforce), the skills matrix (Sheets) and current bookings (Mavenlink); it writes the engagement's
Drive folders and cost estimate, the estimate's link on the opportunity, a Technical Architect review
issue (GitLab) when the estimate is over $50k, the staffing proposal and decision (#ps_planning), and
the soft booking (Mavenlink). Then it emits `ps.phase.completed`.

Every write is looked up by its natural key first, so a retry redoes only what is missing, and a
re-run after the approval finds the recorded decision and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, cast

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run
from prefect.states import Completed, State
from pydantic import Field, create_model

from deployments.events import Phase
from engagement.artifacts import Artifact
from engagement.cost_estimate import prefill
from engagement.keys import ArtifactKind, drive_name
from engagement.lifecycle import NotReady, pre_initiate_problems
from engagement.models import CostEstimate, Opportunity
from engagement.slugs import slack_text
from engagement.staffing import Recommendation, StaffingNeed, recommend
from flows.guard import for_the_account, phase_run
from flows.reporting import announce_completed, publish_summary
from tasks import clients
from tasks.drive import ensure_copy, ensure_folder, ensure_shared, find_folder, find_keyed_file
from tasks.gitlab import ensure_issue
from tasks.mavenlink import PROSPECT, ensure_soft_booking, ensure_workspace, get_hard_bookings
from tasks.salesforce import ensure_opportunity_fields, get_opportunity
from tasks.sheets import ensure_prefilled, get_roster
from tasks.slack import SlackMessage, ensure_message, find_channel, find_message

PHASE = Phase.PRE_INITIATE
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


@flow(name="pre-initiate", flow_run_name="pre-initiate · {customer} · {opportunity_id}")
def pre_initiate(opportunity_id: str, customer: str = "") -> State[Any]:
    """The handbook's Pre-Initiate steps for one opportunity.

    Args:
        opportunity_id: the Salesforce Opportunity id (15 or 18 characters).
        customer: the account's name, for the run's name in the UI only.
    """
    with phase_run(PHASE, opportunity_id) as record_id:
        return run_pre_initiate(record_id)


def run_pre_initiate(opportunity_id: str) -> State[Any]:
    """Pre-Initiate for one opportunity, inside its run's slot."""
    settings = clients.settings()
    opportunity = get_opportunity(opportunity_id)
    allowed = (settings.negotiating_stage, *settings.later_stages)
    if problems := pre_initiate_problems(opportunity, allowed):
        raise NotReady(opportunity.id, "Pre-Initiate", problems)

    outcome = pre_initiate_steps(opportunity)
    if not outcome.decision.approve:
        publish_summary(
            PHASE, opportunity, outcome.made, waiting="a new staffing proposal (rejected)"
        )
        return Completed(message=f"Staffing rejected: {outcome.decision.comment}", name="Rejected")
    publish_summary(PHASE, opportunity, outcome.made, waiting="Closed Won (Initiate)")
    return Completed(message=f"Staffed: {', '.join(outcome.decision.pses)}")


@dataclass(frozen=True)
class PreInitiated:
    decision: StaffingDecision
    made: list[Artifact]


def pre_initiate_steps(opportunity: Opportunity) -> PreInitiated:
    """The steps themselves, also run by Initiate for an opportunity that reached Closed Won
    without going through Negotiating: the same tasks, the coordinator's approval included."""
    made = cost_estimate(opportunity)
    need = StaffingNeed.from_opportunity(opportunity)
    decision = recorded_decision(opportunity)
    moved = None
    if decision is None:  # not decided yet: propose, and wait for the coordinator
        proposal = propose_staffing(opportunity)
        made.append(post_proposal(opportunity, proposal))
        decision = ask_coordinator(opportunity, proposal)
        # a resumed run reads the opportunity anew: the dates may have moved while the form waited
        moved = window_moved(opportunity, need)
    if not decision.approve:
        made.append(post_rejection(opportunity, decision))
        return PreInitiated(decision, made)

    made.extend(book_staffing(opportunity, decision, need))
    made.append(post_decision(opportunity, decision, moved))
    announce_completed(PHASE, opportunity)
    return PreInitiated(decision, made)


# --- 1. the cost estimate --------------------------------------------------------------------------


def engagement_folders(opportunity: Opportunity) -> tuple[Artifact, Artifact]:
    """The customer's folder in the engagements folder, and the SOW's folder in it."""
    root = find_folder(clients.settings().engagements_folder)
    # Two engagements of one customer may run at once, and Drive allows two folders of one name
    with for_the_account(opportunity.account.id):
        customer = ensure_folder(
            ArtifactKind.CUSTOMER_FOLDER,
            opportunity.account.id,
            drive_name(opportunity.account.name),
            root,
        )
    sow = ensure_folder(
        ArtifactKind.SOW_FOLDER,
        opportunity.id,
        drive_name(opportunity.sow_number, opportunity.name),
        customer.id or "",
    )
    return customer, sow


def cost_estimate(opportunity: Opportunity) -> list[Artifact]:
    """Copy the cost estimate template into the engagement's folder, prefill it, share it with the
    engagement manager and link it on the opportunity; over $50k, open a TA review."""
    settings = clients.settings()
    # found first: a re-run needs the folders only to make a copy that is missing
    sheet = find_keyed_file(ArtifactKind.COST_ESTIMATE, opportunity.id)
    folders = [] if sheet is not None else list(engagement_folders(opportunity))
    sheet = sheet or ensure_copy(
        "cost-estimate",
        ArtifactKind.COST_ESTIMATE,
        opportunity.id,
        drive_name("Cost Estimate", opportunity.account.name, opportunity.sow_number),
        folders[1].id or "",
    )
    ensure_prefilled(sheet.id or "", prefill(opportunity))
    ensure_shared(sheet.id or "", [str(opportunity.engagement_manager_email)])
    made = [*folders, sheet]

    estimate = CostEstimate(
        opportunity_id=opportunity.id, revenue=opportunity.amount, currency=opportunity.currency
    )
    rates = {code: Decimal(str(rate)) for code, rate in settings.usd_rates.items()}
    needs_review = estimate.needs_ta_review(rates)
    if needs_review:
        made.append(
            ensure_issue(
                settings.planning_project,
                ArtifactKind.TA_REVIEW_ISSUE,
                opportunity.id,
                f"TA review: {opportunity.sow_number} {opportunity.account.name}",
                ta_review_description(opportunity, sheet),
            )
        )
    ensure_opportunity_fields(
        opportunity.id,
        {
            "Cost_Estimate_Link__c": sheet.url,
            "PS_TA_Review_Required__c": needs_review,
        },
    )
    return made


def ta_review_description(opportunity: Opportunity, sheet: Artifact) -> str:
    return (
        f"The estimate for **{opportunity.name}** ({opportunity.account.name}) is "
        f"{opportunity.amount:,.0f} {opportunity.currency}: over the $50k threshold, so a "
        "Technical Architect reviews it before the SOW goes out.\n\n"
        f"- Cost estimate: {sheet.url}\n- SOW: {opportunity.sow_link or 'not linked'}\n"
        f"- Salesforce opportunity: {opportunity.id}\n"
    )


# --- 2. staffing -----------------------------------------------------------------------------------


def propose_staffing(opportunity: Opportunity) -> Recommendation:
    """Rank the PSEs on skills, time zone, growth path, personality and availability."""
    need = StaffingNeed.from_opportunity(opportunity)
    roster = get_roster()
    bookings = get_hard_bookings([pse.email for pse in roster.pses], need.start, need.end)
    return recommend(need, roster.pses, bookings, roster.partners)


def post_proposal(opportunity: Opportunity, proposal: Recommendation) -> Artifact:
    """Post the proposal and its reasoning to #ps_planning, and show it in the UI."""
    create_table_artifact(
        key=f"staffing-{opportunity.id.lower()}",
        table=proposal.table_rows(),
        description=f"Staffing proposal for {opportunity.name} ({opportunity.account.name})",
    )
    need = proposal.need
    return ensure_message(
        clients.settings().planning_channel,
        proposal.summary(),
        ArtifactKind.STAFFING_PROPOSAL,
        opportunity.id,
        payload={"window": f"{need.start} to {need.end}"},
    )


def window_moved(opportunity: Opportunity, need: StaffingNeed) -> str | None:
    """What the staffing window was when it was proposed, when the opportunity's dates have moved
    since (the booking follows the opportunity: the coordinator is told); None when they have
    not."""
    channel = find_channel(clients.settings().planning_channel)
    proposed = find_message(channel, ArtifactKind.STAFFING_PROPOSAL, opportunity.id)
    window = proposed.payload.get("window") if proposed is not None else None
    if window is None or window == f"{need.start} to {need.end}":
        return None
    get_run_logger().warning(
        "The staffing window moved since the proposal (%s): booking %s to %s",
        window,
        need.start,
        need.end,
    )
    return window


class StaffingDecision(RunInput):
    """What the coordinator decides in the Prefect UI (the form's fields)."""

    approve: bool = Field(description="Approve the staffing (books a soft allocation) or reject it")
    pses: list[str] = Field(description="The PSEs to book (e-mails; default: the top-ranked)")
    approver: str = Field(
        description="Your e-mail, recorded as the approver", pattern=EMAIL_PATTERN
    )
    comment: str = Field(default="", description="Your reasoning, or why you reject it")


def recorded_decision(opportunity: Opportunity) -> StaffingDecision | None:
    """The coordinator's approval recorded in #ps_planning, or None. Once they decided nothing is
    proposed again (a rejection is recorded per run: the next run proposes anew)."""
    channel = find_channel(clients.settings().planning_channel)
    recorded = find_message(channel, ArtifactKind.STAFFING_DECISION, opportunity.id)
    return decision_from_message(recorded) if recorded is not None else None


def ask_coordinator(opportunity: Opportunity, proposal: Recommendation) -> StaffingDecision:
    """The coordinator's decision, waited for in the UI. The run suspends (its process exits)
    until someone resumes it with the form's input, so the wait survives a restart of the server
    or the worker."""
    candidates = [c.pse.email for c in proposal.candidates]
    if not candidates:
        raise NotReady(opportunity.id, "staffing", ["nobody on the roster is available"])
    picks = [pick.pse.email for pick in proposal.picks] or candidates[:1]
    form = _decision_form(tuple(candidates), picks)
    answer = suspend_flow_run(
        wait_for_input=form.with_initial_data(description=proposal.summary()),
        timeout=clients.settings().approval_timeout_hours * 3600,
        key="staffing-decision",
    )
    return StaffingDecision.model_validate(answer.model_dump(exclude={"metadata"}))


def _decision_form(candidates: tuple[str, ...], picks: list[str]) -> type[StaffingDecision]:
    """The decision's form: the ranked PSEs are the only choices and the top pick the default, so
    the server refuses an input naming anyone else (or nobody) and the run keeps waiting."""
    choices: Any = list.__class_getitem__(cast(Any, Literal)[candidates])
    form = create_model(
        "StaffingDecision",
        __base__=StaffingDecision,
        approve=(bool, Field(default=True, description="Approve (book them) or reject")),
        pses=(choices, Field(default=picks, min_length=1, description="The PSEs to book")),
    )
    return cast(type[StaffingDecision], form)


def decision_from_message(message: SlackMessage) -> StaffingDecision:
    payload = message.payload
    return StaffingDecision(
        approve=payload.get("decision") == "approved",
        pses=[p for p in payload.get("pses", "").split() if p],
        approver=payload.get("approver", ""),
        comment=payload.get("comment", ""),
    )


def book_staffing(
    opportunity: Opportunity, decision: StaffingDecision, need: StaffingNeed
) -> list[Artifact]:
    """A soft allocation (holds nobody, not in the forecast) over the engagement window on the
    Mavenlink project in status Prospect, created here without dates if absent."""
    workspace = ensure_workspace(opportunity, PROSPECT)
    bookings = [
        ensure_soft_booking(
            workspace.id or "", opportunity.id, email, need.start, need.end, need.hours_per_day
        )
        for email in decision.pses
    ]
    return [workspace, *bookings]


def post_decision(
    opportunity: Opportunity, decision: StaffingDecision, moved_from: str | None = None
) -> Artifact:
    need = StaffingNeed.from_opportunity(opportunity)
    text = (
        f"Staffing for *{slack_text(opportunity.name)}* ({slack_text(opportunity.account.name)}) "
        f"approved by {slack_text(decision.approver)}: {slack_text(', '.join(decision.pses))} "
        "(soft booking in Mavenlink)."
        + (
            f"\n:warning: The dates moved since the proposal: now {need.start} to {need.end} "
            f"(proposed for {slack_text(moved_from)}); the booking follows the opportunity, "
            "check the availability."
            if moved_from
            else ""
        )
        + (f"\n> {slack_text(decision.comment)}" if decision.comment else "")
    )
    payload = {
        "decision": "approved",
        "pses": " ".join(decision.pses),
        "approver": decision.approver,
        "comment": decision.comment[:1000],
    }
    return ensure_message(
        clients.settings().planning_channel,
        text,
        ArtifactKind.STAFFING_DECISION,
        opportunity.id,
        payload=payload,
    )


def post_rejection(opportunity: Opportunity, decision: StaffingDecision) -> Artifact:
    text = (
        f"Staffing proposal for *{slack_text(opportunity.name)}* "
        f"({slack_text(opportunity.account.name)}) rejected by {slack_text(decision.approver)}: "
        f"{slack_text(decision.comment) or 'no reason given'}"
    )
    # one rejection per run: a retry of this run does not post it twice, a new proposal may
    return ensure_message(
        clients.settings().planning_channel,
        text,
        ArtifactKind.STAFFING_DECISION,
        opportunity.id,
        part=f"rejected-{flow_run.get_id()}",
        payload={"decision": "rejected", "approver": decision.approver},
    )
