"""The Plan phase's rules, pure: the project plan (one milestone per SOW activity, spread over the
engagement's working days by the activity's hours) and which part of a booking is hard.

The handbook: "Hard allocations two months ahead; no soft allocations left in the current month
after kickoff." Execute applies the same split every week with a later `today`, which rolls the
hard part forward.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict, Field

from engagement.cost_estimate import activity_name
from engagement.lifecycle import Team
from engagement.models import CostEstimate, FormDate, FormDateTime, Opportunity, SowActivity
from engagement.workdays import business_days

HARD_MONTHS = 2


class Milestone(BaseModel):
    """One SOW activity in the project plan: its working days from `start` to `due`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str  # the activity's product code, e.g. "PS-MIG": its natural key in the plan
    title: str
    hours: Decimal
    start: date
    due: date

    def __str__(self) -> str:  # as a task run's name shows it
        return f"{self.code} {self.title}"


class TeamAllocation(BaseModel):
    """The team as Plan books it hard: from `start` to `end`, each PSE's hours a day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date
    end: date
    hours_per_day: dict[str, Decimal]  # by the PSE's e-mail

    def payload(self) -> dict[str, str]:
        """As the coordinator's confirmation in Slack carries it (message metadata: text values).

        Example:
            >>> TeamAllocation(start=date(2027, 1, 4), end=date(2027, 3, 31),
            ...                hours_per_day={"a@x.example": Decimal("6.5")}).payload()["hours_per_day"]
            'a@x.example=6.5'
        """
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "hours_per_day": " ".join(
                f"{e}={h.normalize():f}" for e, h in self.hours_per_day.items()
            ),
        }

    def until(self, end: date | None) -> TeamAllocation:
        """The same team booked until `end` (an approved change request moved the end), never
        before its start; as it is when there is no `end`."""
        return self if end is None else self.model_copy(update={"end": max(end, self.start)})

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> TeamAllocation:
        hours = (pair.partition("=") for pair in str(payload["hours_per_day"]).split())
        return cls(
            start=date.fromisoformat(str(payload["start"])),
            end=date.fromisoformat(str(payload["end"])),
            hours_per_day={email: Decimal(h) for email, _, h in hours},
        )


# Slack message metadata keeps text values; minutes longer than this stay whole in the Project
# Definition, which a re-run only fills where empty
PAYLOAD_TEXT = 2000


class KickoffHeld(BaseModel):
    """The Project Owner's word that the kickoff was held: what the Prefect UI's form asks."""

    held_on: FormDate = Field(description="The day the kickoff was held")
    minutes: str = Field(default="", description="The minutes, or a link to them")
    actions: list[str] = Field(default_factory=list, description="Action items, one each")
    handoff_complete: bool = Field(
        default=True, description="The sales-to-PS hand-off issue is complete (it is closed)"
    )
    weekly_meeting: FormDateTime | None = Field(
        default=None,
        description="The first weekly project meeting, in your time zone; empty when none",
    )

    def payload(self) -> dict[str, str]:
        """As the record in the customer's channel carries it (message metadata: text values)."""
        fields = {
            "held_on": self.held_on.isoformat(),
            "minutes": self.minutes[:PAYLOAD_TEXT],
            "actions": "\n".join(a.replace("\n", " ") for a in self.actions)[:PAYLOAD_TEXT],
            "handoff_complete": "yes" if self.handoff_complete else "no",
            "weekly_meeting": self.weekly_meeting.isoformat() if self.weekly_meeting else "",
        }
        return {name: value for name, value in fields.items() if value}

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> KickoffHeld:
        """The answer a recorded message carries.

        Example:
            >>> held = KickoffHeld(held_on=date(2027, 1, 5), actions=["Send the VPN form"],
            ...                    weekly_meeting=datetime(2027, 1, 12, 10))
            >>> KickoffHeld.from_payload(held.payload()) == held
            True
        """

        def text(name: str) -> str:
            return str(payload.get(name) or "")

        return cls(
            held_on=date.fromisoformat(text("held_on")),
            minutes=text("minutes"),
            actions=text("actions").splitlines(),
            handoff_complete=text("handoff_complete") != "no",
            weekly_meeting=datetime.fromisoformat(text("weekly_meeting"))
            if text("weekly_meeting")
            else None,
        )


def milestones(
    activities: Sequence[tuple[str, str, Decimal]],
    start: date,
    end: date,
    country: str | None = None,
) -> tuple[Milestone, ...]:
    """The activities `(code, title, hours)` as milestones in SOW order, each given a share of the
    working days from `start` to `end` weighted by its hours (equal shares when no activity has
    hours), every one at least a day: the first starts on the first working day, the last is due
    on the last, and each starts where the one before ended or the day after.

    Raises:
        ValueError: `end` before `start`, or no working day between them.

    Example:
        >>> plan = milestones([("A", "Assess", Decimal(8)), ("B", "Build", Decimal(24))],
        ...                   date(2027, 1, 4), date(2027, 1, 15))  # two weeks, Monday to Friday
        >>> [(m.code, m.start.isoformat(), m.due.isoformat()) for m in plan]
        [('A', '2027-01-04', '2027-01-06'), ('B', '2027-01-07', '2027-01-15')]
    """
    if end < start:
        raise ValueError(f"the end {end} is before the start {start}")
    days = business_days(start, end, country)
    if not days:
        raise ValueError(f"no working day from {start} to {end}")
    weights = [max(hours, Decimal(0)) for _, _, hours in activities]
    total = sum(weights, Decimal(0))
    if total == 0:
        weights, total = [Decimal(1)] * len(activities), Decimal(len(activities))
    plan, done, first = [], Decimal(0), 0
    for (code, title, hours), weight in zip(activities, weights, strict=True):
        done += weight
        # the day this activity's share of the hours ends on; at least its first day
        share = (done / total * len(days)).to_integral_value(ROUND_HALF_UP)
        last = max(first, int(share) - 1)
        last = min(last, len(days) - 1)
        plan.append(
            Milestone(code=code, title=title, hours=hours, start=days[first], due=days[last])
        )
        first = min(last + 1, len(days) - 1)
    return tuple(plan)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day where it has fewer days.

    Example:
        >>> add_months(date(2027, 1, 31), 1)
        datetime.date(2027, 2, 28)
    """
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def hard_until(start: date, today: date) -> date:
    """The last day booked hard: two months ahead of the later of the start and today (which
    covers the rest of the current month, so no soft allocation is left in it)."""
    return add_months(max(start, today), HARD_MONTHS) - timedelta(days=1)


def split_booking(
    start: date, end: date, today: date
) -> tuple[tuple[date, date] | None, tuple[date, date] | None]:
    """A booking from `start` to `end` as (its hard part, its soft part), either None when empty.

    Example:
        >>> hard, soft = split_booking(date(2027, 1, 4), date(2027, 6, 30), today=date(2026, 12, 20))
        >>> hard, soft[0]
        ((datetime.date(2027, 1, 4), datetime.date(2027, 3, 3)), datetime.date(2027, 3, 4))
    """
    if end < start:
        raise ValueError(f"the end {end} is before the start {start}")
    until = hard_until(start, today)
    hard = (start, min(end, until)) if start <= until else None
    soft = (max(start, until + timedelta(days=1)), end) if end > until else None
    return hard, soft


def plan_activities(
    items: Sequence[SowActivity], estimate: CostEstimate
) -> list[tuple[str, str, Decimal]]:
    """Each SOW activity as (code, name, hours) in SOW order: the hours the cost estimate gives
    it, or what the SOW sold where the estimate has no row for it."""
    estimated = {row.activity.casefold(): row.hours for row in estimate.activities}
    plan = []
    for item in items:
        name = activity_name(item)
        hours = estimated.get(name.casefold()) or estimated.get(item.code.casefold())
        plan.append((item.code, name, hours if hours is not None else item.hours))
    return plan


def planned(tab: Sequence[Sequence[object]]) -> list[tuple[str, str, Decimal]]:
    """The activities of the Project Definition's Plan tab (header first; a row per activity:
    code, milestone, hours, start, due), as Plan and change requests write it: (code, title,
    hours) in its order; a row without a code or hours (a removed activity's) is left out.

    Example:
        >>> planned([["Activity", "Milestone", "Hours"], ["PS-MIG", "Migration", "80"], ["", ""]])
        [('PS-MIG', 'Migration', Decimal('80'))]
    """
    found = []
    for row in tab[1:]:
        code = str(row[0]).strip().lstrip("'") if row else ""
        if code and len(row) > 2 and str(row[2]).strip():
            found.append((code, str(row[1]), Decimal(str(row[2]).replace(",", ""))))
    return found


def plan_titles(tab: Sequence[Sequence[object]]) -> dict[str, str]:
    """Each activity of the Plan tab and its milestone's title, by its code.

    Example:
        >>> plan_titles([["Activity", "Milestone", "Hours"], ["PS-MIG", "Migration", "80"]])
        {'PS-MIG': 'Migration'}
    """
    return {code: title for code, title, _ in planned(tab)}


def activities_to_plan(
    tab: Sequence[Sequence[object]], items: Sequence[SowActivity], estimate: CostEstimate
) -> list[tuple[str, str, Decimal]]:
    """What Plan schedules: the Plan tab's activities when it has them (approved change requests
    may have changed them since the first plan), else the SOW's with the estimate's hours."""
    return planned(tab) or plan_activities(items, estimate)


def weekly_rule(until: date) -> str:
    """The RFC 5545 rule of a weekly meeting held until `until` (its last day, included).

    Example:
        >>> weekly_rule(date(2027, 3, 26))
        'RRULE:FREQ=WEEKLY;UNTIL=20270326T235959Z'
    """
    return f"RRULE:FREQ=WEEKLY;UNTIL={until:%Y%m%d}T235959Z"


def plan_problems(opportunity: Opportunity, closed_won: str) -> list[str]:
    """What keeps an opportunity from Plan, in Salesforce's field names; empty when ready."""
    problems = []
    if opportunity.stage != closed_won:
        problems.append(f"StageName is {opportunity.stage!r}; Plan runs after {closed_won!r}")
    start, end = opportunity.expected_start, opportunity.expected_completion
    if start is None or end is None:
        problems.append("PS_Expected_Start__c / PS_Expected_Completion__c: the window is not set")
    elif not business_days(start, end, opportunity.account.country):
        problems.append(
            f"PS_Expected_Start__c / PS_Expected_Completion__c: no working day from {start} to "
            f"{end}"
        )
    if not opportunity.line_items:
        problems.append("Opportunity Products: no SOW activity to plan (no line items)")
    return problems


def kickoff_deck_values(
    opportunity: Opportunity,
    team: Team,
    names: Mapping[str, str],
    allocation: TeamAllocation,
    schedule: Sequence[Milestone],
) -> dict[str, str]:
    """The kickoff deck's placeholders, filled: `names` are people's names by e-mail (an
    address stands for anyone without one)."""
    roles = {team.project_owner: "Project Owner", team.engagement_manager: "Engagement Manager"}
    roles |= {email: "PSE" for email in team.pses if email not in roles}
    return {
        "customer": opportunity.account.name,
        "sow_number": opportunity.sow_number or "",
        "opportunity": opportunity.name,
        "team": ", ".join(f"{names.get(email, email)} ({role})" for email, role in roles.items()),
        "start": allocation.start.isoformat(),
        "end": allocation.end.isoformat(),
        "milestones": "\n" + milestone_lines(schedule),
    }


def milestone_lines(plan: Sequence[Milestone]) -> str:
    """The plan as the kickoff deck shows it: a line per milestone, e.g.
    "PS-MIG – Migration: 2027-01-04 to 2027-01-29 (80 h)"."""
    return "\n".join(f"{m.title}: {m.start} to {m.due} ({m.hours:g} h)" for m in plan)
