"""External references (how psflow ties an object to its Salesforce record and finds it again),
custom fields and their values: both attach to a subject, named by `subject_type` and `subject_id`."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.datastructures import QueryParams

from sandbox.core import Json, Sandbox, SandboxDep
from sandbox.kit import Filter, Problems, Resource, id_list
from sandbox.mavenlink.api import (
    ACCOUNT_ID,
    NAME,
    SUBJECTS,
    Invalid,
    api,
    api_user_id,
    as_date,
    as_int,
    belongs_to,
    blank,
    exists,
    new_id,
    put_new,
    stamp,
    subject,
    table,
    touch,
)


def subject_type(value: Any) -> str | None:
    """Kantata spells subject types in CamelCase ("Workspace"); accept "workspace" too."""
    if not value:
        return None
    text = str(value)
    for name in SUBJECTS:
        if name.lower() == text.lower():
            return name
    return None


# --- external references -------------------------------------------------------------------------


def put_external_reference(sb: Sandbox, subject: str, subject_id: str, ref: Json) -> Json:
    """Create or update the subject's reference for `service_name` (unique per subject)."""
    existing = next(
        (
            r
            for r in table(sb, "external_references").values()
            if r["subject_type"] == subject
            and str(r["subject_id"]) == str(subject_id)
            and r["service_name"] == ref["service_name"]
        ),
        None,
    )
    obj = existing or {
        "id": new_id(sb, "external_references"),
        "subject_type": subject,
        "subject_id": int(subject_id),
        "service_name": ref["service_name"],
        "created_at": stamp(sb),
    }
    obj.update(
        {
            "service_model": str(ref["service_model"]),
            "service_model_ref": str(ref["service_model_ref"]),
            "status": ref.get("status") or obj.get("status") or "successful",
            "external_link": ref.get("external_link", obj.get("external_link")),
            "external_status": ref.get("external_status", obj.get("external_status")),
            "external_message": ref.get("external_message", obj.get("external_message")),
            "locked": bool(ref.get("locked", obj.get("locked", False))),
            "last_synced_at": stamp(sb),
        }
    )
    return touch(sb, "external_references", obj)


def attach_reference(sb: Sandbox, subject: str, obj: Json, item: Json) -> Json:
    """A create's or update's `external_reference`, put on the object it made or changed."""
    if isinstance(item.get("external_reference"), dict):
        put_external_reference(sb, subject, obj["id"], item["external_reference"])
    return obj


def validate_reference(ref: Json, problems: Problems) -> None:
    for field in ("service_name", "service_model", "service_model_ref"):
        if ref.get(field) in (None, ""):
            problems.append(blank(field))
    if ref.get("status") not in (None, "pending", "successful", "failed"):
        problems.append(("status", "Status must be one of pending, successful or failed"))


def with_reference(subject: str) -> Filter:
    """The `external_reference_*` filters shared by workspaces, stories, resources, allocations."""

    def narrow(sb: Sandbox, q: QueryParams, rows: list[Json]) -> list[Json]:
        filters = {
            "service_name": q.get("external_reference_service_name"),
            "service_model": q.get("external_reference_service_model"),
            "service_model_ref": q.get("external_reference_service_model_ref"),
            "status": q.get("external_reference_status"),
        }
        refs_in = id_list(q.get("external_reference_service_model_refs"))
        if not any(filters.values()) and refs_in is None:
            return rows
        matching = {
            str(r["subject_id"])
            for r in table(sb, "external_references").values()
            if r["subject_type"] == subject
            and all(r.get(k) == v for k, v in filters.items() if v)
            and (refs_in is None or r["service_model_ref"] in refs_in)
        }
        return [row for row in rows if row["id"] in matching]

    return narrow


def _of_subject_type(required: str) -> Filter:
    """`subject_type` is required: the listing is of one type of subject's objects."""

    def narrow(sb: Sandbox, q: QueryParams, rows: list[Json]) -> list[Json]:
        wanted = subject_type(q.get("subject_type"))
        if wanted is None:
            raise Invalid(("subject_type", required))
        return [r for r in rows if r["subject_type"] == wanted]

    return narrow


def _reference_fields(sb: Sandbox, q: QueryParams, rows: list[Json]) -> list[Json]:
    for field in ("subject_id", "service_name", "service_model", "service_model_ref", "status"):
        if (value := q.get(field)) is not None:
            rows = [r for r in rows if str(r.get(field)) == value]
    return rows


EXTERNAL_REFERENCES = Resource(
    "external_references",
    "external_reference",
    "External Reference",
    filters=(
        _of_subject_type("subject_type is required and must be a known type"),
        _reference_fields,
    ),
    order="last_synced_at:desc",
    sortable=("created_at", "last_synced_at"),
    includes={"subject": subject},
    get=False,
    delete=True,
)


@api.route("/external_references/create_or_update", "POST")
async def create_or_update_external_reference(sb: SandboxDep, request: Request) -> Json:
    ref = api.one(await api.body(request), EXTERNAL_REFERENCES)
    problems: Problems = []
    subject = subject_type(ref.get("subject_type"))
    if subject is None:
        problems.append(("subject_type", "Subject type is not a supported type"))
    elif not exists(sb, SUBJECTS[subject], ref.get("subject_id")):
        problems.append(("subject_id", "Subject can't be blank"))
    validate_reference(ref, problems)
    api.check(problems)
    assert subject is not None
    obj = put_external_reference(sb, subject, str(ref["subject_id"]), ref)
    return api.reply(sb, request, EXTERNAL_REFERENCES, [obj])


# --- custom fields and their values --------------------------------------------------------------


def new_custom_field(sb: Sandbox, name: str, value_type: str, subject: str) -> Json:
    return put_new(
        sb,
        "custom_fields",
        {
            "name": name,
            "value_type": value_type,
            "subject_type": subject,
            "required": False,
            "can_edit": True,
            "account_id": ACCOUNT_ID,
        },
    )


def validate_value(
    sb: Sandbox, subject: str, field_id: Any, value: Any, problems: Problems
) -> None:
    field = sb.store.get(NAME, "custom_fields", str(field_id)) if field_id else None
    if field is None or field["subject_type"] != subject:
        problems.append(("custom_field_id", f"Custom field {field_id} is not a {subject} field"))
        return
    if value in (None, ""):
        return
    kind = field["value_type"]
    if kind == "number" and as_int(value, "value", problems) is None:
        return
    if kind == "date":
        as_date(value, "value", problems)


def put_custom_field_value(
    sb: Sandbox, subject: str, subject_id: str, field_id: str, value: Any
) -> Json:
    """Kantata's create overrides an existing value of the same field and subject, with a new id."""
    for old in list(table(sb, "custom_field_values").values()):
        if (old["subject_type"], str(old["subject_id"]), old["custom_field_id"]) == (
            subject,
            subject_id,
            field_id,
        ):
            sb.store.delete(NAME, "custom_field_values", old["id"])
    field = api.find(sb, CUSTOM_FIELDS, field_id)
    return put_new(
        sb,
        "custom_field_values",
        {
            "subject_type": subject,
            "subject_id": int(subject_id),
            "custom_field_id": field_id,
            "custom_field_name": field["name"],
            "type": field["value_type"],
            "value": value,
            "display_value": "" if value is None else str(value),
            "can_edit": True,
            "setter_id": api_user_id(sb),
            "account_id": ACCOUNT_ID,
        },
    )


def _custom_fields(sb: Sandbox, q: QueryParams, rows: list[Json]) -> list[Json]:
    if wanted := q.get("subject_type"):
        rows = [f for f in rows if f["subject_type"] == subject_type(wanted)]
    return rows


CUSTOM_FIELDS = Resource(
    "custom_fields",
    "custom_field",
    "Custom Field",
    filters=(_custom_fields,),
    order="name:asc",
    sortable=("name", "created_at"),
    get=False,
)


def _values(sb: Sandbox, q: QueryParams, rows: list[Json]) -> list[Json]:
    if (subjects := id_list(q.get("with_subject_id"))) is not None:
        rows = [v for v in rows if str(v["subject_id"]) in subjects]
    if (fields := id_list(q.get("with_custom_field_id"))) is not None:
        rows = [v for v in rows if v["custom_field_id"] in fields]
    return rows


def _check_value(sb: Sandbox, data: Json, current: Json | None, problems: Problems) -> Json:
    if current is not None:
        field_id = current["custom_field_id"]
        validate_value(sb, current["subject_type"], field_id, data.get("value"), problems)
        return {}
    subject = subject_type(data.get("subject_type"))
    if subject is None or not exists(sb, SUBJECTS[subject], data.get("subject_id")):
        problems.append(("subject_id", "Subject can't be blank"))
        return {}
    validate_value(sb, subject, data.get("custom_field_id"), data.get("value"), problems)
    return {"subject_type": subject}


def _create_value(sb: Sandbox, fields: Json, item: Json) -> Json:
    return put_custom_field_value(
        sb,
        fields["subject_type"],
        str(item["subject_id"]),
        str(item["custom_field_id"]),
        item.get("value"),
    )


def _update_value(sb: Sandbox, current: Json, fields: Json, data: Json) -> Json:
    current["value"] = data.get("value")
    current["display_value"] = "" if current["value"] is None else str(current["value"])
    return touch(sb, "custom_field_values", current)


CUSTOM_FIELD_VALUES = Resource(
    "custom_field_values",
    "custom_field_value",
    "Custom Field Value",
    filters=(_of_subject_type("subject_type is required"), _values),
    includes={
        "custom_field": belongs_to("custom_field_id", "custom_fields"),
        "setter": belongs_to("setter_id", "users"),
        "subject": subject,
    },
    gated={"custom_field_id": "custom_field", "setter_id": "setter"},
    validate=_check_value,
    create=_create_value,
    update=_update_value,
    get=False,
    delete=True,
)

RESOURCES = (EXTERNAL_REFERENCES, CUSTOM_FIELDS, CUSTOM_FIELD_VALUES)
