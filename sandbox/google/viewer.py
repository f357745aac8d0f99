"""A plain HTML view of the sandbox's Drive, so the links psflow puts in its artifacts (a Sheet's
`webViewLink`, a folder) open in a browser during the demo: Sheets as tables, Docs as paragraphs,
Slides as their texts, folders as lists of links, an uploaded image as the picture (its bytes
served at Drive's `uc?id=...` address). Same paths as Google's web apps.

These are reads (GETs); they are logged like any request but are no API traffic of psflow's.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from html import escape
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from sandbox import pages as web
from sandbox.core import Json, Quota, Sandbox, SandboxDep
from sandbox.google import common, drive
from sandbox.google.common import FOLDER, SYSTEM

router = APIRouter()
control: APIRouter | None = None
QUOTAS: tuple[Quota, ...] = ()

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #202124; }
header { border-bottom: 1px solid #dadce0; margin-bottom: 1rem; }
.meta { color: #5f6368; font-size: .9rem; }
table { border-collapse: collapse; margin-bottom: 2rem; }
td, th { border: 1px solid #dadce0; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f1f3f4; font-weight: 500; color: #5f6368; }
.slide { border: 1px solid #dadce0; border-radius: 8px; padding: 1rem 1.5rem; margin: 1rem 0;
         aspect-ratio: 16 / 9; max-width: 40rem; }
.slide p:first-child { font-size: 1.4rem; }
ul.files li { margin: .3rem 0; }
figure { margin: 0 0 1rem; }
figure img { max-width: 100%; border: 1px solid #dadce0; }
"""

_KIND_NAMES = {
    common.SPREADSHEET: "Google Sheet",
    common.DOCUMENT: "Google Doc",
    common.PRESENTATION: "Google Slides",
    FOLDER: "Folder",
}


def _kind_name(mime_type: str) -> str:
    return _KIND_NAMES.get(mime_type, mime_type)


def _page(request: Request, sb: Sandbox, file: Json, body: str) -> HTMLResponse:
    parents = "".join(
        f' · in <a href="{escape(common.view_link(request, parent))}">{escape(parent["name"])}</a>'
        for parent in _files(sb, file["parents"])
    )
    props = ", ".join(f"{k}={v}" for k, v in sorted(file["appProperties"].items()))
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(file["name"])}</title>
<style>{_STYLE}</style></head>
<body><header><h1>{escape(file["name"])}</h1>
<p class="meta">{escape(_kind_name(file["mimeType"]))}{parents}
· modified {escape(file["modifiedTime"])}{" · in the trash" if file["trashed"] else ""}
{f"<br>appProperties: {escape(props)}" if props else ""}</p></header>
{body}
</body></html>"""
    return HTMLResponse(html)


def _not_found(file_id: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><title>Not found</title><h1>File not found: {escape(file_id)}</h1>", 404
    )


def _files(sb: Sandbox, ids: Iterable[str]) -> list[Json]:
    found = (sb.store.get(SYSTEM, "file", file_id) for file_id in ids)
    return [file for file in found if file is not None]


def _load(sb: Sandbox, file_id: str, kind: str) -> tuple[Json, Json] | None:
    file = sb.store.get(SYSTEM, "file", file_id)
    content = sb.store.get(SYSTEM, kind, file_id)
    return (file, content) if file is not None and content is not None else None


@router.get("/spreadsheets/d/{file_id}/edit", response_class=HTMLResponse)
async def view_spreadsheet(request: Request, sb: SandboxDep, file_id: str) -> HTMLResponse:
    loaded = _load(sb, file_id, "spreadsheet")
    if loaded is None:
        return _not_found(file_id)
    file, content = loaded
    tabs = []
    for tab in content["sheets"]:
        width = max((len(row) for row in tab["rows"]), default=0)
        head = "".join(f"<th>{_column(i)}</th>" for i in range(width))
        rows = "".join(
            f"<tr><th>{n}</th>"
            + "".join(f"<td>{escape(_cell(v))}</td>" for v in row)
            + "<td></td>" * (width - len(row))
            + "</tr>"
            for n, row in enumerate(tab["rows"], start=1)
        )
        tabs.append(f"<h2>{escape(tab['title'])}</h2><table><tr><th></th>{head}</tr>{rows}</table>")
    return _page(request, sb, file, "".join(tabs))


def _column(index: int) -> str:
    """A1-style column letters: 0 -> A, 26 -> AA."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _cell(value: object) -> str:
    return "" if value is None else str(value)


@router.get("/document/d/{file_id}/edit", response_class=HTMLResponse)
async def view_document(request: Request, sb: SandboxDep, file_id: str) -> HTMLResponse:
    loaded = _load(sb, file_id, "document")
    if loaded is None:
        return _not_found(file_id)
    file, content = loaded
    body = "".join(f"<p>{escape(p) or '&nbsp;'}</p>" for p in content["paragraphs"])
    return _page(request, sb, file, f"<article>{body}</article>")


@router.get("/presentation/d/{file_id}/edit", response_class=HTMLResponse)
async def view_presentation(request: Request, sb: SandboxDep, file_id: str) -> HTMLResponse:
    loaded = _load(sb, file_id, "presentation")
    if loaded is None:
        return _not_found(file_id)
    file, content = loaded
    slides = "".join(
        '<section class="slide">'
        + "".join(f"<p>{escape(t)}</p>" for t in s["texts"])
        + "</section>"
        for s in content["slides"]
    )
    return _page(request, sb, file, slides)


@router.get("/drive/folders/{file_id}", response_class=HTMLResponse)
async def view_folder(request: Request, sb: SandboxDep, file_id: str) -> HTMLResponse:
    folder = sb.store.get(SYSTEM, "file", file_id)
    if folder is None or folder["mimeType"] != FOLDER:
        return _not_found(file_id)
    entries = sorted(
        drive.children(sb, file_id), key=lambda f: (f["mimeType"] != FOLDER, f["name"])
    )
    items = "".join(
        f'<li><a href="{escape(common.view_link(request, f))}">{escape(f["name"])}</a>'
        f' <span class="meta">{escape(_kind_name(f["mimeType"]))}</span></li>'
        for f in entries
    )
    return _page(request, sb, folder, f'<ul class="files">{items or "<li>(empty)</li>"}</ul>')


@router.get("/file/d/{file_id}/view", response_class=HTMLResponse)
async def view_file(request: Request, sb: SandboxDep, file_id: str) -> HTMLResponse:
    """An uploaded file: an image as the picture, text as text, else what it is; and a link that
    downloads it."""
    file = sb.store.get(SYSTEM, "file", file_id)
    if file is None:
        return _not_found(file_id)
    blob = sb.store.get(SYSTEM, "blob", file_id)
    if blob is not None and file["mimeType"].startswith("image/"):
        src = drive.content_link(request, file_id, "view")
        body = f'<figure><img src="{escape(src)}" alt="{escape(file["name"])}"></figure>'
    elif blob is not None and blob["mimeType"].startswith("text/"):
        body = f"<pre>{escape(drive.blob_text(blob))}</pre>"
    else:
        body = f"<p>{escape(file.get('size', '0'))} bytes, no preview.</p>"
    if blob is not None:
        download = drive.content_link(request, file_id, "download")
        body += f'<p class="meta"><a href="{escape(download)}">Download</a></p>'
    return _page(request, sb, file, body)


@router.get("/uc", response_model=None)
async def file_content(
    sb: SandboxDep, file_id: str = Query("", alias="id"), export: str = "download"
) -> Response:
    """A file's bytes as a browser gets them from Drive's `uc` address (`webContentLink`): shown in
    place for `export=view` (an `<img>`'s src), saved under the file's name for `download`."""
    file = sb.store.get(SYSTEM, "file", file_id)
    blob = sb.store.get(SYSTEM, "blob", file_id)
    if file is None or blob is None:
        return _not_found(file_id)
    # Uploaded bytes are shown, never run: a script in an SVG or HTML file stays inert.
    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}
    if export != "view":
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(file['name'])}"
    # Served as the file's mimeType, which the page went by in choosing an <img>.
    data = base64.b64decode(blob["data"])
    return Response(data, media_type=file["mimeType"], headers=headers)


@router.get("/calendar/event", response_class=HTMLResponse)
async def event_page(sb: SandboxDep, eid: str = "") -> HTMLResponse:
    """An event's `htmlLink`: `eid` is base64 of "<event id> <calendar id>", as Google's."""
    try:
        event_id, _, calendar = (
            base64.urlsafe_b64decode(eid + "=" * (-len(eid) % 4)).decode().partition(" ")
        )
    except ValueError:
        return web.not_found("Google Calendar", f"event {eid}")
    event = sb.store.get(SYSTEM, "event", f"{calendar}/{event_id}")
    if event is None:
        return web.not_found("Google Calendar", f"event {event_id}")
    return web.object_page("Google Calendar", "event", str(event.get("summary") or event_id), event)
