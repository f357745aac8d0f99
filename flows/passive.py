"""The passive clock: what the customer did not answer in five business days, accepted.

`passive-acceptance` runs every hour (a customer's day ends at their midnight). One listing of the
activity requests waiting (their label) and one of the sign-offs waiting where the SOW has
passive-acceptance language; then a read of each one's sent note. Each whose fifth business day
has ended in the customer's time zone, with no acceptance and no open question, is accepted
passively (Validate's `passive`) or signed off passively (Close's `passive_sign_off`). An
engagement that fails is reported and the others go on.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State

from engagement.keys import Kind
from engagement.validate import REQUESTED
from flows.close import passive_sign_off
from flows.validate import passive
from tasks.clients import systems
from tasks.gitlab import find_keyed_issues


@flow(name="passive-acceptance", flow_run_name="passive acceptance")
def passive_acceptance() -> State[Any]:
    """Every request whose fifth business day has ended, with no acceptance and no open question,
    accepted passively: the activities, then the sign-offs."""
    now = systems().clock().now()
    group = systems().settings.customers_group
    waiting = find_keyed_issues(group, Kind.ACTIVITY_ISSUE, "all", label=REQUESTED)
    signing = find_keyed_issues(group, Kind.SIGN_OFF_ISSUE, "all", label=REQUESTED)
    by_opportunity: dict[str, list[str]] = {}
    for issue in waiting:
        by_opportunity.setdefault(issue.key.record_id, []).append(str(issue.key.part))
    accepted, signed, failed = [], [], []
    for opportunity_id, codes in sorted(by_opportunity.items()):
        try:
            accepted.extend(passive(opportunity_id, codes, now))
        except Exception as error:  # one engagement's trouble holds up no other's clock
            get_run_logger().error("passive acceptance of %s failed: %s", opportunity_id, error)
            failed.append(f"{opportunity_id} ({error})")
    for opportunity_id in sorted({issue.key.record_id for issue in signing}):
        try:
            if passive_sign_off(opportunity_id, now):
                signed.append(opportunity_id)
        except Exception as error:
            get_run_logger().error("passive sign-off of %s failed: %s", opportunity_id, error)
            failed.append(f"{opportunity_id} ({error})")
    message = (
        f"{len(accepted)} accepted passively, of {len(waiting)} waiting; "
        f"{len(signed)} signed off passively, of {len(signing)} waiting"
    )
    if failed:  # what failed and why, for the person who reads the run in the UI
        return Failed(message=f"{message}; failed for {'; '.join(failed)}")
    return Completed(message=message)
