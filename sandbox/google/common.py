"""What the Google stand-ins share: the error shape, Drive files and the content behind them.

A Google Sheet, Doc or Slides deck is one Drive file (kind `file`) plus its content, kept under the
same id in kind `spreadsheet`, `document` or `presentation`. The file's `name` is the one title: the
Sheets/Docs/Slides APIs read it from there, so a Drive rename or copy is seen by all of them.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from sandbox.core import ApiError, Json, Quota, Sandbox, base_url
from sandbox.kit import bearer_token

SYSTEM = "google"

SPREADSHEET = "application/vnd.google-apps.spreadsheet"
DOCUMENT = "application/vnd.google-apps.document"
PRESENTATION = "application/vnd.google-apps.presentation"
FOLDER = "application/vnd.google-apps.folder"
CONTENT_KINDS = {SPREADSHEET: "spreadsheet", DOCUMENT: "document", PRESENTATION: "presentation"}

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def render_error(err: ApiError) -> Response:
    """Google's JSON error: googleapiclient turns it into `HttpError` with `reason` and
    `error_details`; gspread into `APIError` (404 -> `SpreadsheetNotFound`)."""
    reason = err.code or "error"
    body = {
        "error": {
            "code": err.status,
            "message": err.message,
            "errors": [{"message": err.message, "domain": "global", "reason": reason}],
            "status": _STATUS.get(err.status, "UNKNOWN"),
        }
    }
    return JSONResponse(body, err.status, err.headers)


def not_found(what: str, id_: str) -> ApiError:
    return ApiError(404, f"{what} not found: {id_}.", "notFound")


def service(path: str) -> str:
    """Which Google API a path belongs to, for the request log."""
    parts = path.split("/")
    head = parts[2] if len(parts) > 2 else ""
    if head in ("drive", "upload") or path.startswith("/google/batch/drive"):
        return "drive"
    if head in ("gmail", "calendar"):
        return head
    if head == "v4":
        return "sheets"
    if head == "v1" and len(parts) > 3:
        return {"documents": "docs", "presentations": "slides"}.get(parts[3], "google")
    return "google"


def new_id(sb: Sandbox, kind: str = "file") -> str:
    """A Drive-like opaque id (44 characters), never repeated."""
    n = sb.store.next_id(f"google.{kind}")
    return "1" + hashlib.sha256(f"{kind}:{n}".encode()).hexdigest()[:43]


def now_rfc3339(sb: Sandbox) -> str:
    return sb.now().strftime("%Y-%m-%dT%H:%M:%S.") + f"{sb.now().microsecond // 1000:03d}Z"


# psflow's OAuth client: every token `psflow.<anything>` (see `app_of`). The seed's files that
# psflow made in earlier engagements carry its appProperties.
PSFLOW_APP = "psflow"


def app_of(request: Request) -> str:
    """The OAuth client (app) a request comes from, whose appProperties it sees. Google issues
    many tokens to one client; the sandbox, with no token endpoint to ask, reads the client from
    the bearer token: its text before the first "." (`psflow.<anything>` is psflow's client,
    whatever secret follows), or the whole token when it has no ".". No token: the app ""."""
    return bearer_token(request).split(".", 1)[0]


def new_file(
    sb: Sandbox,
    name: str,
    mime_type: str,
    parents: Sequence[str] = (),
    app_properties: dict[str, str] | None = None,
    properties: dict[str, str] | None = None,
    description: str | None = None,
    owner: str = "ps-team@northwind.example",
    file_id: str | None = None,
    app: str | None = None,
) -> Json:
    """A Drive file; `app_properties` are those of `app`, the OAuth client that made it."""
    if app_properties and app is None:
        raise ValueError("appProperties belong to the app that set them: name it")
    file_id = file_id or new_id(sb)
    stamp = now_rfc3339(sb)
    file: Json = {
        "kind": "drive#file",
        "id": file_id,
        "name": name,
        "mimeType": mime_type,
        "parents": list(parents),
        # whose they are, and other apps' own maps: see drive.app_properties
        "appProperties": dict(app_properties or {}),
        "appPropertiesApp": app if app_properties else None,
        "properties": dict(properties or {}),
        "createdTime": stamp,
        "modifiedTime": stamp,
        "trashed": False,
        "starred": False,
        "owners": [{"kind": "drive#user", "emailAddress": owner, "me": True}],
        "permissions": [
            {
                "kind": "drive#permission",
                "id": "owner",
                "type": "user",
                "role": "owner",
                "emailAddress": owner,
            }
        ],
    }
    if description is not None:
        file["description"] = description
    return sb.store.put(SYSTEM, "file", file_id, file)


_VIEW_PATHS = {
    SPREADSHEET: "spreadsheets/d/{}/edit",
    DOCUMENT: "document/d/{}/edit",
    PRESENTATION: "presentation/d/{}/edit",
    FOLDER: "drive/folders/{}",
}


def view_link(request: Request, file: Json) -> str:
    """Where a person opens the file (`webViewLink`): the same path shape as Google's
    (`.../spreadsheets/d/<id>/edit`), served by the sandbox's own viewer."""
    path = _VIEW_PATHS.get(file["mimeType"], "file/d/{}/view").format(file["id"])
    return f"{base_url(request, SYSTEM)}/{path}"


def new_spreadsheet(
    sb: Sandbox, name: str, tabs: dict[str, Iterable[Sequence[Any]]], **file_fields: Any
) -> Json:
    """A Sheet: a Drive file plus its tabs, each a grid of rows (strings or numbers)."""
    file = new_file(sb, name, SPREADSHEET, **file_fields)
    sheets = []
    for index, (title, rows) in enumerate(tabs.items()):
        grid = [list(row) for row in rows]
        sheets.append(
            {
                "sheetId": 0 if index == 0 else sb.store.next_id("google.sheetId", 100_000_000),
                "title": title,
                "index": index,
                "rowCount": max(1000, len(grid)),
                "columnCount": max(26, *(len(r) for r in grid)) if grid else 26,
                "rows": grid,
            }
        )
    sb.store.put(
        SYSTEM,
        "spreadsheet",
        file["id"],
        {"locale": "en_US", "timeZone": "Etc/GMT", "sheets": sheets},
    )
    return file


def new_document(sb: Sandbox, name: str, paragraphs: Iterable[str], **file_fields: Any) -> Json:
    """A Doc: a Drive file plus its paragraphs of plain text."""
    file = new_file(sb, name, DOCUMENT, **file_fields)
    sb.store.put(SYSTEM, "document", file["id"], {"paragraphs": list(paragraphs)})
    return file


def new_presentation(
    sb: Sandbox, name: str, slides: Iterable[Sequence[str]], **file_fields: Any
) -> Json:
    """A Slides deck: a Drive file plus its slides, each a list of text boxes."""
    file = new_file(sb, name, PRESENTATION, **file_fields)
    content = [{"objectId": f"slide_{i}", "texts": list(texts)} for i, texts in enumerate(slides)]
    sb.store.put(SYSTEM, "presentation", file["id"], {"slides": content})
    return file


def copy_content(sb: Sandbox, source_id: str, target_id: str) -> None:
    """Give a copied file the content of its source (a Drive copy of a Sheet is a new Sheet)."""
    for kind in CONTENT_KINDS.values():
        content = sb.store.get(SYSTEM, kind, source_id)
        if content is not None:
            sb.store.put(SYSTEM, kind, target_id, copy.deepcopy(content))


def quota_error(quota: Quota, wait: float) -> ApiError:
    """What a Google API answers over a per-minute quota: 429 RESOURCE_EXHAUSTED, reason
    `rateLimitExceeded`, and no Retry-After header (Google's quota system sends none; its docs ask
    for truncated exponential backoff instead). Serves every Google stand-in: the service name
    comes from the quota id, e.g. `google.docs-read-per-user` -> docs.googleapis.com."""
    service = quota.id.split(".", 1)[1].split("-", 1)[0]
    return ApiError(
        429,
        f"Quota exceeded for quota metric '{quota.description.split(' per ')[0]}' and limit "
        f"'{quota.description}' of service '{service}.googleapis.com' for consumer "
        "'project_number:000000000000'.",
        "rateLimitExceeded",
    )
