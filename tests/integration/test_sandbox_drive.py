"""The Drive v3 stand-in, driven through googleapiclient as the Google Block builds it: files,
search (`q`), fields, paging, properties and their limits, copies, permissions, uploads and content
updates, errors, quotas, faults, the seeded Drive and the HTML viewer behind `webViewLink`."""

from __future__ import annotations

import hashlib
import html
import io
import re
import struct
import zlib
from typing import Any

import httpx
import pytest
import requests
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaInMemoryUpload, MediaIoBaseUpload

from blocks.google import GoogleWorkspaceConnection
from sandbox import seed as org
from sandbox.client import SandboxClient

FOLDER = "application/vnd.google-apps.folder"
DOC = "application/vnd.google-apps.document"
SHEET = "application/vnd.google-apps.spreadsheet"
SLIDES = "application/vnd.google-apps.presentation"


def connection(sandbox_url: str, token: str = "drive-test-token", **kw: Any) -> Any:
    return GoogleWorkspaceConnection(root_url=f"{sandbox_url}/google/", access_token=token, **kw)


@pytest.fixture
def drive(sandbox: SandboxClient, sandbox_url: str) -> Any:
    return connection(sandbox_url).drive()


def new_folder(drive: Any, name: str, parent: str | None = None) -> str:
    body: dict[str, Any] = {"name": name, "mimeType": FOLDER}
    if parent:
        body["parents"] = [parent]
    return str(drive.files().create(body=body, fields="id").execute()["id"])


def names(drive: Any, q: str, **kw: Any) -> set[str]:
    found = drive.files().list(q=q, fields="files(name)", pageSize=1000, **kw).execute()
    return {f["name"] for f in found["files"]}


def error(err: pytest.ExceptionInfo[HttpError]) -> tuple[int, str, str | None]:
    detail = err.value.error_details[0]
    return err.value.status_code, detail["reason"], detail.get("location")


# --- create, get, fields -------------------------------------------------------------------------


def test_create_folder_and_file_then_get_selects_fields_like_drive(
    drive: Any, sandbox: SandboxClient, sandbox_url: str
) -> None:
    folder = drive.files().create(body={"name": "Acme", "mimeType": FOLDER}).execute()
    assert set(folder) == {"kind", "id", "name", "mimeType"}  # Drive's default fields
    assert folder["mimeType"] == FOLDER
    created = (
        drive.files()
        .create(
            body={
                "name": "Kickoff notes",
                "mimeType": DOC,
                "parents": [folder["id"]],
                "description": "notes of the kickoff",
                "appProperties": {"psflow_key": "kickoff-notes:006x"},
                "properties": {"team": "ps"},
            },
            fields="id,name,parents,appProperties,properties,description,webViewLink",
        )
        .execute()
    )
    file_id = created["id"]
    assert created["parents"] == [folder["id"]]
    assert created["appProperties"] == {"psflow_key": "kickoff-notes:006x"}
    assert created["webViewLink"] == f"{sandbox_url}/google/document/d/{file_id}/edit"

    got = drive.files().get(fileId=file_id).execute()
    assert got == {"kind": "drive#file", "id": file_id, "name": "Kickoff notes", "mimeType": DOC}
    nested = (
        drive.files()
        .get(fileId=file_id, fields="name,owners/emailAddress,permissions(emailAddress,role)")
        .execute()
    )
    assert nested == {
        "name": "Kickoff notes",
        "owners": [{"emailAddress": org.PS_MAILBOX}],
        "permissions": [{"emailAddress": org.PS_MAILBOX, "role": "owner"}],
    }
    everything = drive.files().get(fileId=file_id, fields="*").execute()
    assert everything["description"] == "notes of the kickoff"
    assert everything["createdTime"] == everything["modifiedTime"]
    assert everything["trashed"] is False

    with pytest.raises(HttpError) as err:
        drive.files().get(fileId=file_id, fields="id,nonsense").execute()
    assert error(err) == (400, "invalidParameter", "fields")

    assert {"paragraphs": []} in sandbox.state("google", "document")  # an empty Doc, as Drive makes
    assert sandbox.writes(service="drive") == 2
    assert all("alt=json" in r["query"] for r in sandbox.requests(service="drive"))


# --- search --------------------------------------------------------------------------------------


@pytest.fixture
def search_set(drive: Any, sandbox: SandboxClient) -> dict[str, Any]:
    """A folder with files made one day apart in two batches, and one file in My Drive's root."""
    folder = new_folder(drive, "Search")
    files = drive.files()

    def make(name: str, mime: str = DOC, **body: Any) -> dict[str, Any]:
        return dict(
            files.create(
                body={"name": name, "mimeType": mime, "parents": [folder], **body},
                fields="id,name,modifiedTime",
            ).execute()
        )

    alpha = make("Alpha Report", appProperties={"psflow_key": "a"}, properties={"team": "ps"})
    beta = make("Beta notes", SHEET, appProperties={"psflow_key": "b"})
    sandbox.advance_clock(days=1)
    files.create(
        body={"name": "HelloWorld", "parents": [folder]},
        media_body=MediaInMemoryUpload(b"the quick brown fox", mimetype="text/plain"),
    ).execute()
    make("Gamma", trashed=True)
    make("O'Brien \\ notes")
    files.create(body={"name": "Loose in root"}).execute()
    return {"folder": folder, "alpha": alpha, "beta": beta}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("name = 'Alpha Report'", {"Alpha Report"}),
        ("name != 'Alpha Report' and trashed = false", {"Beta notes", "HelloWorld", "O'Brien \\ notes"}),
        ("name contains 'Hello'", {"HelloWorld"}),
        ("name contains 'World'", set()),  # Drive matches name prefixes of words only
        ("name contains 'rep'", {"Alpha Report"}),
        (f"mimeType = '{SHEET}'", {"Beta notes"}),
        (f"mimeType != '{DOC}'", {"Beta notes", "HelloWorld"}),
        ("trashed = true", {"Gamma"}),
        ("appProperties has { key='psflow_key' and value='a' }", {"Alpha Report"}),
        ("properties has { key='team' and value='ps' }", {"Alpha Report"}),
        ("appProperties has { key='team' and value='ps' }", set()),  # public != private
        ("fullText contains 'brown'", {"HelloWorld"}),
        ("fullText contains 'fox quick'", {"HelloWorld"}),
        ("fullText contains '\"quick fox\"'", set()),
        ("fullText contains '\"quick brown\"'", {"HelloWorld"}),
        ("fullText contains 'bro'", set()),  # whole words only
        ("not name contains 'Alpha' and not trashed = true and mimeType = 'text/plain'",
         {"HelloWorld"}),
        ("(name = 'Alpha Report' or name = 'Beta notes') and trashed = false",
         {"Alpha Report", "Beta notes"}),
        ("name = 'O\\'Brien \\\\ notes'", {"O'Brien \\ notes"}),
        ("modifiedTime < '2000-01-01T00:00:00'", set()),
        ("modifiedTime > '2000-01-01T00:00:00' AND starred = false",
         {"Alpha Report", "Beta notes", "HelloWorld", "Gamma", "O'Brien \\ notes"}),
    ],
)  # fmt: skip
def test_each_query_form_finds_what_drive_would(
    drive: Any, search_set: dict[str, Any], q: str, expected: set[str]
) -> None:
    assert names(drive, f"'{search_set['folder']}' in parents and ({q})") == expected


def test_time_and_root_queries(drive: Any, search_set: dict[str, Any]) -> None:
    in_folder = f"'{search_set['folder']}' in parents"
    later = names(drive, f"{in_folder} and modifiedTime > '{search_set['beta']['modifiedTime']}'")
    assert later == {"HelloWorld", "Gamma", "O'Brien \\ notes"}
    since = names(drive, f"{in_folder} and createdTime >= '{search_set['alpha']['modifiedTime']}'")
    assert "Alpha Report" in since
    assert names(drive, "'root' in parents and name = 'Loose in root'") == {"Loose in root"}
    root = drive.files().get(fileId="root", fields="id,name").execute()
    assert names(drive, f"'{root['id']}' in parents and name contains 'Loose'") == {"Loose in root"}


@pytest.mark.parametrize(
    "q",
    [
        "name = 'unterminated",
        "name == 'x'",
        "nme = 'x'",
        "name = 'a' and",
        "(name = 'a'",
        "name = 'a' name = 'b'",
        "appProperties has { key='k' }",
        "'x' in nowhere",
        "modifiedTime > 'yesterday'",
        "trashed = maybe",
        "fullText = 'x'",
        "name = 'bad \\escape'",
    ],
)
def test_a_bad_query_is_400_invalid_value_on_q(drive: Any, q: str) -> None:
    with pytest.raises(HttpError) as err:
        drive.files().list(q=q).execute()
    assert error(err) == (400, "invalid", "q")
    assert err.value.reason == "Invalid Value"


def test_paging_ordering_and_page_size_limits(drive: Any, sandbox: SandboxClient) -> None:
    folder = new_folder(drive, "Paging")
    for name in ("e", "b", "d", "a", "c"):
        drive.files().create(body={"name": name, "parents": [folder]}).execute()
        sandbox.advance_clock(days=1)
    q = f"'{folder}' in parents"

    def pages(order_by: str) -> list[list[str]]:
        out, token = [], None
        while True:
            page = (
                drive.files()
                .list(q=q, orderBy=order_by, pageSize=2, pageToken=token,
                      fields="nextPageToken,files(id,name)")
                .execute()
            )  # fmt: skip
            out.append([f["name"] for f in page["files"]])
            token = page.get("nextPageToken")
            if not token:
                return out

    assert pages("name") == [["a", "b"], ["c", "d"], ["e"]]
    assert pages("name desc") == [["e", "d"], ["c", "b"], ["a"]]
    assert pages("createdTime") == [["e", "b"], ["d", "a"], ["c"]]
    assert pages("folder,modifiedTime desc") == [["c", "a"], ["d", "b"], ["e"]]

    # without nextPageToken in `fields`, Drive does not send it: a classic way to lose pages
    assert "nextPageToken" not in drive.files().list(q=q, pageSize=2, fields="files(id)").execute()
    default = drive.files().list(q=q, pageSize=2).execute()
    assert set(default) == {"kind", "incompleteSearch", "nextPageToken", "files"}

    token = default["nextPageToken"]
    with pytest.raises(HttpError) as err:  # a token belongs to its query
        drive.files().list(q="name = 'a'", pageSize=2, pageToken=token).execute()
    assert error(err) == (400, "invalid", "pageToken")
    with pytest.raises(HttpError) as err:
        drive.files().list(pageSize=1001).execute()
    assert error(err) == (400, "invalid", "pageSize")
    with pytest.raises(HttpError) as err:
        drive.files().list(orderBy="size").execute()
    assert error(err) == (400, "invalid", "orderBy")


# --- properties ----------------------------------------------------------------------------------


def test_app_properties_limits_are_enforced_like_drive(drive: Any, sandbox: SandboxClient) -> None:
    files = drive.files()
    at_limit = {"k" * 24: "v" * 100}  # 124 bytes
    created = files.create(body={"name": "ok", "appProperties": at_limit}).execute()
    before = len(sandbox.state("google", "file"))

    too_long = {"k" * 4: "é" * 61}  # 4 + 122 bytes in UTF-8, though only 65 characters
    with pytest.raises(HttpError) as err:
        files.create(body={"name": "no", "appProperties": too_long}).execute()
    assert error(err)[:2] == (403, "propertyLengthLimitExceeded")
    thirty = {f"key{i}": "x" for i in range(30)}
    files.create(body={"name": "thirty", "appProperties": thirty}).execute()
    with pytest.raises(HttpError) as err:
        files.create(body={"name": "no", "appProperties": {**thirty, "one": "more"}}).execute()
    assert error(err)[:2] == (403, "propertyCountLimitExceeded")
    assert len(sandbox.state("google", "file")) == before + 1  # nothing made by the refusals

    with pytest.raises(HttpError) as err:
        files.update(fileId=created["id"], body={"appProperties": {"k" * 25: "v" * 100}}).execute()
    assert error(err)[:2] == (403, "propertyLengthLimitExceeded")
    kept = files.get(fileId=created["id"], fields="appProperties").execute()
    assert kept["appProperties"] == at_limit


def test_app_properties_are_private_to_the_app_that_set_them(
    drive: Any, sandbox: SandboxClient, sandbox_url: str
) -> None:
    """Drive: appProperties are "private to the requesting app", properties "visible to all apps".
    The sandbox tells apps (OAuth clients) apart by their bearer token."""
    other = connection(sandbox_url, token="another-app-token").drive()
    made = (
        drive.files()
        .create(
            body={"name": "Plan", "appProperties": {"k": "mine"}, "properties": {"team": "ps"}},
            fields="id",
        )
        .execute()["id"]
    )

    def seen_by(app: Any) -> dict[str, Any]:
        return dict(app.files().get(fileId=made, fields="appProperties,properties").execute())

    assert seen_by(other) == {"properties": {"team": "ps"}}
    assert names(other, "appProperties has { key='k' and value='mine' }") == set()
    assert names(other, "properties has { key='team' and value='ps' }") == {"Plan"}
    listed = other.files().list(q="name = 'Plan'", fields="files(appProperties)").execute()
    assert listed["files"] == [{}]

    # the other app's own map, under the same key: neither sees, matches or changes the other's
    other.files().update(fileId=made, body={"appProperties": {"k": "theirs", "o": "1"}}).execute()
    assert seen_by(drive)["appProperties"] == {"k": "mine"}
    assert seen_by(other)["appProperties"] == {"k": "theirs", "o": "1"}
    assert names(drive, "appProperties has { key='k' and value='theirs' }") == set()
    assert names(other, "appProperties has { key='k' and value='theirs' }") == {"Plan"}
    assert names(other, "appProperties has { key='k' and value='mine' }") == set()
    other.files().update(fileId=made, body={"appProperties": {"k": None}}).execute()
    assert seen_by(drive)["appProperties"] == {"k": "mine"}
    assert seen_by(other)["appProperties"] == {"o": "1"}
    thirty = {f"key{i}": "x" for i in range(29)}  # 30 with "o": the limit is per app
    other.files().update(fileId=made, body={"appProperties": thirty}).execute()

    # a copy carries the copying app's appProperties of the source, and no other app's
    theirs = other.files().copy(fileId=made, fields="id,appProperties").execute()
    assert theirs["appProperties"] == {"o": "1", **thirty}
    mine = drive.files().copy(fileId=made, fields="id,appProperties").execute()
    assert mine["appProperties"] == {"k": "mine"}
    assert "appProperties" not in drive.files().get(fileId=theirs["id"], fields="*").execute()
    assert "appProperties" not in other.files().get(fileId=mine["id"], fields="*").execute()

    # the control state keeps the map of the app that set them first where it always was
    stored = {f["id"]: f for f in sandbox.state("google", "file")}
    assert stored[made]["appProperties"] == {"k": "mine"}
    assert stored[mine["id"]]["appProperties"] == {"k": "mine"}


def test_a_token_names_its_app_before_its_first_dot(
    sandbox: SandboxClient, sandbox_url: str
) -> None:
    """Google issues many tokens to one OAuth client; the sandbox has no token endpoint, so
    `psflow.<anything>` is psflow's client whatever follows, and a token without a dot is an app
    of its own."""
    first = connection(sandbox_url, token="psflow.first").drive()
    second = connection(sandbox_url, token="psflow.second").drive()
    made = (
        first.files()
        .create(body={"name": "Keyed", "appProperties": {"psflow_key": "k"}}, fields="id")
        .execute()["id"]
    )
    got = second.files().get(fileId=made, fields="appProperties").execute()
    assert got == {"appProperties": {"psflow_key": "k"}}
    for token in ("psflow-first", "other.first", "first"):
        other = connection(sandbox_url, token=token).drive()
        assert other.files().get(fileId=made, fields="appProperties").execute() == {}


# --- update, move, copy, delete ------------------------------------------------------------------


def test_update_patches_metadata_deletes_keys_and_moves_parents(
    drive: Any, sandbox: SandboxClient
) -> None:
    files = drive.files()
    old, new = new_folder(drive, "Old"), new_folder(drive, "New")
    file = files.create(
        body={"name": "Plan", "parents": [old], "appProperties": {"a": "1", "b": "2"}},
        fields="id,modifiedTime",
    ).execute()
    sandbox.advance_clock(days=2)
    updated = files.update(
        fileId=file["id"],
        body={"name": "Plan v2", "description": "moved", "appProperties": {"a": None, "c": "3"}},
        addParents=new,
        removeParents=old,
        fields="name,description,appProperties,parents,modifiedTime",
    ).execute()
    assert updated["name"] == "Plan v2"
    assert updated["appProperties"] == {"b": "2", "c": "3"}
    assert updated["parents"] == [new]
    assert updated["modifiedTime"] > file["modifiedTime"]
    assert names(drive, f"'{new}' in parents") == {"Plan v2"}
    assert names(drive, f"'{old}' in parents") == set()

    with pytest.raises(HttpError) as err:  # a My Drive file has one parent
        files.update(fileId=file["id"], body={}, addParents=old).execute()
    assert error(err)[:2] == (403, "cannotAddParent")
    with pytest.raises(HttpError) as err:
        files.update(fileId=file["id"], body={"parents": [old]}).execute()
    assert error(err)[:2] == (403, "fieldNotWritable")

    trashed = files.update(fileId=file["id"], body={"trashed": True}, fields="trashed").execute()
    assert trashed == {"trashed": True}
    assert names(drive, f"'{new}' in parents and trashed = false") == set()


def find_template(drive: Any, key: str) -> dict[str, Any]:
    """A seeded template as a person finds it: by its name."""
    name = next(t.name for t in org.TEMPLATES if t.key == key)
    q = f"name = '{name}' and trashed = false"
    found = drive.files().list(q=q, fields="files(id,name,parents,appProperties)").execute()
    assert len(found["files"]) == 1, found
    return dict(found["files"][0])


def test_copy_of_the_cost_estimate_template_keeps_its_content(
    drive: Any, sandbox: SandboxClient
) -> None:
    template = find_template(drive, "cost-estimate")
    folder = new_folder(drive, "SOW-2026-041")
    copy = (
        drive.files()
        .copy(
            fileId=template["id"],
            body={
                "name": "Acme – Cost Estimate",
                "parents": [folder],
                "appProperties": {"psflow_key": "cost-estimate:006x"},
            },
            fields="id,name,mimeType,parents,appProperties,webViewLink",
        )
        .execute()
    )
    assert copy["mimeType"] == SHEET
    assert copy["parents"] == [folder]
    assert copy["appProperties"] == {"psflow_key": "cost-estimate:006x"}
    assert copy["webViewLink"].endswith(f"/google/spreadsheets/d/{copy['id']}/edit")
    template_content = drive_content(sandbox, "cost-estimate")
    assert template_content[0]["rows"][0][0] == "Cost estimate"
    assert _count(sandbox, template_content) == 2  # the template and its copy
    assert find_template(drive, "cost-estimate")["id"] == template["id"]

    plain = drive.files().copy(fileId=template["id"], fields="name,parents,appProperties").execute()
    assert plain == {"name": "Copy of Cost Estimate Template", "parents": template["parents"]}
    assert _count(sandbox, template_content) == 3
    with pytest.raises(HttpError) as err:  # folders cannot be copied
        drive.files().copy(fileId=folder).execute()
    assert error(err)[:2] == (403, "cannotCopyFile")


def drive_content(sandbox: SandboxClient, template_key: str) -> list[dict[str, Any]]:
    """A seeded template's tabs, as the sandbox stores them."""
    template = next(t for t in org.TEMPLATES if t.key == template_key)
    first_tab = next(iter(template.tabs))
    found = [s["sheets"] for s in sandbox.state("google", "spreadsheet")]
    return next(tabs for tabs in found if tabs[0]["title"] == first_tab)


def _count(sandbox: SandboxClient, tabs: list[dict[str, Any]]) -> int:
    return sum(s["sheets"] == tabs for s in sandbox.state("google", "spreadsheet"))


def test_delete_removes_a_folder_with_everything_in_it(drive: Any, sandbox: SandboxClient) -> None:
    folder = new_folder(drive, "Gone")
    inner = new_folder(drive, "Inner", folder)
    doc = drive.files().create(body={"name": "d", "mimeType": DOC, "parents": [inner]}).execute()
    assert drive.files().delete(fileId=folder).execute() == ""
    for file_id in (folder, inner, doc["id"]):
        with pytest.raises(HttpError) as err:
            drive.files().get(fileId=file_id).execute()
        assert error(err) == (404, "notFound", "fileId")
    assert doc["id"] not in {f["id"] for f in sandbox.state("google", "file")}


@pytest.mark.parametrize("call", ["get", "update", "upload", "copy", "delete", "permissions"])
def test_an_unknown_file_is_404_not_found(drive: Any, call: str) -> None:
    request = {
        "get": lambda: drive.files().get(fileId="nope"),
        "update": lambda: drive.files().update(fileId="nope", body={"name": "x"}),
        "upload": lambda: drive.files().update(fileId="nope", media_body=png_upload(png(1))),
        "copy": lambda: drive.files().copy(fileId="nope", body={}),
        "delete": lambda: drive.files().delete(fileId="nope"),
        "permissions": lambda: drive.permissions().list(fileId="nope"),
    }[call]()
    with pytest.raises(HttpError) as err:
        request.execute()
    assert error(err) == (404, "notFound", "fileId")
    assert err.value.reason == "File not found: nope."


# --- permissions ---------------------------------------------------------------------------------


def test_permissions_grant_update_and_list(drive: Any) -> None:
    file_id = drive.files().create(body={"name": "Shared", "mimeType": SHEET}).execute()["id"]
    perms = drive.permissions()
    email = "wile.coyote@acme.example"
    granted = perms.create(
        fileId=file_id,
        body={"type": "user", "role": "writer", "emailAddress": email},
        sendNotificationEmail=False,
    ).execute()
    assert set(granted) == {"kind", "id", "type", "role"}
    assert granted["role"] == "writer"
    again = perms.create(
        fileId=file_id, body={"type": "user", "role": "reader", "emailAddress": email}
    ).execute()
    assert again["id"] == granted["id"]  # same person: the grant is updated, not duplicated
    anyone = perms.create(fileId=file_id, body={"type": "anyone", "role": "reader"}).execute()
    assert anyone["id"] == "anyoneWithLink"

    listed = perms.list(fileId=file_id, fields="permissions(emailAddress,role,type)").execute()
    assert listed["permissions"] == [
        {"emailAddress": org.PS_MAILBOX, "role": "owner", "type": "user"},
        {"emailAddress": email, "role": "reader", "type": "user"},
        {"role": "reader", "type": "anyone"},
    ]
    assert set(perms.list(fileId=file_id).execute()["permissions"][0]) == {
        "kind", "id", "type", "role"
    }  # fmt: skip
    assert drive.files().get(fileId=file_id, fields="shared").execute() == {"shared": True}
    assert names(drive, f"'{email}' in readers") == {"Shared"}

    with pytest.raises(HttpError) as err:
        perms.create(fileId=file_id, body={"type": "user", "role": "writer"}).execute()
    assert error(err) == (400, "required", "permission.emailAddress")
    with pytest.raises(HttpError) as err:
        perms.create(
            fileId=file_id, body={"type": "user", "role": "boss", "emailAddress": email}
        ).execute()
    assert error(err) == (400, "invalid", "permission.role")
    with pytest.raises(HttpError) as err:
        perms.create(
            fileId=file_id, body={"type": "user", "role": "owner", "emailAddress": email}
        ).execute()
    assert error(err)[:2] == (403, "forbidden")


# --- uploads -------------------------------------------------------------------------------------


def test_multipart_upload_stores_the_content_and_converts_csv_to_a_sheet(
    drive: Any, sandbox: SandboxClient
) -> None:
    folder = new_folder(drive, "Uploads")
    csv = b"Activity,Hours\nMigration,120\n"
    uploaded = (
        drive.files()
        .create(
            body={"name": "estimate.csv", "parents": [folder], "appProperties": {"k": "v"}},
            media_body=MediaInMemoryUpload(csv, mimetype="text/csv"),
            fields="id,name,mimeType,size,md5Checksum,parents,appProperties",
        )
        .execute()
    )
    assert uploaded["mimeType"] == "text/csv"
    assert uploaded["size"] == str(len(csv))
    assert uploaded["parents"] == [folder]
    assert uploaded["appProperties"] == {"k": "v"}
    assert drive.files().get_media(fileId=uploaded["id"]).execute() == csv
    assert [r["query"] for r in sandbox.requests(method="POST", path="/google/upload/%")] == [
        "fields=id%2Cname%2CmimeType%2Csize%2Cmd5Checksum%2Cparents%2CappProperties&alt=json"
        "&uploadType=multipart"
    ]
    assert names(drive, "fullText contains 'Migration'") >= {"estimate.csv"}

    converted = (
        drive.files()
        .create(
            body={"name": "Estimate", "mimeType": SHEET},
            media_body=MediaInMemoryUpload(csv, mimetype="text/csv"),
            fields="id,mimeType",
        )
        .execute()
    )
    assert converted["mimeType"] == SHEET
    rows = [s["sheets"][0]["rows"] for s in sandbox.state("google", "spreadsheet")]
    assert [["Activity", "Hours"], ["Migration", "120"]] in rows
    with pytest.raises(HttpError) as err:  # a Sheet has no bytes to download
        drive.files().get_media(fileId=converted["id"]).execute()
    assert error(err)[:2] == (403, "fileNotDownloadable")

    bare = (
        drive.files()
        .create(media_body=MediaInMemoryUpload(b"hello", mimetype="text/plain"), fields="name,size")
        .execute()
    )
    assert bare == {"name": "Untitled", "size": "5"}


def png(shade: int) -> bytes:
    """A real 1x1 grey PNG: binary bytes (its signature holds CR LF and ^Z) a browser can show."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    pixels = zlib.compress(bytes([0, shade]))  # filter byte, one pixel
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def png_upload(data: bytes, mimetype: str = "image/png") -> MediaIoBaseUpload:
    return MediaIoBaseUpload(io.BytesIO(data), mimetype=mimetype)


CONTENT_FIELDS = "name,mimeType,size,md5Checksum,sha1Checksum,sha256Checksum,version,modifiedTime"


def digests(data: bytes) -> dict[str, str]:
    return {
        "size": str(len(data)),
        "md5Checksum": hashlib.md5(data).hexdigest(),
        "sha1Checksum": hashlib.sha1(data).hexdigest(),
        "sha256Checksum": hashlib.sha256(data).hexdigest(),
    }


def test_update_with_media_replaces_the_content(drive: Any, sandbox: SandboxClient) -> None:
    first, second = png(0), png(255)
    made = (
        drive.files()
        .create(
            body={"name": "chart.png"}, media_body=png_upload(first), fields=CONTENT_FIELDS + ",id"
        )
        .execute()
    )
    assert made == {"id": made["id"], "name": "chart.png", "mimeType": "image/png",
                    "version": "1", "modifiedTime": made["modifiedTime"], **digests(first)}  # fmt: skip
    sandbox.advance_clock(days=1)

    # no body: googleapiclient sends the bytes alone (uploadType=media)
    updated = (
        drive.files()
        .update(fileId=made["id"], media_body=png_upload(second), fields=CONTENT_FIELDS)
        .execute()
    )
    assert updated == {"name": "chart.png", "mimeType": "image/png", "version": "2",
                       "modifiedTime": updated["modifiedTime"], **digests(second)}  # fmt: skip
    assert updated["modifiedTime"] > made["modifiedTime"]
    assert drive.files().get_media(fileId=made["id"]).execute() == second
    got = drive.files().get(fileId=made["id"], fields="md5Checksum,size").execute()
    assert got == {"md5Checksum": hashlib.md5(second).hexdigest(), "size": str(len(second))}
    [sent] = sandbox.requests(method="PATCH", path="/google/upload/%")
    assert sent["path"] == f"/google/upload/drive/v3/files/{made['id']}"
    assert "uploadType=media" in sent["query"]
    assert sandbox.writes(service="drive") == 2


def test_update_with_metadata_and_media_patches_both_in_one_call(
    drive: Any, sandbox: SandboxClient, sandbox_url: str
) -> None:
    folder, other_folder = new_folder(drive, "Charts"), new_folder(drive, "Archive")
    made = (
        drive.files()
        .create(
            body={"name": "burn.png", "parents": [folder], "appProperties": {"a": "1", "b": "2"}},
            media_body=png_upload(png(10)),
            fields="id",
        )
        .execute()
    )
    photo = b"\xff\xd8\xff\xe0 not much of a JPEG \r\n--\r\n\x00\xff\xd9"
    updated = (
        drive.files()
        .update(
            fileId=made["id"],
            body={
                "name": "burn.jpg",
                "description": "week 5",
                "appProperties": {"a": None, "c": "3"},
            },
            media_body=png_upload(photo, "image/jpeg"),
            addParents=other_folder,
            removeParents=folder,
            fields=CONTENT_FIELDS + ",description,appProperties,parents",
        )
        .execute()
    )
    # no mimeType in the body: Drive takes the new content's
    assert updated == {"name": "burn.jpg", "mimeType": "image/jpeg", "description": "week 5",
                       "appProperties": {"b": "2", "c": "3"}, "parents": [other_folder],
                       "version": "2", "modifiedTime": updated["modifiedTime"], **digests(photo)}  # fmt: skip
    assert drive.files().get_media(fileId=made["id"]).execute() == photo
    assert "uploadType=multipart" in sandbox.requests(method="PATCH")[-1]["query"]

    # another app's appProperties stay its own with a content update too
    other = connection(sandbox_url, token="another-app-token").drive()
    other.files().update(
        fileId=made["id"], body={"appProperties": {"o": "1"}}, media_body=png_upload(png(20))
    ).execute()
    mine = drive.files().get(fileId=made["id"], fields="appProperties,version").execute()
    assert mine == {"appProperties": {"b": "2", "c": "3"}, "version": "3"}
    assert drive.files().get_media(fileId=made["id"]).execute() == png(20)

    # a refused update changes nothing, content included
    for body, refusal in (
        ({"parents": [folder]}, (403, "fieldNotWritable")),
        ({"appProperties": {"k" * 25: "v" * 100}}, (403, "propertyLengthLimitExceeded")),
        ({"id": "other"}, (403, "fieldNotWritable")),
        ({"mimeType": SHEET}, (400, "badContent")),
    ):
        with pytest.raises(HttpError) as err:
            drive.files().update(
                fileId=made["id"], body=body, media_body=png_upload(png(30))
            ).execute()
        assert error(err)[:2] == refusal
    assert drive.files().get_media(fileId=made["id"]).execute() == png(20)
    with pytest.raises(HttpError) as err:  # without new content the mimeType stays
        drive.files().update(fileId=made["id"], body={"mimeType": "image/gif"}).execute()
    assert error(err)[:2] == (403, "fieldNotWritable")
    sheet = drive.files().create(body={"name": "S", "mimeType": SHEET}).execute()["id"]
    with pytest.raises(HttpError) as err:  # the sandbox imports into a Sheet only on create
        drive.files().update(fileId=sheet, media_body=png_upload(b"a,b", "text/csv")).execute()
    assert error(err)[:2] == (400, "badContent")


# --- quotas and faults ---------------------------------------------------------------------------


def test_over_the_per_user_quota_drive_answers_429_resource_exhausted(
    drive: Any, sandbox: SandboxClient, sandbox_url: str
) -> None:
    sandbox.set_quotas(True, {"google.drive-queries-per-user": 2})
    drive.files().list(pageSize=1).execute()
    drive.files().get(fileId="root").execute()
    with pytest.raises(HttpError) as err:
        drive.files().list(pageSize=1).execute()
    assert error(err)[:2] == (429, "rateLimitExceeded")
    assert "Queries per minute per user" in err.value.reason
    assert "retry-after" not in err.value.resp  # Google sends none; clients back off
    body = err.value.content.decode()
    assert '"status": "RESOURCE_EXHAUSTED"' in body or '"status":"RESOURCE_EXHAUSTED"' in body
    other = connection(sandbox_url, token="someone-else").drive()
    assert other.files().list(pageSize=1).execute()["kind"] == "drive#fileList"
    assert [r["quota"] for r in sandbox.requests(status=429)] == ["google.drive-queries-per-user"]


def test_a_503_fault_is_an_http_error_and_the_next_call_works(
    drive: Any, sandbox: SandboxClient
) -> None:
    sandbox.add_fault(r"/google/drive/v3/files", method="POST", status=503)
    with pytest.raises(HttpError) as err:
        drive.files().create(body={"name": "Retry me"}).execute()
    assert err.value.status_code == 503
    assert names(drive, "name = 'Retry me'") == set()
    drive.files().create(body={"name": "Retry me"}).execute()
    assert names(drive, "name = 'Retry me'") == {"Retry me"}


def test_a_dropped_connection_reaches_the_caller_and_writes_nothing(
    drive: Any, sandbox: SandboxClient
) -> None:
    sandbox.add_fault(r"/google/drive/v3/files", method="POST", kind="drop")
    with pytest.raises(requests.ConnectionError):
        drive.files().create(body={"name": "Dropped"}).execute()
    assert names(drive, "name = 'Dropped'") == set()
    assert [r["fault"] for r in sandbox.requests(method="POST")] == ["drop"]


def test_a_dropped_answer_after_commit_reaches_the_caller_instead_of_a_silent_resend(
    drive: Any, sandbox: SandboxClient
) -> None:
    """httplib2 would resend the POST by itself and make the file twice; the Block's transport
    sends once, so the caller sees the failure and can look the key up before trying again."""
    sandbox.add_fault(r"/google/drive/v3/files", method="POST", kind="drop", after_commit=True)
    with pytest.raises(requests.ConnectionError):
        drive.files().create(body={"name": "Once"}).execute()
    assert [f["name"] for f in sandbox.state("google", "file")].count("Once") == 1


def test_a_copy_that_fails_after_commit_exists_once_and_a_lookup_finds_it(
    drive: Any, sandbox: SandboxClient
) -> None:
    template = find_template(drive, "project-definition")
    key = "project-definition:006Dn0000000002"
    body = {"name": "Acme – Project Definition", "appProperties": {"psflow_key": key}}
    sandbox.add_fault(r"/google/drive/v3/files/[^/]+/copy", status=500, after_commit=True)
    with pytest.raises(HttpError) as err:
        drive.files().copy(fileId=template["id"], body=body).execute()
    assert err.value.status_code == 500

    # what an idempotent task does on retry: look the key up before copying again
    q = f"appProperties has {{ key='psflow_key' and value='{key}' }} and trashed = false"
    found = drive.files().list(q=q, fields="files(id,name)").execute()["files"]
    assert [f["name"] for f in found] == ["Acme – Project Definition"]
    copies = [
        f for f in sandbox.state("google", "file") if f["appProperties"].get("psflow_key") == key
    ]
    assert len(copies) == 1


def test_a_delayed_create_times_the_client_out_but_lands(
    sandbox: SandboxClient, sandbox_url: str
) -> None:
    slow = connection(sandbox_url, timeout_seconds=0.3).drive()
    sandbox.add_fault(r"/google/drive/v3/files", method="POST", kind="delay", delay=1.0,
                      after_commit=True)  # fmt: skip
    with pytest.raises(requests.Timeout):
        slow.files().create(body={"name": "Slow"}).execute()
    fast = connection(sandbox_url).drive()
    assert names(fast, "name = 'Slow'") == {"Slow"}


# --- the seeded Drive ----------------------------------------------------------------------------


def test_the_seed_has_every_template_in_the_templates_folder(drive: Any) -> None:
    folders = drive.files().list(q=f"mimeType = '{FOLDER}' and 'root' in parents").execute()
    by_name = {f["name"]: f["id"] for f in folders["files"]}
    assert set(by_name) == {
        org.TEMPLATES_FOLDER,
        org.ENGAGEMENTS_FOLDER,
        org.OPERATIONS_FOLDER,
        org.SOWS_FOLDER,
    }
    kinds = {org.SPREADSHEET: SHEET, org.DOCUMENT: DOC, org.PRESENTATION: SLIDES}
    for template in org.TEMPLATES:
        found = find_template(drive, template.key)
        assert found["name"] == template.name
        assert found["parents"] == [by_name[org.TEMPLATES_FOLDER]]
        got = drive.files().get(fileId=found["id"], fields="mimeType,appProperties").execute()
        assert got == {"mimeType": kinds[template.mime_type]}  # a person uploaded it: no keys


def test_what_people_made_in_the_drive_ui_carries_no_app_properties(
    sandbox: SandboxClient, sandbox_url: str
) -> None:
    """The Drive UI sets neither appProperties nor properties: the templates, the shared folders,
    the skills matrix and sales' SOWs carry none, for psflow's app or any other."""
    made_by_people = {
        org.TEMPLATES_FOLDER,
        org.ENGAGEMENTS_FOLDER,
        org.OPERATIONS_FOLDER,
        org.SOWS_FOLDER,
        org.SKILLS_MATRIX,
        *(t.name for t in org.TEMPLATES),
    }
    sows = {org.sow_document_id(o.sow_number) for o in org.OPPORTUNITIES}
    stored = [f for f in sandbox.state("google", "file") if f["name"] in made_by_people]
    stored += [f for f in sandbox.state("google", "file") if f["id"] in sows]
    assert len(stored) == len(made_by_people) + len(sows)
    for file in stored:
        assert (file["appProperties"], file["properties"]) == ({}, {}), file["name"]
        assert not file.get("otherAppProperties"), file["name"]
    for token in ("psflow.seed-test", "drive-test-token"):
        drive = connection(sandbox_url, token=token).drive()
        for file in stored:
            got = drive.files().get(fileId=file["id"], fields="appProperties,properties").execute()
            assert got == {}, file["name"]


def test_the_seed_has_the_skills_matrix_sows_and_acmes_past_engagement(
    drive: Any, sandbox: SandboxClient, sandbox_url: str
) -> None:
    assert names(drive, f"name = '{org.SKILLS_MATRIX}'") == {org.SKILLS_MATRIX}
    matrix = next(
        s for s in sandbox.state("google", "spreadsheet") if s["sheets"][0]["title"] == "PSEs"
    )
    pses, partners = matrix["sheets"]
    assert pses["rows"][0] == list(org.SKILLS_MATRIX_HEADER)
    aisha = org.PSES[0]
    assert pses["rows"][1] == [
        aisha.email,
        aisha.name,
        aisha.title,
        aisha.time_zone,
        org.skills_cell(aisha.skills),
        "; ".join(aisha.growth_goals),
        "; ".join(aisha.traits),
    ]
    assert len(pses["rows"]) == 1 + len(org.PSES)
    assert partners["title"] == "Partners"
    assert [row[0] for row in partners["rows"][1:]] == [p[0] for p in org.PARTNERS]

    docs = connection(sandbox_url).docs()
    [sows_folder] = [
        f["id"] for f in sandbox.state("google", "file") if f["name"] == org.SOWS_FOLDER
    ]
    for opp in org.OPPORTUNITIES:
        sow = drive.files().get(fileId=org.sow_document_id(opp.sow_number), fields="*").execute()
        assert sow["parents"] == [sows_folder]
        text = "".join(
            e["textRun"]["content"]
            for block in docs.documents().get(documentId=sow["id"]).execute()["body"]["content"]
            for e in block.get("paragraph", {}).get("elements", [])
        )
        assert opp.sow_number in text
        assert all(item.description in text for item in opp.line_items)

    # Acme's past engagement, which psflow made: its keys are psflow's app's, seen by no other
    past = org.ACME_PAST
    customer_key = (
        f"appProperties has {{ key='psflow_key' and value='customer-folder:{past.account.id}' }}"
    )
    definition_key = (
        f"appProperties has {{ key='psflow_key' and value='project-definition:{past.id}' }}"
    )
    psflow = connection(sandbox_url, token="psflow.seed-test").drive()
    customer = psflow.files().list(q=customer_key, fields="files(id,name,parents)").execute()
    assert [c["name"] for c in customer["files"]] == ["Acme Corporation"]
    sow_folder = names(
        psflow, f"'{customer['files'][0]['id']}' in parents and mimeType = '{FOLDER}'"
    )
    assert sow_folder == {past.sow_number}
    definition = names(psflow, definition_key)
    assert definition == {f"Acme Corporation – {past.sow_number} – Project Definition"}
    assert names(drive, customer_key) == names(drive, definition_key) == set()


# --- the viewer ----------------------------------------------------------------------------------


def test_the_web_view_links_open_as_html_pages(drive: Any, sandbox: SandboxClient) -> None:
    def open_link(file_id: str) -> str:
        link = drive.files().get(fileId=file_id, fields="webViewLink").execute()["webViewLink"]
        page = httpx.get(link)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        return page.text

    sheet = find_template(drive, "cost-estimate")
    assert "Contracted revenue" in open_link(sheet["id"])
    deck = find_template(drive, "kickoff-deck")
    assert "{{customer}} – Project Kickoff" in open_link(deck["id"])
    sow_id = org.sow_document_id(org.ACME_PAST.sow_number)
    assert "SCM migration: repositories, users, CI definitions" in open_link(sow_id)
    folder = open_link(sheet["parents"][0])
    assert all(t.name in folder for t in org.TEMPLATES)

    viewed = sandbox.requests(path="/google/spreadsheets/%")
    assert [(r["method"], r["write"]) for r in viewed] == [("GET", False)]
    assert httpx.get(f"{sandbox.url}/google/document/d/nope/edit").status_code == 404


def test_an_image_opens_as_the_picture_from_its_web_view_link(
    drive: Any, sandbox: SandboxClient
) -> None:
    """A person following a chart's link from a Sheet, an e-mail or an artifact sees the picture:
    the page's `<img>` loads the bytes from Drive's `uc` address, as an image."""
    picture = png(128)
    made = (
        drive.files()
        .create(body={"name": "burn-up.png"}, media_body=png_upload(picture),
                fields="id,webViewLink,webContentLink")
        .execute()
    )  # fmt: skip
    assert made["webViewLink"] == f"{sandbox.url}/google/file/d/{made['id']}/view"
    assert made["webContentLink"] == f"{sandbox.url}/google/uc?id={made['id']}&export=download"

    page = httpx.get(made["webViewLink"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    [src] = re.findall(r'<img src="([^"]+)" alt="burn-up.png">', page.text)
    src = html.unescape(src)
    assert src == f"{sandbox.url}/google/uc?id={made['id']}&export=view"
    image = httpx.get(src)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert "content-disposition" not in image.headers  # shown in place
    assert image.content == picture

    drive.files().update(fileId=made["id"], media_body=png_upload(png(200))).execute()
    assert httpx.get(src).content == png(200)  # the same link shows the new picture
    download = httpx.get(made["webContentLink"])
    assert download.content == png(200)
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''burn-up.png"

    text = (
        drive.files()
        .create(
            body={"name": "notes.txt"},
            media_body=MediaInMemoryUpload(b"<b>hi</b>", mimetype="text/plain"),
        )
        .execute()["id"]
    )
    text_page = httpx.get(f"{sandbox.url}/google/file/d/{text}/view").text
    assert "<pre>&lt;b&gt;hi&lt;/b&gt;</pre>" in text_page
    assert "<img" not in text_page
    sheet = drive.files().create(body={"name": "S", "mimeType": SHEET}).execute()["id"]
    for missing in ("nope", sheet):  # no such file; a file with no bytes
        assert httpx.get(f"{sandbox.url}/google/uc?id={missing}&export=view").status_code == 404
    assert sandbox.writes(service="drive") == 4
