"""The Plan phase's rules: milestones spread by hours over working days, and the hard/soft split."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engagement.lifecycle import Team
from engagement.plan import (
    TeamAllocation,
    add_months,
    hard_until,
    kickoff_deck_values,
    milestones,
    split_booking,
)
from engagement.workdays import business_days, working_day
from testkit.factories import opportunity

MONDAY = date(2027, 1, 4)


def test_milestones_follow_the_sow_order_and_the_hours() -> None:
    hours = {"PS-A": Decimal(40), "PS-B": Decimal(120), "PS-C": Decimal(40)}
    friday = MONDAY + timedelta(days=25)  # four weeks: 20 working days
    plan = milestones([(code, code.lower(), h) for code, h in hours.items()], MONDAY, friday)
    assert [(m.code, m.start, m.due) for m in plan] == [
        ("PS-A", date(2027, 1, 4), date(2027, 1, 7)),  # 20% of the hours: 4 working days
        ("PS-B", date(2027, 1, 8), date(2027, 1, 25)),  # 60%: 12
        ("PS-C", date(2027, 1, 26), date(2027, 1, 29)),  # 20%: 4
    ]
    assert [m.hours for m in plan] == list(hours.values())


def test_a_public_holiday_is_no_milestone_day() -> None:
    christmas_week = milestones(
        [("PS-A", "Assess", Decimal(8))], date(2026, 12, 24), date(2026, 12, 28), "DE"
    )
    assert (christmas_week[0].start, christmas_week[0].due) == (
        date(2026, 12, 24),
        date(2026, 12, 28),
    )
    assert not working_day(date(2026, 12, 25), "DE")


def test_activities_without_hours_get_equal_shares() -> None:
    plan = milestones([("A", "a", Decimal(0)), ("B", "b", Decimal(0))], MONDAY, date(2027, 1, 15))
    assert [len(business_days(m.start, m.due)) for m in plan] == [5, 5]


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (date(2027, 1, 15), MONDAY, "before the start"),
        (date(2027, 1, 9), date(2027, 1, 10), "no working day"),  # a weekend
    ],
)
def test_a_window_without_working_days_is_refused(start: date, end: date, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        milestones([("A", "a", Decimal(1))], start, end)


ACTIVITIES = st.lists(
    st.decimals(min_value=0, max_value=1000, places=1), min_size=1, max_size=12
).map(lambda hours: [(f"PS-{n}", f"activity {n}", h) for n, h in enumerate(hours)])


@given(ACTIVITIES, st.dates(date(2026, 1, 1), date(2028, 12, 31)), st.integers(0, 200))
def test_every_plan_covers_the_window_in_order_on_working_days(
    activities: list[tuple[str, str, Decimal]], start: date, length: int
) -> None:
    end = start + timedelta(days=length)
    days = business_days(start, end, "US")
    if not days:
        return
    plan = milestones(activities, start, end, "US")
    assert [m.code for m in plan] == [code for code, _, _ in activities]
    assert plan[0].start == days[0]
    assert plan[-1].due == days[-1]
    for milestone in plan:
        assert milestone.start <= milestone.due
        assert working_day(milestone.start, "US")
        assert working_day(milestone.due, "US")
    for before, after in itertools.pairwise(plan):
        assert before.due <= after.start  # in SOW order, never overlapping by more than a day


def test_months_ahead_keep_the_day_or_the_months_last() -> None:
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 12, 5), 2) == date(2027, 2, 5)
    assert add_months(date(2026, 11, 30), 14) == date(2028, 1, 30)


def test_hard_allocations_reach_two_months_ahead_of_the_start_or_today() -> None:
    assert hard_until(date(2027, 1, 4), today=date(2026, 12, 5)) == date(2027, 3, 3)
    assert hard_until(date(2026, 11, 2), today=date(2026, 12, 5)) == date(2027, 2, 4)


@given(
    st.dates(date(2026, 1, 1), date(2028, 12, 31)),
    st.integers(0, 400),
    st.dates(date(2026, 1, 1), date(2028, 12, 31)),
)
def test_a_split_booking_is_the_booking_hard_then_soft(
    start: date, length: int, today: date
) -> None:
    end = start + timedelta(days=length)
    hard, soft = split_booking(start, end, today)
    parts = [part for part in (hard, soft) if part]
    assert parts[0][0] == start
    assert parts[-1][1] == end
    if hard and soft:
        assert soft[0] == hard[1] + timedelta(days=1)
    # nothing soft is left in the month of today (or of the start, when that is later)
    month = max(start, today)
    assert soft is None or (soft[0].year, soft[0].month) > (month.year, month.month)


def test_the_kickoff_deck_names_each_person_once_with_their_role() -> None:
    team = Team(
        engagement_manager="em@northwind.test",
        coordinator="pc@northwind.test",
        pses=("divya@northwind.test", "marcus@northwind.test"),
        project_owner="divya@northwind.test",
    )
    allocation = TeamAllocation(
        start=date(2027, 1, 4), end=date(2027, 1, 29), hours_per_day={"divya@northwind.test": 8}
    )
    values = kickoff_deck_values(
        opportunity(sow_number="SOW-2026-041"),
        team,
        {"divya@northwind.test": "Divya Nair"},
        allocation,
        (),
    )
    assert values["team"] == (
        "Divya Nair (Project Owner), em@northwind.test (Engagement Manager), "
        "marcus@northwind.test (PSE)"
    )
    assert (values["sow_number"], values["start"], values["end"]) == (
        "SOW-2026-041",
        "2027-01-04",
        "2027-01-29",
    )
