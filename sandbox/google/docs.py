"""Google Docs v1 and Slides v1 stand-ins: read a document or a deck as the real JSON, and change its
text with `batchUpdate` (`/google/v1/documents/{id}`, `/google/v1/presentations/{id}`).

A Doc is stored as plain paragraphs and a deck as slides of text boxes (see `common`); the Docs and
Slides structures (indices, text runs, page elements) are built from them on every read, so they can
never disagree with what Drive's full-text search or the viewer see.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable

from fastapi import APIRouter, Request

from sandbox.core import ApiError, Json, Quota, Sandbox, SandboxDep
from sandbox.google import drive
from sandbox.google.common import SYSTEM
from sandbox.kit import parse_json

router = APIRouter()
control: APIRouter | None = None


# --- shared --------------------------------------------------------------------------------------


def _load(sb: Sandbox, kind: str, file_id: str) -> tuple[Json, Json]:
    file = sb.store.get(SYSTEM, "file", file_id)
    if file is None:
        raise ApiError(404, "Requested entity was not found.", "notFound")
    content = sb.store.get(SYSTEM, kind, file_id)
    if content is None:
        # e.g. a Sheet's id given to the Docs API
        raise ApiError(
            400, "This operation is not supported for this document", "failedPrecondition"
        )
    return file, content


def _revision_id(file_id: str, content: Json) -> str:
    """Opaque, and new whenever the content changes, like Google's revision ids."""
    digest = hashlib.sha256(f"{file_id}:{json.dumps(content, sort_keys=True)}".encode()).digest()
    return "ALBJ" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def _requests(request: Request) -> list[Json]:
    error = ApiError(400, "Invalid JSON payload received.", "parseError")
    body = parse_json(await request.body() or b"{}", error)
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not all(isinstance(r, dict) for r in requests):
        raise ApiError(400, "Invalid JSON payload received. 'requests' must be a list.", "invalid")
    return requests


def _kind(index: int, request: Json, known: frozenset[str], supported: set[str]) -> str:
    """The one request kind in `request` (`{"replaceAllText": {...}}` -> replaceAllText)."""
    if len(request) != 1:
        raise ApiError(
            400, f"Invalid requests[{index}]: exactly one kind of request must be set.", "invalid"
        )
    kind = next(iter(request))
    if kind not in known:
        raise ApiError(
            400,
            f"Invalid JSON payload received. Unknown name \"{kind}\" at 'requests[{index}]': "
            "Cannot find field.",
            "invalid",
        )
    if kind not in supported:
        raise ApiError(
            400,
            f"Invalid requests[{index}].{kind}: not supported by the psflow sandbox.",
            "invalid",
        )
    return kind


def _replace_all(text: str, spec: Json, where: str) -> tuple[str, int]:
    """replaceAllText on one piece of text; case-insensitive unless `matchCase`."""
    contains = spec.get("containsText") or {}
    needle = contains.get("text") or ""
    if not needle:
        raise ApiError(400, f"Invalid {where}: containsText.text must not be empty.", "invalid")
    replacement = str(spec.get("replaceText") or "")
    flags = 0 if contains.get("matchCase") else re.IGNORECASE
    return re.subn(re.escape(needle), lambda _: replacement, text, flags=flags)


def _count_reply(kind: str, changed: int) -> Json:
    # Google's JSON leaves out zero values: nothing replaced is `{"replaceAllText": {}}`.
    return {kind: {"occurrencesChanged": changed} if changed else {}}


def _u16(text: str) -> int:
    """Docs and Slides count indices in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _offset(text: str, units: int, where: str) -> int:
    """The Python string offset of a UTF-16 offset into `text`."""
    count = 0
    for i, char in enumerate(text):
        if count == units:
            return i
        if count > units:
            break
        count += 2 if ord(char) > 0xFFFF else 1
    if count == units:
        return len(text)
    raise ApiError(400, f"Invalid {where}: the index splits a surrogate pair.", "invalid")


# --- Docs ----------------------------------------------------------------------------------------

# Every request kind of documents.batchUpdate; the sandbox applies the text ones psflow sends.
# fmt: off
DOCS_REQUESTS = frozenset(
    [
    "replaceAllText", "insertText", "updateTextStyle", "createParagraphBullets",
    "deleteParagraphBullets", "createNamedRange", "deleteNamedRange", "updateParagraphStyle",
    "deleteContentRange", "insertInlineImage", "insertTable", "insertTableRow", "insertTableColumn",
    "deleteTableRow", "deleteTableColumn", "insertPageBreak", "deletePositionedObject",
    "updateTableColumnProperties", "updateTableCellStyle", "updateTableRowStyle", "replaceImage",
    "updateDocumentStyle", "mergeTableCells", "unmergeTableCells", "createHeader", "createFooter",
    "createFootnote", "replaceNamedRangeContent", "updateSectionStyle", "insertSectionBreak",
    "deleteHeader", "deleteFooter", "pinTableHeaderRows", "addDocumentTab", "deleteTab",
    "updateDocumentTabProperties", "insertPerson",
    ]
)
# fmt: on


def _doc_text(content: Json) -> str:
    """The body as one string: every paragraph ends with a newline; an empty doc has one."""
    return "".join(p + "\n" for p in content["paragraphs"]) or "\n"


def document_json(file: Json, content: Json, tabs: bool = False) -> Json:
    """A Docs `Document`: a section break, then one paragraph with one text run per stored
    paragraph, indexed from 1 in UTF-16 code units."""
    elements: list[Json] = [
        {
            "endIndex": 1,
            "sectionBreak": {
                "sectionStyle": {
                    "columnSeparatorStyle": "NONE",
                    "contentDirection": "LEFT_TO_RIGHT",
                    "sectionType": "CONTINUOUS",
                }
            },
        }
    ]
    index = 1
    for line in _doc_text(content).splitlines(keepends=True):
        end = index + _u16(line)
        run = {"startIndex": index, "endIndex": end, "textRun": {"content": line, "textStyle": {}}}
        paragraph = {
            "elements": [run],
            "paragraphStyle": {"namedStyleType": "NORMAL_TEXT", "direction": "LEFT_TO_RIGHT"},
        }
        elements.append({"startIndex": index, "endIndex": end, "paragraph": paragraph})
        index = end
    body = {"content": elements}
    style = {
        "pageSize": {
            "height": {"magnitude": 792, "unit": "PT"},
            "width": {"magnitude": 612, "unit": "PT"},
        },
        "marginTop": {"magnitude": 72, "unit": "PT"},
        "marginBottom": {"magnitude": 72, "unit": "PT"},
        "marginLeft": {"magnitude": 72, "unit": "PT"},
        "marginRight": {"magnitude": 72, "unit": "PT"},
    }
    doc: Json = {"title": file["name"]}
    if tabs:  # includeTabsContent=true: the body moves into the (single) tab
        doc["tabs"] = [
            {
                "tabProperties": {"tabId": "t.0", "title": "Tab 1", "index": 0},
                "documentTab": {"body": body, "documentStyle": style},
            }
        ]
    else:
        doc["body"] = body
        doc["documentStyle"] = style
    doc["revisionId"] = _revision_id(file["id"], content)
    doc["suggestionsViewMode"] = "SUGGESTIONS_INLINE"
    doc["documentId"] = file["id"]
    return doc


@router.get("/v1/documents/{document_id}")
async def documents_get(sb: SandboxDep, document_id: str, includeTabsContent: bool = False) -> Json:
    file, content = _load(sb, "document", document_id)
    return document_json(file, content, includeTabsContent)


def _insert_text(text: str, spec: Json, where: str) -> str:
    inserted = str(spec.get("text") or "")
    end = _u16(text) + 1  # the body's end index; its final newline sits at end - 1
    if "endOfSegmentLocation" in spec:
        index = end - 1
    else:
        index = int((spec.get("location") or {}).get("index", 0))
        if index < 1:
            raise ApiError(
                400,
                f"Invalid {where}: The insertion index must be inside the bounds of an existing "
                "paragraph. You can still create new paragraphs by inserting newlines.",
                "invalid",
            )
        if index >= end:
            raise ApiError(
                400,
                f"Invalid {where}: Index {index} must be less than the end index of the "
                f"referenced segment, {end}.",
                "invalid",
            )
    at = _offset(text, index - 1, where)
    return text[:at] + inserted + text[at:]


def _delete_range(text: str, spec: Json, where: str) -> str:
    span = spec.get("range") or {}
    start, stop = int(span.get("startIndex", 0)), int(span.get("endIndex", 0))
    end = _u16(text) + 1
    if start < 1 or stop <= start:
        raise ApiError(400, f"Invalid {where}: The range should not be empty.", "invalid")
    if stop > end - 1:
        raise ApiError(
            400,
            f"Invalid {where}: The range cannot include the newline character at the end of the "
            "segment.",
            "invalid",
        )
    return text[: _offset(text, start - 1, where)] + text[_offset(text, stop - 1, where) :]


@router.post("/v1/documents/{document_id}:batchUpdate")
async def documents_batch_update(request: Request, sb: SandboxDep, document_id: str) -> Json:
    """Applies every request in order, or none of them when one is invalid (as Docs does)."""
    requests = await _requests(request)
    file, content = _load(sb, "document", document_id)
    text = _doc_text(content)
    replies: list[Json] = []
    for i, req in enumerate(requests):
        kind = _kind(i, req, DOCS_REQUESTS, {"replaceAllText", "insertText", "deleteContentRange"})
        where = f"requests[{i}].{kind}"
        if kind == "replaceAllText":
            text, changed = _replace_all(text, req[kind], where)
            replies.append(_count_reply(kind, changed))
        elif kind == "insertText":
            text = _insert_text(text, req[kind], where)
            replies.append({})
        else:
            text = _delete_range(text, req[kind], where)
            replies.append({})
    if requests:
        content["paragraphs"] = text[:-1].split("\n")
        sb.store.save(SYSTEM, "document", document_id)
        drive.touch(sb, file)
    return {
        "replies": replies,
        "writeControl": {"requiredRevisionId": _revision_id(document_id, content)},
        "documentId": document_id,
    }


# --- Slides --------------------------------------------------------------------------------------

# fmt: off
SLIDES_REQUESTS = frozenset(
    [
    "createSlide", "createShape", "createTable", "insertText", "insertTableRows",
    "insertTableColumns", "deleteTableRow", "deleteTableColumn", "replaceAllText", "deleteObject",
    "updatePageElementTransform", "updateSlidesPosition", "deleteText", "createImage",
    "createVideo", "createSheetsChart", "createLine", "refreshSheetsChart", "updateShapeProperties",
    "updateImageProperties", "updateVideoProperties", "updatePageProperties",
    "updateTableCellProperties", "updateLineProperties", "createParagraphBullets",
    "replaceAllShapesWithImage", "duplicateObject", "updateTextStyle",
    "replaceAllShapesWithSheetsChart", "deleteParagraphBullets", "updateParagraphStyle",
    "updateTableBorderProperties", "updateTableColumnProperties", "updateTableRowProperties",
    "mergeTableCells", "unmergeTableCells", "groupObjects", "ungroupObjects",
    "updatePageElementAltText", "replaceImage", "updateSlideProperties", "updatePageElementsZOrder",
    "updateLineCategory", "rerouteLine",
    ]
)
# fmt: on
# A 16:9 deck, as Slides creates by default (EMU).
_PAGE_SIZE = {
    "width": {"magnitude": 9144000, "unit": "EMU"},
    "height": {"magnitude": 5143500, "unit": "EMU"},
}


def _text_elements(text: str) -> list[Json]:
    """Slides' TextContent: per paragraph a marker, then its run. Zero indices are left out, as in
    Google's JSON."""
    elements: list[Json] = []
    start = 0
    for line in (text + "\n").splitlines(keepends=True):
        end = start + _u16(line)
        span: Json = {"startIndex": start} if start else {}
        elements.append({**span, "endIndex": end, "paragraphMarker": {"style": {}}})
        elements.append({**span, "endIndex": end, "textRun": {"content": line, "style": {}}})
        start = end
    return elements


def _text_box(slide_id: str, j: int, text: str) -> Json:
    shape: Json = {"shapeType": "TEXT_BOX"}
    if text:
        shape["text"] = {"textElements": _text_elements(text)}
    return {
        "objectId": f"{slide_id}_text_{j}",
        "size": {
            "width": {"magnitude": 8000000, "unit": "EMU"},
            "height": {"magnitude": 800000, "unit": "EMU"},
        },
        "transform": {
            "scaleX": 1,
            "scaleY": 1,
            "translateX": 572000,
            "translateY": 400000 + j * 1000000,
            "unit": "EMU",
        },
        "shape": shape,
    }


def presentation_json(file: Json, content: Json) -> Json:
    slides = [
        {
            "objectId": slide["objectId"],
            "pageElements": [
                _text_box(slide["objectId"], j, text) for j, text in enumerate(slide["texts"])
            ],
            "slideProperties": {"layoutObjectId": "p1", "masterObjectId": "p"},
        }
        for slide in content["slides"]
    ]
    return {
        "presentationId": file["id"],
        "pageSize": _PAGE_SIZE,
        "slides": slides,
        "title": file["name"],
        "masters": [{"objectId": "p", "pageType": "MASTER"}],
        "layouts": [{"objectId": "p1", "pageType": "LAYOUT"}],
        "locale": "en",
        "revisionId": _revision_id(file["id"], content),
    }


@router.get("/v1/presentations/{presentation_id}")
async def presentations_get(sb: SandboxDep, presentation_id: str) -> Json:
    file, content = _load(sb, "presentation", presentation_id)
    return presentation_json(file, content)


def _replace_in_slides(slides: list[Json], spec: Json, where: str) -> int:
    pages = spec.get("pageObjectIds")
    known = {slide["objectId"] for slide in slides}
    for page in pages or []:
        if page not in known:
            raise ApiError(
                400, f"Invalid {where}: The page object ID ({page}) does not exist.", "invalid"
            )
    changed = 0
    for slide in slides:
        if pages and slide["objectId"] not in pages:
            continue
        for j, text in enumerate(slide["texts"]):
            slide["texts"][j], n = _replace_all(text, spec, where)
            changed += n
    return changed


@router.post("/v1/presentations/{presentation_id}:batchUpdate")
async def presentations_batch_update(
    request: Request, sb: SandboxDep, presentation_id: str
) -> Json:
    requests = await _requests(request)
    file, content = _load(sb, "presentation", presentation_id)
    slides = json.loads(json.dumps(content["slides"]))  # all or nothing: work on a copy
    replies: list[Json] = []
    for i, req in enumerate(requests):
        kind = _kind(i, req, SLIDES_REQUESTS, {"replaceAllText"})
        changed = _replace_in_slides(slides, req[kind], f"requests[{i}].{kind}")
        replies.append(_count_reply(kind, changed))
    if requests:
        content["slides"] = slides
        sb.store.save(SYSTEM, "presentation", presentation_id)
        drive.touch(sb, file)
    return {
        "presentationId": presentation_id,
        "replies": replies,
        "writeControl": {"requiredRevisionId": _revision_id(presentation_id, content)},
    }


# --- quotas --------------------------------------------------------------------------------------


def _calls(prefix: str, method: str) -> Callable[[str, str], bool]:
    return lambda m, path: m == method and path.startswith(prefix)


_DOCS, _SLIDES = "/google/v1/documents", "/google/v1/presentations"

# Google Docs API usage limits (developers.google.com/workspace/docs/api/limits): read requests
# 3,000 per minute per project and 300 per minute per user per project; write requests 600 per
# minute per project and 60 per minute per user per project.
# Google Slides API usage limits (developers.google.com/workspace/slides/api/limits): read requests
# 3,000 per minute per project and 600 per user; write requests 600 per project and 60 per user.
QUOTAS: tuple[Quota, ...] = (
    Quota(
        "google.docs-read-per-user",
        "Read requests per minute per user",
        300,
        60,
        _calls(_DOCS, "GET"),
    ),
    Quota(
        "google.docs-write-per-user",
        "Write requests per minute per user",
        60,
        60,
        _calls(_DOCS, "POST"),
    ),
    Quota(
        "google.docs-read-per-project",
        "Read requests per minute",
        3000,
        60,
        _calls(_DOCS, "GET"),
        per_user=False,
    ),
    Quota(
        "google.docs-write-per-project",
        "Write requests per minute",
        600,
        60,
        _calls(_DOCS, "POST"),
        per_user=False,
    ),
    Quota(
        "google.slides-read-per-user",
        "Read requests per minute per user",
        600,
        60,
        _calls(_SLIDES, "GET"),
    ),
    Quota(
        "google.slides-write-per-user",
        "Write requests per minute per user",
        60,
        60,
        _calls(_SLIDES, "POST"),
    ),
    Quota(
        "google.slides-read-per-project",
        "Read requests per minute",
        3000,
        60,
        _calls(_SLIDES, "GET"),
        per_user=False,
    ),
    Quota(
        "google.slides-write-per-project",
        "Write requests per minute",
        600,
        60,
        _calls(_SLIDES, "POST"),
        per_user=False,
    ),
)
