"""Labels, issues, notes and group epics (GitLab REST v4: labels.md, group_labels.md, issues.md,
notes.md, epics.md, epic_issues.md). Epics behave as on a Premium plan, which they require."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sandbox.core import Json
from sandbox.gitlab.api import (
    Ctx,
    GitLabError,
    Reply,
    bad_param,
    invalid,
    not_found,
    record_not_found,
    route,
)
from sandbox.gitlab.model import (
    ancestor_ids,
    apply_labels,
    available_labels,
    epic_json,
    find_group,
    find_project,
    issue_json,
    label_json,
    new_id,
    new_label,
    note_json,
    put,
    save,
    subtree_ids,
    table,
    timestamp,
)

# --- labels --------------------------------------------------------------------------------------

COLOR = re.compile(r"#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|[a-z]+")  # hex, or a CSS colour name


def _list_labels(ctx: Ctx, labels: list[Json], in_project: bool) -> Reply:
    if search := ctx.text("search"):
        labels = [label for label in labels if search.lower() in label["name"].lower()]
    labels = sorted(labels, key=lambda label: label["name"].lower())
    rows = [label_json(ctx, label, in_project) for label in labels]
    if not ctx.boolean("with_counts"):  # counts are only computed when asked for
        for row in rows:
            for key in ("open_issues_count", "closed_issues_count", "open_merge_requests_count"):
                row.pop(key)
    return ctx.page(rows)


def _label_params(ctx: Ctx) -> tuple[str, str, str]:
    ctx.require("name", "color")
    name, color = str(ctx.text("name")).strip(), str(ctx.text("color"))
    errors = {}
    if not name:
        errors["title"] = ["can't be blank"]
    if not COLOR.fullmatch(color):
        errors["color"] = ["must be a valid color code"]
    if errors:
        raise invalid(errors)
    return name, color, ctx.text("description", "") or ""


@route("GET", "/projects/{project}/labels")
def list_project_labels(ctx: Ctx) -> Reply:
    project = find_project(ctx.sb, ctx.ids["project"])
    labels = available_labels(ctx.sb, project=project)
    if not ctx.boolean("include_ancestor_groups", True):
        labels = [label for label in labels if label.get("project_id") == project["id"]]
    return _list_labels(ctx, labels, in_project=True)


@route("POST", "/projects/{project}/labels")
def create_project_label(ctx: Ctx) -> Reply:
    project = find_project(ctx.sb, ctx.ids["project"])
    name, color, description = _label_params(ctx)
    for label in available_labels(ctx.sb, project=project):
        if label["name"] != name:
            continue
        if label.get("project_id") == project["id"]:
            raise GitLabError(409, {"message": "Label already exists"})
        group = table(ctx.sb, "group")[str(label["group_id"])]
        raise invalid(
            {
                "title": [
                    f"already exists at group level for {group['name']}. Please choose another one."
                ]
            }
        )
    label = new_label(ctx.sb, name, color, description, project_id=project["id"])
    return Reply(label_json(ctx, label, in_project=True), 201)


@route("GET", "/groups/{group}/labels")
def list_group_labels(ctx: Ctx) -> Reply:
    group = find_group(ctx.sb, ctx.ids["group"])
    groups = set(ancestor_ids(ctx.sb, group["id"]))
    if not ctx.boolean("include_ancestor_groups", True):
        groups = {group["id"]}
    if ctx.boolean("include_descendant_groups"):
        groups |= subtree_ids(ctx.sb, group["id"])
    labels = [label for label in table(ctx.sb, "label").values() if label.get("group_id") in groups]
    return _list_labels(ctx, labels, in_project=False)


@route("POST", "/groups/{group}/labels")
def create_group_label(ctx: Ctx) -> Reply:
    group = find_group(ctx.sb, ctx.ids["group"])
    name, color, description = _label_params(ctx)
    if any(
        label["name"] == name and label.get("group_id") == group["id"]
        for label in table(ctx.sb, "label").values()
    ):
        raise GitLabError(409, {"message": "Label already exists"})
    label = new_label(ctx.sb, name, color, description, group_id=group["id"])
    return Reply(label_json(ctx, label), 201)


# --- issues --------------------------------------------------------------------------------------


def find_issue(ctx: Ctx, project: Json, iid: str) -> Json:
    issue = next(
        (
            i
            for i in table(ctx.sb, "issue").values()
            if i["project_id"] == project["id"] and str(i["iid"]) == iid
        ),
        None,
    )
    if issue is None:
        raise record_not_found()
    return issue


def _date(ctx: Ctx, name: str) -> str | None:
    value = ctx.text(name)
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise bad_param(f"{name} is invalid") from None


def _assignees(ctx: Ctx) -> list[int] | None:
    """`assignee_ids` (Premium: several) or `assignee_id`; unknown users are dropped silently and
    `[0]` unassigns, as GitLab does."""
    ids = ctx.integers("assignee_ids")
    if ids is None and ctx.has("assignee_id"):
        ids = [ctx.integer("assignee_id") or 0]
    if ids is None:
        return None
    users = table(ctx.sb, "user")
    return list(dict.fromkeys(i for i in ids if str(i) in users))


def _epic_for(ctx: Ctx, project: Json, epic_id: int) -> Json:
    """An epic an issue of `project` may belong to: one of a group above the project."""
    epic = table(ctx.sb, "epic").get(str(epic_id))
    if epic is None or epic["group_id"] not in ancestor_ids(ctx.sb, project["namespace_id"]):
        raise not_found("Epic")
    return epic


def link_to_epic(ctx: Ctx, issue: Json, epic: Json | None) -> None:
    """Put an issue in an epic (at the end of its list) or take it out (None)."""
    if epic is None:
        issue.update(epic_id=None, epic_issue_id=None, relative_position=None)
        return
    positions = [
        i["relative_position"]
        for i in table(ctx.sb, "issue").values()
        if i["epic_id"] == epic["id"]
    ]
    issue["epic_id"] = epic["id"]
    issue["epic_issue_id"] = new_id(ctx.sb, "epic_issue")
    issue["relative_position"] = max(positions, default=0) + 513  # GitLab's position gap


def _touch_project(ctx: Ctx, project: Json) -> None:
    project["last_activity_at"] = timestamp(ctx.sb)
    save(ctx.sb, "project", project)


@route("POST", "/projects/{project}/issues")
def create_issue(ctx: Ctx) -> Reply:
    project = find_project(ctx.sb, ctx.ids["project"])
    ctx.require("title")
    title = str(ctx.text("title"))
    if not title.strip():
        raise invalid({"title": ["can't be blank"]})
    epic_id = ctx.integer("epic_id")
    epic = _epic_for(ctx, project, epic_id) if epic_id else None
    now = timestamp(ctx.sb)
    issue: Json = {
        "id": new_id(ctx.sb, "issue"),
        # iids count per project, from 1
        "iid": ctx.sb.store.next_id(f"gitlab.issue-iid.{project['id']}"),
        "project_id": project["id"],
        "title": title,
        "description": ctx.text("description"),
        "state": "opened",
        "labels": apply_labels(ctx, ctx.names("labels") or [], project=project),
        "assignee_ids": _assignees(ctx) or [],
        "author_id": ctx.user["id"],
        "due_date": _date(ctx, "due_date"),
        "confidential": ctx.boolean("confidential"),
        "created_at": now,
        "updated_at": now,
        "closed_at": None,
        "closed_by_id": None,
    }
    link_to_epic(ctx, issue, epic)
    put(ctx.sb, "issue", issue)
    _touch_project(ctx, project)
    return Reply(issue_json(ctx, issue), 201)


def _matches_labels(issue_labels: list[str], wanted: list[str]) -> bool:
    if wanted == ["None"]:
        return not issue_labels
    if wanted == ["Any"]:
        return bool(issue_labels)
    return all(name in issue_labels for name in wanted)


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _search_terms(search: str) -> list[str]:
    """GitLab's fuzzy search: every word of three or more characters must match (shorter words
    are ignored unless the query has nothing longer)."""
    words = search.lower().split()
    long_words = [w for w in words if len(w) >= 3]
    return long_words or [search.lower()]


def filter_issues(ctx: Ctx, issues: list[Json], default_scope: str = "all") -> Reply:
    """The issue filters psflow uses, GitLab's default order (newest first) and paging."""
    state = ctx.choice("state", ("opened", "closed", "all"), "all")
    if state != "all":
        issues = [i for i in issues if i["state"] == state]
    if (labels := ctx.names("labels")) is not None:
        issues = [i for i in issues if _matches_labels(i["labels"], labels)]
    if (iids := ctx.integers("iids")) is not None:
        issues = [i for i in issues if i["iid"] in iids]
    for name, later in (("updated_after", True), ("updated_before", False)):
        if bound := ctx.text(name):  # ISO 8601; GitLab compares the instant
            limit = _instant(bound)
            issues = [i for i in issues if (_instant(i["updated_at"]) >= limit) == later]
    if search := ctx.text("search"):
        fields = ctx.names("in") or ["title", "description"]
        terms = _search_terms(search)
        issues = [
            i
            for i in issues
            if all(any(t in (i.get(f) or "").lower() for f in fields) for t in terms)
        ]
    scope = ctx.choice("scope", ("created_by_me", "assigned_to_me", "all"), default_scope)
    if scope == "created_by_me":
        issues = [i for i in issues if i["author_id"] == ctx.user["id"]]
    elif scope == "assigned_to_me":
        issues = [i for i in issues if ctx.user["id"] in i["assignee_ids"]]
    if (assignee := ctx.integer("assignee_id")) is not None:
        issues = [i for i in issues if assignee in i["assignee_ids"]]
    if ctx.has("confidential"):
        issues = [i for i in issues if i["confidential"] == ctx.boolean("confidential")]
    order_by = ctx.choice("order_by", ("created_at", "updated_at"), "created_at")
    issues.sort(
        key=lambda i: (i[str(order_by)], i["id"]), reverse=ctx.text("sort", "desc") != "asc"
    )
    return ctx.page([issue_json(ctx, i) for i in issues])


@route("GET", "/projects/{project}/issues")
def list_project_issues(ctx: Ctx) -> Reply:
    project = find_project(ctx.sb, ctx.ids["project"])
    issues = [i for i in table(ctx.sb, "issue").values() if i["project_id"] == project["id"]]
    return filter_issues(ctx, issues)


@route("GET", "/groups/{group}/issues")
def list_group_issues(ctx: Ctx) -> Reply:
    group = find_group(ctx.sb, ctx.ids["group"])
    groups = subtree_ids(ctx.sb, group["id"])
    projects = {p["id"] for p in table(ctx.sb, "project").values() if p["namespace_id"] in groups}
    issues = [i for i in table(ctx.sb, "issue").values() if i["project_id"] in projects]
    return filter_issues(ctx, issues)


@route("GET", "/issues")
def list_issues(ctx: Ctx) -> Reply:
    # GET /issues defaults to the issues the current user created
    return filter_issues(ctx, list(table(ctx.sb, "issue").values()), "created_by_me")


@route("GET", "/projects/{project}/issues/{iid}")
def get_issue(ctx: Ctx) -> Json:
    project = find_project(ctx.sb, ctx.ids["project"])
    return issue_json(ctx, find_issue(ctx, project, ctx.ids["iid"]))


def _relabel(ctx: Ctx, current: list[str], **owner: Json) -> list[str]:
    """`labels` replaces, then `add_labels` and `remove_labels` adjust."""
    labels = current
    if (replace := ctx.names("labels")) is not None:
        labels = apply_labels(ctx, replace, **owner)
    if add := ctx.names("add_labels"):
        labels = apply_labels(ctx, labels + add, **owner)
    if remove := ctx.names("remove_labels"):
        labels = [name for name in labels if name not in remove]
    return labels


def _change_state(ctx: Ctx, obj: Json) -> None:
    event = ctx.choice("state_event", ("close", "reopen"))
    if event == "close" and obj["state"] != "closed":
        obj.update(state="closed", closed_at=timestamp(ctx.sb))
        if "closed_by_id" in obj:
            obj["closed_by_id"] = ctx.user["id"]
    elif event == "reopen" and obj["state"] == "closed":
        obj.update(state="opened", closed_at=None)
        if "closed_by_id" in obj:
            obj["closed_by_id"] = None


@route("PUT", "/projects/{project}/issues/{iid}")
def edit_issue(ctx: Ctx) -> Json:
    project = find_project(ctx.sb, ctx.ids["project"])
    issue = find_issue(ctx, project, ctx.ids["iid"])
    if ctx.has("title"):
        title = str(ctx.text("title"))
        if not title.strip():
            raise invalid({"title": ["can't be blank"]})
        issue["title"] = title
    if ctx.has("epic_id"):
        epic_id = ctx.integer("epic_id")
        if not epic_id:
            link_to_epic(ctx, issue, None)
        elif epic_id != issue["epic_id"]:
            link_to_epic(ctx, issue, _epic_for(ctx, project, epic_id))
    issue["description"] = ctx.text("description", issue["description"])
    issue["labels"] = _relabel(ctx, issue["labels"], project=project)
    if (assignees := _assignees(ctx)) is not None:
        issue["assignee_ids"] = assignees
    if ctx.has("due_date"):
        issue["due_date"] = _date(ctx, "due_date")
    if ctx.has("confidential"):
        issue["confidential"] = ctx.boolean("confidential")
    _change_state(ctx, issue)
    issue["updated_at"] = timestamp(ctx.sb)
    save(ctx.sb, "issue", issue)
    _touch_project(ctx, project)
    return issue_json(ctx, issue)


# --- notes ---------------------------------------------------------------------------------------


@route("GET", "/projects/{project}/issues/{iid}/notes")
def list_notes(ctx: Ctx) -> Reply:
    project = find_project(ctx.sb, ctx.ids["project"])
    issue = find_issue(ctx, project, ctx.ids["iid"])
    notes = [n for n in table(ctx.sb, "note").values() if n["noteable_id"] == issue["id"]]
    order_by = ctx.choice("order_by", ("created_at", "updated_at"), "created_at")
    notes.sort(key=lambda n: (n[str(order_by)], n["id"]), reverse=ctx.text("sort", "desc") != "asc")
    return ctx.page([note_json(ctx, n) for n in notes])


@route("POST", "/projects/{project}/issues/{iid}/notes")
def create_note(ctx: Ctx) -> Reply:
    project = find_project(ctx.sb, ctx.ids["project"])
    issue = find_issue(ctx, project, ctx.ids["iid"])
    ctx.require("body")
    body = str(ctx.text("body"))
    if not body.strip():
        raise invalid({"note": ["can't be blank"]})
    now = timestamp(ctx.sb)
    note = put(
        ctx.sb,
        "note",
        {
            "id": new_id(ctx.sb, "note"),
            "body": body,
            "author_id": ctx.user["id"],
            "noteable_id": issue["id"],
            "noteable_iid": issue["iid"],
            "project_id": project["id"],
            "internal": ctx.boolean("internal") or ctx.boolean("confidential"),
            "created_at": now,
            "updated_at": now,
        },
    )
    _touch_project(ctx, project)
    return Reply(note_json(ctx, note), 201)


# --- epics (Premium) -----------------------------------------------------------------------------


def find_epic(ctx: Ctx, group: Json, iid: str) -> Json:
    epic = next(
        (
            e
            for e in table(ctx.sb, "epic").values()
            if e["group_id"] == group["id"] and str(e["iid"]) == iid
        ),
        None,
    )
    if epic is None:
        raise not_found("Epic")
    return epic


def _parent_epic(ctx: Ctx, group: Json, epic: Json | None = None) -> int | None:
    """`parent_id`: the id of an epic in this group or above it; not the epic itself."""
    parent_id = ctx.integer("parent_id")
    if not parent_id:
        return None
    parent = table(ctx.sb, "epic").get(str(parent_id))
    if parent is None or parent["group_id"] not in ancestor_ids(ctx.sb, group["id"]):
        raise not_found("Epic")
    if epic is not None and parent["id"] == epic["id"]:
        raise invalid({"parent": ["This epic cannot be added. An epic cannot be added to itself."]})
    return int(parent["id"])


@route("GET", "/groups/{group}/epics")
def list_epics(ctx: Ctx) -> Reply:
    group = find_group(ctx.sb, ctx.ids["group"])
    groups = (
        subtree_ids(ctx.sb, group["id"])
        if ctx.boolean("include_descendant_groups", True)
        else {group["id"]}
    )
    epics = [e for e in table(ctx.sb, "epic").values() if e["group_id"] in groups]
    state = ctx.choice("state", ("opened", "closed", "all"), "all")
    if state != "all":
        epics = [e for e in epics if e["state"] == state]
    if (labels := ctx.names("labels")) is not None:
        epics = [e for e in epics if _matches_labels(e["labels"], labels)]
    if search := ctx.text("search"):
        terms = _search_terms(search)
        epics = [
            e
            for e in epics
            if all(t in e["title"].lower() or t in (e["description"] or "").lower() for t in terms)
        ]
    if (parent_id := ctx.integer("parent_id")) is not None:
        epics = [e for e in epics if e["parent_id"] == parent_id]
    epics.sort(key=lambda e: (e["created_at"], e["id"]), reverse=ctx.text("sort", "desc") != "asc")
    return ctx.page([epic_json(ctx, e) for e in epics])


@route("POST", "/groups/{group}/epics")
def create_epic(ctx: Ctx) -> Reply:
    group = find_group(ctx.sb, ctx.ids["group"])
    ctx.require("title")
    title = str(ctx.text("title"))
    if not title.strip():
        raise invalid({"title": ["can't be blank"]})
    now = timestamp(ctx.sb)
    epic = put(
        ctx.sb,
        "epic",
        {
            "id": new_id(ctx.sb, "epic"),
            # Epics are work items since GitLab 17.2: the REST API answers the legacy epic id,
            # the work item's own id (an issue's, in GitLab's model) beside it, and an iid both share
            "work_item_id": new_id(ctx.sb, "issue"),
            "iid": ctx.sb.store.next_id(f"gitlab.epic-iid.{group['id']}"),
            "group_id": group["id"],
            "parent_id": _parent_epic(ctx, group),
            "title": title,
            "description": ctx.text("description"),
            "labels": apply_labels(ctx, ctx.names("labels") or [], group=group),
            "confidential": ctx.boolean("confidential"),
            "author_id": ctx.user["id"],
            "start_date": _date(ctx, "start_date_fixed") or _date(ctx, "start_date"),
            "due_date": _date(ctx, "due_date_fixed") or _date(ctx, "end_date"),
            "state": "opened",
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
        },
    )
    return Reply(epic_json(ctx, epic), 201)


@route("GET", "/groups/{group}/epics/{iid}")
def get_epic(ctx: Ctx) -> Json:
    group = find_group(ctx.sb, ctx.ids["group"])
    return epic_json(ctx, find_epic(ctx, group, ctx.ids["iid"]))


@route("PUT", "/groups/{group}/epics/{iid}")
def edit_epic(ctx: Ctx) -> Json:
    group = find_group(ctx.sb, ctx.ids["group"])
    epic = find_epic(ctx, group, ctx.ids["iid"])
    if ctx.has("title"):
        title = str(ctx.text("title"))
        if not title.strip():
            raise invalid({"title": ["can't be blank"]})
        epic["title"] = title
    if ctx.has("parent_id"):
        epic["parent_id"] = _parent_epic(ctx, group, epic)
    epic["description"] = ctx.text("description", epic["description"])
    epic["labels"] = _relabel(ctx, epic["labels"], group=group)
    if ctx.has("confidential"):
        epic["confidential"] = ctx.boolean("confidential")
    if ctx.has("start_date_fixed"):
        epic["start_date"] = _date(ctx, "start_date_fixed")
    if ctx.has("due_date_fixed"):
        epic["due_date"] = _date(ctx, "due_date_fixed")
    _change_state(ctx, epic)
    epic["updated_at"] = timestamp(ctx.sb)
    save(ctx.sb, "epic", epic)
    return epic_json(ctx, epic)


@route("GET", "/groups/{group}/epics/{iid}/issues")
def list_epic_issues(ctx: Ctx) -> Reply:
    group = find_group(ctx.sb, ctx.ids["group"])
    epic = find_epic(ctx, group, ctx.ids["iid"])
    issues = [i for i in table(ctx.sb, "issue").values() if i["epic_id"] == epic["id"]]
    issues.sort(key=lambda i: (i["relative_position"], i["id"]))
    rows = [
        issue_json(ctx, i)
        | {"epic_issue_id": i["epic_issue_id"], "relative_position": i["relative_position"]}
        for i in issues
    ]
    return ctx.page(rows)


@route("POST", "/groups/{group}/epics/{iid}/issues/{issue_id}")
def assign_epic_issue(ctx: Ctx) -> Reply:
    group = find_group(ctx.sb, ctx.ids["group"])
    epic = find_epic(ctx, group, ctx.ids["iid"])
    issue = table(ctx.sb, "issue").get(ctx.ids["issue_id"])
    in_hierarchy = {
        p["id"]
        for p in table(ctx.sb, "project").values()
        if p["namespace_id"] in subtree_ids(ctx.sb, group["id"])
    }
    if issue is None or issue["project_id"] not in in_hierarchy:
        raise GitLabError(
            404,
            {
                "message": "No matching issue found. Make sure that you are adding a valid issue URL."
            },
        )
    if issue["epic_id"] == epic["id"]:
        raise GitLabError(409, {"message": "Issue(s) already assigned"})
    link_to_epic(ctx, issue, epic)  # an issue in another epic moves to this one
    issue["updated_at"] = timestamp(ctx.sb)
    save(ctx.sb, "issue", issue)
    body = {
        "id": issue["epic_issue_id"],
        "relative_position": issue["relative_position"],
        "epic": epic_json(ctx, epic),
        "issue": issue_json(ctx, issue),
    }
    return Reply(body, 201)
