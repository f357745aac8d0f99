"""Stage transitions and what Pre-Initiate needs of an opportunity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engagement.lifecycle import (
    NotReady,
    StageChange,
    Transition,
    initiated_problems,
    pre_initiate_problems,
    release_problems,
    stage_problems,
    transition,
)
from engagement.models import Engagement
from testkit.factories import opportunity

STAGES = {
    "negotiating": "5-Negotiating",
    "closed_won": "Closed Won",
    "closed_lost": "8-Closed Lost",
}
ALLOWED = ("5-Negotiating", "6-Awaiting Signature", "Closed Won")


def change(old: str | None, new: str) -> StageChange:
    return StageChange(
        id="017Dn0000000001IAA",
        opportunity_id="006Dn0000000002IAA",
        opportunity_name="Acme – CI/CD",
        customer="Acme",
        old_stage=old,
        new_stage=new,
        changed_at=datetime(2026, 11, 26, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("4-Proposal", "5-Negotiating", Transition.NEGOTIATING),
        ("5-Negotiating", "Closed Won", Transition.CLOSED_WON),
        ("4-Proposal", "Closed Won", Transition.CLOSED_WON),  # skipped Negotiating: still won
        ("6-Awaiting Signature", "8-Closed Lost", Transition.CLOSED_LOST),
        ("5-Negotiating", "6-Awaiting Signature", None),
        ("5-Negotiating", "5-Negotiating", None),
        (None, "5-Negotiating", Transition.NEGOTIATING),
    ],
)
def test_moving_into_a_stage_is_the_transition(
    old: str | None, new: str, expected: Transition | None
) -> None:
    assert transition(change(old, new), **STAGES) is expected


def test_a_complete_opportunity_in_negotiating_is_ready() -> None:
    assert pre_initiate_problems(opportunity(), ALLOWED) == []
    assert pre_initiate_problems(opportunity(stage="Closed Won"), ALLOWED) == []


def test_every_missing_field_is_named_in_salesforce_terms() -> None:
    problems = pre_initiate_problems(
        opportunity(
            stage="4-Proposal",
            engagement_manager_email=None,
            sow_number=None,
            expected_start=None,
            expected_completion=None,
            line_items=(),
        ),
        ALLOWED,
    )
    assert [p.split(" ", 1)[0] for p in problems] == [
        "StageName",
        "PS_Engagement_Manager__c:",
        "SOW_Number__c",
        "PS_Expected_Start__c",
        "PS_Expected_Completion__c",
        "Opportunity",
    ]
    assert "'4-Proposal'" in problems[0]


def test_not_ready_lists_every_problem() -> None:
    error = NotReady("006Dn0000000002IAA", "Pre-Initiate", ["SOW_Number__c is empty", "x"])
    assert "006Dn0000000002IAA is not ready for Pre-Initiate" in str(error)
    assert "  - SOW_Number__c is empty" in str(error)
    assert error.problems == ["SOW_Number__c is empty", "x"]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("5-Negotiating", "4-Proposal", Transition.WITHDRAWN),
        ("6-Awaiting Signature", "2-Scoping", Transition.WITHDRAWN),
        ("5-Negotiating", "6-Awaiting Signature", Transition.AWAITING_SIGNATURE),
        ("6-Awaiting Signature", "5-Negotiating", Transition.NEGOTIATING),
        ("6-Awaiting Signature", "8-Closed Lost", Transition.CLOSED_LOST),
        ("3-Technical Evaluation", "4-Proposal", None),
        (None, "4-Proposal", None),  # created there
    ],
)
def test_a_deal_moved_back_before_negotiating_is_withdrawn(
    old: str | None, new: str, expected: Transition | None
) -> None:
    move = StageChange(
        id="0Fh1",
        opportunity_id="006Dn0000000002IAA",
        opportunity_name="",
        customer="",
        old_stage=old,
        new_stage=new,
        changed_at=datetime(2026, 12, 4, tzinfo=UTC),
    )
    stages = {
        "negotiating": "5-Negotiating",
        "closed_won": "Closed Won",
        "closed_lost": "8-Closed Lost",
        "awaiting_signature": "6-Awaiting Signature",
        "later": ["6-Awaiting Signature", "Closed Won"],
    }
    assert transition(move, **stages) == expected


def test_a_phase_run_in_the_wrong_stage_names_the_stage_field() -> None:
    won = opportunity(stage="Closed Won")
    assert stage_problems(won, ["Closed Won"], "Plan") == []
    assert stage_problems(won, ["6-Awaiting Signature"], "the signature checks") == [
        "StageName is 'Closed Won'; the signature checks run at '6-Awaiting Signature'"
    ]


@pytest.mark.parametrize(
    ("stage", "released"),
    [("8-Closed Lost", True), ("3-Qualification", True), ("5-Negotiating", False)],
)
def test_a_release_runs_for_a_lost_deal_or_one_moved_back(stage: str, released: bool) -> None:
    holding = {"5-Negotiating", "6-Awaiting Signature", "Closed Won"}
    problems = release_problems(opportunity(stage=stage), "8-Closed Lost", holding)
    assert problems == (
        [] if released else [f"StageName is {stage!r}: the deal is on, nothing is released"]
    )


def test_what_initiate_left_undone_is_named_object_by_object() -> None:
    engagement = Engagement(name="Acme", opportunity_id="006Dn0000000002IAA")
    assert initiated_problems(None, None, object()) == [
        "Initiate has not completed: no PS Engagement record (Salesforce)",
        "Initiate has not completed: no Mavenlink project",
    ]
    assert initiated_problems(engagement, object(), object()) == [
        "Initiate has not completed: no GitLab project link on the PS Engagement "
        "(Collaboration_Project__c)"
    ]
    linked = engagement.model_copy(update={"collaboration_project": "https://gitlab.test/acme/p"})
    assert initiated_problems(linked, object(), object()) == []
