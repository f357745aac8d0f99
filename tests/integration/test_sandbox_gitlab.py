"""The GitLab stand-in, driven through python-gitlab as psflow's GitLabConnection builds it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab
import pytest
import requests
from gitlab.v4.objects import Group, Project

from blocks.gitlab import GitLabConnection
from sandbox import seed as demo
from sandbox.client import SandboxClient
from sandbox.gitlab.model import OCI_PATH_MESSAGE, PROJECT_PATH_FORMAT_MESSAGE

ACME_PATH = demo.acme_group()[0]  # e.g. acme-corporation-1a2b3c4d

API = "/gitlab/api/v4"


@pytest.fixture
def connect(sandbox: SandboxClient, sandbox_url: str) -> Callable[..., gitlab.Gitlab]:
    """A client of the freshly reset sandbox, built by the Block as psflow builds it."""

    def connect(**overrides: Any) -> gitlab.Gitlab:
        fields = {"url": f"{sandbox_url}/gitlab", "token": "psflow-test-token"} | overrides
        return GitLabConnection(**fields).get_client()

    return connect


@pytest.fixture
def gl(connect: Callable[..., gitlab.Gitlab]) -> gitlab.Gitlab:
    return connect()


@pytest.fixture
def customers(gl: gitlab.Gitlab) -> Group:
    return gl.groups.get(demo.CUSTOMERS_GROUP)


@pytest.fixture
def globex(gl: gitlab.Gitlab, customers: Group) -> Group:
    return gl.groups.create(
        {"name": "Globex Industries", "path": "globex-industries", "parent_id": customers.id}
    )


@pytest.fixture
def project(gl: gitlab.Gitlab, globex: Group) -> Project:
    return gl.projects.create(
        {
            "name": "Globex – Kubernetes Integration",
            "path": "sow-2026-042",
            "namespace_id": globex.id,
        }
    )


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """python-gitlab's retry waits, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(gitlab.utils.time, "sleep", waits.append)
    return waits


# --- users, version, seed ------------------------------------------------------------------------


def test_token_user_version_and_people(gl: gitlab.Gitlab) -> None:
    assert gl.version()[0].endswith("-ee")
    gl.auth()
    assert gl.user is not None
    assert (gl.user.username, gl.user.bot) == ("psflow-bot", True)

    [aisha] = gl.users.list(username="aisha_bello")
    assert aisha.name == "Aisha Bello"
    assert gl.users.get(aisha.id).job_title == "Sr. PS Engineer"
    assert {u.username for u in gl.users.list(search="kim")} == {"grace_kim"}
    everyone = {u.username for u in gl.users.list(get_all=True)}
    assert everyone == {p.key for p in (*demo.STAFF, *demo.PSES)} | {"psflow-bot"}


def test_seed_holds_the_customers_group_and_acmes_past_engagement(
    gl: gitlab.Gitlab, customers: Group
) -> None:
    labels = {label.name: label.color for label in customers.labels.list(get_all=True)}
    assert labels == dict(demo.GROUP_LABELS)

    acme = gl.groups.get(f"ps-customers/{ACME_PATH}")
    assert (acme.full_name, acme.parent_id) == (
        f"PS Customers / {demo.acme_group()[1]}",
        customers.id,
    )
    [past] = acme.projects.list()
    assert past.name == demo.ACME_PAST.name
    [epic] = acme.epics.list()
    assert (epic.title, epic.state) == ("SOW-2025-031 Acme Corporation", "closed")
    linked = epic.issues.list(get_all=True)
    assert {i.project_id for i in linked} == {past.id}
    assert [i.labels for i in linked] == [["PS::Hand-off"], ["PS::Activity"], ["PS::Activity"]]


# --- groups and projects -------------------------------------------------------------------------


def test_subgroup_round_trip_by_id_and_by_path(
    gl: gitlab.Gitlab, customers: Group, globex: Group, sandbox: SandboxClient, sandbox_url: str
) -> None:
    assert globex.full_path == "ps-customers/globex-industries"
    assert globex.full_name == "PS Customers / Globex Industries"
    assert globex.web_url == f"{sandbox_url}/gitlab/groups/ps-customers/globex-industries"
    assert gl.groups.get(globex.id).id == gl.groups.get(globex.full_path).id == globex.id

    assert {g.path for g in customers.subgroups.list()} == {ACME_PATH, "globex-industries"}
    assert [g.id for g in gl.groups.list(search="globex")] == [globex.id]
    assert [g.full_path for g in gl.groups.list(top_level_only=True)] == ["ps-customers"]

    globex.description = "Energy customer since 2026"
    globex.save()
    stored = next(g for g in sandbox.state("gitlab", "group") if g["id"] == globex.id)
    assert stored["description"] == "Energy customer since 2026"


def test_project_round_trip_by_id_and_by_path(
    gl: gitlab.Gitlab, globex: Group, sandbox_url: str
) -> None:
    created = gl.projects.create(
        {
            "name": "Globex – Kubernetes Integration",
            "path": "sow-2026-042",
            "namespace_id": globex.id,
            "description": "opportunity 006",
            "initialize_with_readme": True,
        }
    )
    path = "ps-customers/globex-industries/sow-2026-042"
    assert created.path_with_namespace == path
    assert created.web_url == f"{sandbox_url}/gitlab/{path}"
    assert created.namespace["full_path"] == "ps-customers/globex-industries"
    assert created.default_branch == "main"
    assert gl.projects.get(path).id == gl.projects.get(created.id).id == created.id

    assert [p.id for p in globex.projects.list(search="kubernetes")] == [created.id]
    assert created.id in [p.id for p in gl.projects.list(search="sow-2026", membership=True)]

    created.description = "opportunity 006, SOW signed"
    created.save()
    assert gl.projects.get(path).description == "opportunity 006, SOW signed"


def test_members_direct_and_inherited(gl: gitlab.Gitlab, project: Project) -> None:
    [aisha] = gl.users.list(username="aisha_bello")
    member = project.members.create({"user_id": aisha.id, "access_level": 40})
    assert (member.username, member.access_level) == ("aisha_bello", 40)
    assert [m.username for m in project.members.list()] == ["aisha_bello"]

    everyone = {m.username: m.access_level for m in project.members_all.list(get_all=True)}
    assert everyone["aisha_bello"] == 40  # the higher of direct (40) and inherited (30)
    assert everyone["psflow-bot"] == 50  # owner of ps-customers
    assert everyone["chen_wei"] == 30

    with pytest.raises(gitlab.GitlabCreateError) as err:
        project.members.create({"user_id": aisha.id, "access_level": 30})
    assert (err.value.response_code, err.value.error_message) == (409, "Member already exists")


# --- issues, labels, notes -----------------------------------------------------------------------


def test_issues_count_iids_per_project_and_take_group_labels(
    gl: gitlab.Gitlab, project: Project, sandbox: SandboxClient
) -> None:
    handoff = project.issues.create(
        {
            "title": "Sales to PS hand-off",
            "labels": "PS::Hand-off",
            "description": "key: 006-handoff",
        }
    )
    activity = project.issues.create(
        {"title": "PS-K8S: Kubernetes integration", "labels": ["PS::Activity", "k8s"]}
    )
    assert (handoff.iid, activity.iid) == (1, 2)  # per project, while ids are global
    assert handoff.id != handoff.iid
    assert activity.id > handoff.id
    assert activity.labels == ["PS::Activity", "k8s"]
    # a group label is used as is; an unknown one becomes a project label
    own = [label.name for label in project.labels.list(include_ancestor_groups=False)]
    assert own == ["k8s"]
    assert project.issues.get(2).title == "PS-K8S: Kubernetes integration"
    assert handoff.references["full"] == f"{project.path_with_namespace}#1"
    # writes are requests: the group, the project and two issues (the new label came with one)
    assert sandbox.writes(system="gitlab") == 4


def test_issue_filters_and_updates(gl: gitlab.Gitlab, project: Project) -> None:
    [aisha] = gl.users.list(username="aisha_bello")
    one = project.issues.create({"title": "Hand-off Globex", "labels": "PS::Hand-off"})
    two = project.issues.create(
        {"title": "Runner rollout", "labels": "PS::Activity", "description": "psflow-key 006-act-1"}
    )
    three = project.issues.create({"title": "Helm charts", "labels": "PS::Activity,urgent"})

    def iids(**filters: Any) -> list[int]:
        return sorted(i.iid for i in project.issues.list(get_all=True, **filters))

    assert iids(labels=["PS::Activity"]) == [two.iid, three.iid]
    assert iids(labels=["PS::Activity", "urgent"]) == [three.iid]
    assert iids(search="006-act-1") == [two.iid]
    assert iids(search="006-act-1", **{"in": "title"}) == []
    assert iids(iids=[one.iid, three.iid]) == [one.iid, three.iid]

    two.labels = ["PS::Activity"]
    two.state_event = "close"
    two.assignee_ids = [aisha.id]
    two.save()
    assert iids(state="closed") == [two.iid]
    closed = project.issues.get(two.iid)
    assert (closed.state, closed.assignee["username"]) == ("closed", "aisha_bello")
    # `closed_by` is a method of python-gitlab's issue (merge requests), so read the attribute
    assert closed.attributes["closed_by"]["username"] == "psflow-bot"

    # Scoped labels (Premium): adding PS::Change Request replaces PS::Activity
    changed = project.issues.update(
        three.iid, {"add_labels": "PS::Change Request", "remove_labels": "urgent"}
    )
    assert changed["labels"] == ["PS::Change Request"]

    reopened = project.issues.update(two.iid, {"state_event": "reopen"})
    assert (reopened["state"], reopened["closed_at"]) == ("opened", None)


def test_group_and_instance_issue_lists(
    gl: gitlab.Gitlab, customers: Group, project: Project
) -> None:
    mine = project.issues.create({"title": "Hand-off Globex", "labels": "PS::Hand-off"})
    handoffs = customers.issues.list(labels=["PS::Hand-off"], get_all=True)
    assert {(i.project_id, i.iid) for i in handoffs} >= {(project.id, mine.iid)}
    assert len(handoffs) == 2  # Acme's past hand-off too, in another subgroup
    assert [i.id for i in customers.issues.list(search="Globex")] == [mine.id]
    assert len(gl.issues.list(scope="all", get_all=True)) == 4


def test_project_and_group_labels(gl: gitlab.Gitlab, globex: Group, project: Project) -> None:
    created = project.labels.create({"name": "blocked", "color": "#d9534f", "description": "waits"})
    assert (created.name, created.is_project_label, created.text_color) == (
        "blocked",
        True,
        "#FFFFFF",
    )
    globex.labels.create({"name": "Globex::Phase 1", "color": "#f0f0f0"})

    listed = {label.name: label.is_project_label for label in project.labels.list(get_all=True)}
    assert listed["blocked"] is True
    assert listed["PS::Hand-off"] is False  # from ps-customers, two levels up
    assert "Globex::Phase 1" in listed

    with pytest.raises(gitlab.GitlabCreateError) as err:
        project.labels.create({"name": "blocked", "color": "#000000"})
    assert (err.value.response_code, err.value.error_message) == (409, "Label already exists")
    with pytest.raises(gitlab.GitlabCreateError) as err:
        project.labels.create({"name": "PS::Hand-off", "color": "#000000"})
    assert err.value.response_code == 400
    assert err.value.error_message == {
        "title": ["already exists at group level for PS Customers. Please choose another one."]
    }
    with pytest.raises(gitlab.GitlabHttpError) as missing:
        gl.http_post(f"/projects/{project.id}/labels", post_data={"name": "no colour"})
    assert (missing.value.response_code, missing.value.error_message) == (400, "color is missing")


def test_notes_on_an_issue(project: Project) -> None:
    issue = project.issues.create({"title": "Weekly status"})
    first = issue.notes.create({"body": "Status report week 1"})
    issue.notes.create({"body": "Status report week 2"})
    assert first.author["username"] == "psflow-bot"
    assert [n.body for n in issue.notes.list(sort="asc")] == [
        "Status report week 1",
        "Status report week 2",
    ]
    assert project.issues.get(issue.iid).user_notes_count == 2


# --- epics ---------------------------------------------------------------------------------------


def test_epic_round_trip_and_issue_links(
    gl: gitlab.Gitlab, globex: Group, project: Project
) -> None:
    epic = globex.epics.create(
        {"title": "SOW-2026-042 Globex Industries", "description": "006", "labels": "PS::Activity"}
    )
    assert (epic.iid, epic.state, epic.labels) == (1, "opened", ["PS::Activity"])
    assert epic.references["full"] == "ps-customers/globex-industries&1"
    # GitLab's epics API (deprecated in 17.0; epics are work items since 17.2): "The legacy epic ID
    # is not the same as the WorkItem ID. Only the iid matches. [...] the response includes
    # work_item_id" (docs.gitlab.com/api/epics); a work item's id is an issue's
    assert epic.work_item_id not in (epic.id, epic.iid)
    assert globex.epics.get(epic.iid).title == "SOW-2026-042 Globex Industries"

    handoff = project.issues.create({"title": "Sales to PS hand-off"})
    link = epic.issues.create({"issue_id": handoff.id})
    assert link.epic["iid"] == epic.iid
    assert link.issue["id"] == handoff.id
    direct = project.issues.create({"title": "PS-K8S", "epic_id": epic.id})
    assert direct.epic_iid == epic.iid
    assert [i.id for i in epic.issues.list()] == [handoff.id, direct.id]
    assert project.issues.get(handoff.iid).epic["title"] == epic.title

    with pytest.raises(gitlab.GitlabCreateError) as again:
        epic.issues.create({"issue_id": handoff.id})
    assert (again.value.response_code, again.value.error_message) == (
        409,
        "Issue(s) already assigned",
    )
    acme_issue = gl.projects.get(demo.acme_project_path()).issues.get(1)
    with pytest.raises(gitlab.GitlabCreateError) as foreign:
        epic.issues.create({"issue_id": acme_issue.id})  # Acme's issue is outside Globex's group
    assert foreign.value.response_code == 404

    epic.state_event = "close"
    epic.save()
    assert [e.iid for e in globex.epics.list(state="closed")] == [epic.iid]


# --- paging --------------------------------------------------------------------------------------


def test_get_all_and_iterator_follow_link_headers(
    gl: gitlab.Gitlab, sandbox: SandboxClient, sandbox_url: str
) -> None:
    people = len(demo.STAFF) + len(demo.PSES) + 1
    since = sandbox.last_request_id()
    assert len(gl.users.list(per_page=5, get_all=True)) == people
    assert len(sandbox.requests(since=since)) == -(-people // 5)  # one request per page

    pages = gl.users.list(per_page=5, iterator=True)
    assert (pages.total, pages.total_pages, pages.per_page) == (people, -(-people // 5), 5)
    assert len({u.id for u in pages}) == people
    assert pages.next_page is None

    last = gl.users.list(per_page=5, page=5)
    assert len(last) == people - 20
    assert [u.username for u in gl.users.list(per_page=100, get_all=True)] == [
        u.username for u in gl.users.list(get_all=True)
    ]
    listing = gl.http_list("/users", per_page=5, iterator=True)
    assert isinstance(listing, gitlab.GitlabList)
    assert str(listing._next_url).startswith(f"{sandbox_url}/gitlab/api/v4/users?")


def test_issue_pages_over_more_than_one_page(project: Project) -> None:
    for n in range(21):  # one more than the default page size
        project.issues.create({"title": f"Activity {n}", "labels": "PS::Activity"})
    titles = [i.title for i in project.issues.list(labels="PS::Activity", get_all=True)]
    assert len(titles) == 21
    assert titles[0] == "Activity 20"  # newest first
    assert len(list(project.issues.list(iterator=True, per_page=10))) == 21


# --- errors --------------------------------------------------------------------------------------


def test_unknown_objects_raise_get_errors(gl: gitlab.Gitlab, customers: Group) -> None:
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: gl.groups.get("ps-customers/nope"), "404 Group Not Found"),
        (lambda: gl.projects.get(f"ps-customers/{ACME_PATH}/nope"), "404 Project Not Found"),
        (lambda: gl.projects.get(1), "404 Project Not Found"),
        (
            lambda: gl.projects.get(demo.acme_project_path()).issues.get(99),
            "404 Not found",
        ),
        (lambda: customers.epics.get(99), "404 Epic Not Found"),
        (lambda: gl.users.get(999_999), "404 User Not Found"),
    ]
    for call, message in cases:
        with pytest.raises(gitlab.GitlabGetError) as err:
            call()
        assert (err.value.response_code, err.value.error_message) == (404, message)
    with pytest.raises(gitlab.GitlabHttpError) as route:
        gl.http_get("/nowhere")
    assert (route.value.response_code, route.value.error_message) == (404, "404 Not Found")


def test_missing_parameters_and_missing_token(
    gl: gitlab.Gitlab, project: Project, connect: Callable[..., gitlab.Gitlab]
) -> None:
    with pytest.raises(gitlab.GitlabHttpError) as err:
        gl.http_post(f"/projects/{project.id}/issues", post_data={"description": "no title"})
    assert (err.value.response_code, err.value.error_message) == (400, "title is missing")
    with pytest.raises(gitlab.GitlabCreateError) as blank:
        project.issues.create({"title": " "})
    assert blank.value.error_message == {"title": ["can't be blank"]}

    anonymous = connect(token="")
    with pytest.raises(gitlab.GitlabAuthenticationError) as denied:
        anonymous.projects.get(project.id)
    assert (denied.value.response_code, denied.value.error_message) == (401, "401 Unauthorized")


# GitLab checks a project path twice: its project-path format (no leading '-', no .git/.atom
# ending) and the OCI repository rule (no special character first or last, none doubled).
FORMAT, OCI = PROJECT_PATH_FORMAT_MESSAGE, OCI_PATH_MESSAGE


@pytest.mark.parametrize(
    ("path", "messages"),
    [
        ("sow-2026-042", []),
        ("acme.corp_v2", []),
        ("-starts-with-dash", [FORMAT, OCI]),
        ("_starts-with-underscore", [OCI]),
        ("ends-with.git", [FORMAT]),
        ("ends-with.atom", [FORMAT]),
        ("double--dash", [OCI]),
        ("dot._dash", [OCI]),
        ("ends-with-", [OCI]),
        ("späce", [FORMAT, OCI]),
        ("has space", [FORMAT, OCI]),
    ],
)
def test_project_path_rules(
    gl: gitlab.Gitlab, globex: Group, path: str, messages: list[str]
) -> None:
    data = {"name": "Path rules", "path": path, "namespace_id": globex.id}
    if not messages:
        assert gl.projects.create(data).path == path
        return
    with pytest.raises(gitlab.GitlabCreateError) as err:
        gl.projects.create(data)
    assert err.value.response_code == 400
    assert err.value.error_message == {"path": messages}


def test_group_errors_use_gitlabs_ruby_hash_message(gl: gitlab.Gitlab, customers: Group) -> None:
    with pytest.raises(gitlab.GitlabCreateError) as bad:
        gl.groups.create({"name": "Bad", "path": "bad..path", "parent_id": customers.id})
    assert bad.value.error_message.startswith('Failed to save group {:path=>["can only include')
    with pytest.raises(gitlab.GitlabCreateError) as taken:
        gl.groups.create({"name": "Acme 2", "path": ACME_PATH, "parent_id": customers.id})
    assert taken.value.error_message == 'Failed to save group {:path=>["has already been taken"]}'
    with pytest.raises(gitlab.GitlabHttpError) as missing:
        gl.http_post("/groups", post_data={"name": "No path"})
    assert missing.value.error_message == "path is missing"


def test_taken_project_name_and_path(gl: gitlab.Gitlab, project: Project, globex: Group) -> None:
    with pytest.raises(gitlab.GitlabCreateError) as both:
        gl.projects.create({"name": project.name, "path": project.path, "namespace_id": globex.id})
    assert both.value.error_message == {
        "project_namespace.name": ["has already been taken"],
        "name": ["has already been taken"],
        "path": ["has already been taken"],
    }
    with pytest.raises(gitlab.GitlabCreateError) as path_only:
        gl.projects.create(
            {"name": "Other", "path": project.path.upper(), "namespace_id": globex.id}
        )
    assert path_only.value.error_message == {"path": ["has already been taken"]}


# --- quotas --------------------------------------------------------------------------------------


def test_api_quota_answers_429_retry_later_with_retry_after(
    gl: gitlab.Gitlab, sandbox: SandboxClient, no_sleep: list[float]
) -> None:
    sandbox.set_quotas(True, {"gitlab.api-per-user": 2})
    gl.groups.get(demo.CUSTOMERS_GROUP)
    gl.groups.get(demo.CUSTOMERS_GROUP)
    with pytest.raises(gitlab.GitlabGetError) as err:
        gl.groups.get(demo.CUSTOMERS_GROUP, obey_rate_limit=False)
    assert (err.value.response_code, err.value.error_message) == (429, "Retry later\n")

    # by default python-gitlab waits Retry-After seconds and tries again, up to max_retries
    with pytest.raises(gitlab.GitlabGetError):
        gl.groups.get(demo.CUSTOMERS_GROUP, max_retries=2)
    assert len(no_sleep) == 2
    assert all(1 <= w <= 60 for w in no_sleep)
    assert {r["quota"] for r in sandbox.requests(status=429)} == {"gitlab.api-per-user"}


def test_endpoint_quota_answers_in_json_and_leaves_other_endpoints_alone(
    gl: gitlab.Gitlab, sandbox: SandboxClient
) -> None:
    sandbox.set_quotas(True, {"gitlab.get-project": 1})
    path = demo.acme_project_path()
    project = gl.projects.get(path)
    with pytest.raises(gitlab.GitlabGetError) as err:
        gl.projects.get(path, obey_rate_limit=False)
    assert err.value.response_code == 429
    assert err.value.error_message == {
        "error": "This endpoint has been requested too many times. Try again later."
    }
    assert project.issues.list()  # other endpoints are not throttled


def test_retry_transient_errors_recovers_from_429_and_503(
    connect: Callable[..., gitlab.Gitlab], sandbox: SandboxClient, no_sleep: list[float]
) -> None:
    gl = connect()
    gl.retry_transient_errors = True  # what a caller may opt into; the Block leaves it off
    sandbox.add_fault(f"{API}/groups/.*", method="GET", status=429, retry_after=3)
    sandbox.add_fault(f"{API}/groups/.*", method="GET", status=503)
    assert gl.groups.get(demo.CUSTOMERS_GROUP).path == demo.CUSTOMERS_GROUP
    assert no_sleep[0] == 3  # Retry-After honoured
    assert [r["status"] for r in sandbox.requests(path=f"{API}/groups/%")] == [429, 503, 200]


# --- faults --------------------------------------------------------------------------------------


def test_status_fault_raises_without_retries(gl: gitlab.Gitlab, sandbox: SandboxClient) -> None:
    sandbox.add_fault(f"{API}/projects/.*", method="GET", status=503)
    with pytest.raises(gitlab.GitlabGetError) as err:
        gl.projects.get(demo.acme_project_path())
    assert err.value.response_code == 503
    assert gl.projects.get(demo.acme_project_path()).path == "sow-2025-031"


def test_fault_after_commit_on_issue_create_leaves_exactly_one_issue(
    gl: gitlab.Gitlab, project: Project, sandbox: SandboxClient
) -> None:
    sandbox.add_fault(f"{API}/projects/[0-9]+/issues", method="POST", status=503, after_commit=True)
    with pytest.raises(gitlab.GitlabCreateError):
        project.issues.create({"title": "Sales to PS hand-off", "labels": "PS::Hand-off"})
    # the lookup psflow makes before creating again finds the issue that was written
    found = project.issues.list(labels="PS::Hand-off", search="hand-off")
    assert [i.title for i in found] == ["Sales to PS hand-off"]
    assert len(sandbox.state("gitlab", "issue")) == 4  # Acme's 3 + this one


def test_dropped_connection_after_commit_then_retry_finds_the_project_taken(
    gl: gitlab.Gitlab, globex: Group, sandbox: SandboxClient
) -> None:
    sandbox.add_fault(f"{API}/projects", method="POST", kind="drop", after_commit=True)
    data = {
        "name": "Globex – Kubernetes Integration",
        "path": "sow-2026-042",
        "namespace_id": globex.id,
    }
    with pytest.raises(requests.exceptions.ConnectionError):
        gl.projects.create(data)
    with pytest.raises(gitlab.GitlabCreateError) as again:  # a blind retry cannot duplicate it
        gl.projects.create(data)
    assert again.value.error_message == {
        "project_namespace.name": ["has already been taken"],
        "name": ["has already been taken"],
        "path": ["has already been taken"],
    }
    paths = [p["path"] for p in sandbox.state("gitlab", "project")]
    assert paths.count("sow-2026-042") == 1


def test_dropped_read_and_slow_answer(
    connect: Callable[..., gitlab.Gitlab], sandbox: SandboxClient
) -> None:
    gl = connect(timeout_seconds=0.2)
    sandbox.add_fault(f"{API}/groups/.*", method="GET", kind="drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        gl.groups.get(demo.CUSTOMERS_GROUP)
    sandbox.add_fault(f"{API}/groups/.*", method="GET", kind="delay", delay=0.6)
    with pytest.raises(requests.exceptions.Timeout):
        gl.groups.get(demo.CUSTOMERS_GROUP)
    assert gl.groups.get(demo.CUSTOMERS_GROUP).path == demo.CUSTOMERS_GROUP


def test_reads_are_not_writes(gl: gitlab.Gitlab, sandbox: SandboxClient) -> None:
    since = sandbox.last_request_id()
    acme = gl.groups.get(f"ps-customers/{ACME_PATH}")
    acme.epics.list()
    acme.issues.list()
    assert sandbox.writes(system="gitlab", since=since) == 0
    acme.labels.create({"name": "acme-only", "color": "#00ff00"})
    assert sandbox.writes(system="gitlab", since=since) == 1
