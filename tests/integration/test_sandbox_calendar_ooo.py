"""People's calendars in the Calendar v3 stand-in, through googleapiclient: the PS mailbox reads a
colleague's out of office (`eventTypes`, time bounds), books it for them, and is refused what
Google refuses; a person books time off through the sandbox's control API."""

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


def book_time_off(sandbox: SandboxClient, email: str, start: str, end: str, **extra: Any) -> Any:
    """A person marks the days from `start` to `end` (the last day away) out of office."""
    return sandbox.act(
        "google", "/calendar/out_of_office", email=email, start=start, end=end, **extra
    )


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


def test_time_off_is_listed_by_type_and_bounds(
    sandbox: SandboxClient, sandbox_url: str, events: Any
) -> None:
    vacation = book_time_off(sandbox, AISHA, "2026-03-09", "2026-03-13", summary="Vacation")
    assert vacation["eventType"] == "outOfOffice"
    assert vacation["summary"] == "Vacation"
    assert vacation["transparency"] == "opaque"
    # midnight to midnight in Lagos: the first day away and the day after the last
    assert vacation["start"] == {
        "dateTime": "2026-03-09T00:00:00+01:00",
        "timeZone": "Africa/Lagos",
    }
    assert vacation["end"] == {"dateTime": "2026-03-14T00:00:00+01:00", "timeZone": "Africa/Lagos"}
    assert vacation["outOfOfficeProperties"] == {
        "autoDeclineMode": "declineOnlyNewConflictingInvitations",
        "declineMessage": "Declined because I am out of office",
    }
    assert vacation["creator"] == {"email": AISHA, "self": True}
    assert vacation["organizer"] == {"email": AISHA, "self": True}
    assert "attendees" not in vacation
    assert sandbox.writes() == 0  # a person's action, not psflow's request

    later = book_time_off(sandbox, AISHA, "2026-04-20", "2026-04-24")
    bruno_away = book_time_off(sandbox, BRUNO, "2026-03-09", "2026-03-09")
    workshop = events.insert(
        calendarId=AISHA,
        body={
            "summary": "Globex – CI workshop",
            "start": {"dateTime": "2026-03-10T09:00:00+01:00"},
            "end": {"dateTime": "2026-03-10T12:00:00+01:00"},
        },
    ).execute()
    assert workshop["eventType"] == "default"

    two_weeks = events.list(
        calendarId=AISHA,
        eventTypes="outOfOffice",
        timeMin="2026-03-02T00:00:00Z",
        timeMax="2026-03-16T00:00:00Z",
        singleEvents=True,
        orderBy="startTime",
    ).execute()
    assert ids(two_weeks) == [vacation["id"]]
    assert two_weeks["items"][0] == events.get(calendarId=AISHA, eventId=vacation["id"]).execute()
    assert (two_weeks["timeZone"], two_weeks["accessRole"]) == ("Africa/Lagos", "writer")
    # the bounds cut on the instant: Lagos's midnight of the 9th is 23:00Z on the 8th
    assert ids(
        events.list(
            calendarId=AISHA, eventTypes="outOfOffice", timeMax="2026-03-08T23:30:00Z"
        ).execute()
    ) == [vacation["id"]]
    assert (
        ids(
            events.list(
                calendarId=AISHA, eventTypes="outOfOffice", timeMax="2026-03-08T23:00:00Z"
            ).execute()
        )
        == []
    )

    everything = {vacation["id"], later["id"], workshop["id"]}
    assert set(ids(events.list(calendarId=AISHA).execute())) == everything  # no eventTypes: all
    both = events.list(calendarId=AISHA, eventTypes=["default", "outOfOffice"]).execute()
    assert set(ids(both)) == everything
    assert ids(events.list(calendarId=AISHA, eventTypes="default").execute()) == [workshop["id"]]
    assert ids(events.list(calendarId=AISHA, eventTypes="focusTime").execute()) == []
    assert ids(events.list(calendarId=BRUNO, eventTypes="outOfOffice").execute()) == [
        bruno_away["id"]
    ]
    # the PS mailbox's own calendar keeps only its own events
    assert events.list(calendarId="primary").execute()["items"] == []
    assert events.list(calendarId=PS_MAILBOX).execute()["timeZone"] == "UTC"


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

    with pytest.raises(httpx.HTTPStatusError) as nobody:
        book_time_off(sandbox, "nobody@northwind.example", "2026-03-09", "2026-03-10")
    assert nobody.value.response.status_code == 404
    with pytest.raises(httpx.HTTPStatusError) as backwards:
        book_time_off(sandbox, AISHA, "2026-03-10", "2026-03-09")
    assert backwards.value.response.status_code == 422


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
