"""psflow's Mavenlink tasks against the sandbox: the project and the soft bookings exist once per
natural key whatever fails in between, and the seeded workload reads back as hard bookings."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from engagement.keys import Kind, mavenlink_workspace_title, natural_key
from engagement.staffing import Allocation
from sandbox import seed as demo
from sandbox.client import SandboxClient
from tasks import mavenlink as ml
from tasks.calls import PermanentError, TransientError
from tasks.clients import systems
from testkit.factories import from_seed

SEEDED = demo.OPPORTUNITIES[1]  # Acme – CI/CD Modernisation, no Mavenlink project yet
OPPORTUNITY = from_seed(
    SEEDED,
    stage="5-Negotiating",
    close_date=demo.day(20),
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
    key = natural_key(Kind.WORKSPACE, OPPORTUNITY.id)
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
    answer = (
        systems()
        .mavenlink()
        .post("workspaces.json", json={"workspace": {"title": TITLE, "price": "42000"}})
    )
    answer.raise_for_status()
    (orphan_id,) = answer.json()["workspaces"]
    # a same-titled project of someone else's, already claimed by psflow, is left alone
    other = (
        systems()
        .mavenlink()
        .post(
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
    )
    other.raise_for_status()
    before = outside.last_request_id()

    adopted = ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)
    assert not adopted.created
    assert adopted.id == orphan_id
    assert outside.writes(system="mavenlink", since=before) == 1  # only the reference
    assert len(workspaces_titled(outside, TITLE)) == 2
    key = natural_key(Kind.WORKSPACE, OPPORTUNITY.id)
    assert [r["subject_id"] for r in psflow_refs(outside, "Workspace", key)] == [int(orphan_id)]

    before = outside.last_request_id()
    assert ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT).id == orphan_id
    assert outside.writes(system="mavenlink", since=before) == 0


def test_ensure_workspace_status_writes_only_a_change(outside: SandboxClient) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)
    before = outside.last_request_id()
    assert ml.ensure_workspace_status.fn(workspace, ml.IN_SET_UP)
    assert outside.requests(system="mavenlink", since=before)[0]["method"] == "PUT"  # no read
    again = ml.find_workspace.fn(OPPORTUNITY.id)  # as the next run finds it
    assert again is not None
    assert not ml.ensure_workspace_status.fn(again, ml.IN_SET_UP)
    assert outside.writes(system="mavenlink", since=before) == 1
    (stored,) = workspaces_titled(outside, TITLE)
    assert stored["status"]["message"] == "In Set Up"


def test_permanent_errors_name_the_system_and_the_object(outside: SandboxClient) -> None:
    with pytest.raises(
        PermanentError, match=re.escape(f"Mavenlink: project '{TITLE}'") + ".*HTTP 422.*status_key"
    ) as info:
        ml.ensure_workspace.fn(OPPORTUNITY, "999")  # no such status on the account
    assert info.value.status == 422
    gone = ml.Workspace(
        system="Mavenlink", kind="project", name="gone", id="999999", created=False, status="100"
    )
    with pytest.raises(PermanentError, match="Mavenlink: status of project 999999: HTTP 404"):
        ml.ensure_workspace_status.fn(gone, ml.ACTIVE)
    with pytest.raises(PermanentError, match=r"Mavenlink: user nobody@northwind\.example"):
        ml.get_hard_bookings.fn(["nobody@northwind.example"], demo.day(0), demo.day(30))
    assert workspaces_titled(outside, TITLE) == []  # the refused create made nothing


# --- bookings ------------------------------------------------------------------------------------


def test_get_hard_bookings_reads_the_seeded_workload(outside: SandboxClient) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)
    # soft bookings hold nobody: neither Divya's nor Grace's proposal counts
    ml.ensure_soft_booking.fn(workspace.id, OPPORTUNITY.id, DIVYA, monday(1), monday(3), Decimal(8))
    ml.ensure_soft_booking.fn(workspace.id, OPPORTUNITY.id, GRACE, monday(1), monday(2), 4)
    # and a hard booking over a weekend: Friday to Tuesday is 3 business days, 720 minutes in all
    friday = monday(1) + timedelta(days=4)
    hard = {"start_date": friday.isoformat(), "end_date": (friday + timedelta(days=4)).isoformat()}
    kavya = demo.staff("kavya_iyer").email
    kantata_user = (
        systems().mavenlink().get("users.json", params={"by_email_address": kavya}).json()
    )
    resource = (
        systems()
        .mavenlink()
        .post(
            "workspace_resources.json",
            json={
                "workspace_resource": {
                    "workspace_id": workspace.id,
                    "user_id": kantata_user["results"][0]["id"],
                }
            },
        )
    )
    (resource_id,) = resource.json()["workspace_resources"]
    systems().mavenlink().post(
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
    # one page of the account's users for all of them, one page of their allocations, then one
    # of the resources those name: a Kantata allocation names its workspace resource, not its
    # person, and only the resource (with include=user) says whose it is
    assert [r["path"] for r in outside.requests(system="mavenlink", since=before)] == [
        "/mavenlink/api/v1/users.json",
        "/mavenlink/api/v1/workspace_allocations.json",
        "/mavenlink/api/v1/workspace_resources.json",
    ]


def test_a_hard_booking_belongs_to_the_person_of_its_resource(outside: SandboxClient) -> None:
    """Against Kantata's shape: an allocation carries `workspace_resource_id` and no `user_id`;
    the resource's `user_id` comes only with include=user. A resource named after its allocation
    was made books the person named."""
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)
    kavya = demo.staff("kavya_iyer").email
    people = {who: user_id(outside, who) for who in (kavya, DIVYA)}
    window = {
        "start_date": monday(1).isoformat(),
        "end_date": (monday(1) + timedelta(4)).isoformat(),
    }

    def resource(**fields: Any) -> str:
        answer = (
            systems()
            .mavenlink()
            .post(
                "workspace_resources.json",
                json={"workspace_resource": {"workspace_id": workspace.id, **fields}},
            )
        )
        answer.raise_for_status()
        (resource_id,) = answer.json()["workspace_resources"]
        return str(resource_id)

    def allocate(resource_id: str, minutes: int, hard: bool) -> str:
        body = {"resource_id": resource_id, "minutes": minutes, "hard": hard, **window}
        answer = (
            systems()
            .mavenlink()
            .post("workspace_allocations.json", json={"workspace_allocation": body})
        )
        answer.raise_for_status()
        (allocation_id,) = answer.json()["workspace_allocations"]
        return str(allocation_id)

    allocate(resource(user_id=people[kavya]), 5 * 480, hard=True)
    role = systems().mavenlink().get("roles.json").json()["results"][0]["id"]
    unnamed = resource(role_id=role)
    staffed = allocate(unnamed, 5 * 120, hard=False)  # an unnamed resource is booked softly
    systems().mavenlink().put(  # then named, and the booking made firm
        f"workspace_resources/{unnamed}.json",
        json={"workspace_resource": {"user_id": people[DIVYA]}},
    ).raise_for_status()
    systems().mavenlink().put(
        f"workspace_allocations/{staffed}.json", json={"workspace_allocation": {"hard": True}}
    ).raise_for_status()

    bookings = ml.get_hard_bookings.fn([DIVYA, kavya], monday(1), monday(2))
    week = (monday(1), monday(1) + timedelta(4))
    assert bookings == {
        DIVYA: [Allocation(start=week[0], end=week[1], minutes_per_day=120)],
        kavya: [Allocation(start=week[0], end=week[1], minutes_per_day=480)],
    }


def test_one_person_s_hard_bookings_take_two_requests(outside: SandboxClient) -> None:
    (booking,) = [b for b in demo.BOOKINGS if b.pse == "grace_kim"]
    before = outside.last_request_id()
    bookings = ml.get_hard_bookings.fn([GRACE], demo.day(0), demo.day(30))
    assert bookings == {
        GRACE: [
            Allocation(
                start=demo.day(booking.start_in_days),
                end=demo.day(booking.start_in_days + booking.days - 1),
                minutes_per_day=booking.minutes_per_day,
            )
        ]
    }
    # the user by e-mail, then their allocations: with one person asked for, every allocation
    # the `user_ids` filter returns is theirs, so no resource is looked up
    assert len(outside.requests(system="mavenlink", since=before)) == 2


def test_ensure_soft_booking_books_once(outside: SandboxClient) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)
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


def test_a_booking_whose_dates_moved_follows_them_in_one_update(outside: SandboxClient) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)
    first = ml.ensure_soft_booking.fn(workspace.id, OPPORTUNITY.id, DIVYA, monday(1), monday(2), 8)
    start, end = monday(3), monday(4) + timedelta(days=4)  # pushed back, and two weeks long
    before = outside.last_request_id()

    moved = ml.ensure_soft_booking.fn(workspace.id, OPPORTUNITY.id, DIVYA, start, end, 8)
    assert (moved.id, moved.created) == (first.id, False)
    assert outside.writes(system="mavenlink", since=before) == 1
    (allocation,) = [
        a for a in outside.state("mavenlink", "workspace_allocations") if a["id"] == first.id
    ]
    assert (allocation["start_date"], allocation["end_date"], allocation["minutes"]) == (
        start.isoformat(),
        end.isoformat(),
        8 * 60 * 10,
    )
    before = outside.last_request_id()
    ml.ensure_soft_booking.fn(workspace.id, OPPORTUNITY.id, DIVYA, start, end, 8)
    assert outside.writes(system="mavenlink", since=before) == 0


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_a_booking_whose_answer_is_lost_is_found_on_the_retry(
    outside: SandboxClient, kind: str
) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)
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


# --- Initiate: budget, custom fields, tasks, team ------------------------------------------------

STORIES = r"/mavenlink/api/v1/stories\.json"
GITLAB_URL = "https://gitlab.example/ps-customers/acme-1a2b3c4d/acme-ci-cd-5e6f7a8b"
DETAILS = {"GitLab Project": GITLAB_URL, "Salesforce Opportunity": OPPORTUNITY.id}
ACTIVITIES = (
    ("PS-CICD", "PS-CICD – CI/CD pipeline design", Decimal(80)),
    ("PS-K8S", "PS-K8S – Kubernetes runners", Decimal("12.5")),
)


def project(outside: SandboxClient) -> str:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.IN_SET_UP)
    return workspace.id


def stored(outside: SandboxClient, kind: str, id_: str) -> dict[str, Any]:
    (row,) = [r for r in outside.state("mavenlink", kind) if r["id"] == id_]
    return row


def custom_values(outside: SandboxClient, workspace_id: str) -> dict[str, Any]:
    return {
        v["custom_field_name"]: v["value"]
        for v in outside.state("mavenlink", "custom_field_values")
        if v["subject_type"] == "Workspace" and str(v["subject_id"]) == workspace_id
    }


def user_id(outside: SandboxClient, email: str) -> str:
    (user,) = [u for u in outside.state("mavenlink", "users") if u["email_address"] == email]
    return str(user["id"])


def participations(outside: SandboxClient, workspace_id: str) -> dict[str, dict[str, Any]]:
    """{user id: participation} of the project."""
    return {
        str(p["user_id"]): p
        for p in outside.state("mavenlink", "participations")
        if str(p["workspace_id"]) == workspace_id
    }


def test_workspace_details_are_written_once(outside: SandboxClient) -> None:
    workspace_id = project(outside)
    budget = Decimal("43500.50")  # the SOW amount, not the opportunity's first guess
    before = outside.last_request_id()

    assert ml.ensure_workspace_details.fn(workspace_id, budget, "USD", 40, DETAILS)
    assert outside.writes(system="mavenlink", since=before) == 1
    workspace = stored(outside, "workspaces", workspace_id)
    assert (workspace["price"], workspace["currency"], workspace["budgeted"]) == (
        "43500.50",
        "USD",
        True,
    )
    assert workspace["target_margin"] == 40
    assert custom_values(outside, workspace_id) == DETAILS

    before = outside.last_request_id()
    assert not ml.ensure_workspace_details.fn(workspace_id, budget, "USD", 40, DETAILS)
    assert outside.writes(system="mavenlink", since=before) == 0

    # a new GitLab link is the only difference, and the only value written
    moved = {**DETAILS, "GitLab Project": GITLAB_URL + "-2"}
    before = outside.last_request_id()
    assert ml.ensure_workspace_details.fn(workspace_id, budget, "USD", 40, moved)
    (write,) = outside.requests(system="mavenlink", since=before, write=True)
    assert write["method"] == "PUT"
    assert custom_values(outside, workspace_id) == moved
    assert stored(outside, "workspaces", workspace_id)["price"] == "43500.50"


def test_the_status_moves_in_the_same_update_as_the_details(outside: SandboxClient) -> None:
    workspace_id = project(outside)  # in Prospect
    before = outside.last_request_id()
    assert ml.ensure_workspace_details.fn(
        workspace_id, Decimal(42000), "USD", 40, DETAILS, status=ml.IN_SET_UP
    )
    assert outside.writes(system="mavenlink", since=before) == 1
    assert stored(outside, "workspaces", workspace_id)["status"]["message"] == "In Set Up"

    before = outside.last_request_id()
    assert not ml.ensure_workspace_details.fn(
        workspace_id, Decimal(42000), "USD", 40, DETAILS, status=ml.IN_SET_UP
    )
    assert outside.writes(system="mavenlink", since=before) == 0


def test_details_of_a_project_with_values_compare_them_by_field(outside: SandboxClient) -> None:
    """Against Kantata's shape: a custom field value names its `custom_field_id` only with
    include=custom_field. The seeded past project already has its opportunity and SOW number."""
    (past,) = workspaces_titled(outside, "Acme – GitLab Migration 2025")
    seeded = {"Salesforce Opportunity": demo.ACME_PAST.id, "SOW Number": demo.ACME_PAST.sow_number}
    assert custom_values(outside, past["id"]) == seeded
    budget = Decimal(demo.ACME_PAST.amount)
    before = outside.last_request_id()

    assert not ml.ensure_workspace_details.fn(past["id"], budget, "USD", 40, seeded)
    # the project, then its values with their fields: every field named has a value already, so
    # the account's fields are not listed
    assert [
        (r["method"], r["path"]) for r in outside.requests(system="mavenlink", since=before)
    ] == [
        ("GET", f"/mavenlink/api/v1/workspaces/{past['id']}.json"),
        ("GET", "/mavenlink/api/v1/custom_field_values.json"),
    ]

    wanted = {**seeded, "SOW Number": "SOW-2025-031-B", "GitLab Project": GITLAB_URL}
    before = outside.last_request_id()
    assert ml.ensure_workspace_details.fn(past["id"], budget, "USD", 40, wanted)
    # a field without a value yet (GitLab Project) takes the account's field listing, a third read
    assert [
        (r["method"], r["path"]) for r in outside.requests(system="mavenlink", since=before)
    ] == [
        ("GET", f"/mavenlink/api/v1/workspaces/{past['id']}.json"),
        ("GET", "/mavenlink/api/v1/custom_field_values.json"),
        ("GET", "/mavenlink/api/v1/custom_fields.json"),
        ("PUT", f"/mavenlink/api/v1/workspaces/{past['id']}.json"),
    ]
    assert custom_values(outside, past["id"]) == wanted


def test_an_unknown_custom_field_is_named_and_nothing_is_written(outside: SandboxClient) -> None:
    workspace_id = project(outside)
    before = outside.last_request_id()
    with pytest.raises(PermanentError, match="custom fields 'Jira Epic'"):
        ml.ensure_workspace_details.fn(
            workspace_id, Decimal(42000), "USD", 40, {**DETAILS, "Jira Epic": "PS-1"}
        )
    assert outside.writes(system="mavenlink", since=before) == 0


def test_one_task_per_activity_then_none(outside: SandboxClient) -> None:
    workspace_id = project(outside)
    before = outside.last_request_id()
    made = [
        ml.ensure_story.fn(workspace_id, OPPORTUNITY.id, code, title, hours)
        for code, title, hours in ACTIVITIES
    ]
    assert [a.created for a in made] == [True, True]
    assert outside.writes(system="mavenlink", since=before) == 2  # references ride along
    for artifact, (code, title, hours) in zip(made, ACTIVITIES, strict=True):
        story = stored(outside, "stories", artifact.id)
        assert (story["title"], story["story_type"]) == (title, "task")
        assert story["workspace_id"] == workspace_id
        assert story["time_estimate_in_minutes"] == hours * 60
        key = natural_key(Kind.WORKSPACE_TASK, OPPORTUNITY.id, code)
        assert [str(r["subject_id"]) for r in psflow_refs(outside, "Story", key)] == [artifact.id]

    before = outside.last_request_id()
    again = [
        ml.ensure_story.fn(workspace_id, OPPORTUNITY.id, code, title, hours)
        for code, title, hours in ACTIVITIES
    ]
    assert [(a.id, a.created) for a in again] == [(a.id, False) for a in made]
    assert outside.writes(system="mavenlink", since=before) == 0


def test_a_changed_estimate_is_corrected_in_place(outside: SandboxClient) -> None:
    workspace_id = project(outside)
    code, title, _ = ACTIVITIES[0]
    first = ml.ensure_story.fn(workspace_id, OPPORTUNITY.id, code, title, Decimal(80))
    before = outside.last_request_id()
    again = ml.ensure_story.fn(workspace_id, OPPORTUNITY.id, code, title, Decimal(96))
    assert (again.id, again.created) == (first.id, False)
    assert outside.writes(system="mavenlink", since=before) == 1
    assert stored(outside, "stories", again.id)["time_estimate_in_minutes"] == 96 * 60


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_a_task_whose_answer_is_lost_is_found_on_the_retry(
    outside: SandboxClient, kind: str
) -> None:
    workspace_id = project(outside)
    code, title, hours = ACTIVITIES[0]
    outside.add_fault(STORIES, method="POST", kind=kind, status=500, after_commit=True)
    with pytest.raises(TransientError, match=re.escape(f"Mavenlink: task {title!r}")):
        ml.ensure_story.fn(workspace_id, OPPORTUNITY.id, code, title, hours)

    retried = ml.ensure_story.fn(workspace_id, OPPORTUNITY.id, code, title, hours)
    assert not retried.created
    stories = [
        s for s in outside.state("mavenlink", "stories") if s["workspace_id"] == workspace_id
    ]
    assert [s["id"] for s in stories] == [retried.id]


def test_a_task_made_by_hand_with_the_same_title_is_adopted(outside: SandboxClient) -> None:
    workspace_id = project(outside)
    code, title, hours = ACTIVITIES[0]
    by_hand = (
        systems()
        .mavenlink()
        .post(
            "stories.json",
            json={"story": {"workspace_id": workspace_id, "title": title, "story_type": "task"}},
        )
    )
    by_hand.raise_for_status()
    (hand_id,) = by_hand.json()["stories"]
    before = outside.last_request_id()

    adopted = ml.ensure_story.fn(workspace_id, OPPORTUNITY.id, code, title, hours)
    assert (adopted.id, adopted.created) == (hand_id, False)
    assert outside.writes(system="mavenlink", since=before) == 2  # the reference, the estimate
    key = natural_key(Kind.WORKSPACE_TASK, OPPORTUNITY.id, code)
    assert [str(r["subject_id"]) for r in psflow_refs(outside, "Story", key)] == [hand_id]
    assert stored(outside, "stories", hand_id)["time_estimate_in_minutes"] == hours * 60


def test_participants_join_once_after_one_listing(outside: SandboxClient) -> None:
    workspace_id = project(outside)
    before = outside.last_request_id()
    assert ml.ensure_participants.fn(workspace_id, [DIVYA, GRACE, DIVYA.upper()], "maven") == 2
    assert outside.writes(system="mavenlink", since=before) == 2
    team = participations(outside, workspace_id)
    assert {team[user_id(outside, who)]["role"] for who in (DIVYA, GRACE)} == {"maven"}

    before = outside.last_request_id()  # a re-run: everyone found in one listing
    assert ml.ensure_participants.fn(workspace_id, [DIVYA.upper(), GRACE], "maven") == 0
    assert [
        (r["method"], r["path"]) for r in outside.requests(system="mavenlink", since=before)
    ] == [("GET", "/mavenlink/api/v1/participations.json")]


def test_a_participant_on_the_other_team_is_not_moved_and_nobody_joins(
    outside: SandboxClient,
) -> None:
    workspace_id = project(outside)
    grace = user_id(outside, GRACE)
    systems().mavenlink().post(
        "participations.json",
        json={"participation": {"workspace_id": workspace_id, "user_id": grace, "role": "buyer"}},
    ).raise_for_status()
    before = outside.last_request_id()
    with pytest.raises(PermanentError, match="is on the 'buyer' team"):
        ml.ensure_participants.fn(workspace_id, [DIVYA, GRACE], "maven")
    assert outside.writes(system="mavenlink", since=before) == 0
    with pytest.raises(ValueError, match="role must be one of"):
        ml.ensure_participants.fn(workspace_id, [DIVYA], "lead")


def test_the_project_owner_becomes_the_lead_once(outside: SandboxClient) -> None:
    workspace_id = project(outside)
    before = outside.last_request_id()
    assert ml.ensure_lead.fn(workspace_id, DIVYA)
    assert outside.writes(system="mavenlink", since=before) == 2  # joins, then leads
    divya = user_id(outside, DIVYA)
    assert stored(outside, "workspaces", workspace_id)["primary_maven_id"] == divya
    team = participations(outside, workspace_id)
    assert [u for u, p in team.items() if p["is_team_lead"]] == [divya]

    before = outside.last_request_id()
    assert not ml.ensure_lead.fn(workspace_id, DIVYA.upper())
    # one read: the lead comes with the project, so the person is not looked up
    assert len(outside.requests(system="mavenlink", since=before)) == 1


def test_a_new_lead_replaces_the_old_one(outside: SandboxClient) -> None:
    (past,) = workspaces_titled(outside, "Acme – GitLab Migration 2025")  # led by its EM
    old_lead = past["primary_maven_id"]
    assert old_lead is not None
    bruno = demo.staff("bruno_costa").email  # booked there, so already a participant
    before = outside.last_request_id()
    assert ml.ensure_lead.fn(past["id"], bruno)
    assert outside.writes(system="mavenlink", since=before) == 1
    team = participations(outside, past["id"])
    assert [u for u, p in team.items() if p["is_team_lead"]] == [user_id(outside, bruno)]
    assert old_lead in team  # still on the project
    assert stored(outside, "workspaces", past["id"])["primary_maven_id"] == user_id(outside, bruno)


def test_soft_bookings_are_released_once_and_a_hard_one_stays(outside: SandboxClient) -> None:
    workspace = ml.ensure_workspace.fn(OPPORTUNITY, ml.PROSPECT)
    assert ml.find_workspace.fn(OPPORTUNITY.id) == workspace.model_copy(update={"created": False})
    soft = ml.ensure_soft_booking.fn(workspace.id, OPPORTUNITY.id, DIVYA, monday(1), monday(2), 8)
    grace = ml.ensure_soft_booking.fn(
        workspace.id, OPPORTUNITY.id, demo.staff("grace_kim").email, monday(1), monday(2), 4
    )
    stored = {str(a["id"]): a for a in outside.state("mavenlink", "workspace_allocations")}
    assert {soft.id, grace.id} <= set(stored)
    # a delete whose answer is lost: the retry lists what is left, and deletes only that
    outside.add_fault(
        r"/mavenlink/api/v1/workspace_allocations/\d+(\.json)?",
        method="DELETE",
        status=500,
        after_commit=True,
    )
    with pytest.raises(TransientError):
        ml.ensure_bookings_released.fn(workspace.id, OPPORTUNITY.id)
    before = outside.last_request_id()
    released = ml.ensure_bookings_released.fn(workspace.id, OPPORTUNITY.id)
    assert len(released) == 1  # the other was released by the attempt that lost its answer
    assert outside.writes(system="mavenlink", since=before) == 1
    live = {str(a["id"]) for a in outside.state("mavenlink", "workspace_allocations")}
    assert not {soft.id, grace.id} & live
    before = outside.last_request_id()
    assert ml.ensure_bookings_released.fn(workspace.id, OPPORTUNITY.id) == []
    assert outside.writes(system="mavenlink", since=before) == 0
    assert ml.ensure_workspace_status.fn(workspace, ml.CANCELLED)
    cancelled = ml.find_workspace.fn(OPPORTUNITY.id)
    assert cancelled is not None
    assert not ml.ensure_workspace_status.fn(cancelled, ml.CANCELLED)
