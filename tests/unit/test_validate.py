"""Validate's passive-acceptance clock, by the handbook's rule: day 1 is the send day when it is a
business day of the customer (else the next one), and the activity is accepted when day 5 ends, at
midnight in the customer's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engagement.validate import (
    Acceptance,
    How,
    fee_shares,
    first_day,
    minor_units,
    passive_deadline,
    sent_at,
    sent_note,
)


def local(zone: str, *moment: int) -> datetime:
    return datetime(*moment, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


# The clock's table: when the request was sent, where the customer is, and the moment it ends
CASES = [
    pytest.param(
        local("America/New_York", 2027, 1, 4, 10),  # a Monday
        "America/New_York",
        "US",
        local("America/New_York", 2027, 1, 9),  # day 5 is Friday: Saturday's midnight
        id="a Monday send ends with Friday",
    ),
    pytest.param(
        local("America/New_York", 2027, 1, 8, 16),  # a Friday: day 1
        "America/New_York",
        "US",
        local("America/New_York", 2027, 1, 15),  # Fri, Mon, Tue, Wed, Thu
        id="a Friday send counts Friday as day 1",
    ),
    pytest.param(
        local("America/New_York", 2027, 1, 9, 11),  # a Saturday
        "America/New_York",
        "US",
        local("America/New_York", 2027, 1, 16),  # day 1 is Monday the 11th
        id="a Saturday send counts from Monday",
    ),
    pytest.param(
        local("America/New_York", 2026, 12, 24, 9),  # Christmas Eve; the 25th is a holiday
        "America/New_York",
        "US",
        local("America/New_York", 2027, 1, 1),  # Thu 24, Mon 28, Tue, Wed, Thu 31
        id="the day before a holiday skips it",
    ),
    pytest.param(
        local("America/New_York", 2027, 1, 15, 12),  # Friday; Monday the 18th is MLK Day
        "America/New_York",
        "US",
        local("America/New_York", 2027, 1, 23),  # Fri 15, Tue 19, Wed, Thu, Fri 22: Saturday
        id="a holiday inside the five days",
    ),
    pytest.param(
        datetime(2027, 1, 8, 19, 0, tzinfo=UTC),  # Friday in UTC, Saturday 00:30 in Kolkata
        "Asia/Kolkata",
        "IN",
        local("Asia/Kolkata", 2027, 1, 16),  # day 1 is Monday the 11th there
        id="+05:30: the customer's date, not UTC's",
    ),
    pytest.param(
        datetime(2027, 1, 10, 10, 0, tzinfo=UTC),  # Sunday in UTC, Sunday 23:45 in Chatham
        "Pacific/Chatham",
        "NZ",
        local("Pacific/Chatham", 2027, 1, 16),
        id="+13:45 (Chatham's summer +12:45 standard): Sunday late counts from Monday",
    ),
    pytest.param(
        datetime(2027, 1, 10, 10, 30, tzinfo=UTC),  # Monday 00:15 in Chatham: day 1 itself
        "Pacific/Chatham",
        "NZ",
        local("Pacific/Chatham", 2027, 1, 16),
        id="+13:45: a quarter past midnight Monday is Monday",
    ),
]


@pytest.mark.parametrize(("sent", "zone", "country", "ends"), CASES)
def test_the_passive_clock_ends_at_midnight_after_the_fifth_business_day(
    sent: datetime, zone: str, country: str, ends: datetime
) -> None:
    deadline = passive_deadline(sent, zone, country)
    assert deadline == ends
    assert deadline.tzinfo == ZoneInfo(zone)
    assert deadline.hour == deadline.minute == 0  # the customer's midnight


def test_the_moment_of_midnight_is_the_end() -> None:
    sent = local("Europe/Berlin", 2027, 1, 11, 9)
    deadline = passive_deadline(sent, "Europe/Berlin", "DE")
    assert deadline == local("Europe/Berlin", 2027, 1, 16)
    before = deadline - timedelta(microseconds=1)
    assert before < deadline <= deadline.astimezone(UTC)  # the same instant, in any zone
    assert first_day(sent, "Europe/Berlin", "DE") == date(2027, 1, 11)


def test_the_sent_moment_is_read_back_from_its_note() -> None:
    sent = datetime(2027, 1, 8, 15, 0, 12, tzinfo=UTC)
    note = sent_note(sent, "dana@acme.example", passive_deadline(sent, "Asia/Kolkata", "IN"))
    assert sent_at(note) == sent
    assert "Accepted passively at 2027-01-15 00:00 IST unless answered." in note
    assert sent_at("a note a person wrote") is None


def test_an_acceptance_says_how_when_and_by_whom() -> None:
    by_reply = Acceptance(
        activity="PS-MIG",
        how=How.BY_REPLY,
        on=date(2027, 1, 12),
        by="dana@acme.example",
        evidence="Gmail message 18c2",
    )
    assert by_reply.note() == (
        "**Accepted by reply** on 2027-01-12: dana@acme.example (Gmail message 18c2)."
    )
    passive = by_reply.model_copy(update={"how": How.PASSIVELY, "by": "nobody", "evidence": ""})
    assert passive.note() == "**Accepted passively** on 2027-01-12: nobody."


@given(
    fee=st.integers(min_value=0, max_value=10**9),
    hours=st.lists(st.integers(min_value=0, max_value=2000), min_size=1, max_size=12),
)
def test_the_fixed_fee_is_released_in_shares_that_add_up_to_it(fee: int, hours: list[int]) -> None:
    planned = {f"PS-{n}": Decimal(h) for n, h in enumerate(hours)}
    shares = fee_shares(fee, planned)
    assert list(shares) == list(planned)
    assert sum(shares.values()) == fee  # not a cent lost or made by rounding
    total = sum(hours) or len(hours)
    for code, share in shares.items():
        exact = Decimal(fee) * (planned[code] if sum(hours) else 1) / total
        assert abs(share - exact) < 1  # each within a minor unit of its proportion


def test_a_fee_is_shared_by_hours_in_the_currencys_minor_units() -> None:
    hours = {"PS-MIG": Decimal(80), "PS-TRN": Decimal(16), "PS-DOC": Decimal(24)}
    assert fee_shares(minor_units(Decimal("50000"), "USD"), hours) == {
        "PS-MIG": 3333333,  # 80/120 of $50,000.00: $33,333.333...
        "PS-TRN": 666667,  # 16/120: $6,666.666..., the largest remainder gets the cent left
        "PS-DOC": 1000000,
    }
    assert minor_units(Decimal("50000"), "JPY") == 50000  # the yen has no minor unit
    assert minor_units(Decimal("1.5"), "KWD") == 1500  # the dinar has three
