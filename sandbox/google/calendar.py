"""Google Calendar API v3 stand-in: events of the PS team's calendar (`primary`) and of each
Northwind person's calendar, whose id is their e-mail address.

The PS mailbox reads and writes its colleagues' calendars as a Workspace account does when they are
shared with it ("make changes to events") or through domain-wide delegation: the same token, their
e-mail as `calendarId`. Each calendar has its owner's time zone (the seed's; the PS mailbox's is
UTC), in which an all-day event starts. An id no calendar has is a 404, as Google answers.

psflow makes meetings idempotent with client-supplied event ids, so those are checked as Google
checks them: base32hex characters (a-v, 0-9), 5 to 1024 long, unique in the calendar for good. A
deleted event stays behind with status "cancelled", and its id can never be inserted again (409).

A recurring event keeps its `recurrence` (RFC 5545 RRULE lines) and, as Google requires, a time
zone for its start and end; `events.list` with `singleEvents=true` expands it into its instances
(ids `<eventId>_<UTC start, 20270104T150000Z>`, `recurringEventId`, `originalStartTime`), which
needs a `timeMax` or an end to the rule (COUNT or UNTIL).

Event types (the Event resource's `eventType`, discovery document calendar.v3): `events.list` takes
`eventTypes`, repeatable, and lists every type when it is absent. An `outOfOffice` event is
checked as the guide "Manage focus time, out of office, and working location events"
(developers.google.com/workspace/calendar/api/guides/calendar-status) asks: `outOfOfficeProperties`
given, a transparency of `opaque`, a timed start and end (`dateTime`: never all-day), and no
attendees. `eventType` cannot change once the event exists; `fromGmail` events cannot be made.
A control action plays a person booking time off in Google Calendar's UI (see `book_time_off`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr
from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, Field

from sandbox.core import ApiError, Json, Quota, Sandbox, SandboxDep, base_url
from sandbox.google import common
from sandbox.seed import PS_MAILBOX, PSES, STAFF

router = APIRouter(tags=["google-calendar"])
control = APIRouter(tags=["google-calendar-control"])

_PREFIX = "/google/calendar/v3/"
_KIND = "event"  # stored under "<calendarId>/<eventId>"
CALENDAR_TIME_ZONE = "UTC"  # the PS mailbox's calendar; all-day events start at its midnight
# Every other calendar: a Northwind person's primary calendar, in their own time zone.
PEOPLE_TIME_ZONES = {person.email.lower(): person.time_zone for person in (*STAFF, *PSES)}


def _applies(method: str, path: str) -> bool:
    return path.startswith(_PREFIX)


# Published limits (https://developers.google.com/workspace/calendar/api/guides/quota): 600
# requests per minute per user per project and 10,000 per minute per project, sliding windows.
QUOTAS: tuple[Quota, ...] = (
    Quota("google.calendar-per-user", "Per minute per user per project", 600, 60, _applies),
    Quota(
        "google.calendar-per-project",
        "Per minute per project",
        10_000,
        60,
        _applies,
        per_user=False,
    ),
)


def quota_error(quota: Quota, wait: float) -> ApiError | None:
    """Calendar documents 403 with reason userRateLimitExceeded (per-user limit) or
    rateLimitExceeded (per project) in domain usageLimits; it also may send 429. 403 is what
    tells a client that a 403 is not always permanent."""
    if quota not in QUOTAS:
        return None
    if quota.per_user:
        return ApiError(403, "User Rate Limit Exceeded", "userRateLimitExceeded")
    return ApiError(403, "Rate Limit Exceeded", "rateLimitExceeded")


# --- events --------------------------------------------------------------------------------------

_EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
# What the server sets; a client's values for these are ignored.
_READ_ONLY = {"kind", "etag", "id", "htmlLink", "created", "updated", "creator", "iCalUID"}


def _calendar(calendar_id: str) -> str:
    """The calendar an id names: `primary` is the caller's (the PS mailbox's), an e-mail address
    that person's primary calendar (shared with the PS mailbox)."""
    if calendar_id == "primary" or calendar_id.lower() == PS_MAILBOX:
        return PS_MAILBOX
    if calendar_id.lower() in PEOPLE_TIME_ZONES:
        return calendar_id.lower()
    raise ApiError(404, "Not Found", "notFound")


def _time_zone(calendar: str) -> str:
    """The calendar's time zone (`timeZone` of its listing; where its all-day events start)."""
    return PEOPLE_TIME_ZONES.get(calendar, CALENDAR_TIME_ZONE)


def _key(calendar: str, event_id: str) -> str:
    return f"{calendar}/{event_id}"


def _get(sb: Sandbox, calendar: str, event_id: str) -> Json:
    event = sb.store.get(common.SYSTEM, _KIND, _key(calendar, event_id))
    if event is None:
        raise ApiError(404, "Not Found", "notFound")
    return event


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(
            400, f"Invalid time zone definition for start time: {name}", "invalid"
        ) from None


def _instant(when: Json, field: str, zone: str) -> datetime:
    """An EventDateTime as an aware datetime: dateTime with its offset (or in timeZone), or the
    midnight of an all-day `date` in `zone`, the calendar's time zone."""
    try:
        if when.get("dateTime"):
            moment = datetime.fromisoformat(str(when["dateTime"]).replace("Z", "+00:00"))
            if moment.tzinfo is None:
                if not when.get("timeZone"):
                    raise ApiError(
                        400, f"Missing time zone definition for {field} time.", "required"
                    )
                moment = moment.replace(tzinfo=_zone(str(when["timeZone"])))
            return moment
        if when.get("date"):
            day = date.fromisoformat(str(when["date"]))
            return datetime.combine(day, time(), ZoneInfo(zone))
    except ValueError:
        raise ApiError(400, "Invalid value for: Invalid format", "invalid") from None
    raise ApiError(400, f"Missing {field} time.", "required")


def _normal_time(when: Json, field: str, zone: str) -> Json:
    """The EventDateTime as Google returns it: dateTime with an explicit offset (in timeZone
    when given), timeZone kept; or the all-day date."""
    if when.get("date") and not when.get("dateTime"):
        return {"date": str(when["date"])}
    moment = _instant(when, field, zone)
    out: Json = {}
    if when.get("timeZone"):
        moment = moment.astimezone(_zone(str(when["timeZone"])))
        out["timeZone"] = when["timeZone"]
    return {"dateTime": moment.isoformat(timespec="seconds"), **out}


def _validate_times(event: Json, zone: str) -> None:
    start, end = event.get("start"), event.get("end")
    if not isinstance(start, dict) or not (start.get("dateTime") or start.get("date")):
        raise ApiError(400, "Missing start time.", "required")
    if not isinstance(end, dict) or not (end.get("dateTime") or end.get("date")):
        raise ApiError(400, "Missing end time.", "required")
    if _instant(end, "end", zone) < _instant(start, "start", zone):
        raise ApiError(400, "The specified time range is empty.", "timeRangeEmpty")
    if event.get("recurrence"):
        _validate_recurrence(event, zone)
    event["start"] = _normal_time(start, "start", zone)
    event["end"] = _normal_time(end, "end", zone)


def _validate_recurrence(event: Json, zone: str) -> None:
    """Google refuses a recurring event without a time zone for its start and end (the rule
    repeats the local time), and a rule it cannot parse."""
    for field in ("start", "end"):
        if event[field].get("dateTime") and not event[field].get("timeZone"):
            raise ApiError(400, f"Missing time zone definition for {field} time.", "required")
    rules = event["recurrence"]
    if not isinstance(rules, list) or not all(isinstance(rule, str) for rule in rules):
        raise ApiError(400, "Invalid recurrence rule.", "invalid")
    for rule in rules:
        name, _, value = rule.partition(":")
        if name not in ("RRULE", "EXRULE", "RDATE", "EXDATE") or not value:
            raise ApiError(400, "Invalid recurrence rule.", "invalid")
    try:
        _occurrences(event, None, zone)
    except ValueError:
        raise ApiError(400, "Invalid recurrence rule.", "invalid") from None


def _occurrences(event: Json, until: datetime | None, calendar_zone: str) -> list[datetime]:
    """The starts of a recurring event (in its time zone, else the calendar's), up to `until`
    when the rule is endless; at most 730 of them, as Google's expansion caps an endless
    series."""
    zone = _zone(str(event["start"].get("timeZone") or calendar_zone))
    first = _instant(event["start"], "start", calendar_zone).astimezone(zone)
    # the rule repeats the local time (RFC 5545: an UNTIL is then in UTC)
    rule = rrulestr("\n".join(event["recurrence"]), dtstart=first, forceset=True)
    starts: list[datetime] = []
    for start in rule:
        if (until is not None and start >= until) or len(starts) >= 730:
            break
        starts.append(start)
    return starts


def _instances(
    event: Json, time_min: datetime | None, time_max: datetime | None, calendar_zone: str
) -> list[Json]:
    """A recurring event's instances overlapping [time_min, time_max), as Google lists them."""
    length = _instant(event["end"], "end", calendar_zone) - _instant(
        event["start"], "start", calendar_zone
    )
    zone = str(event["start"].get("timeZone"))
    out = []
    for start in _occurrences(event, time_max, calendar_zone):
        if time_min is not None and start + length <= time_min:
            continue
        stamp = start.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")
        when = {"dateTime": start.isoformat(timespec="seconds"), "timeZone": zone}
        instance = {k: v for k, v in event.items() if k != "recurrence"}
        end = (start + length).isoformat(timespec="seconds")
        instance.update(
            {
                "id": f"{event['id']}_{stamp}",
                "recurringEventId": event["id"],
                "originalStartTime": when,
                "start": when,
                "end": {"dateTime": end, "timeZone": zone},
            }
        )
        out.append(instance)
    return out


def _stamp(sb: Sandbox) -> str:
    return common.now_rfc3339(sb)


def _etag(sb: Sandbox) -> str:
    return f'"{int(sb.now().timestamp() * 1_000_000) * 10 + sb.store.next_id("google.etag") % 10}"'


def _conference(event: Json, body: Json, version: int) -> None:
    """conferenceData is only read with conferenceDataVersion=1 (else ignored, as Google does);
    a createRequest then gets a Meet link."""
    event.pop("conferenceData", None)
    request = (body.get("conferenceData") or {}).get("createRequest")
    if version < 1 or not request:
        return
    code = base64.b32encode(event["id"].encode()).decode().lower()[:10]
    link = f"https://meet.google.com/{code[:3]}-{code[3:7]}-{code[7:10]}"
    event["hangoutLink"] = link
    event["conferenceData"] = {
        "createRequest": {**request, "status": {"statusCode": "success"}},
        "entryPoints": [{"entryPointType": "video", "uri": link, "label": link[8:]}],
        "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
        "conferenceId": link.rsplit("/", 1)[1],
    }


# The Event resource's eventType values (discovery document calendar.v3); `fromGmail` events come
# from Gmail only: "This type of event cannot be created."
EVENT_TYPES = ("default", "outOfOffice", "focusTime", "workingLocation", "birthday", "fromGmail")
# EventOutOfOfficeProperties.autoDeclineMode: "Valid values are ..."
AUTO_DECLINE_MODES = (
    "declineNone",
    "declineAllConflictingInvitations",
    "declineOnlyNewConflictingInvitations",
)


def _event_type(body: Json) -> str:
    event_type = body.get("eventType") or "default"
    if event_type not in EVENT_TYPES:
        raise ApiError(400, f"Invalid event type: {event_type}.", "invalid")
    if event_type == "fromGmail":
        raise ApiError(400, "Events of type fromGmail cannot be created.", "invalid")
    return str(event_type)


def _validate_out_of_office(event: Json) -> None:
    """What the calendar-status guide asks of an out-of-office event, on insert and update alike
    ("the event must keep the required fields"): outOfOfficeProperties, transparency opaque,
    a timed start and end (it cannot be an all-day event), and, being one person's own status,
    no attendees. The stored event keeps transparency `opaque` explicitly, as Google's do."""
    properties = event.get("outOfOfficeProperties")
    if not isinstance(properties, dict):
        raise ApiError(400, "An out of office event needs outOfOfficeProperties.", "required")
    mode = properties.get("autoDeclineMode")
    if mode is not None and mode not in AUTO_DECLINE_MODES:
        raise ApiError(400, f"Invalid value for autoDeclineMode: {mode}.", "invalid")
    message = properties.get("declineMessage")
    if message is not None and not isinstance(message, str):
        raise ApiError(400, "Invalid value for declineMessage.", "invalid")
    if event.setdefault("transparency", "opaque") != "opaque":
        raise ApiError(400, "An out of office event must have transparency opaque.", "invalid")
    for field in ("start", "end"):
        when = event.get(field)
        if isinstance(when, dict) and when.get("date") and not when.get("dateTime"):
            raise ApiError(
                400,
                f"An out of office event cannot be an all-day event: its {field} needs a dateTime.",
                "invalid",
            )
    if event.get("attendees"):
        raise ApiError(400, "An out of office event cannot have attendees.", "invalid")


def _validate_type(event: Json) -> None:
    """Checks of the event's own type; the properties of another type are not kept (each is
    "used if eventType is" its type)."""
    for event_type, field in (
        ("outOfOffice", "outOfOfficeProperties"),
        ("focusTime", "focusTimeProperties"),
        ("workingLocation", "workingLocationProperties"),
    ):
        if event["eventType"] != event_type:
            event.pop(field, None)
    if event["eventType"] == "outOfOffice":
        _validate_out_of_office(event)


def _build(
    sb: Sandbox,
    calendar: str,
    body: Json,
    event_id: str,
    version: int,
    creator: str = PS_MAILBOX,
) -> Json:
    """A new event from a client's resource, with the fields Google fills in. The `creator` is
    who writes it (the PS mailbox through the API); the organizer is the calendar it is on."""
    now = _stamp(sb)
    event = {k: v for k, v in body.items() if k not in _READ_ONLY}
    event.update(
        {
            "kind": "calendar#event",
            "etag": _etag(sb),
            "id": event_id,
            "status": body.get("status") or "confirmed",
            "created": now,
            "updated": now,
            # `self`: whether they are the calendar this copy of the event is on
            "creator": {"email": creator, **({"self": True} if creator == calendar else {})},
            "organizer": body.get("organizer") or {"email": calendar, "self": True},
            "iCalUID": body.get("iCalUID") or f"{event_id}@google.com",
            "sequence": int(body.get("sequence") or 0),
            "reminders": body.get("reminders") or {"useDefault": True},
            "eventType": _event_type(body),
        }
    )
    event["attendees"] = [
        {"responseStatus": "needsAction", **attendee} for attendee in body.get("attendees") or []
    ]
    if not event["attendees"]:
        del event["attendees"]
    _validate_type(event)
    _validate_times(event, _time_zone(calendar))
    _conference(event, body, version)
    return event


def _new_event_id(sb: Sandbox) -> str:
    """An id like Google's own: 26 base32hex characters."""
    digest = hashlib.sha256(f"event:{sb.store.next_id('google.calendar.event')}".encode()).digest()
    return base64.b32hexencode(digest).decode("ascii").lower()[:26]


def _resource(request: Request, calendar: str, event: Json) -> Json:
    """The event with its htmlLink, built for this request's host."""
    eid = base64.urlsafe_b64encode(f"{event['id']} {calendar}".encode()).decode().rstrip("=")
    return {**event, "htmlLink": f"{base_url(request, common.SYSTEM)}/calendar/event?eid={eid}"}


def _version(request: Request) -> int:
    try:
        return int(request.query_params.get("conferenceDataVersion", "0"))
    except ValueError:
        raise ApiError(400, "Invalid conferenceDataVersion", "invalid") from None


BodyDep = Annotated[Json | None, Body()]


@router.post("/calendar/v3/calendars/{calendar_id}/events")
async def insert_event(
    sb: SandboxDep, request: Request, calendar_id: str, body: BodyDep = None
) -> Json:
    """events.insert; `sendUpdates` is accepted (nobody receives mail in the sandbox)."""
    calendar = _calendar(calendar_id)
    body = body or {}
    event_id = body.get("id")
    if event_id is None:
        event_id = _new_event_id(sb)
    elif not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise ApiError(400, "Invalid resource id value.", "invalid")
    if sb.store.get(common.SYSTEM, _KIND, _key(calendar, event_id)) is not None:
        # also when that event was deleted: its id stays taken
        raise ApiError(409, "The requested identifier already exists.", "duplicate")
    event = _build(sb, calendar, body, event_id, _version(request))
    sb.store.put(common.SYSTEM, _KIND, _key(calendar, event_id), event)
    return _resource(request, calendar, event)


@router.get("/calendar/v3/calendars/{calendar_id}/events/{event_id}")
async def get_event(sb: SandboxDep, request: Request, calendar_id: str, event_id: str) -> Json:
    """events.get; a deleted event is still returned, with status "cancelled"."""
    calendar = _calendar(calendar_id)
    return _resource(request, calendar, _get(sb, calendar, event_id))


@router.get("/calendar/v3/calendars/{calendar_id}/events/{event_id}/instances")
async def list_instances(sb: SandboxDep, request: Request, calendar_id: str, event_id: str) -> Json:
    """events.instances: a recurring event's instances in [timeMin, timeMax), by start time (a
    single event is its own one instance); 404 for an unknown event, none for a deleted one."""
    calendar = _calendar(calendar_id)
    zone = _time_zone(calendar)
    event = _get(sb, calendar, event_id)
    time_min, time_max = _bound(request, "timeMin"), _bound(request, "timeMax")
    if event["status"] == "cancelled":
        events: list[Json] = []
    elif event.get("recurrence"):
        events = _instances(event, time_min, time_max, zone)
    else:
        ends_after = time_min is None or _instant(event["end"], "end", zone) > time_min
        starts_before = time_max is None or _instant(event["start"], "start", zone) < time_max
        events = [event] if ends_after and starts_before else []
    return _events_page(sb, request, calendar, zone, events)


def _save_changes(
    sb: Sandbox, calendar: str, old: Json, new: Json, version: int, body: Json
) -> Json:
    for field in _READ_ONLY - {"etag", "updated"}:
        if field in old:
            new[field] = old[field]
    if new.get("eventType", "default") != old.get("eventType", "default"):
        # "This cannot be modified after the event is created."
        raise ApiError(400, "The event type cannot be changed.", "invalid")
    _validate_type(new)
    _validate_times(new, _time_zone(calendar))
    if "conferenceData" in body:
        _conference(new, body, version)
    if (new["start"], new["end"]) != (old["start"], old["end"]):
        new["sequence"] = int(old.get("sequence", 0)) + 1
    new["etag"], new["updated"] = _etag(sb), _stamp(sb)
    return sb.store.put(common.SYSTEM, _KIND, _key(calendar, old["id"]), new)


@router.patch("/calendar/v3/calendars/{calendar_id}/events/{event_id}")
async def patch_event(
    sb: SandboxDep, request: Request, calendar_id: str, event_id: str, body: BodyDep = None
) -> Json:
    """events.patch: the given fields replace the stored ones (arrays whole)."""
    calendar = _calendar(calendar_id)
    old = _get(sb, calendar, event_id)
    body = body or {}
    new = {**old, **{k: v for k, v in body.items() if k not in _READ_ONLY}}
    return _resource(
        request, calendar, _save_changes(sb, calendar, old, new, _version(request), body)
    )


@router.put("/calendar/v3/calendars/{calendar_id}/events/{event_id}")
async def update_event(
    sb: SandboxDep, request: Request, calendar_id: str, event_id: str, body: BodyDep = None
) -> Json:
    """events.update: the whole event is replaced by the given one."""
    calendar = _calendar(calendar_id)
    old = _get(sb, calendar, event_id)
    body = body or {}
    new = _build(sb, calendar, body, event_id, _version(request))
    return _resource(
        request, calendar, _save_changes(sb, calendar, old, new, _version(request), body)
    )


@router.delete("/calendar/v3/calendars/{calendar_id}/events/{event_id}", status_code=204)
async def delete_event(sb: SandboxDep, calendar_id: str, event_id: str) -> None:
    """events.delete: the event becomes "cancelled"; deleting it again is 410 Gone."""
    calendar = _calendar(calendar_id)
    event = _get(sb, calendar, event_id)
    if event["status"] == "cancelled":
        raise ApiError(410, "Resource has been deleted", "deleted")
    event = {**event, "status": "cancelled", "etag": _etag(sb), "updated": _stamp(sb)}
    sb.store.put(common.SYSTEM, _KIND, _key(calendar, event_id), event)


def _bound(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:  # Google wants an offset: RFC 3339
        raise ApiError(400, "Bad Request", "badRequest")
    return moment


def _matches_text(event: Json, query: str) -> bool:
    people = " ".join(
        f"{a.get('email', '')} {a.get('displayName', '')}" for a in event.get("attendees", [])
    )
    text = " ".join(str(event.get(f, "")) for f in ("summary", "description", "location"))
    haystack = f"{text} {people}".lower()
    return all(word in haystack for word in query.lower().split())


@router.get("/calendar/v3/calendars/{calendar_id}/events")
async def list_events(sb: SandboxDep, request: Request, calendar_id: str) -> Json:
    """events.list: timeMin bounds the end and timeMax the start (both exclusive), q searches
    summary, description, location and attendees, eventTypes (repeatable) keeps those types
    (all when absent); paging with pageToken."""
    calendar = _calendar(calendar_id)
    zone = _time_zone(calendar)
    params = request.query_params
    types = set(params.getlist("eventTypes"))
    if types - set(EVENT_TYPES):
        bad = sorted(types - set(EVENT_TYPES))[0]
        raise ApiError(400, f"Invalid value for eventTypes: {bad}", "invalidParameter")
    time_min, time_max = _bound(request, "timeMin"), _bound(request, "timeMax")
    order = params.get("orderBy")
    single = params.get("singleEvents", "false").lower() == "true"
    if order == "startTime" and not single:
        raise ApiError(
            400, "The requested ordering is not available for the particular query.", "invalid"
        )
    show_deleted = params.get("showDeleted", "false").lower() == "true"
    ical_uid, query = params.get("iCalUID"), params.get("q")
    prefix = f"{calendar}/"
    events = []
    for key, event in sb.store.table(common.SYSTEM, _KIND).items():
        if not key.startswith(prefix):
            continue
        if event["status"] == "cancelled" and not show_deleted:
            continue
        if types and event.get("eventType", "default") not in types:
            continue
        if ical_uid and event["iCalUID"] != ical_uid:
            continue
        if query and not _matches_text(event, query):
            continue
        if single and event.get("recurrence"):
            events.extend(_instances(event, time_min, time_max, zone))
            continue
        if time_min and _instant(event["end"], "end", zone) <= time_min:
            continue
        if time_max and _instant(event["start"], "start", zone) >= time_max:
            continue
        events.append(event)
    if order == "startTime":
        events.sort(key=lambda e: (_instant(e["start"], "start", zone), e["id"]))
    elif order == "updated":
        events.sort(key=lambda e: e["updated"])
    return _events_page(sb, request, calendar, zone, events)


def _events_page(
    sb: Sandbox, request: Request, calendar: str, zone: str, events: list[Json]
) -> Json:
    """A page of `events` as events.list and events.instances answer (maxResults, pageToken)."""
    params = request.query_params
    try:
        size = min(max(int(params.get("maxResults", 250)), 1), 2500)
        start = int(params.get("pageToken") or 0)
    except ValueError:
        raise ApiError(400, "Invalid pageToken", "invalid") from None
    page = events[start : start + size]
    out: Json = {
        "kind": "calendar#events",
        "etag": _etag(sb),
        "summary": calendar,
        "updated": _stamp(sb),
        "timeZone": zone,
        # a colleague's calendar is shared with the PS mailbox: "make changes to events"
        "accessRole": "owner" if calendar == PS_MAILBOX else "writer",
        "defaultReminders": [{"method": "popup", "minutes": 10}],
        "items": [_resource(request, calendar, e) for e in page],
    }
    if start + size < len(events):
        out["nextPageToken"] = f"{start + size:012d}"
    return out


# --- control: a person books time off ------------------------------------------------------------


class TimeOff(BaseModel):
    email: str = Field(description="whose calendar: a Northwind person's e-mail address")
    start: date = Field(description="the first day away")
    end: date = Field(description="the last day away (inclusive)")
    summary: str = Field("Out of office", description="the event's title")
    decline_message: str = Field(
        "Declined because I am out of office",
        description="outOfOfficeProperties.declineMessage, sent with declined invitations",
    )


@control.post("/calendar/out_of_office")
async def book_time_off(sb: SandboxDep, request: Request, time_off: TimeOff) -> Json:
    """A person marks days out of office in Google Calendar's UI: one outOfOffice event in their
    own calendar from midnight of the first day to midnight after the last, in their time zone
    (a timed event, as out-of-office events are; the UI's "all day" makes these bounds), which
    declines new conflicting invitations. Answers the event as events.get would. Written
    straight to the store, so the request log stays psflow's own."""
    calendar = time_off.email.strip().lower()
    if calendar not in PEOPLE_TIME_ZONES and calendar != PS_MAILBOX:
        raise HTTPException(404, f"no Northwind calendar for {time_off.email!r}")
    if time_off.end < time_off.start:
        raise HTTPException(422, "end (the last day away) is before start")
    zone = _time_zone(calendar)

    def midnight(day: date) -> Json:
        moment = datetime.combine(day, time(), ZoneInfo(zone))
        return {"dateTime": moment.isoformat(timespec="seconds"), "timeZone": zone}

    body = {
        "summary": time_off.summary,
        "eventType": "outOfOffice",
        "transparency": "opaque",
        "start": midnight(time_off.start),
        "end": midnight(time_off.end + timedelta(days=1)),
        "outOfOfficeProperties": {
            "autoDeclineMode": "declineOnlyNewConflictingInvitations",
            "declineMessage": time_off.decline_message,
        },
    }
    event_id = _new_event_id(sb)
    event = _build(sb, calendar, body, event_id, 0, creator=calendar)
    sb.store.put(common.SYSTEM, _KIND, _key(calendar, event_id), event)
    return _resource(request, calendar, event)
