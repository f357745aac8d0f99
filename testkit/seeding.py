"""Engagements In Progress made in bulk for a benchmark: what Pre-Initiate, Initiate and Plan leave
that a weekly status report reads, written with psflow's own tasks (so each carries its natural
key as the phases' would), without running the phases: 500 engagements in minutes, not hours.

Each gets: the approved staffing and the confirmed team in #ps_planning, the PS Engagement In
Progress with its scoped hours and GitLab project (Salesforce), the customer's group and the
project (GitLab), the Mavenlink project Active with its hard and soft bookings, the Project
Definition in the customer's SOW folder (Drive), the weekly meeting series (Calendar), and its
PSE's hours of the first two weeks (Kantata)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from engagement.keys import Kind
from engagement.lifecycle import Team
from engagement.models import Engagement, EngagementStatus
from engagement.plan import TeamAllocation
from flows.guard import engagement_document
from flows.plan import bookings, meeting_series, post_allocation
from flows.pre_initiate import StaffingDecision, post_decision
from sandbox import seed
from sandbox.client import SandboxClient
from tasks.gitlab import ensure_customer_group, ensure_project
from tasks.mavenlink import ACTIVE, ensure_workspace, ensure_workspace_status
from tasks.salesforce import (
    ensure_engagement,
    ensure_engagement_status,
    find_engagement,
    get_opportunity,
)
from testkit.factories import opportunities
from testkit.phases import COORDINATOR, log_hours

WEEKS = 12
HOURS_A_DAY = Decimal(8)


def in_progress(sandbox: SandboxClient, count: int, start: date) -> list[str]:
    """`count` engagements of the seeded accounts in turn, each started on `start` (a Monday) for
    `WEEKS` weeks, their PSEs (the seeded ones in turn) with eight hours logged on each working
    day of the first two weeks; the sandbox's clock on the second Friday, 15:00 UTC."""
    made = opportunities(sandbox, count=count, amount=30_000, stage="Closed Won", imported=True)
    end = start + timedelta(weeks=WEEKS, days=-3)  # a Friday
    pses = [person.email for person in seed.PSES]
    sandbox.set_clock(datetime.combine(start + timedelta(days=11), time(15), UTC))
    for n, opportunity_id in enumerate(made):
        sandbox.edit(
            "salesforce",
            f"/sobjects/Opportunity/{opportunity_id}",
            PS_Expected_Start__c=start.isoformat(),
            PS_Expected_Completion__c=end.isoformat(),
        )
        engagement(opportunity_id, pses[n % len(pses)], start, end)
        log_hours(sandbox, opportunity_id, start, (0, 1, 2, 3, 4, 7, 8, 9, 10, 11))
    return made


def engagement(opportunity_id: str, pse: str, start: date, end: date) -> None:
    """One engagement as Plan leaves it, `pse` its Project Owner and only PSE."""
    opportunity = get_opportunity(opportunity_id)
    decision = StaffingDecision(approve=True, pses=[pse], approver=COORDINATOR)
    post_decision(opportunity, decision)
    allocation = TeamAllocation(start=start, end=end, hours_per_day={pse: HOURS_A_DAY})
    post_allocation(opportunity, allocation, COORDINATOR)
    group = ensure_customer_group(opportunity.account.id, opportunity.account.name)
    project = ensure_project(group.id, opportunity)
    workspace = ensure_workspace(opportunity, ACTIVE)
    ensure_workspace_status(workspace, ACTIVE)
    bookings(opportunity, workspace, allocation)
    ensure_engagement(
        Engagement(
            name=f"{opportunity.account.name} – {opportunity.name}"[:80],
            opportunity_id=opportunity.id,
            status=EngagementStatus.IN_PROGRESS,
            collaboration_project=project.url,
            scoped_hours=HOURS_A_DAY * 5 * WEEKS,
            expected_start=start,
            expected_completion=end,
        )
    )
    record = find_engagement(opportunity.id)
    assert record is not None
    ensure_engagement_status(record, EngagementStatus.IN_PROGRESS, start)  # the kickoff's day
    engagement_document(
        "project-definition", Kind.PROJECT_DEFINITION, "Project Definition", opportunity
    )
    team = Team(
        engagement_manager=str(opportunity.engagement_manager_email),
        coordinator=COORDINATOR,
        pses=(pse,),
        project_owner=pse,
    )
    first = datetime.combine(start + timedelta(days=7), time(10))
    meeting_series(opportunity, team, first, opportunity.account.time_zone, end)
