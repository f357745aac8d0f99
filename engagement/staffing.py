"""Pre-Initiate staffing: which PSE should work on an engagement, and why.

The handbook picks a PSE by technical skillset, personality match with the customer, growth path and
time zone; PROCESS.md adds availability in the engagement window, and a partner when nobody internal
fits. `recommend` scores every PSE on those five criteria, each worth up to its weight in a
`StaffingPolicy`, explains every score in one line, and ranks the PSEs. The proposal is posted to
#ps_planning (`Recommendation.summary`) and kept as a Prefect table artifact
(`Recommendation.table_rows`); the PS Project Coordinator approves it. Everything here is advice with
its reasons shown, so the reasons are written for the coordinator.

Choices a reader should know:
- Points are Decimals with one decimal place, rounded half up per criterion; a total is the sum of
  its criteria, so the numbers a coordinator reads add up exactly.
- One top pick: the best candidate at or above `policy.threshold`. An engagement that needs two
  people runs `recommend` again with the first pick's allocation added (they are then booked).
- Business days are Monday to Friday of the window's dates (there is no holiday calendar). A PSE
  works Monday to Friday of their own calendar, so across the date line a customer's Friday may
  overlap nobody's working day (Los Angeles' Friday afternoon is Saturday morning in Auckland).
- A PSE with no business day free in the window is listed as unavailable, never ranked.
- Pure: no I/O, no clock; the only outside read is the IANA time-zone database through zoneinfo.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engagement.models import Opportunity, Partner, Pse, Skills, Tags, Text, TimeZone
from engagement.slugs import slack_text
from engagement.workdays import business_days
from engagement.workdays import working_day as a_working_day

POINTS_STEP = Decimal("0.1")  # every score is shown, and summed, with one decimal place

# A weight or threshold in points: at most one decimal, so a full score equals its weight exactly.
Points = Annotated[Decimal, Field(ge=0, decimal_places=1)]


class Criterion(StrEnum):
    """The five things a PSE is judged on, in the order they are shown."""

    SKILLS = "skills"
    TIME_ZONE = "time zone"
    GROWTH = "growth path"
    PERSONALITY = "personality"
    AVAILABILITY = "availability"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- inputs --------------------------------------------------------------------------------------


class StaffingPolicy(_Frozen):
    """Weights, threshold and working-day assumptions, explicit so a proposal can be reproduced.

    The defaults add up to 100 points. Skills weigh most: a PSE who cannot do the work is the
    costliest mistake. Time zone and availability decide whether the work can happen at all with
    the customer; growth path and personality separate otherwise similar PSEs.
    """

    skills: Points = Decimal(40)
    time_zone: Points = Decimal(20)
    growth: Points = Decimal(10)
    personality: Points = Decimal(10)
    availability: Points = Decimal(20)
    # below this total nobody internal is proposed and a partner is suggested instead
    threshold: Points = Decimal(60)
    # the local working day of both the customer and the PSE, for the time-zone overlap
    working_day: tuple[time, time] = (time(9), time(17))
    # what a PSE can be booked per day; existing allocations are subtracted from it
    daily_capacity_hours: Decimal = Field(default=Decimal(8), gt=0, le=24)
    # a growth goal counts when the PSE is at most this many levels below the required level
    growth_max_gap: int = Field(default=2, ge=0, le=4)

    @model_validator(mode="after")
    def _consistent(self) -> StaffingPolicy:
        start, end = self.working_day
        if start.tzinfo is not None or end.tzinfo is not None or not start < end:
            raise ValueError(
                "working_day must be two local times without time zone, start before end "
                f"(like 09:00-17:00); got {start}-{end}"
            )
        if self.threshold > self.max_total:
            raise ValueError(
                f"threshold {self.threshold} is more than the {self.max_total} points the weights "
                "allow: nobody could ever reach it"
            )
        return self

    def weight(self, criterion: Criterion) -> Decimal:
        weights = {
            Criterion.SKILLS: self.skills,
            Criterion.TIME_ZONE: self.time_zone,
            Criterion.GROWTH: self.growth,
            Criterion.PERSONALITY: self.personality,
            Criterion.AVAILABILITY: self.availability,
        }
        return weights[criterion]

    @property
    def max_total(self) -> Decimal:
        return sum((self.weight(criterion) for criterion in Criterion), Decimal(0))

    @property
    def working_day_hours(self) -> Fraction:
        start, end = self.working_day
        return Fraction(_seconds_of_day(end) - _seconds_of_day(start), 3600)


class StaffingNeed(_Frozen):
    """What the engagement needs, from the opportunity and its account."""

    engagement: Text | None = None  # the opportunity's name, for the message
    customer: Text | None = None  # the account's name
    required_skills: Skills = Field(default_factory=dict)  # {skill: level 1-5}
    time_zone: TimeZone  # the customer's (Account.PS_Time_Zone__c)
    communication_style: Tags = ()  # the customer's (Account.PS_Communication_Style__c)
    start: date
    end: date  # included
    hours_per_day: Decimal = Field(default=Decimal(8), gt=0, le=24)  # of one PSE; 8 = full time

    @model_validator(mode="after")
    def _window(self) -> StaffingNeed:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) must be on or after start ({self.start})")
        if not self.business_days:
            raise ValueError(
                f"the window {self.start} to {self.end} has no business day (Monday to Friday)"
            )
        return self

    @property
    def business_days(self) -> tuple[date, ...]:
        return business_days(self.start, self.end)

    @classmethod
    def from_opportunity(
        cls,
        opportunity: Opportunity,
        *,
        start: date | None = None,
        end: date | None = None,
        hours_per_day: Decimal = Decimal(8),
    ) -> StaffingNeed:
        """The need of an opportunity: its required skills, its account's time zone and style,
        and its expected start and completion unless `start`/`end` are given.

        Raises:
            ValueError: when the opportunity has no expected dates and none are given.
        """
        start = start or opportunity.expected_start
        end = end or opportunity.expected_completion
        if start is None or end is None:
            raise ValueError(
                f"opportunity {opportunity.id} ({opportunity.name}) has no expected start and "
                "completion: fill PS expected start/completion or pass start= and end="
            )
        account = opportunity.account
        return cls(
            engagement=opportunity.name,
            customer=account.name,
            required_skills=opportunity.required_skills,
            time_zone=account.time_zone,
            communication_style=account.communication_style,
            start=start,
            end=end,
            hours_per_day=hours_per_day,
        )


class Allocation(_Frozen):
    """Time a PSE is already booked (a hard Mavenlink allocation): minutes per day, both dates
    included. Soft allocations hold nobody (PROCESS.md) and should not be passed."""

    start: date
    end: date
    minutes_per_day: int = Field(ge=0, le=24 * 60)

    @model_validator(mode="after")
    def _dates(self) -> Allocation:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) must be on or after start ({self.start})")
        return self

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


# --- outputs -------------------------------------------------------------------------------------


class Score(_Frozen):
    """One criterion's points for one PSE (or partner), with the reason in one line."""

    criterion: Criterion
    points: Decimal = Field(ge=0)
    max_points: Decimal = Field(ge=0)
    explanation: str

    @model_validator(mode="after")
    def _bounded(self) -> Score:
        if self.points > self.max_points:
            raise ValueError(f"{self.criterion}: {self.points} points exceed {self.max_points}")
        return self

    def line(self) -> str:
        """The score in one line, e.g. "skills 35.0/40: gaps: kubernetes 3 < 4 required"."""
        return f"{self.criterion} {self.points}/{_number(self.max_points)}: {self.explanation}"


class Candidate(_Frozen):
    """A PSE who is free at least part of the window, with their score per criterion."""

    pse: Pse
    total: Decimal
    breakdown: tuple[Score, ...]

    @model_validator(mode="after")
    def _adds_up(self) -> Candidate:
        if tuple(score.criterion for score in self.breakdown) != tuple(Criterion):
            raise ValueError("breakdown must hold one score per criterion, in Criterion order")
        parts = sum((score.points for score in self.breakdown), Decimal(0))
        if parts != self.total:
            raise ValueError(f"total {self.total} is not the sum of its breakdown ({parts})")
        return self

    def score(self, criterion: Criterion) -> Score:
        return next(score for score in self.breakdown if score.criterion is criterion)


class Unavailable(_Frozen):
    """A PSE with no business day free in the window: never proposed."""

    pse: Pse
    reason: str


class PartnerSuggestion(_Frozen):
    partner: Partner
    skills: Score  # the partner's skill fit, with the same rules as a PSE's


class Recommendation(_Frozen):
    """The staffing proposal: ranked candidates, the pick, who is unavailable, and a partner when
    nobody internal fits. `decision` says in one line what was proposed and why."""

    need: StaffingNeed
    policy: StaffingPolicy
    candidates: tuple[Candidate, ...]  # best first; ties by e-mail address
    unavailable: tuple[Unavailable, ...]  # by e-mail address
    picks: tuple[Candidate, ...]  # the proposed PSE (at most one, see the module docstring)
    partner: PartnerSuggestion | None  # only when nobody internal is proposed
    decision: str

    @property
    def needs_partner(self) -> bool:
        return not self.picks

    def summary(self) -> str:
        """The proposal and its reasoning as a Slack message (mrkdwn) for #ps_planning."""
        need, policy = self.need, self.policy
        title = need.engagement or "new engagement"
        if need.customer:
            title += f" ({need.customer})"
        skills = ", ".join(f"{name} {level}" for name, level in need.required_skills.items())
        style = ", ".join(need.communication_style) or "not recorded"
        lines = [
            f"*Staffing proposal: {slack_text(title)}*",
            slack_text(
                f"Window {need.start} to {need.end} ({len(need.business_days)} business days), "
                f"{_number(need.hours_per_day)} h/day. Needs {skills or 'no specific skills'}. "
                f"Customer time zone {need.time_zone}; communication style {style}."
            ),
            f"*Decision:* {slack_text(self.decision)}",
        ]
        # The full reasoning of the pick, or of the best candidate to show why they fall short.
        shown = self.picks[0] if self.picks else (self.candidates[0] if self.candidates else None)
        if shown is not None:
            label = "Proposed" if self.picks else "Best internal candidate"
            lines.append(
                f"*{label}: {slack_text(shown.pse.name)}* ({shown.pse.email}) – {shown.total} of "
                f"{_number(policy.max_total)} points (threshold {_number(policy.threshold)})"
            )
            lines.extend(f"• {slack_text(score.line())}" for score in shown.breakdown)
        if self.candidates:
            lines.append("*Ranking*")
            for rank, candidate in enumerate(self.candidates, start=1):
                parts = ", ".join(f"{s.criterion} {s.points}" for s in candidate.breakdown)
                lines.append(
                    f"{rank}. {slack_text(candidate.pse.name)} – {candidate.total} ({parts})"
                )
        if self.unavailable:
            lines.append("*Unavailable*")
            lines.extend(
                f"• {slack_text(entry.pse.name)}: {slack_text(entry.reason)}"
                for entry in self.unavailable
            )
        if self.partner is not None:
            lines.append(
                f"*Partner suggestion: {slack_text(self.partner.partner.name)}* "
                f"({self.partner.partner.email}) – {slack_text(self.partner.skills.line())}"
            )
        elif self.needs_partner:
            lines.append("*Partner suggestion:* none (no partner on file covers a required skill)")
        lines.append(
            "_A soft proposal: nobody is booked until the PS Project Coordinator approves._"
        )
        return "\n".join(lines)

    def table_rows(self) -> list[dict[str, str]]:
        """One row per candidate, unavailable PSE and suggested partner, for a Prefect table
        artifact. Every row has the same columns and string values; a criterion's cell reads
        "points/weight – explanation"."""
        rows: list[dict[str, str]] = []
        for rank, candidate in enumerate(self.candidates, start=1):
            if candidate in self.picks:
                status = "proposed"
            elif candidate.total < self.policy.threshold:
                status = "below threshold"
            else:
                status = "candidate"
            cells = {s.criterion.value: _cell(s) for s in candidate.breakdown}
            rows.append(
                _row(str(rank), candidate.pse.name, candidate.pse.email, status)
                | {"total": str(candidate.total)}
                | cells
            )
        for entry in self.unavailable:
            rows.append(
                _row("–", entry.pse.name, entry.pse.email, "unavailable")
                | {Criterion.AVAILABILITY.value: entry.reason}
            )
        if self.partner is not None:
            partner = self.partner.partner
            rows.append(
                _row("–", partner.name, partner.email, "partner suggestion")
                | {Criterion.SKILLS.value: _cell(self.partner.skills)}
            )
        return rows


def _row(rank: str, name: str, email: str, status: str) -> dict[str, str]:
    empty = {"total": ""} | {criterion.value: "" for criterion in Criterion}
    return {"rank": rank, "name": name, "email": email, "status": status} | empty


def _cell(score: Score) -> str:
    return f"{score.points}/{_number(score.max_points)} – {score.explanation}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


# --- scoring -------------------------------------------------------------------------------------


def _points(weight: Decimal, share: Fraction) -> Decimal:
    """`weight` × `share` (0 to 1) rounded half up to one decimal. Exact arithmetic, so the same
    share always gives the same points and a larger share never gives fewer."""
    tenths = Fraction(weight) * share * 10
    return (Decimal(math.floor(tenths + Fraction(1, 2))) / 10).quantize(POINTS_STEP)


def _number(value: Decimal | Fraction) -> str:
    """A number as a person writes it: 8, 3.5, 5.75 (at most two decimals)."""
    rounded = Decimal(math.floor(Fraction(value) * 100 + Fraction(1, 2))) / 100
    return f"{rounded.normalize():f}"


def skill_fit(required: Mapping[str, int], skills: Mapping[str, int], weight: Decimal) -> Score:
    """How well `skills` cover the `required` levels, out of `weight` points.

    Each required skill counts equally; a level below the required one earns partial credit
    (level / required: 3 of 4 earns 0.75), a missing skill earns nothing, a higher level no
    more than the required one. Gaps are named first, since they are what a reader looks for.

    Example:
        >>> skill_fit({"kubernetes": 4}, {"kubernetes": 3}, Decimal(40)).explanation
        'gaps: kubernetes 3 < 4 required'
    """
    if not required:
        return Score(
            criterion=Criterion.SKILLS,
            points=_points(weight, Fraction(1)),
            max_points=weight,
            explanation="no skills required",
        )
    credit = sum(
        (Fraction(min(skills.get(name, 0), level), level) for name, level in required.items()),
        Fraction(0),
    )
    gaps, met = [], []
    for name, level in required.items():
        have = skills.get(name, 0)
        if have >= level:
            met.append(f"{name} {have} ≥ {level}")
        elif have:
            gaps.append(f"{name} {have} < {level} required")
        else:
            gaps.append(f"{name} missing ({level} required)")
    if not gaps:
        explanation = "meets every required skill: " + ", ".join(met)
    else:
        explanation = "gaps: " + ", ".join(gaps) + ("; meets " + ", ".join(met) if met else "")
    return Score(
        criterion=Criterion.SKILLS,
        points=_points(weight, credit / len(required)),
        max_points=weight,
        explanation=explanation,
    )


def _seconds_of_day(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _working_hours_utc(
    day: date, zone: ZoneInfo, working_day: tuple[time, time]
) -> tuple[datetime, datetime]:
    # In UTC: Python subtracts two datetimes of the same tzinfo by wall clock, ignoring a DST
    # change between them, so intervals are compared only after conversion.
    start, end = (datetime.combine(day, moment, zone).astimezone(UTC) for moment in working_day)
    return start, end


def _overlap_seconds(
    day: date, customer: ZoneInfo, pse: ZoneInfo, working_day: tuple[time, time]
) -> int:
    customer_start, customer_end = _working_hours_utc(day, customer, working_day)
    seconds = 0
    # Zones are at most 26 hours apart, so the PSE's working days that can touch the customer's
    # `day` are within two calendar days of it; the PSE does not work on their own weekend.
    for offset in range(-2, 3):
        pse_day = day + timedelta(days=offset)
        if not a_working_day(pse_day):
            continue
        pse_start, pse_end = _working_hours_utc(pse_day, pse, working_day)
        overlap = min(customer_end, pse_end) - max(customer_start, pse_start)
        seconds += max(0, int(overlap.total_seconds()))
    return seconds


def overlap_hours(
    customer_time_zone: str,
    pse_time_zone: str,
    day: date,
    working_day: tuple[time, time] = (time(9), time(17)),
) -> Decimal:
    """Hours of the customer's working day `day` (in the customer's calendar) during which the PSE
    is at work too, both working `working_day` local time, Monday to Friday, on that real date
    (so DST in either zone counts).

    Example:
        >>> overlap_hours("Europe/Berlin", "Asia/Kolkata", date(2026, 1, 12))
        Decimal('3.5')
    """
    seconds = _overlap_seconds(
        day, ZoneInfo(customer_time_zone), ZoneInfo(pse_time_zone), working_day
    )
    return Decimal(seconds) / 3600


def _time_zone_fit(pse: Pse, need: StaffingNeed, policy: StaffingPolicy) -> Score:
    customer, own = ZoneInfo(need.time_zone), ZoneInfo(pse.time_zone)
    days = need.business_days
    daily = [_overlap_seconds(day, customer, own, policy.working_day) for day in days]
    average = Fraction(sum(daily), 3600 * len(days))
    low, high = Fraction(min(daily), 3600), Fraction(max(daily), 3600)
    spread = "" if low == high else f", {_number(low)}–{_number(high)} h by day"
    return Score(
        criterion=Criterion.TIME_ZONE,
        points=_points(policy.time_zone, average / policy.working_day_hours),
        max_points=policy.time_zone,
        explanation=(
            f"{_number(average)} h of the customer's {_number(policy.working_day_hours)} h day "
            f"on average ({pse.time_zone} vs {need.time_zone}{spread})"
        ),
    )


def _growth_fit(pse: Pse, need: StaffingNeed, policy: StaffingPolicy) -> Score:
    # All or nothing: the engagement either gives the PSE practice in a skill they want to grow
    # or it does not; "within reach" keeps a beginner off a job that needs an expert.
    def result(fits: bool, explanation: str) -> Score:
        share = Fraction(1 if fits else 0)
        return Score(
            criterion=Criterion.GROWTH,
            points=_points(policy.growth, share),
            max_points=policy.growth,
            explanation=explanation,
        )

    if not pse.growth_goals:
        return result(False, "no growth goals recorded")
    used = [goal for goal in pse.growth_goals if goal in need.required_skills]
    if not used:
        return result(False, f"no growth goal used here (wants {', '.join(pse.growth_goals)})")

    def level(goal: str) -> str:
        have = pse.skills.get(goal, 0)
        return f"{goal} ({have or 'new'}, {need.required_skills[goal]} required)"

    gap = policy.growth_max_gap
    within = [g for g in used if need.required_skills[g] - pse.skills.get(g, 0) <= gap]
    if within:
        return result(True, "practises growth goal " + ", ".join(level(g) for g in within))
    return result(
        False,
        f"wants {', '.join(level(goal) for goal in used)}: more than {gap} levels short",
    )


def _personality_fit(pse: Pse, need: StaffingNeed, policy: StaffingPolicy) -> Score:
    style = need.communication_style
    if not style:
        # Missing data should not decide a ranking or push everybody under the threshold.
        share, explanation = Fraction(1), "no communication style recorded for the account"
    else:
        shared = [trait for trait in style if trait in pse.traits]
        share = Fraction(len(shared), len(style))
        wanted = ", ".join(style)
        if shared:
            explanation = f"shares {', '.join(shared)} of the customer's style ({wanted})"
        else:
            traits = ", ".join(pse.traits) or "none recorded"
            explanation = f"matches none of the customer's style ({wanted}); PSE traits: {traits}"
    return Score(
        criterion=Criterion.PERSONALITY,
        points=_points(policy.personality, share),
        max_points=policy.personality,
        explanation=explanation,
    )


def _free_minutes(
    need: StaffingNeed, allocations: Iterable[Allocation], policy: StaffingPolicy
) -> list[tuple[date, Decimal]]:
    booked = list(allocations)
    capacity = policy.daily_capacity_hours * 60
    return [
        (day, capacity - sum(a.minutes_per_day for a in booked if a.covers(day)))
        for day in need.business_days
    ]


def assess(
    pse: Pse,
    need: StaffingNeed,
    allocations: Iterable[Allocation] = (),
    policy: StaffingPolicy | None = None,
) -> Candidate | Unavailable:
    """Score one PSE against the need, given their existing allocations.

    Raises:
        ValueError: when the need asks more hours per day than `policy.daily_capacity_hours`.
    """
    policy = policy or StaffingPolicy()
    _check_fits(need, policy)
    wanted = need.hours_per_day * 60
    free = _free_minutes(need, allocations, policy)
    short = [day for day, minutes in free if minutes < wanted]
    days = len(free)
    if len(short) == days:
        most = max(minutes for _, minutes in free)
        detail = "fully booked" if most <= 0 else f"at most {_number(most / 60)} h free on any day"
        return Unavailable(
            pse=pse,
            reason=(
                f"no capacity on any of the {days} business days of the window ({detail}; "
                f"{_number(need.hours_per_day)} h/day needed)"
            ),
        )
    free_days = days - len(short)
    if short:
        availability = (
            f"free {_number(need.hours_per_day)} h/day on {free_days} of {days} business days; "
            f"booked from {short[0]} on {len(short)} of them"
        )
    else:
        availability = f"free {_number(need.hours_per_day)} h/day on all {days} business days"
    breakdown = (
        skill_fit(need.required_skills, pse.skills, policy.skills),
        _time_zone_fit(pse, need, policy),
        _growth_fit(pse, need, policy),
        _personality_fit(pse, need, policy),
        Score(
            criterion=Criterion.AVAILABILITY,
            points=_points(policy.availability, Fraction(free_days, days)),
            max_points=policy.availability,
            explanation=availability,
        ),
    )
    total = sum((score.points for score in breakdown), Decimal(0))
    return Candidate(pse=pse, total=total, breakdown=breakdown)


def _check_fits(need: StaffingNeed, policy: StaffingPolicy) -> None:
    if need.hours_per_day > policy.daily_capacity_hours:
        raise ValueError(
            f"hours_per_day {need.hours_per_day} is more than one PSE's daily capacity "
            f"({policy.daily_capacity_hours} h): staff the engagement one PSE at a time"
        )


def suggest_partner(
    need: StaffingNeed, partners: Iterable[Partner], policy: StaffingPolicy | None = None
) -> PartnerSuggestion | None:
    """The partner whose skills best cover the need (ties by name, then e-mail), or None when
    there is no partner or none covers any required skill."""
    policy = policy or StaffingPolicy()
    scored = [
        PartnerSuggestion(
            partner=partner,
            skills=skill_fit(need.required_skills, partner.skills, policy.skills),
        )
        for partner in partners
    ]
    scored.sort(key=lambda s: (-s.skills.points, s.partner.name, s.partner.email))
    if not scored or (need.required_skills and scored[0].skills.points == 0):
        return None
    return scored[0]


def recommend(
    need: StaffingNeed,
    roster: Sequence[Pse],
    allocations: Mapping[str, Sequence[Allocation]] | None = None,
    partners: Sequence[Partner] = (),
    policy: StaffingPolicy | None = None,
) -> Recommendation:
    """Rank the roster for the need and propose the best PSE, or a partner when nobody reaches
    `policy.threshold` or nobody is available.

    Args:
        need: what the engagement needs (see `StaffingNeed.from_opportunity`).
        roster: the PSEs to consider (the skills matrix); order does not matter.
        allocations: each PSE's existing hard allocations, by e-mail address (matched ignoring
            case, since Mavenlink and the skills matrix are typed by different people).
        partners: the partner firms on file.
        policy: weights, threshold and working-day assumptions; the defaults when None.

    Raises:
        ValueError: when the roster lists a PSE twice or the need exceeds a PSE's daily capacity.
    """
    policy = policy or StaffingPolicy()
    _check_fits(need, policy)
    emails = [pse.email.casefold() for pse in roster]
    repeated = sorted({email for email in emails if emails.count(email) > 1})
    if repeated:
        raise ValueError(f"roster lists these PSEs more than once: {', '.join(repeated)}")
    booked: dict[str, list[Allocation]] = {}
    for email, items in (allocations or {}).items():
        booked.setdefault(email.casefold(), []).extend(items)

    results = [assess(pse, need, booked.get(pse.email.casefold(), ()), policy) for pse in roster]
    candidates = sorted(
        (r for r in results if isinstance(r, Candidate)), key=lambda c: (-c.total, c.pse.email)
    )
    unavailable = sorted(
        (r for r in results if isinstance(r, Unavailable)), key=lambda u: u.pse.email
    )
    best = candidates[0] if candidates else None
    threshold = _number(policy.threshold)
    if best is not None and best.total >= policy.threshold:
        return Recommendation(
            need=need,
            policy=policy,
            candidates=tuple(candidates),
            unavailable=tuple(unavailable),
            picks=(best,),
            partner=None,
            decision=(
                f"propose {best.pse.name}: {best.total} of {_number(policy.max_total)} points, "
                f"the best of {_count(len(candidates), 'available PSE')} (threshold {threshold})"
            ),
        )
    if best is None:
        why = (
            f"nobody internal is available in the window ({_count(len(unavailable), 'PSE')} booked)"
        )
    else:
        why = (
            f"no PSE reaches the threshold of {threshold} points "
            f"(best: {best.pse.name} with {best.total})"
        )
    partner = suggest_partner(need, partners, policy)
    outcome = (
        f"suggest partner {partner.partner.name}"
        if partner
        else "and no partner on file covers a required skill"
    )
    return Recommendation(
        need=need,
        policy=policy,
        candidates=tuple(candidates),
        unavailable=tuple(unavailable),
        picks=(),
        partner=partner,
        decision=f"{why}; {outcome}",
    )


# --- the roster ----------------------------------------------------------------------------------


class Roster(_Frozen):
    """The skills matrix: every PSE psflow may propose (tab PSEs) and the partner firms on file
    (tab Partners), in the sheet's order."""

    pses: tuple[Pse, ...]
    partners: tuple[Partner, ...] = ()


# --- the decision --------------------------------------------------------------------------------


class StaffingDecision(_Frozen):
    """What the PS Project Coordinator decided on a proposal: approve it as it is, accommodate it
    (other PSEs or the partner, other dates or hours, a Project Owner), or reject it; recorded in
    #ps_planning with who chose the PSE (a Sr. PSE or Technical Architect) and who approved."""

    approve: bool
    pses: tuple[str, ...] = ()  # the PSEs booked, by e-mail
    partner: str | None = None  # the partner's e-mail, when the partner is staffed
    project_owner: str | None = None  # a Project Manager or one of the PSEs; None: the first PSE
    chosen_by: str | None = None  # the Sr. PSE or Technical Architect who chose
    approver: str
    comment: str = ""
    start: date | None = None  # the window and hours booked, when not the opportunity's
    end: date | None = None
    hours_per_day: Decimal | None = Field(default=None, gt=0, le=24)

    @property
    def owner(self) -> str:
        """The Project Owner: as named, else the first PSE (the handbook: a PM or a PSE)."""
        return self.project_owner or (self.pses[0] if self.pses else self.approver)

    @property
    def booked(self) -> tuple[str, ...]:
        """Everyone staffed: the PSEs, and the partner."""
        return (*self.pses, *filter(None, [self.partner]))

    def booking(self, need: StaffingNeed) -> tuple[date, date, Decimal]:
        """The first and last day booked and the hours a day: as the coordinator set them, else
        as the opportunity needs them."""
        return (
            self.start or need.start,
            self.end or need.end,
            self.hours_per_day or need.hours_per_day,
        )

    def payload(self) -> dict[str, str]:
        """The decision as Slack message metadata carries it (text values only)."""
        fields = {
            "decision": "approved" if self.approve else "rejected",
            "pses": " ".join(self.pses),
            "partner": self.partner or "",
            "project_owner": self.project_owner or "",
            "chosen_by": self.chosen_by or "",
            "approver": self.approver,
            "comment": self.comment[:1000],
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
            "hours_per_day": _number(self.hours_per_day) if self.hours_per_day else "",
        }
        return {name: value for name, value in fields.items() if value}

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> StaffingDecision:
        """The decision a recorded message carries (missing fields: their defaults).

        Example:
            >>> StaffingDecision.from_payload(
            ...     {"decision": "approved", "pses": "a@x.example", "approver": "p@x.example"}
            ... ).owner
            'a@x.example'
        """

        def text(name: str) -> str:
            return str(payload.get(name) or "")

        return cls(
            approve=text("decision") == "approved",
            pses=tuple(text("pses").split()),
            partner=text("partner") or None,
            project_owner=text("project_owner") or None,
            chosen_by=text("chosen_by") or None,
            approver=text("approver"),
            comment=text("comment"),
            start=date.fromisoformat(text("start")) if text("start") else None,
            end=date.fromisoformat(text("end")) if text("end") else None,
            hours_per_day=Decimal(text("hours_per_day")) if text("hours_per_day") else None,
        )
