"""psflow's GitLab tasks against the sandbox: every object exists once per natural key whatever fails
in between (groups and projects found by path, epics and issues by label and key marker), people
are found by e-mail, and assignees, epic links and memberships are written only when missing."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import parse_qs

import pytest
from gitlab.const import AccessLevel

from blocks import PsflowSettings, sandbox_blocks
from engagement.execute import issues_and_escalations
from engagement.keys import (
    Kind,
    find_key_marker,
    gitlab_epic_title,
    gitlab_group_path,
    gitlab_labels,
    gitlab_project_path,
    natural_key,
)
from engagement.models import Opportunity
from sandbox import seed as demo
from sandbox.client import SandboxClient
from tasks import calls, clients
from tasks import gitlab as gl
from tasks.calls import PermanentError, TransientError
from tasks.gitlab import ensure_issue
from testkit import factories
from testkit.factories import from_seed

PLANNING = PsflowSettings().planning_project  # ps-customers/ps-planning, seeded
CUSTOMERS = PsflowSettings().customers_group  # ps-customers, seeded
SEEDED = demo.OPPORTUNITIES[2]  # Globex – Kubernetes Integration, over $50k
OPPORTUNITY_ID = SEEDED.id
OPPORTUNITY = from_seed(
    SEEDED,
    stage="Closed Won",
    close_date=date(2026, 3, 2),
)
GROUP = f"{CUSTOMERS}/{gitlab_group_path(demo.GLOBEX.id, demo.GLOBEX.name)}"
KIND = Kind.TA_REVIEW_ISSUE
API = "/gitlab/api/v4"
ISSUES = rf"{API}/projects/[^/]+/issues"
EPIC_LINKS = rf"{API}/groups/[^/]+/epics/\d+/issues/\d+"
HOSTILE_NAMES = [
    "Société Générale de Données – Çağrı Ünal",
    "Acme / Road\\Runner: ../../etc",
    'O\'Brien "Quoted" <b>&amp;</b>',
    "🚀🔥 Rocket Co 🚀",
    "字节跳动 株式会社",
    "x" * 300,
]
GRACE = demo.staff("grace_kim")


def opportunity(**changes: Any) -> Opportunity:
    return OPPORTUNITY.model_copy(update=changes)


def keyed(outside: SandboxClient, kind: str, key: str) -> list[dict[str, Any]]:
    return [o for o in outside.state("gitlab", kind) if find_key_marker(o["description"]) == key]


def issues_keyed(outside: SandboxClient, key: str) -> list[dict[str, Any]]:
    return keyed(outside, "issue", key)


def ta_review(**overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "project_path": PLANNING,
        "kind": KIND,
        "opportunity_id": OPPORTUNITY_ID,
        "title": "TA review: Globex – Kubernetes Integration (EUR 68,500)",
        "description": "Please review the cost estimate.",
    }
    return ensure_issue.fn(**(arguments | overrides))


def user_id(outside: SandboxClient, username: str) -> int:
    (user,) = [u for u in outside.state("gitlab", "user") if u["username"] == username]
    return int(user["id"])


def groups_at(outside: SandboxClient, full_path: str) -> list[dict[str, Any]]:
    parent_path, _, path = full_path.rpartition("/")
    parents = [g["id"] for g in outside.state("gitlab", "group") if g["path"] == parent_path]
    return [
        g
        for g in outside.state("gitlab", "group")
        if g["path"] == path and g["parent_id"] in parents
    ]


@pytest.fixture
def group(outside: SandboxClient) -> str:
    """Globex's customer group, made by the task; the request log starts after it."""
    gl.ensure_customer_group.fn(demo.GLOBEX.id, demo.GLOBEX.name)
    outside.clear_requests()
    return GROUP


@pytest.fixture
def epic(outside: SandboxClient, group: str) -> str:
    """The customer epic's reference ("<group>&<iid>"), as ensure_issue takes it."""
    made = gl.ensure_epic.fn(group, OPPORTUNITY)
    outside.clear_requests()
    return str(made.id)


# --- issues (the TA review in the planning project) ----------------------------------------------


def test_the_planning_project_is_seeded(outside: SandboxClient) -> None:
    (project,) = [p for p in outside.state("gitlab", "project") if p["path"] == "ps-planning"]
    assert project["name"] == "PS Planning"


def test_ensure_issue_creates_once(outside: SandboxClient) -> None:
    first = ta_review(labels=["needs-estimate"])
    assert first.created
    assert first.url is not None
    assert first.id == f"{PLANNING}#1"
    assert first.url.endswith(f"/{PLANNING}/-/issues/1")
    assert outside.writes(system="gitlab") == 1
    key = natural_key(KIND, OPPORTUNITY_ID)
    (issue,) = issues_keyed(outside, key)
    assert issue["description"].startswith("Please review the cost estimate.\n\n<!-- psflow:key=")
    assert set(issue["labels"]) == {"needs-estimate", *gitlab_labels(KIND, OPPORTUNITY_ID)}

    before = outside.last_request_id()
    again = ta_review(title="edited title")
    assert not again.created
    assert again.id == first.id
    assert outside.writes(system="gitlab", since=before) == 0
    # the look-up is filtered by the labels on the server, not a scan of the project
    (lookup,) = outside.requests(system="gitlab", method="GET", since=before)
    assert parse_qs(lookup["query"])["labels"] == [",".join(gitlab_labels(KIND, OPPORTUNITY_ID))]


def test_issues_of_other_parts_and_closed_issues(outside: SandboxClient) -> None:
    activity = Kind.ACTIVITY_ISSUE
    first = ta_review(kind=activity, part="PS-K8S", title="PS-K8S")
    second = ta_review(kind=activity, part="PS-SEC", title="PS-SEC")
    assert first.created
    assert second.created
    assert first.id != second.id
    assert not ta_review(kind=activity, part="PS-K8S", title="PS-K8S").created
    assert len(issues_keyed(outside, natural_key(activity, OPPORTUNITY_ID, "PS-K8S"))) == 1


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_a_create_whose_answer_is_lost_is_found_on_the_retry(
    outside: SandboxClient, kind: str
) -> None:
    outside.add_fault(ISSUES, method="POST", kind=kind, status=500, after_commit=True)
    with pytest.raises(TransientError, match=f"GitLab: ta-review-issue .* in project {PLANNING}"):
        ta_review()

    retried = ta_review()
    assert not retried.created
    assert [
        f"{PLANNING}#{i['iid']}" for i in issues_keyed(outside, natural_key(KIND, OPPORTUNITY_ID))
    ] == [retried.id]
    assert outside.writes(system="gitlab") == 1


def test_an_unknown_project_is_a_permanent_error(outside: SandboxClient) -> None:
    with pytest.raises(
        PermanentError, match=r"GitLab: .* in project ps-customers/nowhere: HTTP 404"
    ):
        ta_review(project_path="ps-customers/nowhere")
    assert outside.writes(system="gitlab") == 0


def test_throttling_is_left_to_psflow(
    outside: SandboxClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # python-gitlab would wait a 429 out and retry by itself; psflow's policy must see it instead
    monkeypatch.setattr(calls, "MAX_RETRY_AFTER_SECONDS", 0.01)
    outside.add_fault(ISSUES, method="GET", status=429, retry_after=30)
    with pytest.raises(TransientError) as info:
        ta_review()
    assert info.value.status == 429
    assert len(outside.requests(system="gitlab")) == 1


# --- people --------------------------------------------------------------------------------------


def test_find_user_by_email(outside: SandboxClient) -> None:
    grace = gl.find_user.fn(GRACE.email.upper())  # e-mail addresses match whatever the case
    assert grace == gl.GitLabUser(
        id=user_id(outside, "grace_kim"), username="grace_kim", name=GRACE.name
    )
    assert gl.find_user.fn(f"nobody@{demo.DOMAIN}") is None
    # psflow's token is no admin: a user without a public e-mail (the bot) cannot be found by it
    assert gl.find_user.fn(f"psflow-bot@{demo.DOMAIN}") is None
    # a fragment of an address finds nobody (GitLab matches e-mails whole)
    assert gl.find_user.fn(f"kim@{demo.DOMAIN}") is None
    assert outside.writes(system="gitlab") == 0


def test_find_user_refuses_what_is_no_address(outside: SandboxClient) -> None:
    with pytest.raises(PermanentError, match="GitLab: user with e-mail 'grace_kim': must have"):
        gl.find_user.fn("grace_kim")
    assert outside.requests(system="gitlab") == []


# --- the customer group --------------------------------------------------------------------------


def test_ensure_customer_group_creates_once(outside: SandboxClient) -> None:
    first = gl.ensure_customer_group.fn(demo.GLOBEX.id, demo.GLOBEX.name)
    assert first.created
    assert first.id == GROUP
    assert first.url is not None
    assert first.url.endswith(f"/groups/{GROUP}")
    assert outside.writes(system="gitlab") == 1
    (made,) = groups_at(outside, GROUP)
    assert made["visibility"] == "private"
    assert made["name"].startswith("Globex Industries - ")
    assert demo.GLOBEX.id in made["description"]

    before = outside.last_request_id()
    again = gl.ensure_customer_group.fn(demo.GLOBEX.id, demo.GLOBEX.name)
    assert (again.created, again.id, again.url) == (False, first.id, first.url)
    assert outside.writes(system="gitlab", since=before) == 0
    assert len(outside.requests(system="gitlab", since=before)) == 1  # one GET by full path


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_a_lost_group_create_is_found_on_the_retry(outside: SandboxClient, kind: str) -> None:
    outside.add_fault(rf"{API}/groups", method="POST", kind=kind, status=500, after_commit=True)
    with pytest.raises(TransientError, match=f"GitLab: customer group {GROUP}"):
        gl.ensure_customer_group.fn(demo.GLOBEX.id, demo.GLOBEX.name)

    retried = gl.ensure_customer_group.fn(demo.GLOBEX.id, demo.GLOBEX.name)
    assert not retried.created
    assert len(groups_at(outside, GROUP)) == 1
    assert outside.writes(system="gitlab") == 1


def test_a_group_another_run_just_made_is_taken_as_found(outside: SandboxClient) -> None:
    # Two opportunities of one customer in Initiate at once: the other run creates the group
    # between this run's look-up (answered 404 here) and its create.
    gl.ensure_customer_group.fn(demo.GLOBEX.id, demo.GLOBEX.name)
    outside.add_fault(
        rf"{API}/groups/ps-customers%2Fglobex-industries-\w+", method="GET", status=404
    )
    raced = gl.ensure_customer_group.fn(demo.GLOBEX.id, demo.GLOBEX.name)
    assert not raced.created
    assert raced.id == GROUP
    assert len(groups_at(outside, GROUP)) == 1


@pytest.mark.parametrize("n", range(len(HOSTILE_NAMES)))
def test_hostile_customer_names_give_valid_groups(outside: SandboxClient, n: int) -> None:
    account_id, name = demo.sfid("001", 900 + n), HOSTILE_NAMES[n]
    made = gl.ensure_customer_group.fn(account_id, name)
    assert made.created
    assert made.id == f"{CUSTOMERS}/{gitlab_group_path(account_id, name)}"
    assert not gl.ensure_customer_group.fn(account_id, name).created
    assert len(groups_at(outside, made.id)) == 1
    assert outside.writes(system="gitlab") == 1


def test_a_missing_customers_group_is_a_permanent_error(
    outside: SandboxClient, sandbox_url: str
) -> None:
    blocks = [
        b.model_copy(update={"customers_group": "no-such-group"})
        if isinstance(b, PsflowSettings)
        else b
        for b in sandbox_blocks(sandbox_url)
    ]
    clients.configure(blocks)
    with pytest.raises(PermanentError, match=r"customers group no-such-group .*: HTTP 404"):
        gl.ensure_customer_group.fn(demo.GLOBEX.id, demo.GLOBEX.name)
    assert outside.writes(system="gitlab") == 0


# --- the PS project ------------------------------------------------------------------------------


def test_ensure_project_creates_once(outside: SandboxClient, group: str) -> None:
    path = f"{group}/{gitlab_project_path(OPPORTUNITY_ID, SEEDED.name)}"
    first = gl.ensure_project.fn(group, OPPORTUNITY)
    assert first.created
    assert first.id == path
    assert first.url is not None
    assert first.url.endswith(f"/{path}")
    assert outside.writes(system="gitlab") == 1
    made = next(p for p in outside.state("gitlab", "project") if path.endswith(f"/{p['path']}"))
    assert made["visibility"] == "private"
    assert SEEDED.sow_number in made["description"]
    assert SEEDED.name in made["description"]
    assert OPPORTUNITY_ID in made["description"]

    before = outside.last_request_id()
    again = gl.ensure_project.fn(group, OPPORTUNITY)
    assert (again.created, again.id, again.url) == (False, first.id, first.url)
    assert outside.writes(system="gitlab", since=before) == 0


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_a_lost_project_create_is_found_on_the_retry(
    outside: SandboxClient, group: str, kind: str
) -> None:
    outside.add_fault(rf"{API}/projects", method="POST", kind=kind, status=500, after_commit=True)
    with pytest.raises(TransientError, match=f"GitLab: project {group}/"):
        gl.ensure_project.fn(group, OPPORTUNITY)

    retried = gl.ensure_project.fn(group, OPPORTUNITY)
    assert not retried.created
    path = gitlab_project_path(OPPORTUNITY_ID, SEEDED.name)
    assert [p["path"] for p in outside.state("gitlab", "project")].count(path) == 1
    assert outside.writes(system="gitlab") == 1


@pytest.mark.parametrize("n", range(len(HOSTILE_NAMES)))
def test_hostile_names_give_valid_projects_and_epics(outside: SandboxClient, n: int) -> None:
    name = HOSTILE_NAMES[n]
    account = factories.account(id=demo.sfid("001", 900 + n), name=name, time_zone="UTC")
    hostile = opportunity(id=demo.sfid("006", 900 + n), name=name, account=account)
    group = gl.ensure_customer_group.fn(account.id, name)
    project = gl.ensure_project.fn(group.id, hostile)
    epic = gl.ensure_epic.fn(group.id, hostile)
    assert project.created
    assert project.id == f"{group.id}/{gitlab_project_path(hostile.id, name)}"
    assert epic.created
    (made,) = keyed(outside, "epic", natural_key(Kind.CUSTOMER_EPIC, hostile.id))
    assert made["title"] == gitlab_epic_title(SEEDED.sow_number, name)
    assert "\n" not in made["title"]
    assert outside.writes(system="gitlab") == 3


def test_a_missing_group_is_a_permanent_error_naming_it(outside: SandboxClient) -> None:
    with pytest.raises(PermanentError, match=r"GitLab: group ps-customers/nowhere: HTTP 404"):
        gl.ensure_project.fn("ps-customers/nowhere", OPPORTUNITY)
    with pytest.raises(PermanentError, match=r"in group ps-customers/nowhere: HTTP 404"):
        gl.ensure_epic.fn("ps-customers/nowhere", OPPORTUNITY)
    assert outside.writes(system="gitlab") == 0


# --- the customer epic ---------------------------------------------------------------------------


def test_ensure_epic_creates_once(outside: SandboxClient, group: str) -> None:
    first = gl.ensure_epic.fn(group, OPPORTUNITY)
    assert first.created
    assert first.url is not None
    assert first.id == f"{group}&1"
    assert first.url.endswith(f"/groups/{group}/-/epics/1")
    assert outside.writes(system="gitlab") == 1
    key = natural_key(Kind.CUSTOMER_EPIC, OPPORTUNITY_ID)
    (made,) = keyed(outside, "epic", key)
    assert made["title"] == "SOW-2026-042 Globex Industries"
    assert made["labels"] == list(gitlab_labels(Kind.CUSTOMER_EPIC, OPPORTUNITY_ID))
    assert f"{group}&{made['iid']}" == first.id

    before = outside.last_request_id()
    again = gl.ensure_epic.fn(group, OPPORTUNITY)
    assert (again.created, again.id) == (False, first.id)
    assert outside.writes(system="gitlab", since=before) == 0

    # another opportunity of the same customer gets its own epic in the same group
    other = gl.ensure_epic.fn(group, opportunity(id=demo.sfid("006", 99), sow_number="SOW-9"))
    assert other.created
    assert other.id != first.id


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_a_lost_epic_create_is_found_on_the_retry(
    outside: SandboxClient, group: str, kind: str
) -> None:
    epics = rf"{API}/groups/[^/]+/epics"
    outside.add_fault(epics, method="POST", kind=kind, status=500, after_commit=True)
    with pytest.raises(TransientError, match=f"GitLab: customer epic .* in group {group}"):
        gl.ensure_epic.fn(group, OPPORTUNITY)

    assert not gl.ensure_epic.fn(group, OPPORTUNITY).created
    assert len(keyed(outside, "epic", natural_key(Kind.CUSTOMER_EPIC, OPPORTUNITY_ID))) == 1
    assert outside.writes(system="gitlab") == 1


def test_an_epic_needs_a_sow_number(outside: SandboxClient, group: str) -> None:
    with pytest.raises(ValueError, match="sow_number"):
        gl.ensure_epic.fn(group, opportunity(sow_number=None))
    assert outside.writes(system="gitlab") == 0


# --- issues in the epic, with assignees ----------------------------------------------------------


def handoff(project: str, **overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "project_path": project,
        "kind": Kind.HANDOFF_ISSUE,
        "opportunity_id": OPPORTUNITY_ID,
        "title": "Sales to PS hand-off: Globex Industries – SOW-2026-042",
        "description": "Hand-off from sales to PS.",
    }
    return ensure_issue.fn(**(arguments | overrides))


@pytest.fixture
def project(outside: SandboxClient, epic: str) -> str:
    made = gl.ensure_project.fn(GROUP, OPPORTUNITY)
    outside.clear_requests()
    return made.id


def epic_state(outside: SandboxClient, epic: str) -> dict[str, Any]:
    group_path, _, iid = epic.rpartition("&")
    (group,) = groups_at(outside, group_path)
    (found,) = [
        e
        for e in outside.state("gitlab", "epic")
        if (e["group_id"], e["iid"]) == (group["id"], int(iid))
    ]
    return found


def handoff_issues(outside: SandboxClient) -> list[dict[str, Any]]:
    return issues_keyed(outside, natural_key(Kind.HANDOFF_ISSUE, OPPORTUNITY_ID))


def test_an_issue_is_created_in_the_epic_with_its_assignees(
    outside: SandboxClient, epic: str, project: str
) -> None:
    grace = user_id(outside, "grace_kim")
    first = handoff(project, epic=epic, assignee_ids=[grace])
    assert first.created
    # one write: the issue is made in the epic by its create, not linked afterwards
    assert outside.writes(system="gitlab") == 1
    (issue,) = handoff_issues(outside)
    assert issue["epic_id"] == epic_state(outside, epic)["id"]
    assert issue["assignee_ids"] == [grace]

    before = outside.last_request_id()
    again = handoff(project, epic=epic, assignee_ids=[grace])
    assert (again.created, again.id) == (False, first.id)
    assert outside.writes(system="gitlab", since=before) == 0
    assert len(outside.requests(system="gitlab", since=before)) == 1  # the keyed look-up only


def test_an_issue_found_outside_the_epic_is_linked_once(
    outside: SandboxClient, epic: str, project: str
) -> None:
    handoff(project)  # filed before the epic was known
    outside.add_fault(EPIC_LINKS, method="POST", status=500, after_commit=True)
    with pytest.raises(
        TransientError, match=r"adding issue .*#1 to epic ps-customers/.*&1: HTTP 500"
    ):
        handoff(project, epic=epic)

    before = outside.last_request_id()
    retried = handoff(project, epic=epic)
    assert not retried.created
    assert outside.writes(system="gitlab", since=before) == 0
    (issue,) = handoff_issues(outside)
    assert issue["epic_id"] == epic_state(outside, epic)["id"]
    links = [r for r in outside.requests(system="gitlab", method="POST") if "/epics/" in r["path"]]
    assert len(links) == 1
    assert outside.writes(system="gitlab") == 2  # the issue, then its one link


def test_an_issue_is_found_in_an_epic_or_not_at_all(
    outside: SandboxClient, epic: str, project: str
) -> None:
    key = (project, Kind.HANDOFF_ISSUE, OPPORTUNITY_ID)
    assert gl.find_issue.fn(*key) is None
    made = handoff(project)  # in no epic yet
    found = gl.find_issue.fn(*key)
    assert found is not None
    assert (found.id, found.created) == (made.id, False)
    assert gl.find_issue.fn(*key, in_an_epic=True) is None  # for ensure_issue to repair

    handoff(project, epic=epic)
    before = outside.last_request_id()
    in_epic = gl.find_issue.fn(*key, in_an_epic=True)
    assert in_epic is not None
    assert in_epic.id == made.id
    assert len(outside.requests(system="gitlab", since=before)) == 1


def test_an_issue_someone_moved_to_another_epic_stays_there(
    outside: SandboxClient, epic: str, project: str
) -> None:
    elsewhere = gl.ensure_epic.fn(GROUP, opportunity(id=demo.sfid("006", 99), sow_number="S-9"))
    handoff(project, epic=elsewhere.id)
    before = outside.last_request_id()
    assert not handoff(project, epic=epic).created
    assert outside.writes(system="gitlab", since=before) == 0
    (issue,) = handoff_issues(outside)
    assert issue["epic_id"] == epic_state(outside, elsewhere.id)["id"]


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_a_lost_create_in_the_epic_is_found_on_the_retry(
    outside: SandboxClient, epic: str, project: str, kind: str
) -> None:
    outside.add_fault(ISSUES, method="POST", kind=kind, status=500, after_commit=True)
    with pytest.raises(TransientError):
        handoff(project, epic=epic)
    assert not handoff(project, epic=epic).created
    (issue,) = handoff_issues(outside)
    assert issue["epic_id"] == epic_state(outside, epic)["id"]
    assert outside.writes(system="gitlab") == 1


def test_an_unknown_epic_is_a_permanent_error(outside: SandboxClient, project: str) -> None:
    with pytest.raises(PermanentError, match=f"GitLab: epic {GROUP}&99: HTTP 404"):
        handoff(project, epic=f"{GROUP}&99")
    assert outside.writes(system="gitlab") == 0


# --- project members -----------------------------------------------------------------------------


def memberships(outside: SandboxClient, user: int) -> list[dict[str, Any]]:
    return [
        m
        for m in outside.state("gitlab", "member")
        if m["source"] == "project" and m["user_id"] == user
    ]


def test_the_project_owner_becomes_maintainer_once(outside: SandboxClient, project: str) -> None:
    # everyone inherits Developer from the customers group: Developer is already there...
    grace = user_id(outside, "grace_kim")
    assert not gl.ensure_project_member.fn(project, grace, AccessLevel.DEVELOPER)
    assert outside.writes(system="gitlab") == 0
    # ...Maintainer is a project membership above it, made once
    assert gl.ensure_project_member.fn(project, grace, AccessLevel.MAINTAINER)
    assert not gl.ensure_project_member.fn(project, grace, AccessLevel.MAINTAINER)
    assert not gl.ensure_project_member.fn(project, grace, AccessLevel.DEVELOPER)
    assert [m["access_level"] for m in memberships(outside, grace)] == [AccessLevel.MAINTAINER]
    assert outside.writes(system="gitlab") == 1
    # a higher level changes the membership psflow made, rather than adding one
    assert gl.ensure_project_member.fn(project, grace, AccessLevel.OWNER)
    assert [m["access_level"] for m in memberships(outside, grace)] == [AccessLevel.OWNER]
    assert outside.writes(system="gitlab", method="PUT") == 1


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_a_lost_membership_is_found_on_the_retry(
    outside: SandboxClient, project: str, kind: str
) -> None:
    members = rf"{API}/projects/[^/]+/members"
    outside.add_fault(members, method="POST", kind=kind, status=500, after_commit=True)
    aisha = user_id(outside, "aisha_bello")
    with pytest.raises(TransientError, match=f"membership of user {aisha} in project {project}"):
        gl.ensure_project_member.fn(project, aisha, AccessLevel.MAINTAINER)
    assert not gl.ensure_project_member.fn(project, aisha, AccessLevel.MAINTAINER)
    assert len(memberships(outside, aisha)) == 1
    assert outside.writes(system="gitlab") == 1


def test_membership_errors_name_the_project_and_user(outside: SandboxClient) -> None:
    with pytest.raises(PermanentError, match=r"in project ps-customers/nowhere: HTTP 404"):
        gl.ensure_project_member.fn("ps-customers/nowhere", 1, AccessLevel.MAINTAINER)
    with pytest.raises(PermanentError, match=rf"user 999999 in project {PLANNING}: HTTP 404"):
        gl.ensure_project_member.fn(PLANNING, 999_999, AccessLevel.MAINTAINER)
    assert memberships(outside, 999_999) == []


def test_an_issue_is_closed_once_and_its_labels_read(outside: SandboxClient, project: str) -> None:
    assert gl.ensure_issue_closed.fn(project, Kind.HANDOFF_ISSUE, OPPORTUNITY_ID) is None
    assert gl.find_issue_labels.fn(project, Kind.HANDOFF_ISSUE, OPPORTUNITY_ID) is None
    handoff(project)
    labels = gl.find_issue_labels.fn(project, Kind.HANDOFF_ISSUE, OPPORTUNITY_ID)
    assert labels is not None
    assert "PS::Hand-off" in labels
    # the close's answer is lost: the retry finds the issue closed and writes nothing
    outside.add_fault(
        r"/gitlab/api/v4/projects/[^/]+/issues/\d+", method="PUT", status=500, after_commit=True
    )
    with pytest.raises(TransientError):
        gl.ensure_issue_closed.fn(project, Kind.HANDOFF_ISSUE, OPPORTUNITY_ID)
    before = outside.last_request_id()
    closed = gl.ensure_issue_closed.fn(project, Kind.HANDOFF_ISSUE, OPPORTUNITY_ID)
    assert closed is not None
    assert not closed.created
    assert outside.writes(system="gitlab", since=before) == 0
    (issue,) = handoff_issues(outside)
    assert issue["state"] == "closed"


def test_activity_issues_get_the_plans_due_dates_unless_a_person_set_one(
    outside: SandboxClient, project: str
) -> None:
    due = {"PS-K8S": date(2027, 1, 29), "PS-CICD": date(2027, 2, 26)}
    assert gl.ensure_issue_due_dates.fn(project, Kind.ACTIVITY_ISSUE, OPPORTUNITY_ID, due) == []
    handoff(project, kind=Kind.ACTIVITY_ISSUE, part="PS-K8S", title="PS-K8S – Kubernetes")
    handoff(project, kind=Kind.ACTIVITY_ISSUE, part="PS-CICD", title="PS-CICD – Pipelines")
    handoff(project, kind=Kind.ACTIVITY_ISSUE, part="PS-OLD", title="PS-OLD – not in the plan")
    before = outside.last_request_id()
    set_now = gl.ensure_issue_due_dates.fn(project, Kind.ACTIVITY_ISSUE, OPPORTUNITY_ID, due)
    assert [ref.created for ref in set_now] == [True, True]
    assert outside.writes(system="gitlab", since=before) == 2
    assert len(outside.requests(system="gitlab", write=False, since=before)) == 1  # one listing

    def due_date(part: str) -> str | None:
        (issue,) = issues_keyed(outside, natural_key(Kind.ACTIVITY_ISSUE, OPPORTUNITY_ID, part))
        return issue["due_date"]  # type: ignore[no-any-return]

    assert (due_date("PS-K8S"), due_date("PS-CICD"), due_date("PS-OLD")) == (
        "2027-01-29",
        "2027-02-26",
        None,
    )

    # a person moves one; the plan's date does not come back
    (k8s,) = [ref for ref in set_now if "Kubernetes" in ref.name]
    project_of = clients.systems().gitlab().projects.get(project, lazy=True)
    edited = project_of.issues.get(k8s.id.rpartition("#")[2])
    edited.due_date = "2027-02-12"
    edited.save()
    before = outside.last_request_id()
    again = gl.ensure_issue_due_dates.fn(project, Kind.ACTIVITY_ISSUE, OPPORTUNITY_ID, due)
    assert [ref.created for ref in again] == [False, False]
    assert outside.writes(system="gitlab", since=before) == 0
    assert due_date("PS-K8S") == "2027-02-12"


def test_a_project_path_comes_from_its_link_without_a_request(
    outside: SandboxClient, project: str
) -> None:
    url = f"{clients.systems().gitlab().url}/{project}"
    before = outside.last_request_id()
    assert gl.project_path(url) == project
    assert gl.project_path(url + "/") == project
    assert outside.requests(since=before) == []
    with pytest.raises(PermanentError, match=r"GitLab: project https://gitlab\.example/x/y: not a"):
        gl.project_path("https://gitlab.example/x/y")


def test_the_open_issues_are_read_with_their_labels(outside: SandboxClient, project: str) -> None:
    handoff(project)  # psflow's own
    gitlab = clients.systems().gitlab().projects.get(project, lazy=True)
    gitlab.issues.create({"title": "Customer VPN access blocked", "labels": "escalation"})
    closed = gitlab.issues.create({"title": "Fixed already"})
    closed.state_event = "close"
    closed.save()
    before = outside.last_request_id()
    found = gl.get_open_issues.fn(project)
    assert len(outside.requests(system="gitlab", since=before)) == 1
    titles = sorted(issue.title for issue in found)
    assert titles == [
        "Customer VPN access blocked",
        "Sales to PS hand-off: Globex Industries – SOW-2026-042",
    ]
    assert issues_and_escalations(found) == (
        ["Customer VPN access blocked"],
        ["Customer VPN access blocked"],
    )
