"""The cost estimate sheet's layout, pre-fill and parsing (engagement/cost_estimate.py): pure."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engagement.cost_estimate import (
    activity_name,
    as_text,
    cells_to_fill,
    column_index,
    column_letters,
    parse,
    prefill,
)
from engagement.models import EffortUnit, Opportunity, SowActivity
from sandbox import seed
from testkit import factories

OPPORTUNITY_ID = seed.sfid(seed.OPPORTUNITY, 2)
TEMPLATE = next(t for t in seed.TEMPLATES if t.key == "cost-estimate").tabs["Estimate"]


# The sheet's own cases: a fractional number of days
ACTIVITIES = (
    SowActivity(code="PS-CICD", description="CI/CD pipeline design", quantity=80),
    SowActivity(code="PS-K8S", description="Kubernetes runners", quantity=12.5, unit="days"),
)


def opportunity(**changes: Any) -> Opportunity:
    return factories.opportunity(**{"line_items": ACTIVITIES, **changes})


def template() -> list[list[Any]]:
    """The Estimate tab of a fresh copy of the template, as the Sheets API returns its values."""
    return [[cell for cell in row if cell != ""] for row in TEMPLATE]


_CELL = re.compile(r"'Estimate'!([A-Z]+)(\d+)")


def write(grid: list[list[Any]], fill: dict[str, list[list[Any]]]) -> list[list[Any]]:
    """Apply single-cell writes as Sheets stores USER_ENTERED text: a quote prefix is dropped."""
    for cell, [[value]] in fill.items():
        match = _CELL.fullmatch(cell)
        assert match, cell
        row, column = int(match[2]) - 1, column_index(match[1])
        while len(grid) <= row:
            grid.append([])
        grid[row].extend([""] * (column + 1 - len(grid[row])))
        grid[row][column] = value[1:] if isinstance(value, str) and value[:1] == "'" else value
    return grid


def current(grid: list[list[Any]], wanted: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """What values.batchGet returns for the ranges of `wanted` (only the two prefill shapes)."""
    return {
        "'Estimate'!B2:B9": [row[1:2] for row in grid[1:9]],
        **{
            cells: [row[:3] for row in grid[11 : 11 + len(wanted[cells])]]
            for cells in wanted
            if cells.startswith("'Estimate'!A12")
        },
    }


def prefilled(opp: Opportunity) -> list[list[Any]]:
    wanted = prefill(opp)
    return write(template(), cells_to_fill({}, wanted))


# --- prefill -------------------------------------------------------------------------------------


def test_prefill_writes_the_heading_and_one_row_per_sow_activity() -> None:
    assert prefill(opportunity()) == {
        "'Estimate'!B2:B9": [
            ["Acme Corporation"],
            ["Acme – CI/CD Modernisation"],
            [OPPORTUNITY_ID],
            ["SOW-2026-041"],
            ["USD"],
            [42000],
            ["2026-04-06"],
            ["2026-06-01"],
        ],
        "'Estimate'!A12:C13": [
            ["PS-CICD – CI/CD pipeline design", "hours", 80],
            ["PS-K8S – Kubernetes runners", "days", 12.5],
        ],
    }


def test_prefill_leaves_what_salesforce_does_not_know_empty() -> None:
    wanted = prefill(opportunity(sow_number=None, expected_start=None, expected_completion=None))
    heading = [row[0] for row in wanted["'Estimate'!B2:B9"]]
    assert heading[3] is None
    assert heading[6:] == [None, None]
    assert "'Estimate'!B5" not in cells_to_fill({}, wanted)
    assert list(prefill(opportunity(line_items=()))) == ["'Estimate'!B2:B9"]


def test_text_from_salesforce_never_becomes_a_formula_a_number_or_a_date() -> None:
    wanted = prefill(opportunity(name='=IMPORTXML("https://evil.example", "//a")'))
    assert wanted["'Estimate'!B2:B9"][1] == ['\'=IMPORTXML("https://evil.example", "//a")']
    assert [as_text(v) for v in ("2026", "3/4", "TRUE", "+1", "-x", "'q")] == [
        "'2026",
        "'3/4",
        "'TRUE",
        "'+1",
        "'-x",
        "''q",
    ]
    assert [as_text(v) for v in ("Acme", "SOW-2026-041", "PS-MIG – 120 hours")] == [
        "Acme",
        "SOW-2026-041",
        "PS-MIG – 120 hours",
    ]


# --- cells_to_fill -------------------------------------------------------------------------------


def test_a_fresh_sheet_gets_every_wanted_cell_one_range_each() -> None:
    fill = cells_to_fill({}, prefill(opportunity()))
    assert len(fill) == 8 + 2 * 3
    assert fill["'Estimate'!B7"] == [[42000]]
    assert fill["'Estimate'!A13"] == [["PS-K8S – Kubernetes runners"]]
    assert fill["'Estimate'!C13"] == [[12.5]]


def test_a_rerun_writes_nothing_and_keeps_what_a_person_typed() -> None:
    opp = opportunity()
    wanted = prefill(opp)
    grid = prefilled(opp)
    grid[12][2] = 15  # the EM re-estimated PS-K8S
    grid[11].extend(["", "kick-off included"])  # and noted something
    assert cells_to_fill(current(grid, wanted), wanted) == {}
    assert parse(grid, OPPORTUNITY_ID).activities[1].effort == Decimal(15)


def test_only_empty_cells_are_filled() -> None:
    opp = opportunity()
    wanted = prefill(opp)
    grid = prefilled(opp)
    grid[1][1] = "ACME Corp (typed by the EM)"
    grid[6][1] = ""  # revenue cleared: not estimated any more, so filled again
    grid[12][2] = "   "  # blank text counts as empty
    assert cells_to_fill(current(grid, wanted), wanted) == {
        "'Estimate'!B7": [[42000]],
        "'Estimate'!C13": [[12.5]],
    }


def test_ranges_must_name_their_tab() -> None:
    with pytest.raises(ValueError, match="'Tab'!B2:B9"):
        cells_to_fill({}, {"B2:B9": [["x"]]})


@given(st.integers(min_value=0, max_value=18_277))
def test_column_letters_and_index_are_inverse(index: int) -> None:
    assert column_index(column_letters(index)) == index


def test_column_letters() -> None:
    assert [column_letters(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]


# --- parse ---------------------------------------------------------------------------------------


def test_a_prefilled_sheet_parses_back_to_the_opportunity() -> None:
    opp = opportunity()
    estimate = parse(prefilled(opp), OPPORTUNITY_ID)
    assert estimate.revenue == Decimal(42000)
    assert estimate.currency == "USD"
    assert [(a.activity, a.effort, a.unit) for a in estimate.activities] == [
        ("PS-CICD – CI/CD pipeline design", Decimal(80), EffortUnit.HOURS),
        ("PS-K8S – Kubernetes runners", Decimal("12.5"), EffortUnit.DAYS),
    ]
    assert estimate.total_hours == Decimal(80) + Decimal(100)  # 12.5 days of 8 hours
    assert estimate.missing([activity_name(item) for item in opp.line_items]) == []
    assert estimate.is_complete


def test_an_empty_template_parses_as_incomplete() -> None:
    estimate = parse(template(), OPPORTUNITY_ID)
    assert estimate.revenue is None
    assert estimate.currency is None
    assert not estimate.activities
    assert estimate.missing(["PS-CICD – CI/CD pipeline design"]) == [
        "revenue",
        "currency",
        "activities: no activity is estimated",
        "activity 'PS-CICD – CI/CD pipeline design' from the SOW has no estimate row",
    ]


@pytest.mark.parametrize(
    ("cell", "effort"),
    [
        (120, Decimal(120)),
        (120.5, Decimal("120.5")),
        ("120", Decimal(120)),
        ("1,200.5", Decimal("1200.5")),
        (" 7.25 ", Decimal("7.25")),
        ("", None),
        (0, Decimal(0)),
    ],
)
def test_effort_arrives_as_a_number_or_text(cell: Any, effort: Decimal | None) -> None:
    grid = prefilled(opportunity())
    grid[11][2] = cell
    assert parse(grid, OPPORTUNITY_ID).activities[0].effort == effort


def test_units_in_any_case_and_empty_means_hours() -> None:
    grid = prefilled(opportunity())
    grid[11][1], grid[12][1] = "Days", ""
    units = [a.unit for a in parse(grid, OPPORTUNITY_ID).activities]
    assert units == [EffortUnit.DAYS, EffortUnit.HOURS]


@pytest.mark.parametrize(
    ("row", "column", "value", "message"),
    [
        (12, 2, "abc", "Estimate!C13: effort 'abc' is not a number"),
        (12, 2, "12h", "Estimate!C13: effort '12h' is not a number"),
        (12, 2, "1.200,5", "Estimate!C13: effort '1.200,5' is not a number"),
        (12, 2, True, "Estimate!C13: effort True is not a number"),
        (12, 2, -3, "Estimate!C13: effort -3 must not be negative"),
        (11, 1, "weeks", "Estimate!B12: unit 'weeks' must be 'hours' or 'days'"),
        (6, 1, "lots", "Estimate!B7: contracted revenue 'lots' is not a number"),
        (6, 1, 0, "Estimate!B7: contracted revenue must be more than 0"),
        (5, 1, "Dollars", "Estimate!B6: currency 'Dollars' is not an ISO 4217 code"),
        (3, 1, seed.sfid(seed.OPPORTUNITY, 3), "Estimate!B4: this estimate is for opportunity"),
        (10, 2, "Days", "Estimate!A11:C11: expected the activity table header"),
        (12, 0, "PS-CICD – CI/CD pipeline design", "Estimate!A13: .* listed twice .* row 12"),
    ],
)
def test_a_bad_cell_is_named(row: int, column: int, value: Any, message: str) -> None:
    grid = prefilled(opportunity())
    grid[row][column] = value
    with pytest.raises(ValueError, match=message):
        parse(grid, OPPORTUNITY_ID)


def test_a_row_without_an_activity_name_is_named() -> None:
    grid = prefilled(opportunity())
    grid.append(["", "hours", 10])
    with pytest.raises(ValueError, match="Estimate!A14: the row has an effort"):
        parse(grid, OPPORTUNITY_ID)


def test_an_activity_name_on_two_lines_is_named() -> None:
    grid = prefilled(opportunity())
    grid[11][0] = "PS-CICD\nsecond line"
    with pytest.raises(ValueError, match=r"Estimate!A12: activity .* must be one line"):
        parse(grid, OPPORTUNITY_ID)


def test_blank_rows_are_skipped_and_a_total_row_ends_the_table() -> None:
    grid = prefilled(opportunity())
    grid += [[], ["Extra workshop", "hours", "16"], ["Total", "", "", 196], ["notes below", "?"]]
    activities = parse(grid, OPPORTUNITY_ID).activities
    assert [a.activity for a in activities][-1] == "Extra workshop"
    assert len(activities) == 3


def test_a_15_character_opportunity_id_in_the_sheet_is_the_same_opportunity() -> None:
    grid = prefilled(opportunity())
    grid[3][1] = OPPORTUNITY_ID[:15]
    assert parse(grid, OPPORTUNITY_ID[:15]).opportunity_id == OPPORTUNITY_ID
