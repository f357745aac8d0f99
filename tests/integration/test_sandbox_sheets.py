"""The Sheets v4 stand-in through googleapiclient and gspread, as psflow's Block builds them."""

from __future__ import annotations

from typing import Any

import gspread
import pytest
import requests
from googleapiclient.errors import HttpError

from blocks.google import GoogleWorkspaceConnection
from sandbox.client import SandboxClient


@pytest.fixture
def google(sandbox: SandboxClient, sandbox_url: str) -> GoogleWorkspaceConnection:
    """A connection to a freshly reset sandbox."""
    return GoogleWorkspaceConnection(root_url=f"{sandbox_url}/google/", access_token="token-1")


@pytest.fixture
def sheets(google: GoogleWorkspaceConnection) -> Any:
    return google.sheets().spreadsheets()


@pytest.fixture
def gc(google: GoogleWorkspaceConnection) -> gspread.Client:
    return google.gspread_client()


def create(sheets: Any, title: str = "Cost Estimate – Acme", *tabs: str) -> str:
    body = {
        "properties": {"title": title},
        "sheets": [{"properties": {"title": t}} for t in tabs or ("Sheet1",)],
    }
    return str(sheets.create(body=body).execute()["spreadsheetId"])


def values(sheets: Any, sid: str, rng: str, **params: Any) -> list[list[Any]]:
    return list(
        sheets.values().get(spreadsheetId=sid, range=rng, **params).execute().get("values", [])
    )


def test_create_makes_a_drive_file_that_gspread_opens_by_key(
    sandbox: SandboxClient, sheets: Any, gc: gspread.Client
) -> None:
    created = sheets.create(
        body={
            "properties": {"title": "Cost Estimate – Acme"},
            "sheets": [
                {"properties": {"title": "Estimate", "gridProperties": {"rowCount": 50}}},
                {"properties": {"title": "Status Report"}},
            ],
        }
    ).execute()
    sid = created["spreadsheetId"]
    assert created["spreadsheetUrl"].endswith(f"/google/spreadsheets/d/{sid}/edit")

    book = gc.open_by_key(sid)
    assert book.title == "Cost Estimate – Acme"
    assert [ws.title for ws in book.worksheets()] == ["Estimate", "Status Report"]
    assert book.sheet1.row_count == 50
    assert book.worksheet("Status Report").col_count == 26

    file = next(f for f in sandbox.state("google", "file") if f["id"] == sid)
    assert file["name"] == "Cost Estimate – Acme"
    assert file["mimeType"] == "application/vnd.google-apps.spreadsheet"


def test_gspread_update_and_get_all_values_round_trip(
    sandbox: SandboxClient, sheets: Any, gc: gspread.Client
) -> None:
    sid = create(sheets)
    ws = gc.open_by_key(sid).sheet1
    modified_before = next(f for f in sandbox.state("google", "file") if f["id"] == sid)
    sandbox.advance_clock(1)

    reply = ws.update([["Activity", "Hours", None], ["Migration", 120, ""], ["", "", ""]], "A1")
    assert reply["updatedRange"] == "Sheet1!A1:C3"
    assert ws.get_all_values() == [["Activity", "Hours"], ["Migration", "120"]]
    # numbers stay numbers unformatted; trailing empty cells and rows are left out
    assert values(sheets, sid, "Sheet1", valueRenderOption="UNFORMATTED_VALUE") == [
        ["Activity", "Hours"],
        ["Migration", 120],
    ]
    put = sandbox.requests(method="PUT")[-1]
    assert put["path"] == f"/google/v4/spreadsheets/{sid}/values/%27Sheet1%27%21A1"
    assert "valueInputOption=RAW" in put["query"]
    modified_after = next(f for f in sandbox.state("google", "file") if f["id"] == sid)
    assert modified_after["modifiedTime"] > modified_before["modifiedTime"]


def test_user_entered_parses_numbers_booleans_and_formulas_in_both_clients(
    sheets: Any, gc: gspread.Client
) -> None:
    sid = create(sheets)
    ws = gc.open_by_key(sid).sheet1
    ws.batch_update(
        [{"range": "A1:D1", "values": [["40", "1,200.5", "true", "'007"]]}],
        value_input_option=gspread.utils.ValueInputOption.user_entered,
    )
    sheets.values().batchUpdate(
        spreadsheetId=sid,
        body={
            "valueInputOption": "USER_ENTERED",
            "data": [{"range": "Sheet1!A2:B2", "values": [["=SUM(A1:B1)", "=A1*2+1"]]}],
        },
    ).execute()
    sheets.values().batchUpdate(
        spreadsheetId=sid,
        body={"valueInputOption": "RAW", "data": [{"range": "A3:B3", "values": [["40", "=A1"]]}]},
    ).execute()

    assert values(sheets, sid, "A1:D3", valueRenderOption="UNFORMATTED_VALUE") == [
        [40, 1200.5, True, "007"],
        [1240.5, 81],
        ["40", "=A1"],  # RAW keeps text as text, even when it looks like a formula
    ]
    assert values(sheets, sid, "A2:B2", valueRenderOption="FORMULA") == [["=SUM(A1:B1)", "=A1*2+1"]]
    assert ws.get_all_values()[:2] == [["40", "1200.5", "TRUE", "007"], ["1240.5", "81", "", ""]]


def test_append_writes_below_the_table_and_reports_updates(sheets: Any, gc: gspread.Client) -> None:
    sid = create(sheets, "Project Definition", "Overview", "Status Report")
    report = "'Status Report'!A1:F"
    sheets.values().update(
        spreadsheetId=sid,
        range=report,
        valueInputOption="RAW",
        body={"values": [["Week", "Schedule", "Hours used"]]},
    ).execute()

    reply = (
        sheets.values()
        .append(
            spreadsheetId=sid,
            range=report,
            valueInputOption="USER_ENTERED",
            insertDataOption="INSERT_ROWS",
            body={"values": [["2026-W10", "on track", "32"]]},
        )
        .execute()
    )
    assert reply["tableRange"] == "'Status Report'!A1:C1"
    assert reply["updates"]["updatedRange"] == "'Status Report'!A2:C2"
    assert reply["updates"]["updatedCells"] == 3

    gc.open_by_key(sid).worksheet("Status Report").append_rows(
        [["2026-W11", "late", 40]], value_input_option="USER_ENTERED"
    )
    assert values(sheets, sid, "'Status Report'!A2:C", valueRenderOption="UNFORMATTED_VALUE") == [
        ["2026-W10", "on track", 32],
        ["2026-W11", "late", 40],
    ]
    sheets.values().clear(spreadsheetId=sid, range="'Status Report'!A2:F").execute()
    assert values(sheets, sid, "'Status Report'") == [["Week", "Schedule", "Hours used"]]


def test_batch_update_sheets_and_titles(
    sandbox: SandboxClient, sheets: Any, gc: gspread.Client
) -> None:
    sid = create(sheets)
    book = gc.open_by_key(sid)
    actions = book.add_worksheet("Actions", rows=10, cols=5)
    assert (actions.row_count, actions.col_count) == (10, 5)
    actions.update_title("Action Items")
    book.update_title("Project Definition – Acme")
    reply = sheets.batchUpdate(
        spreadsheetId=sid,
        body={
            "requests": [
                {"appendDimension": {"sheetId": actions.id, "dimension": "ROWS", "length": 5}},
                {"addSheet": {"properties": {"title": "Notes", "index": 0}}},
            ]
        },
    ).execute()
    assert reply["replies"][0] == {}
    assert reply["replies"][1]["addSheet"]["properties"]["index"] == 0

    book = gc.open_by_key(sid)
    assert book.title == "Project Definition – Acme"
    assert [ws.title for ws in book.worksheets()] == ["Notes", "Sheet1", "Action Items"]
    assert book.worksheet("Action Items").row_count == 15
    book.del_worksheet(book.worksheet("Notes"))
    assert [ws.title for ws in gc.open_by_key(sid).worksheets()] == ["Sheet1", "Action Items"]
    file = next(f for f in sandbox.state("google", "file") if f["id"] == sid)
    assert file["name"] == "Project Definition – Acme"


def test_get_with_ranges_grid_data_and_fields(sheets: Any) -> None:
    sid = create(sheets, "Estimate", "Estimate", "Other")
    sheets.values().update(
        spreadsheetId=sid,
        range="Estimate!B2",
        valueInputOption="USER_ENTERED",
        body={"values": [["7", "=B2*3"]]},
    ).execute()
    got = sheets.get(spreadsheetId=sid, ranges=["Estimate!B2:C2"], includeGridData=True).execute()
    assert [s["properties"]["title"] for s in got["sheets"]] == ["Estimate"]
    data = got["sheets"][0]["data"][0]
    assert (data["startRow"], data["startColumn"]) == (1, 1)
    assert data["rowData"][0]["values"][1] == {
        "userEnteredValue": {"formulaValue": "=B2*3"},
        "effectiveValue": {"numberValue": 21},
        "formattedValue": "21",
    }
    slim = sheets.get(
        spreadsheetId=sid, fields="properties.title,sheets(properties(title))"
    ).execute()
    assert slim == {
        "properties": {"title": "Estimate"},
        "sheets": [{"properties": {"title": "Estimate"}}, {"properties": {"title": "Other"}}],
    }


@pytest.mark.parametrize(
    ("rng", "expected_range", "expected"),
    [
        ("A1", "Sheet1!A1", [["a1"]]),
        ("Sheet1!B2:C3", "Sheet1!B2:C3", [["b2", "c2"], ["b3"]]),
        ("sheet1!c2", "Sheet1!C2", [["c2"]]),
        ("A:B", "Sheet1!A1:B1000", [["a1"], ["", "b2"], ["", "b3"]]),
        ("2:3", "Sheet1!A2:Z3", [["", "b2", "c2"], ["", "b3"]]),
        ("'It''s here'!A2:F", "'It''s here'!A2:F1000", [["x2"]]),
        ("'It''s here'", "'It''s here'!A1:Z1000", [[], ["x2"]]),
        ("C3:A1", "Sheet1!A1:C3", [["a1"], ["", "b2", "c2"], ["", "b3"]]),
    ],
)
def test_a1_notation(sheets: Any, rng: str, expected_range: str, expected: list[list[str]]) -> None:
    sid = create(sheets, "Ranges", "Sheet1", "It's here")
    sheets.values().batchUpdate(
        spreadsheetId=sid,
        body={
            "valueInputOption": "RAW",
            "data": [
                {"range": "A1", "values": [["a1"]]},
                {"range": "B2:C3", "values": [["b2", "c2"], ["b3"]]},
                {"range": "'It''s here'!A2", "values": [["x2"]]},
            ],
        },
    ).execute()
    got = sheets.values().get(spreadsheetId=sid, range=rng).execute()
    assert got["range"] == expected_range
    assert got.get("values", []) == expected


def test_errors_map_to_the_client_exceptions(
    sandbox: SandboxClient, sheets: Any, gc: gspread.Client
) -> None:
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound):
        gc.open_by_key("1doesnotexist")
    sid = create(sheets)
    with pytest.raises(HttpError) as bad_range:
        values(sheets, sid, "Nope!A1")
    assert bad_range.value.status_code == 400
    assert bad_range.value.reason == "Unable to parse range: Nope!A1"
    with pytest.raises(HttpError) as not_found:
        sheets.get(spreadsheetId="1missing").execute()
    assert not_found.value.status_code == 404
    assert not_found.value.reason == "Requested entity was not found."

    # a batchUpdate is all or nothing: the added sheet is not kept when a later request fails
    with pytest.raises(HttpError) as failed:
        sheets.batchUpdate(
            spreadsheetId=sid,
            body={
                "requests": [
                    {"addSheet": {"properties": {"title": "New"}}},
                    {"deleteSheet": {"sheetId": 999}},
                ]
            },
        ).execute()
    assert "requests[1].deleteSheet: No grid with id: 999" in str(failed.value.reason)
    assert [ws.title for ws in gc.open_by_key(sid).worksheets()] == ["Sheet1"]
    with pytest.raises(HttpError) as too_far:
        sheets.values().update(
            spreadsheetId=sid,
            range="Sheet1!Z1000",
            valueInputOption="RAW",
            body={"values": [["a", "b"]]},
        ).execute()
    assert "exceeds grid limits" in str(too_far.value.reason)


def test_write_quota_per_user_answers_429(
    sandbox: SandboxClient, sheets: Any, gc: gspread.Client
) -> None:
    sid = create(sheets)
    ws = gc.open_by_key(sid).sheet1
    # the counters run even while quotas are off: the create above is the first write
    sandbox.set_quotas(True, {"google.sheets-write-per-user": 3})
    ws.update([["a"]], "A1")
    ws.update([["b"]], "A2")
    with pytest.raises(gspread.exceptions.APIError) as throttled:
        ws.update([["c"]], "A3")
    assert throttled.value.code == 429
    assert throttled.value.error["status"] == "RESOURCE_EXHAUSTED"
    assert ws.get_all_values() == [["a"], ["b"]]  # reads have their own quota
    log = sandbox.requests(service="sheets", status=429)
    assert [r["quota"] for r in log] == ["google.sheets-write-per-user"]


def test_faults_status_drop_and_after_commit(sandbox: SandboxClient, sheets: Any) -> None:
    sid = create(sheets)
    batch = f"/google/v4/spreadsheets/{sid}/values:batchUpdate"
    body = {"valueInputOption": "RAW", "data": [{"range": "A1", "values": [["written"]]}]}

    sandbox.add_fault(batch, method="POST", status=503, retry_after=1)
    with pytest.raises(HttpError) as unavailable:
        sheets.values().batchUpdate(spreadsheetId=sid, body=body).execute()
    assert unavailable.value.status_code == 503
    assert values(sheets, sid, "A1") == []

    sandbox.add_fault(batch, method="POST", kind="drop")
    with pytest.raises(requests.ConnectionError):
        sheets.values().batchUpdate(spreadsheetId=sid, body=body).execute()
    assert values(sheets, sid, "A1") == []

    sandbox.add_fault(batch, method="POST", status=500, after_commit=True)
    with pytest.raises(HttpError):
        sheets.values().batchUpdate(spreadsheetId=sid, body=body).execute()
    assert values(sheets, sid, "A1") == [["written"]]  # the write happened; a retry is harmless
    assert sandbox.writes(path=batch) == 3


def test_gspread_opens_a_sheet_by_title_with_its_own_drive_queries(
    sandbox: SandboxClient, gc: gspread.Client, google: GoogleWorkspaceConnection
) -> None:
    # gspread searches Drive with double-quoted strings and `parents in "<id>"`
    roster = gc.open("PS Skills Matrix")
    assert roster.worksheet("PSEs").row_values(1)[0] == "Email"
    folder = (
        google.drive()
        .files()
        .list(q="name = 'PS Operations' and mimeType = 'application/vnd.google-apps.folder'")
        .execute()["files"][0]
    )
    assert gc.open("PS Skills Matrix", folder_id=folder["id"]).id == roster.id
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound):
        gc.open("PS Skills Matrix", folder_id="1nosuchfolder")
