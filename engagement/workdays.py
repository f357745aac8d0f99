"""Working days and working hours: the one place every rule that counts them reads from.

A working day is Monday to Friday in a person's own time zone, worked from 9:00 to 17:00 local
time; where the customer's country is known (Account.BillingCountryCode), its public holidays are
not working days of the engagement either (the `holidays` library's calendars). What a meeting
needs is stated in those terms: every attendee at work, on a working day of their own, for the
whole meeting.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import holidays

WORKING_DAY = (time(9), time(17))
SLOT_STEP = timedelta(minutes=15)  # meetings start on the quarter hour, in every time zone
HORIZON = 10  # working days searched for a time everyone can make


def working_day(day: date, country: str | None = None) -> bool:
    """Monday to Friday, and not a public holiday of `country` (an ISO 3166 code) when given.

    Example:
        >>> working_day(date(2026, 11, 26)), working_day(date(2026, 11, 26), "US")  # Thanksgiving
        (True, False)
    """
    return day.weekday() < 5 and (country is None or day not in public_holidays(country))


@cache
def public_holidays(country: str) -> holidays.HolidayBase:
    """The country's public holidays (national ones), every year on demand.

    Raises:
        NotImplementedError: when the library has no calendar for `country`.
    """
    import holidays  # its calendars load when a country is first asked for

    return holidays.country_holidays(country)


def business_days(start: date, end: date, country: str | None = None) -> tuple[date, ...]:
    """The working days from `start` to `end`, both included."""
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    return tuple(day for day in days if working_day(day, country))


def business_day_after(day: date, count: int, country: str | None = None) -> date:
    """The `count`-th working day after `day`."""
    while count > 0:
        day += timedelta(days=1)
        if working_day(day, country):
            count -= 1
    return day


def at_work(zone: str, start: datetime, end: datetime) -> bool:
    """Whether a person in `zone` is at work from `start` to `end` (aware datetimes): one working
    day of theirs, inside its working hours.

    Example:
        >>> monday_ny = datetime(2026, 1, 12, 15, 0, tzinfo=UTC)  # 10:00 in New York
        >>> at_work("America/New_York", monday_ny, monday_ny + timedelta(hours=1))
        True
        >>> at_work("Asia/Kolkata", monday_ny, monday_ny + timedelta(hours=1))  # 20:30 there
        False
    """
    local_start, local_end = (moment.astimezone(ZoneInfo(zone)) for moment in (start, end))
    opens, closes = WORKING_DAY
    return (
        local_start.date() == local_end.date()
        and local_start.weekday() < 5
        and local_start.time() >= opens
        and local_end.time() <= closes
        and local_end > local_start
    )


class MeetingSlot(BaseModel):
    """When a meeting is held, and who is outside their working hours then (nobody, unless no
    time in the search horizon suits everyone)."""

    model_config = ConfigDict(frozen=True)

    start: datetime  # aware, in the organiser's time zone
    end: datetime
    outside_hours: tuple[str, ...] = ()

    def note(self) -> str:
        """What a person reading the phase's summary should know about the time."""
        if not self.outside_hours:
            return "inside everyone's working hours"
        return "no time suits everyone's working hours; outside theirs: " + ", ".join(
            self.outside_hours
        )


def meeting_slot(
    after: date,
    business_days_later: int,
    duration: timedelta,
    organiser_zone: str,
    attendees: Mapping[str, str],
    preferred_hour: int = 10,
    country: str | None = None,
) -> MeetingSlot:
    """The meeting's time: from the `business_days_later`-th working day of the organiser after
    `after` (public holidays of the customer's `country` are not), the first day on which every
    attendee (name -> IANA time zone) is at work for the whole meeting, as near `preferred_hour`
    of the organiser as that allows. When no day of the next `HORIZON` has such a time, the first
    day's time with the most attendees at work, and who is not.

    Example:
        >>> slot = meeting_slot(date(2026, 1, 9), 1, timedelta(minutes=30), "America/New_York",
        ...                     {"em": "America/New_York", "pse": "Europe/London"})
        >>> slot.start.isoformat(), slot.outside_hours
        ('2026-01-12T10:00:00-05:00', ())
    """
    zone = ZoneInfo(organiser_zone)
    first = business_day_after(after, business_days_later, country)
    best: tuple[tuple[int, float], datetime, tuple[str, ...]] | None = None
    day = first
    for _ in range(HORIZON):
        for start in _starts(day, zone, duration):
            outside = tuple(
                name for name, tz in attendees.items() if not at_work(tz, start, start + duration)
            )
            preferred = datetime.combine(day, time(preferred_hour), zone)
            distance = abs((start - preferred).total_seconds())
            if not outside:
                if best is None or best[2] or distance < best[0][1]:
                    best = ((0, distance), start, ())
            elif day == first and (best is None or (len(outside), distance) < best[0]):
                best = ((len(outside), distance), start, outside)
        if best is not None and not best[2]:
            break
        day = business_day_after(day, 1, country)
    if best is None:  # the organiser's own working day is shorter than the meeting
        start = datetime.combine(first, time(preferred_hour), zone)
        return MeetingSlot(start=start, end=start + duration, outside_hours=tuple(attendees))
    _, start, outside = best
    return MeetingSlot(start=start, end=start + duration, outside_hours=outside)


def _starts(day: date, zone: ZoneInfo, duration: timedelta) -> list[datetime]:
    """Every quarter-hour start in the organiser's working day `day` that ends inside it."""
    opens, closes = (datetime.combine(day, moment, zone) for moment in WORKING_DAY)
    starts: list[datetime] = []
    start = opens.astimezone(UTC)
    while start + duration <= closes.astimezone(UTC):
        starts.append(start.astimezone(zone))
        start += SLOT_STEP
    return starts
