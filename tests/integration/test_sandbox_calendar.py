"""The Calendar v3 stand-in through googleapiclient, as psflow's Block builds it."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

from blocks.google import GoogleWorkspaceConnection
from sandbox.client import SandboxClient
from sandbox.seed import PS_MAILBOX

KICKOFF_ID = "kickoff006dn0000000002aaa"  # base32hex: a-v and 0-9, as psflow derives it


@pytest.fixture
def events(sandbox: SandboxClient, sandbox_url: str) -> Any:
    """Events of the PS calendar in a freshly reset sandbox."""
    conn = GoogleWorkspaceConnection(root_url=f"{sandbox_url}/google/", access_token="token-1")
    return conn.calendar().events()


def meeting(
    event_id: str | None = None, day: int = 2, hour: int = 10, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "summary": "Acme – project kickoff",
        "description": "Kickoff for SOW-2026-041",
        "start": {"dateTime": f"2026-03-{day:02d}T{hour:02d}:00:00", "timeZone": "America/Chicago"},
        "end": {
            "dateTime": f"2026-03-{day:02d}T{hour + 1:02d}:00:00",
            "timeZone": "America/Chicago",
        },
        "attendees": [
            {"email": "wile.coyote@acme.example"},
            {"email": "marcus.webb@northwind.example"},
        ],
        **extra,
    }
    if event_id is not None:
        body["id"] = event_id
    return body


def insert(events: Any, body: dict[str, Any], **params: Any) -> dict[str, Any]:
    return dict(events.insert(calendarId="primary", body=body, **params).execute())


def test_insert_with_a_client_id_then_get(
    sandbox: SandboxClient, sandbox_url: str, events: Any
) -> None:
    created = insert(
        events,
        meeting(KICKOFF_ID, conferenceData={"createRequest": {"requestId": "r1"}}),
        sendUpdates="all",
    )
    assert created["id"] == KICKOFF_ID
    assert created["status"] == "confirmed"
    assert created["start"] == {
        "dateTime": "2026-03-02T10:00:00-06:00",
        "timeZone": "America/Chicago",
    }
    assert created["organizer"] == {"email": PS_MAILBOX, "self": True}
    assert [a["responseStatus"] for a in created["attendees"]] == ["needsAction", "needsAction"]
    assert created["htmlLink"].startswith(f"{sandbox_url}/google/calendar/event?eid=")
    assert "conferenceData" not in created  # ignored without conferenceDataVersion=1
    assert created["iCalUID"] == f"{KICKOFF_ID}@google.com"

    got = events.get(calendarId="primary", eventId=KICKOFF_ID).execute()
    assert got == created
    [stored] = sandbox.state("google", "event")
    assert stored["id"] == KICKOFF_ID
    assert "htmlLink" not in stored

    with_meet = insert(
        events,
        meeting("meet00001", conferenceData={"createRequest": {"requestId": "r2"}}),
        conferenceDataVersion=1,
    )
    assert with_meet["hangoutLink"].startswith("https://meet.google.com/")


@pytest.mark.parametrize("bad_id", ["abcd", "Kickoff123", "kickoffw1", "kick-off-1", "a" * 1025])
def test_invalid_ids_are_refused(events: Any, bad_id: str) -> None:
    with pytest.raises(HttpError) as refused:
        insert(events, meeting(bad_id))
    assert refused.value.status_code == 400
    assert refused.value.reason == "Invalid resource id value."


def test_duplicate_id_conflicts_even_after_delete(sandbox: SandboxClient, events: Any) -> None:
    insert(events, meeting(KICKOFF_ID))
    with pytest.raises(HttpError) as duplicate:
        insert(events, meeting(KICKOFF_ID))
    assert duplicate.value.status_code == 409
    assert duplicate.value.error_details[0]["reason"] == "duplicate"
    assert duplicate.value.reason == "The requested identifier already exists."

    events.delete(calendarId="primary", eventId=KICKOFF_ID, sendUpdates="all").execute()
    assert events.get(calendarId="primary", eventId=KICKOFF_ID).execute()["status"] == "cancelled"
    assert events.list(calendarId="primary").execute()["items"] == []
    shown = events.list(calendarId="primary", showDeleted=True).execute()["items"]
    assert [e["status"] for e in shown] == ["cancelled"]
    with pytest.raises(HttpError) as again:
        insert(events, meeting(KICKOFF_ID))
    assert again.value.status_code == 409
    with pytest.raises(HttpError) as gone:
        events.delete(calendarId="primary", eventId=KICKOFF_ID).execute()
    assert gone.value.status_code == 410
    with pytest.raises(HttpError) as missing:
        events.get(calendarId="primary", eventId="nosuchevent").execute()
    assert missing.value.status_code == 404


def test_list_with_time_bounds_order_query_and_paging(events: Any) -> None:
    for day, hour, event_id in [
        (4, 9, "evt00004"),
        (2, 15, "evt00002"),
        (3, 11, "evt00003"),
        (9, 9, "evt00009"),
    ]:
        insert(events, meeting(event_id, day=day, hour=hour))
    insert(
        events,
        {
            "id": "offsite01",
            "summary": "Acme offsite",
            "start": {"date": "2026-03-05"},
            "end": {"date": "2026-03-06"},
        },
    )

    listed = events.list(
        calendarId="primary",
        timeMin="2026-03-02T21:30:00Z",  # 15:30 Chicago: the 15:00 meeting has not ended
        timeMax="2026-03-06T00:00:00Z",
        singleEvents=True,
        orderBy="startTime",
    ).execute()
    assert [e["id"] for e in listed["items"]] == ["evt00002", "evt00003", "evt00004", "offsite01"]
    ended = events.list(calendarId="primary", timeMin="2026-03-02T22:00:00Z").execute()
    assert "evt00002" not in [e["id"] for e in ended["items"]]  # it ends at 22:00Z: bounds exclude
    assert [e["id"] for e in events.list(calendarId="primary", q="offsite").execute()["items"]] == [
        "offsite01"
    ]
    by_uid = events.list(calendarId="primary", iCalUID="evt00003@google.com").execute()["items"]
    assert [e["id"] for e in by_uid] == ["evt00003"]
    with pytest.raises(HttpError):
        events.list(calendarId="primary", orderBy="startTime").execute()  # needs singleEvents

    request = events.list(
        calendarId="primary", singleEvents=True, orderBy="startTime", maxResults=2
    )
    pages = []
    while request is not None:
        page = request.execute()
        pages.append([e["id"] for e in page["items"]])
        request = events.list_next(request, page)
    assert pages == [["evt00002", "evt00003"], ["evt00004", "offsite01"], ["evt00009"]]


def test_patch_and_update(events: Any) -> None:
    insert(events, meeting(KICKOFF_ID))
    patched = events.patch(
        calendarId="primary", eventId=KICKOFF_ID, body={"location": "Zoom"}
    ).execute()
    assert (patched["location"], patched["summary"], patched["sequence"]) == (
        "Zoom",
        "Acme – project kickoff",
        0,
    )
    moved = events.update(
        calendarId="primary", eventId=KICKOFF_ID, body=meeting(day=3, summary="Kickoff (moved)")
    ).execute()
    assert moved["summary"] == "Kickoff (moved)"
    assert "location" not in moved  # update replaces the whole event
    assert moved["sequence"] == 1
    assert moved["created"] == patched["created"]
    with pytest.raises(HttpError) as backwards:
        events.patch(
            calendarId="primary",
            eventId=KICKOFF_ID,
            body={"end": {"dateTime": "2026-03-01T00:00:00Z"}},
        ).execute()
    assert backwards.value.reason == "The specified time range is empty."


def test_fail_after_commit_then_retry_conflicts_and_the_event_exists_once(
    sandbox: SandboxClient, events: Any
) -> None:
    path = "/google/calendar/v3/calendars/primary/events"
    sandbox.add_fault(path, method="POST", status=503)
    with pytest.raises(HttpError):
        insert(events, meeting(KICKOFF_ID))
    assert sandbox.state("google", "event") == []

    sandbox.add_fault(path, method="POST", status=500, after_commit=True)
    with pytest.raises(HttpError) as lost_answer:
        insert(events, meeting(KICKOFF_ID))
    assert lost_answer.value.status_code == 500
    with pytest.raises(HttpError) as retried:
        insert(events, meeting(KICKOFF_ID))
    assert retried.value.status_code == 409  # the retry finds the event the first attempt made
    assert [e["id"] for e in events.list(calendarId="primary").execute()["items"]] == [KICKOFF_ID]
    assert sandbox.writes(path=path) == 3


def test_per_user_quota(sandbox: SandboxClient, events: Any) -> None:
    sandbox.set_quotas(True, {"google.calendar-per-user": 2})
    events.list(calendarId="primary").execute()
    insert(events, meeting(KICKOFF_ID))
    with pytest.raises(HttpError) as throttled:
        events.get(calendarId="primary", eventId=KICKOFF_ID).execute()
    # Calendar documents a 403 (not 429) for a user over its rate: not every 403 is permanent
    assert throttled.value.status_code == 403
    assert throttled.value.reason == "User Rate Limit Exceeded"
    assert throttled.value.error_details[0]["reason"] == "userRateLimitExceeded"
    assert [r["quota"] for r in sandbox.requests(service="calendar") if r["quota"]] == [
        "google.calendar-per-user"
    ]


# --- recurring events ----------------------------------------------------------------------------

WEEKLY_ID = "standup006dn0000000002aaa"  # base32hex


def test_a_weekly_meeting_is_one_event_listed_as_its_instances(events: Any) -> None:
    # Monday 2 March 2026, 10:00 in Chicago, weekly four times: across the start of US summer time
    made = insert(events, meeting(WEEKLY_ID, recurrence=["RRULE:FREQ=WEEKLY;COUNT=4"]))
    assert made["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=4"]
    listed = events.list(calendarId="primary").execute()["items"]
    assert [e["id"] for e in listed] == [WEEKLY_ID]

    instances = events.list(
        calendarId="primary",
        singleEvents=True,
        orderBy="startTime",
        timeMin="2026-03-05T00:00:00Z",
        timeMax="2026-04-30T00:00:00Z",
    ).execute()["items"]
    assert [(e["id"], e["start"]["dateTime"]) for e in instances] == [
        (f"{WEEKLY_ID}_20260309T150000Z", "2026-03-09T10:00:00-05:00"),  # summer time: UTC-5
        (f"{WEEKLY_ID}_20260316T150000Z", "2026-03-16T10:00:00-05:00"),
        (f"{WEEKLY_ID}_20260323T150000Z", "2026-03-23T10:00:00-05:00"),
    ]
    first = instances[0]
    assert first["recurringEventId"] == WEEKLY_ID
    assert first["originalStartTime"] == first["start"]
    assert first["end"]["dateTime"] == "2026-03-09T11:00:00-05:00"
    assert "recurrence" not in first
    assert first["summary"] == made["summary"]


def test_an_endless_rule_is_expanded_up_to_time_max(events: Any) -> None:
    insert(events, meeting(WEEKLY_ID, recurrence=["RRULE:FREQ=WEEKLY;BYDAY=MO,TH"]))
    instances = events.list(
        calendarId="primary", singleEvents=True, timeMax="2026-03-13T00:00:00Z"
    ).execute()["items"]
    assert [e["start"]["dateTime"][:10] for e in instances] == [
        "2026-03-02",
        "2026-03-05",
        "2026-03-09",
        "2026-03-12",
    ]


def test_a_series_instances_are_listed_by_its_id(events: Any) -> None:
    insert(events, meeting(WEEKLY_ID, recurrence=["RRULE:FREQ=WEEKLY;COUNT=4"]))
    insert(events, meeting("single0001", day=10))
    instances = events.instances(
        calendarId="primary",
        eventId=WEEKLY_ID,
        timeMin="2026-03-10T00:00:00Z",
        maxResults=2,
    ).execute()
    assert [e["start"]["dateTime"] for e in instances["items"]] == [
        "2026-03-16T10:00:00-05:00",
        "2026-03-23T10:00:00-05:00",
    ]
    assert "nextPageToken" not in instances  # two of the series' last two
    single = events.instances(calendarId="primary", eventId="single0001").execute()["items"]
    assert [e["id"] for e in single] == ["single0001"]
    with pytest.raises(HttpError) as missing:
        events.instances(calendarId="primary", eventId="nosuchevent").execute()
    assert missing.value.status_code == 404


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"recurrence": ["RRULE:FREQ=SOMETIMES"]}, "Invalid recurrence rule"),
        ({"recurrence": ["WEEKLY"]}, "Invalid recurrence rule"),
        (
            {
                "start": {"dateTime": "2026-03-02T16:00:00Z"},
                "end": {"dateTime": "2026-03-02T17:00:00Z"},
                "recurrence": ["RRULE:FREQ=WEEKLY"],
            },
            "Missing time zone definition for start time",
        ),
    ],
)
def test_a_bad_recurring_event_is_refused(
    events: Any, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(HttpError) as err:
        insert(events, meeting(WEEKLY_ID, **change))
    assert err.value.status_code == 400
    assert message in str(err.value)
