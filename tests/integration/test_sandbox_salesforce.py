"""The Salesforce stand-in through simple-salesforce, configured by `SalesforceConnection`."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import requests
from pydantic import SecretStr
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from blocks.salesforce import SalesforceConnection
from engagement.close import COMPLETION_REQUIRES, completion_problems
from sandbox import seed
from sandbox.client import SandboxClient
from sandbox.salesforce.schema import VALIDATION_RULES
from sandbox.server import SandboxServer
from testkit.factories import opportunities

ACME_PAST, ACME_CICD, GLOBEX = seed.OPPORTUNITIES[0], seed.OPPORTUNITIES[1], seed.OPPORTUNITIES[2]
NEXT_PAGE = r"/salesforce/services/data/v59\.0/query/01g.*"


def connect(sandbox_url: str, **settings: Any) -> Salesforce:
    settings.setdefault("access_token", SecretStr("00DDn0000000001!sandbox"))
    return SalesforceConnection(instance_url=f"{sandbox_url}/salesforce", **settings).get_client()


@pytest.fixture
def sf(sandbox: SandboxClient, sandbox_url: str) -> Salesforce:
    return connect(sandbox_url)


def names(sf: Salesforce, where: str) -> list[str]:
    result = sf.query(f"SELECT Name FROM Opportunity WHERE {where} ORDER BY Name")
    return [r["Name"] for r in result["records"]]


def error_code(err: SalesforceError) -> str:
    return str(err.content[0]["errorCode"])


# --- the block -----------------------------------------------------------------------------------


def test_every_url_keeps_the_instance_path(sf: Salesforce, sandbox: SandboxClient) -> None:
    assert sf.base_url.endswith("/salesforce/services/data/v59.0/")
    assert sf.Opportunity.base_url.endswith("/salesforce/services/data/v59.0/sobjects/Opportunity/")
    page = sf.query("SELECT Id FROM User", headers={"Sforce-Query-Options": "batchSize=200"})
    assert page["done"]
    sf.Account.get(seed.ACME.id)
    paths = [r["path"] for r in sandbox.requests(system="salesforce")]
    assert paths == [
        "/salesforce/services/data/v59.0/query/",
        f"/salesforce/services/data/v59.0/sobjects/Account/{seed.ACME.id}",
    ]
    assert {r["auth"] for r in sandbox.requests()} == {"Bearer 00DDn0000000001!sandbox"}


def test_the_block_needs_credentials_and_an_instance_url() -> None:
    with pytest.raises(ValueError, match="instance_url"):
        SalesforceConnection(access_token=SecretStr("t")).get_client()
    with pytest.raises(ValueError, match="access_token"):
        SalesforceConnection(instance_url="https://x.my.salesforce.com").get_client()


def test_an_https_instance_url_is_left_alone() -> None:
    sf = SalesforceConnection(
        instance_url="https://northwind.my.salesforce.com", access_token=SecretStr("t")
    ).get_client()
    assert sf.base_url == "https://northwind.my.salesforce.com/services/data/v59.0/"
    adapter: Any = sf.session.get_adapter("https://northwind.my.salesforce.com/")
    assert adapter.plain_prefix is None


# --- query ---------------------------------------------------------------------------------------


def test_relationship_fields_come_back_as_nested_records(sf: Salesforce) -> None:
    result = sf.query(
        "SELECT Id, Name, Amount, Account.Name, Owner.Email, PS_Engagement_Manager__r.Email, "
        f"SOW_Link__c, PS_Expected_Start__c FROM Opportunity WHERE Id = '{GLOBEX.id}'"
    )
    assert result["totalSize"] == 1
    (record,) = result["records"]
    assert record["attributes"] == {
        "type": "Opportunity",
        "url": f"/services/data/v59.0/sobjects/Opportunity/{GLOBEX.id}",
    }
    assert record["Name"] == GLOBEX.name
    assert record["Amount"] == GLOBEX.amount
    assert record["Account"]["Name"] == "Globex Industries"
    assert record["Account"]["attributes"]["type"] == "Account"
    assert record["Owner"]["Email"] == seed.staff("sam_patel").email
    assert record["PS_Engagement_Manager__r"]["Email"] == seed.staff("elena_rossi").email
    assert record["SOW_Link__c"] == seed.sow_link(GLOBEX.sow_number)
    assert record["PS_Expected_Start__c"] == seed.day(GLOBEX.start_in_days).isoformat()


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Amount = 42000", [ACME_CICD.name]),
        (
            "StageName != '4-Proposal' AND Amount < 40000",
            ["Initech – Security & Compliance Rollout", "Umbrella Health – Platform Onboarding"],
        ),
        ("Amount > 60000", ["Globex – Kubernetes Integration", "Wayne – Jenkins to GitLab"]),
        (
            "Amount >= 61000 AND Amount <= 68500",
            ["Globex – Kubernetes Integration", "Wayne – Jenkins to GitLab"],
        ),
        (
            "StageName IN ('Closed Won', '8-Closed Lost')",
            [ACME_PAST.name, "Wayne – Jenkins to GitLab"],
        ),
        (
            "IsClosed = false AND StageName NOT IN ('4-Proposal', '2-Scoping')",
            ["Initech – Security & Compliance Rollout", "Umbrella Health – Platform Onboarding"],
        ),
        ("Name LIKE 'acme%'", [ACME_PAST.name, ACME_CICD.name]),
        (
            "Account.Name LIKE '_lobex%' OR CurrencyIsoCode = 'AUD'",
            [GLOBEX.name, "Umbrella Health – Platform Onboarding"],
        ),
        ("NOT (Amount < 60000 OR IsWon = true)", [GLOBEX.name, "Wayne – Jenkins to GitLab"]),
        ("IsWon = true", [ACME_PAST.name]),
        ("Cost_Estimate_Link__c != null", []),
        (
            "PS_Expected_Start__c = NEXT_N_DAYS:30",
            [ACME_CICD.name, "Umbrella Health – Platform Onboarding", "Wayne – Jenkins to GitLab"],
        ),
        ("CloseDate < LAST_N_DAYS:365", [ACME_PAST.name]),
        (
            f"PS_Expected_Start__c > {seed.day(59).isoformat()}",
            ["Initech – Security & Compliance Rollout", "SGD – Formation GitLab & migration"],
        ),
        ("CreatedDate < 2020-01-01T00:00:00Z", []),
        (
            "Owner.Email = 'dana.cole@northwind.example' AND Account.Name != 'Acme Corporation'",
            ["Initech – Security & Compliance Rollout", "Wayne – Jenkins to GitLab"],
        ),
    ],
)
def test_query_operators(sf: Salesforce, where: str, expected: list[str]) -> None:
    assert names(sf, where) == sorted(expected)


def test_order_limit_offset_and_count(sf: Salesforce) -> None:
    result = sf.query("SELECT Name, Amount FROM Opportunity ORDER BY Amount DESC LIMIT 2 OFFSET 1")
    assert [r["Amount"] for r in result["records"]] == [61000.0, 54000.0]
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == sum(
        len(a.contacts) for a in seed.ACCOUNTS
    )


def test_paging_with_a_small_batch_size(sf: Salesforce, sandbox: SandboxClient) -> None:
    sandbox.act("salesforce", "/opportunities/bulk", count=450)
    options = {"Sforce-Query-Options": "batchSize=200"}
    soql = "SELECT Id, Name, Account.Name FROM Opportunity ORDER BY Name"
    first = sf.query(soql, headers=options)
    assert (first["totalSize"], first["done"], len(first["records"])) == (457, False, 200)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")  # no /salesforce
    assert first["nextRecordsUrl"].endswith("-200")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True, headers=options)
    assert len(second["records"]) == 200
    everything = sf.query_all(soql, headers=options)["records"]
    assert len(everything) == 457
    assert len({r["Id"] for r in everything}) == 457
    assert [r["Name"] for r in everything] == sorted((r["Name"] for r in everything), key=str.lower)
    assert all(r["Account"]["Name"] for r in everything)
    pages = sandbox.requests(path="/salesforce/services/data/v59.0/query/01g%")
    assert [p["path"].rsplit("-", 1)[1] for p in pages] == ["200", "200", "400"]


def test_deleted_records_are_only_seen_by_query_all(sf: Salesforce) -> None:
    assert sf.Opportunity.delete(ACME_CICD.id) == 204
    soql = f"SELECT Id, IsDeleted FROM Opportunity WHERE Id = '{ACME_CICD.id}'"
    assert sf.query(soql)["totalSize"] == 0
    (deleted,) = sf.query_all(soql, include_deleted=True)["records"]
    assert deleted["IsDeleted"] is True
    with pytest.raises(SalesforceResourceNotFound) as err:
        sf.Opportunity.get(ACME_CICD.id)
    assert error_code(err.value) == "ENTITY_IS_DELETED"


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        (
            "SELECT Id FROM Opportunity WHERE Amount > 1 AND Amount < 2 OR Name = 'x'",
            "MALFORMED_QUERY",
        ),
        ("SELECT Id FROM", "MALFORMED_QUERY"),
        ("SELECT Id, Nmae FROM Opportunity", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE Acount.Name = 'x'", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunityy", "INVALID_TYPE"),
        ("SELECT Id FROM Opportunity WHERE Amount = '5'", "INVALID_QUERY_FILTER_OPERATOR"),
    ],
)
def test_bad_queries_raise_malformed_request(sf: Salesforce, soql: str, code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query(soql)
    assert err.value.status == 400
    assert error_code(err.value) == code


def test_invalid_field_names_the_field(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query("SELECT Id, Nmae FROM Opportunity")
    message = err.value.content[0]["message"]
    assert "No such column 'Nmae' on entity 'Opportunity'" in message
    assert "ERROR at Row:1:Column:12" in message


# The opportunity, its contact roles and its products in one query, as psflow reads them.
PSFLOW_OPPORTUNITY = (
    "SELECT Id, Name, StageName, Amount, CurrencyIsoCode, CloseDate, SOW_Number__c, SOW_Link__c, "
    "PS_Skills_Required__c, PS_Expected_Start__c, PS_Expected_Completion__c, AccountId, "
    "Account.Name, Account.PS_Time_Zone__c, Account.PS_Communication_Style__c, "
    "PS_Engagement_Manager__r.Email, Owner.Email, "
    "(SELECT ContactId, Role, IsPrimary, Contact.FirstName, Contact.LastName, Contact.Email, "
    "Contact.Title FROM OpportunityContactRoles), "
    "(SELECT Product2.ProductCode, Product2.Name, Description, Quantity, UnitPrice "
    "FROM OpportunityLineItems) "
    "FROM Opportunity WHERE Id = '{id}'"
)


def test_subqueries_read_an_opportunity_with_its_children(sf: Salesforce) -> None:
    (record,) = sf.query(PSFLOW_OPPORTUNITY.format(id=GLOBEX.id))["records"]
    assert record["Account"]["Name"] == "Globex Industries"
    roles = record["OpportunityContactRoles"]
    assert (roles["totalSize"], roles["done"]) == (len(seed.GLOBEX.contacts), True)
    assert roles["records"][0]["attributes"]["type"] == "OpportunityContactRole"
    assert roles["records"][0]["attributes"]["url"].startswith(
        f"/services/data/v59.0/sobjects/OpportunityContactRole/{seed.CONTACT_ROLE}"
    )
    assert roles["records"][0]["Contact"]["attributes"]["type"] == "Contact"
    assert [
        (r["Contact"]["FirstName"], r["Contact"]["LastName"], r["Role"], r["IsPrimary"])
        for r in roles["records"]
    ] == [(c.first_name, c.last_name, c.role, c.primary) for c in seed.GLOBEX.contacts]
    items = record["OpportunityLineItems"]
    assert (items["totalSize"], items["done"]) == (len(GLOBEX.line_items), True)
    assert [
        (i["Product2"]["ProductCode"], i["Description"], i["Quantity"], i["UnitPrice"])
        for i in items["records"]
    ] == [(i.product, i.description, i.quantity, i.unit_price) for i in GLOBEX.line_items]
    # Child records look exactly like the records of a query on the child object.
    where = f"WHERE OpportunityId = '{GLOBEX.id}'"
    fields = "Product2.ProductCode, Product2.Name, Description, Quantity, UnitPrice"
    alone = sf.query(f"SELECT {fields} FROM OpportunityLineItem {where}")["records"]
    assert items["records"] == alone

    bare = sf.Opportunity.create(
        {"Name": "Bare", "StageName": "1-Discovery", "CloseDate": "2027-01-29"}
    )
    (record,) = sf.query(PSFLOW_OPPORTUNITY.format(id=bare["id"]))["records"]
    assert record["OpportunityContactRoles"] is None  # no children: null, not an empty result
    assert record["OpportunityLineItems"] is None

    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query(PSFLOW_OPPORTUNITY.replace("OpportunityLineItems", "OpportunityLineItem"))
    assert error_code(err.value) == "INVALID_TYPE"
    assert (
        "Didn't understand relationship 'OpportunityLineItem' in FROM part of query call"
        in err.value.content[0]["message"]
    )


def test_subqueries_filter_and_order_the_children(sf: Salesforce) -> None:
    (acme,) = sf.query(
        "SELECT Name, (SELECT Name FROM Opportunities ORDER BY Amount), "
        "(SELECT Email FROM Contacts WHERE Title LIKE '%lead') "
        f"FROM Account WHERE Id = '{seed.ACME.id}'"
    )["records"]
    assert [o["Name"] for o in acme["Opportunities"]["records"]] == [ACME_CICD.name, ACME_PAST.name]
    assert [c["Email"] for c in acme["Contacts"]["records"]] == ["road.runner@acme.example"]
    past, globex = sf.query(
        "SELECT Name, (SELECT Status__c FROM PS_Engagements__r) FROM Opportunity "
        f"WHERE Id IN ('{ACME_PAST.id}', '{GLOBEX.id}') ORDER BY CloseDate"
    )["records"]
    assert [e["Status__c"] for e in past["PS_Engagements__r"]["records"]] == ["Completed"]
    assert globex["PS_Engagements__r"] is None


# --- sObject rows --------------------------------------------------------------------------------


def test_create_read_update_and_delete(sf: Salesforce, sandbox: SandboxClient) -> None:
    created = sf.Contact.create(
        {
            "AccountId": seed.GLOBEX.id,
            "FirstName": "Ada",
            "LastName": "Byron",
            "Email": "ada@globex.example",
        }
    )
    assert created["success"] is True
    assert created["errors"] == []
    contact = sf.Contact.get(created["id"])
    assert contact["Name"] == "Ada Byron"
    assert contact["attributes"]["url"] == f"/services/data/v59.0/sobjects/Contact/{created['id']}"
    assert contact["CreatedDate"] == contact["SystemModstamp"]
    sandbox.advance_clock(days=1)
    assert sf.Contact.update(created["id"], {"Title": "CTO"}) == 204
    updated = sf.Contact.get(created["id"], params={"fields": "Title,LastModifiedDate"})
    assert set(updated) == {"attributes", "Title", "LastModifiedDate"}
    assert updated["Title"] == "CTO"
    assert updated["LastModifiedDate"] > contact["LastModifiedDate"]
    assert sf.Contact.get(created["id"][:15])["Id"] == created["id"]  # 15-character ids work
    assert sf.Contact.delete(created["id"]) == 204
    assert sandbox.writes(system="salesforce") == 3


def test_writes_maintain_formula_fields(sf: Salesforce) -> None:
    assert sf.Opportunity.update(GLOBEX.id, {"StageName": "Closed Won"}) == 204
    won = sf.Opportunity.get(GLOBEX.id)
    assert (won["IsClosed"], won["IsWon"], won["Probability"]) == (True, True, 100.0)
    item = sf.OpportunityLineItem.create(
        {
            "OpportunityId": GLOBEX.id,
            "Product2Id": seed.sfid(seed.PRODUCT, 1),
            "Quantity": 10,
            "UnitPrice": 250,
        }
    )
    line = sf.OpportunityLineItem.get(item["id"])
    assert line["TotalPrice"] == 2500.0
    assert line["Name"] == f"{GLOBEX.name} Migration Services"


def test_upsert_creates_then_updates_by_external_id(sf: Salesforce, sandbox: SandboxClient) -> None:
    key = f"Opportunity_Id__c/{quote(GLOBEX.id, safe='')}"
    body = {"Name": f"{GLOBEX.sow_number} Globex Industries", "Opportunity__c": GLOBEX.id}
    assert sf.PS_Engagement__c.upsert(key, body) == 201
    raw = sf.PS_Engagement__c.upsert(
        key, {"Status__c": "Initiation", "Scoped_Hours__c": 340}, raw_response=True
    )
    # API version 46.0 and later answer an update with 200 and a body (204 before)
    assert raw.status_code == 200
    assert raw.json()["created"] is False
    engagements = [
        e
        for e in sandbox.state("salesforce", "PS_Engagement__c")
        if e["Opportunity_Id__c"] == GLOBEX.id
    ]
    assert len(engagements) == 1
    assert engagements[0]["Status__c"] == "Initiation"
    assert engagements[0]["Remaining_Hours__c"] == 340.0
    assert raw.json()["id"] == engagements[0]["Id"]
    found = sf.PS_Engagement__c.get_by_custom_id("Opportunity_Id__c", GLOBEX.id)
    assert found["Opportunity__c"] == GLOBEX.id


def test_upsert_update_before_api_46_answers_204(sandbox_url: str, sandbox: SandboxClient) -> None:
    old = connect(sandbox_url, api_version="45.0")
    key = f"Opportunity_Id__c/{ACME_PAST.id}"
    assert old.PS_Engagement__c.upsert(key, {"Hours_Consumed__c": 150}) == 204


def test_upsert_values_are_url_decoded(sf: Salesforce, sandbox: SandboxClient) -> None:
    value = "SOW 2026/41 #1"
    assert (
        sf.PS_Engagement__c.upsert(f"Opportunity_Id__c/{quote(value, safe='')}", {"Name": "x"})
        == 201
    )
    ids = [e["Opportunity_Id__c"] for e in sandbox.state("salesforce", "PS_Engagement__c")]
    assert value in ids


def test_describe_lists_fields_for_the_client(sf: Salesforce) -> None:
    described = sf.PS_Engagement__c.describe()
    fields = {f["name"]: f for f in described["fields"]}
    assert described["custom"] is True
    assert fields["Opportunity_Id__c"]["externalId"] is True
    assert fields["Opportunity__c"]["referenceTo"] == ["Opportunity"]
    assert fields["Opportunity__c"]["relationshipName"] == "Opportunity__r"
    assert [p["value"] for p in fields["Status__c"]["picklistValues"]] == [
        "Backlog",
        "On Hold",
        "Initiation",
        "In Progress",
        "Closure",
        "Completed",
        "Cancelled",
    ]
    assert fields["Name"]["nillable"] is False
    assert fields["Remaining_Hours__c"]["calculated"] is True
    assert {s["name"] for s in sf.describe()["sobjects"]} >= {"Opportunity", "PS_Engagement__c"}


def test_describe_lists_child_relationships(sf: Salesforce) -> None:
    children = {
        (c["childSObject"], c["field"]): c["relationshipName"]
        for c in sf.Opportunity.describe()["childRelationships"]
    }
    assert children == {
        ("OpportunityContactRole", "OpportunityId"): "OpportunityContactRoles",
        ("OpportunityFieldHistory", "OpportunityId"): "Histories",
        ("OpportunityLineItem", "OpportunityId"): "OpportunityLineItems",
        ("PS_Engagement__c", "Opportunity__c"): "PS_Engagements__r",
    }


def test_seeded_org(sf: Salesforce) -> None:
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] == len(seed.STAFF) + len(seed.PSES) + 1
    (engagement,) = sf.query(
        "SELECT Status__c, Opportunity__r.Name, Opportunity__r.Account.Name FROM PS_Engagement__c"
    )["records"]
    assert engagement["Status__c"] == "Completed"
    assert engagement["Opportunity__r"]["Name"] == ACME_PAST.name
    assert engagement["Opportunity__r"]["Account"]["Name"] == "Acme Corporation"
    roles = sf.query(
        "SELECT Contact.Email, Role FROM OpportunityContactRole "
        f"WHERE OpportunityId = '{ACME_CICD.id}' AND IsPrimary = true"
    )["records"]
    assert [(r["Contact"]["Email"], r["Role"]) for r in roles] == [
        ("wile.coyote@acme.example", "Decision Maker")
    ]
    items = sf.query(
        "SELECT Product2.Name, Quantity, TotalPrice FROM OpportunityLineItem "
        f"WHERE OpportunityId = '{GLOBEX.id}'"
    )["records"]
    assert [(i["Product2"]["Name"], i["TotalPrice"]) for i in items] == [
        ("Kubernetes Integration Services", 27500.0),
        ("Security & Compliance Services", 33000.0),
        ("Training Services", 7200.0),
    ]


# --- errors --------------------------------------------------------------------------------------


def _call(sf: Salesforce, action: str) -> Any:
    acme = seed.ACME.id
    calls = {
        "unknown field": lambda: sf.Account.create({"Name": "X", "Revenue__c": 5}),
        "wrong type": lambda: sf.Opportunity.update(GLOBEX.id, {"Amount": "a lot"}),
        "bad date": lambda: sf.Opportunity.update(GLOBEX.id, {"CloseDate": "next week"}),
        "bad picklist": lambda: sf.PS_Engagement__c.create({"Name": "X", "Status__c": "Done"}),
        "missing required": lambda: sf.Opportunity.create({"Name": "X", "AccountId": acme}),
        "cleared required": lambda: sf.Opportunity.update(GLOBEX.id, {"StageName": None}),
        "duplicate external id": lambda: sf.PS_Engagement__c.create(
            {"Name": "X", "Opportunity_Id__c": ACME_PAST.id}
        ),
        "read-only field": lambda: sf.Opportunity.update(GLOBEX.id, {"IsWon": True}),
        "malformed lookup": lambda: sf.Contact.create({"LastName": "X", "AccountId": "001xyz"}),
        "lookup of another type": lambda: sf.Contact.create(
            {"LastName": "X", "AccountId": GLOBEX.id}
        ),
        "malformed id": lambda: sf.Opportunity.get("006-not-an-id"),
        "unknown id": lambda: sf.Opportunity.get(seed.sfid(seed.OPPORTUNITY, 4242)),
        "id of another object": lambda: sf.Opportunity.get(acme),
        "unknown object": lambda: sf.Opportunityy.get(GLOBEX.id),
        "not an external id": lambda: sf.PS_Engagement__c.upsert(
            "Name/x", {"Status__c": "Backlog"}
        ),
    }
    return calls[action]()


@pytest.mark.parametrize(
    ("action", "exception", "code"),
    [
        ("unknown field", SalesforceMalformedRequest, "INVALID_FIELD"),
        ("wrong type", SalesforceMalformedRequest, "JSON_PARSER_ERROR"),
        ("bad date", SalesforceMalformedRequest, "JSON_PARSER_ERROR"),
        ("bad picklist", SalesforceMalformedRequest, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ("missing required", SalesforceMalformedRequest, "REQUIRED_FIELD_MISSING"),
        ("cleared required", SalesforceMalformedRequest, "REQUIRED_FIELD_MISSING"),
        ("duplicate external id", SalesforceMalformedRequest, "DUPLICATE_VALUE"),
        ("read-only field", SalesforceMalformedRequest, "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ("malformed lookup", SalesforceMalformedRequest, "MALFORMED_ID"),
        ("lookup of another type", SalesforceMalformedRequest, "FIELD_INTEGRITY_EXCEPTION"),
        ("malformed id", SalesforceMalformedRequest, "MALFORMED_ID"),
        ("unknown id", SalesforceResourceNotFound, "NOT_FOUND"),
        ("id of another object", SalesforceResourceNotFound, "NOT_FOUND"),
        ("unknown object", SalesforceResourceNotFound, "NOT_FOUND"),
        ("not an external id", SalesforceResourceNotFound, "NOT_FOUND"),
    ],
)
def test_errors_map_to_simple_salesforce_exceptions(
    sf: Salesforce,
    sandbox: SandboxClient,
    action: str,
    exception: type[SalesforceError],
    code: str,
) -> None:
    before = sandbox.state("salesforce")
    with pytest.raises(exception) as err:
        _call(sf, action)
    assert error_code(err.value) == code
    assert sandbox.state("salesforce") == before  # a refused write changes nothing


def test_error_bodies_name_the_fields(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.Opportunity.create({"Name": "X"})
    assert err.value.content == [
        {
            "message": "Required fields are missing: [StageName, CloseDate]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["StageName", "CloseDate"],
        }
    ]


def test_a_missing_session_is_an_expired_session(sandbox_url: str, sandbox: SandboxClient) -> None:
    sf = connect(sandbox_url, access_token=SecretStr(" "))
    with pytest.raises(SalesforceExpiredSession) as err:
        sf.query("SELECT Id FROM User")
    assert error_code(err.value) == "INVALID_SESSION_ID"


# --- limits and quota ----------------------------------------------------------------------------


def test_every_answer_reports_api_usage(sf: Salesforce, sandbox: SandboxClient) -> None:
    for _ in range(3):
        sf.query("SELECT Id FROM Account LIMIT 1")
    usage = sf.api_usage["api-usage"]
    assert (usage.used, usage.total) == (3, 100_000)
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 100_000, "Remaining": 100_000 - 4}
    assert sf.api_usage["api-usage"].used == len(sandbox.requests(system="salesforce")) == 4


def test_the_daily_request_limit_answers_403(sf: Salesforce, sandbox: SandboxClient) -> None:
    sandbox.set_quotas(True, {"salesforce.daily-api-requests": 3})
    for _ in range(3):
        sf.query("SELECT Id FROM Account LIMIT 1")
    with pytest.raises(SalesforceRefusedRequest) as err:
        sf.Account.get(seed.ACME.id)
    assert err.value.status == 403
    assert err.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    throttled = sandbox.requests(status=403)
    assert [r["quota"] for r in throttled] == ["salesforce.daily-api-requests"]


# --- faults --------------------------------------------------------------------------------------


def test_a_503_is_a_general_error_and_the_retry_succeeds(
    sf: Salesforce, sandbox: SandboxClient
) -> None:
    sandbox.add_fault(r"/salesforce/services/data/v59\.0/query/", method="GET", status=503)
    with pytest.raises(SalesforceGeneralError) as err:
        sf.query("SELECT Id FROM Account")
    assert err.value.status == 503
    assert error_code(err.value) == "SERVER_UNAVAILABLE"
    assert sf.query("SELECT Id FROM Account")["totalSize"] == len(seed.ACCOUNTS)


def test_a_dropped_connection_on_the_next_page(sf: Salesforce, sandbox: SandboxClient) -> None:
    sandbox.act("salesforce", "/opportunities/bulk", count=300)
    sandbox.add_fault(NEXT_PAGE, method="GET", kind="drop")
    options = {"Sforce-Query-Options": "batchSize=200"}
    with pytest.raises(requests.ConnectionError):
        sf.query_all("SELECT Id FROM Opportunity", headers=options)
    assert len(sf.query_all("SELECT Id FROM Opportunity", headers=options)["records"]) == 307


def test_a_slow_answer_times_the_client_out(sandbox_url: str, sandbox: SandboxClient) -> None:
    sf = connect(sandbox_url, timeout_seconds=0.2)
    sandbox.add_fault(r"/salesforce/.*/query/", kind="delay", delay=1.0)
    with pytest.raises(requests.Timeout):
        sf.query("SELECT Id FROM Account")


def test_an_upsert_that_fails_after_commit_exists_once(
    sf: Salesforce, sandbox: SandboxClient
) -> None:
    key = f"Opportunity_Id__c/{GLOBEX.id}"
    sandbox.add_fault(
        r"/salesforce/.*/sobjects/PS_Engagement__c/.*",
        method="PATCH",
        status=500,
        after_commit=True,
    )
    with pytest.raises(SalesforceGeneralError):
        sf.PS_Engagement__c.upsert(key, {"Name": "Globex"})
    assert sf.PS_Engagement__c.upsert(key, {"Name": "Globex"}) == 200  # the retry finds it
    rows = sf.query(f"SELECT Id FROM PS_Engagement__c WHERE Opportunity_Id__c = '{GLOBEX.id}'")
    assert rows["totalSize"] == 1


# --- control routes ------------------------------------------------------------------------------


def test_a_salesperson_moves_the_stage(sf: Salesforce, sandbox: SandboxClient) -> None:
    before = sf.Opportunity.get(ACME_CICD.id)
    sandbox.advance_clock(days=1)
    sandbox.act("salesforce", f"/opportunities/{ACME_CICD.id}/stage", stage="5-Negotiating")
    after = sf.Opportunity.get(ACME_CICD.id)
    assert (after["StageName"], after["Probability"], after["IsClosed"]) == (
        "5-Negotiating",
        80.0,
        False,
    )
    assert after["SystemModstamp"] > before["SystemModstamp"]
    assert after["LastModifiedById"] == seed.user_id(seed.staff("dana_cole"))
    recent = sf.query(
        "SELECT Id FROM Opportunity WHERE StageName = '5-Negotiating' AND SystemModstamp = TODAY"
    )
    assert [r["Id"] for r in recent["records"]] == [ACME_CICD.id]
    sandbox.act("salesforce", f"/opportunities/{ACME_CICD.id}/stage", stage="Closed Won")
    won = sf.Opportunity.get(ACME_CICD.id)
    assert (won["IsClosed"], won["IsWon"]) == (True, True)
    assert sandbox.writes(system="salesforce") == 0  # people's actions are not API calls
    with pytest.raises(httpx.HTTPStatusError) as err:
        sandbox.act("salesforce", f"/opportunities/{ACME_CICD.id}/stage", stage="Won")
    assert err.value.response.status_code == 422


def test_a_person_edits_any_record(sf: Salesforce, sandbox: SandboxClient) -> None:
    (contact,) = sf.query("SELECT Id FROM Contact WHERE Email = 'road.runner@acme.example'")[
        "records"
    ]
    sandbox.edit("salesforce", f"/sobjects/Contact/{contact['Id']}", Email=None)
    assert sf.Contact.get(contact["Id"])["Email"] is None
    with pytest.raises(httpx.HTTPStatusError) as err:
        sandbox.edit("salesforce", f"/sobjects/Contact/{contact['Id']}", Nope=1)
    assert err.value.response.status_code == 400
    assert err.value.response.json()["error"].startswith("INVALID_FIELD: No such column 'Nope'")


def test_bulk_opportunities_are_created_and_queryable(
    sf: Salesforce, sandbox: SandboxClient
) -> None:
    # its speed at 10,000 is a benchmark's business, not a test's
    created = sandbox.act("salesforce", "/opportunities/bulk", count=1_000, stage="5-Negotiating")
    assert created["count"] == len(set(created["ids"])) == 1_000
    negotiating = sf.query("SELECT COUNT() FROM Opportunity WHERE StageName = '5-Negotiating'")
    assert negotiating["totalSize"] == 1_000
    (sample,) = sf.query(
        f"SELECT Account.Name, Owner.Email, Probability FROM Opportunity WHERE Id = '{created['ids'][-1]}'"
    )["records"]
    assert sample["Account"]["Name"] in {a.name for a in seed.ACCOUNTS}
    assert sample["Probability"] == 80.0


def test_stage_changes_are_tracked_in_opportunity_field_history(
    sf: Salesforce, sandbox: SandboxClient
) -> None:
    opportunity = seed.OPPORTUNITIES[1].id
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="5-Negotiating")
    sf.Opportunity.update(opportunity, {"StageName": "Closed Won", "Type": "New Customer"})
    sf.Opportunity.update(opportunity, {"SOW_Number__c": "SOW-2026-041b"})  # not tracked

    rows = sf.query(
        "SELECT Id, OpportunityId, OldValue, NewValue, CreatedDate, Opportunity.Name "
        f"FROM OpportunityFieldHistory WHERE Field = 'StageName' AND OpportunityId = '{opportunity}' "
        "ORDER BY CreatedDate, Id"
    )["records"]
    assert [(r["OldValue"], r["NewValue"]) for r in rows] == [
        ("4-Proposal", "5-Negotiating"),
        ("5-Negotiating", "Closed Won"),
    ]
    assert {r["Id"][:3] for r in rows} == {"017"}
    assert rows[0]["Opportunity"]["Name"] == seed.OPPORTUNITIES[1].name
    with pytest.raises(SalesforceMalformedRequest):  # Salesforce writes history, nobody else
        sf.OpportunityFieldHistory.create({"OpportunityId": opportunity, "Field": "StageName"})


def test_two_sandboxes_never_hand_out_the_same_record_id(tmp_path: Path) -> None:
    """As two real orgs: one test process runs several sandboxes against one Prefect server and
    one memory of psflow's, keyed by opportunity ids (event ids, Gmail drafts)."""
    made = []
    for name in ("one", "two"):
        with SandboxServer(tmp_path / name) as server:
            client = SandboxClient(server.url)
            made.append(opportunities(client, count=1, amount=10_000, imported=True)[0])
            made.append(opportunities(client, count=1, amount=10_000)[0])
            client.reset()  # and the same sandbox never again, across resets
            made.append(opportunities(client, count=1, amount=10_000, imported=True)[0])
            client.close()
    assert len(set(made)) == len(made), made
    assert all(len(i) == 18 and i.startswith(seed.OPPORTUNITY) for i in made)


def test_the_orgs_validation_rule_keeps_an_engagement_from_completed_without_its_close_out(
    sf: Salesforce, sandbox: SandboxClient
) -> None:
    key = f"Opportunity_Id__c/{quote(GLOBEX.id, safe='')}"
    body = {"Name": "Globex close-out", "Opportunity__c": GLOBEX.id, "Status__c": "Closure"}
    assert sf.PS_Engagement__c.upsert(key, body) == 201
    half = {"Status__c": "Completed", "Actual_Start__c": "2027-01-04", "Completed__c": "2027-03-26"}
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.PS_Engagement__c.upsert(key, half)
    assert error_code(refused.value) == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    message = refused.value.content[0]["message"]
    assert message.endswith(
        "missing: Sign_Off_Date__c, Signed_Acceptance__c, Hours_Consumed__c, Project_Owner__c"
    )
    (record,) = [
        r
        for r in sandbox.state("salesforce", "PS_Engagement__c")
        if r["Name"] == "Globex close-out"
    ]
    assert record["Status__c"] == "Closure"  # refused whole: nothing of the save applied
    assert record["Completed__c"] is None

    # psflow checks the same fields first: its list is the org's rule
    (rule,) = VALIDATION_RULES["PS_Engagement__c"]
    assert rule.required == COMPLETION_REQUIRES
    owner = seed.user_id(seed.staff("nora_quinn"))
    filled = {**half, "Sign_Off_Date__c": "2027-03-25", "Signed_Acceptance__c": True}
    filled |= {"Hours_Consumed__c": 312, "Project_Owner__c": owner}
    assert completion_problems(filled) == []
    assert sf.PS_Engagement__c.upsert(key, filled) == 200  # an update (API 46.0 and later)
