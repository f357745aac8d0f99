"""Salesforce: the opportunity every engagement is keyed by, its stage history, and the fields psflow
writes back on it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from blocks import SalesforceConnection
from engagement.close import completion_problems
from engagement.keys import salesforce_engagement_external_id
from engagement.lifecycle import NotReady, StageChange, stage_at_creation
from engagement.models import (
    OPPORTUNITY_PREFIX,
    Engagement,
    EngagementStatus,
    Opportunity,
    email_address,
    salesforce_id,
)
from engagement.people import User
from engagement.refs import Ref
from tasks.calls import PermanentError, calling, outside_task, read_task
from tasks.clients import systems

SYSTEM = "Salesforce"

# Where each field of the domain's Opportunity comes from in Salesforce, written once: the query
# selects these, the reading follows them, and an error names the Salesforce field of a bad value.
_OPPORTUNITY = {
    "id": "Id",
    "name": "Name",
    "stage": "StageName",
    "amount": "Amount",
    "currency": "CurrencyIsoCode",
    "close_date": "CloseDate",
    "sow_number": "SOW_Number__c",
    "sow_link": "SOW_Link__c",
    "engagement_manager_email": "PS_Engagement_Manager__r.Email",
    "account_executive_email": "Owner.Email",
    "required_skills": "PS_Skills_Required__c",
    "expected_start": "PS_Expected_Start__c",
    "expected_completion": "PS_Expected_Completion__c",
    "billing": "PS_Billing_Type__c",
}
_ACCOUNT = {
    "id": "AccountId",
    "name": "Account.Name",
    "time_zone": "Account.PS_Time_Zone__c",
    "country": "Account.BillingCountryCode",
    "communication_style": "Account.PS_Communication_Style__c",
}
_CONTACT = {  # of an OpportunityContactRole
    "id": "ContactId",
    "first_name": "Contact.FirstName",
    "last_name": "Contact.LastName",
    "email": "Contact.Email",
    "title": "Contact.Title",
    "role": "Role",
    "primary": "IsPrimary",
}
_LINE_ITEM = {
    "code": "Product2.ProductCode",
    "description": "Description",
    "quantity": "Quantity",
    "unit_price": "UnitPrice",
}
_ROWS = {"contacts": ("Contact", _CONTACT), "line_items": ("OpportunityLineItem", _LINE_ITEM)}


class InvalidRecord(ValueError):
    """Salesforce holds data psflow cannot use; the message names each Salesforce field."""


def opportunity_id(value: str) -> str:
    """The 18-character id, or a ValueError naming the parameter (and nothing is sent anywhere)."""
    try:
        return salesforce_id(value, OPPORTUNITY_PREFIX, "Opportunity")
    except ValueError as err:
        raise ValueError(f"opportunity_id: {err}") from None


@read_task("read opportunity {opportunity}")
def get_opportunity(opportunity: str, customer_history: bool = False) -> Opportunity:
    """The opportunity with its account, contacts (contact roles) and SOW activities (line items);
    with `customer_history`, whether the account is an existing customer (one more query).

    Raises:
        PermanentError: the opportunity does not exist.
        InvalidRecord: a field holds a value psflow cannot use (named, with the value).
    """
    record_id = opportunity_id(opportunity)
    sf = systems().salesforce()
    with calling(SYSTEM, f"opportunity {record_id}"):
        # its contact roles and line items in the same query (parent-to-child subqueries)
        rows = sf.query(
            f"SELECT {_select(_OPPORTUNITY, _ACCOUNT)}, "
            f"(SELECT {_select(_CONTACT)} FROM OpportunityContactRoles), "
            f"(SELECT {_select(_LINE_ITEM)}, Product2.Name FROM OpportunityLineItems) "
            f"FROM Opportunity WHERE Id = '{record_id}'"
        )
        if not rows["records"]:
            raise PermanentError(SYSTEM, f"opportunity {record_id}", "not found")
        record = rows["records"][0]
        existing = None
        if customer_history:  # an existing customer: an account with an earlier PS engagement
            existing = (
                sf.query(
                    "SELECT COUNT() FROM PS_Engagement__c WHERE Opportunity__r.AccountId = "
                    f"'{record['AccountId']}' AND Opportunity_Id__c != '{record_id}'"
                )["totalSize"]
                > 0
            )
    return _opportunity(record, existing_customer=existing)


@read_task("find stage changes")
def find_stage_changes(since: datetime) -> list[StageChange]:
    """Every stage change after `since`, oldest first, in TWO queries whose cost grows with the
    number of changes, not of opportunities: Salesforce's field history of StageName, and the
    opportunities created since. A record created in a stage (sales ops enter renewals and
    add-ons straight in Closed Won) writes no history row: it is a change into its first stage."""
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with calling(SYSTEM, "opportunity stage history"):
        moved = (
            systems()
            .salesforce()
            .query_all(
                "SELECT Id, OpportunityId, OldValue, NewValue, CreatedDate, Opportunity.Name, "
                "Opportunity.Account.Name FROM OpportunityFieldHistory "
                f"WHERE Field = 'StageName' AND CreatedDate > {stamp} ORDER BY CreatedDate, Id"
            )["records"]
        )
    with calling(SYSTEM, "opportunities created since the last poll"):
        created = (
            systems()
            .salesforce()
            .query_all(
                "SELECT Id, Name, StageName, CreatedDate, Account.Name FROM Opportunity "
                f"WHERE CreatedDate > {stamp} ORDER BY CreatedDate, Id"
            )["records"]
        )
    moves = [
        StageChange(
            id=row["Id"],
            opportunity_id=row["OpportunityId"],
            opportunity_name=(row["Opportunity"] or {}).get("Name") or "",
            customer=((row["Opportunity"] or {}).get("Account") or {}).get("Name") or "",
            old_stage=row["OldValue"],
            new_stage=row["NewValue"],
            changed_at=_datetime(row["CreatedDate"]),
        )
        for row in moved
    ]
    births = [
        StageChange(
            id=f"{row['Id']}-created",
            opportunity_id=row["Id"],
            opportunity_name=row["Name"] or "",
            customer=(row["Account"] or {}).get("Name") or "",
            old_stage=None,
            new_stage=stage_at_creation(
                row["StageName"], [m for m in moves if m.opportunity_id == row["Id"]]
            ),
            changed_at=_datetime(row["CreatedDate"]),
        )
        for row in created
    ]
    return sorted([*moves, *births], key=lambda change: (change.changed_at, change.id))


@read_task("read users {emails} {titles}")
def get_users(emails: Sequence[str] = (), titles: Sequence[str] = ()) -> list[User]:
    """The active Salesforce users with these e-mail addresses or these titles (their ids, names,
    titles and time zones): one query for them all. Nobody is invented: people without an active
    user are missing from the answer.

    Raises:
        ValueError: naming an address that is not a bare e-mail address (nothing is sent).
    """
    addresses = [email_address(email).casefold() for email in emails]
    clauses = [
        f"{field} IN ({', '.join(_soql_text(value) for value in values)})"
        for field, values in (("Email", addresses), ("Title", list(titles)))
        if values
    ]
    if not clauses:
        return []
    with calling(SYSTEM, "users " + ", ".join([*addresses, *titles])):
        rows = (
            systems()
            .salesforce()
            .query_all(
                "SELECT Id, Name, Email, Title, TimeZoneSidKey FROM User "
                f"WHERE IsActive = true AND ({' OR '.join(clauses)}) ORDER BY Name"
            )["records"]
        )
    return [
        User(
            id=row["Id"],
            name=row["Name"] or "",
            email=str(row["Email"]).casefold(),
            title=row["Title"] or "",
            time_zone=row["TimeZoneSidKey"],
        )
        for row in rows
    ]


def _soql_text(value: str) -> str:
    """`value` as a SOQL string literal (quotes and backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@outside_task("link the cost estimate on opportunity {opportunity}")
def ensure_cost_estimate_linked(opportunity: str, sheet: Ref, ta_review_required: bool) -> bool:
    """The cost estimate sheet's link on the opportunity (Cost_Estimate_Link__c), and whether it
    needs a Technical Architect's review (PS_TA_Review_Required__c), written only when one
    differs (a re-run writes nothing).

    Returns:
        True when Salesforce was written.
    """
    fields = {"Cost_Estimate_Link__c": sheet.url, "PS_TA_Review_Required__c": ta_review_required}
    record_id = opportunity_id(opportunity)
    sf = systems().salesforce()
    with calling(SYSTEM, f"fields {', '.join(fields)} of opportunity {record_id}"):
        current = sf.query(f"SELECT {', '.join(fields)} FROM Opportunity WHERE Id = '{record_id}'")[
            "records"
        ][0]
        changed = {name: value for name, value in fields.items() if current.get(name) != value}
        if changed:
            sf.restful(f"sobjects/Opportunity/{record_id}", method="PATCH", json=changed)
    return bool(changed)


# --- the PS Engagement record ---------------------------------------------------------------------

ENGAGEMENT = "PS_Engagement__c"
ENGAGEMENT_KEY = "Opportunity_Id__c"  # the External ID field the record is upserted by


# The engagement's baseline: Initiate writes it from the SOW; once there, only a re-baseline (an
# approved change request) moves it, and a re-run of Initiate leaves it as it is.
BASELINE_FIELDS = ("Scoped_Hours__c", "Expected_Completion__c")


def engagement_fields(engagement: Engagement) -> dict[str, Any]:
    """The PS Engagement fields psflow owns, as Salesforce's JSON takes them: the staffing
    approval (Approved, Approver, Project Owner) as the coordinator recorded it among them. Fields
    people own (Hours Consumed, Actual Start, Completed, the sign-off fields) are never here;
    neither is a value psflow does not know yet (None), so it never clears what is there."""
    fields = {
        "Name": engagement.name,
        "Engagement_Type__c": engagement.engagement_type,
        "Opportunity__c": engagement.opportunity_id,
        "Opportunity_Amount__c": _json_number(engagement.opportunity_amount),
        "Status__c": engagement.status.value,
        "SOW_Link__c": engagement.sow_link,
        "Collaboration_Project__c": engagement.collaboration_project,
        "Scoped_Hours__c": _json_number(engagement.scoped_hours),
        "Expected_Start__c": _iso(engagement.expected_start),
        "Expected_Completion__c": _iso(engagement.expected_completion),
        "Approved__c": engagement.approved or None,
        "Approver__c": engagement.approver_id,
        "Project_Owner__c": engagement.project_owner_id,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _json_number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _same(current: Any, wanted: Any) -> bool:
    """Salesforce answers numbers as JSON floats (120.0 for 120) and ids in 18 characters."""
    numbers = (int, float)
    booleans = isinstance(current, bool) or isinstance(wanted, bool)  # bool is an int in Python
    if isinstance(current, numbers) and isinstance(wanted, numbers) and not booleans:
        return Decimal(str(current)) == Decimal(str(wanted))
    return bool(current == wanted)


def _record_url(sf: Any, record_id: str) -> str:
    """The record in Lightning: <instance URL>/lightning/r/<object>/<id>/view."""
    instance = systems().connection(SalesforceConnection).instance_url.rstrip("/")
    instance = instance or f"https://{sf.sf_instance}"
    return f"{instance}/lightning/r/{ENGAGEMENT}/{record_id}/view"


@outside_task("upsert PS engagement")
def ensure_engagement(engagement: Engagement) -> Ref:
    """The opportunity's PS Engagement record with psflow's fields as given (exactly one per
    opportunity, keyed by `Opportunity_Id__c`): one query, then an upsert by that External ID
    only when the record is missing or one of psflow's fields differs. Upsert is Salesforce's
    own idempotent create, so even a retried write cannot make a second record.

    Returns:
        The record; `created` when this call made it.

    Raises:
        PermanentError: Salesforce refused the values (the message names the field).

    Example:
        >>> ensure_engagement.fn(Engagement(name="SOW-2026-041 Acme Corporation",
        ...     opportunity_id="006Dn0000000002IAA"))  # doctest: +SKIP
        Ref(system='Salesforce', kind='PS engagement', ...)
    """
    key = salesforce_engagement_external_id(engagement.opportunity_id)
    wanted = engagement_fields(engagement)
    sf = systems().salesforce()
    with calling(SYSTEM, f"PS engagement of opportunity {key}"):
        rows = sf.query(
            f"SELECT Id, {', '.join(wanted)} FROM {ENGAGEMENT} WHERE {ENGAGEMENT_KEY} = '{key}'"
        )["records"]
        current = rows[0] if rows else None
        record_id = current["Id"] if current else None
        if current is not None and not engagement.status.moves_forward(current["Status__c"]):
            del wanted["Status__c"]  # further along already (a later phase ran), or on hold
        for field in BASELINE_FIELDS:  # an approved change request's since; Initiate's at first
            if current is not None and current.get(field) is not None:
                wanted.pop(field, None)
        if current is None or any(not _same(current.get(f), v) for f, v in wanted.items()):
            # the key is 18 letters and digits (validated above): nothing to URL-encode
            answer = getattr(sf, ENGAGEMENT).upsert(
                f"{ENGAGEMENT_KEY}/{key}", wanted, raw_response=True
            )
            if answer.content:  # 201 created, or 200 updated (API 46.0 on); 204 before that
                record_id = answer.json()["id"]
    return Ref(
        system=SYSTEM,
        kind="PS engagement",
        name=engagement.name,
        url=_record_url(sf, record_id) if record_id else None,
        id=record_id,
        created=current is None,
    )


@read_task("read PS engagement of {opportunity}")
def find_engagement(opportunity: str) -> Engagement | None:
    """The opportunity's PS Engagement record as psflow reads it back (its id, name, status,
    actual start and GitLab project link), or None when Initiate has not made it. One query."""
    key = salesforce_engagement_external_id(opportunity_id(opportunity))
    with calling(SYSTEM, f"PS engagement of opportunity {key}"):
        rows = (
            systems()
            .salesforce()
            .query(
                "SELECT Id, Name, Status__c, Actual_Start__c, Collaboration_Project__c, "
                "Scoped_Hours__c, Hours_Consumed__c, Expected_Start__c, Expected_Completion__c, "
                "Completed__c, Project_Owner__c, Signed_Acceptance__c, "
                f"Passive_Acceptance_Used__c, Sign_Off_Date__c FROM {ENGAGEMENT} "
                f"WHERE {ENGAGEMENT_KEY} = '{key}'"
            )["records"]
        )
    if not rows:
        return None
    row = rows[0]
    return Engagement(
        id=row["Id"],
        name=row["Name"],
        opportunity_id=key,
        status=row["Status__c"],
        actual_start=row["Actual_Start__c"],
        collaboration_project=row["Collaboration_Project__c"],
        scoped_hours=row["Scoped_Hours__c"],
        hours_consumed=row["Hours_Consumed__c"] or 0,
        expected_start=row["Expected_Start__c"],
        expected_completion=row["Expected_Completion__c"],
        completed_on=row["Completed__c"],
        project_owner_id=row["Project_Owner__c"],
        signed_acceptance=bool(row["Signed_Acceptance__c"]),
        passive_acceptance_used=bool(row["Passive_Acceptance_Used__c"]),
        sign_off_date=row["Sign_Off_Date__c"],
    )


@read_task("find engagements {status}")
def find_engagements(status: EngagementStatus) -> list[tuple[str, str]]:
    """(opportunity id, customer) of every PS Engagement in `status`, by opportunity id: one
    query (and its further pages, 2,000 records each)."""
    with calling(SYSTEM, f"PS engagements {status.value}"):
        rows = (
            systems()
            .salesforce()
            .query_all(
                f"SELECT {ENGAGEMENT_KEY}, Opportunity__r.Account.Name FROM {ENGAGEMENT} "
                f"WHERE Status__c = '{status.value}' ORDER BY {ENGAGEMENT_KEY}"
            )["records"]
        )
    return [
        (row[ENGAGEMENT_KEY], (row["Opportunity__r"] or {}).get("Account", {}).get("Name", ""))
        for row in rows
    ]


@outside_task("set PS engagement {status}")
def ensure_engagement_status(
    engagement: Engagement, status: EngagementStatus, actual_start: date | None = None
) -> bool:
    """The PS Engagement's status (and, when given, its Actual Start), written only where they
    differ from the record as this run read it (`find_engagement`) and the status moves forward
    (`EngagementStatus.moves_forward`): True when Salesforce was written. No read of its own."""
    wanted: dict[str, Any] = {"Status__c": status.value}
    current: dict[str, Any] = {"Status__c": engagement.status}
    if actual_start is not None:
        wanted["Actual_Start__c"] = actual_start.isoformat()
        current["Actual_Start__c"] = engagement.actual_start and engagement.actual_start.isoformat()
    if not status.moves_forward(engagement.status):
        del wanted["Status__c"]  # further along already, or on hold
    changed = {name: value for name, value in wanted.items() if current[name] != value}
    if changed:
        with calling(
            SYSTEM, f"PS engagement {engagement.id} of opportunity {engagement.opportunity_id}"
        ):
            systems().salesforce().restful(
                f"sobjects/{ENGAGEMENT}/{engagement.id}", method="PATCH", json=changed
            )
    return bool(changed)


@outside_task("set PS engagement hours consumed {hours}")
def ensure_hours_consumed(engagement: Engagement, hours: Decimal) -> bool:
    """The PS Engagement's Hours Consumed (its Remaining Hours is Salesforce's formula), written
    only when it differs from the record as this run read it: True when Salesforce was written."""
    if Decimal(engagement.hours_consumed) == hours:
        return False
    with calling(SYSTEM, f"hours of PS engagement {engagement.id}"):
        systems().salesforce().restful(
            f"sobjects/{ENGAGEMENT}/{engagement.id}",
            method="PATCH",
            json={"Hours_Consumed__c": _json_number(hours)},
        )
    return True


def _patch_changed(engagement: Engagement, wanted: dict[str, Any], what: str) -> bool:
    """PATCH the fields of `wanted` that differ from the record as this run read it (one write,
    or none): True when Salesforce was written."""
    current = {
        name: _json_number(value) if isinstance(value, Decimal) else value
        for name, value in engagement_values(engagement).items()
    }
    changed = {name: value for name, value in wanted.items() if not _same(current[name], value)}
    if changed:
        with calling(SYSTEM, f"{what} of PS engagement {engagement.id}"):
            systems().salesforce().restful(
                f"sobjects/{ENGAGEMENT}/{engagement.id}", method="PATCH", json=changed
            )
    return bool(changed)


def engagement_values(engagement: Engagement) -> dict[str, Any]:
    """The close-out fields of the record as read (`find_engagement`), by their Salesforce names
    (`engagement.close.completion_problems` checks them)."""
    return {
        "Status__c": engagement.status.value,
        "Actual_Start__c": _iso(engagement.actual_start),
        "Completed__c": _iso(engagement.completed_on),
        "Sign_Off_Date__c": _iso(engagement.sign_off_date),
        "Signed_Acceptance__c": engagement.signed_acceptance,
        "Passive_Acceptance_Used__c": engagement.passive_acceptance_used,
        "Hours_Consumed__c": engagement.hours_consumed,
        "Project_Owner__c": engagement.project_owner_id,
    }


@outside_task("record the sign-off of PS engagement {engagement}")
def ensure_engagement_signed_off(engagement: Engagement, on: date, passive: bool) -> bool:
    """The customer's sign-off on the PS Engagement: Signed Acceptance, its day and whether the
    passive clock gave it, written where they differ (a sign-off recorded already keeps its
    day). True when Salesforce was written."""
    if engagement.signed_acceptance and engagement.sign_off_date is not None:
        return False
    wanted = {
        "Signed_Acceptance__c": True,
        "Sign_Off_Date__c": on.isoformat(),
        "Passive_Acceptance_Used__c": passive,
    }
    return _patch_changed(engagement, wanted, "sign-off")


@outside_task("set PS engagement Completed on {completed_on}")
def ensure_engagement_completed(
    engagement: Engagement, completed_on: date, hours_consumed: Decimal
) -> bool:
    """The PS Engagement Completed, with its completion day and the hours consumed, in one write,
    checked first against the org's rule (`completion_problems`): a missing field is named before
    any write, never a half-closed record. A completed one is left as it is.

    Raises:
        NotReady: naming each close-out field still missing.
    """
    if engagement.status is EngagementStatus.COMPLETED:
        return False
    wanted = {
        "Status__c": EngagementStatus.COMPLETED.value,
        "Completed__c": _iso(engagement.completed_on) or completed_on.isoformat(),
        "Hours_Consumed__c": _json_number(hours_consumed),
    }
    if problems := completion_problems({**engagement_values(engagement), **wanted}):
        raise NotReady(
            engagement.opportunity_id, "Completed", [f"PS Engagement {p}" for p in problems]
        )
    return _patch_changed(engagement, wanted, "completion")


def engagement_ref(engagement: Engagement) -> Ref:
    """The PS Engagement as a Ref written now (its link, where Salesforce gave its id)."""
    sf = systems().salesforce()
    url = _record_url(sf, engagement.id) if engagement.id else None
    name = engagement.name
    return Ref(
        system=SYSTEM, kind="PS engagement", name=name, url=url, id=engagement.id, created=True
    )


@outside_task("re-baseline PS engagement: {scoped_hours} hours until {expected_completion}")
def ensure_engagement_baseline(
    engagement: Engagement, scoped_hours: Decimal, expected_completion: date
) -> bool:
    """The PS Engagement's Scoped Hours and Expected Completion as an approved change request
    sets them, written only where they differ from the record as this run read it: True when
    Salesforce was written."""
    wanted = {
        "Scoped_Hours__c": _json_number(scoped_hours),
        "Expected_Completion__c": expected_completion.isoformat(),
    }
    current = {
        "Scoped_Hours__c": _json_number(engagement.scoped_hours),
        "Expected_Completion__c": _iso(engagement.expected_completion),
    }
    changed = {name: value for name, value in wanted.items() if current[name] != value}
    if changed:
        with calling(SYSTEM, f"baseline of PS engagement {engagement.id}"):
            systems().salesforce().restful(
                f"sobjects/{ENGAGEMENT}/{engagement.id}", method="PATCH", json=changed
            )
    return bool(changed)


# --- from Salesforce records to the domain ---------------------------------------------------------


def _select(*tables: dict[str, str]) -> str:
    return ", ".join(field for table in tables for field in table.values())


def _field(record: dict[str, Any] | None, path: str) -> Any:
    """`Contact.Email` of a record: a relationship without a record is null."""
    for name in path.split("."):
        record = (record or {}).get(name)
    return record


def _read(record: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    return {name: _field(record, path) for name, path in fields.items()}


def _children(record: dict[str, Any], relationship: str) -> list[dict[str, Any]]:
    return (record.get(relationship) or {}).get("records", [])  # no children: null


def _opportunity(record: dict[str, Any], existing_customer: bool | None) -> Opportunity:
    # the values as typed: the model parses them, so a bad one is named like any field
    data = _read(record, _OPPORTUNITY)
    data["account"] = _read(record, _ACCOUNT) | {"existing_customer": existing_customer}
    data["contacts"] = [
        _read(role, _CONTACT) | {"primary": bool(role.get("IsPrimary"))}
        for role in _children(record, "OpportunityContactRoles")
    ]
    data["line_items"] = [
        _read(item, _LINE_ITEM)
        | {"description": item.get("Description") or _field(item, "Product2.Name")}
        for item in _children(record, "OpportunityLineItems")
    ]
    try:
        return Opportunity.model_validate(data)
    except ValidationError as err:
        problems = "\n".join(f"  - {_where(e['loc'], data)}: {e['msg']}" for e in err.errors())
        raise InvalidRecord(
            f"Opportunity {record['Id']} holds data psflow cannot use; fix in Salesforce:\n"
            f"{problems}"
        ) from None


def _where(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    """`('contacts', 0, 'email')` -> `Contact 003….Email`; `('account', 'time_zone')` ->
    `Account.PS_Time_Zone__c`."""
    field = str(loc[0])
    if field == "account":
        return _ACCOUNT.get(str(loc[1]), "Account") if len(loc) >= 2 else "Account"
    if field in _ROWS:
        label, fields = _ROWS[field]
        if len(loc) < 3 or not isinstance(loc[1], int):
            return label
        row = data[field][loc[1]]
        who = row.get("id") or row.get("code") or f"#{loc[1] + 1}"
        return f"{label} {who}.{fields.get(str(loc[2]), str(loc[2])).removeprefix(label + '.')}"
    return _OPPORTUNITY.get(field, field)


def _datetime(value: str) -> datetime:
    # Salesforce writes 2026-11-26T06:27:34.143+0000
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
