"""The sandbox's resource kit: request bodies, bearer tokens, and REST resources declared once.

Body and token parsing is the same for every system; only the error each answers with differs, so
the helpers take that error. A REST API of plain resources (Kantata's) declares each resource once,
a `Resource`, and `RestApi.serve` gives it the generic list/get/create/update/delete handlers; the
system's subclass of `RestApi` says how its answers, bodies and errors look on the wire.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import QueryParams
from starlette.responses import Response

from sandbox.core import ApiError, Json, Sandbox, SandboxDep

# --- bodies and tokens ---------------------------------------------------------------------------


def parse_json(raw: bytes | str, error: Exception) -> Any:
    """JSON text, or `error` raised when it is not JSON."""
    try:
        return json.loads(raw)
    except ValueError:
        raise error from None


def json_object(raw: bytes | str, error: Exception, not_object: Exception | None = None) -> Json:
    """A body that must be a JSON object; an empty body is `{}`. `not_object` is raised for valid
    JSON that is not an object (`error` when not given)."""
    if not raw.strip():
        return {}
    value = parse_json(raw, error)
    if not isinstance(value, dict):
        raise not_object or error
    return value


def bearer_token(request: Request) -> str:
    """The token of an `Authorization: Bearer <token>` header, "" without one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


# --- resources -----------------------------------------------------------------------------------

Problems = list[tuple[str | None, str]]  # (field or None, message): what a 422 lists
# Narrows a list answer by the request's query parameters (or refuses them).
Filter = Callable[[Sandbox, QueryParams, list[Json]], list[Json]]
# Checks a create's item (current None) or an update's data; returns the fields to write.
Validate = Callable[[Sandbox, Json, Json | None, Problems], Json]
Create = Callable[[Sandbox, Json, Json], Json]  # (fields, item) -> the new object
Update = Callable[[Sandbox, Json, Json, Json], Json]  # (object, fields, data) -> the object


def _no_problems(sb: Sandbox, data: Json, current: Json | None, problems: Problems) -> Json:
    return {}


@dataclass(frozen=True)
class Resource:
    """One kind of object: where it lives, how a list narrows and orders, what a write checks and
    does. Actions without a hook are not routed (no `create`: no POST)."""

    kind: str  # plural: the path segment, the store's table and the answer's key ("stories")
    singular: str  # the key a create or update body nests its fields under ("story")
    title: str  # how errors name one ("Story")
    filters: tuple[Filter, ...] = ()
    order: str = "created_at:asc"  # the default `order`
    sortable: tuple[str, ...] = ("created_at", "updated_at")
    includes: Mapping[str, Any] = field(default_factory=dict)  # side-loadable associations
    gated: Mapping[str, str] = field(default_factory=dict)  # field -> the include it needs
    validate: Validate = _no_problems
    create: Create | None = None
    update: Update | None = None
    get: bool = True
    delete: bool = False
    bulk_limit: int = 100


# Common filters, declared by the query parameter they read.


def equals(*fields: str) -> Filter:
    """`?<field>=<value>` keeps the objects whose field is that value."""

    def narrow(sb: Sandbox, q: QueryParams, rows: list[Json]) -> list[Json]:
        for name in fields:
            if (value := q.get(name)) is not None:
                rows = [r for r in rows if str(r.get(name)) == value]
        return rows

    return narrow


def one_of(param: str, field_name: str | None = None) -> Filter:
    """`?<param>=1,2,3` keeps the objects whose field (`param` itself by default) is one of them."""

    def narrow(sb: Sandbox, q: QueryParams, rows: list[Json]) -> list[Json]:
        if (wanted := id_list(q.get(param))) is None:
            return rows
        return [r for r in rows if str(r.get(field_name or param)) in wanted]

    return narrow


def id_list(raw: str | None) -> set[str] | None:
    """`1,2,3` as a set; None when the parameter is absent."""
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def flag(raw: str | None) -> bool | None:
    """A boolean query parameter; None when absent."""
    if raw is None:
        return None
    return raw.strip().lower() in ("true", "1", "yes", "t")


class RestApi:
    """The generic list/get/create/update/delete handlers over the store, for declared resources.

    A system subclasses it with its wire format: `listing` and `reply` wrap answers, `items` and
    `one` unwrap create and update bodies, `invalid` and `not_found` are its errors. Each handler
    awaits only the body, before touching state, so it runs atomically (see `sandbox/core.py`).
    """

    def __init__(
        self,
        system: str,
        router: APIRouter,
        body_error: ApiError,
        not_object: ApiError | None = None,
    ) -> None:
        self.system = system
        self.router = router
        self.body_error = body_error  # a body that is not JSON
        self.not_object = not_object  # JSON that is not an object (`body_error` when None)
        self.resources: dict[str, Resource] = {}

    # the wire format: a subclass says how
    def listing(self, sb: Sandbox, request: Request, res: Resource, rows: list[Json]) -> Json:
        raise NotImplementedError

    def reply(self, sb: Sandbox, request: Request, res: Resource, rows: list[Json]) -> Json:
        raise NotImplementedError

    def items(self, body: Json, res: Resource) -> list[Json]:
        raise NotImplementedError

    def one(self, body: Json, res: Resource) -> Json:
        raise NotImplementedError

    def invalid(self, problems: Problems) -> ApiError:
        raise NotImplementedError

    def not_found(self, res: Resource, id_: Any) -> ApiError:
        raise NotImplementedError

    def add_route(self, path: str, method: str, handler: Callable[..., Any], name: str) -> None:
        self.router.add_api_route(path, handler, methods=[method], name=name)

    # shared by the handlers and by a system's own routes
    def table(self, sb: Sandbox, kind: str) -> dict[str, Json]:
        return sb.store.table(self.system, kind)

    def find(self, sb: Sandbox, res: Resource, id_: Any) -> Json:
        obj = sb.store.get(self.system, res.kind, str(id_)) if id_ not in (None, "") else None
        if obj is None:
            raise self.not_found(res, id_)
        return obj

    async def body(self, request: Request) -> Json:
        return json_object(await request.body(), self.body_error, self.not_object)

    def check(self, problems: Problems) -> None:
        if problems:
            raise self.invalid(problems)

    def serve(self, *resources: Resource) -> None:
        """Route each resource's actions: GET and POST on `/<kind>`, GET, PUT and DELETE on
        `/<kind>/{id}`."""
        for res in resources:
            self.resources[res.kind] = res
            self._serve(res)

    def _serve(self, res: Resource) -> None:
        api, path, item_path = self, f"/{res.kind}", f"/{res.kind}/{{object_id}}"

        async def list_(sb: SandboxDep, request: Request) -> Json:
            rows = list(api.table(sb, res.kind).values())
            for narrow in res.filters:
                rows = narrow(sb, request.query_params, rows)
            return api.listing(sb, request, res, rows)

        self.add_route(path, "GET", list_, f"list {res.kind}")
        if res.get:

            async def get(sb: SandboxDep, request: Request, object_id: str) -> Json:
                return api.reply(sb, request, res, [api.find(sb, res, object_id)])

            self.add_route(item_path, "GET", get, f"get {res.singular}")
        if (create := res.create) is not None:

            async def create_(sb: SandboxDep, request: Request) -> Json:
                items = api.items(await api.body(request), res)
                problems: Problems = []
                validated = [(res.validate(sb, item, None, problems), item) for item in items]
                api.check(problems)  # a bulk create is all or nothing
                return api.reply(sb, request, res, [create(sb, f, item) for f, item in validated])

            self.add_route(path, "POST", create_, f"create {res.kind}")
        if (update := res.update) is not None:

            async def update_(sb: SandboxDep, request: Request, object_id: str) -> Json:
                data = api.one(await api.body(request), res)
                obj = api.find(sb, res, object_id)
                problems: Problems = []
                fields = res.validate(sb, data, obj, problems)
                api.check(problems)
                return api.reply(sb, request, res, [update(sb, obj, fields, data)])

            self.add_route(item_path, "PUT", update_, f"update {res.singular}")
        if res.delete:

            async def delete(sb: SandboxDep, object_id: str) -> Response:
                api.find(sb, res, object_id)
                sb.store.delete(api.system, res.kind, object_id)
                return Response(status_code=204)

            self.add_route(item_path, "DELETE", delete, f"delete {res.singular}")
