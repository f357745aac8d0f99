"""GitLab's web pages for what psflow links: a group, a project, an epic (`/groups/<path>/-/epics/<iid>`)
and an issue (`/<project path>/-/issues/<iid>`), as the objects' `web_url` gives them."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from sandbox import pages as web
from sandbox.core import ApiError, Json, SandboxDep
from sandbox.gitlab.model import find_group, find_project, table

pages = APIRouter(include_in_schema=False)


@pages.get("/groups/{path:path}", response_class=HTMLResponse)
async def group_page(sb: SandboxDep, path: str) -> HTMLResponse:
    group_path, _, iid = path.partition("/-/epics/")
    try:
        group = find_group(sb, group_path)
    except ApiError:
        return web.not_found("GitLab", f"group {group_path}")
    if not iid:
        return web.object_page("GitLab", "group", group["name"], group)
    epic = _numbered(table(sb, "epic").values(), "group_id", group["id"], iid)
    if epic is None:
        return web.not_found("GitLab", f"epic &{iid} of {group_path}")
    return web.object_page("GitLab", "epic", epic["title"], epic)


@pages.get("/{path:path}", response_class=HTMLResponse)
async def project_page(sb: SandboxDep, path: str) -> HTMLResponse:
    project_path, _, iid = path.partition("/-/issues/")
    try:
        project = find_project(sb, project_path)
    except ApiError:
        return web.not_found("GitLab", f"project {project_path}")
    if not iid:
        return web.object_page("GitLab", "project", project["name"], project)
    issue = _numbered(table(sb, "issue").values(), "project_id", project["id"], iid)
    if issue is None:
        return web.not_found("GitLab", f"issue #{iid} of {project_path}")
    return web.object_page("GitLab", "issue", issue["title"], issue)


def _numbered(rows: Iterable[Json], owner: str, owner_id: int, iid: str) -> Json | None:
    return next((r for r in rows if r[owner] == owner_id and str(r["iid"]) == iid), None)
