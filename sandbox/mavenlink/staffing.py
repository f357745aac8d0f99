"""Staffing: workspace resources (a seat on a project, named by a user or only by a role) and their
allocations (minutes over a date range, soft until the staffing is approved, then hard)."""

from __future__ import annotations

from datetime import date, timedelta

from starlette.datastructures import QueryParams

from sandbox.core import Json, Sandbox
from sandbox.kit import Problems, Resource, equals, flag, id_list, one_of
from sandbox.mavenlink.api import (
    NAME,
    api,
    as_date,
    as_int,
    bad_request,
    belongs_to,
    blank,
    date_range,
    dates_in_order,
    exists,
    of_subject,
    put_new,
    touch,
    truthy,
)
from sandbox.mavenlink.people import ensure_participation
from sandbox.mavenlink.references import attach_reference, with_reference

# --- workspace resources -------------------------------------------------------------------------


def new_resource(sb: Sandbox, workspace_id: str, user_id: str | None, role_id: str | None) -> Json:
    if user_id:  # a named resource is a participant on the provider team
        ensure_participation(sb, workspace_id, user_id, "maven")
    return put_new(
        sb,
        "workspace_resources",
        {"workspace_id": workspace_id, "user_id": user_id, "role_id": role_id},
    )


def _resources(sb: Sandbox, q: QueryParams, rows: list[Json]) -> list[Json]:
    if flag(q.get("only_unnamed")):
        return [r for r in rows if not r["user_id"]]
    if not flag(q.get("include_unnamed")) and q.get("only") is None:
        return [r for r in rows if r["user_id"]]  # named resources only, unless asked
    return rows


def _check_resource(sb: Sandbox, data: Json, current: Json | None, problems: Problems) -> Json:
    if current is None and not exists(sb, "workspaces", data.get("workspace_id")):
        problems.append(("workspace_id", "Workspace can't be blank"))
    if data.get("user_id") not in (None, "") and not exists(sb, "users", data["user_id"]):
        problems.append(("user_id", "User does not exist"))
    if data.get("role_id") not in (None, "") and not exists(sb, "roles", data["role_id"]):
        problems.append(("role_id", "Role does not exist"))
    if current is None and data.get("user_id") in (None, "") and data.get("role_id") in (None, ""):
        problems.append(("role_id", "An unnamed resource needs a role"))
    return {}


def _create_resource(sb: Sandbox, fields: Json, item: Json) -> Json:
    user, role = item.get("user_id"), item.get("role_id")
    resource = new_resource(
        sb, str(item["workspace_id"]), str(user) if user else None, str(role) if role else None
    )
    return attach_reference(sb, "WorkspaceResource", resource, item)


def _update_resource(sb: Sandbox, resource: Json, fields: Json, data: Json) -> Json:
    """Naming an unnamed resource (setting user_id) or changing its role."""
    if data.get("user_id"):
        resource["user_id"] = str(data["user_id"])
        ensure_participation(sb, resource["workspace_id"], resource["user_id"], "maven")
    if "role_id" in data:
        resource["role_id"] = str(data["role_id"]) if data["role_id"] else None
    return touch(sb, "workspace_resources", resource)


WORKSPACE_RESOURCES = Resource(
    "workspace_resources",
    "workspace_resource",
    "Workspace Resource",
    filters=(
        _resources,
        equals("workspace_id", "user_id", "role_id"),
        with_reference("WorkspaceResource"),
    ),
    order="updated_at:desc",
    includes={
        "user": belongs_to("user_id", "users"),
        "workspace": belongs_to("workspace_id", "workspaces"),
        "role": belongs_to("role_id", "roles"),
        "external_references": of_subject("external_references", "WorkspaceResource"),
    },
    gated={"user_id": "user", "workspace_id": "workspace", "role_id": "role"},
    validate=_check_resource,
    create=_create_resource,
    update=_update_resource,
    delete=True,
)


# --- workspace allocations -----------------------------------------------------------------------


def business_days(start: date, end: date) -> int:
    return sum(1 for n in range((end - start).days + 1) if (start + timedelta(n)).weekday() < 5)


def new_allocation(
    sb: Sandbox, resource: Json, start: str, end: str, minutes: int, hard: bool, notes: str = ""
) -> Json:
    return put_new(
        sb,
        "workspace_allocations",
        {
            "workspace_resource_id": resource["id"],
            "workspace_id": resource["workspace_id"],  # shown only with include=workspace
            "start_date": start,
            "end_date": end,
            "minutes": minutes,  # the total over the date range, as Kantata counts it
            "hard": hard,
            "notes": notes,
        },
    )


def _check_allocation(sb: Sandbox, data: Json, current: Json | None, problems: Problems) -> Json:
    out: Json = {}
    if current is None and not exists(sb, "workspace_resources", data.get("resource_id")):
        problems.append(("resource_id", "Resource can't be blank"))
    for field in ("start_date", "end_date"):
        if current is None or field in data:
            value = as_date(data.get(field), field, problems)
            if value is None and current is None and data.get(field) in (None, ""):
                problems.append(blank(field))
            out[field] = value
    if current is None or "minutes" in data:
        minutes = as_int(data.get("minutes"), "minutes", problems)
        if minutes is None or minutes < 0:
            problems.append(("minutes", "Minutes must be a number of minutes, 0 or more"))
        out["minutes"] = minutes
    start = out.get("start_date") or (current or {}).get("start_date")
    dates_in_order(
        start, out.get("end_date") or (current or {}).get("end_date"), "end_date", problems
    )
    if "hard" in data:
        out["hard"] = truthy(data["hard"])
    if "notes" in data:
        out["notes"] = data["notes"] or ""
    return out


def _create_allocation(sb: Sandbox, fields: Json, item: Json) -> Json:
    resource = api.find(sb, WORKSPACE_RESOURCES, item["resource_id"])
    allocation = new_allocation(
        sb,
        resource,
        fields["start_date"],
        fields["end_date"],
        fields["minutes"],
        fields.get("hard", True),
        fields.get("notes", ""),
    )
    return attach_reference(sb, "WorkspaceAllocation", allocation, item)


def _update_allocation(sb: Sandbox, allocation: Json, fields: Json, data: Json) -> Json:
    """Dates, minutes, notes, and soft -> hard when the coordinator approves the staffing."""
    allocation.update(fields)
    return touch(sb, "workspace_allocations", allocation)


def _allocated_user(sb: Sandbox, allocation: Json) -> str | None:
    """The user of the allocation's resource as it is now (a resource can be named later)."""
    resource = sb.store.get(NAME, "workspace_resources", str(allocation["workspace_resource_id"]))
    return str(resource["user_id"]) if resource and resource["user_id"] else None


def _allocations(sb: Sandbox, q: QueryParams, rows: list[Json]) -> list[Json]:
    """The filters the spec documents for this listing ("Limit to allocations associated with the
    workspace resource user's IDs", `type` hard or soft, `overlaps_with_date_range`, ...)."""
    if (users := id_list(q.get("user_ids"))) is not None:
        rows = [a for a in rows if _allocated_user(sb, a) in users]
    if kind := q.get("type"):
        if kind not in ("hard", "soft"):
            raise bad_request("type must be hard or soft")
        rows = [a for a in rows if a["hard"] == (kind == "hard")]
    if flag(q.get("named_resources_only")):
        rows = [a for a in rows if _allocated_user(sb, a)]
    if flag(q.get("unnamed_resources_only")):
        rows = [a for a in rows if not _allocated_user(sb, a)]
    if span := q.get("overlaps_with_date_range"):
        first, last = date_range(span, "overlaps_with_date_range")
        rows = [a for a in rows if a["start_date"] <= last and a["end_date"] >= first]
    return rows


WORKSPACE_ALLOCATIONS = Resource(
    "workspace_allocations",
    "workspace_allocation",
    "Workspace Allocation",
    filters=(
        one_of("workspace_ids", "workspace_id"),
        one_of("workspace_resource_ids", "workspace_resource_id"),
        _allocations,
        with_reference("WorkspaceAllocation"),
    ),
    order="updated_at:desc",
    includes={
        "workspace_resource": belongs_to("workspace_resource_id", "workspace_resources"),
        "workspace": belongs_to("workspace_id", "workspaces"),
        "external_references": of_subject("external_references", "WorkspaceAllocation"),
    },
    # A WorkspaceAllocation has no user_id at all: it names its `workspace_resource_id`, whose
    # user_id is itself gated.
    gated={"workspace_id": "workspace"},
    validate=_check_allocation,
    create=_create_allocation,
    update=_update_allocation,
    bulk_limit=200,
    delete=True,
)

RESOURCES = (WORKSPACE_RESOURCES, WORKSPACE_ALLOCATIONS)
