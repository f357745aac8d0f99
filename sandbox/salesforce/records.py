"""Writing records as Salesforce does: field-level validation of a request body, defaults and
system fields on create, and the values Salesforce maintains itself (formulas, modstamps)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from sandbox.salesforce.common import SalesforceError
from sandbox.salesforce.schema import (
    CLOSED_STAGES,
    NUMBER_TYPES,
    STAGE_PROBABILITY,
    TEXT_TYPES,
    VALIDATION_RULES,
    WON_STAGES,
    Field,
    SObject,
    normalize_id,
    sobject_of_id,
)
from sandbox.salesforce.soql import comparable, format_datetime, parse_datetime

Json = dict[str, Any]
Fetch = Callable[[str, str], Json | None]

# The range of a Salesforce date field (earlier or later dates are refused).
DATE_MIN, DATE_MAX = date(1700, 1, 1), date(4000, 12, 31)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_JSON_TOKENS = {bool: "VALUE_TRUE", int: "VALUE_NUMBER_INT", float: "VALUE_NUMBER_FLOAT"}


def bad_request(message: str, code: str, fields: Iterable[str] = ()) -> SalesforceError:
    return SalesforceError(400, message, code, list(fields))


def _parser_error(type_name: str, raw: Any) -> SalesforceError:
    """The Jackson-worded error Salesforce gives for a JSON value of the wrong type."""
    token = (
        "VALUE_STRING"
        if isinstance(raw, str)
        else "START_ARRAY"
        if isinstance(raw, list)
        else "START_OBJECT"
        if isinstance(raw, dict)
        else _JSON_TOKENS.get(type(raw), "VALUE_NULL")
    )
    if raw is False:
        token = "VALUE_FALSE"
    return SalesforceError(
        400,
        f"Cannot deserialize instance of {type_name} from {token} value {raw} or request may be "
        "missing a required field",
        "JSON_PARSER_ERROR",
    )


def coerce_value(field: Field, raw: Any, fetch: Fetch) -> Any:
    """One body value checked against its field and turned into the stored (wire) form."""
    label = field.label or field.name
    if raw is None:
        return False if field.type == "boolean" else None  # a checkbox cannot be null
    kind = field.type
    if kind == "boolean":
        if not isinstance(raw, bool):
            raise _parser_error("boolean", raw)
        return raw
    if kind in NUMBER_TYPES:
        try:
            if isinstance(raw, bool | list | dict):
                raise ValueError
            number = float(raw)
            if not math.isfinite(number):  # "NaN", "Infinity": Salesforce stores decimals only
                raise ValueError
        except ValueError:
            raise _parser_error("int" if kind == "int" else "double", raw) from None
        return int(number) if kind == "int" else number
    if kind == "date":
        try:
            day = date.fromisoformat(raw)
        except (TypeError, ValueError):
            raise _parser_error("date", raw) from None
        if not DATE_MIN <= day <= DATE_MAX:
            raise bad_request(
                f"{label}: invalid date: {raw}: valid dates are 1700-01-01 to 4000-12-31",
                "FIELD_INTEGRITY_EXCEPTION",
                [field.name],
            )
        return day.isoformat()
    if kind == "datetime":
        try:
            return format_datetime(parse_datetime(raw))
        except (TypeError, ValueError, AttributeError):
            raise _parser_error("datetime", raw) from None
    if kind == "reference":
        return _reference(field, raw, fetch)
    if isinstance(raw, list | dict):
        raise _parser_error("String", raw)
    text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
    if kind == "picklist" and field.restricted and text not in field.picklist:
        raise bad_request(
            f"{label}: bad value for restricted picklist field: {text}",
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            [field.name],
        )
    if kind == "email" and not _EMAIL.fullmatch(text):
        raise bad_request(
            f"{label}: invalid email address: {text}", "INVALID_EMAIL_ADDRESS", [field.name]
        )
    if kind in TEXT_TYPES and field.length and len(text) > field.length:
        raise bad_request(
            f"{label}: data value too large: {text[:80]} (max length={field.length})",
            "STRING_TOO_LONG",
            [field.name],
        )
    return text


def _reference(field: Field, raw: Any, fetch: Fetch) -> str:
    label = field.label or field.name
    record_id = normalize_id(raw)
    if record_id is None:
        raise bad_request(
            f"{label}: id value of incorrect type: {raw}", "MALFORMED_ID", [field.name]
        )
    target = sobject_of_id(record_id)
    if target is None or target.name != field.reference_to:
        raise bad_request(
            f"{label}: id value of incorrect type: {raw}",
            "FIELD_INTEGRITY_EXCEPTION",
            [field.name],
        )
    existing = fetch(target.name, record_id)
    if existing is None or existing.get("IsDeleted"):
        raise bad_request("invalid cross reference id", "INVALID_CROSS_REFERENCE_KEY", [field.name])
    return record_id


def coerce(obj: SObject, body: Any, fetch: Fetch, *, creating: bool) -> Json:
    """A create or update body, validated field by field: the values to store."""
    if not isinstance(body, dict):
        raise _parser_error(obj.name, body)
    values: Json = {}
    read_only = []
    for key, raw in body.items():
        if key == "attributes":
            continue
        field = obj.field(key)
        if field is None:
            raise bad_request(
                f"No such column '{key}' on sobject of type {obj.name}", "INVALID_FIELD"
            )
        if not (field.createable if creating else field.updateable):
            read_only.append(field.name)
            continue
        values[field.name] = coerce_value(field, raw, fetch)
    if read_only:
        raise bad_request(
            f"Unable to create/update fields: {', '.join(read_only)}. Please check the security "
            "settings of this field and verify that it is read/write for your profile or "
            "permission set.",
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            read_only,
        )
    return values


def new_record(obj: SObject, record_id: str, now: datetime, user_id: str) -> Json:
    """A record as it exists right after insert, before the body's values: every field present,
    defaults and system fields set."""
    stamp = format_datetime(now)
    record: Json = {}
    for field in obj.fields:
        record[field.name] = field.default if field.default is not None else None
        if field.type == "boolean" and record[field.name] is None:
            record[field.name] = False
    record.update(
        Id=record_id,
        CreatedDate=stamp,
        CreatedById=user_id,
        LastModifiedDate=stamp,
        LastModifiedById=user_id,
        SystemModstamp=stamp,
    )
    if "OwnerId" in record:
        record["OwnerId"] = user_id
    return record


def apply(
    obj: SObject, record: Json, values: Json, fetch: Fetch, now: datetime, user_id: str
) -> Json:
    """Merge validated values into a record, then refresh what Salesforce derives from them.

    Returns the record; raises REQUIRED_FIELD_MISSING if a required field ends up empty."""
    record.update(values)
    missing = [f.name for f in obj.fields if f.required and record.get(f.name) in (None, "")]
    if missing:
        raise bad_request(
            f"Required fields are missing: [{', '.join(missing)}]",
            "REQUIRED_FIELD_MISSING",
            missing,
        )
    derive(obj, record, values, fetch)
    stamp = format_datetime(now)
    record.update(LastModifiedDate=stamp, LastModifiedById=user_id, SystemModstamp=stamp)
    return record


def derive(obj: SObject, record: Json, changed: Json, fetch: Fetch) -> None:
    """Formula fields and the values Salesforce sets from others."""
    if obj.name in ("User", "Contact"):
        record["Name"] = " ".join(p for p in (record["FirstName"], record["LastName"]) if p)
    elif obj.name == "Opportunity":
        stage = record["StageName"]
        record["IsClosed"] = stage in CLOSED_STAGES
        record["IsWon"] = stage in WON_STAGES
        # A stage change resets the probability to the stage's default unless it is set too.
        if "StageName" in changed and "Probability" not in changed:
            record["Probability"] = float(STAGE_PROBABILITY.get(stage, 0))
    elif obj.name == "OpportunityLineItem":
        quantity, price = record["Quantity"], record["UnitPrice"]
        record["TotalPrice"] = quantity * price if quantity is not None and price else None
        opportunity = fetch("Opportunity", record["OpportunityId"]) or {}
        product = fetch("Product2", record["Product2Id"] or "") or {}
        names = (opportunity.get("Name"), product.get("Name"))
        record["Name"] = " ".join(n for n in names if n)
    elif obj.name == "PS_Engagement__c":
        scoped, used = record["Scoped_Hours__c"], record["Hours_Consumed__c"]
        record["Remaining_Hours__c"] = None if scoped is None else scoped - (used or 0)


def check(obj: SObject, record: Json, rows: Iterable[Json]) -> None:
    """What a save checks once the record's values are in: the org's validation rules, then the
    unique fields."""
    for rule in VALIDATION_RULES.get(obj.name, ()):
        missing = [f for f in rule.required if record.get(f) in (None, "", False)]
        if missing and rule.when(record):
            raise bad_request(
                f"{rule.message}: {', '.join(missing)}", "FIELD_CUSTOM_VALIDATION_EXCEPTION"
            )
    check_unique(obj, record, rows)


def check_unique(obj: SObject, record: Json, rows: Iterable[Json]) -> None:
    """DUPLICATE_VALUE when another live record holds the value of a unique field."""
    unique = [f for f in obj.fields if f.unique and record.get(f.name) not in (None, "")]
    if not unique:
        return
    for other in rows:
        if other["Id"] == record["Id"] or other.get("IsDeleted"):
            continue
        for field in unique:
            if comparable(field, other.get(field.name)) == comparable(field, record[field.name]):
                raise bad_request(
                    f"duplicate value found: {field.name} duplicates value on record with id: "
                    f"{other['Id']}",
                    "DUPLICATE_VALUE",
                )
