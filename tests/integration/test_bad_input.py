"""Bad input written into the sandbox's Salesforce and the cost estimate sheet, as people type it,
then read the way each phase reads it before its first write (`run_pre_initiate`, `run_initiate`):
the opportunity (`get_opportunity`), the phase's readiness gate, and for Initiate the cost estimate.

The property: either a clean error that names the Salesforce field (or the sheet's cell) with zero
writes, or data every later step can use. Values the real Salesforce refuses (a CRLF in an e-mail
field, "NaN" as an amount, the year 9999) are refused by the sandbox's too, as a 400 to the edit.
Full runs of the phases on hostile data that passes: tests/e2e/test_bad_input.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from engagement.cost_estimate import activity_name, prefill
from engagement.keys import (
    Kind,
    drive_name,
    gitlab_group_path,
    gitlab_project_path,
    slack_customer_channel,
)
from engagement.lifecycle import NotReady, initiate_problems, pre_initiate_problems
from engagement.models import Opportunity
from engagement.staffing import StaffingNeed
from sandbox.client import SandboxClient
from tasks.drive import ensure_copy
from tasks.salesforce import InvalidRecord, get_opportunity
from tasks.sheets import ensure_prefilled, get_cost_estimate
from testkit.outside import sheet as worksheet

T = TypeVar("T")
NEGOTIATING, CLOSED_WON = "5-Negotiating", "Closed Won"
LATER = ("6-Verbal", "7-Contracting", CLOSED_WON)  # tasks/clients settings' later stages

# What people type: injection-looking, unicode, control characters, empty, too long.
HOSTILE_TEXT = st.sampled_from(
    [
        "O'Brien & Söhne",
        "'; DROP TABLE Opportunity; --",
        "x' OR '1'='1",
        "../../etc/passwd",
        "<script>alert(1)</script>",
        "{customer} {{company}} ${jndi:ldap://x/a}",
        "Ünïcødé 💥 名前",
        "a\r\nBcc: x@y.example",
        "\u202eevil",
        "   ",
        "",
        "-",
        "x" * 300,
    ]
) | st.text(max_size=60)
HOSTILE_EMAIL = st.sampled_from(
    [
        "a@b.com\r\nBcc: x@y.example",
        "a@b.com\nBcc:x@y.example",
        "a@b.com%0d%0aBcc:x@y.example",
        "a@b.com, x@y.example",
        "Wile <wile@acme.example>",
        '"x"@acme.example',
        "o'brien@acme.example",  # valid
        "wile+ps@acme.example",  # valid
        "ünï@acme.example",
        "a@b",
        "a..b@acme.example",
        "",
    ]
)
AMOUNT = st.sampled_from([-1, 0, 0.001, 1e15, 1e18, "NaN", "Infinity", "1e15", "abc", True, "12"])
DATE = st.sampled_from(
    ["9999-12-31", "4000-12-31", "1900-01-01", "1700-01-01", "2026-02-30", "soon", ""]
) | st.dates().map(str)
# (object, field) -> what may be typed into it
FIELDS: dict[tuple[str, str], st.SearchStrategy[Any]] = {
    ("Account", "Name"): HOSTILE_TEXT,
    ("Account", "PS_Time_Zone__c"): st.sampled_from(["Mars/Olympus", "../UTC", "", "UTC"]),
    ("Account", "PS_Communication_Style__c"): st.sampled_from(["calm;<b>", "direct; formal", ""]),
    ("Contact", "FirstName"): HOSTILE_TEXT,
    ("Contact", "LastName"): HOSTILE_TEXT,
    ("Contact", "Email"): HOSTILE_EMAIL,
    ("Opportunity", "Name"): HOSTILE_TEXT,
    ("Opportunity", "Amount"): AMOUNT,
    ("Opportunity", "CurrencyIsoCode"): st.sampled_from(["XXX", "usd", "", "EUR"]),
    ("Opportunity", "CloseDate"): DATE,
    ("Opportunity", "SOW_Number__c"): HOSTILE_TEXT,
    ("Opportunity", "SOW_Link__c"): st.sampled_from(
        ["javascript:alert(1)", "https://evil.example/document/d/abcdefghijkl/edit", ""]
    ),
    ("Opportunity", "PS_Skills_Required__c"): st.sampled_from(
        ["gitlab-ci:9", "kubernetes", "a:1; a:2", "<script>:5", "terraform:3"]
    ),
    ("Opportunity", "PS_Expected_Start__c"): DATE,
    ("Opportunity", "PS_Expected_Completion__c"): DATE,
    ("OpportunityLineItem", "Description"): HOSTILE_TEXT,
    ("OpportunityLineItem", "Quantity"): AMOUNT,
    ("OpportunityLineItem", "UnitPrice"): AMOUNT,
}
# the words an error names each field by (the model's validators report a window on either end)
NAMED_AS = {
    "PS_Expected_Start__c": ("PS_Expected_Start__c", "PS_Expected_Completion__c"),
    "PS_Expected_Completion__c": ("PS_Expected_Start__c", "PS_Expected_Completion__c"),
    "Name": ("Name", "OpportunityContactRole", "Opportunity Products", "Account"),
}
EDITS = st.lists(
    st.sampled_from(sorted(FIELDS)).flatmap(lambda f: st.tuples(st.just(f), FIELDS[f])),
    min_size=1,
    max_size=3,
    unique_by=lambda edit: edit[0],
)
START, COMPLETION = (
    ("Opportunity", "PS_Expected_Start__c"),
    ("Opportunity", "PS_Expected_Completion__c"),
)
SLACK_CHANNEL = re.compile(r"[a-z0-9_-]{1,80}")
GITLAB_PATH = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,254}")


def fresh_opportunity(sandbox: SandboxClient, stage: str) -> dict[str, Any]:
    """A new opportunity with contacts and line items, in `stage`; its related records' ids."""
    (opportunity,) = sandbox.act("salesforce", "/opportunities/bulk", count=1, details=True)["ids"]
    sandbox.edit("salesforce", f"/sobjects/Opportunity/{opportunity}", StageName=stage)
    record = next(o for o in sandbox.state("salesforce", "Opportunity") if o["Id"] == opportunity)
    roles = [
        r
        for r in sandbox.state("salesforce", "OpportunityContactRole")
        if r["OpportunityId"] == opportunity
    ]
    items = [
        i
        for i in sandbox.state("salesforce", "OpportunityLineItem")
        if i["OpportunityId"] == opportunity
    ]
    return {
        "Opportunity": opportunity,
        "Account": record["AccountId"],
        "Contact": next(r["ContactId"] for r in roles if r["IsPrimary"]),
        "OpportunityLineItem": items[0]["Id"],
    }


def type_in(sandbox: SandboxClient, ids: dict[str, Any], edits: list[Any]) -> list[str]:
    """Make the edits as a person would in Salesforce's UI; returns the fields it kept (the org
    refuses some values outright, as the real one does: those never reach psflow)."""
    kept = []
    for (sobject, field), value in edits:
        path = f"/sobjects/{sobject}/{ids[sobject]}"
        _, refused = attempt(partial(sandbox.edit, "salesforce", path, **{field: value}))
        if refused is None:
            kept.append(field)
            continue
        assert isinstance(refused, httpx.HTTPStatusError), refused
        assert refused.response.status_code == 400, refused.response.text
        note(f"Salesforce refused {sobject}.{field}={value!r}: {refused.response.text}")
    return kept


def attempt(call: Callable[[], T]) -> tuple[T | None, Exception | None]:
    """The call's result, or the clean error it raised (anything else fails the test)."""
    try:
        return call(), None
    except (InvalidRecord, NotReady, httpx.HTTPStatusError) as err:
        return None, err


def before_the_first_write(
    opportunity_id: str, problems: Callable[[Opportunity], list[str]], phase: str
) -> Opportunity:
    """What `run_pre_initiate` / `run_initiate` do before they write anything."""
    opportunity = get_opportunity.fn(opportunity_id)
    if found := problems(opportunity):
        raise NotReady(opportunity.id, phase, found)
    return opportunity


def usable_downstream(opportunity: Opportunity) -> None:
    """What the phase's later steps derive from the record, after writes have begun: each must
    work on whatever the gate lets through, or the run would stop halfway."""
    StaffingNeed.from_opportunity(opportunity)  # the staffing proposal (after the estimate)
    prefill(opportunity)  # the cost estimate's cells
    account = opportunity.account
    assert SLACK_CHANNEL.fullmatch(slack_customer_channel(account.id, account.name))
    assert GITLAB_PATH.fullmatch(gitlab_group_path(account.id, account.name))
    assert GITLAB_PATH.fullmatch(gitlab_project_path(opportunity.id, opportunity.name))
    name = drive_name("Cost Estimate", account.name, opportunity.sow_number)
    assert name.strip()
    assert not set(name) & set("\r\n")
    for contact in opportunity.contacts:  # they end up in mail headers
        assert not set(str(contact.email)) & set("\r\n,;<> ")
        assert not set(contact.name) & set("\r\n")


def assert_named(error: Exception, fields: list[str]) -> None:
    text = str(error)
    assert any(word in text for field in fields for word in NAMED_AS.get(field, (field,))), (
        f"{fields} not named in: {text}"
    )


@pytest.mark.parametrize(
    ("stage", "problems"),
    [
        (NEGOTIATING, lambda o: pre_initiate_problems(o, (NEGOTIATING, *LATER))),
        (CLOSED_WON, lambda o: initiate_problems(o, CLOSED_WON)),
    ],
    ids=["pre-initiate", "initiate"],
)
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=EDITS)
@example(edits=[(START, "2027-01-02"), (COMPLETION, "2027-01-03")])  # a weekend only
@example(edits=[(START, "2027-03-01"), (COMPLETION, "2027-02-01")])  # ends before it starts
@example(edits=[(START, "1700-01-01"), (COMPLETION, "4000-12-31")])  # 2,300 years
@example(edits=[(("Contact", "Email"), "a@b.com\r\nBcc: x@y.example")])
@example(edits=[(("Contact", "Email"), "o'brien@acme.example")])
@example(edits=[(("Opportunity", "Amount"), "NaN"), (("Account", "Name"), "\u202e<b>")])
def test_a_hostile_record_is_refused_naming_the_field_or_usable_by_every_step(
    outside: SandboxClient,
    stage: str,
    problems: Callable[[Opportunity], list[str]],
    edits: list[Any],
) -> None:
    outside.reset()  # each example on a fresh org (edits to an account stay otherwise)
    ids = fresh_opportunity(outside, stage)
    kept = type_in(outside, ids, edits)
    start = outside.last_request_id()
    opportunity, refused = attempt(
        lambda: before_the_first_write(ids["Opportunity"], problems, stage)
    )
    if refused is not None:
        assert kept, f"the untouched record was refused: {refused}"
        assert_named(refused, kept)
    else:
        assert opportunity is not None
        usable_downstream(opportunity)
    assert outside.writes(since=start) == 0


# --- the cost estimate sheet ------------------------------------------------------------------------

CELL = st.sampled_from(
    [-5, 0, 1e15, "NaN", "1e15", "12,5", "abc", "=1/0", "'; DROP", "", " ", True, 40, "40", 2.5]
)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cells=st.dictionaries(
        st.sampled_from(["B6", "B7", "B12", "C12", "C13", "A13", "B4"]),
        CELL,
        min_size=1,
        max_size=3,
    )
)
def test_a_hostile_cost_estimate_is_refused_naming_the_cell_or_read_complete(
    outside: SandboxClient, cells: dict[str, Any]
) -> None:
    """What Initiate's cost estimate gate reads, after the engagement manager typed into it."""
    outside.reset()
    ids = fresh_opportunity(outside, CLOSED_WON)
    opportunity = get_opportunity.fn(ids["Opportunity"])
    sheet = ensure_copy.fn("cost-estimate", Kind.COST_ESTIMATE, opportunity.id, "Cost Estimate", ())
    ensure_prefilled.fn(sheet.id, prefill(opportunity))
    estimate_tab = worksheet(sheet.id, "Estimate")
    for cell, value in cells.items():
        estimate_tab.update([[value]], cell)
    start = outside.last_request_id()
    refused = None
    try:
        estimate = get_cost_estimate.fn(sheet.id, opportunity.id)
    except ValueError as err:  # the gate's clean error: it names a cell a person typed into
        refused = str(err)
    if refused is not None:
        assert any(f"Estimate!{cell}" in refused for cell in cells), refused
    else:
        sold = [activity_name(item) for item in opportunity.line_items]
        for problem in estimate.missing(sold):  # what the gate lists: each names its activity
            assert problem.startswith(
                ("revenue", "currency", "effort of", "activity", "activities")
            )
        assert estimate.revenue is None or estimate.revenue > 0
    assert outside.writes(since=start) == 0
