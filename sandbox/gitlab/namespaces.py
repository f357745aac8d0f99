"""Users, groups, projects and members (GitLab REST v4: users.md, groups.md, projects.md,
members.md)."""

from __future__ import annotations

import json

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
    ACCESS_LEVELS,
    OWNER,
    TAKEN,
    VISIBILITY,
    ancestor_ids,
    find_group,
    find_project,
    find_user,
    group_json,
    member_json,
    name_errors,
    new_id,
    path_errors,
    project_json,
    project_path,
    put,
    route_taken,
    save,
    slug,
    subtree_ids,
    table,
    timestamp,
    user_basic,
    user_full,
)

# GitLab.com's version at the time of writing; `enterprise` because epics need Premium.
VERSION = {"version": "18.6.0-ee", "revision": "4b1e2f0c3a7", "enterprise": True}


@route("GET", "/version")
def version(ctx: Ctx) -> Json:
    return VERSION | {"kas": {"enabled": True, "externalUrl": None, "version": "18.6.0"}}


# --- users ---------------------------------------------------------------------------------------


@route("GET", "/user")
def current_user(ctx: Ctx) -> Json:
    return user_full(ctx, ctx.user, is_self=True)


@route("GET", "/users")
def list_users(ctx: Ctx) -> Reply:
    users = sorted(table(ctx.sb, "user").values(), key=lambda u: -u["id"])  # GitLab: id desc
    if (username := ctx.text("username")) is not None:
        users = [u for u in users if u["username"].lower() == username.lower()]
    if search := ctx.text("search"):
        # User.search: names and usernames match fuzzily, e-mails only whole; a non-admin token
        # (psflow's) matches public e-mails only, an admin's also private ones.
        q = search.removeprefix("@").lower()
        emails = ("public_email", "email") if ctx.user.get("is_admin") else ("public_email",)
        users = [
            u
            for u in users
            if q in u["name"].lower()
            or q in u["username"].lower()
            or any(q == (u.get(field) or "").lower() for field in emails)
        ]
    return ctx.page([user_basic(ctx, u) for u in users])


@route("GET", "/users/{user}")
def get_user(ctx: Ctx) -> Json:
    if not ctx.ids["user"].isdigit():  # the id is an Integer parameter here, not a username
        raise bad_param("id is invalid")
    user = find_user(ctx.sb, ctx.ids["user"])
    return user_full(ctx, user, is_self=user is ctx.user)


# --- groups --------------------------------------------------------------------------------------


def _visibility_rank(visibility: str) -> int:
    return VISIBILITY.index(visibility)


def _ruby_hash(errors: dict[str, list[str]]) -> str:
    """`errors.messages` as Ruby prints a Hash, which GitLab puts in its group error message."""
    return "{" + ", ".join(f":{key}=>{json.dumps(msgs)}" for key, msgs in errors.items()) + "}"


def _group_errors(
    ctx: Ctx, name: str, path: str, visibility: str, parent: Json | None, skip: Json | None = None
) -> dict[str, list[str]]:
    parent_id = parent["id"] if parent else None
    errors: dict[str, list[str]] = {}
    if msgs := name_errors(name, "group"):
        errors["name"] = msgs
    elif parent and any(
        g["name"] == name and g is not skip
        for g in table(ctx.sb, "group").values()
        if g["parent_id"] == parent_id
    ):  # names are unique among sibling subgroups (not among top-level groups)
        errors["name"] = [TAKEN]
    if msgs := path_errors(path, "group"):
        errors["path"] = msgs
    elif route_taken(ctx.sb, path, parent_id, skip):
        errors["path"] = [TAKEN]
    if parent and _visibility_rank(visibility) > _visibility_rank(parent["visibility"]):
        errors["visibility_level"] = [
            f"{visibility} is not allowed since the parent group has a "
            f"{parent['visibility']} visibility."
        ]
    return errors


@route("POST", "/groups")
def create_group(ctx: Ctx) -> Reply:
    ctx.require("name", "path")
    name, path = str(ctx.text("name")), str(ctx.text("path"))
    visibility = str(ctx.choice("visibility", VISIBILITY, "private"))
    parent_id = ctx.integer("parent_id")
    parent = find_group(ctx.sb, str(parent_id)) if parent_id is not None else None
    if errors := _group_errors(ctx, name, path, visibility, parent):
        # GitLab renders these as a Ruby hash inside a string, not as a JSON object
        raise GitLabError(400, {"message": f"Failed to save group {_ruby_hash(errors)}"})
    group = put(
        ctx.sb,
        "group",
        {
            "id": new_id(ctx.sb, "namespace"),
            "name": name,
            "path": path,
            "description": ctx.text("description", ""),
            "visibility": visibility,
            "parent_id": parent_id,
            "created_at": timestamp(ctx.sb),
        },
    )
    add_member(ctx, "group", group["id"], ctx.user["id"], OWNER)  # the creator owns the group
    return Reply(group_json(ctx, group, detail=True), 201)


@route("GET", "/groups/{group}")
def get_group(ctx: Ctx) -> Json:
    return group_json(ctx, find_group(ctx.sb, ctx.ids["group"]), detail=True)


def _search_groups(ctx: Ctx, groups: list[Json]) -> list[Json]:
    if search := ctx.text("search"):
        q = search.lower()
        groups = [g for g in groups if q in g["name"].lower() or q in g["path"].lower()]
    # GitLab orders groups by name unless asked otherwise
    groups.sort(key=lambda g: (g["name"].lower(), g["id"]), reverse=ctx.text("sort") == "desc")
    return groups


@route("GET", "/groups")
def list_groups(ctx: Ctx) -> Reply:
    # The bot can see every group of the sandbox, so `all_available` changes nothing here.
    groups = list(table(ctx.sb, "group").values())
    if ctx.boolean("top_level_only"):
        groups = [g for g in groups if g["parent_id"] is None]
    if ctx.boolean("owned"):
        groups = [g for g in groups if access_level(ctx, "group", g["id"]) == OWNER]
    return ctx.page([group_json(ctx, g) for g in _search_groups(ctx, groups)])


@route("GET", "/groups/{group}/subgroups")
def list_subgroups(ctx: Ctx) -> Reply:
    parent = find_group(ctx.sb, ctx.ids["group"])
    groups = [g for g in table(ctx.sb, "group").values() if g["parent_id"] == parent["id"]]
    return ctx.page([group_json(ctx, g) for g in _search_groups(ctx, groups)])


@route("GET", "/groups/{group}/descendant_groups")
def list_descendant_groups(ctx: Ctx) -> Reply:
    parent = find_group(ctx.sb, ctx.ids["group"])
    below = subtree_ids(ctx.sb, parent["id"]) - {parent["id"]}
    groups = [g for g in table(ctx.sb, "group").values() if g["id"] in below]
    return ctx.page([group_json(ctx, g) for g in _search_groups(ctx, groups)])


@route("GET", "/groups/{group}/projects")
def list_group_projects(ctx: Ctx) -> Reply:
    group = find_group(ctx.sb, ctx.ids["group"])
    groups = subtree_ids(ctx.sb, group["id"]) if ctx.boolean("include_subgroups") else {group["id"]}
    projects = [p for p in table(ctx.sb, "project").values() if p["namespace_id"] in groups]
    return ctx.page([project_json(ctx, p) for p in _search_projects(ctx, projects)])


@route("PUT", "/groups/{group}")
def edit_group(ctx: Ctx) -> Json:
    group = find_group(ctx.sb, ctx.ids["group"])
    parent = table(ctx.sb, "group").get(str(group["parent_id"]))
    name = str(ctx.text("name", group["name"]))
    path = str(ctx.text("path", group["path"]))
    visibility = str(ctx.choice("visibility", VISIBILITY, group["visibility"]))
    if errors := _group_errors(ctx, name, path, visibility, parent, skip=group):
        raise invalid(errors)
    group.update(name=name, path=path, visibility=visibility)
    group["description"] = ctx.text("description", group["description"])
    save(ctx.sb, "group", group)
    return group_json(ctx, group, detail=True)


# --- projects ------------------------------------------------------------------------------------


def _search_projects(ctx: Ctx, projects: list[Json]) -> list[Json]:
    if search := ctx.text("search"):
        q = search.lower()
        in_namespace = ctx.boolean("search_namespaces")
        projects = [
            p
            for p in projects
            if q in p["name"].lower()
            or q in p["path"].lower()
            or q in (p["description"] or "").lower()
            or (in_namespace and q in project_path(ctx.sb, p).lower())
        ]
    order_by = ctx.choice("order_by", ("id", "name", "path", "created_at", "last_activity_at"))
    key = order_by or "created_at"  # GitLab: created_at, newest first
    projects.sort(key=lambda p: (p[key], p["id"]), reverse=ctx.text("sort", "desc") == "desc")
    return projects


def _namespace_id(ctx: Ctx) -> int:
    """`namespace_id` as an id or a full path; the user's own namespace when absent."""
    ref = ctx.text("namespace_id") or ctx.text("namespace")
    if ref is None:
        return int(ctx.user["namespace_id"])
    try:
        return int(find_group(ctx.sb, ref)["id"])
    except GitLabError:
        user = next(
            (u for u in table(ctx.sb, "user").values() if str(u["namespace_id"]) == ref), None
        )
        if user is None:
            raise not_found("Namespace") from None
        return int(user["namespace_id"])


def _project_errors(
    ctx: Ctx, name: str, path: str, namespace_id: int, visibility: str, skip: Json | None = None
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if msgs := name_errors(name, "project"):
        errors["name"] = msgs
    elif any(
        p["name"] == name and p is not skip
        for p in table(ctx.sb, "project").values()
        if p["namespace_id"] == namespace_id
    ):  # the project and its project namespace both report the clash
        errors["project_namespace.name"] = [TAKEN]
        errors["name"] = [TAKEN]
    if msgs := path_errors(path, "project"):
        errors["path"] = msgs
    elif route_taken(ctx.sb, path, namespace_id, skip):
        errors["path"] = [TAKEN]
    group = table(ctx.sb, "group").get(str(namespace_id))
    if group and _visibility_rank(visibility) > _visibility_rank(group["visibility"]):
        errors["visibility_level"] = [
            f"{visibility} is not allowed in a {group['visibility']} group."
        ]
    return errors


@route("POST", "/projects")
def create_project(ctx: Ctx) -> Reply:
    if not ctx.has("name") and not ctx.has("path"):
        raise bad_param("name, path are missing, at least one parameter must be provided")
    name = ctx.text("name") or str(ctx.text("path"))
    path = ctx.text("path") or slug(name)
    namespace_id = _namespace_id(ctx)
    visibility = str(ctx.choice("visibility", VISIBILITY, "private"))
    if errors := _project_errors(ctx, name, path, namespace_id, visibility):
        raise invalid(errors)
    now = timestamp(ctx.sb)
    project = put(
        ctx.sb,
        "project",
        {
            "id": new_id(ctx.sb, "project"),
            "name": name,
            "path": path,
            "description": ctx.text("description", ""),
            "namespace_id": namespace_id,
            "visibility": visibility,
            "creator_id": ctx.user["id"],
            "created_at": now,
            "last_activity_at": now,
            # a repository exists only once something is committed, e.g. the initial README
            "default_branch": "main" if ctx.boolean("initialize_with_readme") else None,
        },
    )
    return Reply(project_json(ctx, project), 201)


@route("GET", "/projects/{project}")
def get_project(ctx: Ctx) -> Json:
    return project_json(ctx, find_project(ctx.sb, ctx.ids["project"]))


@route("GET", "/projects")
def list_projects(ctx: Ctx) -> Reply:
    projects = list(table(ctx.sb, "project").values())
    if ctx.boolean("owned"):
        projects = [p for p in projects if access_level(ctx, "project", p["id"]) == OWNER]
    if ctx.boolean("membership"):
        projects = [p for p in projects if access_level(ctx, "project", p["id"]) > 0]
    return ctx.page([project_json(ctx, p) for p in _search_projects(ctx, projects)])


@route("PUT", "/projects/{project}")
def edit_project(ctx: Ctx) -> Json:
    project = find_project(ctx.sb, ctx.ids["project"])
    name = str(ctx.text("name", project["name"]))
    path = str(ctx.text("path", project["path"]))
    visibility = str(ctx.choice("visibility", VISIBILITY, project["visibility"]))
    errors = _project_errors(ctx, name, path, project["namespace_id"], visibility, skip=project)
    if errors:
        raise invalid(errors)
    project.update(name=name, path=path, visibility=visibility)
    project["description"] = ctx.text("description", project["description"])
    project["default_branch"] = ctx.text("default_branch", project["default_branch"])
    project["last_activity_at"] = timestamp(ctx.sb)
    save(ctx.sb, "project", project)
    return project_json(ctx, project)


# --- members -------------------------------------------------------------------------------------


def _source(ctx: Ctx, source: str) -> Json:
    return (
        find_project(ctx.sb, ctx.ids["project"])
        if source == "project"
        else find_group(ctx.sb, ctx.ids["group"])
    )


def _members(ctx: Ctx, source: str, source_id: int) -> list[Json]:
    return [
        m
        for m in table(ctx.sb, "member").values()
        if m["source"] == source and m["source_id"] == source_id
    ]


def _all_members(ctx: Ctx, source: str, source_id: int) -> list[Json]:
    """Direct members plus those inherited from ancestor groups, each user once with their
    highest access level, as `GET .../members/all` reports them."""
    if source == "project":
        project = table(ctx.sb, "project")[str(source_id)]
        members, groups = (
            _members(ctx, "project", source_id),
            ancestor_ids(ctx.sb, project["namespace_id"]),
        )
    else:
        members, groups = [], ancestor_ids(ctx.sb, source_id)
    for group_id in groups:
        members += _members(ctx, "group", group_id)
    best: dict[int, Json] = {}
    for member in members:
        if (
            member["user_id"] not in best
            or member["access_level"] > best[member["user_id"]]["access_level"]
        ):
            best[member["user_id"]] = member
    return list(best.values())


def access_level(ctx: Ctx, source: str, source_id: int) -> int:
    """The current user's effective access level on a project or group (0: none)."""
    levels = [
        m["access_level"]
        for m in _all_members(ctx, source, source_id)
        if m["user_id"] == ctx.user["id"]
    ]
    return max(levels, default=0)


def add_member(ctx: Ctx, source: str, source_id: int, user_id: int, level: int) -> Json:
    return put(
        ctx.sb,
        "member",
        {
            "id": new_id(ctx.sb, "member"),
            "source": source,
            "source_id": source_id,
            "user_id": user_id,
            "access_level": level,
            "expires_at": ctx.text("expires_at"),
            "created_at": timestamp(ctx.sb),
        },
    )


def _create_member(ctx: Ctx, source: str) -> Reply:
    target = _source(ctx, source)
    ctx.require("access_level")
    if not ctx.has("user_id") and not ctx.has("username"):
        raise bad_param("user_id, username are missing, exactly one parameter must be provided")
    level = ctx.integer("access_level")
    if level not in ACCESS_LEVELS:
        raise bad_param("access_level does not have a valid value")
    user = find_user(ctx.sb, str(ctx.integer("user_id") or ctx.text("username")))
    if any(m["user_id"] == user["id"] for m in _members(ctx, source, target["id"])):
        raise GitLabError(409, {"message": "Member already exists"})
    member = add_member(ctx, source, target["id"], user["id"], int(level))
    return Reply(member_json(ctx, member), 201)


def _list_members(ctx: Ctx, source: str, inherited: bool) -> Reply:
    target = _source(ctx, source)
    members = (_all_members if inherited else _members)(ctx, source, target["id"])
    rows = [member_json(ctx, m) for m in members]
    if query := ctx.text("query"):
        rows = [r for r in rows if query.lower() in (r["name"] + " " + r["username"]).lower()]
    if user_ids := ctx.integers("user_ids"):
        rows = [r for r in rows if r["id"] in user_ids]
    return ctx.page(rows)


@route("POST", "/projects/{project}/members")
def create_project_member(ctx: Ctx) -> Reply:
    return _create_member(ctx, "project")


@route("GET", "/projects/{project}/members")
def list_project_members(ctx: Ctx) -> Reply:
    return _list_members(ctx, "project", inherited=False)


@route("GET", "/projects/{project}/members/all")
def list_all_project_members(ctx: Ctx) -> Reply:
    return _list_members(ctx, "project", inherited=True)


def _member_of(ctx: Ctx, source: str, inherited: bool) -> Json:
    """One user's membership (`GET .../members/:user_id`, or `.../members/all/:user_id` with
    the inherited ones and the highest level); a 404 when the user is not a member."""
    target = _source(ctx, source)
    members = (_all_members if inherited else _members)(ctx, source, target["id"])
    member = next((m for m in members if str(m["user_id"]) == ctx.ids["user"]), None)
    if member is None:
        raise record_not_found()  # members.find_by!(user_id: ...)
    return member


def _edit_member(ctx: Ctx, source: str) -> Json:
    member = _member_of(ctx, source, inherited=False)
    ctx.require("access_level")
    level = ctx.integer("access_level")
    if level not in ACCESS_LEVELS:
        raise bad_param("access_level does not have a valid value")
    member["access_level"] = level
    member["expires_at"] = ctx.text("expires_at", member["expires_at"])
    save(ctx.sb, "member", member)
    return member_json(ctx, member)


@route("GET", "/projects/{project}/members/{user}")
def get_project_member(ctx: Ctx) -> Json:
    return member_json(ctx, _member_of(ctx, "project", inherited=False))


@route("GET", "/projects/{project}/members/all/{user}")
def get_any_project_member(ctx: Ctx) -> Json:
    return member_json(ctx, _member_of(ctx, "project", inherited=True))


@route("PUT", "/projects/{project}/members/{user}")
def edit_project_member(ctx: Ctx) -> Json:
    return _edit_member(ctx, "project")


@route("POST", "/groups/{group}/members")
def create_group_member(ctx: Ctx) -> Reply:
    return _create_member(ctx, "group")


@route("GET", "/groups/{group}/members")
def list_group_members(ctx: Ctx) -> Reply:
    return _list_members(ctx, "group", inherited=False)


@route("GET", "/groups/{group}/members/all")
def list_all_group_members(ctx: Ctx) -> Reply:
    return _list_members(ctx, "group", inherited=True)
