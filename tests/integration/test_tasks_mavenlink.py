"""psflow's Mavenlink tasks against the sandbox: the project and the soft bookings exist once per
natural key whatever fails in between, and the seeded workload reads back as hard bookings."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from engagement.keys import ArtifactKind, mavenlink_workspace_title, natural_key
from engagement.models import Account, Opportunity
from engagement.staffing import Allocation
from sandbox import seed as demo
from sandbox.client import SandboxClient
from tasks import mavenlink as ml
from tasks.calls import PermanentError, TransientError
from tasks.clients import mavenlink

SEEDED = demo.OPPORTUNITIES[1]  # Acme – CI/CD Modernisation, no Mavenlink project yet
OPPORTUNITY = Opportunity(
    id=SEEDED.id,
    name=SEEDED.name,
    account=Account(id=demo.ACME.id, name=demo.ACME.name, time_zone=demo.ACME.time_zone),
    stage="5-Negotiating",
    amount=Decimal(SEEDED.amount),
    currency=SEEDED.currency,
    close_date=demo.day(20),
    sow_number=SEEDED.sow_number,
)
TITLE = mavenlink_workspace_title(OPPORTUNITY.name, OPPORTUNITY.sow_number)
WORKSPACES = r"/mavenlink/api/v1/workspaces\.json"
ALLOCATIONS = r"/mavenlink/api/v1/workspace_allocations\.json"
GRACE = demo.staff("grace_kim").email
DIVYA = demo.staff("divya_nair").email


def workspaces_titled(outside: SandboxClient, title: str) -> list[dict[str, Any]]:
    return [w for w in outside.state("mavenlink", "workspaces") if w["title"] == title]


def psflow_refs(outside: SandboxClient, subject_type: str, key: str) -> list[dict[str, Any]]:
    return [
        r
        for r in outside.state("mavenlink", "external_references")
        if r["subject_type"] == subject_type
        and r["service_name"] == "psflow"
        and r["service_model_ref"] == key
    ]


def monday(weeks_ahead: int) -> date:
    today = demo.day(0)
    return today + timedelta(days=7 * weeks_ahead - today.weekday())


# --- the project ---------------------------------------------------------------------------------


def test_ensure_workspace_creates_once(outside: SandboxClient) -> None:
    first = ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)
    assert first.created
    assert first.name == "Acme – CI/CD Modernisation (SOW-2026-041)"
    assert outside.writes(system="mavenlink") == 1  # the reference rides in the same request
    (workspace,) = workspaces_titled(outside, TITLE)
    assert workspace["id"] == first.id
    assert workspace["status"]["message"] == "Prospect"
    assert workspace["start_date"] is None
    assert workspace["due_date"] is None
    key = natural_key(ArtifactKind.WORKSPACE, OPPORTUNITY.id)
    assert [str(r["subject_id"]) for r in psflow_refs(outside, "Workspace", key)] == [first.id]

    before = outside.last_request_id()
    again = ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)
    assert not again.created
    assert again.id == first.id
    assert outside.writes(system="mavenlink", since=before) == 0


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_a_create_whose_answer_is_lost_is_found_on_the_retry(
    outside: SandboxClient, kind: str
) -> None:
    outside.add_fault(WORKSPACES, method="POST", kind=kind, status=500, after_commit=True)
    with pytest.raises(TransientError, match=re.escape(f"Mavenlink: project '{TITLE}'")):
        ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)

    retried = ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)
    assert not retried.created
    assert [w["id"] for w in workspaces_titled(outside, TITLE)] == [retried.id]
    assert outside.writes(system="mavenlink") == 1


def test_a_workspace_left_without_its_reference_is_adopted(outside: SandboxClient) -> None:
    # what a crash between creating the project and recording its key would leave behind
    answer = mavenlink().post(
        "workspaces.json", json={"workspace": {"title": TITLE, "price": "42000"}}
    )
    answer.raise_for_status()
    (orphan_id,) = answer.json()["workspaces"]
    # a same-titled project of someone else's, already claimed by psflow, is left alone
    other = mavenlink().post(
        "workspaces.json",
        json={
            "workspace": {
                "title": TITLE,
                "price": "1",
                "external_reference": {
                    "service_name": "psflow",
                    "service_model": "workspace",
                    "service_model_ref": "workspace:someone-else",
                },
            }
        },
    )
    other.raise_for_status()
    before = outside.last_request_id()

    adopted = ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)
    assert not adopted.created
    assert adopted.id == orphan_id
    assert outside.writes(system="mavenlink", since=before) == 1  # only the reference
    assert len(workspaces_titled(outside, TITLE)) == 2
    key = natural_key(ArtifactKind.WORKSPACE, OPPORTUNITY.id)
    assert [r["subject_id"] for r in psflow_refs(outside, "Workspace", key)] == [int(orphan_id)]

    before = outside.last_request_id()
    assert ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT).id == orphan_id
    assert outside.writes(system="mavenlink", since=before) == 0


def test_set_workspace_status_writes_only_a_change(outside: SandboxClient) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)
    assert workspace.id is not None
    before = outside.last_request_id()
    assert ml.set_workspace_status.fn(workspace.id, ml.IN_SET_UP)
    assert not ml.set_workspace_status.fn(workspace.id, ml.IN_SET_UP)
    assert outside.writes(system="mavenlink", since=before) == 1
    (stored,) = workspaces_titled(outside, TITLE)
    assert stored["status"]["message"] == "In Set Up"


def test_permanent_errors_name_the_system_and_the_object(outside: SandboxClient) -> None:
    with pytest.raises(
        PermanentError, match=re.escape(f"Mavenlink: project '{TITLE}'") + ".*HTTP 422.*status_key"
    ) as info:
        ml.ensure_workspace.fn(OPPORTUNITY, "999")  # no such status on the account
    assert info.value.status == 422
    with pytest.raises(PermanentError, match="Mavenlink: status of project 999999: HTTP 404"):
        ml.set_workspace_status.fn("999999", ml.ACTIVE)
    with pytest.raises(PermanentError, match=r"Mavenlink: user nobody@northwind\.example"):
        ml.get_hard_bookings.fn(["nobody@northwind.example"], demo.day(0), demo.day(30))
    assert workspaces_titled(outside, TITLE) == []  # the refused create made nothing


# --- bookings ------------------------------------------------------------------------------------


def test_get_hard_bookings_reads_the_seeded_workload(outside: SandboxClient) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)
    assert workspace.id is not None
    # soft bookings hold nobody: neither Divya's nor Grace's proposal counts
    ml.ensure_soft_booking.fn(workspace.id, OPPORTUNITY.id, DIVYA, monday(1), monday(3), Decimal(8))
    ml.ensure_soft_booking.fn(workspace.id, OPPORTUNITY.id, GRACE, monday(1), monday(2), 4)
    # and a hard booking over a weekend: Friday to Tuesday is 3 business days, 720 minutes in all
    friday = monday(1) + timedelta(days=4)
    hard = {"start_date": friday.isoformat(), "end_date": (friday + timedelta(days=4)).isoformat()}
    kavya = demo.staff("kavya_iyer").email
    kantata_user = mavenlink().get("users.json", params={"by_email_address": kavya}).json()
    resource = mavenlink().post(
        "workspace_resources.json",
        json={
            "workspace_resource": {
                "workspace_id": workspace.id,
                "user_id": kantata_user["results"][0]["id"],
            }
        },
    )
    (resource_id,) = resource.json()["workspace_resources"]
    mavenlink().post(
        "workspace_allocations.json",
        json={
            "workspace_allocation": {
                "resource_id": resource_id,
                "minutes": 720,
                "hard": True,
                **hard,
            }
        },
    ).raise_for_status()
    people = ["aisha_bello", "bruno_costa", "chen_wei", "grace_kim", "divya_nair", "kavya_iyer"]
    emails = [demo.staff(key).email for key in people]
    before = outside.last_request_id()

    bookings = ml.get_hard_bookings.fn(emails, demo.day(0), demo.day(30))

    def expected(key: str) -> list[Allocation]:
        return [
            Allocation(
                start=demo.day(b.start_in_days),
                end=demo.day(b.start_in_days + b.days - 1),
                minutes_per_day=b.minutes_per_day,
            )
            for b in demo.BOOKINGS
            if b.pse == key
        ]

    assert bookings == {
        demo.staff("aisha_bello").email: expected("aisha_bello"),
        demo.staff("bruno_costa").email: [],  # long finished, outside the window
        demo.staff("chen_wei").email: expected("chen_wei"),
        GRACE: expected("grace_kim"),
        DIVYA: [],
        kavya: [Allocation(start=friday, end=friday + timedelta(days=4), minutes_per_day=240)],
    }
    # one look-up per person, then one page of allocations for all of them
    assert len(outside.requests(system="mavenlink", since=before)) == len(people) + 1


def test_ensure_soft_booking_books_once(outside: SandboxClient) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)
    assert workspace.id is not None
    start, end = monday(1), monday(2) + timedelta(days=4)  # two working weeks
    before = outside.last_request_id()

    first = ml.ensure_soft_booking.fn(workspace.id, OPPORTUNITY.id, DIVYA, start, end, 6)
    assert first.created
    assert outside.writes(system="mavenlink", since=before) == 2  # the resource, the allocation
    (allocation,) = [
        a for a in outside.state("mavenlink", "workspace_allocations") if a["id"] == first.id
    ]
    assert allocation["hard"] is False
    assert allocation["minutes"] == 6 * 60 * 10  # Kantata wants the total over the range
    assert (allocation["start_date"], allocation["end_date"]) == (
        start.isoformat(),
        end.isoformat(),
    )

    before = outside.last_request_id()
    again = ml.ensure_soft_booking.fn(workspace.id, OPPORTUNITY.id, DIVYA, start, end, 6)
    assert not again.created
    assert again.id == first.id
    assert outside.writes(system="mavenlink", since=before) == 0
    assert ml.get_booked_people.fn(workspace.id) == [DIVYA]


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_a_booking_whose_answer_is_lost_is_found_on_the_retry(
    outside: SandboxClient, kind: str
) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)
    assert workspace.id is not None
    outside.add_fault(ALLOCATIONS, method="POST", kind=kind, status=500, after_commit=True)
    with pytest.raises(TransientError, match=f"Mavenlink: soft booking of {DIVYA}"):
        ml.ensure_soft_booking.fn(workspace.id, OPPORTUNITY.id, DIVYA, monday(1), monday(2), 8)

    retried = ml.ensure_soft_booking.fn(
        workspace.id, OPPORTUNITY.id, DIVYA, monday(1), monday(2), 8
    )
    assert not retried.created
    key = natural_key(ml.SOFT_BOOKING_KIND, OPPORTUNITY.id, DIVYA)
    assert [str(r["subject_id"]) for r in psflow_refs(outside, "WorkspaceAllocation", key)] == [
        retried.id
    ]
    resources = [
        r
        for r in outside.state("mavenlink", "workspace_resources")
        if r["workspace_id"] == workspace.id
    ]
    assert len(resources) == 1


def test_get_booked_people_of_a_seeded_project(outside: SandboxClient) -> None:
    (hooli,) = workspaces_titled(outside, "Hooli – Runner Fleet Upgrade")
    booked = {demo.staff(b.pse).email for b in demo.BOOKINGS if b.workspace == hooli["title"]}
    assert ml.get_booked_people.fn(hooli["id"]) == sorted(booked)
    assert outside.writes(system="mavenlink") == 0
