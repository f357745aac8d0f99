"""GitLab's objects in the sandbox store: ids, lookups, the group tree, GitLab's validation rules
and the JSON each object is presented as.

Stored objects hold only their own fields (a project its `namespace_id`, an issue its label names);
everything derived (full paths, `web_url`, counts, nested users) is computed at response time, so a
renamed group changes every path below it and links carry the host the client used.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

from sandbox.core import Json, Sandbox
from sandbox.gitlab.api import SYSTEM, Ctx, not_found

# Each kind of id counts from its own base, so an issue id can never pass for an iid or for
# another kind's id (a classic client bug the real service would expose too).
ID_BASE = {
    "user": 1001,
    "namespace": 70_000_001,  # groups and personal namespaces share one id space, as in GitLab
    "project": 50_000_001,
    "issue": 150_000_001,
    "epic": 2_000_001,
    "epic_issue": 5_000_001,
    "label": 30_000_001,
    "note": 1_900_000_001,
    "member": 1,
}

VISIBILITY = ("private", "internal", "public")
ACCESS_LEVELS = (10, 15, 20, 30, 40, 50)  # guest, planner, reporter, developer, maintainer, owner
OWNER = 50
DEFAULT_LABEL_COLOR = "#6699cc"  # Label::DEFAULT_COLOR, used for labels created on the fly


def table(sb: Sandbox, kind: str) -> dict[str, Json]:
    return sb.store.table(SYSTEM, kind)


def new_id(sb: Sandbox, kind: str) -> int:
    return sb.store.next_id(f"{SYSTEM}.{kind}", ID_BASE[kind])


def put(sb: Sandbox, kind: str, obj: Json) -> Json:
    return sb.store.put(SYSTEM, kind, str(obj["id"]), obj)


def save(sb: Sandbox, kind: str, obj: Json) -> Json:
    return sb.store.put(SYSTEM, kind, str(obj["id"]), obj)


def timestamp(sb: Sandbox) -> str:
    now = sb.now()
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


# --- lookups -------------------------------------------------------------------------------------


def find_user(sb: Sandbox, ref: str | int) -> Json:
    """A user by id or by username (case-insensitive)."""
    users = table(sb, "user")
    user = users.get(str(ref)) or next(
        (u for u in users.values() if u["username"].lower() == str(ref).lower()), None
    )
    if user is None:
        raise not_found("User")
    return user


def find_group(sb: Sandbox, ref: str) -> Json:
    """A group by id or by full path (`ps-customers/acme-corporation`, case-insensitive)."""
    groups = table(sb, "group")
    if ref.isdigit():
        group = groups.get(ref)
    else:
        group = next((g for g in groups.values() if full_path(sb, g).lower() == ref.lower()), None)
    if group is None:
        raise not_found("Group")
    return group


def find_project(sb: Sandbox, ref: str) -> Json:
    """A project by id or by full path (`ps-customers/acme-corporation/sow-2025-031`)."""
    projects = table(sb, "project")
    if ref.isdigit():
        project = projects.get(ref)
    else:
        ref = ref.lower()
        project = next((p for p in projects.values() if project_path(sb, p).lower() == ref), None)
    if project is None:
        raise not_found("Project")
    return project


def user_by_namespace(sb: Sandbox, namespace_id: int) -> Json | None:
    return next((u for u in table(sb, "user").values() if u["namespace_id"] == namespace_id), None)


def group_chain(sb: Sandbox, group: Json) -> list[Json]:
    """The group and its ancestors, top-level group first."""
    chain = [group]
    while chain[0]["parent_id"] is not None:
        chain.insert(0, table(sb, "group")[str(chain[0]["parent_id"])])
    return chain


def full_path(sb: Sandbox, group: Json) -> str:
    return "/".join(g["path"] for g in group_chain(sb, group))


def full_name(sb: Sandbox, group: Json) -> str:
    return " / ".join(g["name"] for g in group_chain(sb, group))


def ancestor_ids(sb: Sandbox, group_id: int | None) -> list[int]:
    """The group and its ancestors, nearest first; empty for a personal namespace."""
    group = table(sb, "group").get(str(group_id))
    return [g["id"] for g in reversed(group_chain(sb, group))] if group else []


def subtree_ids(sb: Sandbox, group_id: int) -> set[int]:
    """The group and every group below it."""
    ids, grew = {group_id}, True
    while grew:
        below = {g["id"] for g in table(sb, "group").values() if g["parent_id"] in ids}
        grew = not below <= ids
        ids |= below
    return ids


def namespace_path(sb: Sandbox, namespace_id: int) -> tuple[str, str]:
    """Full path and full name of a group or a personal namespace."""
    group = table(sb, "group").get(str(namespace_id))
    if group is not None:
        return full_path(sb, group), full_name(sb, group)
    user = user_by_namespace(sb, namespace_id)
    assert user is not None, f"namespace {namespace_id} has no owner"
    return user["username"], user["name"]


def project_path(sb: Sandbox, project: Json) -> str:
    return f"{namespace_path(sb, project['namespace_id'])[0]}/{project['path']}"


def route_taken(sb: Sandbox, path: str, parent_id: int | None, skip: Json | None = None) -> bool:
    """Whether a group, project or (at the top level) user already holds `path` under the same
    parent: groups, projects and users share one route table in GitLab, case-insensitively."""
    taken = [
        g["path"]
        for g in table(sb, "group").values()
        if g["parent_id"] == parent_id and g is not skip
    ]
    taken += [
        p["path"]
        for p in table(sb, "project").values()
        if p["namespace_id"] == parent_id and p is not skip
    ]
    if parent_id is None:
        taken += [u["username"] for u in table(sb, "user").values()]
    return path.lower() in {t.lower() for t in taken}


# --- GitLab's validation rules -------------------------------------------------------------------
# Gitlab::PathRegex and Gitlab::Regex (lib/gitlab/path_regex.rb, lib/gitlab/regex.rb); a group's
# path must match both the namespace format and the OCI-repository rule, a project's path both the
# project-path format and the OCI rule (app/models/namespace.rb, app/models/project.rb).

_NO_SUFFIX = r"(?<!\.git)(?<!\.atom)"
NAMESPACE_FORMAT = re.compile(
    r"(?:[a-zA-Z0-9_.][a-zA-Z0-9_\-.]{0,254}[a-zA-Z0-9_\-]|[a-zA-Z0-9_])" + _NO_SUFFIX
)
PROJECT_PATH_FORMAT = re.compile(r"[a-zA-Z0-9_.][a-zA-Z0-9_\-.]*" + _NO_SUFFIX)
OCI_PATH = re.compile(r"[a-zA-Z0-9]+([._-][a-zA-Z0-9]+)*")
NAMESPACE_FORMAT_MESSAGE = (
    "can contain only letters, digits, '_', '-' and '.'. "
    "Cannot start with '-' or end in '.', '.git' or '.atom'."
)
PROJECT_PATH_FORMAT_MESSAGE = (
    "can contain only letters, digits, '_', '-' and '.'. "
    "Cannot start with '-', end in '.git' or end in '.atom'"
)
OCI_PATH_MESSAGE = (
    "can only include non-accented letters, digits, '_', '-' and '.'. It must not start with "
    "'-', '_', or '.', nor end with '-', '_', '.', '.git', or '.atom'."
)
PROJECT_NAME_MESSAGE = (
    "can contain only letters, digits, emoji, '_', '.', '+', dashes, or spaces. "
    "It must start with a letter, digit, emoji, or '_'."
)
GROUP_NAME_MESSAGE = (
    "can contain only letters, digits, emoji, '_', '.', dash, space, parenthesis. "
    "It must start with letter, digit, emoji or '_'."
)
TAKEN = "has already been taken"
MAX_LENGTH = 255


def path_errors(path: str, kind: str) -> list[str]:
    """The messages GitLab gives for an invalid group (`kind="group"`) or project path."""
    if not path:
        return ["can't be blank"]
    errors = []
    if len(path) > MAX_LENGTH:
        errors.append(f"is too long (maximum is {MAX_LENGTH} characters)")
    if kind == "project" and not PROJECT_PATH_FORMAT.fullmatch(path):
        errors.append(PROJECT_PATH_FORMAT_MESSAGE)
    if not OCI_PATH.fullmatch(path):
        errors.append(OCI_PATH_MESSAGE)
    if kind == "group" and not NAMESPACE_FORMAT.fullmatch(path):
        errors.append(NAMESPACE_FORMAT_MESSAGE)
    return errors


def _name_char(ch: str, extra: str) -> bool:
    # \p{Alnum}, the emoji range U+00A9..U+1F9FF, and the characters each name rule allows
    return ch.isalnum() or "\u00a9" <= ch <= "\U0001f9ff" or ch in extra


def name_errors(name: str, kind: str) -> list[str]:
    if not name.strip():
        return ["can't be blank"]
    extra = "+_. " if kind == "project" else "_(). "
    first_ok = _name_char(name[0], "_")
    rest_ok = all(_name_char(ch, extra) or unicodedata.category(ch) == "Pd" for ch in name[1:])
    if first_ok and rest_ok and len(name) <= MAX_LENGTH:
        return []
    return [PROJECT_NAME_MESSAGE if kind == "project" else GROUP_NAME_MESSAGE]


def slug(name: str) -> str:
    """The path GitLab derives from a project name when no path is given (`parameterize`)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9_]+", "-", ascii_name.lower()).strip("-_")


# --- labels --------------------------------------------------------------------------------------


def available_labels(
    sb: Sandbox, project: Json | None = None, group: Json | None = None
) -> list[Json]:
    """Labels an issue of `project` (or an epic of `group`) may carry: its own and those of every
    ancestor group, as `include_ancestor_groups` (the default) lists them."""
    group_id = project["namespace_id"] if project else group["id"] if group else None
    groups = set(ancestor_ids(sb, group_id))
    return [
        label
        for label in table(sb, "label").values()
        if (project and label.get("project_id") == project["id"]) or label.get("group_id") in groups
    ]


def scope_of(label: str) -> str | None:
    """`PS::Hand-off` -> `PS`: the key of a scoped label (Premium), of which an issue or epic
    keeps only one."""
    return label.rsplit("::", 1)[0] if "::" in label else None


def apply_labels(
    ctx: Ctx, names: list[str], project: Json | None = None, group: Json | None = None
) -> list[str]:
    """The label names an issue or epic ends up with: unknown labels are created (in the project,
    or the epic's group), and of several labels with one scope only the last given stays."""
    owner = (
        {"project_id": project["id"]} if project else {"group_id": group["id"] if group else None}
    )
    known = {label["name"] for label in available_labels(ctx.sb, project, group)}
    for name in dict.fromkeys(names):
        if name not in known:
            new_label(ctx.sb, name, DEFAULT_LABEL_COLOR, "", **owner)
    kept = {scope_of(name) or name: name for name in names}  # later names win their scope
    return sorted(kept.values())


def new_label(sb: Sandbox, name: str, color: str, description: str, **owner: Any) -> Json:
    label = {"id": new_id(sb, "label"), "name": name, "color": color, "description": description}
    return put(sb, "label", label | owner)


def text_color(color: str) -> str:
    """Dark text on light label colours, as GitLab picks it."""
    hex_color = color.lstrip("#")
    if not re.fullmatch(r"[0-9a-fA-F]{3}|[0-9a-fA-F]{6}", hex_color):
        return "#FFFFFF"
    if len(hex_color) == 3:
        hex_color = "".join(c * 2 for c in hex_color)
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (0, 2, 4))
    return "#1F1E24" if (r * 299 + g * 587 + b * 114) / 1000 > 186 else "#FFFFFF"


# --- presenters: the JSON GitLab answers with ----------------------------------------------------


def user_basic(ctx: Ctx, user: Json) -> Json:
    digest = hashlib.md5(user["email"].encode(), usedforsecurity=False).hexdigest()
    return {
        "id": user["id"],
        "username": user["username"],
        "public_email": None,
        "name": user["name"],
        "state": "active",
        "locked": False,
        "avatar_url": f"https://secure.gravatar.com/avatar/{digest}?s=80&d=identicon",
        "web_url": f"{ctx.base}/{user['username']}",
    }


def user_full(ctx: Ctx, user: Json, is_self: bool = False) -> Json:
    out = user_basic(ctx, user) | {
        "public_email": user.get("public_email"),
        "created_at": user["created_at"],
        "bio": "",
        "location": "",
        "linkedin": "",
        "twitter": "",
        "discord": "",
        "website_url": "",
        "organization": "",
        "job_title": user.get("job_title", ""),
        "pronouns": None,
        "bot": user.get("bot", False),
        "work_information": None,
        "local_time": None,
    }
    if is_self:
        out |= {
            "email": user["email"],
            "is_admin": False,
            "can_create_group": True,
            "can_create_project": True,
            "two_factor_enabled": False,
            "external": False,
            "private_profile": False,
            "namespace_id": user["namespace_id"],
        }
    return out


def namespace_json(ctx: Ctx, namespace_id: int) -> Json:
    group = table(ctx.sb, "group").get(str(namespace_id))
    if group is not None:
        path = full_path(ctx.sb, group)
        return {
            "id": group["id"],
            "name": group["name"],
            "path": group["path"],
            "kind": "group",
            "full_path": path,
            "parent_id": group["parent_id"],
            "avatar_url": None,
            "web_url": f"{ctx.base}/groups/{path}",
        }
    user = user_by_namespace(ctx.sb, namespace_id)
    assert user is not None
    return {
        "id": namespace_id,
        "name": user["name"],
        "path": user["username"],
        "kind": "user",
        "full_path": user["username"],
        "parent_id": None,
        "avatar_url": user_basic(ctx, user)["avatar_url"],
        "web_url": f"{ctx.base}/{user['username']}",
    }


def group_json(ctx: Ctx, group: Json, detail: bool = False) -> Json:
    path = full_path(ctx.sb, group)
    out = {
        "id": group["id"],
        "web_url": f"{ctx.base}/groups/{path}",
        "name": group["name"],
        "path": group["path"],
        "description": group["description"],
        "visibility": group["visibility"],
        "share_with_group_lock": False,
        "require_two_factor_authentication": False,
        "two_factor_grace_period": 48,
        "project_creation_level": "developer",
        "auto_devops_enabled": None,
        "subgroup_creation_level": "maintainer",
        "emails_disabled": False,
        "emails_enabled": True,
        "mentions_disabled": None,
        "lfs_enabled": True,
        "default_branch": None,
        "default_branch_protection": 2,
        "avatar_url": None,
        "request_access_enabled": True,
        "full_name": full_name(ctx.sb, group),
        "full_path": path,
        "created_at": group["created_at"],
        "parent_id": group["parent_id"],
        "organization_id": 1,
        "shared_runners_setting": "enabled",
        "ldap_cn": None,
        "ldap_access": None,
        "marked_for_deletion_on": None,
        "wiki_access_level": "enabled",
        "file_template_project_id": None,
    }
    if detail:  # GET /groups/:id also lists the group's own projects (Entities::GroupDetail)
        projects = [
            p for p in table(ctx.sb, "project").values() if p["namespace_id"] == group["id"]
        ]
        out |= {
            "shared_with_groups": [],
            "runners_token": None,
            "prevent_sharing_groups_outside_hierarchy": False,
            "projects": [project_json(ctx, p) for p in projects],
            "shared_projects": [],
        }
    return out


def project_json(ctx: Ctx, project: Json) -> Json:
    path = project_path(ctx.sb, project)
    ns_name = namespace_path(ctx.sb, project["namespace_id"])[1]
    web_url = f"{ctx.base}/{path}"
    api = f"{ctx.base}/api/v4/projects/{project['id']}"
    host = ctx.request.url.hostname or "localhost"
    open_issues = sum(
        1
        for i in table(ctx.sb, "issue").values()
        if i["project_id"] == project["id"] and i["state"] == "opened"
    )
    return {
        "id": project["id"],
        "description": project["description"],
        "name": project["name"],
        "name_with_namespace": f"{ns_name} / {project['name']}",
        "path": project["path"],
        "path_with_namespace": path,
        "created_at": project["created_at"],
        "default_branch": project["default_branch"],
        "tag_list": [],
        "topics": [],
        "ssh_url_to_repo": f"git@{host}:{path}.git",
        "http_url_to_repo": f"{web_url}.git",
        "web_url": web_url,
        "readme_url": f"{web_url}/-/blob/main/README.md" if project["default_branch"] else None,
        "forks_count": 0,
        "avatar_url": None,
        "star_count": 0,
        "last_activity_at": project["last_activity_at"],
        "namespace": namespace_json(ctx, project["namespace_id"]),
        "visibility": project["visibility"],
        "creator_id": project["creator_id"],
        "empty_repo": project["default_branch"] is None,
        "archived": False,
        "issues_enabled": True,
        "open_issues_count": open_issues,
        "issues_access_level": "enabled",
        "merge_requests_enabled": True,
        "wiki_enabled": True,
        "jobs_enabled": True,
        "container_registry_enabled": True,
        "_links": {
            "self": api,
            "issues": f"{api}/issues",
            "merge_requests": f"{api}/merge_requests",
            "repo_branches": f"{api}/repository/branches",
            "labels": f"{api}/labels",
            "events": f"{api}/events",
            "members": f"{api}/members",
            "cluster_agents": f"{api}/cluster_agents",
        },
    }


def member_json(ctx: Ctx, member: Json) -> Json:
    user = find_user(ctx.sb, member["user_id"])
    return user_basic(ctx, user) | {
        "access_level": member["access_level"],
        "created_at": member["created_at"],
        "created_by": None,
        "expires_at": member["expires_at"],
        "membership_state": "active",
    }


def label_json(ctx: Ctx, label: Json, in_project: bool = False) -> Json:
    """A label with its issue counts; listed under a project it says whether it is the project's
    own (`is_project_label`) or inherited from a group."""
    if "project_id" in label:
        issues = [
            i for i in table(ctx.sb, "issue").values() if i["project_id"] == label["project_id"]
        ]
    else:
        groups = subtree_ids(ctx.sb, label["group_id"])
        projects = {
            p["id"] for p in table(ctx.sb, "project").values() if p["namespace_id"] in groups
        }
        issues = [i for i in table(ctx.sb, "issue").values() if i["project_id"] in projects]
    tagged = [i for i in issues if label["name"] in i["labels"]]
    out = {
        "id": label["id"],
        "name": label["name"],
        "description": label["description"] or None,
        "description_html": label["description"] or "",
        "text_color": text_color(label["color"]),
        "color": label["color"],
        "archived": False,
        "subscribed": False,
        "open_issues_count": sum(1 for i in tagged if i["state"] == "opened"),
        "closed_issues_count": sum(1 for i in tagged if i["state"] == "closed"),
        "open_merge_requests_count": 0,
    }
    if in_project:
        out |= {"priority": None, "is_project_label": "project_id" in label}
    return out


def epic_ref(ctx: Ctx, epic: Json) -> Json:
    """The short form of an epic nested in an issue (`issue.epic`)."""
    group = table(ctx.sb, "group")[str(epic["group_id"])]
    return {
        "id": epic["id"],
        "iid": epic["iid"],
        "title": epic["title"],
        "url": f"/groups/{full_path(ctx.sb, group)}/-/epics/{epic['iid']}",
        "group_id": epic["group_id"],
        "human_readable_end_date": None,
        "human_readable_timestamp": None,
    }


def issue_json(ctx: Ctx, issue: Json) -> Json:
    project = table(ctx.sb, "project")[str(issue["project_id"])]
    path = project_path(ctx.sb, project)
    api = f"{ctx.base}/api/v4/projects/{project['id']}"
    assignees = [user_basic(ctx, find_user(ctx.sb, uid)) for uid in issue["assignee_ids"]]
    epic = table(ctx.sb, "epic").get(str(issue["epic_id"])) if issue["epic_id"] else None
    closed_by = issue["closed_by_id"]
    notes = sum(1 for n in table(ctx.sb, "note").values() if n["noteable_id"] == issue["id"])
    checkboxes = re.findall(r"^\s*[-*] \[( |x|X)\]", issue["description"] or "", re.M)
    return {
        "id": issue["id"],
        "iid": issue["iid"],
        "project_id": issue["project_id"],
        "title": issue["title"],
        "description": issue["description"],
        "state": issue["state"],
        "created_at": issue["created_at"],
        "updated_at": issue["updated_at"],
        "closed_at": issue["closed_at"],
        "closed_by": user_basic(ctx, find_user(ctx.sb, closed_by)) if closed_by else None,
        "labels": issue["labels"],
        "milestone": None,
        "assignees": assignees,
        "author": user_basic(ctx, find_user(ctx.sb, issue["author_id"])),
        "type": "ISSUE",
        "assignee": assignees[0] if assignees else None,
        "user_notes_count": notes,
        "merge_requests_count": 0,
        "upvotes": 0,
        "downvotes": 0,
        "due_date": issue["due_date"],
        "confidential": issue["confidential"],
        "discussion_locked": None,
        "issue_type": "issue",
        "web_url": f"{ctx.base}/{path}/-/issues/{issue['iid']}",
        "time_stats": {
            "time_estimate": 0,
            "total_time_spent": 0,
            "human_time_estimate": None,
            "human_total_time_spent": None,
        },
        "task_completion_status": {
            "count": len(checkboxes),
            "completed_count": sum(1 for c in checkboxes if c != " "),
        },
        "weight": None,
        "blocking_issues_count": 0,
        "has_tasks": bool(checkboxes),
        "references": {
            "short": f"#{issue['iid']}",
            "relative": f"#{issue['iid']}",
            "full": f"{path}#{issue['iid']}",
        },
        "severity": "UNKNOWN",
        "moved_to_id": None,
        "service_desk_reply_to": None,
        "epic_iid": epic["iid"] if epic else None,
        "epic": epic_ref(ctx, epic) if epic else None,
        "iteration": None,
        "health_status": None,
        "_links": {
            "self": f"{api}/issues/{issue['iid']}",
            "notes": f"{api}/issues/{issue['iid']}/notes",
            "award_emoji": f"{api}/issues/{issue['iid']}/award_emoji",
            "project": api,
            "closed_as_duplicate_of": None,
        },
    }


def epic_json(ctx: Ctx, epic: Json) -> Json:
    group = table(ctx.sb, "group")[str(epic["group_id"])]
    path = full_path(ctx.sb, group)
    api = f"{ctx.base}/api/v4/groups/{group['id']}"
    parent = table(ctx.sb, "epic").get(str(epic["parent_id"])) if epic["parent_id"] else None
    web_url = f"{ctx.base}/groups/{path}/-/epics/{epic['iid']}"
    return {
        "id": epic["id"],
        "work_item_id": epic.get("work_item_id"),
        "iid": epic["iid"],
        "color": "#1068bf",
        "text_color": "#FFFFFF",
        "group_id": epic["group_id"],
        "parent_id": epic["parent_id"],
        "parent_iid": parent["iid"] if parent else None,
        "title": epic["title"],
        "description": epic["description"],
        "confidential": epic["confidential"],
        "author": user_basic(ctx, find_user(ctx.sb, epic["author_id"])),
        "start_date": epic["start_date"],
        "start_date_is_fixed": epic["start_date"] is not None,
        "start_date_fixed": epic["start_date"],
        "start_date_from_inherited_source": None,
        "end_date": epic["due_date"],
        "due_date": epic["due_date"],
        "due_date_is_fixed": epic["due_date"] is not None,
        "due_date_fixed": epic["due_date"],
        "due_date_from_inherited_source": None,
        "state": epic["state"],
        "web_edit_url": f"{web_url}/edit",
        "web_url": web_url,
        "references": {
            "short": f"&{epic['iid']}",
            "relative": f"&{epic['iid']}",
            "full": f"{path}&{epic['iid']}",
        },
        "created_at": epic["created_at"],
        "updated_at": epic["updated_at"],
        "closed_at": epic["closed_at"],
        "labels": epic["labels"],
        "upvotes": 0,
        "downvotes": 0,
        "imported": False,
        "_links": {
            "self": f"{api}/epics/{epic['iid']}",
            "epic_issues": f"{api}/epics/{epic['iid']}/issues",
            "group": api,
            "parent": f"{api}/epics/{parent['iid']}" if parent else None,
        },
    }


def note_json(ctx: Ctx, note: Json) -> Json:
    return {
        "id": note["id"],
        "type": None,
        "body": note["body"],
        "attachment": None,
        "author": user_basic(ctx, find_user(ctx.sb, note["author_id"])),
        "created_at": note["created_at"],
        "updated_at": note["updated_at"],
        "system": False,
        "noteable_id": note["noteable_id"],
        "noteable_type": "Issue",
        "project_id": note["project_id"],
        "resolvable": False,
        "confidential": note["internal"],
        "internal": note["internal"],
        "imported": False,
        "imported_from": "none",
        "noteable_iid": note["noteable_iid"],
        "commands_changes": {},
    }
