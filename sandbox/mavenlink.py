"""Mavenlink / Kantata OX API v1 stand-in, under `/mavenlink/api/v1/`.

What psflow uses of it: users, workspaces (projects) with their status, budget and target margin,
external references (how psflow ties a workspace to its Salesforce opportunity and finds it again),
participations, workspace resources and allocations (staffing), stories (tasks, deliverables,
milestones) with assignments, and custom fields with their values.

Wire format, as documented at https://developer.kantata.com/ ("Response Format", "Errors"):
- every answer is `{"count", "results": [{"key", "id"}], "<key>": {"<id>": {...}}, "meta"}`; ids are
  strings; associations asked for with `include=` are side-loaded under their own top-level keys,
  and the fields naming them (`user_id` of a participation, `custom_field_id` of a custom field
  value, ...) appear only then (`_GATED`), on side-loaded objects never (no nested includes);
- paging with `page`/`per_page` (default 20, max 200) or `limit`/`offset`; `only=1,2` asks by id and
  never 404s, while `GET /<kind>/<id>.json` does;
- creates take `{"<singular>": {...}}`, or `{"<plural>": [...]}` for a bulk create;
- errors are `{"errors": [{"type": "oauth"|"system"|"validation", "message", "field"?}]}`: 401
  without a bearer token, 404 for an unknown id, 422 for model validation.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from sandbox import pages as web
from sandbox import seed as demo
from sandbox.core import ApiError, Json, Quota, Sandbox, SandboxDep, System

NAME = "mavenlink"
ACCOUNT_ID = 4100
API_USER_EMAIL = demo.PS_MAILBOX  # the token belongs to the PS team's integration user

# Project statuses: `status_key` on create/update, `status: {color, key, message}` on the object.
# Kantata lists them in "Project Status List" (knowledge.kantata.com, article 115005042433): colour
# bands gray (not started), light green (close to starting), green (in progress), yellow (pending
# action), red (blocked or ended), blue (finished); the API reference's own example is red / "501" /
# "Cancelled". The numbers of the other statuses follow that band-per-hundred scheme; the article
# body was not readable here, so check them against it before relying on a number.
STATUSES: dict[int, tuple[str, str]] = {
    100: ("gray", "Backlog"),
    105: ("gray", "Estimate"),
    110: ("gray", "Not Started"),
    115: ("gray", "Prospect"),
    200: ("light_green", "Okay to Start"),
    205: ("light_green", "In Set Up"),
    300: ("green", "Active"),
    305: ("green", "In Progress"),
    400: ("yellow", "On Hold"),
    405: ("yellow", "At Risk"),
    500: ("red", "Over Budget"),
    501: ("red", "Cancelled"),
    600: ("blue", "Closed"),
    605: ("blue", "Completed"),
}
STATUS_KEYS = {message: key for key, (_, message) in STATUSES.items()}
DEFAULT_STATUS = STATUS_KEYS["Not Started"]

STORY_TYPES = ("task", "deliverable", "milestone", "issue")
STORY_STATES = ("not started", "started", "needs info", "completed")
CUSTOM_FIELD_TYPES = ("string", "date", "number", "currency", "single", "multi")
# subject_type (as the API spells it) -> the table holding such objects
SUBJECTS = {
    "Workspace": "workspaces",
    "Story": "stories",
    "User": "users",
    "WorkspaceResource": "workspace_resources",
    "Resource": "workspace_resources",
    "WorkspaceAllocation": "workspace_allocations",
    "Participation": "participations",
    "Assignment": "assignments",
    "Role": "roles",
}
_ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "CLP", "ISK", "VND"}


# --- errors --------------------------------------------------------------------------------------


class Invalid(ApiError):
    """A 422 carrying one Kantata validation error per field."""

    def __init__(self, *problems: tuple[str | None, str]) -> None:
        super().__init__(422, "; ".join(message for _, message in problems), "validation")
        self.problems = problems


def render_error(err: ApiError) -> Response:
    if isinstance(err, Invalid):
        errors: list[Json] = [
            {"type": "validation", "message": message, **({"field": field} if field else {})}
            for field, message in err.problems
        ]
    else:
        kind = err.code if err.code in ("oauth", "system", "validation") else None
        kind = kind or {401: "oauth", 422: "validation"}.get(err.status, "system")
        errors = [{"type": kind, "message": err.message}]
    return JSONResponse({"errors": errors}, err.status, err.headers)


def not_found(what: str, id_: Any) -> ApiError:
    return ApiError(404, f"{what} {id_} could not be found.", "system")


def _quota_error(quota: Quota, wait: float) -> ApiError:
    # Kantata documents only the 429 and "retry your request after a small delay": no Retry-After.
    return ApiError(429, "Too many requests. Please retry after a small delay.", "system")


# --- auth ----------------------------------------------------------------------------------------


async def _require_bearer(request: Request) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Invalid OAuth 2 Request", "oauth")


router = APIRouter(prefix="/api/v1", dependencies=[Depends(_require_bearer)])


def route(path: str, method: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a route with its `.json` suffix and without: Kantata answers both."""

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        router.add_api_route(f"{path}.json", handler, methods=[method])
        router.add_api_route(path, handler, methods=[method], include_in_schema=False)
        return handler

    return register


# --- store helpers -------------------------------------------------------------------------------


def table(sb: Sandbox, kind: str) -> dict[str, Json]:
    return sb.store.table(NAME, kind)


def new_id(sb: Sandbox, kind: str) -> str:
    return str(sb.store.next_id(f"{NAME}.{kind}", 100_001))


def stamp(sb: Sandbox) -> str:
    return sb.now().strftime("%Y-%m-%dT%H:%M:%S+00:00")


def api_user_id(sb: Sandbox) -> str:
    return str(sb.store.get(NAME, "meta", "account")["api_user_id"])  # type: ignore[index]


def _get(sb: Sandbox, kind: str, id_: Any, what: str) -> Json:
    obj = sb.store.get(NAME, kind, str(id_)) if id_ not in (None, "") else None
    if obj is None:
        raise not_found(what, id_)
    return obj


def _exists(sb: Sandbox, kind: str, id_: Any) -> bool:
    return id_ not in (None, "") and sb.store.get(NAME, kind, str(id_)) is not None


# Fields Kantata returns only when their association is asked for with `include=`: the spec's
# schemas (developer.kantata.com, Kantata/specification.yml) say of each "`<field>` will only be
# included in the response if `<association>` is in the list of included associations". A
# WorkspaceAllocation has no user_id at all: it names its `workspace_resource_id`, whose user_id
# is itself gated. Stored rows keep every field (`/_sandbox/state` shows them).
_GATED = {
    "workspaces": {"creator_id": "creator", "primary_maven_id": "primary_maven"},
    "workspace_resources": {"user_id": "user", "workspace_id": "workspace", "role_id": "role"},
    "workspace_allocations": {"workspace_id": "workspace"},
    "participations": {"user_id": "user", "workspace_id": "workspace"},
    "custom_field_values": {"custom_field_id": "custom_field", "setter_id": "setter"},
    "stories": {
        "workspace_id": "workspace",
        "parent_id": "parent",
        "root_id": "root",
        "creator_id": "creator",
    },
}


def public(kind: str, obj: Json, includes: set[str]) -> Json:
    gated = _GATED.get(kind, {})
    return {k: v for k, v in obj.items() if k not in gated or gated[k] in includes}


# --- includes (side-loading) ---------------------------------------------------------------------

Include = Callable[[Sandbox, Json], tuple[str, Any, str, list[Json]]]


def _has_many(
    field: str, kind: str, fk: str, where: Callable[[Json], bool] | None = None
) -> Include:
    def include(sb: Sandbox, obj: Json) -> tuple[str, Any, str, list[Json]]:
        rows = [
            r
            for r in table(sb, kind).values()
            if str(r.get(fk)) == obj["id"] and (where is None or where(r))
        ]
        return field, [r["id"] for r in rows], kind, rows

    return include


def _belongs_to(field: str, kind: str, fk: str) -> Include:
    def include(sb: Sandbox, obj: Json) -> tuple[str, Any, str, list[Json]]:
        row = sb.store.get(NAME, kind, str(obj.get(fk))) if obj.get(fk) else None
        return field, row["id"] if row else None, kind, [row] if row else []

    return include


def _through(field: str, via: str, fk: str, target: str, target_fk: str) -> Include:
    """Objects reached through a join table, e.g. a workspace's participants via participations."""

    def include(sb: Sandbox, obj: Json) -> tuple[str, Any, str, list[Json]]:
        ids = [str(r[target_fk]) for r in table(sb, via).values() if str(r.get(fk)) == obj["id"]]
        rows = [row for i in dict.fromkeys(ids) if (row := sb.store.get(NAME, target, i))]
        return field, [r["id"] for r in rows], target, rows

    return include


def _external_references(subject_type: str) -> Include:
    def include(sb: Sandbox, obj: Json) -> tuple[str, Any, str, list[Json]]:
        rows = [
            r
            for r in table(sb, "external_references").values()
            if r["subject_type"] == subject_type and str(r["subject_id"]) == obj["id"]
        ]
        return "external_reference_ids", [r["id"] for r in rows], "external_references", rows

    return include


def _custom_field_values(subject_type: str) -> Include:
    def include(sb: Sandbox, obj: Json) -> tuple[str, Any, str, list[Json]]:
        rows = [
            r
            for r in table(sb, "custom_field_values").values()
            if r["subject_type"] == subject_type and str(r["subject_id"]) == obj["id"]
        ]
        return "custom_field_value_ids", [r["id"] for r in rows], "custom_field_values", rows

    return include


def _subject(sb: Sandbox, obj: Json) -> tuple[str, Any, str, list[Json]]:
    kind = SUBJECTS.get(obj["subject_type"], "")
    row = sb.store.get(NAME, kind, str(obj["subject_id"])) if kind else None
    ref = {"key": kind, "id": row["id"]} if row else None
    return "subject_ref", ref, kind, [row] if row else []


INCLUDES: dict[str, dict[str, Include]] = {
    "users": {
        "external_references": _external_references("User"),
        "custom_field_values": _custom_field_values("User"),
    },
    "workspaces": {
        "participants": _through(
            "participant_ids", "participations", "workspace_id", "users", "user_id"
        ),
        "participations": _has_many("participation_ids", "participations", "workspace_id"),
        "external_references": _external_references("Workspace"),
        "custom_field_values": _custom_field_values("Workspace"),
        "workspace_resources": _has_many(
            "workspace_resource_ids",
            "workspace_resources",
            "workspace_id",
            lambda r: bool(r["user_id"]),
        ),
        "workspace_resources_with_unnamed": _has_many(
            "workspace_resources_with_unnamed_ids", "workspace_resources", "workspace_id"
        ),
        "creator": _belongs_to("creator_id", "users", "creator_id"),
        "primary_maven": _belongs_to("primary_maven_id", "users", "primary_maven_id"),
    },
    "participations": {
        "user": _belongs_to("user_id", "users", "user_id"),
        "workspace": _belongs_to("workspace_id", "workspaces", "workspace_id"),
    },
    "workspace_resources": {
        "user": _belongs_to("user_id", "users", "user_id"),
        "workspace": _belongs_to("workspace_id", "workspaces", "workspace_id"),
        "role": _belongs_to("role_id", "roles", "role_id"),
        "external_references": _external_references("WorkspaceResource"),
    },
    "workspace_allocations": {
        "workspace_resource": _belongs_to(
            "workspace_resource_id", "workspace_resources", "workspace_resource_id"
        ),
        "workspace": _belongs_to("workspace_id", "workspaces", "workspace_id"),
        "external_references": _external_references("WorkspaceAllocation"),
    },
    "stories": {
        "assignees": _through("assignee_ids", "assignments", "story_id", "users", "assignee_id"),
        "assignments": _has_many("assignment_ids", "assignments", "story_id"),
        "workspace": _belongs_to("workspace_id", "workspaces", "workspace_id"),
        "parent": _belongs_to("parent_id", "stories", "parent_id"),
        "root": _belongs_to("root_id", "stories", "root_id"),
        "creator": _belongs_to("creator_id", "users", "creator_id"),
        "sub_stories": _has_many("sub_story_ids", "stories", "parent_id"),
        "external_references": _external_references("Story"),
        "custom_field_values": _custom_field_values("Story"),
    },
    "assignments": {
        "story": _belongs_to("story_id", "stories", "story_id"),
        "assignee": _belongs_to("assignee_id", "users", "assignee_id"),
    },
    "custom_field_values": {
        "custom_field": _belongs_to("custom_field_id", "custom_fields", "custom_field_id"),
        "setter": _belongs_to("setter_id", "users", "setter_id"),
        "subject": _subject,
    },
    "external_references": {"subject": _subject},
}


def _include_names(request: Request) -> set[str]:
    raw = request.query_params.get("include", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


# --- the reply envelope --------------------------------------------------------------------------


def envelope(
    sb: Sandbox,
    request: Request,
    kind: str,
    rows: list[Json],
    *,
    total: int | None = None,
    page: int = 1,
    per_page: int | None = None,
) -> Json:
    """`{count, results, <kind>: {id: obj}, meta}` plus every side-loaded association."""
    includes = _include_names(request)
    known = INCLUDES.get(kind, {})
    if unknown := sorted(includes - set(known)):
        raise ApiError(400, f"Unknown include(s) for {kind}: {', '.join(unknown)}", "system")
    total = len(rows) if total is None else total
    per_page = per_page or max(len(rows), 1)
    body: Json = {
        "count": total,
        "results": [{"key": kind, "id": row["id"]} for row in rows],
        kind: {},
        "meta": {
            "count": total,
            "page_count": math.ceil(total / per_page),
            "page_number": page,
            "page_size": per_page,
        },
    }
    side: dict[str, dict[str, Json]] = {}
    for row in rows:
        out = public(kind, row, includes)
        for name in includes:
            field, value, side_kind, objs = known[name](sb, row)
            out[field] = value
            bucket = side.setdefault(side_kind, {})
            for obj in objs:
                bucket[obj["id"]] = public(side_kind, obj, set())
        body[kind][row["id"]] = out
    for side_kind, loaded in side.items():
        merged = body.setdefault(side_kind, {})
        for id_, obj in loaded.items():
            merged.setdefault(id_, obj)
    return body


def _int_param(request: Request, name: str, default: int, low: int = 1) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer", "system") from None
    return max(value, low)


def _ids(raw: str | None) -> set[str] | None:
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _bool(raw: str | None) -> bool | None:
    if raw is None:
        return None
    return raw.strip().lower() in ("true", "1", "yes", "t")


def _sort_value(value: Any) -> tuple[int, Any]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value or ""))


def listing(
    sb: Sandbox,
    request: Request,
    kind: str,
    rows: Iterable[Json],
    default_order: str = "created_at:asc",
    sortable: tuple[str, ...] = ("created_at", "updated_at"),
) -> Json:
    """Filter by `only`, order, page and wrap a list answer."""
    q = request.query_params
    rows = list(rows)
    if (only := _ids(q.get("only"))) is not None:
        rows = [r for r in rows if r["id"] in only]
    field, _, direction = (q.get("order") or default_order).partition(":")
    if field not in sortable:
        raise ApiError(400, f"{field} is not a valid order for {kind}", "system")
    rows.sort(key=lambda r: (_sort_value(r.get(field)), int(r["id"])), reverse=direction == "desc")
    total = len(rows)
    if "limit" in q or "offset" in q:
        limit = min(_int_param(request, "limit", 20), 200)
        offset = _int_param(request, "offset", 0, low=0)
        page = offset // limit + 1
        return envelope(
            sb, request, kind, rows[offset : offset + limit], total=total, page=page, per_page=limit
        )
    per_page = min(_int_param(request, "per_page", 20), 200)
    page = _int_param(request, "page", 1)
    start = (page - 1) * per_page
    return envelope(
        sb, request, kind, rows[start : start + per_page], total=total, page=page, per_page=per_page
    )


def show(sb: Sandbox, request: Request, kind: str, id_: str, what: str) -> Json:
    return envelope(sb, request, kind, [_get(sb, kind, id_, what)])


# --- request bodies ------------------------------------------------------------------------------


async def _body(request: Request) -> Json:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON", "system") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object", "system")
    return body


def _items(body: Json, singular: str, plural: str, bulk_limit: int = 100) -> list[Json]:
    """`{"<singular>": {...}}` or `{"<plural>": [...]}` (bulk create)."""
    if isinstance(body.get(plural), list):
        items = body[plural]
        if len(items) > bulk_limit:
            raise ApiError(400, f"At most {bulk_limit} {plural} per request", "system")
        if not all(isinstance(item, dict) for item in items):
            raise ApiError(400, f"{plural} must be a list of objects", "system")
        return items
    if isinstance(body.get(singular), dict):
        return [body[singular]]
    raise ApiError(400, f"param is missing or the value is empty: {singular}", "system")


def _one(body: Json, singular: str) -> Json:
    if not isinstance(body.get(singular), dict):
        raise ApiError(400, f"param is missing or the value is empty: {singular}", "system")
    return dict(body[singular])


def _date(value: Any, field: str, problems: list[tuple[str | None, str]]) -> str | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        problems.append((field, f"{field.replace('_', ' ').capitalize()} is not a valid date"))
        return None


def _int(value: Any, field: str, problems: list[tuple[str | None, str]]) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.append((field, f"{field.replace('_', ' ').capitalize()} is not a number"))
        return None
    if number != int(number):
        problems.append((field, f"{field.replace('_', ' ').capitalize()} must be an integer"))
        return None
    return int(number)


def _check(problems: list[tuple[str | None, str]]) -> None:
    if problems:
        raise Invalid(*problems)


def _touch(sb: Sandbox, kind: str, obj: Json) -> Json:
    obj["updated_at"] = stamp(sb)
    return sb.store.put(NAME, kind, obj["id"], obj)


# --- users ---------------------------------------------------------------------------------------


def new_user(sb: Sandbox, full_name: str, email: str, headline: str) -> Json:
    user_id = new_id(sb, "users")
    return sb.store.put(
        NAME,
        "users",
        user_id,
        {
            "id": user_id,
            "full_name": full_name,
            "email_address": email,
            "headline": headline,
            "photo_path": "/images/avatar.png",
            "account_id": ACCOUNT_ID,
            "created_at": stamp(sb),
            "updated_at": stamp(sb),
        },
    )


@route("/users", "GET")
async def list_users(sb: SandboxDep, request: Request) -> Json:
    q = request.query_params
    rows: Iterable[Json] = table(sb, "users").values()
    if email := q.get("by_email_address"):
        rows = [u for u in rows if u["email_address"].lower() == email.strip().lower()]
    if workspace := q.get("participant_in"):
        members = {
            str(p["user_id"])
            for p in table(sb, "participations").values()
            if str(p["workspace_id"]) == workspace
        }
        rows = [u for u in rows if u["id"] in members]
    if term := q.get("search"):
        words = term.lower().split()
        rows = [
            u
            for u in rows
            if all(w in f"{u['full_name']} {u['email_address']}".lower() for w in words)
        ]
    return listing(sb, request, "users", rows, "full_name:asc", ("full_name", "created_at"))


@route("/users/me", "GET")
async def me(sb: SandboxDep, request: Request) -> Json:
    return show(sb, request, "users", api_user_id(sb), "User")


@route("/users/{user_id}", "GET")
async def get_user(sb: SandboxDep, request: Request, user_id: str) -> Json:
    return show(sb, request, "users", user_id, "User")


@route("/roles", "GET")
async def list_roles(sb: SandboxDep, request: Request) -> Json:
    return listing(sb, request, "roles", table(sb, "roles").values(), "name:asc", ("name",))


# --- external references -------------------------------------------------------------------------


def _subject_type(value: Any) -> str | None:
    """Kantata spells subject types in CamelCase ("Workspace"); accept "workspace" too."""
    if not value:
        return None
    text = str(value)
    for name in SUBJECTS:
        if name.lower() == text.lower():
            return name
    return None


def put_external_reference(sb: Sandbox, subject_type: str, subject_id: str, ref: Json) -> Json:
    """Create or update the subject's reference for `service_name` (unique per subject)."""
    existing = next(
        (
            r
            for r in table(sb, "external_references").values()
            if r["subject_type"] == subject_type
            and str(r["subject_id"]) == str(subject_id)
            and r["service_name"] == ref["service_name"]
        ),
        None,
    )
    obj = existing or {
        "id": new_id(sb, "external_references"),
        "subject_type": subject_type,
        "subject_id": int(subject_id),
        "service_name": ref["service_name"],
        "created_at": stamp(sb),
    }
    obj.update(
        {
            "service_model": str(ref["service_model"]),
            "service_model_ref": str(ref["service_model_ref"]),
            "status": ref.get("status") or obj.get("status") or "successful",
            "external_link": ref.get("external_link", obj.get("external_link")),
            "external_status": ref.get("external_status", obj.get("external_status")),
            "external_message": ref.get("external_message", obj.get("external_message")),
            "locked": bool(ref.get("locked", obj.get("locked", False))),
            "last_synced_at": stamp(sb),
        }
    )
    return _touch(sb, "external_references", obj)


def _validate_reference(ref: Json, problems: list[tuple[str | None, str]]) -> None:
    for field in ("service_name", "service_model", "service_model_ref"):
        if ref.get(field) in (None, ""):
            problems.append((field, f"{field.replace('_', ' ').capitalize()} can't be blank"))
    if ref.get("status") not in (None, "pending", "successful", "failed"):
        problems.append(("status", "Status must be one of pending, successful or failed"))


def _with_reference(sb: Sandbox, subject_type: str, rows: Iterable[Json], q: Any) -> list[Json]:
    """The `external_reference_*` filters shared by workspaces, resources and allocations."""
    filters = {
        "service_name": q.get("external_reference_service_name"),
        "service_model": q.get("external_reference_service_model"),
        "service_model_ref": q.get("external_reference_service_model_ref"),
        "status": q.get("external_reference_status"),
    }
    refs_in = _ids(q.get("external_reference_service_model_refs"))
    rows = list(rows)
    if not any(filters.values()) and refs_in is None:
        return rows
    matching = {
        str(r["subject_id"])
        for r in table(sb, "external_references").values()
        if r["subject_type"] == subject_type
        and all(r.get(k) == v for k, v in filters.items() if v)
        and (refs_in is None or r["service_model_ref"] in refs_in)
    }
    return [row for row in rows if row["id"] in matching]


@route("/external_references", "GET")
async def list_external_references(sb: SandboxDep, request: Request) -> Json:
    q = request.query_params
    subject_type = _subject_type(q.get("subject_type"))
    if subject_type is None:
        raise Invalid(("subject_type", "subject_type is required and must be a known type"))
    rows = [
        r for r in table(sb, "external_references").values() if r["subject_type"] == subject_type
    ]
    for field in ("subject_id", "service_name", "service_model", "service_model_ref", "status"):
        if (value := q.get(field)) is not None:
            rows = [r for r in rows if str(r.get(field)) == value]
    return listing(
        sb,
        request,
        "external_references",
        rows,
        "last_synced_at:desc",
        ("created_at", "last_synced_at"),
    )


@route("/external_references/create_or_update", "POST")
async def create_or_update_external_reference(sb: SandboxDep, request: Request) -> Json:
    ref = _one(await _body(request), "external_reference")
    problems: list[tuple[str | None, str]] = []
    subject_type = _subject_type(ref.get("subject_type"))
    if subject_type is None:
        problems.append(("subject_type", "Subject type is not a supported type"))
    elif not _exists(sb, SUBJECTS[subject_type], ref.get("subject_id")):
        problems.append(("subject_id", "Subject can't be blank"))
    _validate_reference(ref, problems)
    _check(problems)
    assert subject_type is not None
    obj = put_external_reference(sb, subject_type, str(ref["subject_id"]), ref)
    return envelope(sb, request, "external_references", [obj])


@route("/external_references/{ref_id}", "DELETE")
async def delete_external_reference(sb: SandboxDep, ref_id: str) -> Response:
    return _delete(sb, "external_references", ref_id, "External Reference")


def _delete(sb: Sandbox, kind: str, id_: str, what: str) -> Response:
    _get(sb, kind, id_, what)
    sb.store.delete(NAME, kind, id_)
    return Response(status_code=204)


# --- workspaces ----------------------------------------------------------------------------------


def _status(key: int) -> Json:
    color, message = STATUSES[key]
    return {"color": color, "key": str(key), "message": message}


def _money(cents: int, currency: str) -> str:
    base = 1 if currency in _ZERO_DECIMAL_CURRENCIES else 100
    return f"{cents / base:.{0 if base == 1 else 2}f}"


def _workspace_fields(
    sb: Sandbox, data: Json, current: Json | None, problems: list[tuple[str | None, str]]
) -> Json:
    """Validate the writable workspace fields of a create (current None) or an update."""
    out: Json = {}
    if current is None or "title" in data:
        title = str(data.get("title") or "").strip()
        if not title:
            problems.append(("title", "Please give your project a title"))
        out["title"] = title
    if current is None:
        role = data.get("creator_role") or "maven"
        if role not in ("maven", "consultant", "buyer", "client"):
            problems.append(("creator_role", "Please select a role for this project"))
        out["_creator_role"] = "buyer" if role in ("buyer", "client") else "maven"
    for field in ("description",):
        if field in data:
            out[field] = data[field]
    if "budgeted" in data:
        out["budgeted"] = bool(data["budgeted"]) and str(data["budgeted"]).lower() != "false"
    if "currency" in data:
        currency = str(data["currency"] or "").upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            problems.append(("currency", "Currency is not a valid currency code"))
        out["currency"] = currency
    currency = out.get("currency") or (current or {}).get("currency") or "USD"
    if "price" in data:
        # `price` is the budget in the currency's units; the object also carries price_in_cents
        try:
            amount = (
                float(str(data["price"]).replace(",", ""))
                if data["price"] not in (None, "")
                else None
            )
        except ValueError:
            problems.append(("price", "Price is not a number"))
            amount = None
        base = 1 if currency in _ZERO_DECIMAL_CURRENCIES else 100
        out["price_in_cents"] = None if amount is None else round(amount * base)
    budgeted = out.get("budgeted", (current or {}).get("budgeted", True))
    cents = out.get("price_in_cents", (current or {}).get("price_in_cents"))
    if budgeted and cents is None and (current is None or "price" in data or "budgeted" in data):
        problems.append(("price", "Price is required for budgeted projects"))
    for field in ("start_date", "due_date"):
        if field in data:
            out[field] = _date(data[field], field, problems)
    start = out.get("start_date", (current or {}).get("start_date"))
    due = out.get("due_date", (current or {}).get("due_date"))
    if start and due and due < start:
        problems.append(("due_date", "Due date must be on or after the start date"))
    if "status_key" in data:
        key = _int(data["status_key"], "status_key", problems)
        if key is not None and key not in STATUSES:
            problems.append(("status_key", f"Status key {key} is not a project status"))
        elif key is not None:
            out["status"] = _status(key)
    if "target_margin" in data:
        try:
            out["target_margin"] = (
                None if data["target_margin"] in (None, "") else float(data["target_margin"])
            )
        except (TypeError, ValueError):
            problems.append(("target_margin", "Target margin is not a number"))
    if "archived" in data:
        out["archived"] = str(data["archived"]).lower() in ("true", "1")
    if "primary_maven_id" in data and not _exists(sb, "users", data["primary_maven_id"]):
        problems.append(("primary_maven_id", "Primary maven must be a user on the account"))
    for item in data.get("participations") or []:
        if not _exists(sb, "users", item.get("user_id")):
            problems.append(("participations", f"User {item.get('user_id')} does not exist"))
    if isinstance(data.get("external_reference"), dict):
        _validate_reference(data["external_reference"], problems)
    for item in data.get("custom_fields") or []:
        _validate_value(sb, "Workspace", item.get("custom_field_id"), item.get("value"), problems)
    return out


def _apply_workspace(sb: Sandbox, workspace: Json, fields: Json, data: Json) -> Json:
    fields = dict(fields)
    currency = fields.pop("currency", None) or workspace.get("currency") or "USD"
    workspace.update({k: v for k, v in fields.items() if k != "price_in_cents"})
    workspace["currency"] = currency
    workspace["currency_symbol"] = currency
    workspace["currency_base_unit"] = 1 if currency in _ZERO_DECIMAL_CURRENCIES else 100
    if "price_in_cents" in fields:
        workspace["price_in_cents"] = fields["price_in_cents"]
    cents = workspace.get("price_in_cents")
    workspace["price"] = None if cents is None else _money(cents, currency)
    workspace["effective_due_date"] = workspace.get("due_date")
    if "primary_maven_id" in data:
        workspace["primary_maven_id"] = str(data["primary_maven_id"])
    _touch(sb, "workspaces", workspace)
    for item in data.get("participations") or []:
        ensure_participation(sb, workspace["id"], str(item["user_id"]), "maven")
    if workspace.get("primary_maven_id"):
        lead = ensure_participation(sb, workspace["id"], workspace["primary_maven_id"], "maven")
        make_team_lead(sb, lead)
    if isinstance(data.get("external_reference"), dict):
        put_external_reference(sb, "Workspace", workspace["id"], data["external_reference"])
    for item in data.get("custom_fields") or []:
        put_custom_field_value(
            sb, "Workspace", workspace["id"], str(item["custom_field_id"]), item["value"]
        )
    return workspace


def new_workspace(sb: Sandbox, fields: Json, data: Json) -> Json:
    workspace_id = new_id(sb, "workspaces")
    creator = api_user_id(sb)
    workspace: Json = {
        "id": workspace_id,
        "title": fields["title"],
        "description": "",
        "budgeted": True,
        "price": None,
        "price_in_cents": None,
        "currency": "USD",
        "start_date": None,
        "due_date": None,
        "status": _status(DEFAULT_STATUS),
        "target_margin": None,
        "archived": False,
        "access_level": "invitation",
        "account_id": ACCOUNT_ID,
        "consultant_role_name": "Provider",
        "client_role_name": "Client",
        "percentage_complete": 0,
        "created_at": stamp(sb),
        "creator_id": creator,
        "primary_maven_id": None,
    }
    role = fields.pop("_creator_role", "maven")
    _apply_workspace(sb, workspace, fields, data)
    ensure_participation(sb, workspace_id, creator, role)
    return workspace


def _matching(title: str, term: str) -> bool:
    """Kantata's `matching`: every word is the start of a word of the title; stop words ignored."""
    stop = {"a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into"}
    stop |= {"is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then"}
    stop |= {"there", "these", "they", "this", "to", "was", "with"}
    words = re.findall(r"\w+", title.lower())
    wanted = [w for w in re.findall(r"\w+", term.lower()) if w not in stop]
    return all(any(word.startswith(w) for word in words) for w in wanted)


def _search_workspace(sb: Sandbox, workspace: Json, term: str) -> bool:
    """`search`: keywords against id, title, description and custom field values; `title:'x'` and
    `description:'x'` narrow a keyword to one field."""
    values = [
        str(v["display_value"])
        for v in table(sb, "custom_field_values").values()
        if v["subject_type"] == "Workspace" and str(v["subject_id"]) == workspace["id"]
    ]
    fields = {"title": workspace["title"], "description": workspace.get("description") or ""}
    for field, keyword in re.findall(r"(\w+):'([^']*)'", term):
        if keyword.lower() not in str(fields.get(field, "")).lower():
            return False
    rest = re.sub(r"\w+:'[^']*'", " ", term)
    haystack = " ".join([workspace["id"], *fields.values(), *values]).lower()
    return all(word in haystack for word in rest.lower().split())


@route("/workspaces", "GET")
async def list_workspaces(sb: SandboxDep, request: Request) -> Json:
    q = request.query_params
    rows: Iterable[Json] = table(sb, "workspaces").values()
    archived = q.get("archived") or ("include" if _bool(q.get("include_archived")) else "exclude")
    if q.get("only") is None:  # asking by id finds archived projects too
        if archived == "exclude":
            rows = [w for w in rows if not w["archived"]]
        elif archived == "only":
            rows = [w for w in rows if w["archived"]]
    rows = _with_reference(sb, "Workspace", rows, q)
    if term := q.get("matching"):
        rows = [w for w in rows if _matching(w["title"], term)]
    if term := q.get("search"):
        rows = [w for w in rows if _search_workspace(sb, w, term)]
    if user := q.get("has_participant"):
        rows = [
            w
            for w in rows
            if any(
                str(p["user_id"]) == user and str(p["workspace_id"]) == w["id"]
                for p in table(sb, "participations").values()
            )
        ]
    if (budgeted := _bool(q.get("budgeted"))) is not None:
        rows = [w for w in rows if w["budgeted"] == budgeted]
    return listing(
        sb,
        request,
        "workspaces",
        rows,
        "updated_at:desc",
        ("created_at", "updated_at", "title", "start_date", "due_date"),
    )


@route("/workspaces", "POST")
async def create_workspaces(sb: SandboxDep, request: Request) -> Json:
    items = _items(await _body(request), "workspace", "workspaces")
    problems: list[tuple[str | None, str]] = []
    validated = [(_workspace_fields(sb, item, None, problems), item) for item in items]
    _check(problems)  # a bulk create is all or nothing
    return envelope(
        sb, request, "workspaces", [new_workspace(sb, f, item) for f, item in validated]
    )


@route("/workspaces/{workspace_id}", "GET")
async def get_workspace(sb: SandboxDep, request: Request, workspace_id: str) -> Json:
    return show(sb, request, "workspaces", workspace_id, "Workspace")


@route("/workspaces/{workspace_id}", "PUT")
async def update_workspace(sb: SandboxDep, request: Request, workspace_id: str) -> Json:
    workspace = _get(sb, "workspaces", workspace_id, "Workspace")
    data = _one(await _body(request), "workspace")
    problems: list[tuple[str | None, str]] = []
    fields = _workspace_fields(sb, data, workspace, problems)
    _check(problems)
    return envelope(sb, request, "workspaces", [_apply_workspace(sb, workspace, fields, data)])


# --- participations ------------------------------------------------------------------------------


def ensure_participation(sb: Sandbox, workspace_id: str, user_id: str, role: str) -> Json:
    for p in table(sb, "participations").values():
        if str(p["workspace_id"]) == workspace_id and str(p["user_id"]) == user_id:
            return p
    participation_id = new_id(sb, "participations")
    workspace = sb.store.get(NAME, "workspaces", workspace_id) or {}
    return sb.store.put(
        NAME,
        "participations",
        participation_id,
        {
            "id": participation_id,
            "workspace_id": workspace_id,
            "user_id": user_id,
            "role": role,
            "access": "admin" if role == "maven" else "view_tasks",
            "is_team_lead": role == "maven" and workspace.get("primary_maven_id") == user_id,
            "created_at": stamp(sb),
            "updated_at": stamp(sb),
        },
    )


def make_team_lead(sb: Sandbox, participation: Json) -> None:
    """One lead per team: the provider team's lead is the workspace's `primary_maven`."""
    for other in table(sb, "participations").values():
        same_team = (other["workspace_id"], other["role"]) == (
            participation["workspace_id"],
            participation["role"],
        )
        if same_team and other.get("is_team_lead") != (other["id"] == participation["id"]):
            other["is_team_lead"] = other["id"] == participation["id"]
            _touch(sb, "participations", other)
    workspace = sb.store.get(NAME, "workspaces", str(participation["workspace_id"]))
    lead = str(participation["user_id"])
    provider = participation["role"] == "maven"
    if workspace is not None and provider and workspace.get("primary_maven_id") != lead:
        workspace["primary_maven_id"] = lead
        _touch(sb, "workspaces", workspace)


# Filters a client might guess that the Participations listing does not document: Kantata would
# not filter by them, so the sandbox refuses them rather than quietly answering as if it did.
_UNDOCUMENTED_PARTICIPATION_FILTERS = {"user_id": "by_user", "role": "mavens_only"}


@route("/participations", "GET")
async def list_participations(sb: SandboxDep, request: Request) -> Json:
    """`workspace_id` is required ("This parameter is required to identify the project you want
    to retrieve participations for"); `by_user` ("Retrieves participations for the specified user
    ID") and `mavens_only` ("Only consultant participations") narrow it."""
    q = request.query_params
    for guess, documented in _UNDOCUMENTED_PARTICIPATION_FILTERS.items():
        if guess in q:
            raise ApiError(
                400,
                f"{guess} is not a participations filter (Kantata documents {documented})",
                "system",
            )
    workspace = q.get("workspace_id")
    if not workspace:
        raise Invalid(("workspace_id", "workspace_id is required"))
    rows = [p for p in table(sb, "participations").values() if str(p["workspace_id"]) == workspace]
    if (user := q.get("by_user")) is not None:
        rows = [p for p in rows if str(p["user_id"]) == user]
    if _bool(q.get("mavens_only")):
        rows = [p for p in rows if p["role"] == "maven"]
    return listing(sb, request, "participations", rows)


@route("/participations", "POST")
async def create_participations(sb: SandboxDep, request: Request) -> Json:
    items = _items(await _body(request), "participation", "participations")
    problems: list[tuple[str | None, str]] = []
    for item in items:
        if not _exists(sb, "workspaces", item.get("workspace_id")):
            problems.append(("workspace_id", "Workspace can't be blank"))
        if not _exists(sb, "users", item.get("user_id")):
            problems.append(("user_id", "User can't be blank"))
        if (item.get("role") or "maven") not in ("maven", "buyer"):
            problems.append(("role", "Role must be maven or buyer"))
        elif any(
            str(p["workspace_id"]) == str(item.get("workspace_id"))
            and str(p["user_id"]) == str(item.get("user_id"))
            for p in table(sb, "participations").values()
        ):
            problems.append(("user_id", "User is already participating in this project"))
    _check(problems)
    rows = [
        ensure_participation(
            sb, str(i["workspace_id"]), str(i["user_id"]), i.get("role") or "maven"
        )
        for i in items
    ]
    return envelope(sb, request, "participations", rows)


@route("/participations/{participation_id}", "PUT")
async def update_participation(sb: SandboxDep, request: Request, participation_id: str) -> Json:
    """`team_lead: true` makes the participant their team's lead (the provider team's lead is
    the project lead, `primary_maven`); `access_level` changes their permissions. The team
    (`role`) itself cannot be changed here, as in Kantata."""
    participation = _get(sb, "participations", participation_id, "Participation")
    data = _one(await _body(request), "participation")
    levels = {"edit_tasks", "view_tasks", "edit_time_and_expenses", "view_time_and_expenses"}
    levels |= {"edit_financials", "view_financials", "admin"}
    if "access_level" in data and data["access_level"] not in levels:
        raise Invalid(("access_level", "Access level is not a valid access level"))
    if "access_level" in data:
        participation["access"] = data["access_level"]
    _touch(sb, "participations", participation)
    if str(data.get("team_lead")).lower() in ("true", "1"):
        make_team_lead(sb, participation)
    return envelope(sb, request, "participations", [participation])


@route("/participations/{participation_id}", "DELETE")
async def delete_participation(sb: SandboxDep, participation_id: str) -> Response:
    return _delete(sb, "participations", participation_id, "Participation")


# --- workspace resources -------------------------------------------------------------------------


def new_resource(sb: Sandbox, workspace_id: str, user_id: str | None, role_id: str | None) -> Json:
    if user_id:  # a named resource is a participant on the provider team
        ensure_participation(sb, workspace_id, user_id, "maven")
    resource_id = new_id(sb, "workspace_resources")
    return sb.store.put(
        NAME,
        "workspace_resources",
        resource_id,
        {
            "id": resource_id,
            "workspace_id": workspace_id,
            "user_id": user_id,
            "role_id": role_id,
            "created_at": stamp(sb),
            "updated_at": stamp(sb),
        },
    )


def _resource_problems(sb: Sandbox, item: Json, problems: list[tuple[str | None, str]]) -> None:
    if item.get("user_id") not in (None, "") and not _exists(sb, "users", item["user_id"]):
        problems.append(("user_id", "User does not exist"))
    if item.get("role_id") not in (None, "") and not _exists(sb, "roles", item["role_id"]):
        problems.append(("role_id", "Role does not exist"))


@route("/workspace_resources", "GET")
async def list_workspace_resources(sb: SandboxDep, request: Request) -> Json:
    q = request.query_params
    rows: Iterable[Json] = table(sb, "workspace_resources").values()
    if _bool(q.get("only_unnamed")):
        rows = [r for r in rows if not r["user_id"]]
    elif not _bool(q.get("include_unnamed")) and q.get("only") is None:
        rows = [r for r in rows if r["user_id"]]  # named resources only, unless asked
    for field in ("workspace_id", "user_id", "role_id"):
        if (value := q.get(field)) is not None:
            rows = [r for r in rows if str(r[field]) == value]
    rows = _with_reference(sb, "WorkspaceResource", rows, q)
    return listing(sb, request, "workspace_resources", rows, "updated_at:desc")


@route("/workspace_resources", "POST")
async def create_workspace_resources(sb: SandboxDep, request: Request) -> Json:
    items = _items(await _body(request), "workspace_resource", "workspace_resources")
    problems: list[tuple[str | None, str]] = []
    for item in items:
        if not _exists(sb, "workspaces", item.get("workspace_id")):
            problems.append(("workspace_id", "Workspace can't be blank"))
        _resource_problems(sb, item, problems)
        if item.get("user_id") in (None, "") and item.get("role_id") in (None, ""):
            problems.append(("role_id", "An unnamed resource needs a role"))
    _check(problems)
    rows = []
    for item in items:
        user, role = item.get("user_id"), item.get("role_id")
        resource = new_resource(
            sb, str(item["workspace_id"]), str(user) if user else None, str(role) if role else None
        )
        if isinstance(item.get("external_reference"), dict):
            put_external_reference(
                sb, "WorkspaceResource", resource["id"], item["external_reference"]
            )
        rows.append(resource)
    return envelope(sb, request, "workspace_resources", rows)


@route("/workspace_resources/{resource_id}", "GET")
async def get_workspace_resource(sb: SandboxDep, request: Request, resource_id: str) -> Json:
    return show(sb, request, "workspace_resources", resource_id, "Workspace Resource")


@route("/workspace_resources/{resource_id}", "PUT")
async def update_workspace_resource(sb: SandboxDep, request: Request, resource_id: str) -> Json:
    """Naming an unnamed resource (setting user_id) or changing its role."""
    resource = _get(sb, "workspace_resources", resource_id, "Workspace Resource")
    data = _one(await _body(request), "workspace_resource")
    problems: list[tuple[str | None, str]] = []
    _resource_problems(sb, data, problems)
    _check(problems)
    if data.get("user_id"):
        resource["user_id"] = str(data["user_id"])
        ensure_participation(sb, resource["workspace_id"], resource["user_id"], "maven")
    if "role_id" in data:
        resource["role_id"] = str(data["role_id"]) if data["role_id"] else None
    return envelope(
        sb, request, "workspace_resources", [_touch(sb, "workspace_resources", resource)]
    )


@route("/workspace_resources/{resource_id}", "DELETE")
async def delete_workspace_resource(sb: SandboxDep, resource_id: str) -> Response:
    return _delete(sb, "workspace_resources", resource_id, "Workspace Resource")


# --- workspace allocations -----------------------------------------------------------------------


def business_days(start: date, end: date) -> int:
    return sum(1 for n in range((end - start).days + 1) if (start + timedelta(n)).weekday() < 5)


def new_allocation(
    sb: Sandbox, resource: Json, start: str, end: str, minutes: int, hard: bool, notes: str = ""
) -> Json:
    allocation_id = new_id(sb, "workspace_allocations")
    return sb.store.put(
        NAME,
        "workspace_allocations",
        allocation_id,
        {
            "id": allocation_id,
            "workspace_resource_id": resource["id"],
            "workspace_id": resource["workspace_id"],  # shown only with include=workspace
            "start_date": start,
            "end_date": end,
            "minutes": minutes,  # the total over the date range, as Kantata counts it
            "hard": hard,
            "notes": notes,
            "created_at": stamp(sb),
            "updated_at": stamp(sb),
        },
    )


def _allocation_fields(
    sb: Sandbox, data: Json, current: Json | None, problems: list[tuple[str | None, str]]
) -> Json:
    out: Json = {}
    if current is None and not _exists(sb, "workspace_resources", data.get("resource_id")):
        problems.append(("resource_id", "Resource can't be blank"))
    for field in ("start_date", "end_date"):
        if current is None or field in data:
            value = _date(data.get(field), field, problems)
            if value is None and current is None and data.get(field) in (None, ""):
                problems.append((field, f"{field.replace('_', ' ').capitalize()} can't be blank"))
            out[field] = value
    if current is None or "minutes" in data:
        minutes = _int(data.get("minutes"), "minutes", problems)
        if minutes is None or minutes < 0:
            problems.append(("minutes", "Minutes must be a number of minutes, 0 or more"))
        out["minutes"] = minutes
    start = out.get("start_date") or (current or {}).get("start_date")
    end = out.get("end_date") or (current or {}).get("end_date")
    if start and end and end < start:
        problems.append(("end_date", "End date must be on or after the start date"))
    if "hard" in data:
        out["hard"] = str(data["hard"]).lower() in ("true", "1")
    if "notes" in data:
        out["notes"] = data["notes"] or ""
    return out


def _allocated_user(sb: Sandbox, allocation: Json) -> str | None:
    """The user of the allocation's resource as it is now (a resource can be named later)."""
    resource = sb.store.get(NAME, "workspace_resources", str(allocation["workspace_resource_id"]))
    return str(resource["user_id"]) if resource and resource["user_id"] else None


@route("/workspace_allocations", "GET")
async def list_workspace_allocations(sb: SandboxDep, request: Request) -> Json:
    """The filters the spec documents for this listing ("Limit to allocations associated with the
    workspace resource user's IDs", `type` hard or soft, `overlaps_with_date_range`, ...)."""
    q = request.query_params
    rows: Iterable[Json] = table(sb, "workspace_allocations").values()
    for param, field in (
        ("workspace_ids", "workspace_id"),
        ("workspace_resource_ids", "workspace_resource_id"),
    ):
        if (wanted := _ids(q.get(param))) is not None:
            rows = [a for a in rows if str(a[field]) in wanted]
    if (users := _ids(q.get("user_ids"))) is not None:
        rows = [a for a in rows if _allocated_user(sb, a) in users]
    if kind := q.get("type"):
        if kind not in ("hard", "soft"):
            raise ApiError(400, "type must be hard or soft", "system")
        rows = [a for a in rows if a["hard"] == (kind == "hard")]
    if _bool(q.get("named_resources_only")):
        rows = [a for a in rows if _allocated_user(sb, a)]
    if _bool(q.get("unnamed_resources_only")):
        rows = [a for a in rows if not _allocated_user(sb, a)]
    if span := q.get("overlaps_with_date_range"):
        first, _, last = span.partition(":")
        try:
            first, last = (
                date.fromisoformat(first).isoformat(),
                date.fromisoformat(last).isoformat(),
            )
        except ValueError:
            raise ApiError(
                400, "overlaps_with_date_range takes two dates: 2026-01-01:2026-01-31", "system"
            ) from None
        rows = [a for a in rows if a["start_date"] <= last and a["end_date"] >= first]
    rows = _with_reference(sb, "WorkspaceAllocation", rows, q)
    return listing(sb, request, "workspace_allocations", rows, "updated_at:desc")


@route("/workspace_allocations", "POST")
async def create_workspace_allocations(sb: SandboxDep, request: Request) -> Json:
    items = _items(await _body(request), "workspace_allocation", "workspace_allocations", 200)
    problems: list[tuple[str | None, str]] = []
    validated = [(_allocation_fields(sb, item, None, problems), item) for item in items]
    _check(problems)
    rows = []
    for fields, item in validated:
        resource = _get(sb, "workspace_resources", item["resource_id"], "Workspace Resource")
        allocation = new_allocation(
            sb,
            resource,
            fields["start_date"],
            fields["end_date"],
            fields["minutes"],
            fields.get("hard", True),
            fields.get("notes", ""),
        )
        if isinstance(item.get("external_reference"), dict):
            put_external_reference(
                sb, "WorkspaceAllocation", allocation["id"], item["external_reference"]
            )
        rows.append(allocation)
    return envelope(sb, request, "workspace_allocations", rows)


@route("/workspace_allocations/{allocation_id}", "GET")
async def get_workspace_allocation(sb: SandboxDep, request: Request, allocation_id: str) -> Json:
    return show(sb, request, "workspace_allocations", allocation_id, "Workspace Allocation")


@route("/workspace_allocations/{allocation_id}", "PUT")
async def update_workspace_allocation(sb: SandboxDep, request: Request, allocation_id: str) -> Json:
    """Dates, minutes, notes, and soft -> hard when the coordinator approves the staffing."""
    allocation = _get(sb, "workspace_allocations", allocation_id, "Workspace Allocation")
    data = _one(await _body(request), "workspace_allocation")
    problems: list[tuple[str | None, str]] = []
    fields = _allocation_fields(sb, data, allocation, problems)
    _check(problems)
    allocation.update(fields)
    return envelope(
        sb, request, "workspace_allocations", [_touch(sb, "workspace_allocations", allocation)]
    )


@route("/workspace_allocations/{allocation_id}", "DELETE")
async def delete_workspace_allocation(sb: SandboxDep, allocation_id: str) -> Response:
    return _delete(sb, "workspace_allocations", allocation_id, "Workspace Allocation")


# --- stories and assignments ---------------------------------------------------------------------


def _story_fields(
    sb: Sandbox, data: Json, current: Json | None, problems: list[tuple[str | None, str]]
) -> Json:
    out: Json = {}
    workspace_id = str(data.get("workspace_id") or (current or {}).get("workspace_id") or "")
    if current is None and not _exists(sb, "workspaces", workspace_id):
        problems.append(("workspace_id", "Workspace can't be blank"))
    if current is None or "title" in data:
        out["title"] = str(data.get("title") or "").strip()
        if not out["title"]:
            problems.append(("title", "Title can't be blank"))
    if current is None or "story_type" in data:
        out["story_type"] = data.get("story_type") or "task"
        if out["story_type"] not in STORY_TYPES:
            problems.append(("story_type", f"Story type must be one of {', '.join(STORY_TYPES)}"))
    if "state" in data:
        out["state"] = data["state"]
        if out["state"] not in STORY_STATES:
            problems.append(("state", f"State must be one of {', '.join(STORY_STATES)}"))
    if "description" in data:
        out["description"] = data["description"] or ""
    for field in ("start_date", "due_date"):
        if field in data:
            out[field] = _date(data[field], field, problems)
    start = out.get("start_date", (current or {}).get("start_date"))
    due = out.get("due_date", (current or {}).get("due_date"))
    if start and due and due < start:
        problems.append(("due_date", "Due date must be on or after the start date"))
    for field in ("time_estimate_in_minutes", "budget_estimate_in_cents"):
        if field in data:
            out[field] = _int(data[field], field, problems)
    if data.get("parent_id") not in (None, ""):
        parent = sb.store.get(NAME, "stories", str(data["parent_id"]))
        if parent is None or parent["workspace_id"] != workspace_id:
            problems.append(("parent_id", "Parent must be a task in the same project"))
        elif current is not None and (
            parent["id"] == current["id"] or current["id"] in parent["ancestor_ids"]
        ):
            problems.append(("parent_id", "A task cannot be its own ancestor"))
        out["parent_id"] = str(data["parent_id"])
    for item in data.get("assignments") or []:
        if not isinstance(item, dict) or not _assignee(sb, workspace_id, item):
            problems.append(("assignments", "Assignee must be a participant in the project"))
    if isinstance(data.get("external_reference"), dict):
        _validate_reference(data["external_reference"], problems)
    return out


def _place(sb: Sandbox, story: Json) -> None:
    parent = sb.store.get(NAME, "stories", story["parent_id"]) if story.get("parent_id") else None
    story["ancestor_ids"] = [*parent["ancestor_ids"], parent["id"]] if parent else []
    story["root_id"] = story["ancestor_ids"][0] if story["ancestor_ids"] else story["id"]
    story["subtree_depth"] = len(story["ancestor_ids"])


def new_story(sb: Sandbox, fields: Json, data: Json) -> Json:
    story_id = new_id(sb, "stories")
    workspace_id = str(data["workspace_id"])
    position = 1 + sum(
        1 for s in table(sb, "stories").values() if s["workspace_id"] == workspace_id
    )
    story: Json = {
        "id": story_id,
        "workspace_id": workspace_id,
        "title": fields["title"],
        "description": "",
        "story_type": fields["story_type"],
        "state": "not started",
        "start_date": None,
        "due_date": None,
        "time_estimate_in_minutes": None,
        "budget_estimate_in_cents": None,
        "parent_id": None,
        "position": position,
        "archived": False,
        "percentage_complete": 0,
        "creator_id": api_user_id(sb),
        "created_at": stamp(sb),
    }
    story.update(fields)
    _place(sb, story)
    _touch(sb, "stories", story)
    for item in data.get("assignments") or []:
        ensure_assignment(sb, story, _assignee(sb, workspace_id, item) or "")
    if isinstance(data.get("external_reference"), dict):
        put_external_reference(sb, "Story", story_id, data["external_reference"])
    return story


def _assignee(sb: Sandbox, workspace_id: str, item: Json) -> str | None:
    """The user an assignment names, directly or through a named workspace resource."""
    user_id = item.get("assignee_id")
    if item.get("workspace_resource_id"):
        resource = sb.store.get(NAME, "workspace_resources", str(item["workspace_resource_id"]))
        user_id = (
            resource["user_id"] if resource and resource["workspace_id"] == workspace_id else None
        )
    participates = any(
        str(p["workspace_id"]) == workspace_id and str(p["user_id"]) == str(user_id)
        for p in table(sb, "participations").values()
    )
    return str(user_id) if user_id and participates else None


def ensure_assignment(sb: Sandbox, story: Json, user_id: str) -> Json:
    for a in table(sb, "assignments").values():
        if a["story_id"] == story["id"] and a["assignee_id"] == user_id:
            return a
    assignment_id = new_id(sb, "assignments")
    return sb.store.put(
        NAME,
        "assignments",
        assignment_id,
        {
            "id": assignment_id,
            "story_id": story["id"],
            "assignee_id": user_id,
            "created_at": stamp(sb),
            "updated_at": stamp(sb),
        },
    )


@route("/stories", "GET")
async def list_stories(sb: SandboxDep, request: Request) -> Json:
    q = request.query_params
    rows: Iterable[Json] = table(sb, "stories").values()
    if (workspaces := _ids(q.get("workspace_id"))) is not None:
        rows = [s for s in rows if s["workspace_id"] in workspaces]
    if (parent := q.get("parent_id")) is not None:
        rows = [s for s in rows if s["parent_id"] == parent]
    if story_type := q.get("story_type"):
        rows = [s for s in rows if s["story_type"] == story_type]
    if term := q.get("search"):
        rows = [s for s in rows if term.lower() in s["title"].lower()]
    if not _bool(q.get("include_archived")):
        rows = [s for s in rows if not s["archived"]]
    rows = _with_reference(sb, "Story", rows, q)
    return listing(
        sb,
        request,
        "stories",
        rows,
        "position:asc",
        ("position", "created_at", "updated_at", "due_date"),
    )


@route("/stories", "POST")
async def create_stories(sb: SandboxDep, request: Request) -> Json:
    items = _items(await _body(request), "story", "stories")
    problems: list[tuple[str | None, str]] = []
    validated = [(_story_fields(sb, item, None, problems), item) for item in items]
    _check(problems)
    return envelope(sb, request, "stories", [new_story(sb, f, item) for f, item in validated])


@route("/stories/{story_id}", "GET")
async def get_story(sb: SandboxDep, request: Request, story_id: str) -> Json:
    return show(sb, request, "stories", story_id, "Story")


@route("/stories/{story_id}", "PUT")
async def update_story(sb: SandboxDep, request: Request, story_id: str) -> Json:
    story = _get(sb, "stories", story_id, "Story")
    data = _one(await _body(request), "story")
    problems: list[tuple[str | None, str]] = []
    fields = _story_fields(sb, data, story, problems)
    _check(problems)
    story.update(fields)
    if fields.get("state") == "completed":
        story["percentage_complete"] = 100
    _place(sb, story)
    _touch(sb, "stories", story)
    if "assignments" in data:  # the list replaces the story's assignees
        wanted = {_assignee(sb, story["workspace_id"], item) or "" for item in data["assignments"]}
        for a in list(table(sb, "assignments").values()):
            if a["story_id"] == story["id"] and a["assignee_id"] not in wanted:
                sb.store.delete(NAME, "assignments", a["id"])
        for user_id in sorted(wanted):
            ensure_assignment(sb, story, user_id)
    return envelope(sb, request, "stories", [story])


@route("/stories/{story_id}", "DELETE")
async def delete_story(sb: SandboxDep, story_id: str) -> Response:
    return _delete(sb, "stories", story_id, "Story")


@route("/assignments", "GET")
async def list_assignments(sb: SandboxDep, request: Request) -> Json:
    q = request.query_params
    rows: Iterable[Json] = table(sb, "assignments").values()
    for field in ("story_id", "assignee_id"):
        if (value := q.get(field)) is not None:
            rows = [a for a in rows if a[field] == value]
    return listing(sb, request, "assignments", rows)


@route("/assignments", "POST")
async def create_assignments(sb: SandboxDep, request: Request) -> Json:
    items = _items(await _body(request), "assignment", "assignments")
    problems: list[tuple[str | None, str]] = []
    pairs = []
    for item in items:
        story = sb.store.get(NAME, "stories", str(item.get("story_id")))
        user = _assignee(sb, story["workspace_id"], item) if story else None
        if story is None:
            problems.append(("story_id", "Story can't be blank"))
        elif user is None:
            problems.append(("assignee_id", "Assignee must be a participant in the project"))
        elif any(
            a["story_id"] == story["id"] and a["assignee_id"] == user
            for a in table(sb, "assignments").values()
        ):
            problems.append(("assignee_id", "Assignee has already been assigned to this task"))
        pairs.append((story, user))
    _check(problems)
    rows = [ensure_assignment(sb, story, user) for story, user in pairs if story and user]
    return envelope(sb, request, "assignments", rows)


@route("/assignments/{assignment_id}", "DELETE")
async def delete_assignment(sb: SandboxDep, assignment_id: str) -> Response:
    return _delete(sb, "assignments", assignment_id, "Assignment")


# --- custom fields -------------------------------------------------------------------------------


def new_custom_field(sb: Sandbox, name: str, value_type: str, subject_type: str) -> Json:
    field_id = new_id(sb, "custom_fields")
    return sb.store.put(
        NAME,
        "custom_fields",
        field_id,
        {
            "id": field_id,
            "name": name,
            "value_type": value_type,
            "subject_type": subject_type,
            "required": False,
            "can_edit": True,
            "account_id": ACCOUNT_ID,
            "created_at": stamp(sb),
            "updated_at": stamp(sb),
        },
    )


def _validate_value(
    sb: Sandbox,
    subject_type: str,
    field_id: Any,
    value: Any,
    problems: list[tuple[str | None, str]],
) -> None:
    field = sb.store.get(NAME, "custom_fields", str(field_id)) if field_id else None
    if field is None or field["subject_type"] != subject_type:
        problems.append(
            ("custom_field_id", f"Custom field {field_id} is not a {subject_type} field")
        )
        return
    if value in (None, ""):
        return
    kind = field["value_type"]
    if kind == "number" and _int(value, "value", problems) is None:
        return
    if kind == "date":
        _date(value, "value", problems)


def put_custom_field_value(
    sb: Sandbox, subject_type: str, subject_id: str, field_id: str, value: Any
) -> Json:
    """Kantata's create overrides an existing value of the same field and subject, with a new id."""
    for old in list(table(sb, "custom_field_values").values()):
        if (old["subject_type"], str(old["subject_id"]), old["custom_field_id"]) == (
            subject_type,
            subject_id,
            field_id,
        ):
            sb.store.delete(NAME, "custom_field_values", old["id"])
    field = _get(sb, "custom_fields", field_id, "Custom Field")
    value_id = new_id(sb, "custom_field_values")
    return sb.store.put(
        NAME,
        "custom_field_values",
        value_id,
        {
            "id": value_id,
            "subject_type": subject_type,
            "subject_id": int(subject_id),
            "custom_field_id": field_id,
            "custom_field_name": field["name"],
            "type": field["value_type"],
            "value": value,
            "display_value": "" if value is None else str(value),
            "can_edit": True,
            "setter_id": api_user_id(sb),
            "account_id": ACCOUNT_ID,
            "created_at": stamp(sb),
            "updated_at": stamp(sb),
        },
    )


@route("/custom_fields", "GET")
async def list_custom_fields(sb: SandboxDep, request: Request) -> Json:
    q = request.query_params
    rows: Iterable[Json] = table(sb, "custom_fields").values()
    if subject_type := q.get("subject_type"):
        rows = [f for f in rows if f["subject_type"] == _subject_type(subject_type)]
    return listing(sb, request, "custom_fields", rows, "name:asc", ("name", "created_at"))


@route("/custom_field_values", "GET")
async def list_custom_field_values(sb: SandboxDep, request: Request) -> Json:
    q = request.query_params
    subject_type = _subject_type(q.get("subject_type"))
    if subject_type is None:
        raise Invalid(("subject_type", "subject_type is required"))
    rows = [
        v for v in table(sb, "custom_field_values").values() if v["subject_type"] == subject_type
    ]
    if (subjects := _ids(q.get("with_subject_id"))) is not None:
        rows = [v for v in rows if str(v["subject_id"]) in subjects]
    if (fields := _ids(q.get("with_custom_field_id"))) is not None:
        rows = [v for v in rows if v["custom_field_id"] in fields]
    return listing(sb, request, "custom_field_values", rows, "created_at:asc")


@route("/custom_field_values", "POST")
async def create_custom_field_values(sb: SandboxDep, request: Request) -> Json:
    items = _items(await _body(request), "custom_field_value", "custom_field_values")
    problems: list[tuple[str | None, str]] = []
    for item in items:
        subject_type = _subject_type(item.get("subject_type"))
        if subject_type is None or not _exists(sb, SUBJECTS[subject_type], item.get("subject_id")):
            problems.append(("subject_id", "Subject can't be blank"))
            continue
        _validate_value(sb, subject_type, item.get("custom_field_id"), item.get("value"), problems)
    _check(problems)
    rows = [
        put_custom_field_value(
            sb,
            _subject_type(item["subject_type"]) or "",
            str(item["subject_id"]),
            str(item["custom_field_id"]),
            item.get("value"),
        )
        for item in items
    ]
    return envelope(sb, request, "custom_field_values", rows)


@route("/custom_field_values/{value_id}", "PUT")
async def update_custom_field_value(sb: SandboxDep, request: Request, value_id: str) -> Json:
    current = _get(sb, "custom_field_values", value_id, "Custom Field Value")
    data = _one(await _body(request), "custom_field_value")
    problems: list[tuple[str | None, str]] = []
    _validate_value(
        sb, current["subject_type"], current["custom_field_id"], data.get("value"), problems
    )
    _check(problems)
    current["value"] = data.get("value")
    current["display_value"] = "" if current["value"] is None else str(current["value"])
    return envelope(
        sb, request, "custom_field_values", [_touch(sb, "custom_field_values", current)]
    )


@route("/custom_field_values/{value_id}", "DELETE")
async def delete_custom_field_value(sb: SandboxDep, value_id: str) -> Response:
    return _delete(sb, "custom_field_values", value_id, "Custom Field Value")


# --- seed ----------------------------------------------------------------------------------------

ROLES = (
    "PS Engineer",
    "Sr. PS Engineer",
    "Technical Architect",
    "Project Manager",
    "Engagement Manager",
)
CUSTOM_FIELDS = (
    # name, value type, subject type: what psflow keeps on a project beside the native fields
    ("Salesforce Opportunity", "string", "Workspace"),
    ("GitLab Project", "string", "Workspace"),
    ("SOW Number", "string", "Workspace"),
    ("Project Definition", "string", "Workspace"),
)
SALESFORCE = "Salesforce"  # service_name of the references psflow writes


def seed(sb: Sandbox) -> None:
    """The PS team, the roles, psflow's custom fields and the projects people are booked on."""
    api_user = new_user(sb, f"{demo.COMPANY} PS Team", API_USER_EMAIL, "Integration user")
    sb.store.put(NAME, "meta", "account", {"id": ACCOUNT_ID, "api_user_id": api_user["id"]})
    users = {p.key: new_user(sb, p.name, p.email, p.title) for p in (*demo.STAFF, *demo.PSES)}
    roles = {}
    for name in ROLES:
        role_id = new_id(sb, "roles")
        roles[name] = sb.store.put(NAME, "roles", role_id, {"id": role_id, "name": name})
    fields = {
        name: new_custom_field(sb, name, kind, subject) for name, kind, subject in CUSTOM_FIELDS
    }

    opportunities = {o.name: o for o in demo.OPPORTUNITIES}
    for title in demo.CURRENT_WORKSPACES:
        bookings = [b for b in demo.BOOKINGS if b.workspace == title]
        start = min(demo.day(b.start_in_days) for b in bookings)
        due = max(demo.day(b.start_in_days + b.days - 1) for b in bookings)
        opportunity = opportunities.get(title)
        data: Json = {}
        fields_in: Json = {
            "title": title,
            "description": f"{title} ({demo.COMPANY} Professional Services)",
            "budgeted": True,
            "currency": opportunity.currency if opportunity else "USD",
            "price_in_cents": round((opportunity.amount if opportunity else 60_000) * 100),
            "start_date": start.isoformat(),
            "due_date": due.isoformat(),
            "status": _status(STATUS_KEYS["Active"]),
            "target_margin": 40.0,
        }
        if opportunity:
            fields_in["primary_maven_id"] = users[opportunity.engagement_manager]["id"]
            data = {
                "external_reference": {
                    "service_name": SALESFORCE,
                    "service_model": "Opportunity",
                    "service_model_ref": opportunity.id,
                    "status": "successful",
                },
                "custom_fields": [
                    {
                        "custom_field_id": fields["Salesforce Opportunity"]["id"],
                        "value": opportunity.id,
                    },
                    {
                        "custom_field_id": fields["SOW Number"]["id"],
                        "value": opportunity.sow_number,
                    },
                ],
            }
        workspace = new_workspace(sb, fields_in, data)
        for booking in bookings:
            person = demo.staff(booking.pse)
            role = roles["Sr. PS Engineer" if person.title.startswith("Sr.") else "PS Engineer"]
            resource = new_resource(sb, workspace["id"], users[booking.pse]["id"], role["id"])
            first = demo.day(booking.start_in_days)
            last = demo.day(booking.start_in_days + booking.days - 1)
            minutes = booking.minutes_per_day * business_days(first, last)
            new_allocation(sb, resource, first.isoformat(), last.isoformat(), minutes, hard=True)


# --- the system ----------------------------------------------------------------------------------

QUOTAS = (
    # Kantata rate-limits every request and documents a 429 "retry after a small delay" answer
    # (developer.kantata.com, "Rate Limits"); the figures themselves are only in a customer-only
    # knowledge-base article (knowledge.kantata.com 9698066628123). This per-token figure is a
    # stand-in until that article's number is copied here.
    Quota(
        "mavenlink.requests-per-token",
        "requests per minute per OAuth token (figure not public; see the comment)",
        600,
        60,
        lambda method, path: path.startswith("/mavenlink/api/"),
    ),
)

# --- the web app's pages: where a person opens a project ----------------------------------------

pages = APIRouter(include_in_schema=False)


@pages.get("/workspaces/{workspace_id}", response_class=HTMLResponse)
async def workspace_page(sb: SandboxDep, workspace_id: str) -> HTMLResponse:
    """A project in Kantata's web app (`https://app.mavenlink.com/workspaces/<id>`): its fields,
    with its tasks and allocations."""
    workspace = table(sb, "workspaces").get(workspace_id)
    if workspace is None:
        return web.not_found("Kantata", f"project {workspace_id}")
    stories = [
        s for s in table(sb, "stories").values() if str(s.get("workspace_id")) == workspace_id
    ]
    resources = {
        str(r["id"])
        for r in table(sb, "workspace_resources").values()
        if str(r.get("workspace_id")) == workspace_id
    }
    allocations = [
        a
        for a in table(sb, "workspace_allocations").values()
        if str(a.get("workspace_resource_id")) in resources
    ]
    fields = {**workspace, "stories": stories, "allocations": allocations}
    return web.object_page(
        "Kantata", "project", str(workspace.get("title") or workspace_id), fields
    )


SYSTEM = System(
    name=NAME,
    router=router,
    render_error=render_error,
    seed=seed,
    quotas=QUOTAS,
    quota_error=_quota_error,
    validation_status=422,
    pages=pages,
)
