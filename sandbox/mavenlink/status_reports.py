"""Status reports: a project's health at a moment, a colour and a description, with optional
colours per category ("Health Reports" in Kantata's web app).

As published in Kantata's API reference (developer.kantata.com, "Status Reports": the operations
GetStatusReports, CreateStatusReport, GetStatusReport, UpdateStatusReport, DeleteStatusReport of
its Kantata/specification.yml, read in the public per-tag copy api-evangelist/mavenlink
openapi/mavenlink-status-reports-api-openapi.yml; mavenlink/mavenlink_gem's
lib/config/specification.yml names the same fields):
- create: `workspace_id`, `color` ("Valid values: green, yellow, red") and `description` are
  required; `details` is "an array of optional category statuses", each with a `category` (Scope,
  Budget, Schedule, Client) and a `color` (both required) and a `description`;
- update: `color`, `description`, `details`; "Any categories not provided when updating will be
  deleted if they were previously present";
- the object: `color`, `description`, `details`, `created_at`, `updated_at` always; `workspace_id`,
  `creator_id`, `updater_id` only with include=workspace, creator, updater;
- the listing: `workspace_id` ("Return only status reports for the given workspace_id"),
  `created_*`/`updated_*`, the `external_reference_*` filters.

What the reference leaves unsaid, and the sandbox's choice:
- no rule limits how many reports a project gets (none per day, none per week): the sandbox
  refuses none; a caller that wants one a week guards that itself;
- there is no report date: a report is of the moment it is created (`created_at`);
- it documents no `order` for the listing: the sandbox takes the kit's (`created_at:asc`, or
  `created_at`/`updated_at` either way) without promising Kantata's;
- an update without `details` keeps the report's details (the sentence above is read as about an
  update that gives `details`); nor does it say whether a category may appear twice: the sandbox
  keeps what it is given.
"""

from __future__ import annotations

from typing import Any

from sandbox.core import Json, Sandbox
from sandbox.kit import Problems, Resource, equals
from sandbox.mavenlink.api import (
    api_user_id,
    belongs_to,
    blank,
    exists,
    of_subject,
    put_new,
    stamped_between,
    touch,
)
from sandbox.mavenlink.references import attach_reference, validate_reference, with_reference

COLORS = ("green", "yellow", "red")
CATEGORIES = ("Scope", "Budget", "Schedule", "Client")


def _details(value: Any, problems: Problems) -> list[Json]:
    if not isinstance(value, list):
        problems.append(("details", "Details must be a list of category statuses"))
        return []
    out: list[Json] = []
    for item in value:
        if not isinstance(item, dict):
            problems.append(("details", "Details must be a list of category statuses"))
            continue
        category, color = item.get("category"), item.get("color")
        if category not in CATEGORIES:
            problems.append(("details", f"Category must be one of {', '.join(CATEGORIES)}"))
        if color not in COLORS:
            problems.append(("details", f"Color must be one of {', '.join(COLORS)}"))
        out.append(
            {"category": category, "color": color, "description": item.get("description") or ""}
        )
    return out


def _check_report(sb: Sandbox, data: Json, current: Json | None, problems: Problems) -> Json:
    out: Json = {}
    if current is None:
        if not exists(sb, "workspaces", data.get("workspace_id")):
            problems.append(("workspace_id", "Workspace can't be blank"))
        else:
            out["workspace_id"] = str(data["workspace_id"])
    if current is None or "color" in data:
        out["color"] = data.get("color")
        if out["color"] in (None, ""):
            problems.append(blank("color"))
        elif out["color"] not in COLORS:
            problems.append(("color", f"Color must be one of {', '.join(COLORS)}"))
    if current is None or "description" in data:
        out["description"] = str(data.get("description") or "")
        if not out["description"].strip():
            problems.append(blank("description"))
    if "details" in data:
        out["details"] = _details(data["details"] or [], problems)
    if isinstance(data.get("external_reference"), dict):
        validate_reference(data["external_reference"], problems)
    return out


def new_status_report(sb: Sandbox, fields: Json, data: Json) -> Json:
    me = api_user_id(sb)
    report = put_new(
        sb,
        "status_reports",
        {
            "workspace_id": fields["workspace_id"],
            "color": fields["color"],
            "description": fields["description"],
            "details": fields.get("details", []),
            "creator_id": me,
            "updater_id": me,
        },
    )
    return attach_reference(sb, "StatusReport", report, data)


def _update_report(sb: Sandbox, report: Json, fields: Json, data: Json) -> Json:
    report.update(fields)
    report["updater_id"] = api_user_id(sb)
    touch(sb, "status_reports", report)
    return attach_reference(sb, "StatusReport", report, data)


STATUS_REPORTS = Resource(
    "status_reports",
    "status_report",
    "Status Report",
    filters=(equals("workspace_id"), stamped_between, with_reference("StatusReport")),
    includes={
        "workspace": belongs_to("workspace_id", "workspaces"),
        "creator": belongs_to("creator_id", "users"),
        "updater": belongs_to("updater_id", "users"),
        "external_references": of_subject("external_references", "StatusReport"),
    },
    gated={"workspace_id": "workspace", "creator_id": "creator", "updater_id": "updater"},
    validate=_check_report,
    create=new_status_report,
    update=_update_report,
    delete=True,
)

RESOURCES = (STATUS_REPORTS,)
