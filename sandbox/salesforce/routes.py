"""Salesforce REST API routes under `/services/data/vNN.N/`: query and queryAll with paging,
sObject rows (create, read, update, delete), upsert by external id, describe and limits.

Every answer carries `Sforce-Limit-Info: api-usage=N/M`, as real responses do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import JSONResponse, Response

from sandbox import seed
from sandbox.core import ApiError, Sandbox, SandboxDep
from sandbox.salesforce import history, records
from sandbox.salesforce.common import (
    API_USER_ID,
    SYSTEM,
    SalesforceError,
    api_usage,
    limit_info,
    new_record_id,
    not_found,
    render_error,
)
from sandbox.salesforce.schema import (
    SOBJECTS,
    Field,
    SObject,
    normalize_id,
    sobject,
    sobject_of_id,
)
from sandbox.salesforce.soql import (
    Compiled,
    SoqlError,
    Tables,
    comparable,
    compile_query,
    format_datetime,
)

Json = dict[str, Any]

DEFAULT_BATCH, MIN_BATCH, MAX_BATCH = 2000, 200, 2000
API = "/services/data/{version}"
LOCATORS = "QueryLocator"  # the store kind holding open query cursors


class SalesforceRoute(APIRoute):
    """Checks the session, renders errors in Salesforce's shape and adds `Sforce-Limit-Info` to
    every answer, errors included."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            sb: Sandbox = request.app.state.sandbox
            try:
                scheme, _, token = request.headers.get("authorization", "").partition(" ")
                if scheme.lower() not in ("bearer", "oauth") or not token.strip():
                    raise SalesforceError(401, "Session expired or invalid", "INVALID_SESSION_ID")
                response = await handler(request)
            except ApiError as err:
                response = render_error(err)
            response.headers["Sforce-Limit-Info"] = limit_info(sb)
            return response

        return handle


router = APIRouter(route_class=SalesforceRoute)


def _version(version: str) -> str:
    match = re.fullmatch(r"v(\d+\.\d)", version)
    if match is None:
        raise not_found()
    return match.group(1)


def _sobject(name: str) -> SObject:
    obj = sobject(name)
    if obj is None:
        raise not_found()
    return obj


def fetcher(sb: Sandbox) -> records.Fetch:
    return lambda type_, record_id: sb.store.get(SYSTEM, type_, record_id)


def tables(sb: Sandbox) -> Tables:
    return lambda type_: sb.store.table(SYSTEM, type_).values()


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError as err:
        raise SalesforceError(
            400, f"Unexpected character in JSON: {err}", "JSON_PARSER_ERROR"
        ) from err


# --- versions, limits, describe ------------------------------------------------------------------


@router.get("/services/data")
@router.get("/services/data/")
async def versions() -> list[Json]:
    return [
        {"label": label, "url": f"/services/data/v{v}", "version": v}
        for v, label in (("58.0", "Summer '23"), ("59.0", "Winter '24"), ("60.0", "Spring '24"))
    ]


@router.get(API + "/limits")
@router.get(API + "/limits/")
async def limits(sb: SandboxDep, version: str) -> Json:
    _version(version)
    used, limit = api_usage(sb)
    return {
        "DailyApiRequests": {"Max": limit, "Remaining": max(limit - used, 0)},
        "DailyBulkApiBatches": {"Max": 15_000, "Remaining": 15_000},
    }


@router.get(API + "/sobjects")
@router.get(API + "/sobjects/")
async def describe_global(version: str) -> Json:
    version = _version(version)
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [
            {k: v for k, v in obj.describe(version).items() if k != "fields"} for obj in SOBJECTS
        ],
    }


@router.get(API + "/sobjects/{type_}/describe")
@router.get(API + "/sobjects/{type_}/describe/")
async def describe(version: str, type_: str) -> Json:
    return _sobject(type_).describe(_version(version))


@router.get(API + "/sobjects/{type_}")
@router.get(API + "/sobjects/{type_}/")
async def sobject_info(version: str, type_: str) -> Json:
    obj = _sobject(type_)
    described = obj.describe(_version(version))
    return {
        "objectDescribe": {k: v for k, v in described.items() if k != "fields"},
        "recentItems": [],
    }


# --- query ---------------------------------------------------------------------------------------


def _batch_size(request: Request) -> int | None:
    """`Sforce-Query-Options: batchSize=N`, kept within Salesforce's 200..2000."""
    match = re.search(r"batchSize=(\d+)", request.headers.get("sforce-query-options", ""))
    return min(max(int(match.group(1)), MIN_BATCH), MAX_BATCH) if match else None


def _compile(soql: str) -> Compiled:
    try:
        return compile_query(soql)
    except SoqlError as err:
        raise SalesforceError(400, err.render(soql), err.code) from err


def _page(
    sb: Sandbox,
    compiled: Compiled,
    locator: str | None,
    ids: list[str],
    offset: int,
    batch: int,
    version: str,
    include_deleted: bool,
) -> Json:
    """One batch of a query's records; opens a cursor (query locator) when more remain."""
    fetch = fetcher(sb)
    table = sb.store.table(SYSTEM, compiled.sobject.name)
    chunk = [table[i] for i in ids[offset : offset + batch] if i in table]
    result: Json = {"totalSize": len(ids), "done": offset + batch >= len(ids)}
    if not result["done"]:
        if locator is None:
            locator = seed.sfid("01g", sb.store.next_id("salesforce.query-locator", 1000))
            cursor = {"Id": locator, "soql": compiled.soql, "ids": ids, "all": include_deleted}
            sb.store.put(SYSTEM, LOCATORS, locator, cursor)
        resource = "queryAll" if include_deleted else "query"
        # Relative to the instance, like real Salesforce: clients prepend the instance URL.
        result["nextRecordsUrl"] = (
            f"/services/data/v{version}/{resource}/{locator}-{offset + batch}"
        )
    rows_of, now = tables(sb), sb.now()
    result["records"] = [
        compiled.project(r, fetch, version, rows_of, now, include_deleted) for r in chunk
    ]
    return result


def _query(
    sb: Sandbox, request: Request, version: str, q: str | None, include_deleted: bool
) -> Json:
    version = _version(version)
    if not q:
        raise SalesforceError(400, "A query string has to be specified", "MALFORMED_QUERY")
    compiled = _compile(q)
    rows = compiled.select_records(
        sb.store.table(SYSTEM, compiled.sobject.name).values(),
        fetcher(sb),
        sb.now(),
        include_deleted,
    )
    if compiled.count:
        return {"totalSize": len(rows), "done": True, "records": []}
    ids = [r["Id"] for r in rows]
    batch = _batch_size(request) or DEFAULT_BATCH
    return _page(sb, compiled, None, ids, 0, batch, version, include_deleted)


def _more(sb: Sandbox, request: Request, version: str, locator: str, include_deleted: bool) -> Json:
    version = _version(version)
    cursor_id, _, start = locator.rpartition("-")
    cursor = sb.store.get(SYSTEM, LOCATORS, cursor_id)
    if cursor is None or not start.isdigit() or cursor["all"] != include_deleted:
        raise SalesforceError(400, "invalid query locator", "INVALID_QUERY_LOCATOR")
    compiled = _compile(cursor["soql"])
    batch = _batch_size(request) or DEFAULT_BATCH
    return _page(
        sb, compiled, cursor_id, cursor["ids"], int(start), batch, version, include_deleted
    )


@router.get(API + "/query")
@router.get(API + "/query/")
async def query(sb: SandboxDep, request: Request, version: str, q: str | None = None) -> Json:
    return _query(sb, request, version, q, include_deleted=False)


@router.get(API + "/queryAll")
@router.get(API + "/queryAll/")
async def query_all(sb: SandboxDep, request: Request, version: str, q: str | None = None) -> Json:
    return _query(sb, request, version, q, include_deleted=True)


@router.get(API + "/query/{locator}")
async def query_more(sb: SandboxDep, request: Request, version: str, locator: str) -> Json:
    return _more(sb, request, version, locator, include_deleted=False)


@router.get(API + "/queryAll/{locator}")
async def query_all_more(sb: SandboxDep, request: Request, version: str, locator: str) -> Json:
    return _more(sb, request, version, locator, include_deleted=True)


# --- sObject rows --------------------------------------------------------------------------------


def _record(sb: Sandbox, obj: SObject, raw_id: str) -> Json:
    """The live record behind a URL's id, or the error Salesforce gives for that id."""
    record_id = normalize_id(raw_id)
    if record_id is None:
        raise SalesforceError(
            400, f"{obj.label} ID: id value of incorrect type: {raw_id}", "MALFORMED_ID"
        )
    owner = sobject_of_id(record_id)
    if owner is None or owner.name != obj.name:
        # Salesforce reads an id of another object as an external id field name.
        raise not_found(f"Provided external ID field does not exist or is not accessible: {raw_id}")
    record = sb.store.get(SYSTEM, obj.name, record_id)
    if record is None:
        raise not_found()
    if record.get("IsDeleted"):
        raise SalesforceError(404, "entity is deleted", "ENTITY_IS_DELETED")
    return record


def _as_read(obj: SObject, record: Json, version: str, fields: str | None) -> Json:
    url = f"/services/data/v{version}/sobjects/{obj.name}/{record['Id']}"
    out: Json = {"attributes": {"type": obj.name, "url": url}}
    if not fields:
        return out | record
    for name in fields.split(","):
        field = obj.field(name.strip())
        if field is None:
            raise SalesforceError(
                400, f"No such column '{name.strip()}' on entity '{obj.name}'", "INVALID_FIELD"
            )
        out[field.name] = record.get(field.name)
    return out


def _create(sb: Sandbox, obj: SObject, values: Json) -> Json:
    fetch = fetcher(sb)
    new_id = new_record_id(sb, obj.key_prefix, sb.store.next_id(f"salesforce.{obj.name}", 1000))
    now = sb.now()  # one instant: Salesforce stamps an insert's Created and Modified alike
    record = records.new_record(obj, new_id, now, API_USER_ID)
    records.apply(obj, record, values, fetch, now, API_USER_ID)
    records.check(obj, record, sb.store.table(SYSTEM, obj.name).values())
    return sb.store.put(SYSTEM, obj.name, new_id, record)


def _update(sb: Sandbox, obj: SObject, record: Json, values: Json) -> Json:
    """Validate the whole change on a copy first, so a refused update changes nothing."""
    updated = records.apply(obj, dict(record), values, fetcher(sb), sb.now(), API_USER_ID)
    records.check(obj, updated, sb.store.table(SYSTEM, obj.name).values())
    history.track(sb, obj, record, updated, API_USER_ID)
    return sb.store.put(SYSTEM, obj.name, record["Id"], updated)


@router.post(API + "/sobjects/{type_}")
@router.post(API + "/sobjects/{type_}/")
async def create(sb: SandboxDep, request: Request, version: str, type_: str) -> Response:
    _version(version)
    obj = _sobject(type_)
    body = await _body(request)
    values = records.coerce(obj, body, fetcher(sb), creating=True)
    record = _create(sb, obj, values)
    return JSONResponse({"id": record["Id"], "success": True, "errors": []}, 201)


@router.get(API + "/sobjects/{type_}/{record_id}")
async def get_record(
    sb: SandboxDep, version: str, type_: str, record_id: str, fields: str | None = None
) -> Json:
    version = _version(version)
    obj = _sobject(type_)
    return _as_read(obj, _record(sb, obj, record_id), version, fields)


@router.patch(API + "/sobjects/{type_}/{record_id}")
async def update(
    sb: SandboxDep, request: Request, version: str, type_: str, record_id: str
) -> Response:
    _version(version)
    obj = _sobject(type_)
    body = await _body(request)
    record = _record(sb, obj, record_id)
    _update(sb, obj, record, records.coerce(obj, body, fetcher(sb), creating=False))
    return Response(status_code=204)


@router.delete(API + "/sobjects/{type_}/{record_id}")
async def delete(sb: SandboxDep, version: str, type_: str, record_id: str) -> Response:
    """Deleting moves a record to the recycle bin: gone for query, still seen by queryAll."""
    _version(version)
    obj = _sobject(type_)
    record = _record(sb, obj, record_id)
    record["IsDeleted"] = True
    record["SystemModstamp"] = format_datetime(sb.now())
    sb.store.save(SYSTEM, obj.name, record["Id"])
    return Response(status_code=204)


# --- external ids --------------------------------------------------------------------------------


def _external_id(obj: SObject, name: str) -> Field:
    field = obj.field(name)
    if field is None or not (field.external_id or field.type == "id"):
        raise not_found(f"Provided external ID field does not exist or is not accessible: {name}")
    return field


def _by_external_id(sb: Sandbox, obj: SObject, field: Field, value: str) -> list[Json]:
    if field.type == "id":
        record_id = normalize_id(value)
        record = sb.store.get(SYSTEM, obj.name, record_id) if record_id else None
        return [record] if record and not record.get("IsDeleted") else []
    wanted = comparable(field, value)
    return [
        r
        for r in sb.store.table(SYSTEM, obj.name).values()
        if not r.get("IsDeleted") and comparable(field, r.get(field.name)) == wanted
    ]


def _multiple(matches: list[Json], obj: SObject, version: str) -> Response:
    urls = [f"/services/data/v{version}/sobjects/{obj.name}/{r['Id']}" for r in matches]
    return JSONResponse(urls, 300)


@router.get(API + "/sobjects/{type_}/{field_name}/{value:path}")
async def get_by_external_id(
    sb: SandboxDep, version: str, type_: str, field_name: str, value: str
) -> Response:
    version = _version(version)
    obj = _sobject(type_)
    matches = _by_external_id(sb, obj, _external_id(obj, field_name), value)
    if not matches:
        raise not_found()
    if len(matches) > 1:
        return _multiple(matches, obj, version)
    return JSONResponse(_as_read(obj, matches[0], version, None))


@router.patch(API + "/sobjects/{type_}/{field_name}/{value:path}")
async def upsert(
    sb: SandboxDep, request: Request, version: str, type_: str, field_name: str, value: str
) -> Response:
    """Create or update by external id: 201 when created; when updated, 200 with a body from API
    version 46.0 on (204 without one before), as Salesforce answers."""
    version = _version(version)
    obj = _sobject(type_)
    field = _external_id(obj, field_name)
    body = await _body(request)
    if isinstance(body, dict) and any(k.lower() == field.name.lower() for k in body):
        raise SalesforceError(
            400,
            f"The external ID field {field.name} is given in the URL; it must not also be set "
            "in the request body",
            "INVALID_FIELD",
            [field.name],
        )
    matches = _by_external_id(sb, obj, field, value)
    if len(matches) > 1:
        return _multiple(matches, obj, version)
    if matches:
        values = records.coerce(obj, body, fetcher(sb), creating=False)
        record = _update(sb, obj, matches[0], values)
        if float(version) < 46:
            return Response(status_code=204)
        return JSONResponse({"id": record["Id"], "success": True, "errors": [], "created": False})
    if field.type == "id":
        raise not_found()
    values = records.coerce(obj, body, fetcher(sb), creating=True)
    values[field.name] = records.coerce_value(field, value, fetcher(sb))
    record = _create(sb, obj, values)
    return JSONResponse(
        {"id": record["Id"], "success": True, "errors": [], "created": True}, status_code=201
    )
