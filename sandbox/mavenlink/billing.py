"""Billing milestones: a project's Billing Schedule, the billable items of a fixed-fee engagement.

As published in Kantata's API reference (developer.kantata.com, "Billing Milestones": the
operations GetBillingMilestones, CreateBillingMilestone, GetBillingMilestone,
UpdateBillingMilestone, DeleteBillingMilestone, read in the public per-tag copy
api-evangelist/mavenlink openapi/mavenlink-billing-milestones-api-openapi.yml):
- create: `title`, `amount_in_cents` ("in the subunits of the currency ... can also be
  negative") and `workspace_id` are required; `date_to_invoice` (an ISO 8601 date), `story_id`
  ("required when the `billing_type` is set to `upon_completion`"), `billing_type` ("Can be
  'fixed_date' or 'upon_completion'") and an `external_reference` are optional;
- the object: `title`, `amount_in_cents`, `currency`, `billing_type`, `date_to_invoice`,
  `story_id`, `workspace_id`, `invoice_id`, `invoice_ids`, `created_at`, `updated_at`;
- the listing: `workspace_ids` and `story_ids` (comma-separated), the `external_reference_*`
  filters, `order` `created_at:asc|desc` (default `created_at:desc`);
- update: "You can only edit billing milestones that have not been invoiced."

What the reference leaves unsaid, and the sandbox's choice: a milestone's currency is its
project's; its task must be of the same project; nothing is ever invoiced here (no invoices), so
every update is allowed; the default billing type is `fixed_date`.
"""

from __future__ import annotations

from sandbox.core import Json, Sandbox
from sandbox.kit import Problems, Resource, one_of
from sandbox.mavenlink.api import (
    NAME,
    as_date,
    as_int,
    belongs_to,
    blank,
    exists,
    of_subject,
    put_new,
    touch,
)
from sandbox.mavenlink.references import attach_reference, validate_reference, with_reference

BILLING_TYPES = ("fixed_date", "upon_completion")


def _check(sb: Sandbox, data: Json, current: Json | None, problems: Problems) -> Json:
    out: Json = {}
    workspace_id = str(data.get("workspace_id") or (current or {}).get("workspace_id") or "")
    if current is None:
        if not exists(sb, "workspaces", workspace_id):
            problems.append(("workspace_id", "Workspace can't be blank"))
        out["workspace_id"] = workspace_id
    if current is None or "title" in data:
        out["title"] = str(data.get("title") or "").strip()
        if not out["title"]:
            problems.append(blank("title"))
    if current is None or "amount_in_cents" in data:
        if data.get("amount_in_cents") in (None, ""):
            problems.append(blank("amount_in_cents"))
        else:
            out["amount_in_cents"] = as_int(data["amount_in_cents"], "amount_in_cents", problems)
    if "date_to_invoice" in data:
        out["date_to_invoice"] = as_date(data["date_to_invoice"], "date_to_invoice", problems)
    if current is None or "billing_type" in data:
        out["billing_type"] = data.get("billing_type") or "fixed_date"
        if out["billing_type"] not in BILLING_TYPES:
            problems.append(("billing_type", f"Billing type must be one of {BILLING_TYPES}"))
    if data.get("story_id") not in (None, ""):
        story = sb.store.get(NAME, "stories", str(data["story_id"]))
        if story is None or story["workspace_id"] != workspace_id:
            problems.append(("story_id", "Task must be in the same project"))
        out["story_id"] = str(data["story_id"])
    billing_type = out.get("billing_type") or (current or {}).get("billing_type")
    if billing_type == "upon_completion" and not (
        out.get("story_id") or (current or {}).get("story_id")
    ):
        problems.append(("story_id", "Task is required when billing upon completion"))
    if isinstance(data.get("external_reference"), dict):
        validate_reference(data["external_reference"], problems)
    return out


def new_billing_milestone(sb: Sandbox, fields: Json, data: Json) -> Json:
    workspace = sb.store.get(NAME, "workspaces", fields["workspace_id"]) or {}
    milestone = put_new(
        sb,
        "billing_milestones",
        {
            "story_id": None,
            "date_to_invoice": None,
            "currency": workspace.get("currency", "USD"),
            "invoice_id": None,
            "invoice_ids": [],
            **fields,
        },
    )
    return attach_reference(sb, "BillingMilestone", milestone, data)


def _update(sb: Sandbox, milestone: Json, fields: Json, data: Json) -> Json:
    milestone.update(fields)
    touch(sb, "billing_milestones", milestone)
    return attach_reference(sb, "BillingMilestone", milestone, data)


BILLING_MILESTONES = Resource(
    "billing_milestones",
    "billing_milestone",
    "Billing Milestone",
    filters=(
        one_of("workspace_ids", "workspace_id"),
        one_of("story_ids", "story_id"),
        with_reference("BillingMilestone"),
    ),
    order="created_at:desc",
    sortable=("created_at",),
    includes={
        "workspace": belongs_to("workspace_id", "workspaces"),
        "story": belongs_to("story_id", "stories"),
        "external_references": of_subject("external_references", "BillingMilestone"),
    },
    validate=_check,
    create=new_billing_milestone,
    update=_update,
    delete=True,
)

RESOURCES = (BILLING_MILESTONES,)
