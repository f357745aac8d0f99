"""Plan's Mavenlink tasks against the sandbox: hard bookings beside the soft one, milestones with the
plan's dates (a person's dates kept), the project's dates; each once per natural key."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from engagement.keys import Kind, natural_key
from engagement.plan import Milestone
from engagement.staffing import Allocation
from sandbox import seed as demo
from sandbox.client import SandboxClient
from tasks import mavenlink as ml
from tasks.calls import TransientError
from tasks.clients import systems
from testkit.factories import from_seed

OPPORTUNITY = from_seed(demo.OPPORTUNITIES[1], stage="Closed Won")
DIVYA = demo.staff("divya_nair").email
GRACE = demo.staff("grace_kim").email
START = date(2027, 1, 4)  # a Monday
MIGRATION = Milestone(
    code="PS-MIG", title="Migration", hours=Decimal(80), start=START, due=date(2027, 1, 29)
)
STORIES = r"/mavenlink/api/v1/stories\.json"


def allocations(outside: SandboxClient, workspace_id: str) -> dict[str, dict[str, Any]]:
    rows = outside.state("mavenlink", "workspace_allocations")
    return {a["id"]: a for a in rows if a["workspace_id"] == workspace_id}


def edit_in_kantata(path: str, kind: str, **fields: Any) -> None:
    """A person's change in Kantata: the same API, another hand."""
    systems().mavenlink().put(path, json={kind: fields}).raise_for_status()


def story(outside: SandboxClient, story_id: str) -> dict[str, Any]:
    (row,) = [s for s in outside.state("mavenlink", "stories") if s["id"] == story_id]
    return row


def test_a_hard_booking_stands_beside_the_soft_one_and_is_made_once(
    outside: SandboxClient,
) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.IN_SET_UP)
    soft = ml.ensure_soft_booking.fn(
        workspace.id, OPPORTUNITY.id, DIVYA, START, date(2027, 6, 30), 6
    )
    before = outside.last_request_id()

    hard = ml.ensure_hard_booking.fn(
        workspace.id, OPPORTUNITY.id, DIVYA, START, date(2027, 1, 15), 6
    )
    assert hard.created
    assert hard.id != soft.id
    assert outside.writes(system="mavenlink", since=before) == 1  # the resource exists already
    booked = allocations(outside, workspace.id)
    assert booked[hard.id]["hard"] is True
    assert booked[soft.id]["hard"] is False
    assert booked[hard.id]["minutes"] == 6 * 60 * 10  # two working weeks
    before = outside.last_request_id()
    assert ml.find_hard_bookings.fn(workspace.id, OPPORTUNITY.id, [DIVYA, GRACE]) == {
        DIVYA: Allocation(start=START, end=date(2027, 1, 15), minutes_per_day=360)
    }
    assert len(outside.requests(system="mavenlink", since=before)) == 1

    before = outside.last_request_id()
    again = ml.ensure_hard_booking.fn(
        workspace.id, OPPORTUNITY.id, DIVYA, START, date(2027, 1, 15), 6
    )
    assert (again.id, again.created) == (hard.id, False)
    assert outside.writes(system="mavenlink", since=before) == 0

    # Execute rolls it forward: the same allocation, a later end
    before = outside.last_request_id()
    later = ml.ensure_hard_booking.fn(
        workspace.id, OPPORTUNITY.id, DIVYA, START, date(2027, 1, 29), 6
    )
    assert later.id == hard.id
    assert outside.writes(system="mavenlink", since=before) == 1
    assert allocations(outside, workspace.id)[hard.id]["end_date"] == "2027-01-29"
    key = natural_key(Kind.HARD_BOOKING, OPPORTUNITY.id, DIVYA)
    refs = [
        r
        for r in outside.state("mavenlink", "external_references")
        if r["service_model_ref"] == key
    ]
    assert [str(r["subject_id"]) for r in refs] == [hard.id]


def test_a_milestone_is_made_once_with_the_plans_dates(outside: SandboxClient) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.IN_SET_UP)
    before = outside.last_request_id()
    (made,) = ml.ensure_milestones.fn(workspace.id, OPPORTUNITY.id, [MIGRATION])
    assert made.created
    assert outside.writes(system="mavenlink", since=before) == 1
    row = story(outside, made.id)
    assert (row["story_type"], row["title"], row["start_date"], row["due_date"]) == (
        "milestone",
        "Migration",
        "2027-01-04",
        "2027-01-29",
    )
    before = outside.last_request_id()
    (again,) = ml.ensure_milestones.fn(workspace.id, OPPORTUNITY.id, [MIGRATION])
    assert (again.id, again.created) == (made.id, False)
    assert outside.writes(system="mavenlink", since=before) == 0

    # the plan with one more: the one found, the other made, after one listing of both
    cutover = Milestone(
        code="PS-CUT",
        title="Cutover",
        hours=Decimal(8),
        start=date(2027, 2, 1),
        due=date(2027, 2, 5),
    )
    before = outside.last_request_id()
    both = ml.ensure_milestones.fn(workspace.id, OPPORTUNITY.id, [MIGRATION, cutover])
    assert [(ref.name, ref.created) for ref in both] == [("Migration", False), ("Cutover", True)]
    assert [r["method"] for r in outside.requests(system="mavenlink", since=before)] == [
        "GET",
        "POST",
    ]


def test_a_date_a_person_set_on_a_milestone_is_kept(outside: SandboxClient) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.IN_SET_UP)
    (made,) = ml.ensure_milestones.fn(workspace.id, OPPORTUNITY.id, [MIGRATION])
    edit_in_kantata(f"stories/{made.id}.json", "story", due_date="2027-02-12", start_date=None)

    ml.ensure_milestones.fn(workspace.id, OPPORTUNITY.id, [MIGRATION])
    row = story(outside, made.id)
    assert (row["start_date"], row["due_date"]) == ("2027-01-04", "2027-02-12")


def test_a_milestone_whose_answer_is_lost_is_found_on_the_retry(outside: SandboxClient) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.IN_SET_UP)
    outside.add_fault(STORIES, method="POST", kind="status", status=500, after_commit=True)
    with pytest.raises(TransientError, match="Mavenlink: milestone 'Migration'"):
        ml.ensure_milestones.fn(workspace.id, OPPORTUNITY.id, [MIGRATION])
    (retried,) = ml.ensure_milestones.fn(workspace.id, OPPORTUNITY.id, [MIGRATION])
    assert not retried.created
    milestones = [
        s
        for s in outside.state("mavenlink", "stories")
        if s["workspace_id"] == workspace.id and s["story_type"] == "milestone"
    ]
    assert [s["id"] for s in milestones] == [retried.id]


def test_the_projects_dates_are_set_where_it_has_none(outside: SandboxClient) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.IN_SET_UP)
    end = START + timedelta(days=88)
    assert ml.ensure_workspace_dates.fn(workspace, START, end)
    (row,) = [w for w in outside.state("mavenlink", "workspaces") if w["id"] == workspace.id]
    assert (row["start_date"], row["due_date"]) == (START.isoformat(), end.isoformat())

    edit_in_kantata(f"workspaces/{workspace.id}.json", "workspace", due_date="2027-05-28")
    before = outside.last_request_id()
    found = ml.find_workspace.fn(OPPORTUNITY.id)  # as the next run finds it
    assert found is not None
    assert not ml.ensure_workspace_dates.fn(found, START, end)  # the person's due date kept
    assert outside.writes(system="mavenlink", since=before) == 0


def test_a_project_is_only_moved_forward(outside: SandboxClient) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.IN_SET_UP)
    ml.ensure_workspace_details.fn(workspace.id, OPPORTUNITY.amount, "USD", 40, {})  # Initiate's
    assert ml.ensure_workspace_status.fn(workspace, ml.ACTIVE)  # Plan's
    before = outside.last_request_id()
    # a re-run of Initiate after Plan: the project stays Active
    active = ml.find_workspace.fn(OPPORTUNITY.id)
    assert active is not None
    assert not ml.ensure_workspace_status.fn(active, ml.IN_SET_UP)
    assert not ml.ensure_workspace_details.fn(
        workspace.id, OPPORTUNITY.amount, "USD", 40, {}, status=ml.IN_SET_UP
    )
    assert outside.writes(system="mavenlink", since=before) == 0
    (row,) = [w for w in outside.state("mavenlink", "workspaces") if w["id"] == workspace.id]
    assert str(row["status"]["key"]) == ml.ACTIVE


BILLING = r"/mavenlink/api/v1/billing_milestones\.json"


def test_an_accepted_milestones_fee_is_billed_once_even_when_its_answer_is_lost(
    outside: SandboxClient,
) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.IN_SET_UP)
    (milestone,) = ml.ensure_milestones.fn(workspace.id, OPPORTUNITY.id, [MIGRATION])
    accepted = date(2027, 2, 1)
    outside.add_fault(BILLING, method="POST", kind="status", status=500, after_commit=True)
    with pytest.raises(TransientError, match="Mavenlink: billing milestone PS-MIG"):
        ml.ensure_billing_milestone.fn(
            workspace.id, OPPORTUNITY.id, "PS-MIG", milestone, 3_333_333, accepted
        )
    before = outside.last_request_id()
    billed = ml.ensure_billing_milestone.fn(
        workspace.id, OPPORTUNITY.id, "PS-MIG", milestone, 3_333_333, accepted
    )
    assert not billed.created  # the lost answer's milestone, found by its reference
    assert outside.writes(system="mavenlink", since=before) == 0
    (row,) = outside.state("mavenlink", "billing_milestones")
    assert row["id"] == billed.id
    assert (row["story_id"], row["amount_in_cents"], row["date_to_invoice"]) == (
        milestone.id,
        3_333_333,
        "2027-02-01",
    )
    assert (row["title"], row["billing_type"], row["currency"]) == (
        "Migration",
        "fixed_date",
        "USD",
    )


def test_kantata_refuses_a_billing_milestone_without_its_amount_or_with_anothers_task(
    outside: SandboxClient,
) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.IN_SET_UP)
    other = ml.ensure_workspace.fn(
        from_seed(demo.OPPORTUNITIES[2], stage="Closed Won"), ml.IN_SET_UP
    )
    (milestone,) = ml.ensure_milestones.fn(other.id, OPPORTUNITY.id, [MIGRATION])
    kantata = systems().mavenlink()
    no_amount = {"workspace_id": workspace.id, "title": "Migration"}
    answer = kantata.post("billing_milestones.json", json={"billing_milestone": no_amount})
    assert answer.status_code == 422
    assert "Amount in cents can't be blank" in answer.text
    elsewhere = {**no_amount, "amount_in_cents": 100, "story_id": milestone.id}
    answer = kantata.post("billing_milestones.json", json={"billing_milestone": elsewhere})
    assert answer.status_code == 422
    assert "Task must be in the same project" in answer.text
    assert outside.state("mavenlink", "billing_milestones") == []


def test_the_bookings_end_on_the_closure_day_once(outside: SandboxClient) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.IN_SET_UP)
    hard = ml.ensure_hard_booking.fn(
        workspace.id, OPPORTUNITY.id, DIVYA, START, date(2027, 1, 15), 6
    )  # two weeks: 60 hours
    soft = ml.ensure_soft_booking.fn(
        workspace.id, OPPORTUNITY.id, DIVYA, date(2027, 1, 18), date(2027, 2, 26), 6
    )
    before = outside.last_request_id()
    ended = ml.ensure_bookings_ended.fn(workspace.id, OPPORTUNITY.id, date(2027, 1, 8))
    assert sorted(r.id for r in ended) == sorted([hard.id, soft.id])
    assert outside.writes(system="mavenlink", since=before) == 2  # a shortening, a delete
    left = allocations(outside, workspace.id)
    assert list(left) == [hard.id]
    assert (left[hard.id]["end_date"], left[hard.id]["minutes"]) == ("2027-01-08", 5 * 6 * 60)
    before = outside.last_request_id()
    assert ml.ensure_bookings_ended.fn(workspace.id, OPPORTUNITY.id, date(2027, 1, 8)) == []
    assert outside.writes(system="mavenlink", since=before) == 0
