"""Field history tracking: Salesforce writes an OpportunityFieldHistory row for every change of a
tracked field, whoever made it (the API, a person in the UI). The stage watcher reads them."""

from __future__ import annotations

from sandbox.core import Json, Sandbox
from sandbox.salesforce.common import SYSTEM, new_record_id
from sandbox.salesforce.schema import HISTORY_PREFIX, TRACKED_OPPORTUNITY_FIELDS, SObject


def track(sb: Sandbox, obj: SObject, before: Json, after: Json, user_id: str) -> None:
    if obj.name != "Opportunity":
        return
    for field in TRACKED_OPPORTUNITY_FIELDS:
        old, new = before.get(field), after.get(field)
        if old == new:
            continue
        row_id = new_record_id(
            sb, HISTORY_PREFIX, sb.store.next_id("salesforce.OpportunityFieldHistory")
        )
        sb.store.put(
            SYSTEM,
            "OpportunityFieldHistory",
            row_id,
            {
                "Id": row_id,
                "IsDeleted": False,
                "OpportunityId": after["Id"],
                "CreatedById": user_id,
                "CreatedDate": after["LastModifiedDate"],
                "Field": field,
                "OldValue": old,
                "NewValue": new,
            },
        )
