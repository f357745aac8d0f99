"""The lifecycle's event grammar: the one place that names psflow's events and resources.

Every event names its engagement's opportunity as the resource (`ps.opportunity.<id>`, with the id
also as the label `ps.opportunity_id`, so a trigger can template it into a parameter); a phase is a
related resource (`ps.phase.<name>`). Triggers in prefect.yaml and the local serve path are both built
from here, so the demo and production cannot drift apart.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from engagement.lifecycle import Transition

OPPORTUNITY_NEGOTIATING = "ps.opportunity.negotiating"
OPPORTUNITY_AWAITING_SIGNATURE = "ps.opportunity.awaiting-signature"
OPPORTUNITY_CLOSED_WON = "ps.opportunity.closed-won"
OPPORTUNITY_CLOSED_LOST = "ps.opportunity.closed-lost"
OPPORTUNITY_WITHDRAWN = "ps.opportunity.withdrawn"
PHASE_COMPLETED = "ps.phase.completed"
ACTIVITY_COMPLETED = "ps.activity.completed"  # its GitLab issue closed
ACTIVITY_ACCEPTED = "ps.activity.accepted"
CHANGE_REQUEST_APPROVED = "ps.change-request.approved"
EMAIL_REPLIED = "ps.email.replied"  # an answer to a psflow e-mail that waits for one
ENGAGEMENT_SIGNED_OFF = "ps.engagement.signed-off"  # the customer's sign-off (Close goes on)

# The event each stage transition emits.
TRANSITION_EVENTS = {
    Transition.NEGOTIATING: OPPORTUNITY_NEGOTIATING,
    Transition.AWAITING_SIGNATURE: OPPORTUNITY_AWAITING_SIGNATURE,
    Transition.CLOSED_WON: OPPORTUNITY_CLOSED_WON,
    Transition.CLOSED_LOST: OPPORTUNITY_CLOSED_LOST,
    Transition.WITHDRAWN: OPPORTUNITY_WITHDRAWN,
}

OPPORTUNITY_RESOURCE_PREFIX = "ps.opportunity."
OPPORTUNITY_ID_LABEL = "ps.opportunity_id"
CUSTOMER_LABEL = "ps.customer"
PHASE_RESOURCE_PREFIX = "ps.phase."

# Events with the same natural key get the same id, and Prefect's trigger service ignores an event id
# it has already seen: a repeated poll or a second watcher cannot start a phase twice.
_EVENT_NAMESPACE = uuid.UUID("5b3c0f4e-8a55-4c53-9d7a-2f1a3c7e9b10")


class Phase(StrEnum):
    PRE_INITIATE = "pre-initiate"
    AWAITING_SIGNATURE = "awaiting-signature"  # the checks before the SOW is signed
    RELEASE = "release"  # what a lost or withdrawn deal held, released
    INITIATE = "initiate"
    PLAN = "plan"
    EXECUTE = "execute"
    CHANGE_REQUEST = "change-request"
    VALIDATE = "validate"
    CLOSE = "close"


def opportunity_resource(
    opportunity_id: str, name: str | None = None, customer: str | None = None
) -> dict[str, str]:
    resource = {
        "prefect.resource.id": f"{OPPORTUNITY_RESOURCE_PREFIX}{opportunity_id}",
        OPPORTUNITY_ID_LABEL: opportunity_id,
        CUSTOMER_LABEL: customer or "",
    }
    if name:
        resource["prefect.resource.name"] = name
    return resource


def phase_resource(phase: Phase) -> dict[str, str]:
    return {
        "prefect.resource.id": f"{PHASE_RESOURCE_PREFIX}{phase}",
        "prefect.resource.role": "phase",
    }


def event_id(event: str, key: str) -> uuid.UUID:
    """The id of the event `event` about `key` (e.g. a Salesforce stage-history row id)."""
    return uuid.uuid5(_EVENT_NAMESPACE, f"{event}:{key}")


def event_kwargs(
    event: str,
    opportunity_id: str,
    key: str,
    *,
    name: str | None = None,
    customer: str | None = None,
    phase: Phase | None = None,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `prefect.events.emit_event` for one lifecycle event."""
    return {
        "event": event,
        "resource": opportunity_resource(opportunity_id, name, customer),
        "related": [phase_resource(phase)] if phase else [],
        "payload": payload or {},
        "id": event_id(event, key),
    }
