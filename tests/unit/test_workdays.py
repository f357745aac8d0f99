"""Working days and hours, and the meeting times built on them: every attendee at work, on a
working day of their own, whatever the customer's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engagement.workdays import (
    at_work,
    business_day_after,
    business_days,
    meeting_slot,
    working_day,
)

HALF_HOUR = timedelta(minutes=30)
US_TEAM = {
    "marcus.webb@northwind.example": "America/New_York",  # the engagement manager organises
    "priya.raman@northwind.example": "America/Chicago",
    "dana.cole@northwind.example": "America/Denver",
}
FRIDAY = date(2026, 1, 9)


def test_an_internal_meeting_is_held_in_the_teams_hours_not_the_customers() -> None:
    # a Kolkata customer used to put this US team's alignment at 21:30 Eastern
    slot = meeting_slot(FRIDAY, 1, HALF_HOUR, "America/New_York", US_TEAM)
    # Monday, as near 10:00 New York as Denver allows (its 9:00)
    assert slot.start == datetime.fromisoformat("2026-01-12T11:00:00-05:00")
    assert slot.outside_hours == ()
    assert all(at_work(zone, slot.start, slot.end) for zone in US_TEAM.values())


def test_a_friday_close_is_counted_in_the_organisers_calendar() -> None:
    # a Pacific/Chatham customer's Monday started on the US Sunday; the organiser's Monday now
    slot = meeting_slot(FRIDAY, 1, HALF_HOUR, "America/New_York", US_TEAM)
    assert [slot.start.astimezone(ZoneInfo(zone)).weekday() for zone in US_TEAM.values()] == [
        0,
        0,
        0,
    ]


def test_the_next_day_everyone_works_when_one_attendees_day_is_a_weekend() -> None:
    # Los Angeles 16:00 is Tokyo 9:00 the next morning: a Friday afternoon is Tokyo's Saturday
    team = {"pm": "America/Los_Angeles", "ta": "Asia/Tokyo"}
    slot = meeting_slot(date(2026, 1, 8), 1, HALF_HOUR, "America/Los_Angeles", team)
    assert slot.start == datetime.fromisoformat("2026-01-12T16:00:00-08:00")  # Monday in LA
    assert slot.start.astimezone(ZoneInfo("Asia/Tokyo")).isoformat() == (
        "2026-01-13T09:00:00+09:00"
    )
    assert slot.outside_hours == ()


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "Asia/Kathmandu", "Asia/Tokyo"])
def test_without_any_shared_hour_the_best_time_is_taken_and_who_is_outside_said(
    zone: str,
) -> None:
    # New York's working day is the night in +05:30, +05:45 and +09:00
    team = {"em": "America/New_York", "pse": zone}
    slot = meeting_slot(FRIDAY, 1, HALF_HOUR, "America/New_York", team)
    assert slot.outside_hours == ("pse",)
    assert slot.start == datetime.fromisoformat("2026-01-12T10:00:00-05:00")  # as preferred
    assert not at_work(zone, slot.start, slot.end)
    assert "outside theirs: pse" in slot.note()


def test_quarter_hour_offsets_meet_inside_both_days() -> None:
    # Berlin and Kolkata share 09:00-12:30 Berlin time in January
    team = {"em": "Europe/Berlin", "pse": "Asia/Kolkata"}
    slot = meeting_slot(FRIDAY, 1, timedelta(minutes=45), "Europe/Berlin", team)
    assert slot.start == datetime.fromisoformat("2026-01-12T10:00:00+01:00")
    assert slot.outside_hours == ()
    late = meeting_slot(FRIDAY, 1, timedelta(minutes=45), "Europe/Berlin", team, preferred_hour=15)
    assert late.start == datetime.fromisoformat("2026-01-12T11:45:00+01:00")  # Kolkata's 16:15
    assert at_work("Asia/Kolkata", late.start, late.end)


def test_at_work_across_midnight_and_on_weekends() -> None:
    saturday_morning_tokyo = datetime(2026, 1, 10, 0, 30, tzinfo=UTC)
    assert not at_work("Asia/Tokyo", saturday_morning_tokyo, saturday_morning_tokyo + HALF_HOUR)
    friday_evening_la = saturday_morning_tokyo  # 16:30 on Friday in Los Angeles
    assert at_work("America/Los_Angeles", friday_evening_la, friday_evening_la + HALF_HOUR)
    closing = datetime(2026, 1, 12, 21, 45, tzinfo=UTC)  # 16:45 New York: ends after 17:00
    assert not at_work("America/New_York", closing, closing + HALF_HOUR)


ZONES = st.sampled_from(
    [
        "America/New_York",
        "America/Los_Angeles",
        "Europe/London",
        "Europe/Berlin",
        "Asia/Kolkata",
        "Asia/Tokyo",
        "Australia/Sydney",
        "Pacific/Chatham",
        "Africa/Lagos",
    ]
)


@given(
    st.dictionaries(st.text("abcdef", min_size=1, max_size=3), ZONES, min_size=1, max_size=4),
    st.dates(date(2026, 1, 1), date(2027, 12, 31)),
    st.sampled_from([15, 30, 45, 60]),
)
def test_a_slot_is_on_the_organisers_working_day_and_names_exactly_who_is_outside(
    team: dict[str, str], after: date, minutes: int
) -> None:
    organiser = next(iter(team.values()))
    slot = meeting_slot(after, 1, timedelta(minutes=minutes), organiser, team)
    assert at_work(organiser, slot.start, slot.end)
    assert slot.start.date() > after
    assert slot.end - slot.start == timedelta(minutes=minutes)
    assert set(slot.outside_hours) == {
        name for name, zone in team.items() if not at_work(zone, slot.start, slot.end)
    }


def test_the_customers_public_holidays_are_not_working_days() -> None:
    wednesday = date(2026, 11, 25)  # the day before Thanksgiving (US), a working day in Germany
    assert business_day_after(wednesday, 1) == date(2026, 11, 26)
    assert business_day_after(wednesday, 1, "US") == date(2026, 11, 27)
    christmas = business_days(date(2026, 12, 24), date(2026, 12, 28), "DE")  # Thursday to Monday
    assert christmas == (date(2026, 12, 24), date(2026, 12, 28))  # 25th and 26th are holidays
    slot = meeting_slot(wednesday, 1, HALF_HOUR, "America/New_York", US_TEAM, country="US")
    assert slot.start.date() == date(2026, 11, 27)


def test_a_country_without_a_calendar_is_refused_by_name() -> None:
    with pytest.raises(NotImplementedError, match="ZZ"):
        working_day(date(2026, 1, 5), "ZZ")
