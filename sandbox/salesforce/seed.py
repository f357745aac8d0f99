"""Northwind Cloud's Salesforce org, built from `sandbox.seed`: the users, customers, contacts,
pipeline with its products and contact roles, and the PS Engagement of Acme's past project."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sandbox import seed
from sandbox.core import Sandbox
from sandbox.salesforce import records
from sandbox.salesforce.common import API_USER, API_USER_ID, SYSTEM
from sandbox.salesforce.schema import COUNTRY_CODES, sobject

PRODUCTS = {
    "PS-MIG": ("Migration Services", "Professional Services"),
    "PS-CICD": ("CI/CD Services", "Professional Services"),
    "PS-K8S": ("Kubernetes Integration Services", "Professional Services"),
    "PS-SEC": ("Security & Compliance Services", "Professional Services"),
    "PS-TRN": ("Training Services", "Training"),
    "PS-HC": ("Health Check", "Professional Services"),
}


class _Org:
    """Puts seed records into the store the way the API would have created them, days ago."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.now = sb.now()

    def fetch(self, type_: str, record_id: str) -> dict[str, Any] | None:
        return self.sb.store.get(SYSTEM, type_, record_id)

    def add(
        self, type_: str, record_id: str, days_ago: int, owner: str | None = None, **values: Any
    ) -> None:
        obj = sobject(type_)
        assert obj is not None, type_
        when = self.now - timedelta(days=days_ago)
        record = records.new_record(obj, record_id, when, owner or API_USER_ID)
        records.apply(obj, record, values, self.fetch, when, owner or API_USER_ID)
        self.sb.store.put(SYSTEM, type_, record_id, record)


def seed_org(sb: Sandbox) -> None:
    org = _Org(sb)
    first, last = API_USER.split(" ", 1)
    org.add(
        "User",
        API_USER_ID,
        900,
        FirstName=first,
        LastName=last,
        Username=f"psflow@{seed.DOMAIN}",
        Email=f"psflow@{seed.DOMAIN}",
        Title="Integration",
        TimeZoneSidKey="UTC",
    )
    for person in (*seed.STAFF, *seed.PSES):
        first, last = person.name.split(" ", 1)
        org.add(
            "User",
            seed.user_id(person),
            700,
            FirstName=first,
            LastName=last,
            Username=person.email,
            Email=person.email,
            Title=person.title,
            TimeZoneSidKey=person.time_zone,
        )

    owners = {opp.account.n: seed.user_id(seed.staff(opp.owner)) for opp in seed.OPPORTUNITIES}
    contacts: dict[str, str] = {}  # email -> id
    for account in seed.ACCOUNTS:
        org.add(
            "Account",
            account.id,
            600,
            owners.get(account.n),
            Name=account.name,
            Type="Customer" if account is seed.ACME else "Prospect",
            Industry=account.industry,
            BillingCountry=account.country,
            BillingCountryCode=COUNTRY_CODES[account.country],
            PS_Time_Zone__c=account.time_zone,
            PS_Communication_Style__c=";".join(account.communication),
        )
        for contact in account.contacts:
            contacts[contact.email] = seed.sfid(seed.CONTACT, len(contacts) + 1)
            org.add(
                "Contact",
                contacts[contact.email],
                600,
                owners.get(account.n),
                AccountId=account.id,
                FirstName=contact.first_name,
                LastName=contact.last_name,
                Email=contact.email,
                Title=contact.title,
            )

    products: dict[str, str] = {}  # product code -> id
    for code, (name, family) in PRODUCTS.items():
        products[code] = seed.sfid(seed.PRODUCT, len(products) + 1)
        org.add("Product2", products[code], 800, Name=name, ProductCode=code, Family=family)

    roles = line_items = 0
    for opp in seed.OPPORTUNITIES:
        owner = seed.user_id(seed.staff(opp.owner))
        closed = opp.stage in ("Closed Won", "8-Closed Lost")
        existing = opp.account is seed.ACME and opp is not seed.ACME_PAST
        org.add(
            "Opportunity",
            opp.id,
            max(60 - opp.start_in_days, 45),
            owner,
            Name=opp.name,
            AccountId=opp.account.id,
            StageName=opp.stage,
            Amount=float(opp.amount),
            CurrencyIsoCode=opp.currency,
            CloseDate=seed.day(opp.start_in_days - (10 if closed else 7)).isoformat(),
            Type="Existing Customer - Upgrade" if existing else "New Customer",
            SOW_Number__c=opp.sow_number,
            SOW_Link__c=seed.sow_link(opp.sow_number),
            PS_Engagement_Manager__c=seed.user_id(seed.staff(opp.engagement_manager)),
            PS_Skills_Required__c=seed.skills_cell(opp.skills),
            PS_Expected_Start__c=seed.day(opp.start_in_days).isoformat(),
            PS_Expected_Completion__c=seed.day(opp.start_in_days + 7 * opp.weeks).isoformat(),
        )
        for contact in opp.account.contacts:
            roles += 1
            org.add(
                "OpportunityContactRole",
                seed.sfid(seed.CONTACT_ROLE, roles),
                40,
                OpportunityId=opp.id,
                ContactId=contacts[contact.email],
                Role=contact.role,
                IsPrimary=contact.primary,
            )
        for item in opp.line_items:
            line_items += 1
            org.add(
                "OpportunityLineItem",
                seed.sfid(seed.LINE_ITEM, line_items),
                40,
                OpportunityId=opp.id,
                Product2Id=products[item.product],
                Description=item.description,
                Quantity=float(item.quantity),
                UnitPrice=float(item.unit_price),
            )

    # Acme is an existing customer: its 2025 migration was delivered and signed off.
    past = seed.ACME_PAST
    start = past.start_in_days
    scoped = float(sum(item.quantity for item in past.line_items))
    org.add(
        "PS_Engagement__c",
        seed.sfid(seed.ENGAGEMENT, 1),
        -start,
        seed.user_id(seed.staff(past.engagement_manager)),
        Name=f"{past.sow_number} {past.account.name}",
        Engagement_Type__c=past.engagement_type,
        Opportunity__c=past.id,
        Opportunity_Id__c=past.id,
        Opportunity_Amount__c=float(past.amount),
        Status__c="Completed",
        SOW_Link__c=seed.sow_link(past.sow_number),
        Scoped_Hours__c=scoped,
        Hours_Consumed__c=scoped - 6,
        Expected_Start__c=seed.day(start).isoformat(),
        Expected_Completion__c=seed.day(start + 7 * past.weeks).isoformat(),
        Actual_Start__c=seed.day(start).isoformat(),
        Completed__c=seed.day(start + 7 * past.weeks - 2).isoformat(),
        Approved__c=True,
        Approver__c=seed.user_id(seed.staff("olivia_park")),
        Project_Owner__c=seed.user_id(seed.staff("nora_quinn")),
        Signed_Acceptance__c=True,
        Sign_Off_Date__c=seed.day(start + 7 * past.weeks).isoformat(),
    )
