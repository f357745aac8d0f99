"""Stories (tasks, deliverables, milestones, issues) in a tree per project, and their assignments."""

from __future__ import annotations

from starlette.datastructures import QueryParams

from sandbox.core import Json, Sandbox
from sandbox.kit import Problems, Resource, equals, flag, one_of
from sandbox.mavenlink.api import (
    NAME,
    api_user_id,
    as_date,
    as_int,
    belongs_to,
    dates_in_order,
    exists,
    has_many,
    new_id,
    of_subject,
    put_new,
    stamp,
    table,
    through,
    touch,
)
from sandbox.mavenlink.people import participates
from sandbox.mavenlink.references import attach_reference, validate_reference, with_reference

STORY_TYPES = ("task", "deliverable", "milestone", "issue")
STORY_STATES = ("not started", "started", "needs info", "completed")


def _story_fields(sb: Sandbox, data: Json, current: Json | None, problems: Problems) -> Json:
    out: Json = {}
    workspace_id = str(data.get("workspace_id") or (current or {}).get("workspace_id") or "")
    if current is None and not exists(sb, "workspaces", workspace_id):
        problems.append(("workspace_id", "Workspace can't be blank"))
    if current is None or "title" in data:
        out["title"] = str(data.get("title") or "").strip()
        if not out["title"]:
            problems.append(("title", "Title can't be blank"))
    if current is None or "story_type" in data:
        out["story_type"] = data.get("story_type") or "task"
        if out["story_type"] not in STORY_TYPES:
            problems.append(("story_type", f"Story type must be one of {', '.join(STORY_TYPES)}"))
    if "state" in data:
        out["state"] = data["state"]
        if out["state"] not in STORY_STATES:
            problems.append(("state", f"State must be one of {', '.join(STORY_STATES)}"))
    if "description" in data:
        out["description"] = data["description"] or ""
    for field in ("start_date", "due_date"):
        if field in data:
            out[field] = as_date(data[field], field, problems)
    start = out.get("start_date", (current or {}).get("start_date"))
    dates_in_order(
        start, out.get("due_date", (current or {}).get("due_date")), "due_date", problems
    )
    for field in ("time_estimate_in_minutes", "budget_estimate_in_cents"):
        if field in data:
            out[field] = as_int(data[field], field, problems)
    if data.get("parent_id") not in (None, ""):
        parent = sb.store.get(NAME, "stories", str(data["parent_id"]))
        if parent is None or parent["workspace_id"] != workspace_id:
            problems.append(("parent_id", "Parent must be a task in the same project"))
        elif current is not None and (
            parent["id"] == current["id"] or current["id"] in parent["ancestor_ids"]
        ):
            problems.append(("parent_id", "A task cannot be its own ancestor"))
        out["parent_id"] = str(data["parent_id"])
    for item in data.get("assignments") or []:
        if not isinstance(item, dict) or not _assignee(sb, workspace_id, item):
            problems.append(("assignments", "Assignee must be a participant in the project"))
    if isinstance(data.get("external_reference"), dict):
        validate_reference(data["external_reference"], problems)
    return out


def _place(sb: Sandbox, story: Json) -> None:
    parent = sb.store.get(NAME, "stories", story["parent_id"]) if story.get("parent_id") else None
    story["ancestor_ids"] = [*parent["ancestor_ids"], parent["id"]] if parent else []
    story["root_id"] = story["ancestor_ids"][0] if story["ancestor_ids"] else story["id"]
    story["subtree_depth"] = len(story["ancestor_ids"])


def new_story(sb: Sandbox, fields: Json, data: Json) -> Json:
    story_id = new_id(sb, "stories")
    workspace_id = str(data["workspace_id"])
    position = 1 + sum(
        1 for s in table(sb, "stories").values() if s["workspace_id"] == workspace_id
    )
    story: Json = {
        "id": story_id,
        "workspace_id": workspace_id,
        "title": fields["title"],
        "description": "",
        "story_type": fields["story_type"],
        "state": "not started",
        "start_date": None,
        "due_date": None,
        "time_estimate_in_minutes": None,
        "budget_estimate_in_cents": None,
        "parent_id": None,
        "position": position,
        "archived": False,
        "percentage_complete": 0,
        "creator_id": api_user_id(sb),
        "created_at": stamp(sb),
    }
    story.update(fields)
    _place(sb, story)
    touch(sb, "stories", story)
    for item in data.get("assignments") or []:
        ensure_assignment(sb, story, _assignee(sb, workspace_id, item) or "")
    return attach_reference(sb, "Story", story, data)


def _update_story(sb: Sandbox, story: Json, fields: Json, data: Json) -> Json:
    story.update(fields)
    if fields.get("state") == "completed":
        story["percentage_complete"] = 100
    _place(sb, story)
    touch(sb, "stories", story)
    if "assignments" in data:  # the list replaces the story's assignees
        wanted = {_assignee(sb, story["workspace_id"], item) or "" for item in data["assignments"]}
        for a in list(table(sb, "assignments").values()):
            if a["story_id"] == story["id"] and a["assignee_id"] not in wanted:
                sb.store.delete(NAME, "assignments", a["id"])
        for user_id in sorted(wanted):
            ensure_assignment(sb, story, user_id)
    return story


def _stories(sb: Sandbox, q: QueryParams, rows: list[Json]) -> list[Json]:
    if (parent := q.get("parent_id")) is not None:
        rows = [s for s in rows if s["parent_id"] == parent]
    if story_type := q.get("story_type"):
        rows = [s for s in rows if s["story_type"] == story_type]
    if term := q.get("search"):
        rows = [s for s in rows if term.lower() in s["title"].lower()]
    if not flag(q.get("include_archived")):
        rows = [s for s in rows if not s["archived"]]
    return rows


STORIES = Resource(
    "stories",
    "story",
    "Story",
    filters=(one_of("workspace_id"), _stories, with_reference("Story")),
    order="position:asc",
    sortable=("position", "created_at", "updated_at", "due_date"),
    includes={
        "assignees": through("assignee_ids", "assignments", "story_id", "users", "assignee_id"),
        "assignments": has_many("assignment_ids", "assignments", "story_id"),
        "workspace": belongs_to("workspace_id", "workspaces"),
        "parent": belongs_to("parent_id", "stories"),
        "root": belongs_to("root_id", "stories"),
        "creator": belongs_to("creator_id", "users"),
        "sub_stories": has_many("sub_story_ids", "stories", "parent_id"),
        "external_references": of_subject("external_references", "Story"),
        "custom_field_values": of_subject("custom_field_values", "Story"),
    },
    gated={
        "workspace_id": "workspace",
        "parent_id": "parent",
        "root_id": "root",
        "creator_id": "creator",
    },
    validate=_story_fields,
    create=new_story,
    update=_update_story,
    delete=True,
)


# --- assignments ---------------------------------------------------------------------------------


def _assignee(sb: Sandbox, workspace_id: str, item: Json) -> str | None:
    """The user an assignment names, directly or through a named workspace resource."""
    user_id = item.get("assignee_id")
    if item.get("workspace_resource_id"):
        resource = sb.store.get(NAME, "workspace_resources", str(item["workspace_resource_id"]))
        user_id = (
            resource["user_id"] if resource and resource["workspace_id"] == workspace_id else None
        )
    return str(user_id) if user_id and participates(sb, workspace_id, user_id) else None


def ensure_assignment(sb: Sandbox, story: Json, user_id: str) -> Json:
    for a in table(sb, "assignments").values():
        if a["story_id"] == story["id"] and a["assignee_id"] == user_id:
            return a
    return put_new(sb, "assignments", {"story_id": story["id"], "assignee_id": user_id})


def _check_assignment(sb: Sandbox, item: Json, current: Json | None, problems: Problems) -> Json:
    story = sb.store.get(NAME, "stories", str(item.get("story_id")))
    user = _assignee(sb, story["workspace_id"], item) if story else None
    if story is None:
        problems.append(("story_id", "Story can't be blank"))
    elif user is None:
        problems.append(("assignee_id", "Assignee must be a participant in the project"))
    elif any(
        a["story_id"] == story["id"] and a["assignee_id"] == user
        for a in table(sb, "assignments").values()
    ):
        problems.append(("assignee_id", "Assignee has already been assigned to this task"))
    return {"story": story, "user": user}


ASSIGNMENTS = Resource(
    "assignments",
    "assignment",
    "Assignment",
    filters=(equals("story_id", "assignee_id"),),
    includes={
        "story": belongs_to("story_id", "stories"),
        "assignee": belongs_to("assignee_id", "users"),
    },
    validate=_check_assignment,
    create=lambda sb, fields, item: ensure_assignment(sb, fields["story"], fields["user"]),
    get=False,
    delete=True,
)

RESOURCES = (STORIES, ASSIGNMENTS)
