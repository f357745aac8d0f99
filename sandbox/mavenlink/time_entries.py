"""Time entries: the minutes a person logged on a project (and maybe one of its tasks) on a day.

As published in Kantata's API reference (developer.kantata.com, "Time Entries": the operations
GetTimeEntries, CreateTimeEntry, GetTimeEntry, UpdateTimeEntry, DeleteTimeEntry of its
Kantata/specification.yml, read in the public per-tag copy api-evangelist/mavenlink
openapi/mavenlink-time-entries-api-openapi.yml):
- create: `workspace_id`, `date_performed` (YYYY-MM-DD) and `time_in_minutes` are required;
  `billable` "will be defaulted to the value of the `billable` flag of its associated Story if any,
  otherwise to true"; `user_id` "is set to the current_user ID by default. This parameter is ignored
  unless the authorizing user has financial access in the project and is on the consultants team";
- the object: `user_id`, `workspace_id`, `story_id` and `role_id` only with include=user,
  workspace, story, role; `date_performed`, `time_in_minutes`, `billable`, `notes`, `approved`,
  `rate_in_cents`, `currency`, ... always;
- the listing: `workspace_id` (one project), `workspace_ids` and `with_user_ids` (comma lists),
  `date_performed_between` ("between 2 dates in a colon-separated YYYY-MM-DD format"), `billable`,
  `approved`, `from_archived_workspaces` (default false), `created_*`/`updated_*`; `order` one of
  created_at, date_performed, updated_at (default `date_performed:desc`). It documents no `user_id`
  and no `story_id` filter: the sandbox refuses them (400) rather than answer as if it had filtered.

What the reference leaves unsaid, and the sandbox's choice:
- that the person must be on the project: Kantata's web app logs time only on projects one
  participates in, so a create or update for a non-participant is a 422 on `user_id`;
- `time_in_minutes` is "the amount of time in minutes": the sandbox wants a whole number above 0
  (no upper bound is documented, none is enforced);
- a task named by `story_id` must be in the entry's project (422 on `story_id`);
- whether `date_performed_between` includes its ends: it does here;
- `approved`: the sandbox has no timesheet approvals, so every entry stays `approved: false`;
  `is_invoiced` false and the invoice/submission includes answer none, for the same reason;
- rates: `rate_in_cents` is what the create gave (0 otherwise; Kantata computes it from rate cards
  the sandbox does not have); `cost_rate_in_cents` the person's cost rate in the project's currency
  when the entry is made (null without one: `rates.py`); `role_id` ("the default Role or user
  assigned Role") is the person's workspace resource's role on the project, if any;
- not served: the bulk `DELETE /time_entries.json?ids=...`, `optional_fields`, `location`,
  `created_by`, and the invoice and timesheet filters (nothing is invoiced or submitted here).
"""

from __future__ import annotations

from starlette.datastructures import QueryParams

from sandbox.core import Json, Sandbox
from sandbox.kit import Problems, Resource, flag, id_list, one_of
from sandbox.mavenlink.api import (
    NAME,
    api_user_id,
    as_date,
    as_int,
    bad_request,
    belongs_to,
    blank,
    date_range,
    exists,
    none_yet,
    of_subject,
    put_new,
    stamped_between,
    table,
    touch,
    truthy,
)
from sandbox.mavenlink.people import participates
from sandbox.mavenlink.rates import cost_rate
from sandbox.mavenlink.references import attach_reference, validate_reference, with_reference

# Participation access levels that carry financial access (Kantata's project permission levels).
_FINANCIAL_ACCESS = {"view_financials", "edit_financials", "admin"}

# Filters a client might guess that the listing does not document -> what Kantata offers instead.
_UNDOCUMENTED_FILTERS = {
    "user_id": "with_user_ids",
    "story_id": "no task filter; ask include=story and read story_id",
}


def _financial_provider(sb: Sandbox, workspace_id: str, user_id: str) -> bool:
    return any(
        str(p["workspace_id"]) == workspace_id
        and str(p["user_id"]) == user_id
        and p["role"] == "maven"
        and p.get("access") in _FINANCIAL_ACCESS
        for p in table(sb, "participations").values()
    )


def _entry_user(sb: Sandbox, workspace_id: str, data: Json, current: Json | None) -> str:
    """Whose entry it is: `user_id` counts only when the API user has financial access on the
    project's provider team ("This parameter is ignored unless ..."); else the API user's own."""
    me = api_user_id(sb)
    wanted = data.get("user_id")
    if wanted in (None, "") or not _financial_provider(sb, workspace_id, me):
        return str(current["user_id"]) if current else me
    return str(wanted)


def _role_of(sb: Sandbox, workspace_id: str, user_id: str) -> str | None:
    """The person's role on the project: their workspace resource's, as Kantata defaults it."""
    for resource in table(sb, "workspace_resources").values():
        if resource["workspace_id"] == workspace_id and resource["user_id"] == user_id:
            return resource.get("role_id")
    return None


def check_time_entry(
    sb: Sandbox, data: Json, current: Json | None, problems: Problems, user: str | None = None
) -> Json:
    """The fields a create (current None) or update writes; `user` is who logs it when a person
    does so in the web app (the control action), else it follows `user_id` as the API does."""
    out: Json = {}
    workspace_id = str(data.get("workspace_id") or (current or {}).get("workspace_id") or "")
    if current is None or "workspace_id" in data:
        if not exists(sb, "workspaces", workspace_id):
            problems.append(("workspace_id", "Workspace can't be blank"))
            return out  # the rest is checked against the project
        out["workspace_id"] = workspace_id
    if current is None or "date_performed" in data:
        if data.get("date_performed") in (None, ""):
            problems.append(blank("date_performed"))
        out["date_performed"] = as_date(data.get("date_performed"), "date_performed", problems)
    if current is None or "time_in_minutes" in data:
        raw, minutes = data.get("time_in_minutes"), None
        if raw in (None, ""):
            problems.append(blank("time_in_minutes"))
        elif isinstance(raw, bool):
            problems.append(("time_in_minutes", "Time in minutes is not a number"))
        else:
            minutes = as_int(raw, "time_in_minutes", problems)
            if minutes is not None and minutes <= 0:
                problems.append(("time_in_minutes", "Time in minutes must be greater than 0"))
        out["time_in_minutes"] = minutes
    story_id = data.get("story_id") if "story_id" in data else (current or {}).get("story_id")
    story = sb.store.get(NAME, "stories", str(story_id)) if story_id not in (None, "") else None
    if story_id not in (None, "") and (story is None or story["workspace_id"] != workspace_id):
        problems.append(("story_id", "Story must be a task in the same project"))
    if current is None or "story_id" in data:
        out["story_id"] = story["id"] if story else None
    person = user or _entry_user(sb, workspace_id, data, current)
    moved = current is None or "workspace_id" in out or person != current["user_id"]
    if not exists(sb, "users", person):
        problems.append(("user_id", "User does not exist"))
    elif moved and not participates(sb, workspace_id, person):
        problems.append(("user_id", "User must be a participant in the project to log time"))
    out["user_id"] = person
    out["role_id"] = _role_of(sb, workspace_id, person)
    if "billable" in data:
        out["billable"] = truthy(data["billable"])
    elif current is None:
        out["billable"] = bool(story.get("billable", True)) if story else True
    if "notes" in data:
        out["notes"] = str(data["notes"] or "")
    if "rate_in_cents" in data:
        out["rate_in_cents"] = as_int(data["rate_in_cents"], "rate_in_cents", problems)
    if isinstance(data.get("external_reference"), dict):
        validate_reference(data["external_reference"], problems)
    return out


def _currency(sb: Sandbox, workspace_id: str) -> Json:
    workspace = sb.store.get(NAME, "workspaces", workspace_id) or {}
    return {
        "currency": workspace.get("currency", "USD"),
        "currency_symbol": workspace.get("currency_symbol", workspace.get("currency", "USD")),
        "currency_base_unit": workspace.get("currency_base_unit", 100),
    }


def new_time_entry(sb: Sandbox, fields: Json, data: Json) -> Json:
    entry = put_new(
        sb,
        "time_entries",
        {
            "workspace_id": fields["workspace_id"],
            "user_id": fields["user_id"],
            "story_id": fields["story_id"],
            "role_id": fields["role_id"],
            "date_performed": fields["date_performed"],
            "time_in_minutes": fields["time_in_minutes"],
            "billable": fields["billable"],
            "notes": fields.get("notes", ""),
            "approved": False,
            "is_invoiced": False,
            "taxable": False,
            "rate_in_cents": fields.get("rate_in_cents") or 0,
            "cost_rate_in_cents": cost_rate(
                sb, fields["user_id"], _currency(sb, fields["workspace_id"])["currency"]
            ),
            **_currency(sb, fields["workspace_id"]),
            "location": None,
        },
    )
    return attach_reference(sb, "TimeEntry", entry, data)


def _update_time_entry(sb: Sandbox, entry: Json, fields: Json, data: Json) -> Json:
    entry.update(fields)
    if "workspace_id" in fields:
        entry.update(_currency(sb, fields["workspace_id"]))
    touch(sb, "time_entries", entry)
    return attach_reference(sb, "TimeEntry", entry, data)


def _time_entries(sb: Sandbox, q: QueryParams, rows: list[Json]) -> list[Json]:
    for guess, documented in _UNDOCUMENTED_FILTERS.items():
        if guess in q:
            raise bad_request(
                f"{guess} is not a time_entries filter (Kantata documents {documented})"
            )
    if span := q.get("date_performed_between"):
        first, last = date_range(span, "date_performed_between")
        rows = [e for e in rows if first <= e["date_performed"] <= last]
    if (billable := flag(q.get("billable"))) is not None:
        rows = [e for e in rows if e["billable"] == billable]
    if "approved" in q:  # "always processed as true; the actual value you provide is ignored"
        rows = [e for e in rows if e["approved"]]
    if not flag(q.get("from_archived_workspaces")) and id_list(q.get("only")) is None:
        archived = {w["id"] for w in table(sb, "workspaces").values() if w.get("archived")}
        rows = [e for e in rows if e["workspace_id"] not in archived]
    return rows


TIME_ENTRIES = Resource(
    "time_entries",
    "time_entry",
    "Time Entry",
    filters=(
        _time_entries,
        one_of("workspace_id"),
        one_of("workspace_ids", "workspace_id"),
        one_of("with_user_ids", "user_id"),
        stamped_between,
        with_reference("TimeEntry"),
    ),
    order="date_performed:desc",
    sortable=("created_at", "date_performed", "updated_at"),
    includes={
        "user": belongs_to("user_id", "users"),
        "workspace": belongs_to("workspace_id", "workspaces"),
        "story": belongs_to("story_id", "stories"),
        "role": belongs_to("role_id", "roles"),
        "external_references": of_subject("external_references", "TimeEntry"),
        "invoice": none_yet("invoice_id", "invoices"),
        "active_submission": none_yet("active_submission_id", "timesheet_submissions"),
        "recent_submission": none_yet("recent_submission_id", "timesheet_submissions"),
    },
    gated={
        "user_id": "user",
        "workspace_id": "workspace",
        "story_id": "story",
        "role_id": "role",
    },
    validate=check_time_entry,
    create=new_time_entry,
    update=_update_time_entry,
    delete=True,  # nothing is invoiced or locked in the sandbox, so every entry can be deleted
)

RESOURCES = (TIME_ENTRIES,)
