"""Account memberships and their cost rates: what an hour of each person costs the PS team.

As published in Kantata's API reference (developer.kantata.com, "Account Memberships" and "Cost
Rates", read in the public per-tag copies api-evangelist/mavenlink
openapi/mavenlink-account-memberships-api-openapi.yml and mavenlink-cost-rates-api-openapi.yml):
- "Each user on an account will have an account membership"; its listing filters `by_user_id`
  and `with_user_ids` ("'1,2,3'"), and `include=cost_rates` "retrieves all the cost rates in
  different currencies for the user this account membership is for" (`cost_rate_ids`);
- a cost rate "represents the hourly cost for an account member, specified in a specific
  currency": `account_membership_id`, `currency` and `amount_in_subunits` are required; "if a cost
  rate already exists for the specified account membership and currency, it will be overridden,
  effectively making this an update request as well"; "updating a cost rate will set the cost
  rate for future work. Existing time entries will not be affected."

What the reference leaves unsaid, and the sandbox's choice: a time entry's `cost_rate_in_cents`
is its person's cost rate in the project's currency when the entry is created (null without
one), and stays as it was when the rate changes later; memberships are made with their users
(the seed's), none is disabled.
"""

from __future__ import annotations

import re

from starlette.datastructures import QueryParams

from sandbox.core import Json, Sandbox
from sandbox.kit import Problems, Resource, id_list
from sandbox.mavenlink.api import (
    ACCOUNT_ID,
    NAME,
    as_int,
    belongs_to,
    blank,
    has_many,
    put_new,
    table,
    touch,
)


def new_membership(sb: Sandbox, user: Json) -> Json:
    return put_new(
        sb,
        "account_memberships",
        {"user_id": user["id"], "account_id": ACCOUNT_ID, "disabled_at": None},
    )


def _memberships(sb: Sandbox, q: QueryParams, rows: list[Json]) -> list[Json]:
    if (user := q.get("by_user_id")) is not None:
        rows = [m for m in rows if m["user_id"] == user]
    if (users := id_list(q.get("with_user_ids"))) is not None:
        rows = [m for m in rows if m["user_id"] in users]
    return rows


ACCOUNT_MEMBERSHIPS = Resource(
    "account_memberships",
    "account_membership",
    "Account Membership",
    filters=(_memberships,),
    order="created_at:desc",
    includes={
        "user": belongs_to("user_id", "users"),
        "cost_rates": has_many("cost_rate_ids", "cost_rates", "account_membership_id"),
    },
)


def cost_rate(sb: Sandbox, user_id: str, currency: str) -> int | None:
    """The person's hourly cost in `currency`'s subunits, or None."""
    members = {
        m["id"] for m in table(sb, "account_memberships").values() if m["user_id"] == user_id
    }
    return next(
        (
            r["amount_in_subunits"]
            for r in table(sb, "cost_rates").values()
            if r["account_membership_id"] in members and r["currency"] == currency
        ),
        None,
    )


def _check_rate(sb: Sandbox, data: Json, current: Json | None, problems: Problems) -> Json:
    out: Json = {}
    if current is None:
        membership = str(data.get("account_membership_id") or "")
        if sb.store.get(NAME, "account_memberships", membership) is None:
            problems.append(("account_membership_id", "Account membership can't be blank"))
        out["account_membership_id"] = membership
        currency = str(data.get("currency") or "").upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            problems.append(("currency", "Currency is not a valid ISO 4217 code"))
        out["currency"] = currency
    if current is None or "amount_in_subunits" in data:
        if data.get("amount_in_subunits") in (None, ""):
            problems.append(blank("amount_in_subunits"))
        else:
            amount = as_int(data["amount_in_subunits"], "amount_in_subunits", problems)
            if amount is not None and amount < 0:
                problems.append(("amount_in_subunits", "Amount must be 0 or more"))
            out["amount_in_subunits"] = amount
    return out


def set_cost_rate(sb: Sandbox, fields: Json, data: Json | None = None) -> Json:
    """A create overrides the membership's rate in that currency, if it has one."""
    for rate in table(sb, "cost_rates").values():
        if (rate["account_membership_id"], rate["currency"]) == (
            fields["account_membership_id"],
            fields["currency"],
        ):
            rate["amount_in_subunits"] = fields["amount_in_subunits"]
            return touch(sb, "cost_rates", rate)
    return put_new(sb, "cost_rates", dict(fields))


def _update_rate(sb: Sandbox, rate: Json, fields: Json, data: Json) -> Json:
    rate.update(fields)
    return touch(sb, "cost_rates", rate)


COST_RATES = Resource(
    "cost_rates",
    "cost_rate",
    "Cost Rate",
    includes={"account_membership": belongs_to("account_membership_id", "account_memberships")},
    validate=_check_rate,
    create=set_cost_rate,
    update=_update_rate,
)

RESOURCES = (ACCOUNT_MEMBERSHIPS, COST_RATES)
