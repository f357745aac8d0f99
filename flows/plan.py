"""Plan: from an initiated engagement to a kicked-off, hard-staffed, scheduled one.

Started by Initiate's `ps.phase.completed` for the opportunity. It reads the opportunity
(Salesforce), what Initiate made (the PS Engagement record, the Mavenlink project, the Project
Definition), the approved staffing (#ps_planning) and the cost estimate (Sheets), and stops before
any write when Initiate has not completed, saying what is missing. Then, as the handbook's Plan:

1. the PS Project Coordinator confirms the team in the UI's form (each PSE's hours a day, the start);
   the soft booking becomes hard two months ahead, the rest stays soft (Mavenlink);
2. the project plan: the project's dates, one milestone per SOW activity spread by its estimated
   hours (Mavenlink), the same dates on the activity issues (GitLab) and the Plan tab (Drive);
3. the kickoff deck, copied from its template, filled and shared (Drive, Slides);
4. the kickoff meeting with the customer's contacts and the team (Calendar);
5. the Project Owner confirms in the UI's form that the kickoff was held: the minutes and actions go
   into the Project Definition, a weekly project meeting when there is one (Calendar), the PS
   Engagement goes In Progress with its Actual Start (Salesforce), the project Active (Mavenlink),
   the hand-off issue closed when complete (GitLab);
6. `ps.phase.completed`.

Every object is found by its natural key first, and each answer a person gives is recorded in Slack
(the team in #ps_planning, the kickoff in the customer's channel), where people see it and a re-run
reads it back: a re-run asks nobody again and writes nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from prefect import flow
from prefect.input import RunInput
from prefect.states import Completed, State
from pydantic import Field, create_model

from core.events import Phase
from engagement.keys import Kind, slack_customer_channel
from engagement.lifecycle import NotReady, Team, initiated_problems
from engagement.models import Engagement, EngagementStatus, FormDate, Opportunity
from engagement.people import User
from engagement.plan import (
    KickoffHeld,
    Milestone,
    TeamAllocation,
    activities_to_plan,
    kickoff_deck_values,
    milestones,
    plan_problems,
    split_booking,
    weekly_rule,
)
from engagement.project_definition import ACTIONS, MEETING_NOTES, PLAN, plan_rows
from engagement.refs import Ref
from engagement.slugs import slack_text
from engagement.staffing import StaffingDecision
from engagement.workdays import business_days, meeting_slot
from flows.forms import ask, with_defaults
from flows.guard import (
    engagement_document,
    not_asked_elsewhere,
    phase_run,
)
from flows.initiate import cost_estimate_gate, meeting, team_of
from flows.reporting import announce_completed, publish_summary
from tasks.calendar import ensure_event
from tasks.clients import systems
from tasks.drive import ensure_shared, find_keyed_file
from tasks.gitlab import (
    ensure_issue_closed,
    ensure_issue_due_dates,
    project_path,
)
from tasks.mavenlink import (
    ACTIVE,
    Workspace,
    ensure_bookings_released,
    ensure_hard_booking,
    ensure_milestones,
    ensure_soft_booking,
    ensure_workspace_dates,
    ensure_workspace_status,
    find_workspace,
)
from tasks.salesforce import (
    ensure_engagement_status,
    find_engagement,
    get_opportunity,
    get_users,
)
from tasks.sheets import ensure_rows, get_tables
from tasks.slack import SlackMessage, ensure_message, find_channel, find_message, find_messages
from tasks.slides import ensure_deck_filled

PHASE = Phase.PLAN
KICKOFF_LENGTH = timedelta(hours=1)
WEEKLY_LENGTH = timedelta(minutes=30)


@flow(name="plan", flow_run_name="plan · {customer} · {opportunity_id}")
def plan(opportunity_id: str, customer: str = "") -> State[Any]:
    """The handbook's Plan steps for one opportunity.

    Args:
        opportunity_id: the Salesforce Opportunity id (15 or 18 characters).
        customer: the account's name, for the run's name in the UI only.
    """
    return phase_run(PHASE, opportunity_id, run_plan)


def run_plan(opportunity_id: str) -> State[Any]:
    """Plan for one opportunity, inside its run's slot."""
    settings = systems().settings
    opportunity = get_opportunity(opportunity_id)
    if problems := plan_problems(opportunity, settings.closed_won_stage):
        raise NotReady(opportunity.id, "Plan", problems)
    initiated = initiated_objects(opportunity)
    workspace, definition, project = initiated.workspace, initiated.definition, initiated.project
    # the approved staffing and (a re-run) the team confirmed: in #ps_planning, one read
    planning = find_channel(settings.planning_channel)
    kinds = (Kind.STAFFING_DECISION, Kind.TEAM_ALLOCATION)
    recorded = find_messages(planning, kinds, opportunity.id)
    decided = recorded.get(Kind.STAFFING_DECISION)
    decision = StaffingDecision.from_payload(decided.payload) if decided else None
    if decision is None or not decision.approve:
        raise NotReady(opportunity.id, "Plan", ["#ps_planning holds no approved staffing"])
    estimate = cost_estimate_gate(opportunity)
    team = team_of(opportunity, decision)
    people = {user.email: user for user in get_users([*team.internal])}
    if gone := [email for email in decision.pses if email not in people]:  # before any write
        raise NotReady(
            opportunity.id,
            "Plan",
            [f"{email}: no active Salesforce user (has the PSE left?)" for email in gone],
        )

    confirmed = confirmed_allocation(opportunity, decision, recorded.get(Kind.TEAM_ALLOCATION))
    # until the engagement's end: the SOW's, or an approved change request's since
    allocation = confirmed.until(initiated.engagement.expected_completion)
    made: list[Ref] = [workspace, definition]
    made.extend(bookings(opportunity, workspace, allocation))
    tab = get_tables(definition.id, [PLAN])[PLAN]
    schedule = milestones(
        activities_to_plan(tab, opportunity.line_items, estimate),
        allocation.start,
        allocation.end,
        opportunity.account.country,
    )
    made.extend(project_plan(opportunity, workspace, project, definition, schedule, allocation))
    deck = kickoff_deck(opportunity, team, people, allocation, schedule)
    made.append(deck)
    kickoff, kickoff_day = kickoff_meeting(opportunity, team, people, deck, allocation.start)
    made.append(kickoff)

    held = kickoff_record(opportunity, team, kickoff_day)
    made.extend(kickoff_held(opportunity, team, people, definition, project, held, allocation))
    waiting = "the weekly status report (Execute)"
    if not held.handoff_complete:
        waiting = f"the hand-off issue ({team.project_owner}) and {waiting}"
    # the engagement has started: In Progress since the kickoff, the project Active
    ensure_engagement_status(initiated.engagement, EngagementStatus.IN_PROGRESS, held.held_on)
    ensure_workspace_status(workspace, ACTIVE)

    publish_summary(PHASE, opportunity, made, waiting=waiting)
    announce_completed(PHASE, opportunity)
    created = sum(a.created for a in made)
    return Completed(message=f"{created} created, {len(made) - created} already existed")


# --- what Plan needs first -------------------------------------------------------------------------


@dataclass(frozen=True)
class Initiated:
    """What Initiate made and Plan builds on."""

    engagement: Engagement
    workspace: Workspace  # the Mavenlink project
    definition: Ref  # the Project Definition
    project: str  # the GitLab project's full path, from the engagement's link to it


def initiated_objects(opportunity: Opportunity, phase: str = "Plan") -> Initiated:
    """What Initiate made; NotReady for `phase` naming each missing one (nothing is written: a
    Plan started before Initiate completed waits for it). The GitLab project is the one the PS
    Engagement links (its path holds the opportunity's name then, which may have changed since)."""
    engagement = find_engagement(opportunity.id)
    workspace = find_workspace(opportunity.id)
    definition = find_keyed_file(Kind.PROJECT_DEFINITION, opportunity.id)
    if problems := initiated_problems(engagement, workspace, definition):
        raise NotReady(opportunity.id, phase, problems)
    # the problems name each missing one: narrowed for the type checker
    assert engagement is not None
    assert workspace is not None
    assert definition is not None
    return Initiated(
        engagement, workspace, definition, project_path(str(engagement.collaboration_project))
    )


# --- 1. hard allocation ----------------------------------------------------------------------------


class AllocationForm(RunInput):
    """What the PS Project Coordinator confirms in the Prefect UI before the team is booked hard."""

    start: FormDate = Field(description="The engagement's first day")
    hours_per_day: dict[str, float] = Field(description="Hours a day each PSE works on it")


def confirmed_allocation(
    opportunity: Opportunity, decision: StaffingDecision, recorded: SlackMessage | None
) -> TeamAllocation:
    """The team's hard allocation as the coordinator confirmed it: `recorded` in #ps_planning (a
    re-run, or a confirmation given outside the form), or asked in the UI's form (the approved
    staffing's hours, the SOW's start, by default) and then recorded. The end is the SOW's
    completion: moving it is a change request."""
    if recorded is not None:
        return TeamAllocation.from_payload(recorded.payload)
    not_asked_elsewhere(opportunity.id)
    end = opportunity.expected_completion
    assert end is not None  # plan_problems
    pses = decision.pses
    hours = decision.hours_per_day or Decimal(8)
    start = decision.start or opportunity.expected_start or end
    people = enum.Enum("Pse", {email: email for email in pses}, type=str)  # type: ignore[misc]
    form = create_model(
        AllocationForm.__name__,
        __base__=AllocationForm,
        start=(FormDate, Field(default=start, description="The engagement's first day")),
        hours_per_day=(
            dict[people, Annotated[float, Field(gt=0, le=24)]],
            Field(
                default={email: float(hours) for email in pses},
                description="Hours a day each PSE works on it (the approved staffing's, first)",
            ),
        ),
    )
    answer = ask(
        form.with_initial_data(
            description=(
                f"Confirm the team of {opportunity.name} ({opportunity.account.name}) before it "
                f"is booked hard until two months ahead; the engagement ends {end}."
            )
        ),
        key="plan-allocation",
        hours=systems().settings.approval_timeout_hours,
    )
    fields = answer.model_dump(mode="json", exclude={"metadata"})
    start = date.fromisoformat(fields["start"])
    allocation = TeamAllocation(
        start=start,
        end=max(end, start),
        hours_per_day={email: Decimal(str(h)) for email, h in fields["hours_per_day"].items()},
    )
    post_allocation(opportunity, allocation, decision.approver)
    return allocation


def post_allocation(opportunity: Opportunity, allocation: TeamAllocation, by: str) -> Ref:
    """The confirmation in #ps_planning: what the planners see, and what a re-run reads back."""
    team = ", ".join(
        f"{email} {h.normalize():f} h/day" for email, h in allocation.hours_per_day.items()
    )
    text = (
        f"Team of *{slack_text(opportunity.name)}* ({slack_text(opportunity.account.name)}) "
        f"confirmed by {slack_text(by)}: {slack_text(team)}, from {allocation.start} to "
        f"{allocation.end} (hard booking two months ahead in Mavenlink)."
    )
    return ensure_message(
        systems().settings.planning_channel,
        text,
        Kind.TEAM_ALLOCATION,
        opportunity.id,
        payload=allocation.payload(),
    )


def bookings(opportunity: Opportunity, workspace: Ref, allocation: TeamAllocation) -> list[Ref]:
    """Each PSE booked hard from the start to two months ahead; what lies beyond stays soft (the
    same soft booking, moved), or is released when nothing does."""
    today = systems().clock().today(opportunity.account.time_zone)
    hard, soft = split_booking(allocation.start, allocation.end, today)
    hard = hard if hard and business_days(*hard) else None
    soft = soft if soft and business_days(*soft) else None
    made = []
    for email, hours in allocation.hours_per_day.items():
        if hard:
            made.append(ensure_hard_booking(workspace.id, opportunity.id, email, *hard, hours))
        if soft:
            made.append(ensure_soft_booking(workspace.id, opportunity.id, email, *soft, hours))
    if soft is None:
        made.extend(ensure_bookings_released(workspace.id, opportunity.id))
    return made


# --- 2. the project plan ---------------------------------------------------------------------------


def project_plan(
    opportunity: Opportunity,
    workspace: Workspace,
    project: str,
    definition: Ref,
    schedule: tuple[Milestone, ...],
    allocation: TeamAllocation,
) -> list[Ref]:
    """The project's dates and one milestone per SOW activity (Mavenlink), the same due dates on
    the activity issues (GitLab) and the plan in the Project Definition's Plan tab."""
    ensure_workspace_dates(workspace, allocation.start, allocation.end)
    made = ensure_milestones(workspace.id, opportunity.id, schedule)
    due = {m.code: m.due for m in schedule}
    made.extend(ensure_issue_due_dates(project, Kind.ACTIVITY_ISSUE, opportunity.id, due))
    ensure_rows(definition.id, {PLAN: plan_rows(schedule)})
    return made


# --- 3. and 4. the kickoff -------------------------------------------------------------------------


def kickoff_deck(
    opportunity: Opportunity,
    team: Team,
    people: Mapping[str, User],
    allocation: TeamAllocation,
    schedule: tuple[Milestone, ...],
) -> Ref:
    """The kickoff deck from its Slides template in the SOW folder, filled in, shared."""
    deck = engagement_document("kickoff-deck", Kind.KICKOFF_DECK, "Kickoff", opportunity)
    names = {user.email: user.name for user in people.values()}
    values = kickoff_deck_values(opportunity, team, names, allocation, schedule)
    ensure_deck_filled(deck.id, Kind.KICKOFF_DECK, values)
    ensure_shared(deck.id, list(team.internal))
    return deck


def kickoff_meeting(
    opportunity: Opportunity, team: Team, people: Mapping[str, User], deck: Ref, start: date
) -> tuple[Ref, date]:
    """The external kickoff on the engagement's first working day or soon after, inside the
    working hours of the customer's contacts (the account's time zone) and the team's; and its
    day."""
    customer = {str(c.email): opportunity.account.time_zone for c in opportunity.contacts}
    zones = {e: u.time_zone for e, u in people.items() if u.time_zone} | customer
    organiser = zones.get(team.project_owner, opportunity.account.time_zone)
    today = systems().clock().today(organiser)
    after = max(start - timedelta(days=1), today)
    slot = meeting_slot(
        after,
        1,
        KICKOFF_LENGTH,
        organiser,
        zones,
        systems().settings.meeting_hour,
        opportunity.account.country,
    )
    event = meeting(
        Kind.KICKOFF_MEETING,
        opportunity,
        f"Project kickoff: {opportunity.account.name} – {opportunity.sow_number}",
        f"Kickoff of {opportunity.name}. The deck: {deck.url}",
        slot,
        [*customer, *team.internal],
        organiser,
    )
    return event, slot.start.date()


# --- 5. the kickoff held ---------------------------------------------------------------------------


class KickoffForm(RunInput, KickoffHeld):
    """What the Project Owner confirms in the Prefect UI once the kickoff was held."""


def kickoff_record(opportunity: Opportunity, team: Team, planned: date) -> KickoffHeld:
    """The Project Owner's word that the kickoff was held: recorded in the customer's channel (a
    re-run, or a record made outside the form), or asked in the UI's form and then recorded."""
    channel = slack_customer_channel(opportunity.account.id, opportunity.account.name)
    recorded = find_message(find_channel(channel), Kind.KICKOFF_HELD, opportunity.id)
    if recorded is not None:
        return KickoffHeld.from_payload(recorded.payload)
    not_asked_elsewhere(opportunity.id)
    answer = ask(
        with_defaults(
            KickoffForm,
            f"{team.project_owner}: once the kickoff of {opportunity.name} "
            f"({opportunity.account.name}) is held, say so here.",
            held_on=planned,  # the kickoff meeting's day
        ),
        key="kickoff-held",
        hours=systems().settings.approval_timeout_hours,
    )
    held = KickoffHeld.model_validate(answer.model_dump(exclude={"metadata"}))
    post_kickoff(opportunity, held, team.project_owner)
    return held


def post_kickoff(opportunity: Opportunity, held: KickoffHeld, by: str) -> Ref:
    """The kickoff's record in the customer's channel: the team sees it, a re-run reads it."""
    actions = "".join(f"\n• {slack_text(a)}" for a in held.actions)
    weekly = f" Weekly project meeting from {held.weekly_meeting}." if held.weekly_meeting else ""
    text = (
        f"Kickoff of *{slack_text(opportunity.name)}* held on {held.held_on} "
        f"(recorded by {slack_text(by)}).{weekly}"
        + (f"\nMinutes: {slack_text(held.minutes)}" if held.minutes else "")
        + (f"\nActions:{actions}" if actions else "")
    )
    return ensure_message(
        slack_customer_channel(opportunity.account.id, opportunity.account.name),
        text,
        Kind.KICKOFF_HELD,
        opportunity.id,
        payload=held.payload(),
    )


def kickoff_held(
    opportunity: Opportunity,
    team: Team,
    people: Mapping[str, User],
    definition: Ref,
    project: str,
    held: KickoffHeld,
    allocation: TeamAllocation,
) -> list[Ref]:
    """The minutes and actions in the Project Definition, the weekly meeting when there is one,
    the hand-off issue closed when complete."""
    attendees = ", ".join(
        [
            *(c.name for c in opportunity.contacts),
            *(people[e].name for e in team.internal if e in people),
        ]
    )
    day = held.held_on.isoformat()
    notes = [[day, "Kickoff", attendees, held.minutes]]
    actions = [[day, action, "", "", "Open"] for action in held.actions]
    ensure_rows(definition.id, {MEETING_NOTES: notes, ACTIONS: actions})
    made = []
    if held.weekly_meeting is not None:
        owner = people.get(team.project_owner)
        zone = (owner.time_zone if owner else None) or opportunity.account.time_zone
        made.append(meeting_series(opportunity, team, held.weekly_meeting, zone, allocation.end))
    if held.handoff_complete:
        closed = ensure_issue_closed(project, Kind.HANDOFF_ISSUE, opportunity.id)
        made.extend([closed] if closed else [])
    return made


def meeting_series(
    opportunity: Opportunity, team: Team, first: datetime, time_zone: str, until: date
) -> Ref:
    """The weekly project meeting: one recurring event until the engagement's end."""
    customer = [str(c.email) for c in opportunity.contacts]
    return ensure_event(
        Kind.WEEKLY_MEETING,
        opportunity.id,
        f"Weekly project meeting: {opportunity.account.name} – {opportunity.sow_number}",
        f"The weekly project meeting of {opportunity.name}; notes in the Project Definition.",
        first,
        first + WEEKLY_LENGTH,
        [*customer, *team.internal],
        time_zone,
        recurrence=[weekly_rule(until)],
    )
