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

The other tabs (Actions, Meeting Notes, Status Report) belong to the team. `prefill` gives the
values in the form `tasks.sheets.ensure_prefilled` takes; that task writes only the cells that are
still empty, so a re-run keeps whatever a person typed. Pure: no I/O.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from engagement.cost_estimate import as_text, quote_sheet
from engagement.models import Opportunity

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
