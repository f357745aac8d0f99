"""The web app's pages: where a person opens a project."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from sandbox import pages as web
from sandbox.core import SandboxDep
from sandbox.mavenlink.api import table

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
