"""Workspaces (Kantata's projects) with their status, budget, target margin, team and lead."""

from __future__ import annotations

import re

from starlette.datastructures import QueryParams

from sandbox.core import Json, Sandbox
from sandbox.kit import Problems, Resource, flag
from sandbox.mavenlink.api import (
    ACCOUNT_ID,
    api_user_id,
    as_date,
    as_int,
    belongs_to,
    dates_in_order,
    exists,
    has_many,
    new_id,
    of_subject,
    stamp,
    table,
    through,
    touch,
)
from sandbox.mavenlink.people import ensure_participation, make_team_lead
from sandbox.mavenlink.references import (
    attach_reference,
    put_custom_field_value,
    validate_reference,
    validate_value,
    with_reference,
)

# Project statuses: `status_key` on create/update, `status: {color, key, message}` on the object.
# Kantata lists them in "Project Status List" (knowledge.kantata.com, article 115005042433): colour
# bands gray (not started), light green (close to starting), green (in progress), yellow (pending
# action), red (blocked or ended), blue (finished); the API reference's own example is red / "501" /
# "Cancelled". The numbers of the other statuses follow that band-per-hundred scheme; the article
# body was not readable here, so check them against it before relying on a number.
STATUSES: dict[int, tuple[str, str]] = {
    100: ("gray", "Backlog"),
    105: ("gray", "Estimate"),
    110: ("gray", "Not Started"),
    115: ("gray", "Prospect"),
    200: ("light_green", "Okay to Start"),
    205: ("light_green", "In Set Up"),
    300: ("green", "Active"),
    305: ("green", "In Progress"),
    400: ("yellow", "On Hold"),
    405: ("yellow", "At Risk"),
    500: ("red", "Over Budget"),
    501: ("red", "Cancelled"),
    600: ("blue", "Closed"),
    605: ("blue", "Completed"),
}
STATUS_KEYS = {message: key for key, (_, message) in STATUSES.items()}
DEFAULT_STATUS = STATUS_KEYS["Not Started"]
_ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "CLP", "ISK", "VND"}


def status(key: int) -> Json:
    color, message = STATUSES[key]
    return {"color": color, "key": str(key), "message": message}


def _money(cents: int, currency: str) -> str:
    base = 1 if currency in _ZERO_DECIMAL_CURRENCIES else 100
    return f"{cents / base:.{0 if base == 1 else 2}f}"


def _workspace_fields(sb: Sandbox, data: Json, current: Json | None, problems: Problems) -> Json:
    """Validate the writable workspace fields of a create (current None) or an update."""
    out: Json = {}
    if current is None or "title" in data:
        title = str(data.get("title") or "").strip()
        if not title:
            problems.append(("title", "Please give your project a title"))
        out["title"] = title
    if current is None:
        role = data.get("creator_role") or "maven"
        if role not in ("maven", "consultant", "buyer", "client"):
            problems.append(("creator_role", "Please select a role for this project"))
        out["_creator_role"] = "buyer" if role in ("buyer", "client") else "maven"
    for field in ("description",):
        if field in data:
            out[field] = data[field]
    if "budgeted" in data:
        out["budgeted"] = bool(data["budgeted"]) and str(data["budgeted"]).lower() != "false"
    if "currency" in data:
        currency = str(data["currency"] or "").upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            problems.append(("currency", "Currency is not a valid currency code"))
        out["currency"] = currency
    currency = out.get("currency") or (current or {}).get("currency") or "USD"
    if "price" in data:
        # `price` is the budget in the currency's units; the object also carries price_in_cents
        try:
            amount = (
                float(str(data["price"]).replace(",", ""))
                if data["price"] not in (None, "")
                else None
            )
        except ValueError:
            problems.append(("price", "Price is not a number"))
            amount = None
        base = 1 if currency in _ZERO_DECIMAL_CURRENCIES else 100
        out["price_in_cents"] = None if amount is None else round(amount * base)
    budgeted = out.get("budgeted", (current or {}).get("budgeted", True))
    cents = out.get("price_in_cents", (current or {}).get("price_in_cents"))
    if budgeted and cents is None and (current is None or "price" in data or "budgeted" in data):
        problems.append(("price", "Price is required for budgeted projects"))
    for field in ("start_date", "due_date"):
        if field in data:
            out[field] = as_date(data[field], field, problems)
    start = out.get("start_date", (current or {}).get("start_date"))
    dates_in_order(
        start, out.get("due_date", (current or {}).get("due_date")), "due_date", problems
    )
    if "status_key" in data:
        key = as_int(data["status_key"], "status_key", problems)
        if key is not None and key not in STATUSES:
            problems.append(("status_key", f"Status key {key} is not a project status"))
        elif key is not None:
            out["status"] = status(key)
    if "target_margin" in data:
        try:
            out["target_margin"] = (
                None if data["target_margin"] in (None, "") else float(data["target_margin"])
            )
        except (TypeError, ValueError):
            problems.append(("target_margin", "Target margin is not a number"))
    if "archived" in data:
        out["archived"] = str(data["archived"]).lower() in ("true", "1")
    if "primary_maven_id" in data and not exists(sb, "users", data["primary_maven_id"]):
        problems.append(("primary_maven_id", "Primary maven must be a user on the account"))
    for item in data.get("participations") or []:
        if not exists(sb, "users", item.get("user_id")):
            problems.append(("participations", f"User {item.get('user_id')} does not exist"))
    if isinstance(data.get("external_reference"), dict):
        validate_reference(data["external_reference"], problems)
    for item in data.get("custom_fields") or []:
        validate_value(sb, "Workspace", item.get("custom_field_id"), item.get("value"), problems)
    return out


def _apply_workspace(sb: Sandbox, workspace: Json, fields: Json, data: Json) -> Json:
    fields = dict(fields)
    currency = fields.pop("currency", None) or workspace.get("currency") or "USD"
    workspace.update({k: v for k, v in fields.items() if k != "price_in_cents"})
    workspace["currency"] = currency
    workspace["currency_symbol"] = currency
    workspace["currency_base_unit"] = 1 if currency in _ZERO_DECIMAL_CURRENCIES else 100
    if "price_in_cents" in fields:
        workspace["price_in_cents"] = fields["price_in_cents"]
    cents = workspace.get("price_in_cents")
    workspace["price"] = None if cents is None else _money(cents, currency)
    workspace["effective_due_date"] = workspace.get("due_date")
    if "primary_maven_id" in data:
        workspace["primary_maven_id"] = str(data["primary_maven_id"])
    touch(sb, "workspaces", workspace)
    for item in data.get("participations") or []:
        ensure_participation(sb, workspace["id"], str(item["user_id"]), "maven")
    if workspace.get("primary_maven_id"):
        lead = ensure_participation(sb, workspace["id"], workspace["primary_maven_id"], "maven")
        make_team_lead(sb, lead)
    attach_reference(sb, "Workspace", workspace, data)
    for item in data.get("custom_fields") or []:
        put_custom_field_value(
            sb, "Workspace", workspace["id"], str(item["custom_field_id"]), item["value"]
        )
    return workspace


def new_workspace(sb: Sandbox, fields: Json, data: Json) -> Json:
    workspace_id = new_id(sb, "workspaces")
    creator = api_user_id(sb)
    workspace: Json = {
        "id": workspace_id,
        "title": fields["title"],
        "description": "",
        "budgeted": True,
        "price": None,
        "price_in_cents": None,
        "currency": "USD",
        "start_date": None,
        "due_date": None,
        "status": status(DEFAULT_STATUS),
        "target_margin": None,
        "archived": False,
        "access_level": "invitation",
        "account_id": ACCOUNT_ID,
        "consultant_role_name": "Provider",
        "client_role_name": "Client",
        "percentage_complete": 0,
        "created_at": stamp(sb),
        "creator_id": creator,
        "primary_maven_id": None,
    }
    role = fields.pop("_creator_role", "maven")
    _apply_workspace(sb, workspace, fields, data)
    ensure_participation(sb, workspace_id, creator, role)
    return workspace


def _matching(title: str, term: str) -> bool:
    """Kantata's `matching`: every word is the start of a word of the title; stop words ignored."""
    stop = {"a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into"}
    stop |= {"is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then"}
    stop |= {"there", "these", "they", "this", "to", "was", "with"}
    words = re.findall(r"\w+", title.lower())
    wanted = [w for w in re.findall(r"\w+", term.lower()) if w not in stop]
    return all(any(word.startswith(w) for word in words) for w in wanted)


def _search_workspace(sb: Sandbox, workspace: Json, term: str) -> bool:
    """`search`: keywords against id, title, description and custom field values; `title:'x'` and
    `description:'x'` narrow a keyword to one field."""
    values = [
        str(v["display_value"])
        for v in table(sb, "custom_field_values").values()
        if v["subject_type"] == "Workspace" and str(v["subject_id"]) == workspace["id"]
    ]
    fields = {"title": workspace["title"], "description": workspace.get("description") or ""}
    for field, keyword in re.findall(r"(\w+):'([^']*)'", term):
        if keyword.lower() not in str(fields.get(field, "")).lower():
            return False
    rest = re.sub(r"\w+:'[^']*'", " ", term)
    haystack = " ".join([workspace["id"], *fields.values(), *values]).lower()
    return all(word in haystack for word in rest.lower().split())


def _workspaces(sb: Sandbox, q: QueryParams, rows: list[Json]) -> list[Json]:
    archived = q.get("archived") or ("include" if flag(q.get("include_archived")) else "exclude")
    if q.get("only") is None:  # asking by id finds archived projects too
        if archived == "exclude":
            rows = [w for w in rows if not w["archived"]]
        elif archived == "only":
            rows = [w for w in rows if w["archived"]]
    if term := q.get("matching"):
        rows = [w for w in rows if _matching(w["title"], term)]
    if term := q.get("search"):
        rows = [w for w in rows if _search_workspace(sb, w, term)]
    if user := q.get("has_participant"):
        rows = [
            w
            for w in rows
            if any(
                str(p["user_id"]) == user and str(p["workspace_id"]) == w["id"]
                for p in table(sb, "participations").values()
            )
        ]
    if (budgeted := flag(q.get("budgeted"))) is not None:
        rows = [w for w in rows if w["budgeted"] == budgeted]
    return rows


WORKSPACES = Resource(
    "workspaces",
    "workspace",
    "Workspace",
    filters=(_workspaces, with_reference("Workspace")),
    order="updated_at:desc",
    sortable=("created_at", "updated_at", "title", "start_date", "due_date"),
    includes={
        "participants": through(
            "participant_ids", "participations", "workspace_id", "users", "user_id"
        ),
        "participations": has_many("participation_ids", "participations", "workspace_id"),
        "external_references": of_subject("external_references", "Workspace"),
        "custom_field_values": of_subject("custom_field_values", "Workspace"),
        "workspace_resources": has_many(
            "workspace_resource_ids",
            "workspace_resources",
            "workspace_id",
            lambda r: bool(r["user_id"]),
        ),
        "workspace_resources_with_unnamed": has_many(
            "workspace_resources_with_unnamed_ids", "workspace_resources", "workspace_id"
        ),
        "creator": belongs_to("creator_id", "users"),
        "primary_maven": belongs_to("primary_maven_id", "users"),
    },
    gated={"creator_id": "creator", "primary_maven_id": "primary_maven"},
    validate=_workspace_fields,
    create=new_workspace,
    update=_apply_workspace,
)
