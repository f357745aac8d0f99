"""Google Calendar tasks: put a meeting (alignment, hand-off, kickoff, closure) on the PS team's
calendar exactly once.

Each event gets a client-supplied id derived from its natural key (`calendar_event_id`), which
Calendar keeps unique in the calendar for good: `ensure_event` reads that id first and inserts
only when it does not exist, and a 409 from a concurrent insert is read back the same way. A
deleted event keeps its id (status "cancelled") and can never be inserted again, so it is
restored with a patch instead: there is only ever one event per key.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from engagement.execute import Absence
from engagement.keys import Kind, calendar_event_id, natural_key
from engagement.models import addresses
from engagement.refs import Ref
from engagement.slugs import one_line
from tasks.calls import PermanentError, calling, outside_task, read_task
from tasks.clients import systems

SYSTEM = "Google Calendar"
CALENDAR = "primary"  # the calendar of the mailbox the Google connection acts as
KEY_PROPERTY = "psflow_key"  # in extendedProperties.private, for people and reports
MAX_SUMMARY = 255
CANCELLED = "cancelled"


def _zone(time_zone: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"time_zone must be an IANA time zone like 'Europe/Berlin'; got {time_zone!r}"
        ) from None


def _when(moment: datetime, zone: zoneinfo.ZoneInfo, time_zone: str) -> dict[str, str]:
    """An EventDateTime; a naive datetime is read as wall time in `time_zone`."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
    return {"dateTime": aware.isoformat(timespec="seconds"), "timeZone": time_zone}


def _event_body(
    kind: Kind,
    record_id: str,
    summary: str,
    description: str,
    start: datetime,
    end: datetime,
    attendees: list[str],
    time_zone: str,
    part: str | None,
    recurrence: Sequence[str] = (),
) -> dict[str, Any]:
    """The event resource, every input validated first (ValueError naming the field)."""
    title = one_line(summary, MAX_SUMMARY)
    if not title:
        raise ValueError(f"summary must not be empty; got {summary!r}")
    zone = _zone(time_zone)
    begins, ends = _when(start, zone, time_zone), _when(end, zone, time_zone)
    if datetime.fromisoformat(ends["dateTime"]) <= datetime.fromisoformat(begins["dateTime"]):
        raise ValueError(f"end must be after start; got {start} to {end}")
    body: dict[str, Any] = {
        "id": calendar_event_id(kind, record_id, part),
        "summary": title,
        "description": description,
        "start": begins,
        "end": ends,
        "attendees": [{"email": address} for address in addresses("attendees", attendees)],
        "extendedProperties": {"private": {KEY_PROPERTY: natural_key(kind, record_id, part)}},
    }
    if recurrence:
        body["recurrence"] = list(recurrence)
    return body


def _get(event_id: str, what: str) -> dict[str, Any] | None:
    """The event with this id, cancelled ones included; None when there is none."""
    try:
        with calling(SYSTEM, f"look-up of {what}"):
            event: dict[str, Any] = (
                systems().calendar().events().get(calendarId=CALENDAR, eventId=event_id).execute()
            )
    except PermanentError as error:
        if error.status == 404:
            return None
        raise
    return event


def _insert(body: dict[str, Any], what: str) -> dict[str, Any] | None:
    """The new event; None when its id was taken meanwhile (409: another run inserted it)."""
    try:
        with calling(SYSTEM, f"creation of {what}"):
            event: dict[str, Any] = (
                systems()
                .calendar()
                .events()
                .insert(calendarId=CALENDAR, body=body, sendUpdates="all")
                .execute()
            )
    except PermanentError as error:
        if error.status == 409:
            return None
        raise
    return event


def _restore(body: dict[str, Any], what: str) -> dict[str, Any]:
    """Bring a deleted event back (Calendar refuses to insert its id again), with today's
    details, and invite the attendees again."""
    restore = {k: v for k, v in body.items() if k != "id"} | {"status": "confirmed"}
    with calling(SYSTEM, f"restoring of the deleted {what}"):
        event: dict[str, Any] = (
            systems()
            .calendar()
            .events()
            .patch(calendarId=CALENDAR, eventId=body["id"], body=restore, sendUpdates="all")
            .execute()
        )
    return event


@outside_task("schedule {kind}")
def ensure_event(
    kind: Kind,
    record_id: str,
    summary: str,
    description: str,
    start: datetime,
    end: datetime,
    attendees: list[str],
    time_zone: str,
    part: str | None = None,
    recurrence: Sequence[str] = (),
) -> Ref:
    """The meeting of `kind` for the record on the PS calendar, with invitations sent to the
    attendees; created unless the event with its key exists. An existing event is left as it
    is (people may have moved it); one that was deleted is restored with today's details.

    Args:
        start, end: aware datetimes, or naive ones read as wall time in `time_zone`.
        attendees: bare e-mail addresses.
        time_zone: an IANA name, e.g. "America/New_York"; the event is shown in it (and a
            recurring one repeats its local time there).
        recurrence: RFC 5545 lines, e.g. ["RRULE:FREQ=WEEKLY;UNTIL=20270326T235959Z"]: a
            series, one event.

    Returns:
        The event as an Ref: id its event id, url its htmlLink; created False when it was
        already there (a restored event counts as created: the invitations went out again).

    Raises:
        ValueError: naming the field for an empty summary, an unknown time zone, an end not
            after the start, or an attendee that is not a bare address; nothing is written.

    Example:
        >>> ensure_event(Kind.ALIGNMENT_MEETING, "006Dn0000000002IAA",
        ...              "Acme – internal alignment", "Agenda: ...", start, end,
        ...              ["marcus.webb@northwind.example"], "America/New_York")  # doctest: +SKIP
    """
    body = _event_body(
        kind, record_id, summary, description, start, end, attendees, time_zone, part, recurrence
    )
    what = f"{kind.value.replace('-', ' ')} {body['summary']!r}"
    event = _get(body["id"], what)
    created = False
    if event is None:
        event = _insert(body, what)
        created = event is not None
        if event is None:  # another run inserted it between our read and our insert
            event = _get(body["id"], what)
        if event is None:
            raise PermanentError(SYSTEM, what, "its id is taken, yet the event cannot be read")
    if event.get("status") == CANCELLED:
        event, created = _restore(body, what), True
    local_start = datetime.fromisoformat(body["start"]["dateTime"]).astimezone(_zone(time_zone))
    return Ref(
        system=SYSTEM,
        kind=kind.value.replace("-", " "),
        name=f"{event.get('summary', body['summary'])} ({local_start:%Y-%m-%d %H:%M} {time_zone})",
        url=event.get("htmlLink"),
        id=str(event["id"]),
        created=created,
    )


@read_task("read out of office of {emails}")
def get_out_of_office(emails: Sequence[str], start: date, end: date) -> tuple[Absence, ...]:
    """The team's out-of-office from `start` to `end` (the last day looked at), from each person's
    calendar (shared with the PS mailbox): one listing per person, out-of-office events only. An
    absence shows the days it covers in the person's own calendar."""
    found = []
    for email in dict.fromkeys(emails):
        with calling(SYSTEM, f"out of office of {email}"):
            answer = (
                systems()
                .calendar()
                .events()
                .list(
                    calendarId=email,
                    eventTypes="outOfOffice",
                    timeMin=f"{start.isoformat()}T00:00:00Z",
                    timeMax=f"{(end + timedelta(days=1)).isoformat()}T00:00:00Z",
                    singleEvents=True,
                    orderBy="startTime",
                    maxResults=250,
                )
                .execute()
            )
        for event in answer.get("items", []):
            first = datetime.fromisoformat(event["start"]["dateTime"])
            after = datetime.fromisoformat(event["end"]["dateTime"])
            # an end at midnight is the day before's end: the last day away
            last = (after - timedelta(microseconds=1)).date()
            found.append(Absence(person=email, start=first.date(), end=last))
    return tuple(found)


@read_task("find next {kind}")
def find_next_meeting(
    kind: Kind, record_id: str, start: datetime, end: datetime
) -> datetime | None:
    """When the recurring meeting of `kind` next starts from `start` to `end` (aware datetimes),
    as people may have moved that instance; None when the series has none then or is gone (one
    events.instances request)."""
    event_id = calendar_event_id(kind, record_id)
    try:
        with calling(SYSTEM, f"the next {kind.value.replace('-', ' ')}"):
            answer = (
                systems()
                .calendar()
                .events()
                .instances(
                    calendarId=CALENDAR,
                    eventId=event_id,
                    timeMin=start.isoformat(),
                    timeMax=end.isoformat(),
                    maxResults=1,
                )
                .execute()
            )
    except PermanentError as error:
        if error.status == 404:
            return None
        raise
    items = answer.get("items", [])
    return datetime.fromisoformat(items[0]["start"]["dateTime"]) if items else None


@read_task("find {kind}")
def find_event_start(kind: Kind, record_id: str) -> datetime | None:
    """When the meeting of `kind` for the record starts, as it stands (people may have moved it);
    None when there is none, or it was cancelled. One request."""
    event = _get(calendar_event_id(kind, record_id), kind.value.replace("-", " "))
    if event is None or event.get("status") == CANCELLED:
        return None
    return datetime.fromisoformat(event["start"]["dateTime"])
