"""People's calendars in the Calendar v3 stand-in, through googleapiclient: the PS mailbox reads a
colleague's out of office (`eventTypes`), books it for them, and is refused what Google
refuses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from googleapiclient.errors import HttpError

from blocks.google import GoogleWorkspaceConnection
from sandbox.client import SandboxClient
from sandbox.seed import PS_MAILBOX, staff

AISHA = staff("aisha_bello").email  # Africa/Lagos: UTC+1, no summer time
BRUNO = staff("bruno_costa").email  # America/Sao_Paulo: UTC-3
HIRO = staff("hiro_tanaka").email  # Asia/Tokyo: UTC+9


@pytest.fixture
def events(sandbox: SandboxClient, sandbox_url: str) -> Any:
    """Events of any Northwind calendar, as the PS mailbox sees them, in a fresh sandbox."""
    conn = GoogleWorkspaceConnection(root_url=f"{sandbox_url}/google/", access_token="token-1")
    return conn.calendar().events()


def out_of_office(**extra: Any) -> dict[str, Any]:
    """An out-of-office event as the calendar-status guide asks for one."""
    return {
        "summary": "Out of office",
        "eventType": "outOfOffice",
        "transparency": "opaque",
        "start": {"dateTime": "2026-03-16T00:00:00", "timeZone": "America/Sao_Paulo"},
        "end": {"dateTime": "2026-03-18T00:00:00", "timeZone": "America/Sao_Paulo"},
        "outOfOfficeProperties": {
            "autoDeclineMode": "declineAllConflictingInvitations",
            "declineMessage": "Away until Wednesday",
        },
        **extra,
    }


def ids(listing: dict[str, Any]) -> list[str]:
    return [event["id"] for event in listing["items"]]


def test_the_ps_mailbox_books_and_changes_time_off_in_a_colleagues_calendar(
    events: Any,
) -> None:
    made = events.insert(calendarId=BRUNO, body=out_of_office(id="bruno00001")).execute()
    assert made["start"] == {
        "dateTime": "2026-03-16T00:00:00-03:00",
        "timeZone": "America/Sao_Paulo",
    }
    assert made["outOfOfficeProperties"]["declineMessage"] == "Away until Wednesday"
    assert made["creator"] == {"email": PS_MAILBOX}  # not the calendar it is on
    assert made["organizer"] == {"email": BRUNO, "self": True}

    # transparency may be left out: opaque is its default, and the event keeps it
    quiet = out_of_office(id="bruno00002")
    del quiet["transparency"]
    assert events.insert(calendarId=BRUNO, body=quiet).execute()["transparency"] == "opaque"

    patched = events.patch(
        calendarId=BRUNO,
        eventId="bruno00001",
        body={"outOfOfficeProperties": {"autoDeclineMode": "declineNone"}},
    ).execute()
    assert patched["outOfOfficeProperties"] == {"autoDeclineMode": "declineNone"}
    with pytest.raises(HttpError) as retyped:
        events.patch(
            calendarId=BRUNO, eventId="bruno00001", body={"eventType": "default"}
        ).execute()
    assert retyped.value.status_code == 400
    # an update without eventType means "default": an out-of-office event cannot become one
    with pytest.raises(HttpError) as replaced:
        events.update(
            calendarId=BRUNO, eventId="bruno00001", body={**out_of_office(), "eventType": None}
        ).execute()
    assert replaced.value.status_code == 400
    with pytest.raises(HttpError) as all_day:
        events.patch(
            calendarId=BRUNO,
            eventId="bruno00001",
            body={"start": {"date": "2026-03-16"}, "end": {"date": "2026-03-18"}},
        ).execute()
    assert all_day.value.status_code == 400

    events.delete(calendarId=BRUNO, eventId="bruno00001").execute()
    listed = events.list(calendarId=BRUNO, eventTypes="outOfOffice").execute()
    assert ids(listed) == ["bruno00002"]


@pytest.mark.parametrize(
    ("change", "message", "reason"),
    [
        (
            {"outOfOfficeProperties": None},
            "An out of office event needs outOfOfficeProperties.",
            "required",
        ),
        (
            {"transparency": "transparent"},
            "An out of office event must have transparency opaque.",
            "invalid",
        ),
        (
            {"start": {"date": "2026-03-16"}, "end": {"date": "2026-03-18"}},
            "An out of office event cannot be an all-day event: its start needs a dateTime.",
            "invalid",
        ),
        (
            {"attendees": [{"email": "wile.coyote@acme.example"}]},
            "An out of office event cannot have attendees.",
            "invalid",
        ),
        (
            {"outOfOfficeProperties": {"autoDeclineMode": "declineEverything"}},
            "Invalid value for autoDeclineMode: declineEverything.",
            "invalid",
        ),
        ({"eventType": "fromGmail"}, "Events of type fromGmail cannot be created.", "invalid"),
        ({"eventType": "vacation"}, "Invalid event type: vacation.", "invalid"),
    ],
)
def test_what_google_refuses_of_an_out_of_office_event(
    sandbox: SandboxClient, events: Any, change: dict[str, Any], message: str, reason: str
) -> None:
    body = {k: v for k, v in out_of_office(**change).items() if v is not None}
    with pytest.raises(HttpError) as refused:
        events.insert(calendarId=BRUNO, body=body).execute()
    assert refused.value.status_code == 400
    assert refused.value.reason == message
    assert refused.value.error_details[0]["reason"] == reason
    assert sandbox.state("google", "event") == []


def test_an_unknown_calendar_or_event_type(
    sandbox: SandboxClient, sandbox_url: str, events: Any
) -> None:
    for calendar in ("nobody@northwind.example", "wile.coyote@acme.example"):
        with pytest.raises(HttpError) as missing:
            events.list(calendarId=calendar, eventTypes="outOfOffice").execute()
        assert missing.value.status_code == 404
        assert missing.value.error_details[0]["reason"] == "notFound"
    with pytest.raises(HttpError) as nowhere:
        events.insert(calendarId="nobody@northwind.example", body=out_of_office()).execute()
    assert nowhere.value.status_code == 404

    # googleapiclient checks the enum itself; a raw request gets Google's 400
    answer = httpx.get(
        f"{sandbox_url}/google/calendar/v3/calendars/{AISHA}/events",
        params=[("eventTypes", "outOfOffice"), ("eventTypes", "holiday")],
        headers={"Authorization": "Bearer token-1"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["errors"][0]["reason"] == "invalidParameter"


def test_an_all_day_event_starts_at_midnight_in_its_calendars_time_zone(events: Any) -> None:
    made = events.insert(
        calendarId=HIRO,
        body={
            "summary": "Team day",
            "start": {"date": "2026-03-10"},
            "end": {"date": "2026-03-11"},
        },
    ).execute()
    # Tokyo's midnight of the 10th is 15:00Z on the 9th
    before = events.list(calendarId=HIRO, timeMax="2026-03-09T15:00:00Z").execute()
    after = events.list(calendarId=HIRO, timeMax="2026-03-09T15:30:00Z").execute()
    assert (ids(before), ids(after)) == ([], [made["id"]])
