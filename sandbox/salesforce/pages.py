"""A record's page in Lightning (`/lightning/r/<object>/<id>/view`), where psflow's links go."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from sandbox import pages as web
from sandbox.core import SandboxDep
from sandbox.salesforce.common import SYSTEM
from sandbox.salesforce.schema import normalize_id, sobject

pages = APIRouter(include_in_schema=False)


@pages.get("/lightning/r/{type_}/{record_id}/view", response_class=HTMLResponse)
async def record_page(sb: SandboxDep, type_: str, record_id: str) -> HTMLResponse:
    obj = sobject(type_)
    record = sb.store.get(SYSTEM, obj.name, normalize_id(record_id) or record_id) if obj else None
    if obj is None or record is None:
        return web.not_found("Salesforce", f"{type_} {record_id}")
    return web.object_page("Salesforce", obj.label, str(record.get("Name") or record_id), record)
