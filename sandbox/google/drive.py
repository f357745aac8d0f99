"""Google Drive v3 stand-in: files (metadata, folders, small uploads and content updates, copies),
search in Drive's query language, field selection and permissions, on the paths googleapiclient
uses once its root URL is the sandbox: `/google/drive/v3/...`, and uploads under
`/google/upload/drive/v3/...`.

Files live in kind `file` (shape: `common.new_file`). Uploaded bytes of a non-Google file live beside
it in kind `blob` (`{"mimeType", "data": base64}`); a Sheet, Doc or Slides deck keeps its content in
`spreadsheet`/`document`/`presentation`, as `common` says.
"""

from __future__ import annotations

import base64
import binascii
import copy
import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import JSONResponse, Response

from sandbox.core import ApiError, Json, Quota, Sandbox, SandboxDep, base_url
from sandbox.google import common
from sandbox.google.common import DOCUMENT, FOLDER, PRESENTATION, SPREADSHEET, SYSTEM
from sandbox.kit import json_object

# My Drive's root folder. Files stored with no parents live there; responses name it like Drive does.
ROOT_ID = "0AHpsflowSandboxRootUk9PVA"


# --- errors --------------------------------------------------------------------------------------


class DriveError(ApiError):
    """An error that names the offending parameter or field, as Drive's do
    (`"location": "fileId", "locationType": "parameter"`)."""

    def __init__(
        self,
        status: int,
        message: str,
        reason: str,
        location: str | None = None,
        location_type: str = "parameter",
    ) -> None:
        super().__init__(status, message, reason)
        self.location = location
        self.location_type = location_type


def _render(err: DriveError) -> Response:
    # common.render_error gives Google's shape; Drive adds where the problem is.
    response = common.render_error(err)
    body = json.loads(bytes(response.body))
    if err.location:
        body["error"]["errors"][0].update(locationType=err.location_type, location=err.location)
    return JSONResponse(body, err.status, err.headers)


class _DriveRoute(APIRoute):
    """Renders `DriveError` with its location; every other error goes to the app's handlers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except DriveError as err:
                return _render(err)

        return route


def file_not_found(file_id: str) -> DriveError:
    return DriveError(404, f"File not found: {file_id}.", "notFound", "fileId")


def invalid(location: str, message: str = "Invalid Value") -> DriveError:
    return DriveError(400, message, "invalid", location)


def bad_fields(selection: str) -> DriveError:
    return DriveError(400, f"Invalid field selection {selection}", "invalidParameter", "fields")


router = APIRouter(route_class=_DriveRoute)
control: APIRouter | None = None


# --- field selection -----------------------------------------------------------------------------

# Every field of Drive's File resource; a `fields` naming anything else is refused, as Drive does.
# fmt: off
FILE_FIELDS = frozenset(
    [
    "kind", "id", "name", "mimeType", "description", "starred", "trashed", "explicitlyTrashed",
    "trashedTime", "trashingUser", "parents", "properties", "appProperties", "spaces", "version",
    "webContentLink", "webViewLink", "iconLink", "hasThumbnail", "thumbnailLink",
    "thumbnailVersion", "viewedByMe", "viewedByMeTime", "createdTime", "modifiedTime",
    "modifiedByMeTime", "modifiedByMe", "sharedWithMeTime", "sharingUser", "owners", "teamDriveId",
    "driveId", "lastModifyingUser", "shared", "ownedByMe", "capabilities", "viewersCanCopyContent",
    "copyRequiresWriterPermission", "writersCanShare", "permissions", "permissionIds",
    "hasAugmentedPermissions", "folderColorRgb", "originalFilename", "fullFileExtension",
    "fileExtension", "md5Checksum", "sha1Checksum", "sha256Checksum", "size", "quotaBytesUsed",
    "headRevisionId", "contentHints", "imageMediaMetadata", "videoMediaMetadata", "isAppAuthorized",
    "exportLinks", "shortcutDetails", "contentRestrictions", "resourceKey", "linkShareMetadata",
    "labelInfo", "inheritedPermissionsDisabled", "downloadRestrictions",
    ]
)
# fmt: on
LIST_FIELDS = frozenset({"kind", "nextPageToken", "incompleteSearch", "files"})
DEFAULT_FILE_FIELDS = "kind,id,name,mimeType"
DEFAULT_PERMISSION_FIELDS = "kind,id,type,role"

# name -> sub-selection, None meaning "the whole value"
FieldTree = dict[str, "FieldTree | None"]

_FIELD_TOKEN = re.compile(r"\s*(\*|[A-Za-z_]\w*|[/(),])")


def parse_fields(spec: str) -> FieldTree:
    """Drive's `fields` syntax: `a,b/c,d(e,f)` and `*`."""
    tokens: list[str] = []
    pos = 0
    while pos < len(spec.rstrip()):
        match = _FIELD_TOKEN.match(spec, pos)
        if match is None:
            raise bad_fields(spec[pos:].strip())
        tokens.append(match.group(1))
        pos = match.end()
    at = 0

    def take(expected: str | None = None) -> str:
        nonlocal at
        token = tokens[at] if at < len(tokens) else ""
        if (expected and token != expected) or (not expected and not _is_name(token)):
            raise bad_fields(spec)
        at += 1
        return token

    def selection() -> FieldTree:
        tree: FieldTree = {}
        while True:
            _merge(tree, path())
            if at < len(tokens) and tokens[at] == ",":
                take(",")
                continue
            return tree

    def path() -> FieldTree:
        name = take()
        if at < len(tokens) and tokens[at] == "/":
            take("/")
            return {name: path()}
        if at < len(tokens) and tokens[at] == "(":
            take("(")
            sub = selection()
            take(")")
            return {name: sub}
        return {name: None}

    tree = selection()
    if at != len(tokens):
        raise bad_fields(spec)
    return tree


def _is_name(token: str) -> bool:
    return token == "*" or bool(re.fullmatch(r"[A-Za-z_]\w*", token))


def _merge(tree: FieldTree, more: FieldTree) -> None:
    for name, sub in more.items():
        if name in tree and tree[name] is not None and sub is not None:
            _merge(tree[name] or {}, sub)
        else:
            tree[name] = None if name in tree and tree[name] is None else sub


def select(value: Any, tree: FieldTree | None) -> Any:
    """Keep the selected parts of a JSON value; lists select in each element."""
    if tree is None:
        return value
    if isinstance(value, list):
        return [select(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    names = value.keys() if "*" in tree else [n for n in tree if n in value]
    return {name: select(value[name], tree.get(name, tree.get("*"))) for name in names}


def check_file_fields(tree: FieldTree | None) -> None:
    for name in tree or {}:
        if name != "*" and name not in FILE_FIELDS:
            raise bad_fields(name)


# --- how a file looks in a response --------------------------------------------------------------


def file_json(request: Request, file: Json) -> Json:
    """The whole File resource: what is stored plus what Drive computes per response; of the
    appProperties, only the requesting app's."""
    out = copy.deepcopy(file)
    out["appProperties"] = app_properties(file, common.app_of(request))
    for name in ("appPropertiesApp", "otherAppProperties"):
        out.pop(name, None)
    out["parents"] = file["parents"] or [ROOT_ID]
    out["webViewLink"] = common.view_link(request, file)
    if "md5Checksum" in file:  # a file with binary content: Drive's download link
        out["webContentLink"] = content_link(request, file["id"], "download")
    out["ownedByMe"] = True
    out["shared"] = len(file["permissions"]) > 1
    out["spaces"] = ["drive"]
    out["permissionIds"] = [p["id"] for p in file["permissions"]]
    out["version"] = file.get("version") or "1"
    for name in ("appProperties", "properties"):  # Drive leaves out empty maps
        if not out.get(name):
            out.pop(name, None)
    return out


def content_link(request: Request, file_id: str, export: str) -> str:
    """Google's address of a file's bytes in a browser, served by the viewer: `export=download`
    (`webContentLink`) saves them, `export=view` shows them, as an `<img>` does."""
    query = urlencode({"id": file_id, "export": export})
    return f"{base_url(request, SYSTEM)}/uc?{query}"


def file_response(request: Request, file: Json, fields: str | None) -> Json:
    tree = parse_fields(fields or DEFAULT_FILE_FIELDS)
    check_file_fields(tree)
    return select(file_json(request, file), tree)


# --- the query language of files.list (`q`) ------------------------------------------------------

_Q_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<punct>[(){}])
      | (?P<word>[A-Za-z_]\w*)
    )""",
    re.VERBOSE,
)
_STRING_FIELDS = {"name", "mimeType", "fullText"}
_TIME_FIELDS = {"modifiedTime", "createdTime", "viewedByMeTime"}
_BOOL_FIELDS = {"trashed", "starred"}
_IN_FIELDS = {"parents", "owners", "writers", "readers"}
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@dataclass
class Candidate:
    """A file being matched against a query by an app; its full text is read only when asked
    for."""

    sb: Sandbox
    file: Json
    app: str

    @cached_property
    def text(self) -> str:
        return full_text(self.sb, self.file)


Predicate = Callable[[Candidate], bool]


@dataclass
class _Token:
    kind: str  # string, op, punct, word, end
    text: str

    @property
    def value(self) -> str:
        """A string literal's value, in single or double quotes (gspread sends double): Drive
        escapes the quote and `\\` with a backslash."""
        out, chars = [], iter(self.text[1:-1])
        for char in chars:
            if char == "\\":
                char = next(chars)
                if char not in "'\"\\":
                    raise invalid("q")
            out.append(char)
        return "".join(out)


class QueryParser:
    """A recursive-descent parser of Drive's search terms; `not` binds tighter than `and`, which
    binds tighter than `or`. Anything it cannot read is Drive's 400 "Invalid Value" on `q`."""

    def __init__(self, query: str) -> None:
        self.tokens: list[_Token] = []
        pos, end = 0, len(query.rstrip())
        while pos < end:
            match = _Q_TOKEN.match(query, pos)
            if match is None or match.lastgroup is None:
                raise invalid("q")
            self.tokens.append(_Token(match.lastgroup, match.group(match.lastgroup)))
            pos = match.end()
        self.at = 0

    def parse(self) -> Predicate:
        if not self.tokens:
            return lambda c: True
        predicate = self._or()
        if self._peek().kind != "end":
            raise invalid("q")
        return predicate

    # tokens
    def _peek(self) -> _Token:
        return self.tokens[self.at] if self.at < len(self.tokens) else _Token("end", "")

    def _next(self, kind: str | None = None, text: str | None = None) -> _Token:
        token = self._peek()
        if token.kind == "end" or (kind and token.kind != kind) or (text and token.text != text):
            raise invalid("q")
        self.at += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token.kind == "word" and token.text.lower() == word:
            self.at += 1
            return True
        return False

    # grammar
    def _or(self) -> Predicate:
        terms = [self._and()]
        while self._keyword("or"):
            terms.append(self._and())
        return terms[0] if len(terms) == 1 else lambda c: any(t(c) for t in terms)

    def _and(self) -> Predicate:
        terms = [self._not()]
        while self._keyword("and"):
            terms.append(self._not())
        return terms[0] if len(terms) == 1 else lambda c: all(t(c) for t in terms)

    def _not(self) -> Predicate:
        if self._keyword("not"):
            inner = self._not()
            return lambda c: not inner(c)
        if self._peek().text == "(":
            self._next("punct", "(")
            inner = self._or()
            self._next("punct", ")")
            return inner
        return self._term()

    def _term(self) -> Predicate:
        token = self._next()
        if token.kind == "string":  # '<value>' in parents
            value = token.value
            if not self._keyword("in"):
                raise invalid("q")
            collection = self._next("word").text
            if collection not in _IN_FIELDS:
                raise invalid("q")
            return lambda c: value in _members(c.file, collection)
        if token.kind != "word":
            raise invalid("q")
        field = token.text
        if field in ("appProperties", "properties"):
            return self._has(field)
        if field in _IN_FIELDS and self._keyword("in"):  # parents in '<id>', as gspread writes it
            value = self._next("string").value
            return lambda c: value in _members(c.file, field)
        if field in _STRING_FIELDS:
            return self._string_term(field)
        if field in _TIME_FIELDS:
            op = self._next("op").text
            when = _parse_time(self._next("string").value)
            return lambda c: _COMPARISONS[op](_parse_time(c.file.get(field) or ""), when)
        if field in _BOOL_FIELDS:
            op = self._next("op").text
            word = self._next("word").text.lower()
            if op not in ("=", "!=") or word not in ("true", "false"):
                raise invalid("q")
            flag = word == "true"
            return lambda c: _COMPARISONS[op](bool(c.file.get(field)), flag)
        raise invalid("q")

    def _has(self, field: str) -> Predicate:
        # appProperties has { key='k' and value='v' }
        if not self._keyword("has"):
            raise invalid("q")
        self._next("punct", "{")
        self._next("word", "key")
        self._next("op", "=")
        key = self._next("string").value
        self._next("word", "and")
        self._next("word", "value")
        self._next("op", "=")
        value = self._next("string").value
        self._next("punct", "}")
        if field == "appProperties":  # only the querying app's match
            return lambda c: app_properties(c.file, c.app).get(key) == value
        return lambda c: c.file["properties"].get(key) == value

    def _string_term(self, field: str) -> Predicate:
        if self._keyword("contains"):
            needle = self._next("string").value
            if field == "fullText":
                return lambda c: _text_contains(c.text, needle)
            if field == "name":
                return lambda c: _name_contains(c.file["name"], needle)
            return lambda c: needle.lower() in c.file[field].lower()
        op = self._next("op").text
        value = self._next("string").value
        if field == "fullText" or op not in ("=", "!="):
            raise invalid("q")
        return lambda c: _COMPARISONS[op](c.file[field], value)


def _members(file: Json, collection: str) -> set[str]:
    if collection == "parents":
        return set(file["parents"] or [ROOT_ID]) | ({"root"} if not file["parents"] else set())
    if collection == "owners":
        return {o["emailAddress"] for o in file["owners"]}
    roles = {"writers": ("owner", "writer"), "readers": ("owner", "writer", "commenter", "reader")}
    return {
        p.get("emailAddress", "") for p in file["permissions"] if p["role"] in roles[collection]
    }


def _name_contains(name: str, needle: str) -> bool:
    """Drive matches `name contains` at the start of a word only: 'Hello' finds "HelloWorld" and
    "Say Hello", 'World' finds neither of "HelloWorld"."""
    return re.search(r"(?<![^\W_])" + re.escape(needle), name, re.IGNORECASE) is not None


def _text_contains(text: str, needle: str) -> bool:
    """`fullText contains` matches whole words; a "double-quoted" needle is an exact phrase."""
    words = re.findall(r"\w+", text.lower())
    if needle.startswith('"') and needle.endswith('"') and len(needle) > 1:
        phrase = re.findall(r"\w+", needle[1:-1].lower())
        n = len(phrase)
        return n > 0 and any(words[i : i + n] == phrase for i in range(len(words) - n + 1))
    wanted = re.findall(r"\w+", needle.lower())
    return bool(wanted) and set(wanted) <= set(words)


def _parse_time(value: str) -> datetime:
    """RFC 3339; Drive takes a time without an offset as UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid("q") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def full_text(sb: Sandbox, file: Json) -> str:
    """What `fullText` searches: name, description and the text of the content."""
    parts = [file["name"], file.get("description") or ""]
    doc = sb.store.get(SYSTEM, "document", file["id"])
    if doc:
        parts += doc["paragraphs"]
    sheet = sb.store.get(SYSTEM, "spreadsheet", file["id"])
    if sheet:
        parts += [str(cell) for tab in sheet["sheets"] for row in tab["rows"] for cell in row]
    deck = sb.store.get(SYSTEM, "presentation", file["id"])
    if deck:
        parts += [text for slide in deck["slides"] for text in slide["texts"]]
    blob = sb.store.get(SYSTEM, "blob", file["id"])
    if blob and blob["mimeType"].startswith("text/"):
        parts.append(blob_text(blob))
    return "\n".join(parts)


def blob_text(blob: Json) -> str:
    return base64.b64decode(blob["data"]).decode("utf-8", "replace")


# --- properties and their limits -----------------------------------------------------------------

# appProperties are "private to the requesting app" (Drive's File resource). Stored: `appProperties`
# is the map of the app named in `appPropertiesApp`, the first to set any on the file (psflow, for
# all psflow makes), and `otherAppProperties` maps each other app to its own. One app per file is
# the usual case, and the control state then shows its map where it always was.


def app_properties(file: Json, app: str) -> dict[str, str]:
    """The appProperties `app` set on the file."""
    if file.get("appPropertiesApp") == app:
        return dict(file["appProperties"])
    return dict((file.get("otherAppProperties") or {}).get(app, {}))


def set_app_properties(file: Json, app: str, values: dict[str, str]) -> None:
    """Replace `app`'s appProperties on the file; other apps' stay as they are."""
    owner = file.get("appPropertiesApp")
    if owner == app or (owner is None and values):
        file["appProperties"], file["appPropertiesApp"] = values, app
    elif owner is not None:
        others = {**(file.get("otherAppProperties") or {}), app: values}
        file["otherAppProperties"] = {name: props for name, props in others.items() if props}


MAX_PROPERTIES = 30  # per app on a file (appProperties) and public properties per file
MAX_PROPERTY_BYTES = 124  # key + value, UTF-8


def merged_properties(current: dict[str, str], patch: Any, field: str) -> dict[str, str]:
    """Patch semantics: keys in `patch` are set, a null value deletes its key."""
    if not isinstance(patch, dict):
        raise DriveError(400, f"Invalid value for {field}", "invalid", field, "other")
    out = dict(current)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = str(value)
    for key, value in out.items():
        if len(key.encode()) + len(value.encode()) > MAX_PROPERTY_BYTES:
            raise DriveError(
                403,
                "Properties and app properties are limited to 124 bytes in UTF-8 encoding, "
                "counting both the key and the value.",
                "propertyLengthLimitExceeded",
            )
    if len(out) > MAX_PROPERTIES:
        # The reason is what Drive answers; the wording of the message is ours.
        raise DriveError(
            403,
            f"A file can have at most {MAX_PROPERTIES} {field} from one app.",
            "propertyCountLimitExceeded",
        )
    return out


# --- writing files -------------------------------------------------------------------------------

# Read-only fields of the File resource that a create, copy or update body may not set.
# fmt: off
_NOT_WRITABLE = frozenset(
    [
    "kind", "id", "webViewLink", "webContentLink", "iconLink", "owners", "permissions",
    "permissionIds", "size", "version", "ownedByMe", "shared", "spaces", "capabilities",
    "exportLinks", "md5Checksum", "sha1Checksum", "sha256Checksum", "quotaBytesUsed",
    "headRevisionId", "trashingUser", "trashedTime", "lastModifyingUser",
    ]
)
# fmt: on
_CONTENT_FACTORIES: dict[str, Callable[..., Json]] = {
    SPREADSHEET: lambda sb, name, **kw: common.new_spreadsheet(sb, name, {"Sheet1": []}, **kw),
    DOCUMENT: lambda sb, name, **kw: common.new_document(sb, name, [], **kw),
    PRESENTATION: lambda sb, name, **kw: common.new_presentation(sb, name, [[]], **kw),
}


def _check_body(body: Json, *, update: bool = False) -> None:
    for name in body:
        if name not in FILE_FIELDS:
            raise DriveError(
                400,
                f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.',
                "invalid",
            )
        if name in _NOT_WRITABLE or (update and name == "parents"):
            message = (
                "The parents field is not directly writable in update requests. "
                "Use the addParents and removeParents parameters instead."
                if name == "parents"
                else "The resource body includes fields which are not directly writable."
            )
            raise DriveError(403, message, "fieldNotWritable")


def _get_file(sb: Sandbox, file_id: str) -> Json:
    file = sb.store.get(SYSTEM, "file", file_id)
    if file is None:
        raise file_not_found(file_id)
    return file


def _parents(sb: Sandbox, parents: Any, location: str = "parents") -> list[str]:
    """Checked parent ids; My Drive's root is stored as no parent at all."""
    if not isinstance(parents, list):
        raise DriveError(400, "Invalid Value", "invalid", location, "other")
    out = []
    for parent in parents:
        if parent in ("root", ROOT_ID):
            continue
        folder = sb.store.get(SYSTEM, "file", parent)
        if folder is None:
            raise file_not_found(parent)
        if folder["mimeType"] != FOLDER:
            raise DriveError(400, "The specified parent is not a folder.", "invalid", location)
        out.append(parent)
    if len(set(parents)) > 1:
        # Since 2020 a My Drive item has exactly one parent (shortcuts replace the others).
        raise DriveError(403, "Increasing the number of parents is not allowed.", "cannotAddParent")
    return out


def touch(sb: Sandbox, file: Json) -> None:
    """A write to a file moves its `modifiedTime` and `version`."""
    file["modifiedTime"] = file["modifiedByMeTime"] = common.now_rfc3339(sb)
    _bump_version(file)
    sb.store.save(SYSTEM, "file", file["id"])


def create_file(sb: Sandbox, app: str, body: Json, media: tuple[str, bytes] | None = None) -> Json:
    """files.create by `app`: a folder, an empty Sheet/Doc/Slides, or a file with uploaded
    content."""
    _check_body(body)
    name = str(body.get("name") or "Untitled")
    mime_type = str(body.get("mimeType") or (media[0] if media else "application/octet-stream"))
    fields: dict[str, Any] = {
        "parents": _parents(sb, body.get("parents", [])),
        "app": app,
        "app_properties": merged_properties({}, body.get("appProperties", {}), "appProperties"),
        "properties": merged_properties({}, body.get("properties", {}), "properties"),
        "description": body.get("description"),
    }
    if media is not None and mime_type in (SPREADSHEET, DOCUMENT):
        # An upload into a Google type is converted, as Drive converts a CSV or a text file.
        text = media[1].decode("utf-8-sig", "replace")
        if mime_type == SPREADSHEET:
            rows = list(csv.reader(io.StringIO(text)))
            file = common.new_spreadsheet(sb, name, {"Sheet1": rows}, **fields)
        else:
            file = common.new_document(sb, name, text.splitlines(), **fields)
    elif mime_type in _CONTENT_FACTORIES:
        file = _CONTENT_FACTORIES[mime_type](sb, name, **fields)
    else:
        file = common.new_file(sb, name, mime_type, **fields)
        if media is not None:
            _store_blob(sb, file, media)
    return _apply_simple_fields(sb, file, body)


def _apply_simple_fields(sb: Sandbox, file: Json, body: Json) -> Json:
    for name in ("starred", "trashed"):
        if name in body:
            file[name] = bool(body[name])
    for name in ("createdTime", "modifiedTime"):
        if body.get(name):
            file[name] = str(body[name])
    for name in ("originalFilename", "folderColorRgb"):
        if body.get(name):
            file[name] = str(body[name])
    return sb.store.save(SYSTEM, "file", file["id"])


def _store_blob(sb: Sandbox, file: Json, media: tuple[str, bytes]) -> None:
    media_type, data = media
    sb.store.put(
        SYSTEM,
        "blob",
        file["id"],
        {"mimeType": media_type, "data": base64.b64encode(data).decode()},
    )
    file["size"] = str(len(data))
    file["md5Checksum"] = hashlib.md5(data, usedforsecurity=False).hexdigest()
    file["sha1Checksum"] = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    file["sha256Checksum"] = hashlib.sha256(data).hexdigest()


def delete_file(sb: Sandbox, file_id: str) -> None:
    """Delete a file and, for a folder, everything under it (Drive deletes the descendants)."""
    for child in [f for f in sb.store.table(SYSTEM, "file").values() if file_id in f["parents"]]:
        delete_file(sb, child["id"])
    for kind in ("file", "blob", *common.CONTENT_KINDS.values()):
        sb.store.delete(SYSTEM, kind, file_id)


# --- requests ------------------------------------------------------------------------------------


async def _json_body(request: Request) -> Json:
    return json_object(
        await request.body(), DriveError(400, "Invalid JSON payload received.", "parseError")
    )


async def _upload(request: Request, upload_type: str | None) -> tuple[Json, tuple[str, bytes]]:
    """The metadata and media of a `multipart` (JSON part, then the bytes) or `media` upload."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "application/octet-stream")
    if upload_type == "media":
        return {}, (content_type.split(";")[0].strip(), raw)
    if upload_type != "multipart":
        # Resumable sessions are not implemented in the sandbox; googleapiclient uses multipart
        # for any MediaUpload built with resumable=False (the default).
        raise invalid("uploadType", f"Invalid upload type: {upload_type}")
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    parts = list(message.iter_parts()) if message.is_multipart() else []
    if len(parts) != 2:
        raise DriveError(400, "Malformed multipart body.", "badContent")
    head = parts[0].get_payload(decode=True)
    malformed = DriveError(400, "Malformed multipart body.", "badContent")
    metadata = json_object(head, malformed) if isinstance(head, bytes) else {}
    data = parts[1].get_payload(decode=True)
    if not isinstance(data, bytes):
        raise malformed
    return metadata, (parts[1].get_content_type(), data)


@router.post("/drive/v3/files")
async def files_create(request: Request, sb: SandboxDep, fields: str | None = None) -> Json:
    body = await _json_body(request)
    return file_response(request, create_file(sb, common.app_of(request), body), fields)


@router.post("/upload/drive/v3/files")
async def files_create_upload(
    request: Request, sb: SandboxDep, uploadType: str | None = None, fields: str | None = None
) -> Json:
    metadata, media = await _upload(request, uploadType)
    return file_response(request, create_file(sb, common.app_of(request), metadata, media), fields)


@router.get("/drive/v3/files/{file_id}", response_model=None)
async def files_get(
    request: Request,
    sb: SandboxDep,
    file_id: str,
    fields: str | None = None,
    alt: str | None = None,
) -> Json | Response:
    if file_id in ("root", ROOT_ID):  # My Drive's root folder
        root = {"kind": "drive#file", "id": ROOT_ID, "name": "My Drive", "mimeType": FOLDER}
        return select(root, parse_fields(fields or DEFAULT_FILE_FIELDS))
    file = _get_file(sb, file_id)
    if alt == "media":
        blob = sb.store.get(SYSTEM, "blob", file_id)
        if blob is None:
            raise DriveError(
                403,
                "Only files with binary content can be downloaded. Use Export with Docs Editors "
                "files.",
                "fileNotDownloadable",
                "alt",
            )
        return Response(base64.b64decode(blob["data"]), media_type=blob["mimeType"])
    return file_response(request, file, fields)


@router.get("/drive/v3/files")
async def files_list(
    request: Request,
    sb: SandboxDep,
    q: str | None = None,
    fields: str | None = None,
    pageSize: int = 100,
    pageToken: str | None = None,
    orderBy: str | None = None,
    spaces: str = "drive",
) -> Json:
    if not 1 <= pageSize <= 1000:
        raise invalid(
            "pageSize", f"Invalid value '{pageSize}'. Values must be within the range: [1, 1000]"
        )
    tree = parse_fields(
        fields or "kind,nextPageToken,incompleteSearch,files(kind,id,name,mimeType)"
    )
    for name in tree:
        if name != "*" and name not in LIST_FIELDS:
            raise bad_fields(name)
    check_file_fields(tree.get("files", tree.get("*")))
    matches = QueryParser(q or "").parse()
    sort = _sort_key(orderBy)
    if "drive" not in spaces.split(","):
        found: list[Json] = []  # appDataFolder and photos hold nothing in the sandbox
    else:
        files, app = sb.store.table(SYSTEM, "file").values(), common.app_of(request)
        found = sort([f for f in files if matches(Candidate(sb, f, app))])

    start = _page_start(pageToken, q, orderBy)
    page = found[start : start + pageSize]
    out: Json = {"kind": "drive#fileList", "incompleteSearch": False}
    if start + pageSize < len(found):
        out["nextPageToken"] = _page_token(start + pageSize, q, orderBy)
    out["files"] = [file_json(request, f) for f in page]
    return select(out, tree)


_ORDER_KEYS: dict[str, Callable[[Json], Any]] = {
    "name": lambda f: f["name"].lower(),
    "name_natural": lambda f: [
        int(part) if part.isdigit() else part for part in re.split(r"(\d+)", f["name"].lower())
    ],
    "createdTime": lambda f: f["createdTime"],
    "modifiedTime": lambda f: f["modifiedTime"],
    "modifiedByMeTime": lambda f: f.get("modifiedByMeTime") or f["modifiedTime"],
    "recency": lambda f: f["modifiedTime"],
    "viewedByMeTime": lambda f: f.get("viewedByMeTime") or "",
    "sharedWithMeTime": lambda f: f.get("sharedWithMeTime") or "",
    "folder": lambda f: f["mimeType"] != FOLDER,  # folders first
    "starred": lambda f: not f.get("starred"),  # starred first
    "quotaBytesUsed": lambda f: int(f.get("size") or 0),
}


def _sort_key(order_by: str | None) -> Callable[[list[Json]], list[Json]]:
    """`orderBy`: comma-separated keys, each optionally followed by `desc`. Without it the sandbox
    answers in creation order (Drive promises no order)."""
    keys: list[tuple[Callable[[Json], Any], bool]] = []
    for part in (order_by or "").split(","):
        words = part.split()
        if not words:
            continue
        if words[0] not in _ORDER_KEYS or len(words) > 2 or words[1:] not in ([], ["desc"]):
            raise invalid("orderBy")
        keys.append((_ORDER_KEYS[words[0]], words[1:] == ["desc"]))

    def sort(files: list[Json]) -> list[Json]:
        for key, descending in reversed(keys):  # stable sorts, least significant key first
            files = sorted(files, key=key, reverse=descending)
        return files

    return sort


def _query_digest(q: str | None, order_by: str | None) -> str:
    return hashlib.sha256(f"{q}\n{order_by}".encode()).hexdigest()[:12]


def _page_token(offset: int, q: str | None, order_by: str | None) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{_query_digest(q, order_by)}".encode()).decode()


def _page_start(token: str | None, q: str | None, order_by: str | None) -> int:
    """A page token is only good for the query that made it, as in Drive."""
    if not token:
        return 0
    try:
        offset, digest = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        if digest == _query_digest(q, order_by):
            return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise invalid("pageToken")


@router.patch("/drive/v3/files/{file_id}")
async def files_update(
    request: Request,
    sb: SandboxDep,
    file_id: str,
    addParents: str | None = None,
    removeParents: str | None = None,
    fields: str | None = None,
) -> Json:
    body = await _json_body(request)
    app = common.app_of(request)
    file = update_file(sb, app, file_id, body, addParents, removeParents)
    return file_response(request, file, fields)


@router.patch("/upload/drive/v3/files/{file_id}")
async def files_update_upload(
    request: Request,
    sb: SandboxDep,
    file_id: str,
    uploadType: str | None = None,
    addParents: str | None = None,
    removeParents: str | None = None,
    fields: str | None = None,
) -> Json:
    """files.update with new content: a `media` upload (the bytes alone) or a `multipart` one (the
    metadata patch, then the bytes)."""
    metadata, media = await _upload(request, uploadType)
    app = common.app_of(request)
    file = update_file(sb, app, file_id, metadata, addParents, removeParents, media)
    return file_response(request, file, fields)


def update_file(
    sb: Sandbox,
    app: str,
    file_id: str,
    body: Json,
    add_parents: str | None,
    remove_parents: str | None,
    media: tuple[str, bytes] | None = None,
) -> Json:
    """files.update by `app`: the body patches the metadata; `media`, when given, replaces the
    content. Everything is checked before anything changes."""
    _check_body(body, update=True)
    file = _get_file(sb, file_id)
    own = merged_properties(
        app_properties(file, app), body.get("appProperties", {}), "appProperties"
    )
    properties = merged_properties(file["properties"], body.get("properties", {}), "properties")
    parents = _moved_parents(sb, file, add_parents, remove_parents)
    mime_type = _updated_mime_type(file, body, media)
    # everything is checked: apply
    set_app_properties(file, app, own)
    file.update(properties=properties, parents=parents, mimeType=mime_type)
    if "name" in body:
        file["name"] = str(body["name"])
    if "description" in body:
        if body["description"] is None:
            file.pop("description", None)
        else:
            file["description"] = str(body["description"])
    if "trashed" in body:
        file["explicitlyTrashed"] = bool(body["trashed"])
        if body["trashed"] and not file["trashed"]:
            file["trashedTime"] = common.now_rfc3339(sb)
        elif not body["trashed"]:
            file.pop("trashedTime", None)
    if media is not None:
        _store_blob(sb, file, media)
    file["modifiedTime"] = file["modifiedByMeTime"] = common.now_rfc3339(sb)
    _bump_version(file)
    return _apply_simple_fields(sb, file, body)  # saves; an explicit modifiedTime in the body wins


def _updated_mime_type(file: Json, body: Json, media: tuple[str, bytes] | None) -> str:
    """Drive: a file's mimeType "cannot be changed unless a new revision is uploaded"; with one,
    the body's value wins, else Drive detects it from the content (here: the upload's type)."""
    if media is None:
        if "mimeType" in body and body["mimeType"] != file["mimeType"]:
            raise DriveError(403, "The mimeType of a file cannot be changed.", "fieldNotWritable")
        return str(file["mimeType"])
    mime_type = str(body.get("mimeType") or media[0])
    if not _has_blob(file["mimeType"]) or not _has_blob(mime_type):
        # A folder has no content; Drive would import the bytes into a Sheet or Doc, which the
        # sandbox does only when it creates one (`create_file`). The wording is ours.
        raise DriveError(
            400,
            "Only files with binary content take new content in the sandbox, not folders or "
            "Docs Editors files.",
            "badContent",
        )
    return mime_type


def _has_blob(mime_type: str) -> bool:
    return mime_type != FOLDER and mime_type not in common.CONTENT_KINDS


def _bump_version(file: Json) -> None:
    """Drive's `version` "reflects every change made to the file"; stored only once it moves, so a
    file never changed is at version 1."""
    file["version"] = str(int(file.get("version") or 1) + 1)


def _moved_parents(sb: Sandbox, file: Json, add: str | None, remove: str | None) -> list[str]:
    current = file["parents"] or [ROOT_ID]
    removed = {p.strip() for p in (remove or "").split(",") if p.strip()}
    removed = {ROOT_ID if p == "root" else p for p in removed}
    kept = [p for p in current if p not in removed]
    added = [p.strip() for p in (add or "").split(",") if p.strip()]
    result = kept + [p for p in added if p not in kept]
    if len(result) > 1:
        raise DriveError(403, "Increasing the number of parents is not allowed.", "cannotAddParent")
    if not added:
        return [p for p in result if p != ROOT_ID]
    return _parents(sb, result, "addParents")


@router.post("/drive/v3/files/{file_id}/copy")
async def files_copy(
    request: Request, sb: SandboxDep, file_id: str, fields: str | None = None
) -> Json:
    """A copy keeps the source's description, properties and the copying app's appProperties (the
    body patches them; another app's stay behind, as that app's private data), and its parents
    unless the body names others; the content is copied too."""
    body = await _json_body(request)
    _check_body(body)
    source = _get_file(sb, file_id)
    if source["mimeType"] == FOLDER:
        raise DriveError(403, "This file cannot be copied by the user.", "cannotCopyFile")
    app = common.app_of(request)
    file = common.new_file(
        sb,
        str(body.get("name") or f"Copy of {source['name']}"),
        source["mimeType"],
        parents=_parents(sb, body["parents"]) if "parents" in body else source["parents"],
        app=app,
        app_properties=merged_properties(
            app_properties(source, app), body.get("appProperties", {}), "appProperties"
        ),
        properties=merged_properties(
            source["properties"], body.get("properties", {}), "properties"
        ),
        description=body.get("description", source.get("description")),
    )
    common.copy_content(sb, source["id"], file["id"])
    blob = sb.store.get(SYSTEM, "blob", source["id"])
    if blob is not None:
        _store_blob(sb, file, (blob["mimeType"], base64.b64decode(blob["data"])))
    return file_response(request, _apply_simple_fields(sb, file, body), fields)


@router.delete("/drive/v3/files/{file_id}", status_code=204)
async def files_delete(sb: SandboxDep, file_id: str) -> Response:
    _get_file(sb, file_id)
    delete_file(sb, file_id)
    return Response(status_code=204)


# --- permissions ---------------------------------------------------------------------------------

_PERMISSION_TYPES = ("user", "group", "domain", "anyone")
_ROLES = ("reader", "commenter", "writer", "fileOrganizer", "organizer", "owner")


def _permission_id(kind: str, who: str) -> str:
    """Drive's permission id is the grantee's id, so a second grant to the same person finds the
    first: anyone -> `anyoneWithLink`, a person or domain -> a stable number."""
    if kind == "anyone":
        return "anyoneWithLink"
    return str(int(hashlib.sha256(who.lower().encode()).hexdigest()[:15], 16))


@router.post("/drive/v3/files/{file_id}/permissions")
async def permissions_create(
    request: Request,
    sb: SandboxDep,
    file_id: str,
    sendNotificationEmail: bool | None = None,
    transferOwnership: bool = False,
    fields: str | None = None,
) -> Json:
    body = await _json_body(request)
    file = _get_file(sb, file_id)
    kind, role = str(body.get("type") or ""), str(body.get("role") or "")
    for name, value, allowed in (("type", kind, _PERMISSION_TYPES), ("role", role, _ROLES)):
        if not value:
            raise DriveError(
                400, f"The permission {name} field is required.", "required", f"permission.{name}"
            )
        if value not in allowed:
            raise invalid(f"permission.{name}", f"The provided value for the {name} is invalid.")
    who = ""
    if kind in ("user", "group"):
        who = str(body.get("emailAddress") or "")
        if not who:
            raise DriveError(
                400,
                "The permission emailAddress field is required.",
                "required",
                "permission.emailAddress",
            )
    elif kind == "domain":
        who = str(body.get("domain") or "")
        if not who:
            raise DriveError(
                400, "The permission domain field is required.", "required", "permission.domain"
            )
    if kind != "user" and kind != "group" and sendNotificationEmail:
        raise DriveError(
            400,
            "Notification emails can only be sent to users or groups.",
            "invalidSharingRequest",
        )
    if role == "owner" and not transferOwnership:
        raise DriveError(
            403,
            "The transferOwnership parameter must be enabled when the permission role is 'owner'.",
            "forbidden",
            "transferOwnership",
        )

    permission: Json = {"kind": "drive#permission", "id": _permission_id(kind, who), "type": kind}
    permission["role"] = role
    if kind in ("user", "group"):
        permission["emailAddress"] = who
    elif kind == "domain":
        permission["domain"] = who
    if kind in ("domain", "anyone"):
        permission["allowFileDiscovery"] = bool(body.get("allowFileDiscovery", False))
    if role == "owner":  # the previous owner stays on as a writer
        for other in file["permissions"]:
            if other["role"] == "owner":
                other["role"] = "writer"
        file["owners"] = [{"kind": "drive#user", "emailAddress": who, "me": False}]
    # A grant to someone who already has one changes their role rather than adding a second.
    file["permissions"] = [p for p in file["permissions"] if p["id"] != permission["id"]]
    file["permissions"].append(permission)
    _bump_version(file)
    sb.store.save(SYSTEM, "file", file_id)
    return select(permission, parse_fields(fields or DEFAULT_PERMISSION_FIELDS))


@router.get("/drive/v3/files/{file_id}/permissions")
async def permissions_list(sb: SandboxDep, file_id: str, fields: str | None = None) -> Json:
    file = _get_file(sb, file_id)
    tree = parse_fields(fields or f"kind,permissions({DEFAULT_PERMISSION_FIELDS})")
    return select({"kind": "drive#permissionList", "permissions": file["permissions"]}, tree)


# --- quotas --------------------------------------------------------------------------------------

# Google Drive API usage limits (developers.google.com/workspace/drive/api/guides/limits): "Queries
# per 60 seconds: 12,000" and "per 60 seconds per user: 12,000". (Google now also states them as
# 325,000 quota units per minute per user; the query count is what a client can pace itself by.)
QUOTAS: tuple[Quota, ...] = (
    Quota(
        "google.drive-queries-per-user",
        "Queries per minute per user",
        12_000,
        60,
        lambda method, path: path.startswith(("/google/drive/v3/", "/google/upload/drive/v3/")),
    ),
)


def children(sb: Sandbox, folder_id: str) -> Iterable[Json]:
    """The files directly in a folder (the viewer lists them)."""
    return [f for f in sb.store.table(SYSTEM, "file").values() if folder_id in f["parents"]]
