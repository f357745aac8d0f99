"""The Project Definition sheet: what psflow pre-fills on its "Overview" tab.

Each engagement's Project Definition is a Drive copy of the "Project Definition Template". Its tab
"Overview" is a column of labels with the values beside them:

    A1  Project definition   (the heading; B1 stays empty)
    A2  Customer             B2   the account's name
    A3  Opportunity          B3   the opportunity's name
    A4  SOW                  B4   the SOW number
    A5  Project owner        B5   the PSE or PM who owns the project
    A6  Engagement manager   B6
    A7  GitLab project       B7   the PS project's link
    A8  Mavenlink project    B8   the Mavenlink project's link
    A9  Expected start       B9   ISO dates, which Sheets reads as dates
    A10 Expected completion  B10

The other tabs are tables with a header row: Plan (psflow's milestones, one row per SOW activity),
Actions, Meeting Notes and Status Report, which the team writes in too. psflow finds its rows in
them by a key column (`Table`) and fills only empty cells or appends, so a re-run keeps whatever a
person typed. `prefill` gives the Overview's values in the form `tasks.sheets.ensure_prefilled`
takes. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from engagement.cost_estimate import Grid, as_text, cells_to_fill, column_letters, quote_sheet
from engagement.models import Opportunity
from engagement.plan import Milestone

OVERVIEW_TAB = "Overview"
LABEL_COLUMN = "A"
VALUE_COLUMN = "B"

HEADING_ROW = 1
CUSTOMER_ROW = 2
OPPORTUNITY_ROW = 3
SOW_ROW = 4
PROJECT_OWNER_ROW = 5
ENGAGEMENT_MANAGER_ROW = 6
GITLAB_PROJECT_ROW = 7
MAVENLINK_PROJECT_ROW = 8
EXPECTED_START_ROW = 9
EXPECTED_COMPLETION_ROW = 10

# Column A of the template, row by row from HEADING_ROW: what a person sees beside each value.
LABELS = (
    "Project definition",
    "Customer",
    "Opportunity",
    "SOW",
    "Project owner",
    "Engagement manager",
    "GitLab project",
    "Mavenlink project",
    "Expected start",
    "Expected completion",
)


def _text(value: str | None) -> str | None:
    # Text from Salesforce or a person must stay text in Sheets, never a number or a formula.
    return as_text(value) if value else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def prefill(
    opportunity: Opportunity,
    project_owner: str | None,
    engagement_manager: str | None,
    gitlab_url: str | None,
    mavenlink_url: str | None,
) -> dict[str, list[list[Any]]]:
    """What psflow writes on a new Project Definition's Overview tab: {A1 range: rows}.

    None means "nothing to write yet" (e.g. no Mavenlink link known): the cell is left as it is,
    so a later run may fill it. Give the result to `tasks.sheets.ensure_prefilled`, which fills
    only empty cells.

    Example:
        >>> cells = prefill(acme, "divya.nair@northwind.example", None, None, None)
        >>> cells["'Overview'!B2:B10"][PROJECT_OWNER_ROW - CUSTOMER_ROW]
        ['divya.nair@northwind.example']
    """
    values = [
        _text(opportunity.account.name),
        _text(opportunity.name),
        _text(opportunity.sow_number),
        _text(project_owner),
        _text(engagement_manager),
        _text(gitlab_url),
        _text(mavenlink_url),
        _day(opportunity.expected_start),
        _day(opportunity.expected_completion),
    ]
    first, last = CUSTOMER_ROW, EXPECTED_COMPLETION_ROW
    cells = f"{quote_sheet(OVERVIEW_TAB)}!{VALUE_COLUMN}{first}:{VALUE_COLUMN}{last}"
    return {cells: [[value] for value in values]}


# --- the tables ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A tab that is a table: its header (row 1) and the columns that tell its rows apart."""

    tab: str
    header: tuple[str, ...]
    keys: tuple[int, ...] = (0,)
    owned: bool = False  # psflow's own rows (a week's report): a re-run rewrites what changed

    @property
    def columns(self) -> str:
        """The whole table in A1 notation, e.g. 'Plan'!A:E."""
        return f"{quote_sheet(self.tab)}!A:{column_letters(len(self.header) - 1)}"

    def __str__(self) -> str:  # as a task run's name shows it
        return self.tab

    def rewritten(self) -> Table:
        """The same table, its rows' differing cells rewritten (an approved change's plan)."""
        return replace(self, owned=True)

    def key(self, row: Sequence[Any]) -> tuple[str, ...]:
        return tuple(str(row[k]).strip().lstrip("'") if k < len(row) else "" for k in self.keys)


PLAN = Table("Plan", ("Activity", "Milestone", "Hours", "Start", "Due"))
ACTIONS = Table("Actions", ("Date", "Action", "Owner", "Due", "Status"), keys=(1,))
MEETING_NOTES = Table("Meeting Notes", ("Date", "Meeting", "Attendees", "Notes"), keys=(1,))
STATUS_REPORT = Table(
    "Status Report",
    (
        "Week",
        "Schedule",
        "Hours used",
        "Hours remaining",
        "Issues",
        "Out of office",
        "Health",
        "Open actions",
        "Burn-down",
        "Note",  # the Project Owner's, from the review
        "E-mail",  # to whom it was sent, or that it was not: the week's report is final then
    ),
    owned=True,
)


def plan_rows(milestones: Sequence[Milestone]) -> list[list[Any]]:
    """The Plan tab's rows: one per milestone, keyed by the activity's code."""
    return [
        [
            as_text(m.code),
            as_text(m.title),
            int(m.hours) if m.hours == int(m.hours) else float(m.hours),
            m.start.isoformat(),
            m.due.isoformat(),
        ]
        for m in milestones
    ]


def rows_to_write(
    table: Table, current: Grid, wanted: Sequence[Sequence[Any]]
) -> tuple[dict[str, list[list[Any]]], list[list[Any]]]:
    """What makes `current` (the table as read, its header first) hold `wanted`: the empty cells
    of rows found by their key, filled ({A1 cell: [[value]]}), and the rows not there, to append.
    Cells a person filled are never in it, but in a table psflow owns (`Table.owned`) each cell
    that differs is; a table that holds every row already gives nothing.

    Example:
        >>> current = [["Activity", "Milestone"], ["PS-A", "Assess"], ["PS-B"]]
        >>> rows_to_write(PLAN, current, [["PS-B", "Build"], ["PS-C", "Cut"]])
        ({"'Plan'!B3": [['Build']]}, [['PS-C', 'Cut']])
        >>> report = [["Week", "Schedule", "Hours used"], ["2027-W02", "On track", 16]]
        >>> rows_to_write(STATUS_REPORT, report, [["2027-W02", "On track", 24.0]])
        ({"'Status Report'!C2": [[24.0]]}, [])
    """
    where = {table.key(row): number for number, row in enumerate(current[1:], start=2)}
    fill: dict[str, list[list[Any]]] = {}
    append = []
    for row in wanted:
        number = where.get(table.key(row))
        if number is None:
            append.append(list(row))
            continue
        if table.owned:
            have = current[number - 1]
            for column, value in enumerate(row):
                held = have[column] if column < len(have) else ""
                if _shown(value) != _shown(held):
                    cell = f"{quote_sheet(table.tab)}!{column_letters(column)}{number}"
                    fill[cell] = [[value]]
            continue
        found = f"{quote_sheet(table.tab)}!A{number}"
        fill |= cells_to_fill({found: [current[number - 1]]}, {found: [list(row)]})
    return fill, append


def rows_to_clear(table: Table, current: Grid, keys: Collection[str]) -> dict[str, list[list[Any]]]:
    """The cells of the rows of `current` whose key (first key column) is in `keys`, emptied: an
    activity a change request removed leaves the Plan tab. Nothing when none is there.

    Example:
        >>> rows_to_clear(PLAN, [["Activity", "Milestone"], ["PS-A", "Assess"]], {"PS-A"})
        {"'Plan'!A2:E2": [['', '', '', '', '']]}
    """
    width = len(table.header)
    last = column_letters(width - 1)
    return {
        f"{quote_sheet(table.tab)}!A{number}:{last}{number}": [[""] * width]
        for number, row in enumerate(current[1:], start=2)
        if table.key(row)[0] in keys
    }


def _shown(value: Any) -> str:
    """A cell's value as compared: 24, 24.0 and "24" are the same figure."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).upper()
    if isinstance(value, int | float | Decimal):
        return f"{float(value):g}"
    return str(value).strip().removeprefix("'")  # Sheets shows text written as text bare
