"""Control routes under `/_sandbox/salesforce/`: what the sales team and admins do in the
Salesforce UI. They change records directly (not through the API, so the request log stays
psflow's own) with the same validation and modstamps as a UI edit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from sandbox import seed
from sandbox.core import Sandbox, SandboxDep
from sandbox.salesforce import history, records
from sandbox.salesforce.common import SYSTEM, SalesforceError, new_record_id
from sandbox.salesforce.schema import SObject, normalize_id, sobject

router = APIRouter(tags=["salesforce"])

Json = dict[str, Any]


def _fetch(sb: Sandbox) -> records.Fetch:
    return lambda type_, record_id: sb.store.get(SYSTEM, type_, record_id)


def _find(sb: Sandbox, type_: str, raw_id: str) -> tuple[SObject, Json]:
    obj = sobject(type_)
    if obj is None:
        raise HTTPException(404, f"no sObject type {type_!r}")
    record = sb.store.get(SYSTEM, obj.name, normalize_id(raw_id) or raw_id)
    if record is None or record.get("IsDeleted"):
        raise HTTPException(404, f"no {obj.name} {raw_id}")
    return obj, record


def _edit(sb: Sandbox, obj: SObject, record: Json, changes: Json, user_id: str) -> Json:
    """Apply a person's edit: validated like an API update, stamped with the person's id."""
    try:
        values = records.coerce(obj, changes, _fetch(sb), creating=False)
        updated = records.apply(obj, dict(record), values, _fetch(sb), sb.now(), user_id)
        records.check(obj, updated, sb.store.table(SYSTEM, obj.name).values())
    except SalesforceError as err:
        raise HTTPException(400, f"{err.code}: {err.message}") from err
    history.track(sb, obj, record, updated, user_id)
    return sb.store.put(SYSTEM, obj.name, record["Id"], updated)


class StageMove(BaseModel):
    stage: str = Field(description=f"one of {', '.join(seed.STAGES)}")


@router.post("/opportunities/{opportunity_id}/stage")
async def move_stage(sb: SandboxDep, opportunity_id: str, move: StageMove) -> Json:
    """The opportunity's owner moves it to another stage (e.g. "5-Negotiating", "Closed Won")."""
    if move.stage not in seed.STAGES:
        raise HTTPException(422, f"unknown stage {move.stage!r}; stages: {list(seed.STAGES)}")
    obj, opportunity = _find(sb, "Opportunity", opportunity_id)
    return _edit(sb, obj, opportunity, {"StageName": move.stage}, opportunity["OwnerId"])


@router.patch("/sobjects/{type_}/{record_id}")
async def edit_record(sb: SandboxDep, type_: str, record_id: str, changes: dict[str, Any]) -> Json:
    """Someone edits a record in the UI, e.g. {"Email": null} on a contact."""
    obj, record = _find(sb, type_, record_id)
    return _edit(sb, obj, record, changes, record.get("OwnerId") or record["LastModifiedById"])


class BulkOpportunities(BaseModel):
    count: int = Field(ge=1, le=100_000, description="how many opportunities to create")
    stage: str = Field("4-Proposal", description="their stage")
    details: bool = Field(
        False, description="also their contact roles and SOW line items, ready for the phases"
    )
    created_days_ago: int = Field(
        0,
        ge=0,
        description="their CreatedDate this many days back, as a data import sets it (Salesforce's "
        "'Set Audit Fields upon Record Creation'): the stage watcher then sees no new record",
    )


_SKILL_SETS = tuple(seed.skills_cell(opp.skills) for opp in seed.OPPORTUNITIES)
_OWNERS = tuple(seed.user_id(seed.staff(key)) for key in ("dana_cole", "sam_patel"))
_MANAGERS = tuple(seed.user_id(seed.staff(key)) for key in ("marcus_webb", "elena_rossi"))
# Bulk batches number their ids in blocks of this size, one block per batch, far above the
# counter the API's creates use (it starts at 1000); so a batch reserves its ids in one step.
_BULK_BLOCK = 1_000_000


@router.post("/opportunities/bulk")
async def bulk_opportunities(sb: SandboxDep, bulk: BulkOpportunities) -> Json:
    """Sales fills the pipeline: `count` realistic opportunities across the seeded accounts, for
    benchmarks. Records are built directly, without per-record validation, to stay fast."""
    if bulk.stage not in seed.STAGES:
        raise HTTPException(422, f"unknown stage {bulk.stage!r}; stages: {list(seed.STAGES)}")
    obj = sobject("Opportunity")
    assert obj is not None
    now, today = sb.now() - timedelta(days=bulk.created_days_ago), seed.seed_day()
    first = sb.store.next_id("salesforce.opportunity-bulk") * _BULK_BLOCK
    fetch = _fetch(sb)
    ids = []
    for i in range(bulk.count):
        n = first + i
        account = seed.ACCOUNTS[i % len(seed.ACCOUNTS)]
        start = today + timedelta(days=14 + (i * 7) % 120)
        sow = f"SOW-2027-{n:05d}"
        record = records.new_record(
            obj, new_record_id(sb, seed.OPPORTUNITY, n), now, _OWNERS[i % 2]
        )
        values = {
            "Name": f"{account.name} – Engagement {i + 1}",
            "AccountId": account.id,
            "StageName": bulk.stage,
            "Amount": float(12_000 + (i * 7_919) % 88_000),
            "CurrencyIsoCode": "USD",
            "CloseDate": (start - timedelta(days=7)).isoformat(),
            "Type": "New Customer",
            "SOW_Number__c": sow,
            "SOW_Link__c": seed.sow_link(sow),
            "PS_Engagement_Manager__c": _MANAGERS[i % 2],
            "PS_Skills_Required__c": _SKILL_SETS[i % len(_SKILL_SETS)],
            "PS_Expected_Start__c": start.isoformat(),
            "PS_Expected_Completion__c": (start + timedelta(weeks=4 + i % 9)).isoformat(),
        }
        records.apply(obj, record, values, fetch, now, _OWNERS[i % 2])
        sb.store.put(SYSTEM, obj.name, record["Id"], record)
        ids.append(record["Id"])
        if bulk.details:
            _add_details(sb, record, account, seed.OPPORTUNITIES[1 + i % 5], n, now)
    return {"count": len(ids), "ids": ids}


def _add_details(
    sb: Sandbox,
    opportunity: Json,
    account: seed.Account,
    like: seed.Opportunity,
    n: int,
    now: Any,
) -> None:
    """Contact roles for the account's contacts and the line items of a seeded opportunity."""
    contacts = {c["Email"]: c["Id"] for c in sb.store.table(SYSTEM, "Contact").values()}
    products = {p["ProductCode"]: p["Id"] for p in sb.store.table(SYSTEM, "Product2").values()}
    owner = opportunity["OwnerId"]
    for j, contact in enumerate(account.contacts):
        obj = sobject("OpportunityContactRole")
        assert obj is not None
        role = records.new_record(obj, new_record_id(sb, seed.CONTACT_ROLE, n * 8 + j), now, owner)
        values = {
            "OpportunityId": opportunity["Id"],
            "ContactId": contacts[contact.email],
            "Role": contact.role,
            "IsPrimary": contact.primary,
        }
        records.apply(obj, role, values, _fetch(sb), now, owner)
        sb.store.put(SYSTEM, obj.name, role["Id"], role)
    for j, item in enumerate(like.line_items):
        obj = sobject("OpportunityLineItem")
        assert obj is not None
        line = records.new_record(obj, new_record_id(sb, seed.LINE_ITEM, n * 8 + j), now, owner)
        values = {
            "OpportunityId": opportunity["Id"],
            "Product2Id": products[item.product],
            "Description": item.description,
            "Quantity": float(item.quantity),
            "UnitPrice": float(item.unit_price),
        }
        records.apply(obj, line, values, _fetch(sb), now, owner)
        sb.store.put(SYSTEM, obj.name, line["Id"], line)
