"""Close's financial wrap-up against hand-computed figures: hours per activity (an entry on no
activity's task apart), cost from each person's rate, the margin against the 40% target,
revenue by billing type; a person without a cost rate named."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from engagement.close import OTHER, MissingCostRate, WrapUp, closeout_values, wrap_up
from engagement.execute import Logged
from engagement.models import Billing
from testkit.factories import opportunity

ALICE, BOB = "alice@northwind.example", "bob@northwind.example"
RATES = {ALICE: Decimal(80), BOB: Decimal(60)}
LOGGED = [  # alice at $80 an hour, bob at $60
    (date(2027, 1, 4), ALICE, "t-a", 30),
    (date(2027, 1, 5), ALICE, "t-b", 10),
    (date(2027, 1, 4), BOB, "t-a", 15),
    (date(2027, 1, 6), BOB, None, 5),  # on no activity's task
]


def logged(rates: dict[str, Decimal]) -> list[Logged]:
    return [
        Logged(day=day, person=who, task_id=task, hours=Decimal(hours), cost_rate=rates.get(who))
        for day, who, task, hours in LOGGED
    ]


def wrap(
    billing: Billing = Billing.FIXED_FEE, budget: int = 8000, cost_rates: dict[str, Decimal] = RATES
) -> WrapUp:
    return wrap_up(
        currency="USD",
        billing=billing,
        estimates={"PS-A": Decimal(40), "PS-B": Decimal(20)},
        logged=logged(cost_rates),
        activity_of_task={"t-a": "PS-A", "t-b": "PS-B"},
        budget=Decimal(budget),
        scoped_hours=Decimal(60),
        billed=[Decimal(5000), Decimal(2000)],
    )


def test_the_wrap_up_of_a_fixed_fee_engagement_matches_the_hand_computed_case() -> None:
    result = wrap()
    hours = {a.activity: (a.estimated, a.actual, a.variance) for a in result.activities}
    assert hours == {
        "PS-A": (40, 45, 5),  # alice 30 + bob 15
        "PS-B": (20, 10, -10),
        OTHER: (0, 5, 5),  # bob's hours on no activity's task
    }
    assert (result.estimated, result.actual) == (60, 60)
    assert result.cost == Decimal("4400.00")  # alice 40 h x 80 + bob 20 h x 60
    assert result.margin == Decimal("0.4500")  # (8000 - 4400) / 8000
    assert not result.below_target
    assert result.revenue == Decimal("7000.00")  # the two milestones released
    assert result.explained()[-2] == (
        "Budget 8,000.00 USD, cost 4,400.00 USD: margin 45.0%, meets the 40% target."
    )


def test_a_margin_under_forty_percent_is_flagged() -> None:
    result = wrap(budget=7000)
    assert result.margin == Decimal("0.3714")  # (7000 - 4400) / 7000
    assert result.below_target
    assert "margin 37.1%, BELOW the 40% target" in result.explained()[-2]


def test_time_and_materials_recognises_the_hours_at_the_sows_rate() -> None:
    result = wrap(Billing.TIME_AND_MATERIALS, budget=9000)
    assert result.revenue == Decimal("9000.00")  # 60 h at 9000 / 60 scoped hours


def test_hours_without_a_cost_rate_are_named_not_costed_at_zero() -> None:
    with pytest.raises(MissingCostRate, match=r"no cost rate for bob@northwind\.example"):
        wrap(cost_rates={ALICE: Decimal(80)})


def test_the_closeout_reports_values_say_the_wrap_up_deliverables_and_changes() -> None:
    values = closeout_values(
        opportunity(),
        "divya.nair@northwind.example",
        wrap(),
        {
            "PS-A": "Accepted by reply on 2027-03-01: dana@acme.example",
            "PS-B": "Accepted passively",
        },
        "2027-03-12 (by reply)",
        {},
    )
    assert values["hours"] == "Hours: 60 actual against 60 estimated (±0, 0.0%)."
    assert values["activities"] == "PS-A: 45 of 40 (+5); PS-B: 10 of 20 (-10); other: 5 of 0 (+5)"
    assert values["margin"].startswith("Budget 8,000.00 USD, cost 4,400.00 USD: margin 45.0%")
    assert values["revenue"].startswith("Revenue recognised: 7,000.00 USD")
    assert values["deliverables"].startswith("PS-A: Accepted by reply on 2027-03-01")
    assert values["change_requests"] == "none"
    assert "lessons_learned" not in values  # the Project Owner's, from the form, later
