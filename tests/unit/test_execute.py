"""Execute's rules: the report's week, the burn-down, health and the work exception's thresholds."""

from __future__ import annotations

import struct
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from engagement.charts import burn_down_png
from engagement.execute import (
    Absence,
    Colour,
    Health,
    MilestoneState,
    StatusReport,
    StatusReview,
    burn_down,
    exception_threshold,
    health,
    iso_week,
    report_problems,
)
from engagement.models import Engagement, EngagementStatus

START, END = date(2027, 1, 4), date(2027, 2, 26)  # Monday to Friday, eight weeks, 40 working days


def test_a_report_is_keyed_by_its_iso_week_across_the_year_end() -> None:
    assert [iso_week(date(2026, 12, d)) for d in (27, 28, 31)] == [
        "2026-W52",
        "2026-W53",
        "2026-W53",
    ]
    assert iso_week(date(2027, 1, 3)) == "2026-W53"
    assert iso_week(date(2027, 1, 4)) == "2027-W01"


def test_the_burn_down_has_a_point_a_week_and_none_for_weeks_to_come() -> None:
    logged = [(date(2027, 1, 5), Decimal(20)), (date(2027, 1, 12), Decimal("12.5"))]
    points = burn_down(Decimal(200), START, END, logged, today=date(2027, 1, 13))
    assert [p.week for p in points] == [f"2027-W0{n}" for n in range(1, 9)]
    assert [p.remaining for p in points[:3]] == [Decimal(180), Decimal("167.5"), None]
    assert points[0].ideal == Decimal(175)  # 5 of 40 working days gone
    assert points[-1].ideal == 0
    assert points[-1].ends == END


def test_a_holiday_week_burns_less_of_the_ideal_line() -> None:
    # Martin Luther King Jr. Day (18 January 2027) and Presidents' Day: 38 working days, four
    # in the week of the 18th
    plain = burn_down(Decimal(100), START, END, [], today=START)
    us = burn_down(Decimal(100), START, END, [], today=START, country="US")
    assert plain[2].ideal - plain[1].ideal == Decimal("-12.5")
    assert us[2].ideal - us[1].ideal == Decimal("-10.5")


def test_an_end_before_the_start_is_refused() -> None:
    with pytest.raises(ValueError, match="ends"):
        burn_down(Decimal(1), END, START, [], today=START)


def at(today: date, consumed: int, overdue=(), escalations=()) -> tuple[Colour, tuple[str, ...]]:  # type: ignore[no-untyped-def]
    found = health(
        today=today,
        start=START,
        end=END,
        scoped=Decimal(100),
        consumed=Decimal(consumed),
        overdue=list(overdue),
        escalations=list(escalations),
    )
    return found.colour, found.reasons


def test_health_is_green_when_hours_follow_time_and_nothing_is_late() -> None:
    assert at(date(2027, 1, 15), 25) == (Colour.GREEN, ("on schedule, hours in line with time",))


def test_health_turns_yellow_then_red_as_hours_run_ahead_of_time() -> None:
    day = date(2027, 1, 15)  # 10 of 40 working days: 25% elapsed
    assert at(day, 34)[0] == Colour.GREEN  # 9 points ahead
    assert at(day, 35)[0] == Colour.YELLOW  # 10
    assert at(day, 50)[0] == Colour.RED  # 25
    assert at(day, 101) == (Colour.RED, ("101 hours consumed of 100 scoped",))


def test_a_late_milestone_and_an_escalation_say_why() -> None:
    day = date(2027, 1, 29)
    colour, reasons = at(day, 50, overdue=[("PS-MIG Migration", date(2027, 1, 28))])
    assert colour == Colour.YELLOW
    assert reasons == ("PS-MIG Migration is 1 working days past its due date 2027-01-28",)
    colour, _ = at(day, 50, overdue=[("PS-MIG Migration", date(2027, 1, 15))])
    assert colour == Colour.RED  # ten working days late
    colour, reasons = at(day, 50, escalations=["Customer VPN access blocked"])
    assert (colour, reasons) == (Colour.RED, ("open escalation: Customer VPN access blocked",))


def test_a_work_exception_is_keyed_by_the_highest_threshold_reached() -> None:
    scoped = Decimal(200)
    assert exception_threshold(Decimal("199.9"), scoped) is None
    assert exception_threshold(Decimal(200), scoped) == 100
    assert exception_threshold(Decimal("219.9"), scoped) == 100
    assert exception_threshold(Decimal(220), scoped) == 110
    assert exception_threshold(Decimal(400), scoped) == 150
    assert exception_threshold(Decimal(1), Decimal(0)) == 100  # nothing scoped, hours logged
    assert exception_threshold(Decimal(0), Decimal(0)) is None


def test_the_burn_down_chart_is_a_png_drawn_the_same_each_time() -> None:
    points = burn_down(
        Decimal(200), START, END, [(date(2027, 1, 5), Decimal(30))], date(2027, 1, 8)
    )
    png = burn_down_png(points, Decimal(200), "Acme – CI/CD Modernisation")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (width, height) == (800, 400)
    assert burn_down_png(points, Decimal(200), "Acme – CI/CD Modernisation") == png
    assert b"Software" not in png  # no version in it: a new release draws the same bytes


def test_a_report_reads_as_a_row_and_as_markdown() -> None:
    report = StatusReport(
        week="2027-W05",
        as_of=date(2027, 2, 1),
        title="Acme – CI/CD Modernisation",
        health=Health(colour=Colour.YELLOW, reasons=("Migration is 1 working days past its due",)),
        due=END,
        milestones=(
            MilestoneState(title="Assessment", due=date(2027, 1, 15), done=True),
            MilestoneState(title="Migration", due=date(2027, 1, 29), done=False),
            MilestoneState(title="Cutover", due=END, done=False),
        ),
        scoped=Decimal(200),
        consumed=Decimal("92.5"),
        by_person=(("aisha.bello@northwind.example", Decimal("92.5")),),
        actions=("Provision the runners",),
        issues=(),
        out_of_office=(
            str(
                Absence(
                    person="aisha.bello@northwind.example",
                    start=date(2027, 2, 8),
                    end=date(2027, 2, 9),
                )
            ),
        ),
    )
    assert report.row("https://drive/chart", "sent to dana@acme.example") == [
        "2027-W05",
        "1 of 3 milestones done, the project due 2027-02-26; late: Migration (due 2027-01-29)",
        92.5,
        107.5,
        "none",
        "aisha.bello@northwind.example: 2027-02-08 to 2027-02-09",
        "yellow",
        1,
        "https://drive/chart",
        "",
        "sent to dana@acme.example",
    ]
    text = report.markdown("https://drive/chart")
    assert text.startswith("# Status report 2027-W05: Acme – CI/CD Modernisation\n")
    assert "**Health: yellow**" in text
    assert "92.5 of 200 hours used, 107.5 remaining." in text
    assert "![Burn-down](https://drive/chart)" in text
    assert "## Issues and escalations\n- none" in text
    assert "## Planned out of office (next two weeks)\n- aisha.bello" in text

    review = StatusReview(
        issues=["Test environment late ", ""],
        out_of_office=[],
        note="Cutover moves to March.",
        health_override="red: the customer's test environment is two weeks late",
    )
    edited = report.reviewed(review, "divya.nair@northwind.example")
    assert (edited.issues, edited.out_of_office) == (("Test environment late",), ())
    assert edited.health == Health(
        colour=Colour.RED,
        reasons=(
            "set by divya.nair@northwind.example: the customer's test environment is two weeks late",
            "computed yellow: Migration is 1 working days past its due",
        ),
    )
    assert edited.markdown("https://drive/chart").endswith("## Note\nCutover moves to March.\n")
    assert report.reviewed(StatusReview(issues=["x"]), "po").health == report.health


@pytest.mark.parametrize("override", ["red", "purple: why", "red:   ", "Red: why"])
def test_a_health_override_needs_a_colour_and_its_reason(override: str) -> None:
    with pytest.raises(ValidationError, match="health_override"):
        StatusReview(health_override=override)


def test_a_report_needs_the_engagement_in_progress_with_its_scoped_hours_and_end() -> None:
    backlog = Engagement(name="Acme", opportunity_id="006Dn0000000002IAA")
    assert report_problems(backlog) == [
        "Status__c is 'Backlog', not In Progress since a kickoff (Actual_Start__c)",
        "Scoped_Hours__c is empty",
        "Expected_Completion__c is empty",
    ]
    under_way = backlog.model_copy(
        update={
            "status": EngagementStatus.IN_PROGRESS,
            "actual_start": START,
            "scoped_hours": Decimal(120),
            "expected_completion": END,
        }
    )
    assert report_problems(under_way) == []


def test_a_report_before_the_first_day_draws_the_ideal_line_alone() -> None:
    points = burn_down(Decimal(200), START, END, [], START - timedelta(days=3))
    assert all(point.remaining is None for point in points)
    assert (
        burn_down_png(points, Decimal(200), "Acme – CI/CD Modernisation")[:8]
        == b"\x89PNG\r\n\x1a\n"
    )
