"""Validate, pure: the passive-acceptance clock and what an activity's acceptance records.

The handbook (PROCESS.md, Validate and psflow's decisions): an acceptance request per activity is
e-mailed to the customer; with no answer after five business days the activity counts as accepted.
Day 1 is the day it was sent when that is a business day of the customer (Monday to Friday in
their time zone, not a public holiday of their country), else the next business day; the activity
is accepted when day 5 ends, at midnight in the customer's time zone, with no acceptance and no
open question. A reply after that is recorded and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from engagement.models import Opportunity
from engagement.workdays import business_day_after, working_day

PASSIVE_DAYS = 5  # "no answer after 5 business days"

# The handbook's acceptance records, as a milestone's custom fields in Kantata
SIGN_OFF_SENT = "Sign-Off Sent"
SIGN_OFF_RECEIVED = "Sign-Off Received"
PASSIVE_USED = "Passive Acceptance Utilized"

# An activity issue's state of acceptance, as its scoped label (one of them at a time)
REQUESTED = "Acceptance::Requested"
QUESTION = "Acceptance::Question"  # an open question stops the passive clock
ACCEPTED = "Acceptance::Accepted"


def first_day(sent: datetime, zone: str, country: str | None = None) -> date:
    """Day 1 of the clock: the day the request was sent, in the customer's time zone, when it is
    one of their business days; else the next one.

    Example:
        >>> from datetime import UTC
        >>> first_day(datetime(2027, 1, 8, 22, 0, tzinfo=UTC), "Asia/Kolkata")  # Saturday there
        datetime.date(2027, 1, 11)
    """
    day = sent.astimezone(ZoneInfo(zone)).date()
    return day if working_day(day, country) else business_day_after(day, 1, country)


def passive_deadline(sent: datetime, zone: str, country: str | None = None) -> datetime:
    """The moment the activity counts as accepted with no answer: the end of the fifth business
    day (midnight at its end, in the customer's time zone), as an aware datetime.

    Example:
        >>> from datetime import UTC
        >>> passive_deadline(datetime(2027, 1, 8, 15, 0, tzinfo=UTC), "America/New_York", "US")
        datetime.datetime(2027, 1, 15, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='America/New_York'))
    """
    fifth = business_day_after(first_day(sent, zone, country), PASSIVE_DAYS - 1, country)
    return datetime.combine(fifth + timedelta(days=1), time(0), tzinfo=ZoneInfo(zone))


class How(StrEnum):
    """How an activity was accepted."""

    BY_REPLY = "by reply"
    PASSIVELY = "passively"  # five business days with no answer
    ON_BEHALF = "on the customer's behalf"  # the Project Owner, with a reason


class Acceptance(BaseModel):
    """An activity's acceptance as recorded: how, when, by whom, and the evidence."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    activity: str  # its SOW code
    how: How
    on: date  # the day, in the customer's time zone
    by: str  # the contact who replied, the Project Owner, or "nobody: no answer"
    evidence: str = ""  # a link to the reply, or the reason given

    def records(self) -> dict[str, str]:
        """The milestone's acceptance records (Kantata custom fields), by their names.

        Example:
            >>> Acceptance(activity="PS-MIG", how=How.PASSIVELY, on=date(2027, 1, 16),
            ...            by="nobody").records()
            {'Sign-Off Received': '2027-01-16', 'Passive Acceptance Utilized': 'Yes'}
        """
        passive = {PASSIVE_USED: "Yes"} if self.how is How.PASSIVELY else {}
        return {SIGN_OFF_RECEIVED: self.on.isoformat(), **passive}

    def note(self) -> str:
        """As the activity's issue records it (and the reply run and the clock read it back)."""
        evidence = f" ({self.evidence})" if self.evidence else ""
        return f"**Accepted {self.how.value}** on {self.on}: {self.by}{evidence}."


# ISO 4217's currencies whose minor unit is not the hundredth (Kantata's amounts are "in the
# subunits of the currency")
_MINOR_DIGITS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3}


def minor_units(amount: Decimal, currency: str) -> int:
    """An amount in its currency's minor units, as Kantata's `amount_in_cents` takes it.

    Example:
        >>> minor_units(Decimal("1234.5"), "USD"), minor_units(Decimal(1234), "JPY")
        (123450, 1234)
    """
    return int((amount * 10 ** _MINOR_DIGITS.get(currency.upper(), 2)).to_integral_value())


def from_minor_units(amount: int, currency: str) -> Decimal:
    """An amount Kantata gives in its currency's minor units, in units.

    Example:
        >>> from_minor_units(123450, "USD"), from_minor_units(1234, "JPY")
        (Decimal('1234.5'), Decimal('1234'))
    """
    return Decimal(amount) / Decimal(10) ** _MINOR_DIGITS.get(currency.upper(), 2)


def fee_shares(fee: int, hours: Mapping[str, Decimal]) -> dict[str, int]:
    """The fixed fee released per accepted milestone (the handbook releases fixed-fee revenue per
    accepted milestone): each activity's share of `fee` (minor units) in proportion to its planned
    hours. The shares add up to the fee exactly: what rounding down leaves goes a unit each to the
    largest remainders, a tie to the activity earlier in the plan.

    Example:
        >>> fee_shares(100000, {"PS-A": Decimal(1), "PS-B": Decimal(1), "PS-C": Decimal(1)})
        {'PS-A': 33334, 'PS-B': 33333, 'PS-C': 33333}
    """
    total = sum(hours.values(), Decimal(0))
    weights = hours if total > 0 else dict.fromkeys(hours, Decimal(1))
    total = total if total > 0 else Decimal(len(hours))
    exact = {code: Decimal(fee) * weight / total for code, weight in weights.items()}
    shares = {
        code: int(value.to_integral_value(rounding=ROUND_FLOOR)) for code, value in exact.items()
    }
    order = sorted(exact, key=lambda code: (shares[code] - exact[code], list(exact).index(code)))
    for code in order[: fee - sum(shares.values())]:
        shares[code] += 1
    return shares


_SENT = re.compile(r"Acceptance requested at (\S+)")


def sent_note(sent: datetime, to: str, deadline: datetime) -> str:
    """The activity issue's record of the request (sign-off sent): when, to whom, and when the
    passive clock ends; the clock reads `sent` back (`sent_at`).

    Example:
        >>> from datetime import UTC
        >>> sent = datetime(2027, 1, 8, 15, 0, tzinfo=UTC)
        >>> note = sent_note(sent, "dana@acme.example", passive_deadline(sent, "Europe/Berlin"))
        >>> sent_at(note) == sent, note.splitlines()[1]
        (True, 'Accepted passively at 2027-01-15 00:00 CET unless answered.')
    """
    return "\n".join(
        [
            f"Acceptance requested at {sent.isoformat()} from {to} (sign-off sent).",
            f"Accepted passively at {deadline:%Y-%m-%d %H:%M %Z} unless answered.",
        ]
    )


def sent_at(note: str) -> datetime | None:
    """When the request was sent, as `sent_note` wrote it; None when the note says no time."""
    found = _SENT.search(note)
    return datetime.fromisoformat(found[1]) if found else None


def acceptance_values(
    opportunity: Opportunity,
    activity: str,
    deliverables: str,
    deadline: datetime,
    project_owner: str,
) -> Mapping[str, str]:
    """The acceptance request's placeholders: the activity, its deliverables and the date the
    passive clock ends, written out in the customer's time zone (the last moment to answer is the
    end of the day before the deadline)."""
    last = deadline - timedelta(microseconds=1)
    contact = opportunity.contacts[0] if opportunity.contacts else None
    return {
        "customer": opportunity.account.name,
        "contact_first_name": contact.first_name if contact else "",
        "activity": activity,
        "deliverables": deliverables,
        "sow_number": opportunity.sow_number or "",
        "passive_date": f"{last:%A %d %B %Y} ({last:%Z})",
        "project_owner": project_owner,
    }
