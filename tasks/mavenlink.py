"""Mavenlink (Kantata OX) tasks: the engagement's workspace, its status, and who is booked.

Every object psflow creates here carries an external reference (service "psflow", the natural key
as `service_model_ref`, engagement/keys.py) sent in the same request as the create, and is looked up
by that reference before any create, so a retried or re-run phase creates nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from blocks import MavenlinkConnection
from engagement.execute import Health, Logged, MilestoneState
from engagement.keys import (
    Kind,
    MavenlinkExternalReference,
    mavenlink_external_reference,
    mavenlink_workspace_title,
    parse_key,
)
from engagement.models import Opportunity
from engagement.plan import Milestone
from engagement.refs import Ref
from engagement.staffing import Allocation
from engagement.validate import from_minor_units
from engagement.workdays import business_days
from tasks.calls import PermanentError, calling, outside_task, read_task
from tasks.clients import systems

SYSTEM = "Mavenlink"
PER_PAGE = 200  # Kantata's largest page

# Kantata project status keys (`status_key`) psflow moves a workspace through. Each account can
# edit its Project Status List: check these against the real account's list before going live.
PROSPECT = "115"  # Pre-Initiate: the project exists, without dates
CANCELLED = "501"  # Closed Lost
IN_SET_UP = "205"  # Initiate
ACTIVE = "300"  # Plan and Execute
CLOSED = "600"  # work done, billing pending
COMPLETED = "605"  # billing done


def moves_forward(current: str | int, wanted: str) -> bool:
    """Whether moving a project from status `current` to `wanted` is forward: Kantata's keys rise
    through the lifecycle (1xx prospect, 2xx not started, 3xx in progress, 4xx on hold, 5xx
    cancelled, 6xx done), so a re-run of an earlier phase never sets a project back, nor over a
    person's hold or cancellation."""
    return int(current) < int(wanted)


# One soft booking per PSE and opportunity (part: the PSE's e-mail).
SOFT_BOOKING_KIND = Kind.STAFFING_BOOKING


def _call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """One API request; raises httpx.HTTPStatusError (classified by `calling`) on an error."""
    response = systems().mavenlink().request(method, path, **kwargs)
    response.raise_for_status()
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def _rows(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The objects of a reply in the order of its `results` (the `<kind>` map is unordered)."""
    return [body[kind][r["id"]] for r in body.get("results", []) if r["key"] == kind]


def _pages(path: str, kind: str, params: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Any]]:
    """(object, whole reply) for every object of a listing, page after page."""
    page = 1
    while True:
        body = _call("GET", path, params={**params, "page": page, "per_page": PER_PAGE})
        for row in _rows(body, kind):
            yield row, body
        if page >= int(body.get("meta", {}).get("page_count", 1)):
            return
        page += 1


def _first(path: str, kind: str, params: dict[str, Any]) -> dict[str, Any] | None:
    return next((row for row, _ in _pages(path, kind, params)), None)


def _by_reference(ref: MavenlinkExternalReference) -> dict[str, str]:
    # the list form of the filter: the single `..._service_model_ref` filter is documented as an
    # integer, and psflow's references are text keys
    return {
        "external_reference_service_name": ref["service_name"],
        "external_reference_service_model_refs": ref["service_model_ref"],
    }


def _user_ids(emails: Iterable[str]) -> dict[str, str]:
    """{email: Kantata user id}. `by_email_address` takes one address per request: for several
    people, one listing of the account's users (a page per 200) costs fewer requests."""
    wanted = list(dict.fromkeys(emails))
    if len(wanted) > 1:
        return _user_ids_listed(wanted)
    ids = {}
    for email in wanted:
        with calling(SYSTEM, f"user {email}"):
            body = _call(
                "GET", "users.json", params={"by_email_address": email, "on_my_account": "true"}
            )
        users = _rows(body, "users")
        if not users:
            raise PermanentError(SYSTEM, f"user {email}", "no Kantata user has this e-mail")
        ids[email] = str(users[0]["id"])
    return ids


def _user_ids_listed(emails: list[str]) -> dict[str, str]:
    by_email = {email.casefold(): email for email in emails}
    ids: dict[str, str] = {}
    with calling(SYSTEM, f"users {', '.join(emails)}"):
        for user, _ in _pages("users.json", "users", {"on_my_account": "true"}):
            email = by_email.get(str(user.get("email_address", "")).strip().casefold())
            if email is not None and email not in ids:
                ids[email] = str(user["id"])
    for email in emails:
        if email not in ids:
            raise PermanentError(SYSTEM, f"user {email}", "no Kantata user has this e-mail")
    return {email: ids[email] for email in emails}


@read_task("read hard bookings")
def get_hard_bookings(emails: list[str], start: date, end: date) -> dict[str, list[Allocation]]:
    """Each person's hard allocations overlapping `start`..`end` (soft ones hold nobody).

    Kantata stores an allocation's total minutes over its dates; an `Allocation` holds minutes per
    business day, so the total is spread over the allocation's own business days.
    """
    user_ids = _user_ids(emails)
    if not user_ids:
        return {}
    email_of = {user_id: email for email, user_id in user_ids.items()}
    params = {
        "user_ids": ",".join(email_of),
        "type": "hard",
        "overlaps_with_date_range": f"{start.isoformat()}:{end.isoformat()}",
    }
    bookings: dict[str, list[Allocation]] = {email: [] for email in user_ids}
    with calling(SYSTEM, f"hard allocations of {', '.join(user_ids)} from {start} to {end}"):
        rows = [
            row for row, _ in _pages("workspace_allocations.json", "workspace_allocations", params)
        ]
        # an allocation names its workspace resource, never its person (Kantata has no user_id
        # on it): with one person asked for, the filter already says whose every row is
        resources = {str(row["workspace_resource_id"]) for row in rows}
        if len(email_of) == 1:
            owner = dict.fromkeys(resources, next(iter(email_of)))
        else:
            owner = _resource_users(resources)
        for row in rows:
            # a resource gone between the two reads took its allocations with it
            if (user_id := owner.get(str(row["workspace_resource_id"]))) in email_of:
                bookings[email_of[user_id]].append(_per_day(row))
    return bookings


def _resource_users(resource_ids: Iterable[str]) -> dict[str, str]:
    """{workspace resource id: its user's id}, one listing per 200 resources (`only`, with the user
    included: Kantata shows a resource's `user_id` only with include=user)."""
    ids = sorted(resource_ids)
    owners: dict[str, str] = {}
    for first in range(0, len(ids), PER_PAGE):
        params = {"only": ",".join(ids[first : first + PER_PAGE]), "include": "user"}
        for row, _ in _pages("workspace_resources.json", "workspace_resources", params):
            if row.get("user_id"):
                owners[str(row["id"])] = str(row["user_id"])
    return owners


def _per_day(allocation: dict[str, Any]) -> Allocation:
    """A Kantata allocation (total minutes over its dates) as minutes per business day."""
    first = date.fromisoformat(allocation["start_date"])
    last = date.fromisoformat(allocation["end_date"])
    days = len(business_days(first, last)) or 1  # a weekend-only allocation books its total
    per_day = min(round(int(allocation["minutes"]) / days), 24 * 60)
    return Allocation(start=first, end=last, minutes_per_day=per_day)


def _find_workspace(ref: MavenlinkExternalReference) -> dict[str, Any] | None:
    return _first(
        "workspaces.json", "workspaces", {**_by_reference(ref), "include_archived": "true"}
    )


def _unclaimed_workspace(title: str) -> dict[str, Any] | None:
    """The oldest workspace titled exactly `title` that carries no psflow reference: one psflow
    created and then crashed before it could record its key."""
    params = {"matching": title, "include": "external_references", "order": "created_at:asc"}
    for row, body in _pages("workspaces.json", "workspaces", params):
        refs = [body["external_references"][i] for i in row.get("external_reference_ids", [])]
        if row["title"] == title and not any(r["service_name"] == "psflow" for r in refs):
            return row
    return None


def project_url(workspace_id: str) -> str:
    """The project in Kantata's web app, where a person opens it (its tasks and bookings too)."""
    return (
        f"{systems().connection(MavenlinkConnection).web_url.rstrip('/')}/workspaces/{workspace_id}"
    )


class Workspace(Ref):
    """A Mavenlink project as a task found or created it, with what later steps compare against
    (so they need no read of their own): its status key and its dates."""

    status: str
    start_date: str | None = None
    due_date: str | None = None
    price: Decimal | None = None  # the budget, once Initiate set it


def _workspace_ref(workspace: dict[str, Any], created: bool) -> Workspace:
    return Workspace(
        system=SYSTEM,
        kind="project",
        name=workspace["title"],
        url=project_url(str(workspace["id"])),
        id=workspace["id"],
        created=created,
        status=str(workspace["status"]["key"]),
        start_date=workspace.get("start_date"),
        due_date=workspace.get("due_date"),
        price=workspace.get("price") if workspace.get("budgeted") else None,
    )


@read_task("find Mavenlink project of {opportunity_id}")
def find_workspace(opportunity_id: str) -> Workspace | None:
    """The engagement's Mavenlink project, or None when Pre-Initiate never made it."""
    ref = mavenlink_external_reference(Kind.WORKSPACE, opportunity_id)
    with calling(SYSTEM, f"project of opportunity {opportunity_id}"):
        workspace = _find_workspace(ref)
    return _workspace_ref(workspace, created=False) if workspace else None


@outside_task("release soft bookings on project {workspace_id}")
def ensure_bookings_released(workspace_id: str, opportunity_id: str) -> list[Ref]:
    """Every soft booking psflow made for the opportunity deleted from the project (one listing,
    a delete each): the people are free again. A hard booking is a person's decision: left.

    Returns:
        The bookings released now (none on a re-run).
    """
    params = {
        "workspace_ids": workspace_id,
        "external_reference_service_name": "psflow",
        "external_reference_service_model": SOFT_BOOKING_KIND.value,
    }
    released = []
    with calling(
        SYSTEM, f"soft bookings of opportunity {opportunity_id} on project {workspace_id}"
    ):
        for row, _ in list(_pages("workspace_allocations.json", "workspace_allocations", params)):
            if row.get("hard"):
                continue
            _call("DELETE", f"workspace_allocations/{row['id']}.json")
            name = f"{row['start_date']} to {row['end_date']}, {row['minutes']} minutes (soft)"
            released.append(
                Ref(
                    system=SYSTEM,
                    kind="released soft booking",
                    name=name,
                    url=project_url(workspace_id),
                    id=row["id"],
                    created=True,
                )
            )
    return released


@outside_task("create Mavenlink project")
def ensure_workspace(opportunity: Opportunity, status: str = PROSPECT) -> Workspace:
    """The engagement's Mavenlink project, created in `status` (a Kantata status key), without
    dates, if no project carries the opportunity's reference yet.

    A project with psflow's exact title and no psflow reference is adopted (the reference is
    attached) rather than duplicated: that is psflow's own create whose answer was lost.
    """
    ref = mavenlink_external_reference(Kind.WORKSPACE, opportunity.id)
    title = mavenlink_workspace_title(opportunity.name, opportunity.sow_number)
    with calling(SYSTEM, f"project {title!r} of opportunity {opportunity.id}"):
        if workspace := _find_workspace(ref):
            return _workspace_ref(workspace, created=False)
        if workspace := _unclaimed_workspace(title):
            reference = {"subject_type": "Workspace", "subject_id": workspace["id"], **ref}
            _call(
                "POST",
                "external_references/create_or_update.json",
                json={"external_reference": reference},
            )
            return _workspace_ref(workspace, created=False)
        fields = {
            "title": title,
            "description": f"{opportunity.name} (Salesforce opportunity {opportunity.id})",
            "status_key": int(status),
            # the opportunity's amount stands in for the budget until Initiate sets the SOW's
            "budgeted": True,
            "price": str(opportunity.amount),
            "currency": opportunity.currency,
            "external_reference": dict(ref),
        }
        body = _call("POST", "workspaces.json", json={"workspace": fields})
    return _workspace_ref(_rows(body, "workspaces")[0], created=True)


@outside_task("set Mavenlink project {workspace} status {status}")
def ensure_workspace_status(workspace: Workspace, status: str) -> bool:
    """Move the project forward to `status` (a Kantata status key) from the status it had when this
    run found it; True when it moved, False when it was there or further along already (nothing is
    written)."""
    if not moves_forward(workspace.status, status):
        return False
    with calling(SYSTEM, f"status of project {workspace.id}"):
        _call(
            "PUT",
            f"workspaces/{workspace.id}.json",
            json={"workspace": {"status_key": int(status)}},
        )
    return True


def _resource_id(workspace_id: str, user_id: str) -> str:
    """The user's named resource on the workspace, created when missing (which also makes the
    user a participant)."""
    params = {"workspace_id": workspace_id, "user_id": user_id}
    if resource := _first("workspace_resources.json", "workspace_resources", params):
        return str(resource["id"])
    body = _call(
        "POST",
        "workspace_resources.json",
        json={"workspace_resource": {"workspace_id": workspace_id, "user_id": user_id}},
    )
    return str(_rows(body, "workspace_resources")[0]["id"])


@outside_task("book {pse_email} (soft)")
def ensure_soft_booking(
    workspace_id: str,
    opportunity_id: str,
    pse_email: str,
    start: date,
    end: date,
    hours_per_day: Decimal | float,
) -> Ref:
    """A soft allocation of the PSE on the project over `start`..`end`: the proposal the PS
    Project Coordinator approves. Soft, so it holds nobody until then (PROCESS.md, Pre-Initiate).
    Found by its reference; its dates follow the opportunity's when they move.

    Raises:
        PermanentError: when the PSE has no Kantata user, or the project does not exist.
        ValueError: when the window has no business day.
    """
    return _ensure_allocation(
        Kind.STAFFING_BOOKING, workspace_id, opportunity_id, pse_email, start, end, hours_per_day
    )


@outside_task("book {pse_email} hard from {start} to {end}")
def ensure_hard_booking(
    workspace_id: str,
    opportunity_id: str,
    pse_email: str,
    start: date,
    end: date,
    hours_per_day: Decimal | float,
) -> Ref:
    """The hard allocation of the PSE on the project (one per person and opportunity, found by its
    reference): Plan books `start`..`end` two months ahead, and Execute moves its end forward.

    Raises:
        PermanentError: when the PSE has no Kantata user, or the project does not exist.
        ValueError: when the window has no business day.
    """
    return _ensure_allocation(
        Kind.HARD_BOOKING, workspace_id, opportunity_id, pse_email, start, end, hours_per_day
    )


@read_task("find hard bookings of {emails}")
def find_hard_bookings(
    workspace_id: str, opportunity_id: str, emails: Sequence[str]
) -> dict[str, Allocation]:
    """The hard allocations Plan made on the project for these PSEs (by their references), as
    minutes per working day; a PSE Plan has not booked is missing. One listing."""
    wanted = {
        mavenlink_external_reference(Kind.HARD_BOOKING, opportunity_id, email)[
            "service_model_ref"
        ]: email
        for email in emails
    }
    params = {
        "workspace_ids": workspace_id,
        "external_reference_service_name": "psflow",
        "external_reference_service_model": Kind.HARD_BOOKING.value,
        "include": "external_references",
    }
    found = {}
    with calling(SYSTEM, f"hard bookings of opportunity {opportunity_id} on {workspace_id}"):
        for row, body in _pages("workspace_allocations.json", "workspace_allocations", params):
            for i in row.get("external_reference_ids", []):
                email = wanted.get(body["external_references"][i]["service_model_ref"])
                if email is not None:
                    found[email] = _per_day(row)
    return found


def _ensure_allocation(
    kind: Kind,
    workspace_id: str,
    opportunity_id: str,
    pse_email: str,
    start: date,
    end: date,
    hours_per_day: Decimal | float,
) -> Ref:
    hard = kind is Kind.HARD_BOOKING
    label = "hard booking" if hard else "soft booking"
    days = len(business_days(start, end))  # Kantata counts its own calendar: weekdays
    if not days:
        raise ValueError(f"the window {start} to {end} has no business day to book")
    # Kantata wants the total over the range, not minutes per day
    minutes = round(Decimal(str(hours_per_day)) * 60 * days)
    ref = mavenlink_external_reference(kind, opportunity_id, pse_email)
    name = f"{pse_email}: {hours_per_day} h/day from {start} to {end} ({label.split()[0]})"
    user_id = _user_ids([pse_email])[pse_email]
    window = {"start_date": start.isoformat(), "end_date": end.isoformat(), "minutes": minutes}
    with calling(SYSTEM, f"{label} of {pse_email} on project {workspace_id}"):
        params = {"workspace_ids": workspace_id, **_by_reference(ref)}
        if found := _first("workspace_allocations.json", "workspace_allocations", params):
            # the dates moved since it was booked: the booking follows them
            if any(str(found.get(field)) != str(value) for field, value in window.items()):
                _call(
                    "PUT",
                    f"workspace_allocations/{found['id']}.json",
                    json={"workspace_allocation": window},
                )
            return Ref(
                system=SYSTEM,
                kind=label,
                name=name,
                url=project_url(workspace_id),
                id=found["id"],
                created=False,
            )
        allocation = {
            "resource_id": _resource_id(workspace_id, user_id),
            **window,
            "hard": hard,
            "external_reference": dict(ref),
        }
        body = _call(
            "POST", "workspace_allocations.json", json={"workspace_allocation": allocation}
        )
    row = _rows(body, "workspace_allocations")[0]
    return Ref(
        system=SYSTEM,
        kind=label,
        name=name,
        url=project_url(workspace_id),
        id=row["id"],
        created=True,
    )


# --- Initiate: the project's budget, custom fields, tasks and team ---------------------------------

# A participation's team (Kantata's `role` of a participation): the provider or the client side.
PROVIDER_TEAM = "maven"
CLIENT_TEAM = "buyer"
TEAMS = (PROVIDER_TEAM, CLIENT_TEAM)


def _same_number(current: Any, wanted: Decimal | int) -> bool:
    """Kantata answers amounts as text ("60000.00") and percentages as numbers."""
    try:
        return current is not None and Decimal(str(current)) == Decimal(wanted)
    except ArithmeticError:  # decimal.InvalidOperation: text that is not a number
        return False


def _custom_field_ids(names: Iterable[str], subject: str = "Workspace") -> dict[str, str]:
    """{name: id} of the account's custom fields of `subject` (a project, "Workspace", or a
    task, "Story"); a PermanentError names any missing."""
    wanted = set(names)
    ids = {
        row["name"]: str(row["id"])
        for row, _ in _pages("custom_fields.json", "custom_fields", {"subject_type": subject})
        if row["name"] in wanted
    }
    if missing := sorted(wanted - set(ids)):
        raise PermanentError(
            SYSTEM,
            f"custom fields {', '.join(map(repr, missing))}",
            f"no {subject} custom field has this name; an account administrator "
            "creates it in Kantata's custom field settings",
        )
    return ids


def _custom_field_values(
    subject_id: str, names: Iterable[str], subject: str = "Workspace"
) -> tuple[dict[str, Any], dict[str, str]]:
    """({field id: value} of the project (or task), {name: field id} of the fields called
    `names`).

    The values come with their fields (Kantata shows a value's `custom_field_id` only with
    include=custom_field, and a value side-loaded with its subject cannot ask for it); the
    account's fields are listed only for a name the subject has no value of yet.
    """
    wanted = set(names)
    values: dict[str, Any] = {}
    ids: dict[str, str] = {}
    params = {"subject_type": subject, "with_subject_id": subject_id}
    for row, body in _pages(
        "custom_field_values.json", "custom_field_values", {**params, "include": "custom_field"}
    ):
        field_id = str(row["custom_field_id"])
        values[field_id] = row.get("value")
        name = (body.get("custom_fields") or {}).get(field_id, {}).get("name")
        if name in wanted:
            ids[name] = field_id
    if missing := wanted - set(ids):
        ids.update(_custom_field_ids(missing, subject))
    return values, ids


def workspace_fields(
    opportunity: Opportunity, project_url: str, definition_url: str | None
) -> dict[str, str]:
    """The project's custom fields psflow fills, by their names in Kantata (an account
    administrator creates them): the links to the GitLab project, the opportunity and the Project
    Definition, and the SOW number. An empty one is left as it is."""
    return {
        "GitLab Project": project_url,
        "Salesforce Opportunity": opportunity.id,
        "SOW Number": opportunity.sow_number or "",
        "Project Definition": definition_url or "",
    }


@outside_task("set Mavenlink project budget, margin and fields")
def ensure_workspace_details(
    workspace_id: str,
    budget: Decimal,
    currency: str,
    target_margin_percent: int,
    custom_fields: dict[str, str],
    status: str | None = None,
) -> bool:
    """The project's budget (the SOW amount), its target margin (Kantata's native
    `target_margin`, a whole percentage), custom fields by name, e.g.
    {"GitLab Project": url, "Salesforce Opportunity": id}, and its `status` (a Kantata status
    key) when given and forward (`moves_forward`): two reads (the project, its custom field
    values; a third, the account's custom fields, while the project has no value of one of them
    yet), then one update carrying only what differs. An empty value is skipped, never written
    over what is there.

    Returns:
        True when Kantata was written; False on a re-run.

    Raises:
        PermanentError: when the project or a custom field of that name does not exist.

    Example:
        >>> ensure_workspace_details.fn(
        ...     "100001", Decimal("120000"), "USD", 40,
        ...     {"GitLab Project": "https://gitlab.example/ps-customers/acme/ci-cd"},
        ... )  # doctest: +SKIP
        True
    """
    fields = {name: value for name, value in custom_fields.items() if value}
    with calling(SYSTEM, f"budget, margin and custom fields of project {workspace_id}"):
        workspace = _rows(_call("GET", f"workspaces/{workspace_id}.json"), "workspaces")[0]
        current, field_ids = _custom_field_values(workspace_id, fields) if fields else ({}, {})
        changes: dict[str, Any] = {}
        if status is not None and moves_forward(workspace["status"]["key"], status):
            changes["status_key"] = int(status)
        if currency.upper() != str(workspace.get("currency") or "").upper():
            changes["currency"] = currency.upper()
        if not workspace.get("budgeted") or not _same_number(workspace.get("price"), budget):
            changes.update(budgeted=True, price=str(budget))
        if not _same_number(workspace.get("target_margin"), target_margin_percent):
            changes["target_margin"] = target_margin_percent
        differing = [
            {"custom_field_id": field_ids[name], "value": value}
            for name, value in fields.items()
            if str(current.get(field_ids[name]) or "") != value
        ]
        if differing:
            changes["custom_fields"] = differing
        if changes:
            _call("PUT", f"workspaces/{workspace_id}.json", json={"workspace": changes})
    return bool(changes)


def _story_ref(story: dict[str, Any], workspace_id: str, created: bool, kind: str = "task") -> Ref:
    return Ref(
        system=SYSTEM,
        kind=kind,
        name=story["title"],
        url=f"{project_url(workspace_id)}#tracker/{story['id']}",
        id=story["id"],
        created=created,
    )


def _unclaimed_story(workspace_id: str, title: str) -> dict[str, Any] | None:
    """The first task on the project titled exactly `title` without a psflow reference: one a
    person made by hand, or psflow's own create whose answer was lost before its reference."""
    params = {"workspace_id": workspace_id, "search": title, "include": "external_references"}
    for row, body in _pages("stories.json", "stories", params):
        refs = [body["external_references"][i] for i in row.get("external_reference_ids", [])]
        if row["title"] == title and not any(r["service_name"] == "psflow" for r in refs):
            return row
    return None


@outside_task("create Mavenlink task {title}")
def ensure_story(
    workspace_id: str,
    opportunity_id: str,
    code: str,
    title: str,
    hours: Decimal,
    story_type: str = "task",
) -> Ref:
    """The project's task (or milestone, deliverable) for one SOW activity, estimated at `hours`.

    Found by its external reference (part: the activity `code`); else a task titled exactly
    `title` without a reference is adopted (the reference is attached); else it is created with
    the reference in the same request. An existing task's estimate is corrected when it differs
    from `hours`; its title is left to the people who may have renamed it.

    Example:
        >>> ensure_story.fn("100001", "006Dn0000000002IAA", "PS-MIG", "PS-MIG – Migration",
        ...                 Decimal(80))  # doctest: +SKIP
        Ref(system='Mavenlink', kind='task', ...)
    """
    ref = mavenlink_external_reference(Kind.WORKSPACE_TASK, opportunity_id, code)
    minutes = round(hours * 60)
    with calling(SYSTEM, f"task {title!r} on project {workspace_id}"):
        params = {"workspace_id": workspace_id, **_by_reference(ref)}
        story = _first("stories.json", "stories", params)
        if story is None and (story := _unclaimed_story(workspace_id, title)):
            reference = {"subject_type": "Story", "subject_id": story["id"], **ref}
            _call(
                "POST",
                "external_references/create_or_update.json",
                json={"external_reference": reference},
            )
        if story is None:
            fields = {
                "workspace_id": workspace_id,
                "title": title,
                "story_type": story_type,
                "time_estimate_in_minutes": minutes,
                "external_reference": dict(ref),
            }
            body = _call("POST", "stories.json", json={"story": fields})
            return _story_ref(_rows(body, "stories")[0], workspace_id, created=True)
        if story.get("time_estimate_in_minutes") != minutes:
            estimate = {"time_estimate_in_minutes": minutes}
            _call("PUT", f"stories/{story['id']}.json", json={"story": estimate})
    return _story_ref(story, workspace_id, created=False)


@outside_task("plan Mavenlink milestones {milestones}")
def ensure_milestones(
    workspace_id: str, opportunity_id: str, milestones: Sequence[Milestone]
) -> list[Ref]:
    """The project's milestone for each SOW activity (found by its reference, part: the activity
    code), created with the plan's start and due dates. Dates a person already set on one are
    never overwritten: only a missing one is filled in. One listing for them all; a write per
    milestone made or dated.

    Example:
        >>> ensure_milestones.fn("100001", "006Dn0000000002IAA", [Milestone(code="PS-MIG",
        ...     title="Migration", hours=Decimal(80), start=date(2027, 1, 4),
        ...     due=date(2027, 1, 29))])  # doctest: +SKIP
        [Ref(system='Mavenlink', kind='milestone', ...)]
    """
    wanted = {
        mavenlink_external_reference(Kind.MILESTONE, opportunity_id, m.code)["service_model_ref"]: m
        for m in milestones
    }
    made = []
    with calling(SYSTEM, f"milestones of project {workspace_id}"):
        params = {
            "workspace_id": workspace_id,
            "story_type": "milestone",
            "external_reference_service_name": "psflow",
            "external_reference_service_model_refs": ",".join(wanted),
            "include": "external_references",
        }
        found = {}
        for row, body in _pages("stories.json", "stories", params):
            for i in row.get("external_reference_ids", []):
                found[body["external_references"][i]["service_model_ref"]] = row
        for key, milestone in wanted.items():
            dates = {
                "start_date": milestone.start.isoformat(),
                "due_date": milestone.due.isoformat(),
            }
            story = found.get(key)
            if story is None:
                ref = mavenlink_external_reference(Kind.MILESTONE, opportunity_id, milestone.code)
                fields = {
                    "workspace_id": workspace_id,
                    "title": milestone.title,
                    "story_type": "milestone",
                    **dates,
                    "external_reference": dict(ref),
                }
                with calling(SYSTEM, f"milestone {milestone.title!r} on project {workspace_id}"):
                    body = _call("POST", "stories.json", json={"story": fields})
                made.append(_story_ref(_rows(body, "stories")[0], workspace_id, True, "milestone"))
                continue
            missing = {field: day for field, day in dates.items() if not story.get(field)}
            if missing:
                with calling(SYSTEM, f"milestone {milestone.title!r} on project {workspace_id}"):
                    _call("PUT", f"stories/{story['id']}.json", json={"story": missing})
            made.append(_story_ref(story, workspace_id, False, kind="milestone"))
    return made


@outside_task("set Mavenlink project {workspace} dates")
def ensure_workspace_dates(workspace: Workspace, start: date, due: date) -> bool:
    """The project's start and due dates, each only where it had none when this run found it (a
    date a person set is theirs). True when Kantata was written."""
    dates = {"start_date": start.isoformat(), "due_date": due.isoformat()}
    had = {"start_date": workspace.start_date, "due_date": workspace.due_date}
    missing = {field: day for field, day in dates.items() if not had[field]}
    if missing:
        with calling(SYSTEM, f"dates of project {workspace.id}"):
            _call("PUT", f"workspaces/{workspace.id}.json", json={"workspace": missing})
    return bool(missing)


@outside_task("re-baseline Mavenlink project {workspace}: budget {budget}, due {due}")
def ensure_workspace_baseline(workspace: Workspace, budget: Decimal, due: date) -> bool:
    """The project's budget and due date as an approved change request sets them (both moved,
    whatever a person had set: the change request is the agreement). True when Kantata was
    written; a write only where they differ from what the project held when found."""
    changes: dict[str, Any] = {}
    if workspace.price is None or not _same_number(workspace.price, budget):
        changes.update(budgeted=True, price=str(budget))
    if workspace.due_date != due.isoformat():
        changes["due_date"] = due.isoformat()
    if changes:
        with calling(SYSTEM, f"budget and due date of project {workspace.id}"):
            _call("PUT", f"workspaces/{workspace.id}.json", json={"workspace": changes})
    return bool(changes)


@outside_task("re-plan Mavenlink milestones {milestones}, without {removed}")
def ensure_milestones_moved(
    workspace_id: str,
    opportunity_id: str,
    milestones: Sequence[Milestone],
    removed: Sequence[str] = (),
) -> list[Ref]:
    """After an approved change request: each activity's milestone at its new dates (made when the
    change adds the activity), one already completed left as it was, and the milestones of the
    activities it `removed` (codes) deleted. One listing; a write per milestone changed.

    Returns:
        The milestones of `milestones` (`created` where one was made or moved now).
    """

    def ref_of(code: str) -> str:
        return mavenlink_external_reference(Kind.MILESTONE, opportunity_id, code)[
            "service_model_ref"
        ]

    wanted = {ref_of(m.code): m for m in milestones}
    gone = {ref_of(code) for code in removed}
    params = {
        "workspace_id": workspace_id,
        "story_type": "milestone",
        "external_reference_service_name": "psflow",
        "external_reference_service_model_refs": ",".join([*wanted, *gone]),
        "include": "external_references",
    }
    made = []
    with calling(SYSTEM, f"milestones of project {workspace_id}"):
        found = {}
        for row, body in _pages("stories.json", "stories", params):
            for i in row.get("external_reference_ids", []):
                found[body["external_references"][i]["service_model_ref"]] = row
        for key in gone & found.keys():
            with calling(SYSTEM, f"milestone {found[key]['title']!r} on project {workspace_id}"):
                _call("DELETE", f"stories/{found[key]['id']}.json")
        for key, milestone in wanted.items():
            dates = {
                "start_date": milestone.start.isoformat(),
                "due_date": milestone.due.isoformat(),
            }
            story = found.get(key)
            what = f"milestone {milestone.title!r} on project {workspace_id}"
            if story is None:
                fields = {
                    "workspace_id": workspace_id,
                    "title": milestone.title,
                    "story_type": "milestone",
                    **dates,
                    "external_reference": dict(
                        mavenlink_external_reference(Kind.MILESTONE, opportunity_id, milestone.code)
                    ),
                }
                with calling(SYSTEM, what):
                    body = _call("POST", "stories.json", json={"story": fields})
                made.append(_story_ref(_rows(body, "stories")[0], workspace_id, True, "milestone"))
                continue
            moved = {f: day for f, day in dates.items() if story.get(f) != day}
            written = bool(moved) and story.get("state") != "completed"
            if written:
                with calling(SYSTEM, what):
                    _call("PUT", f"stories/{story['id']}.json", json={"story": moved})
            made.append(_story_ref(story, workspace_id, written, kind="milestone"))
    return made


@outside_task("record {fields} on Mavenlink milestone {code}")
def ensure_milestone_record(
    workspace_id: str,
    opportunity_id: str,
    code: str,
    fields: Mapping[str, str],
    completed: bool = False,
) -> Ref:
    """The activity's milestone with the handbook's acceptance records as custom fields (by
    name: "Sign-Off Sent", "Sign-Off Received", "Passive Acceptance Utilized") and, once the
    customer accepted it, `completed`. Two reads (the milestone, its values; a third for a field
    it has no value of yet), a write per field that differs and one to complete it.

    Raises:
        PermanentError: when Plan made no milestone for the activity.
    """
    ref = mavenlink_external_reference(Kind.MILESTONE, opportunity_id, code)
    params = {"workspace_id": workspace_id, "story_type": "milestone", **_by_reference(ref)}
    with calling(SYSTEM, f"milestone {code} of project {workspace_id}"):
        story = _first("stories.json", "stories", params)
        if story is None:
            raise PermanentError(SYSTEM, f"milestone {code} of project {workspace_id}", "not found")
        story_id = str(story["id"])
        current, ids = _custom_field_values(story_id, fields, "Story")
        differing = {n: v for n, v in fields.items() if str(current.get(ids[n]) or "") != v}
        for name, value in differing.items():
            item = {
                "subject_type": "Story",
                "subject_id": int(story_id),
                "custom_field_id": ids[name],
                "value": value,
            }
            _call("POST", "custom_field_values.json", json={"custom_field_value": item})
        changed = completed and story.get("state") != "completed"
        if changed:
            _call("PUT", f"stories/{story_id}.json", json={"story": {"state": "completed"}})
    return _story_ref(story, workspace_id, bool(changed or differing), kind="milestone")


@outside_task("bill Mavenlink milestone {code}: {amount_in_cents} minor units")
def ensure_billing_milestone(
    workspace_id: str,
    opportunity_id: str,
    code: str,
    story: Ref,
    amount_in_cents: int,
    on: date,
) -> Ref:
    """The accepted milestone's share of a fixed fee on the project's Billing Schedule,
    invoiceable from `on` (the acceptance day) and tied to the milestone's task. Found by its
    reference (part: the activity code): one listing, and a write only when it is missing; an
    amount a person changed since is theirs.
    """
    ref = mavenlink_external_reference(Kind.BILLING_MILESTONE, opportunity_id, code)
    params = {"workspace_ids": workspace_id, **_by_reference(ref)}
    created = False
    with calling(SYSTEM, f"billing milestone {code} of project {workspace_id}"):
        found = _first("billing_milestones.json", "billing_milestones", params)
        if found is None:
            fields = {
                "workspace_id": workspace_id,
                "story_id": story.id,
                "title": story.name,
                "amount_in_cents": amount_in_cents,
                "billing_type": "fixed_date",
                "date_to_invoice": on.isoformat(),
                "external_reference": dict(ref),
            }
            body = _call("POST", "billing_milestones.json", json={"billing_milestone": fields})
            found, created = _rows(body, "billing_milestones")[0], True
    return Ref(
        system=SYSTEM,
        kind="billing milestone",
        name=found["title"],
        url=f"{project_url(workspace_id)}#financials",
        id=str(found["id"]),
        created=created,
    )


def _participation(workspace_id: str, user_id: str) -> dict[str, Any] | None:
    params = {"workspace_id": workspace_id, "by_user": user_id}
    return _first("participations.json", "participations", params)


def _join(workspace_id: str, user_id: str, team: str) -> dict[str, Any]:
    fields = {"workspace_id": workspace_id, "user_id": user_id, "role": team}
    body = _call("POST", "participations.json", json={"participation": fields})
    return _rows(body, "participations")[0]


def _email_of(user: dict[str, Any] | None) -> str:
    """A side-loaded user's e-mail, casefolded to compare ("" for none)."""
    return str((user or {}).get("email_address", "")).strip().casefold()


@outside_task("add Mavenlink participants {emails}")
def ensure_participants(workspace_id: str, emails: Sequence[str], role: str = PROVIDER_TEAM) -> int:
    """Each person a participant of the project on the team `role`: "maven" (the provider,
    Northwind's PS team) or "buyer" (the client), as Kantata names a participation's team. One
    listing of the project's participations (their users side-loaded); only the people missing
    from it are looked up and joined.

    Returns:
        How many joined (0 when everyone was there).

    Raises:
        ValueError: for another `role`.
        PermanentError: when a person has no Kantata user, or is on the other team (Kantata
            cannot move a participant between teams; a person has to). Checked for everyone
            before anyone joins.

    Example:
        >>> ensure_participants.fn("100001", ["divya.nair@northwind.example"])  # doctest: +SKIP
        1
    """
    if role not in TEAMS:
        raise ValueError(f"role must be one of {TEAMS} (Kantata's teams); got {role!r}")
    wanted = list({email.casefold(): email for email in emails}.values())  # one per person
    teams: dict[str, str] = {}  # e-mail, casefolded -> the team they are on
    params = {"workspace_id": workspace_id, "include": "user"}
    with calling(SYSTEM, f"participants of project {workspace_id}"):
        for participation, body in _pages("participations.json", "participations", params):
            user = (body.get("users") or {}).get(str(participation["user_id"]))
            teams[_email_of(user)] = participation["role"]
    for email in wanted:
        if teams.get(email.casefold(), role) != role:
            raise PermanentError(
                SYSTEM,
                f"participant {email} of project {workspace_id}",
                f"is on the {teams[email.casefold()]!r} team, not {role!r}; move them in Kantata",
            )
    missing = [email for email in wanted if email.casefold() not in teams]
    user_ids = _user_ids(missing)
    for email in missing:
        with calling(SYSTEM, f"participant {email} of project {workspace_id}"):
            _join(workspace_id, user_ids[email], role)
    return len(missing)


@outside_task("make {email} Mavenlink project lead")
def ensure_lead(workspace_id: str, email: str) -> bool:
    """The project owner as the project's lead: in Kantata, the lead of the provider team
    (the workspace's `primary_maven`), set with `team_lead` on their participation, which is
    created first when they are not on the project yet. Kantata keeps one lead per team, so
    the previous lead stays a participant.

    Returns:
        True when Kantata was written; False when they already lead the project.

    Example:
        >>> ensure_lead.fn("100001", "divya.nair@northwind.example")  # doctest: +SKIP
        True
    """
    with calling(SYSTEM, f"lead {email} of project {workspace_id}"):
        answer = _call(
            "GET", f"workspaces/{workspace_id}.json", params={"include": "primary_maven"}
        )
    lead_id = str(_rows(answer, "workspaces")[0].get("primary_maven_id"))
    if _email_of((answer.get("users") or {}).get(lead_id)) == email.casefold():
        return False  # the lead came with the project: no look-up of the person
    user_id = _user_ids([email])[email]
    with calling(SYSTEM, f"lead {email} of project {workspace_id}"):
        if lead_id == user_id:
            return False
        participation = _participation(workspace_id, user_id) or _join(
            workspace_id, user_id, PROVIDER_TEAM
        )
        if participation["role"] != PROVIDER_TEAM:
            raise PermanentError(
                SYSTEM,
                f"lead {email} of project {workspace_id}",
                "is on the client team; the project lead must be on the provider team",
            )
        _call(
            "PUT",
            f"participations/{participation['id']}.json",
            json={"participation": {"team_lead": True}},
        )
    return True


# --- Execute: hours logged, health reported -------------------------------------------------------


@read_task("read hours logged on project {workspace_id}")
def get_time_entries(workspace_id: str) -> tuple[Logged, ...]:
    """Every time entry on the project, with who logged it and on which task: one listing (pages
    of 200), the people and tasks side-loaded."""
    params = {"workspace_id": workspace_id, "include": "user,story"}
    logged = []
    with calling(SYSTEM, f"time entries of project {workspace_id}"):
        for row, body in _pages("time_entries.json", "time_entries", params):
            user = body.get("users", {}).get(str(row.get("user_id")), {})
            logged.append(
                Logged(
                    day=date.fromisoformat(row["date_performed"]),
                    person=str(user.get("email_address") or row.get("user_id")),
                    task_id=str(row["story_id"]) if row.get("story_id") else None,
                    hours=Decimal(int(row["time_in_minutes"])) / 60,
                    cost_rate=_money(row.get("cost_rate_in_cents"), row.get("currency_base_unit")),
                )
            )
    return tuple(logged)


def _money(subunits: Any, base_unit: Any) -> Decimal | None:
    """An amount Kantata gives in its currency's subunits, in units (None stays None)."""
    return None if subunits is None else Decimal(int(subunits)) / int(base_unit or 100)


@outside_task("report the health of Mavenlink project {workspace}")
def ensure_health_report(workspace: Workspace, since: datetime, health: Health) -> Ref:
    """The project's status report (its health: colour and why), at most one a day: a report
    made since `since` (the day's start, in the customer's time zone), by psflow or a person,
    stands for the day."""
    params = {"workspace_id": workspace.id, "created_after": since.isoformat()}
    with calling(SYSTEM, f"status reports of project {workspace.id}"):
        made = _first("status_reports.json", "status_reports", params)
        created = made is None
        if made is None:
            report = {
                "workspace_id": workspace.id,
                "color": health.colour.value,
                "description": "\n".join(health.reasons),
            }
            made = _rows(
                _call("POST", "status_reports.json", json={"status_report": report}),
                "status_reports",
            )[0]
    return Ref(
        system=SYSTEM,
        kind="health report",
        name=f"{made['color']}: {made['description'].splitlines()[0] if made['description'] else ''}",
        url=f"{project_url(workspace.id)}#status",
        id=str(made["id"]),
        created=created,
    )


@read_task("read the milestones of project {workspace_id}")
def get_milestones(workspace_id: str) -> tuple[MilestoneState, ...]:
    """The project's milestones with their due dates and whether they are done: one listing."""
    params = {"workspace_id": workspace_id, "story_type": "milestone"}
    with calling(SYSTEM, f"milestones of project {workspace_id}"):
        rows = [row for row, _ in _pages("stories.json", "stories", params)]
    return tuple(
        MilestoneState(
            title=row["title"],
            due=date.fromisoformat(row["due_date"]),
            done=row.get("state") == "completed",
        )
        for row in sorted(rows, key=lambda r: (r.get("due_date") or "", r["title"]))
        if row.get("due_date")
    )


# --- Close: what the wrap-up reads, the bookings ended, the sign-off's clock ---------------------

PASSIVE_LANGUAGE = "Passive Acceptance Language"  # a project custom field a person sets: "Yes"


@read_task("read the activity tasks of project {workspace_id}")
def get_activity_tasks(workspace_id: str, opportunity_id: str) -> dict[str, str]:
    """{task id: SOW activity code} of the tasks and milestones psflow made on the project (by
    their references): what the wrap-up counts each time entry against. One listing."""
    kinds = {Kind.WORKSPACE_TASK.value, Kind.MILESTONE.value}
    params = {
        "workspace_id": workspace_id,
        "external_reference_service_name": "psflow",
        "include": "external_references",
    }
    found = {}
    with calling(SYSTEM, f"tasks of project {workspace_id}"):
        for row, body in _pages("stories.json", "stories", params):
            for i in row.get("external_reference_ids", []):
                ref = body["external_references"][i]
                key = parse_key(ref["service_model_ref"])
                if ref["service_model"] in kinds and key.record_id == opportunity_id and key.part:
                    found[str(row["id"])] = key.part
    return found


@read_task("read the billing milestones of project {workspace_id}")
def get_billed(workspace_id: str) -> tuple[Decimal, ...]:
    """The amounts on the project's Billing Schedule, in units of its currency: a fixed fee's
    revenue released so far. One listing."""
    params = {"workspace_id": workspace_id}
    with calling(SYSTEM, f"billing milestones of project {workspace_id}"):
        rows = [row for row, _ in _pages("billing_milestones.json", "billing_milestones", params)]
    return tuple(
        from_minor_units(int(row["amount_in_cents"]), str(row.get("currency") or "USD"))
        for row in rows
    )


@read_task("read the passive-acceptance language of project {workspace_id}")
def find_passive_language(workspace_id: str) -> bool:
    """Whether the SOW has passive-acceptance language, as the project's custom field says
    ("Yes"; empty or anything else: no). One listing of its values."""
    with calling(SYSTEM, f"custom fields of project {workspace_id}"):
        values, ids = _custom_field_values(workspace_id, [PASSIVE_LANGUAGE])
    return str(values.get(ids[PASSIVE_LANGUAGE]) or "").strip().lower() in {"yes", "true"}


@outside_task("end the bookings on project {workspace_id} after {last_day}")
def ensure_bookings_ended(workspace_id: str, opportunity_id: str, last_day: date) -> list[Ref]:
    """Every booking psflow made for the opportunity (hard or soft) ended on `last_day`: one
    that starts later deleted, one that runs past it shortened. One listing, a write each.

    Returns:
        The bookings ended now (none on a re-run).
    """
    kinds = {Kind.HARD_BOOKING.value, SOFT_BOOKING_KIND.value}
    params = {
        "workspace_ids": workspace_id,
        "external_reference_service_name": "psflow",
        "include": "external_references",
    }
    ended = []
    with calling(SYSTEM, f"bookings of opportunity {opportunity_id} on project {workspace_id}"):
        for row, body in list(
            _pages("workspace_allocations.json", "workspace_allocations", params)
        ):
            refs = [body["external_references"][i] for i in row.get("external_reference_ids", [])]
            if not any(r["service_model"] in kinds for r in refs):
                continue
            start, end = date.fromisoformat(row["start_date"]), date.fromisoformat(row["end_date"])
            if end <= last_day:
                continue
            if start > last_day:
                _call("DELETE", f"workspace_allocations/{row['id']}.json")
            else:
                # Kantata keeps the total: what the shorter range leaves of the same daily hours
                per_day = Decimal(int(row["minutes"])) / max(len(business_days(start, end)), 1)
                window = {
                    "end_date": last_day.isoformat(),
                    "minutes": round(per_day * len(business_days(start, last_day))),
                }
                _call(
                    "PUT",
                    f"workspace_allocations/{row['id']}.json",
                    json={"workspace_allocation": window},
                )
            ended.append(
                Ref(
                    system=SYSTEM,
                    kind="booking ended",
                    name=f"{row['start_date']} to {row['end_date']}: ends {last_day}",
                    url=project_url(workspace_id),
                    id=str(row["id"]),
                    created=True,
                )
            )
    return ended
