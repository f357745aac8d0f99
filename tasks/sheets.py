"""Google Sheets tasks: the PS skills matrix, and the engagement's cost estimate sheet.

Reads are batched (one values.batchGet per task) because the Sheets API allows only 60 read and 60
write requests a minute per user; a batch counts as one. Writes fill only empty cells, so a re-run
makes no write and keeps what people typed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from engagement.cost_estimate import ESTIMATE_TAB, cells_to_fill, parse, quote_sheet
from engagement.models import CostEstimate, Partner, Pse
from engagement.project_definition import Table, rows_to_clear, rows_to_write
from engagement.staffing import Roster
from tasks.calls import calling, outside_task, read_task
from tasks.clients import systems
from tasks.drive import SPREADSHEET, find_file, quoted

SYSTEM = "Google Sheets"
PSES_TAB = "PSEs"
PARTNERS_TAB = "Partners"

# Skills matrix columns, found by their header (row 1), so ops may reorder or add columns.
PSE_COLUMNS = {
    "Email": "email",
    "Name": "name",
    "Title": "title",
    "Time zone": "time_zone",
    "Skills": "skills",
    "Growth goals": "growth_goals",
    "Personality & communication": "traits",
}
PARTNER_COLUMNS = {"Partner": "name", "Email": "email", "Skills": "skills"}

M = TypeVar("M", bound=BaseModel)


@read_task("read skills matrix")
def get_roster() -> Roster:
    """The PSEs and partners in the skills matrix (`PsflowSettings.skills_matrix`): one Drive
    look-up of the sheet by name, one read of both tabs.

    Raises:
        ValueError: naming the sheet, tab, row and column of every cell psflow cannot use, e.g.
            "PS Skills Matrix › PSEs row 7 (Time zone): must be an IANA time zone name ...".
    """
    title = systems().settings.skills_matrix
    query = f"name = {quoted(title)} and mimeType = '{SPREADSHEET}'"
    matrix = find_file(query, f"spreadsheet {title!r}")
    tabs = [quote_sheet(PSES_TAB), quote_sheet(PARTNERS_TAB)]
    with calling(SYSTEM, f"tabs {PSES_TAB} and {PARTNERS_TAB} of {title!r}"):
        answer = (
            systems()
            .sheets()
            .spreadsheets()
            .values()
            .batchGet(spreadsheetId=matrix["id"], ranges=tabs, valueRenderOption="FORMATTED_VALUE")
            .execute()
        )
    pse_rows, partner_rows = (block.get("values", []) for block in answer["valueRanges"])
    pses, bad_pses = records(f"{title} › {PSES_TAB}", pse_rows, Pse, PSE_COLUMNS)
    partners, bad_partners = records(
        f"{title} › {PARTNERS_TAB}", partner_rows, Partner, PARTNER_COLUMNS
    )
    if bad_pses or bad_partners:  # every bad cell at once, so one visit to the sheet fixes all
        raise ValueError("\n".join([*bad_pses, *bad_partners]))
    return Roster(pses=pses, partners=partners)


def records(
    where: str, rows: Sequence[Sequence[Any]], model: type[M], columns: dict[str, str]
) -> tuple[tuple[M, ...], list[str]]:
    """One `model` per non-blank row below the header row, its fields taken from `columns`
    ({header: field}; an empty cell leaves the field to its default), and what is wrong with the
    others, one line per bad cell: "<where> row <n> (<column>): <what is wrong>"."""
    header = [" ".join(str(cell).split()).casefold() for cell in (rows[0] if rows else [])]
    missing = [name for name in columns if name.casefold() not in header]
    if missing:
        return (), [f"{where}: no column {', '.join(map(repr, missing))} in row 1"]
    position = {field: header.index(name.casefold()) for name, field in columns.items()}
    heading = {field: name for name, field in columns.items()}
    found, problems = [], []
    for number, row in enumerate(rows[1:], start=2):
        cells = {f: str(row[i]).strip() for f, i in position.items() if i < len(row)}
        if not any(cells.values()):
            continue  # a blank row between people
        try:
            found.append(model.model_validate({f: v for f, v in cells.items() if v}))
        except ValidationError as err:
            for error in err.errors():
                column = heading.get(str(error["loc"][0]), "?") if error["loc"] else "?"
                text = "is empty" if error["type"] == "missing" else error["msg"]
                problems.append(
                    f"{where} row {number} ({column}): {text.removeprefix('Value error, ')}"
                )
    return tuple(found), problems


@outside_task("prefill sheet")
def ensure_prefilled(spreadsheet_id: str, wanted: dict[str, list[list[Any]]]) -> int:
    """Write `wanted` ({A1 range: rows}, see `engagement.cost_estimate.prefill`) into the
    spreadsheet's EMPTY cells only: one read of the ranges, at most one write.

    Returns:
        How many cells were written: 0 on a re-run, whatever people have typed since.
    """
    if not wanted:
        return 0
    ranges = list(wanted)
    values = systems().sheets().spreadsheets().values()
    with calling(SYSTEM, f"pre-fill of spreadsheet {spreadsheet_id}"):
        # FORMULA: a formula whose result is blank is still a person's cell
        answer = values.batchGet(
            spreadsheetId=spreadsheet_id, ranges=ranges, valueRenderOption="FORMULA"
        ).execute()
        current = {
            r: block.get("values", [])
            for r, block in zip(ranges, answer["valueRanges"], strict=True)
        }
        fill = cells_to_fill(current, wanted)
        if fill:
            data = [{"range": cells, "values": value} for cells, value in fill.items()]
            body = {"valueInputOption": "USER_ENTERED", "data": data}
            values.batchUpdate(spreadsheetId=spreadsheet_id, body=body).execute()
    return len(fill)


@outside_task("write rows of {rows}")
def ensure_rows(
    spreadsheet_id: str,
    rows: Mapping[Table, Sequence[Sequence[Any]]],
    cleared: Mapping[Table, Collection[str]] | None = None,
) -> int:
    """`rows` in each tab that is a table (a header row first): a row found by its key has only
    its empty cells filled (every differing cell, in a table psflow owns); a row not there is
    appended; the rows whose key is `cleared` in a table of `rows` are emptied. One read of
    every table; at most one fill for them all and an append per table (and the tabs
    themselves, when the spreadsheet was copied before the template had them).

    Returns:
        How many cells and rows were written: 0 on a re-run, whatever people typed since.
    """
    tables = list(rows)
    sheets = systems().sheets().spreadsheets()
    with calling(SYSTEM, f"tabs {', '.join(map(str, tables))} of spreadsheet {spreadsheet_id}"):
        current = _tables(spreadsheet_id, tables)
        fill: dict[str, list[list[Any]]] = {}
        appends = {}
        for table in tables:
            filled, append = rows_to_write(
                table, current[table] or [list(table.header)], rows[table]
            )
            fill |= filled | rows_to_clear(table, current[table], (cleared or {}).get(table, ()))
            if append and not current[table]:
                append.insert(0, list(table.header))
            if append:
                appends[table] = append
        if fill:
            data = [{"range": cell, "values": value} for cell, value in fill.items()]
            body = {"valueInputOption": "USER_ENTERED", "data": data}
            sheets.values().batchUpdate(spreadsheetId=spreadsheet_id, body=body).execute()
        for table, append in appends.items():
            sheets.values().append(
                spreadsheetId=spreadsheet_id,
                range=table.columns,
                valueInputOption="USER_ENTERED",
                insertDataOption="INSERT_ROWS",
                body={"values": append},
            ).execute()
    return len(fill) + sum(map(len, appends.values()))


@read_task("read {tables} of spreadsheet {spreadsheet_id}")
def get_tables(spreadsheet_id: str, tables: Sequence[Table]) -> dict[Table, list[list[Any]]]:
    """Each table as it stands, its header row first, in one read (a tab the spreadsheet lacks
    reads as empty: a read writes nothing)."""
    with calling(SYSTEM, f"tabs {', '.join(map(str, tables))} of spreadsheet {spreadsheet_id}"):
        found = _read_tables(spreadsheet_id, tables)
    return {table: rows or [] for table, rows in found.items()}


def _tables(spreadsheet_id: str, tables: Sequence[Table]) -> dict[Table, list[list[Any]]]:
    """Each table as it stands (its header row first; empty when the tab is), one read; a tab
    missing (the spreadsheet was copied before the template had it) is added, empty."""
    found = _read_tables(spreadsheet_id, tables)
    if add := [
        {"addSheet": {"properties": {"title": t.tab}}} for t, rows in found.items() if rows is None
    ]:
        body = {"requests": add}
        systems().sheets().spreadsheets().batchUpdate(
            spreadsheetId=spreadsheet_id, body=body
        ).execute()
    return {table: rows or [] for table, rows in found.items()}


def _read_tables(
    spreadsheet_id: str, tables: Sequence[Table]
) -> dict[Table, list[list[Any]] | None]:
    """Each table as it stands, its header row first (formulas as written: a formula whose result
    is blank is still a person's cell); None for a tab the spreadsheet lacks. One read; when a
    tab is missing, the spreadsheet's tabs first."""
    from googleapiclient.errors import HttpError  # loaded with the client

    sheets = systems().sheets().spreadsheets()

    def read(present: Sequence[Table]) -> dict[Table, list[list[Any]]]:
        if not present:
            return {}
        ranges = [table.columns for table in present]
        answer = (
            sheets.values()
            .batchGet(spreadsheetId=spreadsheet_id, ranges=ranges, valueRenderOption="FORMULA")
            .execute()
        )
        blocks = answer.get("valueRanges", [])
        return {
            table: block.get("values", []) for table, block in zip(present, blocks, strict=True)
        }

    try:
        found = read(tables)
    except HttpError as error:
        if error.status_code != 400 or "Unable to parse range" not in str(error):
            raise
        book = sheets.get(spreadsheetId=spreadsheet_id, fields="sheets.properties.title").execute()
        tabs = {sheet["properties"]["title"] for sheet in book.get("sheets", [])}
        found = read([table for table in tables if table.tab in tabs])
    return {table: found.get(table) for table in tables}


@read_task("read cost estimate")
def get_cost_estimate(spreadsheet_id: str, opportunity_id: str) -> CostEstimate:
    """The cost estimate in the spreadsheet's Estimate tab (one read).

    Raises:
        ValueError: naming the cell to fix, e.g. "Estimate!C13: effort 'abc' is not a number".
    """
    with calling(SYSTEM, f"cost estimate {spreadsheet_id}"):
        answer = (
            systems()
            .sheets()
            .spreadsheets()
            .values()
            .get(
                spreadsheetId=spreadsheet_id,
                range=quote_sheet(ESTIMATE_TAB),
                valueRenderOption="UNFORMATTED_VALUE",
                dateTimeRenderOption="FORMATTED_STRING",
            )
            .execute()
        )
    return parse(answer.get("values", []), opportunity_id)
