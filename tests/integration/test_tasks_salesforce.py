"""psflow's Salesforce tasks against the sandbox, through simple-salesforce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engagement.lifecycle import Transition, transition
from sandbox import seed
from sandbox.client import SandboxClient
from tasks.calls import PermanentError
from tasks.salesforce import (
    InvalidRecord,
    ensure_opportunity_fields,
    find_stage_changes,
    get_opportunity,
)

ACME_NEW = seed.OPPORTUNITIES[1]


def test_get_opportunity_reads_account_contacts_and_activities(outside: SandboxClient) -> None:
    opportunity = get_opportunity.fn(ACME_NEW.id)
    assert opportunity.id == ACME_NEW.id
    assert opportunity.account.name == "Acme Corporation"
    assert opportunity.account.time_zone == "America/Chicago"
    assert opportunity.account.existing_customer  # Acme had the 2025 migration
    assert opportunity.engagement_manager_email == "marcus.webb@northwind.example"
    assert opportunity.required_skills == {"gitlab-ci": 4, "kubernetes": 3}
    assert [c.email for c in opportunity.contacts if c.primary] == ["wile.coyote@acme.example"]
    assert [(a.code, a.quantity) for a in opportunity.line_items] == [
        ("PS-CICD", 80),
        ("PS-K8S", 100),
    ]
    assert opportunity.sow_document_id == seed.sow_document_id(ACME_NEW.sow_number)
    assert outside.writes() == 0


def test_a_new_customer_is_not_existing(outside: SandboxClient) -> None:
    assert not get_opportunity.fn(seed.OPPORTUNITIES[2].id).account.existing_customer


@pytest.mark.parametrize("bad", ["", "006", "001Dn0000000001IAA", "006Dn0000000002XXX", "'; --"])
def test_a_malformed_id_is_refused_before_any_request(outside: SandboxClient, bad: str) -> None:
    with pytest.raises(ValueError, match="opportunity_id"):
        get_opportunity.fn(bad)
    assert outside.requests() == []


def test_an_unknown_opportunity_is_a_permanent_error_naming_it(outside: SandboxClient) -> None:
    missing = seed.sfid(seed.OPPORTUNITY, 999)
    with pytest.raises(PermanentError, match=f"Salesforce: opportunity {missing}: not found"):
        get_opportunity.fn(missing)


def test_bad_data_in_salesforce_names_the_record_and_field(outside: SandboxClient) -> None:
    contact_id = seed.sfid(seed.CONTACT, 2)  # Acme's second contact
    outside.edit("salesforce", f"/sobjects/Contact/{contact_id}", Email=None)
    outside.edit("salesforce", f"/sobjects/Account/{seed.ACME.id}", PS_Time_Zone__c="Mars/Base")
    with pytest.raises(InvalidRecord) as err:
        get_opportunity.fn(ACME_NEW.id)
    message = str(err.value)
    assert f"Contact {contact_id}.Email" in message
    assert "Account.PS_Time_Zone__c" in message
    assert outside.writes() == 0


def test_stage_changes_since_a_moment_in_one_query(outside: SandboxClient) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    outside.act("salesforce", f"/opportunities/{ACME_NEW.id}/stage", stage="5-Negotiating")
    outside.act("salesforce", f"/opportunities/{ACME_NEW.id}/stage", stage="Closed Won")
    outside.clear_requests()

    changes = find_stage_changes.fn(before)
    assert [(c.old_stage, c.new_stage) for c in changes] == [
        ("4-Proposal", "5-Negotiating"),
        ("5-Negotiating", "Closed Won"),
    ]
    assert {(c.opportunity_id, c.customer) for c in changes} == {(ACME_NEW.id, "Acme Corporation")}
    assert [
        transition(c, negotiating="5-Negotiating", closed_won="Closed Won", closed_lost="x")
        for c in changes
    ] == [Transition.NEGOTIATING, Transition.CLOSED_WON]
    assert len(outside.requests()) == 1
    # whole seconds in SOQL: the watcher overlaps its window anyway
    assert find_stage_changes.fn(changes[-1].changed_at + timedelta(seconds=1)) == []


def test_opportunity_fields_are_written_once(outside: SandboxClient) -> None:
    link = "https://docs.google.com/spreadsheets/d/abc/edit"
    fields = {"Cost_Estimate_Link__c": link, "PS_TA_Review_Required__c": True}
    assert ensure_opportunity_fields.fn(ACME_NEW.id, fields) is True
    assert ensure_opportunity_fields.fn(ACME_NEW.id, fields) is False
    assert outside.writes(system="salesforce") == 1
    (row,) = [o for o in outside.state("salesforce", "Opportunity") if o["Id"] == ACME_NEW.id]
    assert row["Cost_Estimate_Link__c"] == link
