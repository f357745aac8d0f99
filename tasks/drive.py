"""Google Drive tasks: find templates, and make an engagement's copies (and their folders) once.

Everything psflow creates in Drive carries its natural key in `appProperties` (`psflow_key`, see
engagement/keys.py); every create is preceded by ONE `files.list` for that key, so a retried or
re-run phase finds what an earlier attempt made, even one whose answer was lost. appProperties are
private to the OAuth client that set them, so they mark only what psflow made itself: templates,
which people put in Drive, are found as `PsflowSettings.templates` names them (a file name in the
templates folder, or a file id). No task lists a whole folder: each lookup is one query for
exactly what it needs.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Sequence
from typing import Any

from engagement.keys import Folder, Kind, drive_app_properties, drive_key_query
from engagement.models import email_address
from engagement.refs import Ref
from tasks.calls import PermanentError, calling, outside_task, read_task
from tasks.clients import systems

SYSTEM = "Google Drive"
FOLDER = "application/vnd.google-apps.folder"
SPREADSHEET = "application/vnd.google-apps.spreadsheet"
FILE_FIELDS = "id,name,webViewLink,md5Checksum"  # a checksum only for uploaded bytes
# A Drive file id: letters, digits, "-" and "_", 33 or 44 long today (older ones 28); a name of
# that shape with no space or other character is taken for an id.
_FILE_ID = re.compile(r"[A-Za-z0-9_-]{25,}")

# Drive's roles from least to most access; a grant of a role includes the ones before it.
ROLES = ("reader", "commenter", "writer", "fileOrganizer", "organizer", "owner")
_RANK = {role: rank for rank, role in enumerate(ROLES)}
SHARED_ROLES = ("reader", "commenter", "writer")  # what psflow grants; never ownership
_LABELS = {Kind.SOW_FOLDER: "SOW folder"}


def quoted(text: str) -> str:
    """`text` as a string literal in a Drive query (backslashes and quotes escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def label(kind: Kind) -> str:
    """The handbook's word for a kind: "cost estimate", "SOW folder"."""
    return _LABELS.get(kind, kind.value.replace("-", " "))


def find_file(query: str, what: str) -> dict[str, Any]:
    """The one live file `query` matches, with FILE_FIELDS (one files.list request).

    Raises:
        PermanentError: naming `what` when nothing matches, or more than one file does (picking
            one of two same-named folders could file an engagement in the wrong place).
    """
    with calling(SYSTEM, what):
        answer = (
            systems()
            .drive()
            .files()
            .list(q=f"{query} and trashed = false", fields=f"files({FILE_FIELDS})", pageSize=2)
            .execute()
        )
    files: list[dict[str, Any]] = answer.get("files", [])
    if not files:
        raise PermanentError(SYSTEM, what, "not found")
    if len(files) > 1:
        raise PermanentError(SYSTEM, what, "more than one matches: keep one, rename the others")
    return files[0]


def find_by_key(kind: Kind, record_id: str, part: str | None, what: str) -> dict[str, Any] | None:
    """The live file carrying the natural key, or None (one files.list request). Should a copy
    made by hand carry the key too, the oldest one, which psflow made, is the engagement's."""
    query = f"{drive_key_query(kind, record_id, part)} and trashed = false"
    with calling(SYSTEM, f"look-up of {what}"):
        answer = (
            systems()
            .drive()
            .files()
            .list(q=query, fields=f"files({FILE_FIELDS})", orderBy="createdTime", pageSize=1)
            .execute()
        )
    files: list[dict[str, Any]] = answer.get("files", [])
    return files[0] if files else None


def _ref(kind: Kind, file: dict[str, Any], created: bool) -> Ref:
    return Ref(
        system=SYSTEM,
        kind=label(kind),
        name=file["name"],
        url=file.get("webViewLink"),
        id=file["id"],
        created=created,
    )


@read_task("find {kind}")
def find_keyed_file(kind: Kind, record_id: str, part: str | None = None) -> Ref | None:
    """The file psflow made for this key, or None (one request)."""
    file = find_by_key(kind, record_id, part, f"{label(kind)} of {record_id}")
    return None if file is None else _ref(kind, file, created=False)


def _folder_query(name: str, parent_id: str | None) -> str:
    query = f"name = {quoted(name)} and mimeType = '{FOLDER}'"
    return query if parent_id is None else f"{query} and {quoted(parent_id)} in parents"


def find_folder(name: str, parent_id: str | None = None) -> str:
    """The id of the folder called exactly `name` (in `parent_id` when given).

    Raises:
        PermanentError: naming the folder when there is none, or several, of that name.
    """
    where = "" if parent_id is None else f" in folder {parent_id}"
    return str(find_file(_folder_query(name, parent_id), f"folder {name!r}{where}")["id"])


def template_id(template_key: str) -> str:
    """The id of the template `template_key` as `PsflowSettings.templates` names it: a file id
    (one files.get) or a file name in the templates folder (two look-ups: folder, then file).

    Raises:
        PermanentError: naming the template, its name and folder and the setting to fix, when
            the key is not configured, or no file, or several, answer to it.
    """
    configured = systems().settings
    setting = f"PsflowSettings.templates[{template_key!r}]"
    entry = configured.templates.get(template_key)
    if entry is None:
        raise PermanentError(
            SYSTEM, f"template {template_key!r}", "not in PsflowSettings.templates: add it"
        )
    if _FILE_ID.fullmatch(entry):
        what = f"template {template_key!r} with file id {entry} (setting {setting})"
        with calling(SYSTEM, what):
            file = systems().drive().files().get(fileId=entry, fields="id,trashed").execute()
        if file.get("trashed"):
            raise PermanentError(SYSTEM, what, "in the trash: restore it, or set another file")
        return str(file["id"])
    folder = configured.templates_folder
    folder_id = find_file(
        _folder_query(folder, None), f"folder {folder!r} (setting PsflowSettings.templates_folder)"
    )["id"]
    query = f"name = {quoted(entry)} and {quoted(folder_id)} in parents"
    what = f"template {template_key!r} named {entry!r} in folder {folder!r} (setting {setting})"
    return str(find_file(query, what)["id"])


def _ensure_folder(folder: Folder, parent_id: str) -> str:
    """The folder's id: found by its natural key wherever a person moved it, made in `parent_id`
    when missing."""
    what = f"{label(folder.kind)} {folder.name!r}"
    found = find_by_key(folder.kind, folder.record_id, None, what)
    if found is not None:
        return str(found["id"])
    body = {
        "name": folder.name,
        "mimeType": FOLDER,
        "parents": [parent_id],
        "appProperties": drive_app_properties(folder.kind, folder.record_id),
    }
    with calling(SYSTEM, f"creation of {what}"):
        return str(systems().drive().files().create(body=body, fields="id").execute()["id"])


def _folder_id(folders: Sequence[Folder]) -> str:
    """The id of the last of `folders`, each made in the one before it when missing, the first
    in the engagements folder (`PsflowSettings.engagements_folder`)."""
    root = systems().settings.engagements_folder
    parent = str(
        find_file(
            _folder_query(root, None),
            f"folder {root!r} (setting PsflowSettings.engagements_folder)",
        )["id"]
    )
    for folder in folders:
        parent = _ensure_folder(folder, parent)
    return parent


@outside_task("copy {kind}")
def ensure_copy(
    template_key: str,
    kind: Kind,
    record_id: str,
    name: str,
    folders: Sequence[Folder],
    part: str | None = None,
) -> Ref:
    """The record's copy of a template (e.g. its cost estimate) named `name`, unless a file with
    its natural key exists (one request). A missing copy is made in the last of `folders` under
    the engagements folder, each folder found by its key or made first
    (`engagement.keys.engagement_folders`). `part` tells apart several copies of one kind (an
    acceptance request per activity code).

    Raises:
        PermanentError: naming the template and its setting when it is not found, or the
            engagements folder and its setting.
    """
    what = f"{label(kind)} {name!r}"
    found = find_by_key(kind, record_id, part, what)
    if found is not None:
        return _ref(kind, found, created=False)
    source = template_id(template_key)  # first: a template set wrong leaves no folder behind
    parent = _folder_id(folders)
    body = {
        "name": name,
        "parents": [parent],
        "appProperties": drive_app_properties(kind, record_id, part),
        "description": f"Made by psflow from the template {template_key!r}.",
    }
    with calling(SYSTEM, f"copy of template {template_key!r} as {what}"):
        copy = (
            systems().drive().files().copy(fileId=source, body=body, fields=FILE_FIELDS).execute()
        )
    return _ref(kind, copy, created=True)


@outside_task("upload {kind}")
def ensure_upload(
    kind: Kind,
    record_id: str,
    name: str,
    folders: Sequence[Folder],
    data: bytes,
    mime_type: str,
    part: str | None = None,
) -> Ref:
    """The record's file of `kind` holding `data`, e.g. a week's burn-down chart: made in the
    last of `folders` when missing (each folder found by its key or made first), its content
    replaced when Drive's checksum differs from the bytes', else left alone (one request)."""
    from googleapiclient.http import MediaIoBaseUpload  # loaded with the client

    what = f"{label(kind)} {name!r}"
    found = find_by_key(kind, record_id, part, what)
    if (
        found is not None
        and found.get("md5Checksum") == hashlib.md5(data, usedforsecurity=False).hexdigest()
    ):
        return _ref(kind, found, created=False)
    media = MediaIoBaseUpload(io.BytesIO(data), mimetype=mime_type, resumable=False)
    files = systems().drive().files()
    if found is not None:
        with calling(SYSTEM, f"new content of {what}"):
            updated = files.update(fileId=found["id"], media_body=media, fields=FILE_FIELDS)
            return _ref(kind, updated.execute(), created=False)
    body = {
        "name": name,
        "parents": [_folder_id(folders)],
        "appProperties": drive_app_properties(kind, record_id, part),
        "description": "Made by psflow.",
    }
    with calling(SYSTEM, f"upload of {what}"):
        made = files.create(body=body, media_body=media, fields=FILE_FIELDS).execute()
    return _ref(kind, made, created=True)


@outside_task("share with {emails}")
def ensure_shared(file_id: str, emails: Sequence[str], role: str = "writer") -> int:
    """Give each of `emails` at least `role` ("reader", "commenter" or "writer") on a file or
    folder; Drive e-mails them the link. One listing of the file's permissions for all of them;
    nothing is sent to whoever already has that much access.

    Returns:
        How many permissions were created.
    """
    if role not in SHARED_ROLES:
        raise ValueError(f"role must be one of {', '.join(SHARED_ROLES)}; got {role!r}")
    wanted: dict[str, str] = {}  # every address checked before any write; one grant per person
    for email in map(email_address, emails):
        wanted.setdefault(email.casefold(), email)
    permissions = systems().drive().permissions()
    with calling(SYSTEM, f"access to file {file_id}"):
        granted = _permissions(permissions, file_id)
    has = {
        str(grant.get("emailAddress", "")).casefold()
        for grant in granted
        if _RANK.get(grant.get("role", ""), -1) >= _RANK[role]
    }
    missing = [email for folded, email in wanted.items() if folded not in has]
    for email in missing:
        with calling(SYSTEM, f"{role} access for {email} to file {file_id}"):
            body = {"type": "user", "role": role, "emailAddress": email}
            permissions.create(
                fileId=file_id, body=body, sendNotificationEmail=True, fields="id"
            ).execute()
    return len(missing)


def _permissions(permissions: Any, file_id: str) -> list[dict[str, Any]]:
    """Every permission on the file: one request unless it has more than 100 grants."""
    found: list[dict[str, Any]] = []
    token = None
    while True:
        page = permissions.list(
            fileId=file_id,
            pageSize=100,
            pageToken=token,
            fields="nextPageToken,permissions(id,type,role,emailAddress)",
        ).execute()
        found.extend(page.get("permissions", []))
        token = page.get("nextPageToken")
        if not token:
            return found
