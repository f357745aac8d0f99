"""Kantata's wire format: the envelope, side-loading, paging, request bodies and errors.

As documented at https://developer.kantata.com/ ("Response Format", "Errors"):
- every answer is `{"count", "results": [{"key", "id"}], "<key>": {"<id>": {...}}, "meta"}`; ids are
  strings; associations asked for with `include=` are side-loaded under their own top-level keys,
  and the fields naming them (`user_id` of a participation, `custom_field_id` of a custom field
  value, ...) appear only then (`Resource.gated`), on side-loaded objects never (no nested
  includes);
- paging with `page`/`per_page` (default 20, max 200) or `limit`/`offset`; `only=1,2` asks by id and
  never 404s, while `GET /<kind>/<id>.json` does;
- creates take `{"<singular>": {...}}`, or `{"<plural>": [...]}` for a bulk create;
- errors are `{"errors": [{"type": "oauth"|"system"|"validation", "message", "field"?}]}`: 401
  without a bearer token, 404 for an unknown id, 422 for model validation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import QueryParams
from starlette.responses import JSONResponse, Response

from sandbox.core import ApiError, Json, Quota, Sandbox
from sandbox.kit import Problems, Resource, RestApi, bearer_token, id_list

NAME = "mavenlink"
ACCOUNT_ID = 4100

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
    "TimeEntry": "time_entries",
    "StatusReport": "status_reports",
    "BillingMilestone": "billing_milestones",
    "AccountMembership": "account_memberships",
}


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


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, "system")


def quota_error(quota: Quota, wait: float) -> ApiError:
    # Kantata documents only the 429 and "retry your request after a small delay": no Retry-After.
    return ApiError(429, "Too many requests. Please retry after a small delay.", "system")


async def _require_bearer(request: Request) -> None:
    if not bearer_token(request):
        raise ApiError(401, "Invalid OAuth 2 Request", "oauth")


# --- includes (side-loading) ---------------------------------------------------------------------

# An include answers (the field naming what it loaded, its value, the loaded objects' kind, them).
Include = Callable[[Sandbox, Json], tuple[str, Any, str, list[Json]]]


def table(sb: Sandbox, kind: str) -> dict[str, Json]:
    return sb.store.table(NAME, kind)


def has_many(
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


def belongs_to(field: str, kind: str) -> Include:
    """The object `field` names (`user_id` -> the user)."""

    def include(sb: Sandbox, obj: Json) -> tuple[str, Any, str, list[Json]]:
        row = sb.store.get(NAME, kind, str(obj.get(field))) if obj.get(field) else None
        return field, row["id"] if row else None, kind, [row] if row else []

    return include


def through(field: str, via: str, fk: str, target: str, target_fk: str) -> Include:
    """Objects reached through a join table, e.g. a workspace's participants via participations."""

    def include(sb: Sandbox, obj: Json) -> tuple[str, Any, str, list[Json]]:
        ids = [str(r[target_fk]) for r in table(sb, via).values() if str(r.get(fk)) == obj["id"]]
        rows = [row for i in dict.fromkeys(ids) if (row := sb.store.get(NAME, target, i))]
        return field, [r["id"] for r in rows], target, rows

    return include


def of_subject(kind: str, subject_type: str) -> Include:
    """The external references or custom field values (`kind`) of a subject."""

    def include(sb: Sandbox, obj: Json) -> tuple[str, Any, str, list[Json]]:
        rows = [
            r
            for r in table(sb, kind).values()
            if r["subject_type"] == subject_type and str(r["subject_id"]) == obj["id"]
        ]
        return f"{kind.removesuffix('s')}_ids", [r["id"] for r in rows], kind, rows

    return include


def none_yet(field: str, kind: str) -> Include:
    """An association the sandbox never makes (an invoice, a timesheet submission): the include is
    accepted and answers that there is none."""

    def include(sb: Sandbox, obj: Json) -> tuple[str, Any, str, list[Json]]:
        return field, None, kind, []

    return include


def subject(sb: Sandbox, obj: Json) -> tuple[str, Any, str, list[Json]]:
    kind = SUBJECTS.get(obj["subject_type"], "")
    row = sb.store.get(NAME, kind, str(obj["subject_id"])) if kind else None
    ref = {"key": kind, "id": row["id"]} if row else None
    return "subject_ref", ref, kind, [row] if row else []


def _sort_value(value: Any) -> tuple[int, Any]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value or ""))


def _int_param(request: Request, name: str, default: int, low: int = 1) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer") from None
    return max(value, low)


# --- the API -------------------------------------------------------------------------------------


class Kantata(RestApi):
    """Every route has its `.json` suffix and is answered without it too, as Kantata does."""

    def add_route(self, path: str, method: str, handler: Callable[..., Any], name: str) -> None:
        self.router.add_api_route(f"{path}.json", handler, methods=[method], name=name)
        self.router.add_api_route(
            path, handler, methods=[method], name=name, include_in_schema=False
        )

    def route(self, path: str, method: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            self.add_route(path, method, handler, handler.__name__)
            return handler

        return register

    def reply(self, sb: Sandbox, request: Request, res: Resource, rows: list[Json]) -> Json:
        return self.envelope(sb, request, res.kind, rows)

    def envelope(
        self,
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
        raw = request.query_params.get("include", "")
        includes = {name.strip() for name in raw.split(",") if name.strip()}
        known = self.resources[kind].includes
        if unknown := sorted(includes - set(known)):
            raise bad_request(f"Unknown include(s) for {kind}: {', '.join(unknown)}")
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
            out = self.public(kind, row, includes)
            for name in includes:
                field, value, side_kind, objs = known[name](sb, row)
                out[field] = value
                bucket = side.setdefault(side_kind, {})
                for obj in objs:
                    bucket[obj["id"]] = self.public(side_kind, obj, set())
            body[kind][row["id"]] = out
        for side_kind, loaded in side.items():
            merged = body.setdefault(side_kind, {})
            for id_, obj in loaded.items():
                merged.setdefault(id_, obj)
        return body

    def public(self, kind: str, obj: Json, includes: set[str]) -> Json:
        """The object as answered: a gated field only when its association is included. Stored
        rows keep every field (`/_sandbox/state` shows them)."""
        res = self.resources.get(kind)
        gated = res.gated if res else {}
        return {k: v for k, v in obj.items() if k not in gated or gated[k] in includes}

    def listing(self, sb: Sandbox, request: Request, res: Resource, rows: list[Json]) -> Json:
        """Filter by `only`, order, page and wrap a list answer."""
        q = request.query_params
        if (only := id_list(q.get("only"))) is not None:
            rows = [r for r in rows if r["id"] in only]
        field, _, direction = (q.get("order") or res.order).partition(":")
        if field not in res.sortable:
            raise bad_request(f"{field} is not a valid order for {res.kind}")
        rows.sort(
            key=lambda r: (_sort_value(r.get(field)), int(r["id"])), reverse=direction == "desc"
        )
        total = len(rows)
        if "limit" in q or "offset" in q:
            per_page = min(_int_param(request, "limit", 20), 200)
            start = _int_param(request, "offset", 0, low=0)
            page = start // per_page + 1
        else:
            per_page = min(_int_param(request, "per_page", 20), 200)
            page = _int_param(request, "page", 1)
            start = (page - 1) * per_page
        chunk = rows[start : start + per_page]
        return self.envelope(
            sb, request, res.kind, chunk, total=total, page=page, per_page=per_page
        )

    def items(self, body: Json, res: Resource) -> list[Json]:
        """`{"<singular>": {...}}` or `{"<plural>": [...]}` (bulk create)."""
        if isinstance(body.get(res.kind), list):
            items = body[res.kind]
            if len(items) > res.bulk_limit:
                raise bad_request(f"At most {res.bulk_limit} {res.kind} per request")
            if not all(isinstance(item, dict) for item in items):
                raise bad_request(f"{res.kind} must be a list of objects")
            return items
        return [self.one(body, res)]

    def one(self, body: Json, res: Resource) -> Json:
        if not isinstance(body.get(res.singular), dict):
            raise bad_request(f"param is missing or the value is empty: {res.singular}")
        return dict(body[res.singular])

    def invalid(self, problems: Problems) -> ApiError:
        return Invalid(*problems)

    def not_found(self, res: Resource, id_: Any) -> ApiError:
        return ApiError(404, f"{res.title} {id_} could not be found.", "system")


router = APIRouter(prefix="/api/v1", dependencies=[Depends(_require_bearer)])
api = Kantata(
    NAME,
    router,
    body_error=bad_request("The request body is not valid JSON"),
    not_object=bad_request("The request body must be a JSON object"),
)


# --- shared by the resources ---------------------------------------------------------------------


def new_id(sb: Sandbox, kind: str) -> str:
    return str(sb.store.next_id(f"{NAME}.{kind}", 100_001))


def stamp(sb: Sandbox) -> str:
    return sb.now().strftime("%Y-%m-%dT%H:%M:%S+00:00")


def api_user_id(sb: Sandbox) -> str:
    return str(sb.store.get(NAME, "meta", "account")["api_user_id"])  # type: ignore[index]


def exists(sb: Sandbox, kind: str, id_: Any) -> bool:
    return id_ not in (None, "") and sb.store.get(NAME, kind, str(id_)) is not None


def touch(sb: Sandbox, kind: str, obj: Json) -> Json:
    obj["updated_at"] = stamp(sb)
    return sb.store.put(NAME, kind, obj["id"], obj)


def put_new(sb: Sandbox, kind: str, fields: Json) -> Json:
    """A new object of `kind` with a fresh id and both stamps."""
    id_ = new_id(sb, kind)
    return sb.store.put(
        NAME, kind, id_, {"id": id_, **fields, "created_at": stamp(sb), "updated_at": stamp(sb)}
    )


def _label(field: str) -> str:
    return field.replace("_", " ").capitalize()


def as_date(value: Any, field: str, problems: Problems) -> str | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        problems.append((field, f"{_label(field)} is not a valid date"))
        return None


def as_int(value: Any, field: str, problems: Problems) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.append((field, f"{_label(field)} is not a number"))
        return None
    if number != int(number):
        problems.append((field, f"{_label(field)} must be an integer"))
        return None
    return int(number)


def blank(field: str) -> tuple[str, str]:
    return field, f"{_label(field)} can't be blank"


def truthy(value: Any) -> bool:
    return str(value).lower() in ("true", "1")


def date_range(raw: str, param: str) -> tuple[str, str]:
    """Kantata's `<first>:<last>` date range (`2013-06-01:2013-08-01`), both ends ISO dates."""
    first, _, last = raw.partition(":")
    try:
        return date.fromisoformat(first).isoformat(), date.fromisoformat(last).isoformat()
    except ValueError:
        raise bad_request(f"{param} takes two dates: 2026-01-01:2026-01-31") from None


def _moment(raw: str, param: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.replace(" ", "+"))  # a `+` arrives as a space
    except ValueError:
        raise bad_request(f"{param} must be an ISO 8601 datetime") from None
    # The docs do not say which zone a moment without one is in; the sandbox takes UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def stamped_between(sb: Sandbox, q: QueryParams, rows: list[Json]) -> list[Json]:
    """`created_after`, `created_before`, `updated_after`, `updated_before`: "Filter for records
    created after a specified datetime. The datetime must be in ISO 8601 format." (each listing
    that documents them). Strictly after or before: the docs do not say whether the moment itself
    counts."""
    for param, field, after in (
        ("created_after", "created_at", True),
        ("created_before", "created_at", False),
        ("updated_after", "updated_at", True),
        ("updated_before", "updated_at", False),
    ):
        if (raw := q.get(param)) is None:
            continue
        moment = _moment(raw, param)
        rows = [
            r
            for r in rows
            if (
                datetime.fromisoformat(r[field]) > moment
                if after
                else datetime.fromisoformat(r[field]) < moment
            )
        ]
    return rows


def dates_in_order(start: str | None, end: str | None, field: str, problems: Problems) -> None:
    if start and end and end < start:
        problems.append((field, f"{_label(field)} must be on or after the start date"))
