"""psflow's Calendar task against the sandbox, through googleapiclient: one event per natural key,
whatever fails in between; a deleted meeting comes back instead of a second one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engagement.keys import Kind, calendar_event_id, natural_key
from sandbox import seed
from sandbox.client import SandboxClient
from tasks.calendar import ensure_event, find_next_meeting
from tasks.calls import TransientError
from tasks.clients import systems

OPPORTUNITY = seed.OPPORTUNITIES[1].id
KIND = Kind.ALIGNMENT_MEETING
EVENT_ID = calendar_event_id(KIND, OPPORTUNITY)
EVENTS = r"/google/calendar/v3/calendars/primary/events"
TEAM = ["marcus.webb@northwind.example", "priya.raman@northwind.example"]
START = datetime(2026, 3, 2, 10, 0)  # wall time in New York
ZONE = "America/New_York"


def events(outside: SandboxClient) -> list[dict[str, Any]]:
    return list(outside.state("google", "event"))


def schedule(**overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "kind": KIND,
        "record_id": OPPORTUNITY,
        "summary": "Acme – internal alignment",
        "description": "EM, PC and PSE align on scope and staffing.",
        "start": START,
        "end": START + timedelta(minutes=45),
        "attendees": TEAM,
        "time_zone": ZONE,
    }
    return ensure_event.fn(**{**arguments, **overrides})


def test_creates_once_then_finds_it(outside: SandboxClient) -> None:
    first = schedule()
    assert first.created
    assert first.id == EVENT_ID
    assert first.url
    assert "/calendar/event?eid=" in first.url
    assert first.name == "Acme – internal alignment (2026-03-02 10:00 America/New_York)"
    assert outside.writes(service="calendar") == 1

    before = outside.last_request_id()
    moved = START + timedelta(days=1)
    again = schedule(summary="Renamed", start=moved, end=moved + timedelta(hours=1))
    assert not again.created
    assert again.id == first.id
    assert again.url == first.url
    assert outside.writes(service="calendar", since=before) == 0
    assert len(events(outside)) == 1


def test_the_event_as_stored(outside: SandboxClient) -> None:
    schedule(attendees=[*TEAM, "Marcus.Webb@northwind.example"])
    [event] = events(outside)
    assert event["id"] == EVENT_ID
    assert event["status"] == "confirmed"
    assert event["start"] == {"dateTime": "2026-03-02T10:00:00-05:00", "timeZone": ZONE}
    assert event["end"]["dateTime"] == "2026-03-02T10:45:00-05:00"
    assert [a["email"] for a in event["attendees"]] == TEAM  # each once
    assert event["extendedProperties"]["private"]["psflow_key"] == natural_key(KIND, OPPORTUNITY)
    [insert] = outside.requests(service="calendar", method="POST")
    assert "sendUpdates=all" in insert["query"]


def test_an_aware_start_keeps_its_instant(outside: SandboxClient) -> None:
    start = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    artifact = schedule(start=start, end=start + timedelta(hours=1))
    [event] = events(outside)
    assert event["start"]["dateTime"] == "2026-03-02T10:00:00-05:00"
    assert artifact.name.endswith("(2026-03-02 10:00 America/New_York)")


def test_parts_and_kinds_are_different_events(outside: SandboxClient) -> None:
    kickoff = Kind.KICKOFF_MEETING
    assert schedule(kind=Kind.HANDOFF_MEETING).created
    assert schedule(kind=kickoff, part="1").created
    assert schedule(kind=kickoff, part="2").created
    assert len({e["id"] for e in events(outside)}) == 3


@pytest.mark.parametrize("fault", ["status", "drop"])
def test_an_insert_whose_answer_is_lost_is_not_made_again(
    outside: SandboxClient, fault: str
) -> None:
    outside.add_fault(EVENTS, method="POST", kind=fault, status=500, after_commit=True)
    with pytest.raises(TransientError, match="Google Calendar: creation of alignment meeting"):
        schedule()

    retried = schedule()
    assert not retried.created
    assert retried.id == EVENT_ID
    assert len(events(outside)) == 1
    assert outside.writes(service="calendar") == 1  # the insert that lost its answer


def test_an_insert_racing_another_run_reads_its_event(outside: SandboxClient) -> None:
    first = schedule()
    # our look-up misses (another run had not inserted yet); our insert then meets its event
    outside.add_fault(f"{EVENTS}/{EVENT_ID}", method="GET", status=404)
    again = schedule()
    assert not again.created
    assert again.id == first.id
    assert len(events(outside)) == 1
    [refused] = outside.requests(service="calendar", method="POST", status=409)
    assert refused["path"] == EVENTS


def test_a_deleted_event_is_restored_not_duplicated(outside: SandboxClient) -> None:
    schedule()
    systems().calendar().events().delete(calendarId="primary", eventId=EVENT_ID).execute()
    assert [e["status"] for e in events(outside)] == ["cancelled"]

    before = outside.last_request_id()
    restored = schedule(summary="Acme – internal alignment (again)")
    assert restored.created  # invitations went out again
    assert restored.id == EVENT_ID
    [event] = events(outside)
    assert event["status"] == "confirmed"
    assert event["summary"] == "Acme – internal alignment (again)"
    [patch] = outside.requests(service="calendar", since=before, write=True)
    assert patch["method"] == "PATCH"
    assert "sendUpdates=all" in patch["query"]

    assert not schedule().created
    assert len(events(outside)) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"attendees": ["a@b.example\r\nBcc: c@d.example"]}, r"attendees\[0\] .*line breaks"),
        ({"attendees": [*TEAM, "Evil <evil@x.example>"]}, r"attendees\[2\] .*display name"),
        ({"summary": " \r\n "}, "summary must not be empty"),
        ({"time_zone": "Mars/Olympus"}, "time_zone must be an IANA time zone"),
        ({"time_zone": "../../etc/passwd"}, "time_zone must be an IANA time zone"),
        ({"end": START}, "end must be after start"),
        ({"end": START - timedelta(hours=1)}, "end must be after start"),
    ],
)
def test_bad_input_is_refused_with_nothing_written(
    outside: SandboxClient, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        schedule(**overrides)
    assert outside.requests(service="calendar") == []


def test_a_summary_is_kept_to_one_line(outside: SandboxClient) -> None:
    schedule(summary="Acme\r\nalignment\u202e")
    [event] = events(outside)
    assert event["summary"] == "Acme alignment"


def test_a_weekly_meeting_is_one_recurring_event(outside: SandboxClient) -> None:
    weekly = ["RRULE:FREQ=WEEKLY;UNTIL=20260330T235959Z"]
    first = schedule(kind=Kind.WEEKLY_MEETING, recurrence=weekly)
    assert first.created
    again = schedule(kind=Kind.WEEKLY_MEETING, recurrence=weekly)
    assert not again.created
    assert outside.writes(service="calendar") == 1
    (event,) = [e for e in events(outside) if e["id"] == first.id]
    assert event["recurrence"] == weekly
    instances = (
        systems()
        .calendar()
        .events()
        .list(calendarId="primary", singleEvents=True, timeMax="2026-04-30T00:00:00Z")
        .execute()["items"]
    )
    assert [i["start"]["dateTime"] for i in instances] == [
        "2026-03-02T10:00:00-05:00",
        "2026-03-09T10:00:00-04:00",  # New York's summer time: still 10:00 there
        "2026-03-16T10:00:00-04:00",
        "2026-03-23T10:00:00-04:00",
        "2026-03-30T10:00:00-04:00",
    ]


def test_the_next_weekly_meeting_is_read_from_the_series(outside: SandboxClient) -> None:
    weekly = ["RRULE:FREQ=WEEKLY;UNTIL=20260330T235959Z"]
    schedule(kind=Kind.WEEKLY_MEETING, recurrence=weekly)
    wednesday = datetime(2026, 3, 11, tzinfo=UTC)
    before = outside.last_request_id()
    found = find_next_meeting.fn(
        Kind.WEEKLY_MEETING, OPPORTUNITY, wednesday, wednesday + timedelta(days=7)
    )
    assert found == datetime(2026, 3, 16, 14, 0, tzinfo=UTC)  # 10:00 in New York, summer time
    assert len(outside.requests(service="calendar", since=before)) == 1
    after_the_last = datetime(2026, 3, 31, tzinfo=UTC)
    none_left = find_next_meeting.fn(
        Kind.WEEKLY_MEETING, OPPORTUNITY, after_the_last, after_the_last + timedelta(days=7)
    )
    assert none_left is None
    never_made = find_next_meeting.fn(
        Kind.WEEKLY_MEETING, seed.OPPORTUNITIES[0].id, wednesday, after_the_last
    )
    assert never_made is None
