"""Opportunities and accounts for the tests and the benchmarks, each kind from one default with
keyword overrides.

- As psflow's domain models (`opportunity`, `account`): the seed's "Acme – CI/CD Modernisation"
  with fixed dates, so pure tests need no clock; `*_fields` are the same as the Salesforce-shaped
  values the models parse (strings, semicolon lists, dicts), for tests of that parsing.
- As psflow's Salesforce task reads a seeded one (`from_seed`); as Salesforce's API creates one
  (`opportunity_record`).
- In the sandbox (`opportunities`, `new_opportunity`), through its control API: fresh ids, so
  Prefect has seen no event about them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engagement.models import Account, Opportunity, SowActivity
from sandbox import seed
from sandbox.client import SandboxClient

# Ids as the seed builds them (sandbox/seed.py sfid), written out: tests of the id checksum use them
OPPORTUNITY_ID = "006Dn0000000002IAA"
ACCOUNT_ID = "001Dn0000000001IAA"
SOW_LINK = "https://docs.google.com/document/d/1sowabcdef0123456789abcdef0123456789abcd/edit"


def account_fields(**changes: Any) -> dict[str, Any]:
    """Acme, as an Account's Salesforce-shaped fields."""
    return {
        "id": ACCOUNT_ID,
        "name": "Acme Corporation",
        "time_zone": "America/Chicago",
        "communication_style": "direct; hands-on",
    } | changes


def contact_fields(**changes: Any) -> dict[str, Any]:
    """Acme's primary contact, as a Contact's fields."""
    return {
        "first_name": "Wile",
        "last_name": "Coyote",
        "email": "wile.coyote@acme.example",
        "title": "VP Engineering",
        "role": "Decision Maker",
        "primary": True,
    } | changes


def opportunity_fields(**changes: Any) -> dict[str, Any]:
    """Acme – CI/CD Modernisation in Negotiating, complete, as an Opportunity's fields."""
    return {
        "id": OPPORTUNITY_ID,
        "name": "Acme – CI/CD Modernisation",
        "account": account_fields(),
        "stage": "5-Negotiating",
        "amount": "42000",
        "currency": "USD",
        "close_date": "2026-03-31",
        "sow_number": "SOW-2026-041",
        "sow_link": SOW_LINK,
        "engagement_manager_email": "marcus.webb@northwind.example",
        "required_skills": "gitlab-ci:4; kubernetes:3",
        "expected_start": "2026-04-06",
        "expected_completion": "2026-06-01",
        "contacts": [
            contact_fields(),
            contact_fields(first_name="Road", email="road@acme.example", primary=False),
        ],
        "line_items": [
            {"code": "PS-CICD", "description": "CI/CD pipeline design", "quantity": 80},
            {"code": "PS-K8S", "description": "Kubernetes runners", "quantity": 10, "unit": "days"},
        ],
    } | changes


def account(**changes: Any) -> Account:
    """Acme (`account_fields`), with `changes`."""
    return Account.model_validate(account_fields(**changes))


def opportunity(**changes: Any) -> Opportunity:
    """Acme – CI/CD Modernisation (`opportunity_fields`), with `changes` (models or fields)."""
    return Opportunity.model_validate(opportunity_fields(**changes))


def opportunity_record(**fields: Any) -> dict[str, Any]:
    """An Opportunity as it is created through Salesforce's API: only the required fields, Acme's,
    no contact roles or line items."""
    return {
        "Name": "Bare",
        "StageName": "4-Proposal",
        "CloseDate": "2026-12-31",
        "Amount": 1000,
        "AccountId": ACCOUNT_ID,
    } | fields


def from_seed(seeded: seed.Opportunity, **changes: Any) -> Opportunity:
    """A seeded opportunity as psflow's Salesforce task reads it (its dates from the seed's day),
    with `changes`."""
    start = seed.day(seeded.start_in_days)
    fields: dict[str, Any] = {
        "id": seeded.id,
        "name": seeded.name,
        "account": Account(
            id=seeded.account.id,
            name=seeded.account.name,
            time_zone=seeded.account.time_zone,
            communication_style=seeded.account.communication,
        ),
        "stage": seeded.stage,
        "amount": Decimal(str(seeded.amount)),
        "currency": seeded.currency,
        "close_date": start,
        "sow_number": seeded.sow_number,
        "required_skills": seeded.skills,
        "expected_start": start,
        "expected_completion": seed.day(seeded.start_in_days + 7 * seeded.weeks),
        "line_items": tuple(
            SowActivity(
                code=item.product,
                description=item.description,
                quantity=Decimal(str(item.quantity)),
                unit_price=Decimal(str(item.unit_price)),
            )
            for item in seeded.line_items
        ),
    }
    return Opportunity(**(fields | changes))


def opportunities(
    sandbox: SandboxClient,
    count: int = 1,
    amount: float | None = 75_000,
    stage: str | None = None,
    imported: bool = False,
    details: bool = True,
) -> list[str]:
    """`count` fresh opportunities in the sandbox, across its seeded accounts in turn (Acme first,
    then Globex, …): ready for the phases (contacts and SOW activities) unless not `details`, of
    `amount` each (None: the sandbox's own amounts), in `stage` (None: 4-Proposal). `imported`:
    created a week ago without a stage-history row, as a data import does, so the stage watcher
    sees no move and starts nothing for them."""
    arguments: dict[str, Any] = {"count": count, "details": details}
    if stage is not None:
        arguments["stage"] = stage
    if imported:
        arguments["created_days_ago"] = 7
    created = [str(i) for i in sandbox.act("salesforce", "/opportunities/bulk", **arguments)["ids"]]
    if amount is not None:
        for opportunity in created:
            sandbox.edit("salesforce", f"/sobjects/Opportunity/{opportunity}", Amount=amount)
    return created


def new_opportunity(sandbox: SandboxClient, amount: float = 75_000) -> str:
    """A fresh opportunity of Acme's in 4-Proposal (ids are never reused, so Prefect has seen no
    event about it); 75,000 is over $50k: a TA review."""
    (opportunity,) = opportunities(sandbox, amount=amount)
    return opportunity
