"""Users, roles and participations (who is on a project's team, and its lead)."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import QueryParams

from sandbox.core import Json, Sandbox, SandboxDep
from sandbox.kit import Problems, Resource, flag
from sandbox.mavenlink.api import (
    ACCOUNT_ID,
    NAME,
    Invalid,
    api,
    api_user_id,
    bad_request,
    belongs_to,
    exists,
    of_subject,
    put_new,
    table,
    touch,
    truthy,
)

# --- users ---------------------------------------------------------------------------------------


def new_user(sb: Sandbox, full_name: str, email: str, headline: str) -> Json:
    return put_new(
        sb,
        "users",
        {
            "full_name": full_name,
            "email_address": email,
            "headline": headline,
            "photo_path": "/images/avatar.png",
            "account_id": ACCOUNT_ID,
        },
    )


def _users(sb: Sandbox, q: QueryParams, rows: list[Json]) -> list[Json]:
    if email := q.get("by_email_address"):
        rows = [u for u in rows if u["email_address"].lower() == email.strip().lower()]
    if workspace := q.get("participant_in"):
        members = {
            str(p["user_id"])
            for p in table(sb, "participations").values()
            if str(p["workspace_id"]) == workspace
        }
        rows = [u for u in rows if u["id"] in members]
    if term := q.get("search"):
        words = term.lower().split()
        rows = [
            u
            for u in rows
            if all(w in f"{u['full_name']} {u['email_address']}".lower() for w in words)
        ]
    return rows


USERS = Resource(
    "users",
    "user",
    "User",
    filters=(_users,),
    order="full_name:asc",
    sortable=("full_name", "created_at"),
    includes={
        "external_references": of_subject("external_references", "User"),
        "custom_field_values": of_subject("custom_field_values", "User"),
    },
)
ROLES = Resource("roles", "role", "Role", order="name:asc", sortable=("name",), get=False)


@api.route("/users/me", "GET")  # before /users/{id}, which would take "me" for an id
async def me(sb: SandboxDep, request: Request) -> Json:
    return api.reply(sb, request, USERS, [api.find(sb, USERS, api_user_id(sb))])


# --- participations ------------------------------------------------------------------------------


def ensure_participation(sb: Sandbox, workspace_id: str, user_id: str, role: str) -> Json:
    for p in table(sb, "participations").values():
        if str(p["workspace_id"]) == workspace_id and str(p["user_id"]) == user_id:
            return p
    workspace = sb.store.get(NAME, "workspaces", workspace_id) or {}
    return put_new(
        sb,
        "participations",
        {
            "workspace_id": workspace_id,
            "user_id": user_id,
            "role": role,
            "access": "admin" if role == "maven" else "view_tasks",
            "is_team_lead": role == "maven" and workspace.get("primary_maven_id") == user_id,
        },
    )


def make_team_lead(sb: Sandbox, participation: Json) -> None:
    """One lead per team: the provider team's lead is the workspace's `primary_maven`."""
    for other in table(sb, "participations").values():
        same_team = (other["workspace_id"], other["role"]) == (
            participation["workspace_id"],
            participation["role"],
        )
        if same_team and other.get("is_team_lead") != (other["id"] == participation["id"]):
            other["is_team_lead"] = other["id"] == participation["id"]
            touch(sb, "participations", other)
    workspace = sb.store.get(NAME, "workspaces", str(participation["workspace_id"]))
    lead = str(participation["user_id"])
    provider = participation["role"] == "maven"
    if workspace is not None and provider and workspace.get("primary_maven_id") != lead:
        workspace["primary_maven_id"] = lead
        touch(sb, "workspaces", workspace)


def participates(sb: Sandbox, workspace_id: str, user_id: object) -> bool:
    return any(
        str(p["workspace_id"]) == workspace_id and str(p["user_id"]) == str(user_id)
        for p in table(sb, "participations").values()
    )


# Filters a client might guess that the Participations listing does not document: Kantata would
# not filter by them, so the sandbox refuses them rather than quietly answering as if it did.
_UNDOCUMENTED_PARTICIPATION_FILTERS = {"user_id": "by_user", "role": "mavens_only"}


def _participations(sb: Sandbox, q: QueryParams, rows: list[Json]) -> list[Json]:
    """`workspace_id` is required ("This parameter is required to identify the project you want
    to retrieve participations for"); `by_user` ("Retrieves participations for the specified user
    ID") and `mavens_only` ("Only consultant participations") narrow it."""
    for guess, documented in _UNDOCUMENTED_PARTICIPATION_FILTERS.items():
        if guess in q:
            raise bad_request(
                f"{guess} is not a participations filter (Kantata documents {documented})"
            )
    workspace = q.get("workspace_id")
    if not workspace:
        raise Invalid(("workspace_id", "workspace_id is required"))
    rows = [p for p in rows if str(p["workspace_id"]) == workspace]
    if (user := q.get("by_user")) is not None:
        rows = [p for p in rows if str(p["user_id"]) == user]
    if flag(q.get("mavens_only")):
        rows = [p for p in rows if p["role"] == "maven"]
    return rows


_ACCESS_LEVELS = {"edit_tasks", "view_tasks", "edit_time_and_expenses", "view_time_and_expenses"}
_ACCESS_LEVELS |= {"edit_financials", "view_financials", "admin"}


def _check_participation(sb: Sandbox, data: Json, current: Json | None, problems: Problems) -> Json:
    if current is not None:
        if "access_level" in data and data["access_level"] not in _ACCESS_LEVELS:
            problems.append(("access_level", "Access level is not a valid access level"))
        return {}
    if not exists(sb, "workspaces", data.get("workspace_id")):
        problems.append(("workspace_id", "Workspace can't be blank"))
    if not exists(sb, "users", data.get("user_id")):
        problems.append(("user_id", "User can't be blank"))
    if (data.get("role") or "maven") not in ("maven", "buyer"):
        problems.append(("role", "Role must be maven or buyer"))
    elif participates(sb, str(data.get("workspace_id")), data.get("user_id")):
        problems.append(("user_id", "User is already participating in this project"))
    return {}


def _create_participation(sb: Sandbox, fields: Json, item: Json) -> Json:
    return ensure_participation(
        sb, str(item["workspace_id"]), str(item["user_id"]), item.get("role") or "maven"
    )


def _update_participation(sb: Sandbox, participation: Json, fields: Json, data: Json) -> Json:
    """`team_lead: true` makes the participant their team's lead (the provider team's lead is
    the project lead, `primary_maven`); `access_level` changes their permissions. The team
    (`role`) itself cannot be changed here, as in Kantata."""
    if "access_level" in data:
        participation["access"] = data["access_level"]
    touch(sb, "participations", participation)
    if truthy(data.get("team_lead")):
        make_team_lead(sb, participation)
    return participation


PARTICIPATIONS = Resource(
    "participations",
    "participation",
    "Participation",
    filters=(_participations,),
    includes={
        "user": belongs_to("user_id", "users"),
        "workspace": belongs_to("workspace_id", "workspaces"),
    },
    gated={"user_id": "user", "workspace_id": "workspace"},
    validate=_check_participation,
    create=_create_participation,
    update=_update_participation,
    get=False,
    delete=True,
)

RESOURCES = (USERS, ROLES, PARTICIPATIONS)
