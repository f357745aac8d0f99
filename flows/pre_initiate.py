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

import itertools
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, cast

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.input import RunInput
from prefect.runtime import flow_run
from prefect.states import Completed, State
from pydantic import Field, create_model

from core.events import Phase
from engagement.cost_estimate import prefill
from engagement.keys import Kind
from engagement.lifecycle import NotReady, pre_initiate_problems
from engagement.models import CostEstimate, FormDate, Opportunity
from engagement.people import Staff
from engagement.refs import Ref
from engagement.slugs import slack_text
from engagement.staffing import Recommendation, StaffingDecision, StaffingNeed, recommend
from flows.forms import ask
from flows.guard import engagement_document, not_asked_elsewhere, phase_run, tag_run
from flows.reporting import announce_completed, announce_won_once_staffed, publish_summary
from tasks.clients import systems
from tasks.drive import ensure_shared
from tasks.gitlab import ensure_issue
from tasks.mavenlink import (
    PROSPECT,
    ensure_soft_booking,
    ensure_workspace,
    find_hard_bookings,
    get_hard_bookings,
)
from tasks.salesforce import (
    ensure_cost_estimate_linked,
    find_engagement,
    get_opportunity,
    get_users,
)
from tasks.sheets import ensure_prefilled, get_roster
from tasks.slack import ensure_message, find_channel, find_message

PHASE = Phase.PRE_INITIATE
STAFFING_QUESTION = "question:staffing"  # the tag of a run that asks for the approval


@flow(name="pre-initiate", flow_run_name="pre-initiate · {customer} · {opportunity_id}")
def pre_initiate(opportunity_id: str, customer: str = "") -> State[Any]:
    """The handbook's Pre-Initiate steps for one opportunity.

    Args:
        opportunity_id: the Salesforce Opportunity id (15 or 18 characters).
        customer: the account's name, for the run's name in the UI only.
    """
    return phase_run(PHASE, opportunity_id, run_pre_initiate)


def run_pre_initiate(opportunity_id: str) -> State[Any]:
    """Pre-Initiate for one opportunity, inside its run's slot."""
    settings = systems().settings
    opportunity = get_opportunity(opportunity_id)
    allowed = (settings.negotiating_stage, *settings.later_stages)
    if problems := pre_initiate_problems(opportunity, allowed):
        raise NotReady(opportunity.id, "Pre-Initiate", problems)

    outcome = pre_initiate_steps(opportunity)
    publish_summary(PHASE, opportunity, outcome.made, waiting="Closed Won (Initiate)")
    won = opportunity.stage == settings.closed_won_stage
    if outcome.asked and won and find_engagement(opportunity.id) is None:
        # won while this run asked for the approval: the Initiate that found the question here
        # ended; it starts now. A decision recorded before needs no second start: Initiate read it
        announce_won_once_staffed(opportunity)
    decision = outcome.decision
    return Completed(message=f"Staffed: {', '.join(decision.booked)}; owner {decision.owner}")


@dataclass(frozen=True)
class PreInitiated:
    decision: StaffingDecision
    made: list[Ref]
    asked: bool  # the coordinator was asked in this run (the form), not found recorded


def pre_initiate_steps(opportunity: Opportunity) -> PreInitiated:
    """The steps themselves, also run by Initiate for an opportunity that reached Closed Won
    without going through Negotiating: the same tasks, the coordinator's approval included."""
    made = cost_estimate(opportunity)
    need = StaffingNeed.from_opportunity(opportunity)
    decision = recorded_decision(opportunity)
    asked, moved = decision is None, None
    if decision is None:  # not decided yet: propose, and wait for the coordinator
        decision = decide_staffing(opportunity, need, made)
        # a resumed run reads the opportunity anew: the dates may have moved while the form waited
        decision, moved = follow_moved_dates(opportunity, decision, need)
    made.extend(book_staffing(opportunity, decision, need))
    made.append(post_decision(opportunity, decision, moved))
    announce_completed(PHASE, opportunity)
    return PreInitiated(decision, made, asked)


# --- 1. the cost estimate --------------------------------------------------------------------------


def cost_estimate(opportunity: Opportunity) -> list[Ref]:
    """Copy the cost estimate template into the engagement's folder, prefill it, share it with the
    engagement manager and link it on the opportunity; over $50k, open a TA review."""
    settings = systems().settings
    sheet = engagement_document("cost-estimate", Kind.COST_ESTIMATE, "Cost Estimate", opportunity)
    ensure_prefilled(sheet.id, prefill(opportunity))
    ensure_shared(sheet.id, [str(opportunity.engagement_manager_email)])
    made = [sheet]

    estimate = CostEstimate(
        opportunity_id=opportunity.id, revenue=opportunity.amount, currency=opportunity.currency
    )
    rates = {code: Decimal(str(rate)) for code, rate in settings.usd_rates.items()}
    needs_review = estimate.needs_ta_review(rates)
    if needs_review:
        made.append(
            ensure_issue(
                settings.planning_project,
                Kind.TA_REVIEW_ISSUE,
                opportunity.id,
                f"TA review: {opportunity.sow_number} {opportunity.account.name}",
                ta_review_description(opportunity, sheet),
            )
        )
    ensure_cost_estimate_linked(opportunity.id, sheet, needs_review)
    return made


def ta_review_description(opportunity: Opportunity, sheet: Ref) -> str:
    return (
        f"The estimate for **{opportunity.name}** ({opportunity.account.name}) is "
        f"{opportunity.amount:,.0f} {opportunity.currency}: over the $50k threshold, so a "
        "Technical Architect reviews it before the SOW goes out.\n\n"
        f"- Cost estimate: {sheet.url}\n- SOW: {opportunity.sow_link or 'not linked'}\n"
        f"- Salesforce opportunity: {opportunity.id}\n"
    )


# --- 2. staffing -----------------------------------------------------------------------------------


def propose_staffing(opportunity: Opportunity, excluded: Collection[str] = ()) -> Recommendation:
    """Rank the PSEs on skills, time zone, growth path, personality and availability (those the
    coordinator rejected in this run left out)."""
    need = StaffingNeed.from_opportunity(opportunity)
    roster = get_roster()
    pses = [pse for pse in roster.pses if pse.email not in excluded]
    partners = [partner for partner in roster.partners if partner.email not in excluded]
    bookings = get_hard_bookings([pse.email for pse in pses], need.start, need.end)
    return recommend(need, pses, bookings, partners)


def decide_staffing(
    opportunity: Opportunity, need: StaffingNeed, made: list[Ref]
) -> StaffingDecision:
    """Propose, and ask the coordinator; a rejection is posted and the next proposal leaves the
    rejected people out, until the coordinator approves one (or nobody is left)."""
    settings = systems().settings
    staff = Staff.of(
        get_users(
            titles=[
                settings.coordinator_title,
                *settings.architect_titles,
                settings.project_manager_title,
            ]
        ),
        coordinator_title=settings.coordinator_title,
        architect_titles=settings.architect_titles,
        project_manager_title=settings.project_manager_title,
        coordinator_email=settings.coordinator_email,
    )
    if not staff.coordinators:
        raise NotReady(
            opportunity.id,
            "staffing",
            [
                "nobody may approve it: no active Salesforce user titled "
                f"{settings.coordinator_title!r} (PsflowSettings.coordinator_title) or named in "
                "PsflowSettings.coordinator_email"
            ],
        )
    rejected: list[str] = []
    for attempt in itertools.count(1):
        proposal = propose_staffing(opportunity, rejected)
        made.append(post_proposal(opportunity, proposal, attempt))
        decision = ask_coordinator(opportunity, proposal, staff, attempt)
        if decision.approve:
            return decision
        made.append(post_rejection(opportunity, decision, attempt))
        rejected.extend(decision.booked)
    raise AssertionError("unreachable")  # itertools.count never ends


def _attempt_part(attempt: int, prefix: str = "") -> str | None:
    """The key part of a later proposal or decision of this run (the first has none)."""
    if attempt == 1 and not prefix:
        return None
    return f"{prefix}{flow_run.get_id()}-{attempt}"


def post_proposal(opportunity: Opportunity, proposal: Recommendation, attempt: int = 1) -> Ref:
    """Post the proposal and its reasoning to #ps_planning, and show it in the UI."""
    create_table_artifact(
        key=f"staffing-{opportunity.id.lower()}",
        table=proposal.table_rows(),
        description=f"Staffing proposal for {opportunity.name} ({opportunity.account.name})",
    )
    need = proposal.need
    return ensure_message(
        systems().settings.planning_channel,
        proposal.summary(),
        Kind.STAFFING_PROPOSAL,
        opportunity.id,
        part=_attempt_part(attempt),
        payload={"window": f"{need.start} to {need.end}"},
    )


def follow_moved_dates(
    opportunity: Opportunity, decision: StaffingDecision, need: StaffingNeed
) -> tuple[StaffingDecision, str | None]:
    """The decision to book, and the window it was proposed for when the opportunity's dates moved
    since (None when they did not). A window the coordinator left as proposed follows the
    opportunity; one they changed is theirs."""
    channel = find_channel(systems().settings.planning_channel)
    proposed = find_message(channel, Kind.STAFFING_PROPOSAL, opportunity.id)
    window = proposed.payload.get("window") if proposed is not None else None
    now = f"{need.start} to {need.end}"
    if window is None or window == now:
        return decision, None
    if decision.start and decision.end and f"{decision.start} to {decision.end}" != window:
        return decision, None  # the coordinator chose these dates themselves
    get_run_logger().warning(
        "The staffing window moved since the proposal (%s): booking %s", window, now
    )
    return decision.model_copy(update={"start": need.start, "end": need.end}), window


class StaffingForm(RunInput):
    """What the coordinator decides in the Prefect UI (the form's fields)."""

    approve: bool = Field(default=True, description="Approve (book them) or reject the proposal")
    pses: list[str] = Field(description="Who to book: the proposed PSE, another, or the partner")
    project_owner: str | None = Field(
        default=None, description="The Project Owner: one of them, or a Project Manager"
    )
    chosen_by: str | None = Field(
        default=None, description="Who chose the PSE (the Sr. PSE or Technical Architect)"
    )
    start: FormDate = Field(description="First day booked")
    end: FormDate = Field(description="Last day booked")
    hours_per_day: float = Field(gt=0, le=24, description="Hours a day each person is booked")
    approver: str = Field(description="You, the PS Project Coordinator, recorded as the approver")
    comment: str = Field(default="", description="Your reasoning, or why you reject it")


def ask_coordinator(
    opportunity: Opportunity, proposal: Recommendation, staff: Staff, attempt: int = 1
) -> StaffingDecision:
    """The coordinator's decision, waited for in the UI. The run suspends (its process exits)
    until someone resumes it with the form's input, so the wait survives a restart of the server
    or the worker. An answer the form cannot refuse by itself (a window with no working day) is
    asked again, saying why."""
    form = _decision_form(opportunity, proposal, staff)
    description = proposal.summary()
    key = "staffing-decision" if attempt == 1 else f"staffing-decision-{attempt}"
    # one question whichever phase asks it: an opportunity won while Pre-Initiate asks
    tag_run(opportunity.id, STAFFING_QUESTION)
    not_asked_elsewhere(opportunity.id, STAFFING_QUESTION, any_flow=True)
    for again in itertools.count():
        answer = ask(
            form.with_initial_data(description=description),
            key=key if again == 0 else f"{key}-again-{again}",
            hours=systems().settings.approval_timeout_hours,
        )
        fields = answer.model_dump(mode="json", exclude={"metadata"})
        try:
            StaffingNeed.from_opportunity(
                opportunity,
                start=fields["start"],
                end=fields["end"],
                hours_per_day=fields["hours_per_day"],
            )
        except ValueError as error:
            refused = f"*Your answer was refused:* {slack_text(str(error))}. Please answer again."
            description = f"{refused}\n\n{proposal.summary()}"
            continue
        partner = proposal.partner.partner.email if proposal.partner else None
        chosen = fields.pop("pses")
        pses = [email for email in chosen if email != partner]
        staffed = partner if partner in chosen else None
        return StaffingDecision.model_validate({**fields, "pses": pses, "partner": staffed})
    raise AssertionError("unreachable")  # itertools.count never ends


def _decision_form(
    opportunity: Opportunity, proposal: Recommendation, staff: Staff
) -> type[StaffingForm]:
    """The decision's form: the ranked PSEs (and the partner) are the only choices of who to book,
    the coordinators found in Salesforce the only approvers, so the server refuses an answer
    naming anyone else and the run keeps waiting."""
    candidates = [candidate.pse.email for candidate in proposal.candidates]
    partner = [proposal.partner.partner.email] if proposal.partner else []
    if not candidates and not partner:
        raise NotReady(opportunity.id, "staffing", ["nobody on the roster is available"])
    picks = [pick.pse.email for pick in proposal.picks] or partner or candidates[:1]
    owners = [*candidates, *(pm.email for pm in staff.project_managers)]
    need = proposal.need

    def field(name: str, **kwargs: Any) -> Any:
        return Field(description=StaffingForm.model_fields[name].description, **kwargs)

    booked = _choices(candidates + partner)
    owning = _choices(owners)
    choosing = _choices([a.email for a in staff.architects])
    approving = _choices([c.email for c in staff.coordinators])
    owner = picks[0] if picks[0] in candidates else None
    form = create_model(
        StaffingForm.__name__,  # the choices narrowed to this proposal's people
        __base__=StaffingForm,
        pses=(
            list[booked],  # type: ignore[valid-type]  # an Enum made at run time
            field("pses", default=[booked(p) for p in picks], min_length=1),
        ),
        project_owner=(
            (owning | None) if owning else None,
            field("project_owner", default=owning(owner) if owner else None),
        ),
        chosen_by=((choosing | None) if choosing else None, field("chosen_by", default=None)),
        start=(FormDate, field("start", default=need.start)),
        end=(FormDate, field("end", default=need.end)),
        hours_per_day=(
            float,
            field("hours_per_day", default=float(need.hours_per_day), gt=0, le=24),
        ),
        approver=(approving, field("approver")),
    )
    return cast(type[StaffingForm], form)


def _choices(values: list[str]) -> Any:
    """The values as a field's choices: an enum, not a Literal (the UI shows a Literal of one value
    as a constant it cannot fill in, an enum as a choice); None when there are none."""
    unique = list(dict.fromkeys(values))
    if not unique:
        return None
    members = [(f"choice_{n}", value) for n, value in enumerate(unique)]
    return Enum("Choice", members, type=str)


def recorded_decision(opportunity: Opportunity) -> StaffingDecision | None:
    """The coordinator's approval recorded in #ps_planning, or None. Once they decided nothing is
    proposed again (a rejection is recorded per run: the next run proposes anew)."""
    channel = find_channel(systems().settings.planning_channel)
    recorded = find_message(channel, Kind.STAFFING_DECISION, opportunity.id)
    return StaffingDecision.from_payload(recorded.payload) if recorded is not None else None


def book_staffing(
    opportunity: Opportunity, decision: StaffingDecision, need: StaffingNeed
) -> list[Ref]:
    """A soft allocation (holds nobody, not in the forecast) of each PSE over the decided window on
    the Mavenlink project in status Prospect, created here without dates if absent. A partner is
    booked through its contract, not in Kantata. A PSE Plan has booked hard is left to Plan (a
    re-run of Pre-Initiate after it books nothing soft again)."""
    workspace = ensure_workspace(opportunity, PROSPECT)
    start, end, hours = decision.booking(need)
    hard = (
        {} if workspace.created else find_hard_bookings(workspace.id, opportunity.id, decision.pses)
    )
    bookings = [
        ensure_soft_booking(workspace.id, opportunity.id, email, start, end, hours)
        for email in decision.pses
        if email not in hard
    ]
    return [workspace, *bookings]


def post_decision(
    opportunity: Opportunity, decision: StaffingDecision, moved_from: str | None = None
) -> Ref:
    start, end = decision.start, decision.end
    window = f" from {start} to {end}" if start and end else ""
    text = (
        f"Staffing for *{slack_text(opportunity.name)}* ({slack_text(opportunity.account.name)}) "
        f"approved by {slack_text(decision.approver)}: {slack_text(', '.join(decision.booked))}"
        f"{window} (soft booking in Mavenlink); Project Owner {slack_text(decision.owner)}"
        + (f", chosen by {slack_text(decision.chosen_by)}" if decision.chosen_by else "")
        + "."
        + (
            f"\n:warning: The dates moved since the proposal: now {start} to {end} "
            f"(proposed for {slack_text(moved_from)}); the booking follows the opportunity, "
            "check the availability."
            if moved_from
            else ""
        )
        + (f"\n> {slack_text(decision.comment)}" if decision.comment else "")
    )
    return ensure_message(
        systems().settings.planning_channel,
        text,
        Kind.STAFFING_DECISION,
        opportunity.id,
        payload=decision.payload(),
    )


def post_rejection(opportunity: Opportunity, decision: StaffingDecision, attempt: int = 1) -> Ref:
    text = (
        f"Staffing proposal for *{slack_text(opportunity.name)}* "
        f"({slack_text(opportunity.account.name)}) rejected by {slack_text(decision.approver)}: "
        f"{slack_text(decision.comment) or 'no reason given'}. A new proposal follows, without "
        f"{slack_text(', '.join(decision.booked)) or 'them'}."
    )
    # one rejection per proposal of a run: a retry of this run does not post it twice
    return ensure_message(
        systems().settings.planning_channel,
        text,
        Kind.STAFFING_DECISION,
        opportunity.id,
        part=_attempt_part(attempt, "rejected-"),
        payload=decision.payload(),
    )
