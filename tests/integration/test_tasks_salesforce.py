"""psflow's Salesforce tasks against the sandbox, through simple-salesforce."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from engagement.lifecycle import NotReady, Transition, transition
from engagement.models import Engagement, EngagementStatus
from engagement.refs import Ref
from sandbox import seed
from sandbox.client import SandboxClient
from tasks.calls import PermanentError, TransientError
from tasks.clients import systems
from tasks.salesforce import (
    InvalidRecord,
    ensure_cost_estimate_linked,
    ensure_engagement,
    ensure_engagement_baseline,
    ensure_engagement_completed,
    ensure_engagement_signed_off,
    ensure_engagement_status,
    ensure_hours_consumed,
    find_engagement,
    find_engagements,
    find_stage_changes,
    get_opportunity,
    get_users,
)
from testkit.factories import opportunity_record

ACME_NEW = seed.OPPORTUNITIES[1]


def test_get_opportunity_reads_account_contacts_and_activities(outside: SandboxClient) -> None:
    opportunity = get_opportunity.fn(ACME_NEW.id, customer_history=True)
    assert opportunity.id == ACME_NEW.id
    assert opportunity.account.name == "Acme Corporation"
    assert opportunity.account.time_zone == "America/Chicago"
    assert opportunity.account.country == "US"  # BillingCountryCode: whose holidays count
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
    # two queries: the opportunity with its children (subqueries), its account's engagements
    assert len(outside.requests(system="salesforce")) == 2


def test_an_opportunity_without_contacts_or_activities_reads_as_empty(
    outside: SandboxClient,
) -> None:
    created = systems().salesforce().Opportunity.create(opportunity_record())
    opportunity = get_opportunity.fn(created["id"])
    assert (opportunity.contacts, opportunity.line_items) == ((), ())


def test_a_new_customer_is_not_existing(outside: SandboxClient) -> None:
    new = get_opportunity.fn(seed.OPPORTUNITIES[2].id, customer_history=True)
    assert new.account.existing_customer is False


def test_the_customers_history_is_read_only_when_asked(outside: SandboxClient) -> None:
    opportunity = get_opportunity.fn(ACME_NEW.id)
    assert opportunity.account.existing_customer is None  # not known, not guessed
    assert len(outside.requests(system="salesforce")) == 1


def test_an_account_without_a_billing_country_has_no_public_holidays(
    outside: SandboxClient,
) -> None:
    outside.edit("salesforce", f"/sobjects/Account/{seed.ACME.id}", BillingCountryCode=None)
    assert get_opportunity.fn(ACME_NEW.id).account.country is None


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


def test_stage_changes_since_a_moment_in_two_queries(outside: SandboxClient) -> None:
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
    assert len(outside.requests()) == 2  # the stage history, the opportunities created since
    # whole seconds in SOQL: the watcher overlaps its window anyway
    assert find_stage_changes.fn(changes[-1].changed_at + timedelta(seconds=1)) == []


def test_an_opportunity_created_in_a_stage_is_a_change_into_it(outside: SandboxClient) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    sf = systems().salesforce()
    renewal = sf.Opportunity.create(opportunity_record(Name="Renewal", StageName="Closed Won"))[
        "id"
    ]
    prospect = sf.Opportunity.create(opportunity_record(Name="Prospect"))
    add_on = sf.Opportunity.create(opportunity_record(Name="Add-on", StageName="5-Negotiating"))[
        "id"
    ]
    outside.act("salesforce", f"/opportunities/{add_on}/stage", stage="Closed Won")
    outside.clear_requests()

    changes = find_stage_changes.fn(before)
    assert [(c.opportunity_id, c.old_stage, c.new_stage) for c in changes] == [
        (renewal, None, "Closed Won"),
        (prospect["id"], None, "4-Proposal"),
        (add_on, None, "5-Negotiating"),  # created there, though it is Closed Won by now
        (add_on, "5-Negotiating", "Closed Won"),
    ]
    assert [c.opportunity_name for c in changes[:2]] == ["Renewal", "Prospect"]
    assert len({c.id for c in changes}) == 4  # each its own event id: emitted once
    assert len(outside.requests()) == 2
    assert find_stage_changes.fn(changes[-1].changed_at + timedelta(seconds=1)) == []


def test_users_by_email_or_title_in_one_query(outside: SandboxClient) -> None:
    users = get_users.fn(
        ["Marcus.Webb@northwind.example", "nobody@example.com"],
        ["Sr. PS Project Coordinator", "Technical Architect"],
    )
    assert [(u.email, u.title, u.time_zone) for u in users] == [
        ("hiro.tanaka@northwind.example", "Technical Architect", "Asia/Tokyo"),
        ("marcus.webb@northwind.example", "Engagement Manager", "America/New_York"),
        ("priya.raman@northwind.example", "Sr. PS Project Coordinator", "America/Chicago"),
    ]
    assert all(u.id.startswith("005") for u in users)
    assert len(outside.requests(system="salesforce")) == 1
    with pytest.raises(ValueError, match="not-an-address"):
        get_users.fn(["not-an-address"])
    assert get_users.fn(["o'brien@example.com"], ["PC' OR Title != '"]) == []  # quoted
    assert get_users.fn() == []
    assert len(outside.requests(system="salesforce")) == 2


def test_opportunity_fields_are_written_once(outside: SandboxClient) -> None:
    link = "https://docs.google.com/spreadsheets/d/abc/edit"
    sheet = Ref(
        system="Google Drive", kind="cost estimate", name="x", id="abc", url=link, created=True
    )
    assert ensure_cost_estimate_linked.fn(ACME_NEW.id, sheet, True) is True
    assert ensure_cost_estimate_linked.fn(ACME_NEW.id, sheet, True) is False
    assert outside.writes(system="salesforce") == 1
    (row,) = [o for o in outside.state("salesforce", "Opportunity") if o["Id"] == ACME_NEW.id]
    assert row["Cost_Estimate_Link__c"] == link
    assert row["PS_TA_Review_Required__c"] is True


# --- the PS Engagement record --------------------------------------------------------------------

UPSERT = r"/salesforce/services/data/v59\.0/sobjects/PS_Engagement__c/Opportunity_Id__c/.+"


def engagement(**changes: Any) -> Engagement:
    fields: dict[str, Any] = {
        "name": f"{ACME_NEW.sow_number} Acme Corporation",
        "opportunity_id": ACME_NEW.id,
        "opportunity_amount": Decimal(ACME_NEW.amount),
        "currency": ACME_NEW.currency,
        "status": EngagementStatus.INITIATION,
        "sow_link": seed.sow_link(ACME_NEW.sow_number),
        "scoped_hours": Decimal(180),
        "expected_start": date(2026, 4, 6),
        "expected_completion": date(2026, 6, 1),
    }
    return Engagement(**(fields | changes))


def records_of(outside: SandboxClient, opportunity_id: str) -> list[dict[str, Any]]:
    return [
        r
        for r in outside.state("salesforce", "PS_Engagement__c")
        if r["Opportunity_Id__c"] == opportunity_id and not r["IsDeleted"]
    ]


def test_ensure_engagement_creates_the_record_once(outside: SandboxClient) -> None:
    first = ensure_engagement.fn(engagement())
    assert first.created
    (record,) = records_of(outside, ACME_NEW.id)
    assert first.id == record["Id"]
    assert first.url is not None
    assert first.url.endswith(f"/salesforce/lightning/r/PS_Engagement__c/{record['Id']}/view")
    assert record["Name"] == f"{ACME_NEW.sow_number} Acme Corporation"
    assert record["Opportunity__c"] == ACME_NEW.id
    assert record["Opportunity_Amount__c"] == ACME_NEW.amount
    assert record["Status__c"] == "Initiation"
    assert record["Engagement_Type__c"] == "Consulting"
    assert record["Scoped_Hours__c"] == 180
    assert (record["Expected_Start__c"], record["Expected_Completion__c"]) == (
        "2026-04-06",
        "2026-06-01",
    )
    assert record["Collaboration_Project__c"] is None
    assert outside.writes(system="salesforce") == 1

    before = outside.last_request_id()
    again = ensure_engagement.fn(engagement())
    assert not again.created
    assert again.id == first.id
    assert outside.writes(system="salesforce", since=before) == 0
    assert len(outside.requests(system="salesforce", since=before)) == 1  # the one query


def test_a_rerun_of_initiate_keeps_the_baseline_a_change_request_moved(
    outside: SandboxClient,
) -> None:
    ensure_engagement.fn(engagement())
    found = find_engagement.fn(ACME_NEW.id)
    assert found is not None
    assert ensure_engagement_baseline.fn(found, Decimal(204), date(2026, 6, 22))
    before = outside.last_request_id()
    ensure_engagement.fn(engagement())  # Initiate again, with the SOW's figures
    assert outside.writes(system="salesforce", since=before) == 0
    (record,) = records_of(outside, ACME_NEW.id)
    assert (record["Scoped_Hours__c"], record["Expected_Completion__c"]) == (204, "2026-06-22")
    # the re-baseline itself, again: nothing to write
    again = find_engagement.fn(ACME_NEW.id)
    assert again is not None
    assert not ensure_engagement_baseline.fn(again, Decimal(204), date(2026, 6, 22))


def test_a_changed_field_is_updated_in_place_and_peoples_fields_are_kept(
    outside: SandboxClient,
) -> None:
    first = ensure_engagement.fn(engagement())
    # what people do on the record meanwhile: psflow must leave it alone
    outside.edit("salesforce", f"/sobjects/PS_Engagement__c/{first.id}", Hours_Consumed__c=12)
    link = "https://gitlab.example/ps-customers/acme/ci-cd"
    before = outside.last_request_id()

    changed = engagement(opportunity_amount=Decimal("45500.50"), collaboration_project=link)
    updated = ensure_engagement.fn(changed)
    assert not updated.created
    assert updated.id == first.id
    assert outside.writes(system="salesforce", since=before) == 1
    (record,) = records_of(outside, ACME_NEW.id)
    assert record["Opportunity_Amount__c"] == 45500.5
    assert record["Collaboration_Project__c"] == link
    assert record["Hours_Consumed__c"] == 12

    # a value psflow does not know (None) never clears what is there
    before = outside.last_request_id()
    ensure_engagement.fn(engagement(opportunity_amount=Decimal("45500.50")))
    assert outside.writes(system="salesforce", since=before) == 0
    (record,) = records_of(outside, ACME_NEW.id)
    assert record["Collaboration_Project__c"] == link


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_an_upsert_whose_answer_is_lost_leaves_one_record(
    outside: SandboxClient, kind: str
) -> None:
    outside.add_fault(UPSERT, method="PATCH", kind=kind, status=500, after_commit=True)
    with pytest.raises(
        TransientError, match=f"Salesforce: PS engagement of opportunity {ACME_NEW.id}"
    ):
        ensure_engagement.fn(engagement())
    outside.clear_faults()

    retried = ensure_engagement.fn(engagement())
    (record,) = records_of(outside, ACME_NEW.id)
    assert retried.id == record["Id"]
    assert outside.writes(system="salesforce") == 1  # the retry found it complete


def test_the_seeded_engagement_of_a_past_project_is_found(outside: SandboxClient) -> None:
    past = seed.ACME_PAST
    (seeded,) = records_of(outside, past.id)
    mine = Engagement(
        name=seeded["Name"],
        engagement_type=seeded["Engagement_Type__c"],
        opportunity_id=past.id,
        opportunity_amount=Decimal(str(seeded["Opportunity_Amount__c"])),
        status=EngagementStatus.COMPLETED,
        sow_link=seeded["SOW_Link__c"],
        scoped_hours=Decimal(str(seeded["Scoped_Hours__c"])),
        expected_start=date.fromisoformat(seeded["Expected_Start__c"]),
        expected_completion=date.fromisoformat(seeded["Expected_Completion__c"]),
    )
    found = ensure_engagement.fn(mine)
    assert (found.id, found.created) == (seeded["Id"], False)
    assert outside.writes() == 0


def test_a_refused_engagement_names_the_field(outside: SandboxClient) -> None:
    with pytest.raises(PermanentError, match=r"HTTP 400.*STRING_TOO_LONG.*PS Engagement Name"):
        ensure_engagement.fn(engagement(name="x" * 81))
    assert records_of(outside, ACME_NEW.id) == []


def test_the_staffing_approval_is_recorded_once(outside: SandboxClient) -> None:
    users = {u["Email"]: u["Id"] for u in outside.state("salesforce", "User")}
    record = engagement(
        approved=True,
        approver="priya.raman@northwind.example",
        approver_id=users["priya.raman@northwind.example"],
        project_owner_id=users["divya.nair@northwind.example"],
    )
    ensure_engagement.fn(record)
    (row,) = outside.state("salesforce", "PS_Engagement__c")[-1:]
    assert (row["Approved__c"], row["Approver__c"], row["Project_Owner__c"]) == (
        True,
        users["priya.raman@northwind.example"],
        users["divya.nair@northwind.example"],
    )
    before = outside.last_request_id()
    ensure_engagement.fn(record)  # a boolean is not a number to compare as one
    assert outside.writes(system="salesforce", since=before) == 0


def test_an_engagement_starts_once_and_reads_back(outside: SandboxClient) -> None:
    assert find_engagement.fn(ACME_NEW.id) is None
    made = ensure_engagement.fn(engagement())
    read = find_engagement.fn(ACME_NEW.id)
    assert read is not None
    assert read.collaboration_project == engagement().collaboration_project
    before = outside.last_request_id()
    assert ensure_engagement_status.fn(read, EngagementStatus.IN_PROGRESS, date(2027, 1, 5))
    assert outside.writes(system="salesforce", since=before) == 1
    assert len(outside.requests(system="salesforce", since=before)) == 1  # no read of its own
    found = find_engagement.fn(ACME_NEW.id)
    assert found is not None
    assert (found.id, found.status, found.actual_start) == (
        made.id,
        EngagementStatus.IN_PROGRESS,
        date(2027, 1, 5),
    )
    before = outside.last_request_id()
    assert not ensure_engagement_status.fn(found, EngagementStatus.IN_PROGRESS, date(2027, 1, 5))
    # an earlier phase's status never sets it back; a new Actual Start is still written
    assert not ensure_engagement_status.fn(found, EngagementStatus.INITIATION)
    assert outside.writes(system="salesforce", since=before) == 0
    assert ensure_engagement_status.fn(found, EngagementStatus.INITIATION, date(2027, 1, 6))
    again = find_engagement.fn(ACME_NEW.id)
    assert again is not None
    assert (again.status, again.actual_start) == (EngagementStatus.IN_PROGRESS, date(2027, 1, 6))

    # the hours logged so far, written only when they change
    assert found.hours_consumed == 0
    assert ensure_hours_consumed.fn(found, Decimal("52.5"))
    logged = find_engagement.fn(ACME_NEW.id)
    assert logged is not None
    assert logged.hours_consumed == Decimal("52.5")
    before = outside.last_request_id()
    assert not ensure_hours_consumed.fn(logged, Decimal("52.5"))
    assert outside.writes(system="salesforce", since=before) == 0

    # a re-run of Initiate (its record says Initiation) does not set the engagement back
    before = outside.last_request_id()
    ensure_engagement.fn(engagement())
    assert outside.writes(system="salesforce", since=before) == 0
    found = find_engagement.fn(ACME_NEW.id)
    assert found is not None
    assert found.status == EngagementStatus.IN_PROGRESS


def test_the_engagements_in_progress_are_listed_in_one_query(outside: SandboxClient) -> None:
    assert find_engagements.fn(EngagementStatus.IN_PROGRESS) == []
    ensure_engagement.fn(engagement())
    found = find_engagement.fn(ACME_NEW.id)
    assert found is not None
    ensure_engagement_status.fn(found, EngagementStatus.IN_PROGRESS, date(2027, 1, 5))
    before = outside.last_request_id()
    assert find_engagements.fn(EngagementStatus.IN_PROGRESS) == [
        (ACME_NEW.id, ACME_NEW.account.name)
    ]
    assert len(outside.requests(system="salesforce", since=before)) == 1
    completed = find_engagements.fn(EngagementStatus.COMPLETED)
    assert (seed.ACME_PAST.id, seed.ACME_PAST.account.name) in completed


def test_an_engagement_is_completed_only_with_its_close_out_fields_named_first(
    outside: SandboxClient,
) -> None:
    ensure_engagement.fn(engagement())  # no Project Owner recorded
    found = find_engagement.fn(ACME_NEW.id)
    assert found is not None
    ensure_engagement_status.fn(found, EngagementStatus.CLOSURE, date(2027, 1, 5))
    found = find_engagement.fn(ACME_NEW.id)
    assert found is not None

    # not signed off, no owner: every missing field named, nothing written
    before = outside.last_request_id()
    with pytest.raises(NotReady) as refused:
        ensure_engagement_completed.fn(found, date(2027, 3, 26), Decimal(170))
    for field in ("Sign_Off_Date__c: empty", "Signed_Acceptance__c: unchecked", "Project_Owner__c"):
        assert field in str(refused.value)
    assert outside.writes(system="salesforce", since=before) == 0

    # the sign-off, once: a later one keeps the first's day
    assert ensure_engagement_signed_off.fn(found, date(2027, 3, 20), passive=True)
    signed = find_engagement.fn(ACME_NEW.id)
    assert signed is not None
    assert (signed.signed_acceptance, signed.passive_acceptance_used, signed.sign_off_date) == (
        True,
        True,
        date(2027, 3, 20),
    )
    before = outside.last_request_id()
    assert not ensure_engagement_signed_off.fn(signed, date(2027, 3, 21), passive=False)
    assert outside.writes(system="salesforce", since=before) == 0

    # the owner recorded: Completed in one write, with its day and hours; then left as it is
    users = {u["Email"]: u["Id"] for u in outside.state("salesforce", "User")}
    ensure_engagement.fn(engagement(project_owner_id=users["divya.nair@northwind.example"]))
    ready = find_engagement.fn(ACME_NEW.id)
    assert ready is not None
    before = outside.last_request_id()
    assert ensure_engagement_completed.fn(ready, date(2027, 3, 26), Decimal(170))
    assert outside.writes(system="salesforce", since=before) == 1
    done = find_engagement.fn(ACME_NEW.id)
    assert done is not None
    assert (done.status, done.completed_on, done.hours_consumed) == (
        EngagementStatus.COMPLETED,
        date(2027, 3, 26),
        Decimal(170),
    )
    assert not ensure_engagement_completed.fn(done, date(2027, 3, 27), Decimal(171))
