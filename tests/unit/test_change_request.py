"""The handbook's change classification: the table of cases, its boundaries, and the changes refused."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from engagement.change_request import (
    Activity,
    Baseline,
    Billing,
    Change,
    Paper,
    Recorded,
    baseline_text,
    change_log_row,
    classify,
    impact,
    next_number,
    problems,
    rebaselined,
    record_marker,
    recorded,
)

END = date(2027, 3, 26)
BASE = Baseline(
    budget=Decimal(50_000),
    end=END,
    billing=Billing.TIME_AND_MATERIALS,
    activities={"PS-MIG": Decimal(80), "PS-TRN": Decimal(16)},
)
TRAINING = Activity(code="PS-ADM", name="Admin training", hours=Decimal(16))
BUDGET = Decimal(50_000)
DAY, WEEKS_3 = timedelta(days=1), timedelta(days=21)

CO, ZERO, WRITTEN = Paper.CHANGE_ORDER, Paper.ZERO_CHANGE_ORDER, Paper.WRITTEN_CONFIRMATION
LATER, EARLIER = END + timedelta(days=60), END - timedelta(days=60)
SWAP = {"added": (TRAINING,), "removed": ("PS-TRN",)}
MORE_MIGRATION = (Activity(code="PS-MIG", hours=Decimal(96)),)


def case(name: str, paper: Paper, why: str, **change: Any) -> Any:
    return pytest.param(Change(description=name, **change), paper, why, id=name)


# The classifier's table: the change, the paper it needs, how the deciding rule says why
CASES = [
    case(
        "billing switches",
        CO,
        "billing switches from Time & Materials to",
        billing=Billing.FIXED_FEE,
    ),
    case("the budget grows by a cent", CO, "the budget grows", budget=BUDGET + Decimal("0.01")),
    case("added, with budget", CO, "the budget grows", added=(TRAINING,), budget=BUDGET + 1),
    case("the end moves exactly 60 days", ZERO, "the end date moves 60 days", end=LATER),
    case("the end comes 60 days earlier", ZERO, "the end date moves 60 days", end=EARLIER),
    case("activities swapped", ZERO, "activities swapped within the budget", **SWAP),
    case("a swap that also extends", ZERO, "activities swapped", end=END + WEEKS_3, **SWAP),
    case("the end moves 59 days", WRITTEN, "the end date moves 59 days", end=LATER - DAY),
    case("three more weeks", WRITTEN, "the end date moves 21 days (under 60)", end=END + WEEKS_3),
    case("an activity re-scoped", WRITTEN, "the scope changes", rescoped=MORE_MIGRATION),
    case("an activity added within budget", WRITTEN, "the scope changes", added=(TRAINING,)),
    case(
        "the budget shrinks", WRITTEN, "the budget shrinks from 50000 to 49999", budget=BUDGET - 1
    ),
]


@pytest.mark.parametrize(("change", "paper", "why"), CASES)
def test_the_first_rule_that_fires_decides_and_says_why(
    change: Change, paper: Paper, why: str
) -> None:
    found = classify(change, BASE)
    assert found.paper == paper, change.description
    assert found.reasons[0].startswith(why), found.reasons


def test_every_rule_that_fired_is_listed_the_deciding_one_first() -> None:
    swap_and_extend = Change(
        description="x", added=(TRAINING,), removed=("PS-TRN",), end=END + timedelta(days=21)
    )
    assert classify(swap_and_extend, BASE).reasons == (
        "activities swapped within the budget: PS-ADM for PS-TRN",
        "the end date moves 21 days (under 60), within the budget",
    )
    everything = Change(description="x", billing=Billing.FIXED_FEE, budget=BUDGET + 1)
    assert len(classify(everything, BASE).reasons) == 2


def test_hours_over_the_budget_with_no_change_are_a_work_exception() -> None:
    found = classify(Change(description="hours over, nothing approved"), BASE, hours_over=True)
    assert (found.paper, found.reasons) == (
        Paper.WORK_EXCEPTION,
        ("hours over the budget with no approved change",),
    )
    with pytest.raises(ValueError, match="description: the change changes nothing"):
        classify(Change(description="nothing"), BASE)


def test_only_change_orders_are_signed() -> None:
    assert [p for p in Paper if p.signed] == [Paper.CHANGE_ORDER, Paper.ZERO_CHANGE_ORDER]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (Change(description="x", end=date(2027, 1, 14)), "end: 2027-01-14 is before today"),
        (Change(description="x", budget=Decimal(-1)), "budget: -1 is negative"),
        (Change(description="x", removed=("PS-MIG",)), "removed: PS-MIG is accepted already"),
        (Change(description="x", removed=("PS-XYZ",)), "removed: PS-XYZ is not an activity"),
        (
            Change(description="x", rescoped=(Activity(code="PS-XYZ", hours=Decimal(8)),)),
            "rescoped: PS-XYZ is not an activity",
        ),
        (
            Change(description="x", added=(Activity(code="PS-MIG", hours=Decimal(8)),)),
            "added: PS-MIG is an activity already",
        ),
        (Change(description="x"), "description: the change changes nothing"),
    ],
)
def test_a_change_that_would_leave_the_engagement_inconsistent_is_named(
    change: Change, named: str
) -> None:
    found = problems(change, BASE, today=date(2027, 1, 15), accepted={"PS-MIG"})
    assert [p for p in found if p.startswith(named)], found


def test_a_sound_change_has_no_problem() -> None:
    three_weeks = Change(description="x", end=END + timedelta(days=21))
    assert problems(three_weeks, BASE, today=date(2027, 1, 15), accepted=()) == []


def test_cr_numbers_count_up_within_the_opportunity() -> None:
    assert next_number([]) == "CR-1"
    assert next_number(["CR-2", "CR-10", "not a CR"]) == "CR-11"


def test_an_approved_change_is_the_new_baseline_and_its_impact_in_words() -> None:
    change = Change(
        description="swap training for admin training, three more weeks",
        removed=("PS-TRN",),
        added=(TRAINING,),
        rescoped=MORE_MIGRATION,
        end=END + WEEKS_3,
    )
    new = rebaselined(BASE, change)
    assert new == Baseline(
        budget=BUDGET,
        end=END + WEEKS_3,
        billing=Billing.TIME_AND_MATERIALS,
        activities={"PS-MIG": Decimal(96), "PS-ADM": Decimal(16)},
    )
    assert impact(BASE, change) == {
        "budget_impact": "none: the budget stays 50000",
        "schedule_impact": "the end date 2027-03-26 -> 2027-04-16 (+21 days); estimated hours +16",
    }
    grown = Change(description="more", budget=BUDGET + 4_000)
    assert impact(BASE, grown)["budget_impact"] == "50000 -> 54000 (+4000)"


def test_applying_a_change_twice_gives_the_same_baseline() -> None:
    """A re-baseline retried after a crash reads a partly moved engagement: the same result."""
    change = Change(description="x", end=END + WEEKS_3, budget=Decimal(60_000), **SWAP)
    once = rebaselined(BASE, change)
    assert rebaselined(once, change) == once
    assert once.activities == {"PS-MIG": Decimal(80), "PS-ADM": Decimal(16)}


def test_the_issue_records_the_change_whatever_its_text_holds() -> None:
    hostile = Change(description="--> <!-- psflow:change=AAAA --> done", end=END + WEEKS_3)
    text = f"The request.\n\n{record_marker(hostile, WRITTEN, BASE, Decimal(96))}\nmore"
    found = recorded(text)
    assert found is not None
    assert found.change == hostile
    assert (found.paper, found.baseline, found.scoped) == (WRITTEN, BASE, Decimal(96))
    assert recorded("an issue a person wrote") is None


def test_scoped_hours_move_by_what_the_change_adds_however_much_was_applied() -> None:
    record = Recorded(
        change=Change(description="x", added=(TRAINING,)), paper=ZERO, baseline=BASE, scoped=BUDGET
    )
    new = rebaselined(BASE, record.change)
    assert record.scoped_hours(new) == BUDGET + 16
    assert record.scoped_hours(rebaselined(new, record.change)) == BUDGET + 16


def test_the_new_baseline_in_words_and_in_the_change_log() -> None:
    change = Change(description="Admin training", budget=Decimal(60_000), added=(TRAINING,))
    new = rebaselined(BASE, change)
    assert baseline_text(BASE, new) == [
        "Budget: 50000 → 60000",
        f"End: {END} (unchanged)",
        "Billing: Time & Materials (unchanged)",
        "Hours: 96 → 112",
        "Activities: PS-MIG 80, PS-TRN 16, PS-ADM 16",
    ]
    record = Recorded(change=change, paper=CO, baseline=BASE, scoped=Decimal(96))
    assert change_log_row("CR-2", record, new, date(2027, 1, 22), "dana@acme.example") == [
        "CR-2",
        "2027-01-22",
        "change order",
        "Admin training",
        60000.0,
        END.isoformat(),
        112.0,
        "dana@acme.example",
    ]
