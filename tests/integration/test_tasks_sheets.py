"""psflow's Sheets tasks against the sandbox: the skills matrix, and the cost estimate pre-filled
once and read back. People's edits are made as people make them, through the Sheets API (gspread)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from engagement.cost_estimate import activity_name, prefill
from engagement.keys import Kind, drive_name
from engagement.models import Opportunity
from engagement.plan import milestones
from engagement.project_definition import ACTIONS, MEETING_NOTES, PLAN, plan_rows
from sandbox import seed
from sandbox.client import SandboxClient
from tasks.calls import TransientError
from tasks.drive import ensure_copy
from tasks.sheets import ensure_prefilled, ensure_rows, get_cost_estimate, get_roster, get_tables
from testkit.factories import from_seed
from testkit.outside import sheet

ACME_NEW = seed.OPPORTUNITIES[1]


def opportunity(seeded: seed.Opportunity = ACME_NEW) -> Opportunity:
    """The seeded opportunity as psflow's Salesforce task reads it."""
    return from_seed(seeded)


def skills_matrix(outside: SandboxClient) -> str:
    [found] = [f for f in outside.state("google", "file") if f["name"] == seed.SKILLS_MATRIX]
    return str(found["id"])


def fresh_copy(outside: SandboxClient, kind: Kind, label: str) -> str:
    """The id of a fresh copy of the template of `kind` for Acme's new opportunity; the request
    log starts after it."""
    name = drive_name(label, ACME_NEW.account.name, ACME_NEW.sow_number)
    made = ensure_copy.fn(kind.value, kind, ACME_NEW.id, name, ())
    outside.clear_requests()
    return str(made.id)


@pytest.fixture
def estimate(outside: SandboxClient) -> str:
    return fresh_copy(outside, Kind.COST_ESTIMATE, "Cost Estimate")


# --- the skills matrix ---------------------------------------------------------------------------


def test_get_roster_reads_every_pse_and_partner_in_one_sheets_read(outside: SandboxClient) -> None:
    roster = get_roster.fn()
    assert [pse.email for pse in roster.pses] == [pse.email for pse in seed.PSES]
    assert [partner.name for partner in roster.partners] == [p[0] for p in seed.PARTNERS]
    hannah = roster.pses[7]
    assert (hannah.name, hannah.time_zone) == ("Hannah Müller", "Europe/Berlin")
    assert hannah.skills == {"migration": 4, "jenkins": 5, "gitlab-ci": 4, "aws": 2}
    assert hannah.growth_goals == ("aws",)
    assert hannah.traits == ("structured", "formal", "written")
    assert roster.partners[1].skills["gitlab-ci"] == 5
    assert len(outside.requests(service="sheets")) == 1
    assert len(outside.requests(service="drive")) == 1  # finding the sheet by name
    assert outside.writes() == 0


def test_columns_are_found_by_their_header(outside: SandboxClient) -> None:
    pses = sheet(skills_matrix(outside), "PSEs")
    rows = pses.get_all_values()
    pses.update([[row[1], row[0], *row[2:]] for row in rows], "A1")  # Name before Email
    pses.update_acell("H1", "Notes")  # and a column psflow does not know
    assert [pse.email for pse in get_roster.fn().pses] == [pse.email for pse in seed.PSES]


def test_a_bad_roster_row_is_named(outside: SandboxClient) -> None:
    matrix = skills_matrix(outside)
    sheet(matrix, "PSEs").update_acell("D7", "Mars/Base")
    sheet(matrix, "Partners").update_acell("C3", "migration:five")
    with pytest.raises(ValueError, match=r"^PS Skills Matrix") as err:
        get_roster.fn()
    lines = str(err.value).splitlines()
    assert lines[0].startswith("PS Skills Matrix › PSEs row 7 (Time zone): ")
    assert "'Mars/Base'" in lines[0]
    assert lines[1].startswith("PS Skills Matrix › Partners row 3 (Skills): skill 'migration'")
    assert len(lines) == 2


def test_an_empty_required_cell_is_named(outside: SandboxClient) -> None:
    sheet(skills_matrix(outside), "PSEs").update_acell("A3", "")
    with pytest.raises(ValueError, match="row 3") as err:
        get_roster.fn()
    assert str(err.value) == "PS Skills Matrix › PSEs row 3 (Email): is empty"


def test_a_missing_column_is_named(outside: SandboxClient) -> None:
    sheet(skills_matrix(outside), "PSEs").update_acell("D1", "TZ")
    with pytest.raises(ValueError, match="PS Skills Matrix › PSEs: no column 'Time zone' in row 1"):
        get_roster.fn()


# --- the cost estimate ---------------------------------------------------------------------------


def test_prefill_writes_once_then_nothing(outside: SandboxClient, estimate: str) -> None:
    wanted = prefill(opportunity())
    assert ensure_prefilled.fn(estimate, wanted) == 8 + 2 * 3
    assert outside.writes(service="sheets") == 1
    assert len(outside.requests(service="sheets")) == 2  # one read, one write
    tab = sheet(estimate, "Estimate")
    assert tab.acell("B2").value == "Acme Corporation"
    assert tab.row_values(12) == ["PS-CICD – CI/CD pipeline design and rollout", "hours", "80"]

    mark = outside.last_request_id()
    assert ensure_prefilled.fn(estimate, wanted) == 0
    assert outside.writes(since=mark) == 0
    assert len(outside.requests(since=mark)) == 1


def test_prefill_keeps_what_the_em_typed(outside: SandboxClient, estimate: str) -> None:
    opp = opportunity()
    ensure_prefilled.fn(estimate, prefill(opp))
    tab = sheet(estimate, "Estimate")
    tab.update_acell("C13", 140)  # PS-K8S re-estimated
    tab.update_acell("E13", "includes runner autoscaling")
    tab.update_acell("C12", "")  # PS-CICD emptied: not estimated, so filled again
    mark = outside.last_request_id()
    assert ensure_prefilled.fn(estimate, prefill(opp)) == 1
    [write] = outside.requests(since=mark, write=True)
    assert write["path"].endswith("values:batchUpdate")
    efforts = {a.activity: a.effort for a in get_cost_estimate.fn(estimate, opp.id).activities}
    assert efforts == {
        "PS-CICD – CI/CD pipeline design and rollout": Decimal(80),
        "PS-K8S – Kubernetes integration and runners": Decimal(140),
    }


def test_the_prefilled_sheet_reads_back_as_a_complete_estimate(
    outside: SandboxClient, estimate: str
) -> None:
    opp = opportunity()
    ensure_prefilled.fn(estimate, prefill(opp))
    mark = outside.last_request_id()
    cost = get_cost_estimate.fn(estimate, opp.id)
    assert len(outside.requests(since=mark)) == 1
    assert (cost.opportunity_id, cost.revenue, cost.currency) == (opp.id, opp.amount, "USD")
    assert [(a.activity, a.effort, a.unit) for a in cost.activities] == [
        (activity_name(item), item.quantity, item.unit) for item in opp.line_items
    ]
    assert cost.missing([activity_name(item) for item in opp.line_items]) == []
    assert cost.total_hours == sum(item.hours for item in opp.line_items)


def test_a_fresh_copy_reads_back_as_incomplete(outside: SandboxClient, estimate: str) -> None:
    cost = get_cost_estimate.fn(estimate, ACME_NEW.id)
    assert not cost.is_complete
    assert cost.missing()[:2] == ["revenue", "currency"]


def test_a_bad_effort_is_named_by_its_cell(outside: SandboxClient, estimate: str) -> None:
    ensure_prefilled.fn(estimate, prefill(opportunity()))
    sheet(estimate, "Estimate").update_acell("C13", "abc")
    with pytest.raises(ValueError, match="Estimate!C13: effort 'abc' is not a number"):
        get_cost_estimate.fn(estimate, ACME_NEW.id)


def test_efforts_typed_in_days_and_with_separators(outside: SandboxClient, estimate: str) -> None:
    ensure_prefilled.fn(estimate, prefill(opportunity()))
    tab = sheet(estimate, "Estimate")
    tab.update([["days", "12.5"]], "B12:C12")
    tab.update([["1,200.5"]], "C13")  # RAW: stays text, as a pasted value may
    cost = get_cost_estimate.fn(estimate, ACME_NEW.id)
    assert [a.hours for a in cost.activities] == [Decimal(100), Decimal("1200.5")]


# --- the Project Definition's tables -------------------------------------------------------------

PLAN_ROWS = plan_rows(
    milestones(
        [("PS-CICD", "CI/CD pipelines", Decimal(80)), ("PS-K8S", "Kubernetes", Decimal(100))],
        date(2027, 1, 4),
        date(2027, 2, 26),
    )
)


@pytest.fixture
def definition(outside: SandboxClient) -> str:
    return fresh_copy(outside, Kind.PROJECT_DEFINITION, "Project Definition")


def test_plan_rows_are_appended_once(outside: SandboxClient, definition: str) -> None:
    assert ensure_rows.fn(definition, {PLAN: PLAN_ROWS}) == 2
    assert outside.writes(system="google") == 1  # one append
    assert sheet(definition, "Plan").get_all_values() == [
        ["Activity", "Milestone", "Hours", "Start", "Due"],
        ["PS-CICD", "CI/CD pipelines", "80", "2027-01-04", "2027-01-27"],
        ["PS-K8S", "Kubernetes", "100", "2027-01-28", "2027-02-26"],
    ]
    before = outside.last_request_id()
    assert ensure_rows.fn(definition, {PLAN: PLAN_ROWS}) == 0
    assert outside.writes(system="google", since=before) == 0


def test_a_row_a_person_changed_keeps_their_cells(outside: SandboxClient, definition: str) -> None:
    ensure_rows.fn(definition, {PLAN: PLAN_ROWS[:1]})
    plan = sheet(definition, "Plan")
    plan.update_acell("E2", "2027-02-05")  # the Project Owner moved the due date
    plan.update_acell("C2", "")  # and cleared the hours
    assert ensure_rows.fn(definition, {PLAN: PLAN_ROWS}) == 2  # C2 filled again, PS-K8S appended
    rows = plan.get_all_values()
    assert rows[1] == ["PS-CICD", "CI/CD pipelines", "80", "2027-01-04", "2027-02-05"]
    assert [row[0] for row in rows] == ["Activity", "PS-CICD", "PS-K8S"]


def test_a_lost_append_is_not_repeated(outside: SandboxClient, definition: str) -> None:
    outside.add_fault(r".*/values/.*:append", method="POST", status=500, after_commit=True)
    with pytest.raises(TransientError):
        ensure_rows.fn(definition, {PLAN: PLAN_ROWS})
    assert ensure_rows.fn(definition, {PLAN: PLAN_ROWS}) == 0
    assert len(sheet(definition, "Plan").get_all_values()) == 3


def test_a_definition_copied_before_the_plan_tab_gets_it(
    outside: SandboxClient, definition: str
) -> None:
    book = sheet(definition, "Plan").spreadsheet
    book.del_worksheet(book.worksheet("Plan"))
    assert ensure_rows.fn(definition, {PLAN: PLAN_ROWS}) == 3  # the header and two rows
    assert sheet(definition, "Plan").get_all_values()[0] == list(PLAN.header)
    assert ensure_rows.fn(definition, {PLAN: PLAN_ROWS}) == 0


def test_the_kickoffs_notes_and_actions_are_read_at_once_and_written_once(
    outside: SandboxClient, definition: str
) -> None:
    book = sheet(definition, "Plan").spreadsheet
    book.del_worksheet(book.worksheet("Actions"))  # copied before the template had it
    notes = [["2027-01-05", "Kickoff", "Wile E. Coyote, Divya Nair", "Scope confirmed."]]
    actions = [["2027-01-05", "Share the inventory", "", "", "Open"]]
    wanted = {MEETING_NOTES: notes, ACTIONS: actions}
    assert ensure_rows.fn(definition, wanted) == 3  # a note; the Actions header and an action
    assert sheet(definition, "Actions").get_all_values() == [list(ACTIONS.header), *actions]
    assert sheet(definition, "Meeting Notes").get_all_values()[-1] == notes[0]
    before = outside.last_request_id()
    assert ensure_rows.fn(definition, wanted) == 0
    assert outside.writes(system="google", since=before) == 0
    assert len(outside.requests(system="google", since=before)) == 1  # one read of both


def test_tables_are_read_at_once_and_a_missing_tab_reads_empty(
    outside: SandboxClient, definition: str
) -> None:
    actions = [["2027-01-05", "Share the inventory", "Wile", "2027-01-08", "Open"]]
    ensure_rows.fn(definition, {ACTIONS: actions})
    before = outside.last_request_id()
    read = get_tables.fn(definition, [ACTIONS, MEETING_NOTES])
    assert read[ACTIONS] == [list(ACTIONS.header), *actions]
    assert read[MEETING_NOTES][0] == list(MEETING_NOTES.header)
    assert len(outside.requests(system="google", since=before)) == 1
    book = sheet(definition, "Plan").spreadsheet
    book.del_worksheet(book.worksheet("Meeting Notes"))
    before = outside.last_request_id()
    again = get_tables.fn(definition, [ACTIONS, MEETING_NOTES])
    assert again == {ACTIONS: read[ACTIONS], MEETING_NOTES: []}
    assert outside.writes(system="google", since=before) == 0
