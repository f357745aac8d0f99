"""Staffing recommendation: skill gaps named and ranked lower, time-zone overlap on real dates
(half-hour and 45-minute zones, DST switches, the date line), availability from bookings, partner
fallback, deterministic ranking and rendering, and properties over random rosters."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, time, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engagement.models import Partner, Pse
from engagement.staffing import (
    Allocation,
    Candidate,
    Criterion,
    Recommendation,
    StaffingNeed,
    StaffingPolicy,
    Unavailable,
    assess,
    overlap_hours,
    recommend,
    skill_fit,
    suggest_partner,
)
from engagement.workdays import business_days
from testkit import factories

PROPERTY = settings(max_examples=150, derandomize=True, deadline=None, database=None)

MONDAY = date(2026, 1, 12)  # a winter week: no DST switch anywhere in the tests' zones
FRIDAY = date(2026, 1, 23)  # two working weeks, ten business days


def pse(key: str, **changes: Any) -> Pse:
    fields: dict[str, Any] = {
        "email": f"{key}@northwind.example",
        "name": key.replace("_", " ").title(),
        "title": "PS Engineer",
        "time_zone": "Europe/Berlin",
        "skills": {"gitlab-ci": 4, "kubernetes": 4},
        "growth_goals": (),
        "traits": ("calm", "written"),
    }
    return Pse.model_validate(fields | changes)


def need(**changes: Any) -> StaffingNeed:
    fields: dict[str, Any] = {
        "engagement": "Globex – Kubernetes Integration",
        "customer": "Globex Industries",
        "required_skills": {"gitlab-ci": 4, "kubernetes": 4},
        "time_zone": "Europe/Berlin",
        "communication_style": ("calm", "written"),
        "start": MONDAY,
        "end": FRIDAY,
    }
    return StaffingNeed.model_validate(fields | changes)


def booked(start: date, end: date, minutes: int = 480) -> Allocation:
    return Allocation(start=start, end=end, minutes_per_day=minutes)


PARTNERS = (
    Partner(
        name="Contoso Consulting",
        email="staffing@contoso-consulting.example",
        skills={"kubernetes": 5, "terraform": 5},
    ),
    Partner(
        name="Fabrikam DevOps Partners",
        email="ps@fabrikam-devops.example",
        skills={"gitlab-ci": 5, "kubernetes": 4},
    ),
)


def emails(candidates: Sequence[Candidate | Unavailable]) -> list[str]:
    return [entry.pse.email for entry in candidates]


# --- skills --------------------------------------------------------------------------------------


def test_a_skills_gap_ranks_lower_and_is_named() -> None:
    expert = pse("ana_expert")
    gapped = pse("bob_gapped", skills={"gitlab-ci": 5, "kubernetes": 3})
    result = recommend(need(), [gapped, expert])

    assert emails(result.candidates) == [expert.email, gapped.email]
    assert result.picks == (result.candidates[0],)
    skills = result.candidates[1].score(Criterion.SKILLS)
    assert skills.points == Decimal("35.0")  # (1 + 3/4) / 2 of 40
    assert skills.explanation == "gaps: kubernetes 3 < 4 required; meets gitlab-ci 5 ≥ 4"
    assert result.candidates[0].score(Criterion.SKILLS).explanation == (
        "meets every required skill: gitlab-ci 4 ≥ 4, kubernetes 4 ≥ 4"
    )


def test_skill_fit_partial_credit_missing_skills_and_no_requirement() -> None:
    score = skill_fit({"kubernetes": 4, "helm": 3}, {"kubernetes": 2}, Decimal(40))
    assert score.points == Decimal("10.0")  # (2/4 + 0) / 2 of 40
    assert score.explanation == "gaps: kubernetes 2 < 4 required, helm missing (3 required)"
    # a level above the required one earns no more than meeting it
    assert skill_fit({"helm": 3}, {"helm": 5}, Decimal(40)).points == Decimal("40.0")
    empty = skill_fit({}, {"helm": 1}, Decimal(40))
    assert (empty.points, empty.explanation) == (Decimal("40.0"), "no skills required")


# --- time zones ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("customer", "pse_zone", "day", "hours"),
    [
        # Berlin 08:00-16:00 UTC in winter; Kolkata (+5:30) 03:30-11:30 UTC
        ("Europe/Berlin", "Asia/Kolkata", MONDAY, "3.5"),
        # Kathmandu (+5:45) 03:15-11:15 UTC
        ("Europe/Berlin", "Asia/Kathmandu", MONDAY, "3.25"),
        # Adelaide in its summer (+10:30) works 22:30-06:30 UTC, the day before in UTC
        ("Asia/Kolkata", "Australia/Adelaide", MONDAY, "3"),
        # ... and in its winter (+9:30) 23:30-07:30 UTC
        ("Asia/Kolkata", "Australia/Adelaide", date(2026, 7, 13), "4"),
        # Los Angeles' Monday (17:00-01:00 UTC) meets Auckland's Tuesday (20:00-04:00 UTC, +13)
        ("America/Los_Angeles", "Pacific/Auckland", MONDAY, "5"),
        # Los Angeles' Friday afternoon is Saturday morning in Auckland: nobody there works
        ("America/Los_Angeles", "Pacific/Auckland", date(2026, 1, 16), "0"),
        # July: Los Angeles on PDT (-7), Auckland on NZST (+12)
        ("America/Los_Angeles", "Pacific/Auckland", date(2026, 7, 13), "3"),
        # seen from Auckland: its Monday is Sunday in Los Angeles, its Tuesday meets LA's Monday
        ("Pacific/Auckland", "America/Los_Angeles", MONDAY, "0"),
        ("Pacific/Auckland", "America/Los_Angeles", date(2026, 1, 13), "5"),
        ("Europe/Berlin", "Europe/Berlin", MONDAY, "8"),
        ("America/New_York", "Asia/Tokyo", MONDAY, "0"),
    ],
)
def test_overlap_hours_on_real_dates(customer: str, pse_zone: str, day: date, hours: str) -> None:
    assert overlap_hours(customer, pse_zone, day) == Decimal(hours)


def test_overlap_uses_the_configured_working_day() -> None:
    # 08:00-18:00 on both sides: London 08:00-18:00 UTC, Kolkata 02:30-12:30 UTC
    long_day = (time(8), time(18))
    assert overlap_hours("Europe/London", "Asia/Kolkata", MONDAY, long_day) == Decimal("4.5")
    assert overlap_hours("Europe/London", "Asia/Kolkata", MONDAY) == Decimal("2.5")

    policy = StaffingPolicy(working_day=long_day)
    wanted = need(time_zone="Europe/London")
    zone = _candidate(assess(pse("kai", time_zone="Asia/Kolkata"), wanted, policy=policy))
    assert zone.score(Criterion.TIME_ZONE).points == Decimal("9.0")  # 4.5 of 10 h, of 20 points
    assert zone.score(Criterion.TIME_ZONE).explanation.startswith(
        "4.5 h of the customer's 10 h day on average"
    )


def test_dst_switches_inside_the_window_are_counted_day_by_day() -> None:
    # New York moves to EDT on 8 March 2026, London to BST on 29 March: for three weeks the two
    # cities overlap 4 h instead of 3 h.
    start, end = date(2026, 3, 2), date(2026, 4, 3)
    assert overlap_hours("America/New_York", "Europe/London", date(2026, 3, 6)) == 3
    assert overlap_hours("America/New_York", "Europe/London", date(2026, 3, 9)) == 4
    assert overlap_hours("America/New_York", "Europe/London", date(2026, 3, 30)) == 3

    londoner = pse("lena_london", time_zone="Europe/London")
    result = assess(londoner, need(time_zone="America/New_York", start=start, end=end))
    assert isinstance(result, Candidate)
    zone = result.score(Criterion.TIME_ZONE)
    assert zone.points == Decimal("9.0")  # (5·3 + 15·4 + 5·3) / 25 days = 3.6 h of 8, of 20 points
    assert zone.explanation == (
        "3.6 h of the customer's 8 h day on average "
        "(Europe/London vs America/New_York, 3–4 h by day)"
    )


def test_date_line_week_averages_in_the_friday_without_overlap() -> None:
    kiwi = pse("kiri_auckland", time_zone="Pacific/Auckland")
    result = assess(kiwi, need(time_zone="America/Los_Angeles", end=date(2026, 1, 16)))
    assert isinstance(result, Candidate)
    zone = result.score(Criterion.TIME_ZONE)
    assert zone.points == Decimal("10.0")  # 4 days × 5 h + 0 h on Friday = 4 h average of 8
    assert "0–5 h by day" in zone.explanation


def test_better_overlap_ranks_higher_all_else_equal() -> None:
    near = pse("nina_near", time_zone="Europe/Paris")
    far = pse("fred_far", time_zone="Asia/Kathmandu")
    result = recommend(need(), [far, near])
    assert emails(result.candidates) == [near.email, far.email]
    assert result.candidates[1].score(Criterion.TIME_ZONE).points == Decimal("8.1")  # 3.25/8 of 20


# --- growth path and personality -----------------------------------------------------------------


def test_growth_goal_counts_only_within_reach() -> None:
    within = pse(
        "gia_grows", skills={"gitlab-ci": 4, "kubernetes": 2}, growth_goals=("kubernetes",)
    )
    too_far = pse("tom_new", skills={"gitlab-ci": 4}, growth_goals=("kubernetes",))
    unrelated = pse("una_other", growth_goals=("leadership",))
    scores = {
        p.email: _candidate(assess(p, need())).score(Criterion.GROWTH)
        for p in (within, too_far, unrelated)
    }
    assert scores[within.email].points == Decimal("10.0")
    assert scores[within.email].explanation == "practises growth goal kubernetes (2, 4 required)"
    assert scores[too_far.email].points == Decimal("0.0")
    assert scores[too_far.email].explanation == (
        "wants kubernetes (new, 4 required): more than 2 levels short"
    )
    assert scores[unrelated.email].explanation == "no growth goal used here (wants leadership)"


def test_personality_is_the_share_of_the_customers_style_the_pse_shares() -> None:
    style = ("direct", "hands-on")
    half = _candidate(
        assess(pse("hal_f", traits=("hands-on", "calm")), need(communication_style=style))
    )
    assert half.score(Criterion.PERSONALITY).points == Decimal("5.0")
    assert half.score(Criterion.PERSONALITY).explanation == (
        "shares hands-on of the customer's style (direct, hands-on)"
    )
    none = _candidate(assess(pse("nic_o", traits=()), need(communication_style=style)))
    assert none.score(Criterion.PERSONALITY).points == Decimal("0.0")
    assert "PSE traits: none recorded" in none.score(Criterion.PERSONALITY).explanation
    unknown = _candidate(assess(pse("uma_k"), need(communication_style=())))
    assert unknown.score(Criterion.PERSONALITY).points == Decimal("10.0")


# --- availability --------------------------------------------------------------------------------


def test_fully_booked_pse_is_excluded_with_the_reason() -> None:
    busy, free = pse("bea_busy"), pse("fay_free", skills={"gitlab-ci": 1})
    allocations = {busy.email: [booked(MONDAY - timedelta(days=30), FRIDAY + timedelta(days=30))]}
    result = recommend(need(), [busy, free], allocations, policy=StaffingPolicy(threshold=0))

    assert emails(result.candidates) == [free.email]
    assert result.unavailable == (
        Unavailable(
            pse=busy,
            reason="no capacity on any of the 10 business days of the window "
            "(fully booked; 8 h/day needed)",
        ),
    )
    assert result.picks[0].pse == free  # the weaker PSE who is free, never the booked expert


def test_partial_bookings_and_part_time_needs() -> None:
    half_booked = [booked(MONDAY, FRIDAY, minutes=240)]
    part_time = need(hours_per_day=Decimal(4))
    fits = _candidate(assess(pse("pia"), part_time, half_booked))
    assert fits.score(Criterion.AVAILABILITY).points == Decimal("20.0")

    too_busy = assess(pse("pia"), part_time, [booked(MONDAY, FRIDAY, minutes=360)])
    assert isinstance(too_busy, Unavailable)
    assert "at most 2 h free on any day; 4 h/day needed" in too_busy.reason

    # booked in the first week only: free on 5 of 10 business days; weekend bookings do not count
    first_week = [booked(MONDAY, date(2026, 1, 16)), booked(date(2026, 1, 17), date(2026, 1, 18))]
    partly = _candidate(assess(pse("pia"), need(), first_week))
    availability = partly.score(Criterion.AVAILABILITY)
    assert availability.points == Decimal("10.0")
    assert availability.explanation == (
        "free 8 h/day on 5 of 10 business days; booked from 2026-01-12 on 5 of them"
    )


def test_allocations_match_the_email_ignoring_case() -> None:
    person = pse("cara_case")
    result = recommend(need(), [person], {"Cara_Case@NORTHWIND.example": [booked(MONDAY, FRIDAY)]})
    assert emails(result.unavailable) == [person.email]


# --- partner fallback ----------------------------------------------------------------------------


def test_nobody_available_suggests_the_best_partner_by_skills() -> None:
    roster = [pse("ava"), pse("ben")]
    allocations = {p.email: [booked(MONDAY, FRIDAY)] for p in roster}
    result = recommend(need(), roster, allocations, PARTNERS)

    assert result.candidates == ()
    assert result.picks == ()
    assert result.needs_partner
    assert result.partner is not None
    assert result.partner.partner.name == "Fabrikam DevOps Partners"  # covers both skills
    assert result.partner.skills.points == Decimal("40.0")
    assert result.decision == (
        "nobody internal is available in the window (2 PSEs booked); "
        "suggest partner Fabrikam DevOps Partners"
    )
    assert "*Partner suggestion: Fabrikam DevOps Partners*" in result.summary()


def test_everyone_below_threshold_suggests_a_partner() -> None:
    weak = [
        pse("wes", skills={"gitlab-ci": 1}, time_zone="Asia/Tokyo"),
        pse("wim", skills={"python": 5}, traits=()),
    ]
    result = recommend(need(), weak, partners=PARTNERS)
    assert result.candidates
    assert all(c.total < 60 for c in result.candidates)
    assert result.picks == ()
    assert result.partner is not None
    assert result.partner.partner.name == "Fabrikam DevOps Partners"
    best = result.candidates[0]
    assert result.decision.startswith(
        f"no PSE reaches the threshold of 60 points (best: {best.pse.name} with {best.total})"
    )
    assert "*Best internal candidate:" in result.summary()


def test_the_threshold_is_inclusive_and_a_strong_candidate_needs_no_partner() -> None:
    expert = pse("eve")  # full marks: skills, same zone, style, free; no growth goal
    result = recommend(need(), [expert], partners=PARTNERS, policy=StaffingPolicy(threshold=90))
    assert result.candidates[0].total == Decimal("90.0")
    assert result.picks == result.candidates
    assert result.partner is None


def test_no_partner_when_none_covers_a_required_skill() -> None:
    assert suggest_partner(need(required_skills={"cobol": 3}), PARTNERS) is None
    assert suggest_partner(need(), []) is None
    result = recommend(need(required_skills={"cobol": 3}), [], partners=PARTNERS)
    assert result.partner is None
    assert result.decision.endswith("and no partner on file covers a required skill")


def test_partner_ties_break_by_name() -> None:
    twins = [
        Partner(name="Zeta Ltd", email="a@zeta.example", skills={"kubernetes": 4}),
        Partner(name="Alpha Ltd", email="z@alpha.example", skills={"kubernetes": 4}),
    ]
    for order in (twins, twins[::-1]):
        suggestion = suggest_partner(need(required_skills={"kubernetes": 4}), order)
        assert suggestion is not None
        assert suggestion.partner.name == "Alpha Ltd"


# --- ranking, totals, rendering ------------------------------------------------------------------


def test_ties_break_by_email_whatever_the_roster_order() -> None:
    twins = [pse("zoe"), pse("adam"), pse("mia")]
    results = [recommend(need(), order) for order in (twins, twins[::-1], twins[1:] + twins[:1])]
    assert all(result == results[0] for result in results)
    assert emails(results[0].candidates) == sorted(p.email for p in twins)
    assert results[0].picks[0].pse.email == "adam@northwind.example"
    assert results[0].summary() == results[1].summary()


def test_breakdown_sums_exactly_to_the_total_in_the_model_and_on_screen() -> None:
    # thirds and half-hour overlaps: shares that are not exact decimals
    person = pse(
        "tia", time_zone="Asia/Kolkata", skills={"gitlab-ci": 3, "kubernetes": 2, "helm": 1}
    )
    three = need(required_skills={"gitlab-ci": 4, "kubernetes": 3, "helm": 3})
    candidate = _candidate(assess(person, three, [booked(MONDAY, MONDAY)]))
    assert candidate.total == sum(s.points for s in candidate.breakdown)
    assert candidate.score(Criterion.SKILLS).points == Decimal("23.3")  # (3/4 + 2/3 + 1/3)/3 × 40

    result = recommend(three, [person], {person.email: [booked(MONDAY, MONDAY)]})
    for row in result.table_rows():
        shown = [row[c.value].split("/")[0] for c in Criterion]
        assert sum(Decimal(points) for points in shown) == Decimal(row["total"])
    text = result.summary()
    bullets = re.findall(r"^• [a-z ]+ (\d+\.\d)/", text, flags=re.MULTILINE)
    assert len(bullets) == len(Criterion)
    assert sum(Decimal(points) for points in bullets) == candidate.total
    assert f"{candidate.total} of 100 points" in text


def test_a_candidate_whose_parts_do_not_add_up_is_refused() -> None:
    candidate = _candidate(assess(pse("ida"), need()))
    with pytest.raises(ValidationError, match="is not the sum of its breakdown"):
        Candidate(pse=candidate.pse, total=candidate.total + 1, breakdown=candidate.breakdown)


def test_table_rows_have_the_same_string_columns() -> None:
    roster = [pse("ann"), pse("bo", skills={"python": 3}), pse("cy")]
    allocations = {"cy@northwind.example": [booked(MONDAY, FRIDAY)]}
    result = recommend(need(), roster, allocations, PARTNERS, StaffingPolicy(threshold=100))
    rows = result.table_rows()
    columns = ["rank", "name", "email", "status", "total", *(c.value for c in Criterion)]
    assert all(list(row) == columns for row in rows)
    assert all(isinstance(value, str) for row in rows for value in row.values())
    assert [row["status"] for row in rows] == [
        "below threshold",
        "below threshold",
        "unavailable",
        "partner suggestion",
    ]
    assert rows[0]["skills"] == (
        "40.0/40 – meets every required skill: gitlab-ci 4 ≥ 4, kubernetes 4 ≥ 4"
    )
    assert rows[2]["availability"].startswith("no capacity on any of the 10 business days")


def test_summary_escapes_slack_markup_and_states_the_decision() -> None:
    gapped = pse("gil", skills={"gitlab-ci": 4, "kubernetes": 3})
    text = recommend(need(customer="Smith & Sons <UK>"), [gapped]).summary()
    assert text.splitlines()[0] == (
        "*Staffing proposal: Globex – Kubernetes Integration (Smith &amp; Sons &lt;UK&gt;)*"
    )
    assert "kubernetes 3 &lt; 4 required" in text
    assert "<" not in text
    assert ">" not in text
    assert "*Decision:* propose Gil:" in text
    assert text.endswith("nobody is booked until the PS Project Coordinator approves._")


# --- inputs --------------------------------------------------------------------------------------


def test_need_from_an_opportunity() -> None:
    opportunity = factories.opportunity(
        close_date=date(2026, 1, 1), expected_start=MONDAY, expected_completion=FRIDAY
    )
    derived = StaffingNeed.from_opportunity(opportunity, hours_per_day=Decimal(4))
    assert derived.required_skills == {"gitlab-ci": 4, "kubernetes": 3}
    assert derived.communication_style == ("direct", "hands-on")
    assert (derived.time_zone, derived.start, derived.end) == ("America/Chicago", MONDAY, FRIDAY)
    assert derived.customer == "Acme Corporation"
    later = StaffingNeed.from_opportunity(opportunity, start=FRIDAY)
    assert later.business_days == (FRIDAY,)

    undated = opportunity.model_copy(update={"expected_start": None})
    with pytest.raises(ValueError, match="has no expected start and completion"):
        StaffingNeed.from_opportunity(undated)


def test_invalid_inputs_say_what_is_wrong() -> None:
    with pytest.raises(ValidationError, match="has no business day"):
        need(start=date(2026, 1, 17), end=date(2026, 1, 18))
    with pytest.raises(ValidationError, match="must be on or after start"):
        need(end=MONDAY - timedelta(days=1))
    with pytest.raises(ValidationError, match="nobody could ever reach it"):
        StaffingPolicy(threshold=101)
    with pytest.raises(ValidationError, match="start before end"):
        StaffingPolicy(working_day=(time(17), time(9)))
    with pytest.raises(ValidationError, match="no more than 1 decimal place"):
        StaffingPolicy(skills=Decimal("12.25"))
    with pytest.raises(ValueError, match="more than one PSE's daily capacity"):
        recommend(need(hours_per_day=Decimal(10)), [pse("al")])
    with pytest.raises(ValueError, match=r"more than once: al@northwind\.example"):
        recommend(need(), [pse("al"), pse("al")])


def test_business_days_skip_weekends() -> None:
    assert business_days(date(2026, 1, 16), date(2026, 1, 19)) == (
        date(2026, 1, 16),
        date(2026, 1, 19),
    )


def test_seed_roster_gives_a_complete_deterministic_proposal() -> None:
    from sandbox import seed

    roster = [
        pse(
            p.key,
            email=p.email,
            name=p.name,
            title=p.title,
            time_zone=p.time_zone,
            skills=p.skills,
            growth_goals=p.growth_goals,
            traits=p.traits,
        )
        for p in seed.PSES
    ]
    day0 = date(2026, 6, 1)  # the seed's dates are relative to "today"; fixed here
    allocations: dict[str, list[Allocation]] = {}
    for b in seed.BOOKINGS:
        first = day0 + timedelta(days=b.start_in_days)
        allocations.setdefault(seed.staff(b.pse).email, []).append(
            booked(first, first + timedelta(days=b.days - 1), b.minutes_per_day)
        )
    partners = [Partner(name=n, email=e, skills=s) for n, e, s in seed.PARTNERS]
    for opportunity in seed.OPPORTUNITIES[1:]:
        start = day0 + timedelta(days=opportunity.start_in_days)
        wanted = need(
            engagement=opportunity.name,
            customer=opportunity.account.name,
            required_skills=opportunity.skills,
            time_zone=opportunity.account.time_zone,
            communication_style=opportunity.account.communication,
            start=start,
            end=start + timedelta(weeks=opportunity.weeks, days=-1),
        )
        result = recommend(wanted, roster, allocations, partners)
        _check_invariants(result, roster)
        assert result == recommend(wanted, roster[::-1], allocations, partners)


# --- properties ----------------------------------------------------------------------------------

SKILLS = ("gitlab-ci", "kubernetes", "helm", "python", "security")
TRAITS = ("calm", "formal", "written", "verbal", "hands-on")
ZONES = (
    "UTC",
    "America/Los_Angeles",
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Adelaide",
    "Pacific/Auckland",
    "Pacific/Chatham",  # +12:45 / +13:45
)
skill_maps = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=4)
tag_tuples = st.lists(st.sampled_from(TRAITS), max_size=3, unique=True).map(tuple)


@st.composite
def needs(draw: st.DrawFn) -> StaffingNeed:
    start = date(2026, 1, 5) + timedelta(days=draw(st.integers(0, 360)))
    start += timedelta(days=max(0, 7 - start.weekday()) if start.weekday() >= 5 else 0)
    return StaffingNeed(
        required_skills=draw(skill_maps),
        time_zone=draw(st.sampled_from(ZONES)),
        communication_style=draw(tag_tuples),
        start=start,
        end=start + timedelta(days=draw(st.integers(0, 27))),
        hours_per_day=Decimal(draw(st.sampled_from((2, 4, 6, 8)))),
    )


@st.composite
def rosters(draw: st.DrawFn) -> list[Pse]:
    count = draw(st.integers(0, 5))
    # emails drawn from a small pool so equal scores, and so tie-breaks, are common
    keys = draw(st.lists(st.sampled_from("abcdefgh"), min_size=count, max_size=count, unique=True))
    return [
        pse(
            f"pse_{key}",
            time_zone=draw(st.sampled_from(ZONES[:4])),
            skills=draw(skill_maps),
            growth_goals=draw(st.lists(st.sampled_from(SKILLS), max_size=2, unique=True)),
            traits=draw(tag_tuples),
        )
        for key in keys
    ]


def allocation_lists(start: date) -> st.SearchStrategy[list[Allocation]]:
    def make(offset: int, days: int, minutes: int) -> Allocation:
        first = start + timedelta(days=offset)
        return booked(first, first + timedelta(days=days), minutes)

    one = st.builds(
        make, st.integers(-10, 30), st.integers(0, 30), st.sampled_from((0, 120, 240, 480))
    )
    return st.lists(one, max_size=3)


policies = st.builds(
    lambda weights, share: StaffingPolicy(
        **dict(
            zip(
                ("skills", "time_zone", "growth", "personality", "availability"),
                weights,
                strict=True,
            )
        ),
        threshold=(sum(weights, Decimal(0)) * share).quantize(Decimal("0.1"), rounding=ROUND_DOWN),
    ),
    st.lists(st.integers(0, 100).map(lambda n: Decimal(n) / 2), min_size=5, max_size=5),
    st.sampled_from((Decimal(0), Decimal("0.4"), Decimal("0.6"), Decimal(1))),
)


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[StaffingNeed, list[Pse], dict[str, list[Allocation]], StaffingPolicy]:
    wanted, roster = draw(needs()), draw(rosters())
    allocations = {p.email: draw(allocation_lists(wanted.start)) for p in roster}
    return wanted, roster, allocations, draw(policies)


def _candidate(result: Candidate | Unavailable) -> Candidate:
    assert isinstance(result, Candidate), result
    return result


def _check_invariants(result: Recommendation, roster: Sequence[Pse]) -> None:
    policy = result.policy
    assert sorted(emails(result.candidates) + emails(result.unavailable)) == sorted(
        p.email for p in roster
    )
    for candidate in result.candidates:
        assert [s.criterion for s in candidate.breakdown] == list(Criterion)
        for score in candidate.breakdown:
            assert score.max_points == policy.weight(score.criterion)
            assert Decimal(0) <= score.points <= score.max_points
            assert score.points == score.points.quantize(Decimal("0.1"))
        assert candidate.total == sum(s.points for s in candidate.breakdown)
        assert Decimal(0) <= candidate.total <= policy.max_total
    keys = [(-c.total, c.pse.email) for c in result.candidates]
    assert keys == sorted(keys)  # totals non-increasing, ties by e-mail
    assert emails(result.unavailable) == sorted(emails(result.unavailable))
    if result.candidates and result.candidates[0].total >= policy.threshold:
        assert result.picks == result.candidates[:1]
    else:
        assert result.picks == ()
    assert result.partner is None or not result.picks
    for row in result.table_rows():
        if row["status"] not in ("unavailable", "partner suggestion"):
            points = [Decimal(row[c.value].split("/")[0]) for c in Criterion]
            assert sum(points) == Decimal(row["total"])


@PROPERTY
@given(scenarios())
def test_scores_are_bounded_sum_to_the_total_and_rank_in_order(
    scenario: tuple[StaffingNeed, list[Pse], dict[str, list[Allocation]], StaffingPolicy],
) -> None:
    wanted, roster, allocations, policy = scenario
    _check_invariants(recommend(wanted, roster, allocations, PARTNERS, policy), roster)


@PROPERTY
@given(scenarios(), st.data())
def test_the_result_does_not_depend_on_roster_order(
    scenario: tuple[StaffingNeed, list[Pse], dict[str, list[Allocation]], StaffingPolicy],
    data: st.DataObject,
) -> None:
    wanted, roster, allocations, policy = scenario
    shuffled = data.draw(st.permutations(roster))
    first = recommend(wanted, roster, allocations, PARTNERS, policy)
    second = recommend(wanted, shuffled, allocations, PARTNERS[::-1], policy)
    assert first == second
    assert first.summary() == second.summary()
    assert first.table_rows() == second.table_rows()


@PROPERTY
@given(needs(), skill_maps, st.sampled_from(SKILLS), st.integers(1, 4))
def test_raising_a_skill_level_never_lowers_skill_points(
    wanted: StaffingNeed, skills: dict[str, int], skill: str, raise_by: int
) -> None:
    before = pse("ray", skills=skills)
    after = pse("ray", skills=skills | {skill: min(5, skills.get(skill, 0) + raise_by)})
    points = [_candidate(assess(p, wanted)).score(Criterion.SKILLS).points for p in (before, after)]
    assert points[0] <= points[1]


@PROPERTY
@given(needs(), policies, st.data())
def test_adding_a_booking_never_raises_availability(
    wanted: StaffingNeed, policy: StaffingPolicy, data: st.DataObject
) -> None:
    person = pse("bea")
    existing = data.draw(allocation_lists(wanted.start))
    extra = data.draw(allocation_lists(wanted.start).filter(bool))

    def availability(allocations: list[Allocation]) -> Decimal:
        result = assess(person, wanted, allocations, policy)
        if isinstance(result, Unavailable):
            return Decimal(0)
        return result.score(Criterion.AVAILABILITY).points

    assert availability(existing + extra) <= availability(existing)
