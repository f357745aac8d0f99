"""Before the SOW is signed: the handbook wants the cost estimate complete, and over $50k the
Technical Architect's review approved, before the customer signs.

Started by `ps.opportunity.awaiting-signature` (the opportunity reached "6-Awaiting Signature"). It
reads the opportunity (Salesforce), the cost estimate (Sheets) and the TA review issue's labels
(GitLab); when something is missing it tells the engagement manager in #ps_planning, once (the
message is keyed by the opportunity: a re-run or a repeated event posts nothing). It writes nothing
else, and never holds the deal up: Initiate's own gate stops at Closed Won if it is still missing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prefect import flow
from prefect.states import Completed, State

from core.events import Phase
from engagement.cost_estimate import activity_name
from engagement.keys import Kind
from engagement.lifecycle import NotReady, signature_problems, stage_problems
from engagement.models import CostEstimate, Opportunity
from engagement.refs import Ref
from engagement.slugs import slack_text
from flows.guard import phase_run
from flows.reporting import publish_summary
from tasks.clients import systems
from tasks.drive import find_keyed_file
from tasks.gitlab import find_issue_labels
from tasks.salesforce import get_opportunity
from tasks.sheets import get_cost_estimate
from tasks.slack import ensure_message, find_user_id

PHASE = Phase.AWAITING_SIGNATURE


@flow(name="awaiting-signature", flow_run_name="awaiting-signature · {customer} · {opportunity_id}")
def awaiting_signature(opportunity_id: str, customer: str = "") -> State[Any]:
    """The checks before the SOW is signed, for one opportunity.

    Args:
        opportunity_id: the Salesforce Opportunity id (15 or 18 characters).
        customer: the account's name, for the run's name in the UI only.
    """
    return phase_run(PHASE, opportunity_id, run_awaiting_signature)


def run_awaiting_signature(opportunity_id: str) -> State[Any]:
    settings = systems().settings
    opportunity = get_opportunity(opportunity_id)
    stages = [settings.awaiting_signature_stage]
    if problems := stage_problems(opportunity, stages, "the signature checks"):
        raise NotReady(opportunity.id, "the signature checks", problems)
    problems = what_is_missing(opportunity)
    made: list[Ref] = []
    if problems:
        made.append(tell_the_engagement_manager(opportunity, problems))
    publish_summary(
        PHASE,
        opportunity,
        made,
        waiting="the fixes listed in #ps_planning" if problems else "the signature (Closed Won)",
    )
    if problems:
        return Completed(message=f"Missing before signature: {'; '.join(problems)}")
    return Completed(message="Ready for signature: the estimate is complete")


def what_is_missing(opportunity: Opportunity) -> list[str]:
    settings = systems().settings
    sheet = find_keyed_file(Kind.COST_ESTIMATE, opportunity.id)
    if sheet is None:
        gaps = ["it does not exist (Pre-Initiate makes it at Negotiating)"]
    else:
        estimate = get_cost_estimate(sheet.id, opportunity.id)
        gaps = estimate.missing([activity_name(item) for item in opportunity.line_items])
    rates = {code: Decimal(str(rate)) for code, rate in settings.usd_rates.items()}
    revenue = CostEstimate(
        opportunity_id=opportunity.id, revenue=opportunity.amount, currency=opportunity.currency
    )
    needs_review = revenue.needs_ta_review(rates)
    labels = (
        find_issue_labels(settings.planning_project, Kind.TA_REVIEW_ISSUE, opportunity.id)
        if needs_review
        else ()
    )
    return signature_problems(gaps, needs_review, labels, settings.ta_approved_label)


def tell_the_engagement_manager(opportunity: Opportunity, problems: list[str]) -> Ref:
    """One message in #ps_planning mentioning the engagement manager, with what is missing."""
    manager = str(opportunity.engagement_manager_email)
    user = find_user_id(manager)
    who = f"<@{user}>" if user else slack_text(manager)
    listed = "\n".join(f"• {slack_text(problem)}" for problem in problems)
    return ensure_message(
        systems().settings.planning_channel,
        f"{who} *{slack_text(opportunity.name)}* ({slack_text(opportunity.account.name)}) is "
        f"awaiting signature, and before the SOW is signed:\n{listed}",
        Kind.SIGNATURE_CHECK,
        opportunity.id,
    )
