"""The cost estimate sheet: what psflow pre-fills in it and how it reads the estimate back.

Each engagement's sheet is a Drive copy of the "Cost Estimate Template". Its tab "Estimate":

    A2:A9   labels            B2:B9  customer, opportunity name, opportunity id, SOW number,
                                     currency, contracted revenue, expected start and completion
    row 11  Activity | Unit | Effort | Hours | Notes      (columns A to E)
    row 12… one row per activity

psflow pre-fills what Salesforce knows: the values in B2:B9, and one row per SOW activity with the
sold quantity as the effort, for the Engagement Manager to review. Pre-filling fills ONLY EMPTY
cells (`cells_to_fill`): a re-run after the EM edited the sheet writes nothing and keeps their
numbers (a cell they emptied is filled again, though: empty means "not estimated yet").

`parse` reads the estimate back into a `CostEstimate`. Hours (column D) belong to the sheet, where
a person may keep a formula; psflow computes hours from effort and unit. A row whose activity is
"Total" ends the table, so an EM may sum the table below it.

Pure: no I/O. Ranges are A1 notation with the tab name quoted as Sheets writes it: 'Estimate'!B2:B9.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from engagement.models import (
    ISO_4217,
    OPPORTUNITY_PREFIX,
    CostEstimate,
    EffortUnit,
    EstimateActivity,
    Opportunity,
    SowActivity,
    salesforce_id,
)

ESTIMATE_TAB = "Estimate"

# The values column of the heading part, one row each.
VALUE_COLUMN = "B"
CUSTOMER_ROW = 2
OPPORTUNITY_NAME_ROW = 3
OPPORTUNITY_ID_ROW = 4
SOW_NUMBER_ROW = 5
CURRENCY_ROW = 6
REVENUE_ROW = 7
EXPECTED_START_ROW = 8
EXPECTED_COMPLETION_ROW = 9

# The activity table.
HEADER_ROW = 11
FIRST_ACTIVITY_ROW = 12
ACTIVITY_HEADER = ("Activity", "Unit", "Effort", "Hours", "Notes")
ACTIVITY_COLUMN, UNIT_COLUMN, EFFORT_COLUMN, HOURS_COLUMN, NOTES_COLUMN = "ABCDE"
TOTAL_LABEL = "total"

Grid = Sequence[Sequence[Any]]  # rows of cells, as the Sheets API returns a range's values

# --- A1 notation ---------------------------------------------------------------------------------


def quote_sheet(title: str) -> str:
    """A tab name as A1 notation quotes it: 'Estimate', 'It''s' (always quoted: never wrong)."""
    return "'" + title.replace("'", "''") + "'"


def column_letters(index: int) -> str:
    """0 -> "A", 25 -> "Z", 26 -> "AA"."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def column_index(letters: str) -> int:
    """ "A" -> 0, "AA" -> 26."""
    index = 0
    for letter in letters.upper():
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


def cell_range(row: int, column: str, tab: str = ESTIMATE_TAB) -> str:
    """One cell in A1 notation: cell_range(2, "B") == "'Estimate'!B2"."""
    return f"{quote_sheet(tab)}!{column}{row}"


def cell_name(row: int, column: str) -> str:
    """A cell of the Estimate tab as error messages name it for a person: Estimate!C13."""
    return f"{ESTIMATE_TAB}!{column}{row}"


_RANGE = re.compile(r"'((?:[^']|'')+)'!([A-Z]{1,3})(\d+)(?::[A-Z]{1,3}\d+)?")


def _anchor(range_: str) -> tuple[str, int, int]:
    """(tab, first row, first column index) of a range like "'Estimate'!A12:C13"."""
    match = _RANGE.fullmatch(range_)
    if match is None:
        raise ValueError(f"range {range_!r} must look like 'Tab'!B2:B9 (quoted tab, A1 cells)")
    return match[1].replace("''", "'"), int(match[3]), column_index(match[2])


# --- prefill -------------------------------------------------------------------------------------


def activity_name(activity: SowActivity) -> str:
    """An activity's name in the sheet: "<code> – <description>" (what `CostEstimate.missing`
    is given to check that every SOW activity has a row)."""
    return f"{activity.code} – {activity.description}"


# With valueInputOption USER_ENTERED, Sheets reads text the way it reads typing: "=..." (also
# "+", "-", "@") becomes a formula, "2026" a number, "3/4" a date, "true" a boolean. Names come
# from Salesforce and must stay text (and never run as a formula), so such text gets a leading
# apostrophe, which Sheets takes as "this is text" and neither shows nor returns.
_READ_AS_NOT_TEXT = re.compile(r"[=+\-@']|[\d\s.,:/%$€£¥()]+$|(?i:true|false)$")


def as_text(value: str) -> str:
    """`value` written so that Sheets keeps it as the text it is."""
    return "'" + value if _READ_AS_NOT_TEXT.match(value) else value


def _number(value: Decimal) -> int | float:
    # JSON has no decimals; whole amounts stay integers so the sheet shows 120, not 120.0
    return int(value) if value == value.to_integral_value() else float(value)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None  # Sheets reads ISO dates typed in as dates


def prefill(opportunity: Opportunity) -> dict[str, list[list[Any]]]:
    """What psflow writes into a new cost estimate: {A1 range: rows of cell values}.

    None means "nothing to write" (e.g. no expected start in Salesforce yet). Give the result to
    `cells_to_fill` (or the `ensure_prefilled` task), which keeps whatever a person typed.
    """
    heading = [
        as_text(opportunity.account.name),
        as_text(opportunity.name),
        opportunity.id,
        as_text(opportunity.sow_number) if opportunity.sow_number else None,
        opportunity.currency,
        _number(opportunity.amount),
        _day(opportunity.expected_start),
        _day(opportunity.expected_completion),
    ]
    tab = quote_sheet(ESTIMATE_TAB)
    wanted = {
        f"{tab}!{VALUE_COLUMN}{CUSTOMER_ROW}:{VALUE_COLUMN}{EXPECTED_COMPLETION_ROW}": [
            [value] for value in heading
        ]
    }
    items = opportunity.line_items
    if items:
        last = FIRST_ACTIVITY_ROW + len(items) - 1
        wanted[f"{tab}!{ACTIVITY_COLUMN}{FIRST_ACTIVITY_ROW}:{EFFORT_COLUMN}{last}"] = [
            [as_text(activity_name(item)), item.unit.value, _number(item.quantity)]
            for item in items
        ]
    return wanted


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _at(grid: Grid, row: int, column: int) -> Any:
    """The cell at 0-based `row`, `column` of a grid whose trailing empty cells were trimmed."""
    if row < len(grid) and column < len(grid[row]):
        return grid[row][column]
    return None


def cells_to_fill(
    current: Mapping[str, Grid], wanted: Mapping[str, Grid]
) -> dict[str, list[list[Any]]]:
    """The cells of `wanted` that are empty in `current`, one single-cell range each.

    Args:
        current: what the sheet holds, by the same ranges as `wanted` (each grid starting at its
            range's top-left cell, as values.batchGet returns it; a missing range counts as empty).
        wanted: what psflow would write (see `prefill`); None or blank values are skipped.

    Returns:
        {"'Estimate'!C13": [[100]], ...}: empty when every wanted cell is filled already, so a
        re-run writes nothing and never overwrites what a person typed.
    """
    fill: dict[str, list[list[Any]]] = {}
    for range_, rows in wanted.items():
        tab, top, left = _anchor(range_)
        have = current.get(range_, [])
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if not _empty(value) and _empty(_at(have, r, c)):
                    fill[cell_range(top + r, column_letters(left + c), tab)] = [[value]]
    return fill


# --- parse ---------------------------------------------------------------------------------------

_NUMBER_TEXT = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?")
_UNITS = {
    "hours": EffortUnit.HOURS,
    "hour": EffortUnit.HOURS,
    "days": EffortUnit.DAYS,
    "day": EffortUnit.DAYS,
}


def _cell(grid: Grid, row: int, column: str) -> Any:
    """The value at 1-based `row` and `column` letter; text stripped, "" when empty."""
    value = _at(grid, row - 1, column_index(column))
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else value


def _decimal(value: Any, cell: str, what: str) -> Decimal | None:
    """A number a person typed: 120, 120.5, "120", "1,200.5"; None for an empty cell."""
    if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        raise ValueError(f"{cell}: {what} {value!r} is not a number")
    if isinstance(value, int | float):
        number = Decimal(str(value))
    elif value == "":
        return None
    elif isinstance(value, str) and _NUMBER_TEXT.fullmatch(value) and any(map(str.isdigit, value)):
        number = Decimal(value.replace(",", ""))
    else:
        raise ValueError(f"{cell}: {what} {value!r} is not a number")
    if number < 0:
        raise ValueError(f"{cell}: {what} {value!r} must not be negative")
    return number


def _check_layout(grid: Grid, opportunity_id: str) -> None:
    header = [str(_cell(grid, HEADER_ROW, column)) for column in "ABC"]
    if [text.casefold() for text in header] != [text.casefold() for text in ACTIVITY_HEADER[:3]]:
        raise ValueError(
            f"{cell_name(HEADER_ROW, 'A')}:C{HEADER_ROW}: expected the activity table header "
            f"{' | '.join(ACTIVITY_HEADER[:3])}; found {' | '.join(header)} (the tab's layout "
            "differs from the Cost Estimate Template)"
        )
    written = str(_cell(grid, OPPORTUNITY_ID_ROW, VALUE_COLUMN))
    if written and written[:15] != opportunity_id[:15]:  # 15 characters: case-sensitive id
        raise ValueError(
            f"{cell_name(OPPORTUNITY_ID_ROW, VALUE_COLUMN)}: this estimate is for opportunity "
            f"{written}, not {opportunity_id}"
        )


def _revenue(grid: Grid) -> Decimal | None:
    cell = cell_name(REVENUE_ROW, VALUE_COLUMN)
    revenue = _decimal(_cell(grid, REVENUE_ROW, VALUE_COLUMN), cell, "contracted revenue")
    if revenue == 0:
        raise ValueError(f"{cell}: contracted revenue must be more than 0")
    return revenue


def _currency(grid: Grid) -> str | None:
    value = str(_cell(grid, CURRENCY_ROW, VALUE_COLUMN))
    if value and value.upper() not in ISO_4217:
        raise ValueError(
            f"{cell_name(CURRENCY_ROW, VALUE_COLUMN)}: currency {value!r} is not an ISO 4217 "
            "code like 'USD' or 'EUR'"
        )
    return value.upper() or None


def _activity(grid: Grid, row: int) -> EstimateActivity | None:
    """The activity on `row`, or None when the row is blank."""
    name, unit, effort, notes = (
        _cell(grid, row, column)
        for column in (ACTIVITY_COLUMN, UNIT_COLUMN, EFFORT_COLUMN, NOTES_COLUMN)
    )
    if name == "":
        if any(value != "" for value in (unit, effort, notes)):
            raise ValueError(
                f"{cell_name(row, ACTIVITY_COLUMN)}: the row has an effort, unit or notes but "
                "no activity name"
            )
        return None
    unit_text = str(unit).casefold()
    if unit_text and unit_text not in _UNITS:
        raise ValueError(f"{cell_name(row, UNIT_COLUMN)}: unit {unit!r} must be 'hours' or 'days'")
    try:
        return EstimateActivity(
            activity=str(name),
            effort=_decimal(effort, cell_name(row, EFFORT_COLUMN), "effort"),
            unit=_UNITS.get(unit_text, EffortUnit.HOURS),
            notes=str(notes),
        )
    except ValidationError as err:
        problem = err.errors()[0]["msg"].removeprefix("Value error, ")
        raise ValueError(
            f"{cell_name(row, ACTIVITY_COLUMN)}: activity {name!r} {problem}"
        ) from None


def parse(grid: Grid, opportunity_id: str) -> CostEstimate:
    """The estimate in the Estimate tab's values (read from A1, e.g. values.get of 'Estimate').

    Raises:
        ValueError: naming the cell a person must fix, e.g. "Estimate!C13: effort 'abc' is not
            a number"; also when the tab is not laid out like the template or belongs to
            another opportunity.
    """
    opportunity_id = salesforce_id(opportunity_id, OPPORTUNITY_PREFIX, "Opportunity")
    _check_layout(grid, opportunity_id)
    activities: list[EstimateActivity] = []
    rows: dict[str, int] = {}  # activity name (casefolded) -> its row, to name duplicates
    for row in range(FIRST_ACTIVITY_ROW, len(grid) + 1):
        if str(_cell(grid, row, ACTIVITY_COLUMN)).casefold() == TOTAL_LABEL:
            break
        activity = _activity(grid, row)
        if activity is None:
            continue
        key = activity.activity.casefold()
        if key in rows:
            raise ValueError(
                f"{cell_name(row, ACTIVITY_COLUMN)}: activity {activity.activity!r} is listed "
                f"twice (also on row {rows[key]})"
            )
        rows[key] = row
        activities.append(activity)
    return CostEstimate(
        opportunity_id=opportunity_id,
        revenue=_revenue(grid),
        currency=_currency(grid),
        activities=tuple(activities),
    )
