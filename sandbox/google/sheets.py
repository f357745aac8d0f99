"""Google Sheets API v4 stand-in, on the paths googleapiclient and gspread use.

A spreadsheet is a Drive file (its `name` is the title) plus a `spreadsheet` record under the same
id (see `common`). A cell holds what the user entered: a string, a number, a boolean, or a formula
(a string starting with "="). Text that merely starts with "=" or "'" is stored behind a "'", the
quote prefix Sheets itself uses, so RAW input never turns into a formula.

Every write works on a copy of the spreadsheet and stores it only when the whole request succeeded:
a batchUpdate is all or nothing, as in Sheets.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from sandbox.core import ApiError, Json, Quota, Sandbox, SandboxDep
from sandbox.google import common

router = APIRouter(tags=["google-sheets"])
control: APIRouter | None = None

_PREFIX = "/google/v4/spreadsheets"


def _sheets_read(method: str, path: str) -> bool:
    return path.startswith(_PREFIX) and method == "GET"


def _sheets_write(method: str, path: str) -> bool:
    return path.startswith(_PREFIX) and method != "GET"


# Published limits (https://developers.google.com/sheets/api/limits): read and write requests each
# 300 per minute per project and 60 per minute per user per project; a batchUpdate is one request.
QUOTAS: tuple[Quota, ...] = (
    Quota("google.sheets-read-per-user", "Read requests per minute per user", 60, 60, _sheets_read),
    Quota(
        "google.sheets-write-per-user", "Write requests per minute per user", 60, 60, _sheets_write
    ),
    Quota(
        "google.sheets-read-per-project",
        "Read requests per minute",
        300,
        60,
        _sheets_read,
        per_user=False,
    ),
    Quota(
        "google.sheets-write-per-project",
        "Write requests per minute",
        300,
        60,
        _sheets_write,
        per_user=False,
    ),
)


def quota_error(quota: Quota, wait: float) -> ApiError | None:
    """Sheets answers an exhausted quota with 429 RESOURCE_EXHAUSTED naming the quota, and no
    Retry-After header (Google asks for exponential backoff instead)."""
    if quota not in QUOTAS:
        return None
    metric = "Read requests" if "read" in quota.id else "Write requests"
    return ApiError(
        429,
        f"Quota exceeded for quota metric '{metric}' and limit '{quota.description}' of service "
        "'sheets.googleapis.com' for consumer 'project_number:100000000001'.",
        "rateLimitExceeded",
    )


# --- cells ---------------------------------------------------------------------------------------

Cell = Any  # str | int | float | bool; "" or None is empty
_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][+-]?\d+)?$")


def _is_empty(cell: Cell) -> bool:
    return cell is None or cell == ""


def _user_entered(value: Any) -> Cell:
    """What Sheets stores when a user types `value` (valueInputOption USER_ENTERED): numbers and
    booleans are parsed, "=..." is a formula, a leading "'" keeps the rest as text."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith(("=", "'")):
        return value
    if text and any(c.isdigit() for c in text) and _NUMBER.match(text):
        number = float(text.replace(",", ""))
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE"
    return value


def _raw(value: Any) -> Cell:
    """valueInputOption RAW: stored as given, text never becomes a formula."""
    if isinstance(value, str) and value.startswith(("=", "'")):
        return "'" + value
    return value


def _format_number(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".10g")


# --- A1 notation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridRange:
    """A rectangle of one sheet: rows [row0, row1) and columns [col0, col1), 0-based."""

    sheet: Json
    row0: int
    col0: int
    row1: int
    col1: int

    @property
    def single_cell(self) -> bool:
        return self.row1 - self.row0 == 1 and self.col1 - self.col0 == 1

    def a1(self) -> str:
        """The range as Sheets reports it, e.g. `'Status Report'!A2:F1000`."""
        start = f"{column_letters(self.col0)}{self.row0 + 1}"
        end = f"{column_letters(self.col1 - 1)}{self.row1}"
        cells = start if start == end else f"{start}:{end}"
        return f"{quote_title(self.sheet['title'])}!{cells}"


def column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _column_index(letters: str) -> int:
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - 64
    return index - 1


def quote_title(title: str) -> str:
    """Sheets quotes a title in A1 notation unless it is a plain identifier that cannot be
    mistaken for a cell reference."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title) and not re.fullmatch(
        r"[A-Za-z]{1,3}\d+", title
    ):
        return title
    return "'" + title.replace("'", "''") + "'"


def _split_sheet(text: str) -> tuple[str | None, str]:
    """`'It''s'!A1` -> ("It's", "A1"); `Sheet1!A1` -> ("Sheet1", "A1"); `A1` -> (None, "A1")."""
    if text.startswith("'"):
        chars, i = [], 1
        while i < len(text):
            if text[i] == "'":
                if text[i + 1 : i + 2] == "'":
                    chars.append("'")
                    i += 2
                    continue
                break
            chars.append(text[i])
            i += 1
        else:
            raise ValueError("unterminated quote")
        rest = text[i + 1 :]
        if rest and not rest.startswith("!"):
            raise ValueError("text after the quoted sheet name")
        return "".join(chars), rest[1:]
    if "!" in text:
        name, cells = text.rsplit("!", 1)
        return name, cells
    return None, text


_PART = re.compile(r"\$?([A-Za-z]{0,3})\$?(\d{0,7})")


def _find_sheet(content: Json, title: str) -> Json | None:
    # Titles are unique regardless of case, and ranges name them regardless of case.
    return next((s for s in content["sheets"] if s["title"].lower() == title.lower()), None)


def _first_sheet(content: Json) -> Json:
    return min(content["sheets"], key=lambda s: s["index"])


def parse_range(content: Json, text: str) -> GridRange:
    """Parse A1 notation: `Sheet1!A1:C3`, `'Status Report'!A2:F`, `A1` (first sheet), `A:C`,
    `2:5`, `Sheet1` (the whole sheet). Raises 400 "Unable to parse range" as Sheets does."""
    bad = ApiError(400, f"Unable to parse range: {text}", "badRequest")
    try:
        title, cells = _split_sheet(text.strip())
    except ValueError:
        raise bad from None
    if title is None:
        sheet = _find_sheet(content, cells)
        if sheet is not None:  # a bare sheet title means all of it
            return GridRange(sheet, 0, 0, sheet["rowCount"], sheet["columnCount"])
        sheet = _first_sheet(content)
    else:
        found = _find_sheet(content, title)
        if found is None:
            raise bad
        sheet = found
        if cells == "":
            return GridRange(sheet, 0, 0, sheet["rowCount"], sheet["columnCount"])
    parts = []
    for part in cells.split(":"):
        match = _PART.fullmatch(part)
        if match is None or not (match[1] or match[2]):
            raise bad
        parts.append((match[1], match[2]))
    if len(parts) == 1:
        if not all(parts[0]):
            raise bad  # "A" or "5" alone is neither a cell nor a sheet
        parts.append(parts[0])
    if len(parts) != 2:
        raise bad
    (c1, r1), (c2, r2) = parts
    if (c1 and not r1 and r2 and not c2) or (r1 and not c1 and c2 and not r2):
        raise bad  # "A:5" mixes a column with a row
    col0 = _column_index(c1) if c1 else 0
    row0 = int(r1) - 1 if r1 else 0
    col1 = _column_index(c2) + 1 if c2 else sheet["columnCount"]
    row1 = int(r2) if r2 else sheet["rowCount"]
    if row0 < 0 or row1 < 1:
        raise bad
    col0, col1 = min(col0, col1 - 1), max(col0 + 1, col1)  # "C3:A1" means A1:C3
    row0, row1 = min(row0, row1 - 1), max(row0 + 1, row1)
    return GridRange(sheet, row0, col0, row1, col1)


# --- formulas ------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
    r"|(?P<ref>(?:'(?:[^']|'')+'!|[A-Za-z_][A-Za-z0-9_]*!)?\$?[A-Za-z]{1,3}\$?\d+"
    r"(?::\$?[A-Za-z]{1,3}\$?\d+)?)(?![A-Za-z0-9_(])"
    r"|(?P<func>[A-Za-z][A-Za-z0-9.]*)\s*\("
    r"|(?P<op>[-+*/(),]))"
)
_FUNCTIONS: dict[str, Callable[[list[float]], float]] = {
    "SUM": sum,
    "MIN": lambda xs: min(xs, default=0),
    "MAX": lambda xs: max(xs, default=0),
    "COUNT": lambda xs: float(len(xs)),
    "AVERAGE": lambda xs: sum(xs) / len(xs),
}


class _FormulaError(Exception):
    pass


class _Formula:
    """A small evaluator for the formulas a cost estimate needs: numbers, cell references and
    ranges (also on other sheets), + - * / and parentheses, SUM MIN MAX COUNT AVERAGE. Anything
    else evaluates to #ERROR! rather than to a wrong number."""

    def __init__(self, content: Json, sheet: Json, text: str, depth: int) -> None:
        self.content, self.sheet, self.depth = content, sheet, depth
        self.tokens: list[tuple[str, str]] = []
        pos, text = 0, text.strip()
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if not match or match.end() == pos:
                raise _FormulaError(text[pos:])
            kind = match.lastgroup or ""
            self.tokens.append((kind, match[kind]))
            pos = match.end()
        self.pos = 0

    def evaluate(self) -> float:
        value = self._sum()
        if self.pos != len(self.tokens):
            raise _FormulaError("trailing tokens")
        return value

    def _peek(self) -> str:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else ""

    def _sum(self) -> float:
        value = self._product()
        while self._peek() in ("+", "-"):
            op = self._peek()
            self.pos += 1
            rhs = self._product()
            value = value + rhs if op == "+" else value - rhs
        return value

    def _product(self) -> float:
        value = self._unary()
        while self._peek() in ("*", "/"):
            op = self._peek()
            self.pos += 1
            rhs = self._unary()
            if op == "/" and rhs == 0:
                raise _FormulaError("#DIV/0!")
            value = value * rhs if op == "*" else value / rhs
        return value

    def _unary(self) -> float:
        if self._peek() in ("-", "+"):
            sign = -1 if self._peek() == "-" else 1
            self.pos += 1
            return sign * self._unary()
        return self._atom()

    def _atom(self) -> float:
        if self.pos >= len(self.tokens):
            raise _FormulaError("unexpected end")
        kind, text = self.tokens[self.pos]
        self.pos += 1
        if kind == "num":
            return float(text)
        if kind == "ref":
            values = self._values(text)
            return values[0] if values else 0.0
        if kind == "func":
            return self._call(text.upper())
        if text == "(":
            value = self._sum()
            self._expect(")")
            return value
        raise _FormulaError(text)

    def _expect(self, text: str) -> None:
        if self._peek() != text:
            raise _FormulaError(f"expected {text}")
        self.pos += 1

    def _call(self, name: str) -> float:
        if name not in _FUNCTIONS:
            raise _FormulaError(name)
        args: list[float] = []
        while self._peek() != ")":
            kind, text = self.tokens[self.pos] if self.pos < len(self.tokens) else ("", "")
            if kind == "ref":
                self.pos += 1
                args.extend(self._values(text))
            else:
                args.append(self._sum())
            if self._peek() == ",":
                self.pos += 1
            elif self._peek() != ")":
                raise _FormulaError("expected , or )")
        self._expect(")")
        return float(_FUNCTIONS[name](args))

    def _values(self, ref: str) -> list[float]:
        """The numbers in a referenced cell or range; text and empty cells are skipped."""
        title, cells = _split_sheet(ref.replace("$", ""))
        target = self.sheet if title is None else _find_sheet(self.content, title)
        if target is None:
            raise _FormulaError("#REF!")
        grid = parse_range({"sheets": [target]}, f"{quote_title(target['title'])}!{cells}")
        numbers = []
        for row in grid.sheet["rows"][grid.row0 : grid.row1]:
            for cell in row[grid.col0 : grid.col1]:
                value = _effective(self.content, target, cell, self.depth + 1)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    numbers.append(float(value))
        return numbers


def _effective(content: Json, sheet: Json, cell: Cell, depth: int = 0) -> Cell:
    """A cell's value after evaluation: the formula's result, the text behind a quote prefix."""
    if isinstance(cell, str) and cell.startswith("'"):
        return cell[1:]
    if isinstance(cell, str) and cell.startswith("="):
        if depth > 50:  # a reference cycle
            return "#REF!"
        try:
            result = _Formula(content, sheet, cell[1:], depth).evaluate()
        except _FormulaError as err:
            return str(err) if str(err).startswith("#") else "#ERROR!"
        except (ZeroDivisionError, OverflowError, ValueError):
            return "#ERROR!"
        if math.isfinite(result) and result.is_integer() and abs(result) < 2**53:
            return int(result)
        return result
    return cell


def render(content: Json, sheet: Json, cell: Cell, option: str) -> Cell:
    """One cell as values.get returns it under `valueRenderOption`."""
    if _is_empty(cell):
        return ""
    if option == "FORMULA" and isinstance(cell, str) and cell.startswith("="):
        return cell
    value = _effective(content, sheet, cell)
    if option in ("UNFORMATTED_VALUE", "FORMULA"):
        # Sheets keeps doubles; JSON shows a whole one without ".0"
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return _format_number(value)
    return value


def _cell_data(content: Json, sheet: Json, cell: Cell) -> Json:
    """CellData for includeGridData: userEnteredValue, effectiveValue, formattedValue."""
    if _is_empty(cell):
        return {}

    def typed(value: Cell) -> Json:
        if isinstance(value, bool):
            return {"boolValue": value}
        if isinstance(value, (int, float)):
            return {"numberValue": value}
        if isinstance(value, str) and value.startswith("#"):
            return {"errorValue": {"type": "ERROR", "message": value}}
        return {"stringValue": value}

    entered = (
        {"formulaValue": cell}
        if isinstance(cell, str) and cell.startswith("=")
        else typed(_effective(content, sheet, cell))
    )
    return {
        "userEnteredValue": entered,
        "effectiveValue": typed(_effective(content, sheet, cell)),
        "formattedValue": render(content, sheet, cell, "FORMATTED_VALUE"),
    }


# --- reading and writing grids -------------------------------------------------------------------


def _trim(values: list[Any]) -> list[Any]:
    """Drop trailing empties, as Sheets does for cells in a row and rows in a range."""
    end = len(values)
    while end and (values[end - 1] == "" or values[end - 1] == []):
        end -= 1
    return values[:end]


def read_values(content: Json, grid: GridRange, option: str, major: str) -> list[list[Any]]:
    rows = grid.sheet["rows"][grid.row0 : grid.row1]
    matrix = [
        [render(content, grid.sheet, cell, option) for cell in row[grid.col0 : grid.col1]]
        for row in rows
    ]
    if major == "COLUMNS":
        width = max((len(r) for r in matrix), default=0)
        padded = [r + [""] * (width - len(r)) for r in matrix]
        matrix = [list(col) for col in zip(*padded, strict=True)] if padded else []
    return _trim([_trim(row) for row in matrix])


def value_range(content: Json, grid: GridRange, option: str, major: str) -> Json:
    out: Json = {"range": grid.a1(), "majorDimension": major}
    values = read_values(content, grid, option, major)
    if values:
        out["values"] = values
    return out


def _grid_limits(grid: GridRange, row: int, col: int) -> ApiError:
    sheet = grid.sheet
    where = f"{quote_title(sheet['title'])}!{column_letters(col)}{row + 1}"
    return ApiError(
        400,
        f"Range ({where}) exceeds grid limits. Max rows: {sheet['rowCount']}, "
        f"max columns: {sheet['columnCount']}",
        "badRequest",
    )


def _set_cell(sheet: Json, row: int, col: int, cell: Cell) -> None:
    rows = sheet["rows"]
    while len(rows) <= row:
        rows.append([])
    line = rows[row]
    if col >= len(line):
        if _is_empty(cell):
            return
        line.extend([""] * (col + 1 - len(line)))
    line[col] = "" if cell is None else cell


def write_values(grid: GridRange, values: list[list[Any]], input_option: str, major: str) -> Json:
    """values.update on one range; returns the UpdateValuesResponse counts."""
    if input_option not in ("RAW", "USER_ENTERED"):
        raise ApiError(400, f"Invalid valueInputOption: {input_option}", "badRequest")
    convert = _raw if input_option == "RAW" else _user_entered
    rows = [list(r) if isinstance(r, list) else [r] for r in values]
    if major == "COLUMNS":
        width = max((len(r) for r in rows), default=0)
        rows = [[r[i] if i < len(r) else None for r in rows] for i in range(width)]
    height, width = len(rows), max((len(r) for r in rows), default=0)
    if not grid.single_cell:  # a single cell only anchors the write; a larger range bounds it
        if height > grid.row1 - grid.row0:
            raise ApiError(
                400,
                f"Requested writing within range [{grid.a1()}], but tried writing to row "
                f"[{grid.row0 + height}]",
                "badRequest",
            )
        if width > grid.col1 - grid.col0:
            raise ApiError(
                400,
                f"Requested writing within range [{grid.a1()}], but tried writing to column "
                f"[{column_letters(grid.col0 + width - 1)}]",
                "badRequest",
            )
    sheet = grid.sheet
    if height and grid.row0 + height > sheet["rowCount"]:
        raise _grid_limits(grid, grid.row0 + height - 1, grid.col0)
    if width and grid.col0 + width > sheet["columnCount"]:
        raise _grid_limits(grid, grid.row0, grid.col0 + width - 1)
    cells = 0
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:  # JSON null: leave the cell as it is
                continue
            if isinstance(value, (dict, list)):
                raise ApiError(400, "Invalid values: a cell must be a string, number or bool")
            _set_cell(sheet, grid.row0 + r, grid.col0 + c, convert(value))
            cells += 1
    written = GridRange(sheet, grid.row0, grid.col0, grid.row0 + height, grid.col0 + width)
    out: Json = {"updatedRows": height, "updatedColumns": width, "updatedCells": cells}
    if height and width:
        out = {"updatedRange": written.a1(), **out}
    return out


def clear_values(grid: GridRange) -> None:
    for row in grid.sheet["rows"][grid.row0 : grid.row1]:
        for c in range(grid.col0, min(grid.col1, len(row))):
            row[c] = ""


# --- the spreadsheet resource --------------------------------------------------------------------


def _load(sb: Sandbox, spreadsheet_id: str) -> tuple[Json, Json]:
    """The Drive file and a working copy of the content; 404 as Sheets gives it."""
    file = sb.store.get(common.SYSTEM, "file", spreadsheet_id)
    content = sb.store.get(common.SYSTEM, "spreadsheet", spreadsheet_id)
    if file is None or content is None:
        raise ApiError(404, "Requested entity was not found.", "notFound")
    return copy.deepcopy(file), copy.deepcopy(content)


def _commit(sb: Sandbox, file: Json, content: Json) -> None:
    file["modifiedTime"] = common.now_rfc3339(sb)
    sb.store.put(common.SYSTEM, "spreadsheet", file["id"], content)
    sb.store.put(common.SYSTEM, "file", file["id"], file)


def sheet_properties(sheet: Json) -> Json:
    return {
        "sheetId": sheet["sheetId"],
        "title": sheet["title"],
        "index": sheet["index"],
        "sheetType": "GRID",
        "gridProperties": {"rowCount": sheet["rowCount"], "columnCount": sheet["columnCount"]},
    }


def _grid_data(content: Json, grid: GridRange) -> Json:
    rows = grid.sheet["rows"][grid.row0 : grid.row1]
    row_data = [
        {"values": [_cell_data(content, grid.sheet, c) for c in row[grid.col0 : grid.col1]]}
        for row in rows
    ]
    while row_data and not any(row_data[-1]["values"]):
        row_data.pop()
    data: Json = {"rowData": [r if any(r["values"]) else {} for r in row_data]}
    if grid.row0:
        data["startRow"] = grid.row0
    if grid.col0:
        data["startColumn"] = grid.col0
    return data


def spreadsheet_resource(
    request: Request,
    file: Json,
    content: Json,
    include_grid: bool = False,
    ranges: list[str] | None = None,
) -> Json:
    grids = [parse_range(content, r) for r in ranges or []]
    sheets = []
    for sheet in sorted(content["sheets"], key=lambda s: s["index"]):
        mine = [g for g in grids if g.sheet["sheetId"] == sheet["sheetId"]]
        if grids and not mine:
            continue  # with `ranges`, only the sheets they name
        entry: Json = {"properties": sheet_properties(sheet)}
        if include_grid:
            whole = GridRange(sheet, 0, 0, sheet["rowCount"], sheet["columnCount"])
            entry["data"] = [_grid_data(content, g) for g in mine or [whole]]
        sheets.append(entry)
    return {
        "spreadsheetId": file["id"],
        "properties": {
            "title": file["name"],
            "locale": content.get("locale", "en_US"),
            "autoRecalc": "ON_CHANGE",
            "timeZone": content.get("timeZone", "Etc/GMT"),
            "defaultFormat": {
                "backgroundColor": {"red": 1, "green": 1, "blue": 1},
                "verticalAlignment": "BOTTOM",
                "wrapStrategy": "OVERFLOW_CELL",
                "textFormat": {"fontFamily": "arial", "fontSize": 10},
            },
        },
        "sheets": sheets,
        "spreadsheetUrl": common.view_link(request, file),
    }


def _parse_mask(mask: str) -> Json:
    """A field mask ("a,b.c,sheets(properties(title))", "/" same as ".") as a tree of dicts;
    an empty dict means the whole value."""
    tree: Json = {}
    stack, node, token = [tree], tree, ""

    def close_token() -> None:
        nonlocal token, node
        if token:
            parts = token.replace("/", ".").split(".")
            for part in parts:
                node = node.setdefault(part, {})
        token = ""

    for char in mask.replace(" ", ""):
        if char == "(":
            close_token()
            stack.append(node)
        elif char in ",)":
            close_token()
            if char == ")":
                stack.pop()
            node = stack[-1]
        else:
            token += char
    close_token()
    return tree


def _project(value: Any, tree: Json) -> Any:
    if not tree or "*" in tree:
        return value
    if isinstance(value, list):
        return [_project(v, tree) for v in value]
    if isinstance(value, dict):
        return {k: _project(v, tree[k]) for k, v in value.items() if k in tree}
    return value


def apply_fields(resource: Json, fields: str | None) -> Json:
    """The `fields` system parameter: only the named parts of the answer."""
    if not fields:
        return resource
    projected: Json = _project(resource, _parse_mask(fields))
    return projected


# --- routes: spreadsheets ------------------------------------------------------------------------

BodyDep = Annotated[Json | None, Body()]


def _flag(request: Request, name: str) -> bool:
    # googleapiclient sends "true"/"false", gspread Python's "True"/"False"
    return request.query_params.get(name, "false").lower() == "true"


@router.post("/v4/spreadsheets")
async def create_spreadsheet(sb: SandboxDep, request: Request, body: BodyDep = None) -> Json:
    """spreadsheets.create: a new Drive file with its sheets (default one "Sheet1")."""
    body = body or {}
    title = (body.get("properties") or {}).get("title") or "Untitled spreadsheet"
    specs = body.get("sheets") or [{"properties": {"title": "Sheet1"}}]
    tabs: dict[str, Iterable[Sequence[Any]]] = {}
    for i, spec in enumerate(specs):
        props = spec.get("properties") or {}
        name = props.get("title") or f"Sheet{i + 1}"
        if name.lower() in (t.lower() for t in tabs):
            raise ApiError(400, f'Invalid sheets[{i}]: Duplicate sheet name "{name}".')
        tabs[name] = []
    file = common.new_spreadsheet(sb, title, tabs)
    file, content = copy.deepcopy(file), sb.store.get(common.SYSTEM, "spreadsheet", file["id"])
    assert content is not None
    for sheet, spec in zip(content["sheets"], specs, strict=True):
        props = spec.get("properties") or {}
        grid = props.get("gridProperties") or {}
        sheet["rowCount"] = int(grid.get("rowCount", sheet["rowCount"]))
        sheet["columnCount"] = int(grid.get("columnCount", sheet["columnCount"]))
        if "sheetId" in props:
            sheet["sheetId"] = int(props["sheetId"])
        for block in spec.get("data") or []:
            start_row, start_col = block.get("startRow", 0), block.get("startColumn", 0)
            for r, row in enumerate(block.get("rowData") or []):
                for c, cell in enumerate(row.get("values") or []):
                    value = _entered_value(cell.get("userEnteredValue"))
                    if value is not None:
                        _set_cell(sheet, start_row + r, start_col + c, value)
    if "properties" in body:
        content["locale"] = body["properties"].get("locale", content["locale"])
        content["timeZone"] = body["properties"].get("timeZone", content["timeZone"])
    _commit(sb, file, content)
    return spreadsheet_resource(request, file, content)


@router.get("/v4/spreadsheets/{spreadsheet_id}")
async def get_spreadsheet(sb: SandboxDep, request: Request, spreadsheet_id: str) -> Json:
    """spreadsheets.get with includeGridData, ranges and fields."""
    file, content = _load(sb, spreadsheet_id)
    fields = request.query_params.get("fields")
    wants_data = "data" in _parse_mask(fields or "").get("sheets", {})
    resource = spreadsheet_resource(
        request,
        file,
        content,
        include_grid=_flag(request, "includeGridData") or wants_data,
        ranges=request.query_params.getlist("ranges"),
    )
    return apply_fields(resource, fields)


@router.post("/v4/spreadsheets/{spreadsheet_id}:batchUpdate")
async def batch_update(
    sb: SandboxDep, request: Request, spreadsheet_id: str, body: BodyDep = None
) -> Json:
    """spreadsheets.batchUpdate: all requests apply, or none (the first error is the answer)."""
    file, content = _load(sb, spreadsheet_id)
    body = body or {}
    replies = []
    for i, item in enumerate(body.get("requests") or []):
        if not isinstance(item, dict) or len(item) != 1:
            raise ApiError(400, f"Invalid requests[{i}]: exactly one kind of request expected.")
        kind, spec = next(iter(item.items()))
        handler = _REQUESTS.get(kind)
        if handler is None and kind not in _FORMAT_ONLY:
            raise ApiError(
                400,
                f"Invalid JSON payload received. Unknown name \"{kind}\" at 'requests[{i}]': "
                "Cannot find field.",
                "badRequest",
            )
        try:
            replies.append(handler(sb, file, content, spec or {}) if handler else {})
        except _RequestError as err:
            raise ApiError(400, f"Invalid requests[{i}].{kind}: {err}", "badRequest") from None
    _commit(sb, file, content)
    out: Json = {"spreadsheetId": spreadsheet_id, "replies": replies}
    if body.get("includeSpreadsheetInResponse"):
        out["updatedSpreadsheet"] = spreadsheet_resource(
            request,
            file,
            content,
            include_grid=bool(body.get("responseIncludeGridData")),
            ranges=body.get("responseRanges"),
        )
    return out


class _RequestError(Exception):
    """A batchUpdate request that Sheets refuses; the route adds `Invalid requests[i].kind:`."""


def _sheet_by_id(content: Json, sheet_id: Any) -> Json:
    sheet = next((s for s in content["sheets"] if s["sheetId"] == sheet_id), None)
    if sheet is None:
        raise _RequestError(f"No grid with id: {sheet_id}")
    return sheet


def _reindex(content: Json, moved: Json | None = None, index: int | None = None) -> None:
    order = sorted(content["sheets"], key=lambda s: s["index"])
    if moved is not None and index is not None:
        order.remove(moved)
        order.insert(max(0, min(index, len(order))), moved)
    for i, sheet in enumerate(order):
        sheet["index"] = i


def _check_title(content: Json, title: str, sheet: Json | None = None) -> None:
    other = _find_sheet(content, title)
    if other is not None and other is not sheet:
        raise _RequestError(
            f'A sheet with the name "{title}" already exists. Please enter another name.'
        )


def _add_sheet(sb: Sandbox, file: Json, content: Json, spec: Json) -> Json:
    props = spec.get("properties") or {}
    titles = {s["title"].lower() for s in content["sheets"]}
    title = props.get("title") or next(
        f"Sheet{n}" for n in range(1, 10_000) if f"sheet{n}" not in titles
    )
    _check_title(content, title)
    sheet_id = props.get("sheetId")
    if sheet_id is None:
        sheet_id = sb.store.next_id("google.sheetId", 100_000_000)
    elif any(s["sheetId"] == sheet_id for s in content["sheets"]):
        raise _RequestError(f"Sheet with id {sheet_id} already exists.")
    grid = props.get("gridProperties") or {}
    sheet: Json = {
        "sheetId": int(sheet_id),
        "title": title,
        "index": len(content["sheets"]),
        "rowCount": int(grid.get("rowCount", 1000)),
        "columnCount": int(grid.get("columnCount", 26)),
        "rows": [],
    }
    content["sheets"].append(sheet)
    _reindex(content, sheet, props.get("index"))
    return {"addSheet": {"properties": sheet_properties(sheet)}}


def _delete_sheet(sb: Sandbox, file: Json, content: Json, spec: Json) -> Json:
    sheet = _sheet_by_id(content, spec.get("sheetId"))
    if len(content["sheets"]) == 1:
        raise _RequestError("You can't remove all the sheets in a document.")
    content["sheets"].remove(sheet)
    _reindex(content)
    return {}


def _fields(spec: Json) -> set[str]:
    fields = spec.get("fields")
    if not fields:
        raise _RequestError("At least one field must be specified in 'fields'.")
    return {f.strip().replace("/", ".") for f in str(fields).split(",")}


def _resize(sheet: Json, rows: int | None = None, cols: int | None = None) -> None:
    if rows is not None:
        sheet["rowCount"] = int(rows)
        del sheet["rows"][int(rows) :]
    if cols is not None:
        sheet["columnCount"] = int(cols)
        for row in sheet["rows"]:
            del row[int(cols) :]


def _update_sheet_properties(sb: Sandbox, file: Json, content: Json, spec: Json) -> Json:
    props = spec.get("properties") or {}
    sheet = _sheet_by_id(content, props.get("sheetId", 0))
    fields = _fields(spec)
    every = "*" in fields
    grid = props.get("gridProperties") or {}
    if (every or "title" in fields) and "title" in props:
        _check_title(content, props["title"], sheet)
        sheet["title"] = props["title"]
    if (every or "index" in fields) and "index" in props:
        _reindex(content, sheet, int(props["index"]))
    if every or "gridProperties" in fields or "gridProperties.rowCount" in fields:
        _resize(sheet, rows=grid.get("rowCount"))
    if every or "gridProperties" in fields or "gridProperties.columnCount" in fields:
        _resize(sheet, cols=grid.get("columnCount"))
    return {}


def _update_spreadsheet_properties(sb: Sandbox, file: Json, content: Json, spec: Json) -> Json:
    props = spec.get("properties") or {}
    fields = _fields(spec)
    every = "*" in fields
    if (every or "title" in fields) and props.get("title"):
        file["name"] = props["title"]  # the one title lives on the Drive file
    for key in ("locale", "timeZone"):
        if (every or key in fields) and key in props:
            content[key] = props[key]
    return {}


def _dimension(spec: Json) -> str:
    dimension = str(spec.get("dimension"))
    if dimension not in ("ROWS", "COLUMNS"):
        raise _RequestError("dimension must be ROWS or COLUMNS")
    return dimension


def _append_dimension(sb: Sandbox, file: Json, content: Json, spec: Json) -> Json:
    sheet = _sheet_by_id(content, spec.get("sheetId"))
    length = int(spec.get("length", 0))
    if length < 1:
        raise _RequestError("length must be at least 1")
    if _dimension(spec) == "ROWS":
        sheet["rowCount"] += length
    else:
        sheet["columnCount"] += length
    return {}


def _dimension_range(content: Json, spec: Json) -> tuple[Json, str, int, int]:
    rng = spec.get("range") or {}
    sheet = _sheet_by_id(content, rng.get("sheetId"))
    dimension = _dimension(rng)
    limit = sheet["rowCount"] if dimension == "ROWS" else sheet["columnCount"]
    start, end = int(rng.get("startIndex") or 0), int(rng.get("endIndex") or limit)
    if not 0 <= start < end:
        raise _RequestError("the range is empty")
    return sheet, dimension, start, end


def _insert_dimension(sb: Sandbox, file: Json, content: Json, spec: Json) -> Json:
    sheet, dimension, start, end = _dimension_range(content, spec)
    count = end - start
    if dimension == "ROWS":
        if start < len(sheet["rows"]):
            sheet["rows"][start:start] = [[] for _ in range(count)]
        sheet["rowCount"] += count
    else:
        for row in sheet["rows"]:
            if start < len(row):
                row[start:start] = [""] * count
        sheet["columnCount"] += count
    return {}


def _delete_dimension(sb: Sandbox, file: Json, content: Json, spec: Json) -> Json:
    sheet, dimension, start, end = _dimension_range(content, spec)
    if dimension == "ROWS":
        del sheet["rows"][start:end]
        sheet["rowCount"] -= min(end, sheet["rowCount"]) - start
    else:
        for row in sheet["rows"]:
            del row[start:end]
        sheet["columnCount"] -= min(end, sheet["columnCount"]) - start
    return {}


def _entered_value(value: Json | None) -> Cell:
    """ExtendedValue -> stored cell."""
    if not value:
        return None
    if "formulaValue" in value:
        return str(value["formulaValue"])
    if "stringValue" in value:
        return _raw(value["stringValue"])
    if "numberValue" in value:
        return value["numberValue"]
    if "boolValue" in value:
        return bool(value["boolValue"])
    return None


def _writes_values(spec: Json) -> bool:
    fields = _fields(spec)
    return "*" in fields or any(f.startswith("userEnteredValue") for f in fields)


def _cells_of(rng: Json, sheet: Json) -> Iterator[tuple[int, int]]:
    rows = range(
        int(rng.get("startRowIndex") or 0), int(rng.get("endRowIndex") or sheet["rowCount"])
    )
    cols = range(
        int(rng.get("startColumnIndex") or 0),
        int(rng.get("endColumnIndex") or sheet["columnCount"]),
    )
    for r in rows:
        for c in cols:
            yield r, c


def _repeat_cell(sb: Sandbox, file: Json, content: Json, spec: Json) -> Json:
    rng = spec.get("range") or {}
    sheet = _sheet_by_id(content, rng.get("sheetId", 0))
    if _writes_values(spec):  # formats are accepted and not kept
        value = _entered_value((spec.get("cell") or {}).get("userEnteredValue"))
        for r, c in _cells_of(rng, sheet):
            _set_cell(sheet, r, c, value)
    return {}


def _update_cells(sb: Sandbox, file: Json, content: Json, spec: Json) -> Json:
    if "start" in spec:
        start = spec["start"]
        sheet = _sheet_by_id(content, start.get("sheetId", 0))
        row0, col0 = int(start.get("rowIndex", 0)), int(start.get("columnIndex", 0))
    else:
        rng = spec.get("range") or {}
        sheet = _sheet_by_id(content, rng.get("sheetId", 0))
        row0, col0 = int(rng.get("startRowIndex", 0)), int(rng.get("startColumnIndex", 0))
    if _writes_values(spec):
        for r, row in enumerate(spec.get("rows") or []):
            for c, cell in enumerate(row.get("values") or []):
                if row0 + r >= sheet["rowCount"] or col0 + c >= sheet["columnCount"]:
                    raise _RequestError("the rows exceed the grid limits")
                _set_cell(sheet, row0 + r, col0 + c, _entered_value(cell.get("userEnteredValue")))
    return {}


_REQUESTS: dict[str, Callable[[Sandbox, Json, Json, Json], Json]] = {
    "addSheet": _add_sheet,
    "deleteSheet": _delete_sheet,
    "updateSheetProperties": _update_sheet_properties,
    "updateSpreadsheetProperties": _update_spreadsheet_properties,
    "appendDimension": _append_dimension,
    "insertDimension": _insert_dimension,
    "deleteDimension": _delete_dimension,
    "repeatCell": _repeat_cell,
    "updateCells": _update_cells,
}
# Requests that only change how cells look: accepted (reply {}) and not kept.
_FORMAT_ONLY = frozenset(
    {
        "updateBorders",
        "mergeCells",
        "unmergeCells",
        "autoResizeDimensions",
        "updateDimensionProperties",
        "addConditionalFormatRule",
        "setBasicFilter",
        "clearBasicFilter",
        "addBanding",
        "setDataValidation",
        "addProtectedRange",
    }
)


# --- routes: values ------------------------------------------------------------------------------


def _render_options(request: Request) -> tuple[str, str]:
    params = request.query_params
    return (
        params.get("valueRenderOption", "FORMATTED_VALUE"),
        params.get("majorDimension", "ROWS"),
    )


@router.get("/v4/spreadsheets/{spreadsheet_id}/values:batchGet")
async def batch_get(sb: SandboxDep, request: Request, spreadsheet_id: str) -> Json:
    _, content = _load(sb, spreadsheet_id)
    option, major = _render_options(request)
    grids = [parse_range(content, r) for r in request.query_params.getlist("ranges")]
    return {
        "spreadsheetId": spreadsheet_id,
        "valueRanges": [value_range(content, g, option, major) for g in grids],
    }


@router.post("/v4/spreadsheets/{spreadsheet_id}/values:batchUpdate")
async def values_batch_update(sb: SandboxDep, spreadsheet_id: str, body: BodyDep = None) -> Json:
    """values.batchUpdate: every range is checked before any is written."""
    file, content = _load(sb, spreadsheet_id)
    body = body or {}
    input_option = body.get("valueInputOption") or "INPUT_VALUE_OPTION_UNSPECIFIED"
    responses = []
    for item in body.get("data") or []:
        grid = parse_range(content, item.get("range", ""))
        result = write_values(
            grid, item.get("values") or [], input_option, item.get("majorDimension") or "ROWS"
        )
        responses.append({"spreadsheetId": spreadsheet_id, **result})
        if body.get("includeValuesInResponse") and "updatedRange" in result:
            written = parse_range(content, result["updatedRange"])
            option = body.get("responseValueRenderOption") or "FORMATTED_VALUE"
            responses[-1]["updatedData"] = value_range(content, written, option, "ROWS")
    _commit(sb, file, content)
    sheets = {r["updatedRange"].rsplit("!", 1)[0] for r in responses if "updatedRange" in r}
    return {
        "spreadsheetId": spreadsheet_id,
        "totalUpdatedRows": sum(r["updatedRows"] for r in responses),
        "totalUpdatedColumns": sum(r["updatedColumns"] for r in responses),
        "totalUpdatedCells": sum(r["updatedCells"] for r in responses),
        "totalUpdatedSheets": len(sheets),
        "responses": responses,
    }


@router.post("/v4/spreadsheets/{spreadsheet_id}/values:batchClear")
async def values_batch_clear(sb: SandboxDep, spreadsheet_id: str, body: BodyDep = None) -> Json:
    file, content = _load(sb, spreadsheet_id)
    grids = [parse_range(content, r) for r in (body or {}).get("ranges") or []]
    for grid in grids:
        clear_values(grid)
    _commit(sb, file, content)
    return {"spreadsheetId": spreadsheet_id, "clearedRanges": [g.a1() for g in grids]}


@router.get("/v4/spreadsheets/{spreadsheet_id}/values/{range_:path}")
async def values_get(sb: SandboxDep, request: Request, spreadsheet_id: str, range_: str) -> Json:
    """values.get: trailing empty rows and cells are left out, as Sheets does."""
    _, content = _load(sb, spreadsheet_id)
    option, major = _render_options(request)
    return value_range(content, parse_range(content, range_), option, major)


@router.put("/v4/spreadsheets/{spreadsheet_id}/values/{range_:path}")
async def values_update(
    sb: SandboxDep, request: Request, spreadsheet_id: str, range_: str, body: BodyDep = None
) -> Json:
    file, content = _load(sb, spreadsheet_id)
    body = body or {}
    grid = parse_range(content, range_)
    input_option = request.query_params.get("valueInputOption", "INPUT_VALUE_OPTION_UNSPECIFIED")
    result = write_values(
        grid, body.get("values") or [], input_option, body.get("majorDimension") or "ROWS"
    )
    _commit(sb, file, content)
    out = {"spreadsheetId": spreadsheet_id, **result}
    if _flag(request, "includeValuesInResponse") and "updatedRange" in result:
        option = request.query_params.get("responseValueRenderOption", "FORMATTED_VALUE")
        written = parse_range(content, result["updatedRange"])
        out["updatedData"] = value_range(content, written, option, "ROWS")
    return out


@router.post("/v4/spreadsheets/{spreadsheet_id}/values/{range_:path}")
async def values_append_or_clear(
    sb: SandboxDep, request: Request, spreadsheet_id: str, range_: str, body: BodyDep = None
) -> Json:
    """values.append (`{range}:append`) and values.clear (`{range}:clear`)."""
    text, _, action = range_.rpartition(":")
    if action not in ("append", "clear"):
        raise ApiError(404, "Not Found", "notFound")
    file, content = _load(sb, spreadsheet_id)
    grid = parse_range(content, text)
    if action == "clear":
        clear_values(grid)
        _commit(sb, file, content)
        return {"spreadsheetId": spreadsheet_id, "clearedRange": grid.a1()}
    return _append(sb, request, file, content, grid, body or {})


def _append(
    sb: Sandbox, request: Request, file: Json, content: Json, grid: GridRange, body: Json
) -> Json:
    """Find the table in the range (from its first row down to its last non-empty row in the
    range's columns) and write the values on the rows after it."""
    sheet, params = grid.sheet, request.query_params
    last, right = grid.row0 - 1, grid.col0
    for r in range(grid.row0, min(grid.row1, len(sheet["rows"]))):
        filled = [c for c in range(grid.col0, grid.col1) if not _is_empty(_at(sheet, r, c))]
        if filled:
            last, right = r, max(right, filled[-1])
    values = body.get("values") or []
    if body.get("majorDimension") == "COLUMNS":
        width = max((len(r) for r in values), default=0)
        values = [[r[i] if i < len(r) else None for r in values] for i in range(width)]
    height = len(values)
    start = last + 1
    if params.get("insertDataOption") == "INSERT_ROWS":
        if start < len(sheet["rows"]):
            sheet["rows"][start:start] = [[] for _ in range(height)]
        sheet["rowCount"] += height
    elif start + height > sheet["rowCount"]:
        sheet["rowCount"] = start + height  # appending grows the grid
    anchor = GridRange(sheet, start, grid.col0, start + 1, grid.col0 + 1)
    input_option = params.get("valueInputOption", "INPUT_VALUE_OPTION_UNSPECIFIED")
    updates = {"spreadsheetId": file["id"], **write_values(anchor, values, input_option, "ROWS")}
    _commit(sb, file, content)
    out: Json = {"spreadsheetId": file["id"], "updates": updates}
    if last >= grid.row0:
        out["tableRange"] = GridRange(sheet, grid.row0, grid.col0, last + 1, right + 1).a1()
    if _flag(request, "includeValuesInResponse") and "updatedRange" in updates:
        option = params.get("responseValueRenderOption", "FORMATTED_VALUE")
        written = parse_range(content, updates["updatedRange"])
        updates["updatedData"] = value_range(content, written, option, "ROWS")
    return out


def _at(sheet: Json, row: int, col: int) -> Cell:
    rows = sheet["rows"]
    if row < len(rows) and col < len(rows[row]):
        return rows[row][col]
    return ""
