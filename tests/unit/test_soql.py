"""The SOQL parser and evaluator of the Salesforce stand-in, on in-memory records (no server)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.salesforce.schema import normalize_id
from sandbox.salesforce.soql import (
    And,
    Children,
    Comparison,
    InList,
    Like,
    Not,
    Or,
    SoqlError,
    Subquery,
    compile_query,
    parse,
    run,
)
from sandbox.seed import sfid

NOW = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)  # a Thursday
TODAY = NOW.date()

USERS = {
    sfid("005", 1): {"Id": sfid("005", 1), "Name": "Dana Cole", "Email": "dana@x.example"},
    sfid("005", 2): {"Id": sfid("005", 2), "Name": "Sam Patel", "Email": None},
}
ACCOUNTS = {
    sfid("001", 1): {"Id": sfid("001", 1), "Name": "Acme", "OwnerId": sfid("005", 2)},
    sfid("001", 2): {"Id": sfid("001", 2), "Name": "Globex", "OwnerId": sfid("005", 1)},
}


def opportunity(n: int, name: str, **fields: Any) -> dict[str, Any]:
    record = {
        "Id": sfid("006", n),
        "Name": name,
        "AccountId": sfid("001", 1),
        "OwnerId": sfid("005", 1),
        "StageName": "4-Proposal",
        "Amount": None,
        "IsWon": False,
        "CloseDate": TODAY.isoformat(),
        "CreatedDate": "2026-11-20T10:00:00.000+0000",
        "PS_Engagement_Manager__c": None,
        "IsDeleted": False,
    }
    return record | fields


OPPORTUNITIES = {
    o["Id"]: o
    for o in (
        opportunity(
            1,
            "Acme – Migration",
            Amount=48000.0,
            StageName="Closed Won",
            IsWon=True,
            CloseDate=(TODAY - timedelta(days=400)).isoformat(),
        ),
        opportunity(2, "Acme – CI/CD 50%", Amount=42000.0, PS_Engagement_Manager__c=sfid("005", 2)),
        opportunity(
            3,
            "Globex – Kubernetes",
            Amount=68500.0,
            AccountId=sfid("001", 2),
            StageName="5-Negotiating",
            CloseDate=(TODAY - timedelta(days=1)).isoformat(),
            CreatedDate="2026-11-26T09:00:00.000+0000",
        ),
        opportunity(
            4, "Initech_Security", AccountId=None, CloseDate=(TODAY + timedelta(days=3)).isoformat()
        ),
        opportunity(
            5, "Wayne – Jenkins", Amount=61000.0, StageName="8-Closed Lost", IsDeleted=True
        ),
    )
}
CONTACTS = {
    c["Id"]: c
    for c in (
        {"Id": sfid("003", 1), "AccountId": sfid("001", 1), "FirstName": "Wile", "Email": "w@x"},
        {"Id": sfid("003", 2), "AccountId": sfid("001", 1), "FirstName": "Road", "Email": None},
    )
}
CONTACT_ROLES = {
    r["Id"]: r
    for r in (
        {
            "Id": sfid("00K", 1),
            "OpportunityId": sfid("006", 2),
            "ContactId": sfid("003", 1),
            "Role": "Decision Maker",
        },
        {
            "Id": sfid("00K", 2),
            "OpportunityId": sfid("006", 2),
            "ContactId": sfid("003", 2),
            "Role": "Technical Buyer",
        },
    )
}
PRODUCTS = {sfid("01t", 1): {"Id": sfid("01t", 1), "ProductCode": "PS-CICD"}}
LINE_ITEMS = {
    i["Id"]: i
    for i in (
        {
            "Id": sfid("00k", 1),
            "OpportunityId": sfid("006", 2),
            "Product2Id": sfid("01t", 1),
            "Description": "Pipelines",
            "Quantity": 80.0,
        },
        {
            "Id": sfid("00k", 2),
            "OpportunityId": sfid("006", 2),
            "Product2Id": None,
            "Description": "Training",
            "Quantity": 24.0,
        },
        {
            "Id": sfid("00k", 3),
            "OpportunityId": sfid("006", 1),
            "Product2Id": sfid("01t", 1),
            "Description": "Migration",
            "Quantity": 120.0,
        },
    )
}
TABLES = {
    "User": USERS,
    "Account": ACCOUNTS,
    "Opportunity": OPPORTUNITIES,
    "Contact": CONTACTS,
    "OpportunityContactRole": CONTACT_ROLES,
    "Product2": PRODUCTS,
    "OpportunityLineItem": LINE_ITEMS,
}


def fetch(type_: str, record_id: str) -> dict[str, Any] | None:
    return TABLES[type_].get(record_id)


def query(soql: str) -> list[dict[str, Any]]:
    return run(soql, lambda name: list(TABLES[name].values()), fetch, NOW)[1]


def names(soql: str) -> list[str]:
    return [r["Name"] for r in query(soql)]


def error(soql: str) -> SoqlError:
    with pytest.raises(SoqlError) as err:
        compile_query(soql)
    return err.value


def attributes(type_: str, record_id: str) -> dict[str, Any]:
    return {"type": type_, "url": f"/services/data/v59.0/sobjects/{type_}/{record_id}"}


# --- parsing -------------------------------------------------------------------------------------


def test_parse_builds_the_syntax_tree() -> None:
    q = parse(
        "select Id, Account.Name from Opportunity where (Amount > 10 or Name like 'A%') "
        "and not StageName in ('x') order by Amount desc nulls last, Name limit 5 offset 2"
    )
    assert [f.path for f in q.select] == [("Id",), ("Account", "Name")]  # type: ignore[union-attr]
    assert q.sobject == "Opportunity"
    assert isinstance(q.where, And)
    first, second = q.where.conditions
    assert isinstance(first, Or)
    assert isinstance(first.conditions[0], Comparison)
    assert isinstance(first.conditions[1], Like)
    assert isinstance(second, Not)
    assert isinstance(second.condition, InList)
    assert [(o.field.path, o.descending, o.nulls_last) for o in q.order_by] == [
        (("Amount",), True, True),
        (("Name",), False, False),
    ]
    assert (q.limit, q.offset) == (5, 2)


@pytest.mark.parametrize(
    ("soql", "token"),
    [
        ("SELECT Id FROM Opportunity WHERE Name = 'a' AND Amount > 1 OR Amount < 2", "'OR'"),
        ("SELECT Id FROM Opportunity WHERE", "<EOF>"),
        ("SELECT Id Opportunity", "'Opportunity'"),
        ("SELECT Id, FROM Opportunity", "'FROM'"),
        ("SELECT Id FROM Opportunity LIMIT 5 extra", "'extra'"),
        ("SELECT Id FROM Opportunity WHERE Name = 'a' #", "'#'"),
        ("SELECT Id FROM Opportunity WHERE Amount IN (1, 2", "<EOF>"),
    ],
)
def test_malformed_queries_name_the_unexpected_token(soql: str, token: str) -> None:
    err = error(soql)
    assert err.code == "MALFORMED_QUERY"
    assert err.message == f"unexpected token: {token}"


def test_errors_render_like_salesforce_with_a_caret_row_and_column() -> None:
    soql = "SELECT Id,\n  Nmae FROM Opportunity"
    err = error(soql)
    assert err.code == "INVALID_FIELD"
    assert err.render(soql).startswith("\n  Nmae FROM Opportunity\n  ^\nERROR at Row:2:Column:3\n")
    assert "No such column 'Nmae' on entity 'Opportunity'" in err.message


def test_unterminated_strings_and_bad_escapes_are_malformed() -> None:
    assert error("SELECT Id FROM Account WHERE Name = 'abc").code == "MALFORMED_QUERY"
    assert (
        "Illegal character sequence" in error(r"SELECT Id FROM Account WHERE Name = 'a\q'").message
    )


# --- binding -------------------------------------------------------------------------------------


def test_unknown_object_field_and_relationship() -> None:
    assert error("SELECT Id FROM Opportunityy").code == "INVALID_TYPE"
    assert (
        "sObject type 'Opportunityy' is not supported"
        in error("SELECT Id FROM Opportunityy").message
    )
    bad_rel = error("SELECT Acount.Name FROM Opportunity")
    assert bad_rel.code == "INVALID_FIELD"
    assert "Didn't understand relationship 'Acount'" in bad_rel.message
    assert (
        error("SELECT Account FROM Opportunity").code == "INVALID_FIELD"
    )  # a relationship, not a field
    assert error("SELECT Id FROM Opportunity ORDER BY Nope").code == "INVALID_FIELD"
    assert error("SELECT Id FROM Opportunity WHERE Nope = 1").code == "INVALID_FIELD"


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("Amount = '5'", "must be of type double and should not be enclosed in quotes"),
        ("Name = 5", "must be of type string and should be enclosed in quotes"),
        ("CloseDate = '2026-11-26'", "must be of type date and should not be enclosed in quotes"),
        ("CloseDate = 2026-11-26T10:00:00Z", "must be of type date"),
        ("CreatedDate > 2026-11-26", "must be of type dateTime"),
        ("IsWon = 'true'", "must be of type boolean"),
        ("IsWon > true", "invalid operator on boolean field"),
        ("Id = 'abc'", "invalid ID field: abc"),
        ("AccountId IN ('001', 'x')", "invalid ID field: 001"),
        ("Amount LIKE '5%'", "invalid operator on double field"),
    ],
)
def test_literals_of_the_wrong_type_are_refused(where: str, message: str) -> None:
    err = error(f"SELECT Id FROM Opportunity WHERE {where}")
    assert err.code == "INVALID_QUERY_FILTER_OPERATOR"
    assert message in err.message


def test_count_stands_alone_duplicates_and_offset_limits() -> None:
    assert "COUNT()" in error("SELECT COUNT(), Id FROM Opportunity").message
    assert error("SELECT Id, id FROM Opportunity").message == "duplicate field selected: id"
    assert error("SELECT Id FROM Opportunity OFFSET 2001").code == "NUMBER_OUTSIDE_VALID_RANGE"


# --- evaluation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Amount = 42000", ["Acme – CI/CD 50%"]),
        ("Amount != 42000", ["Acme – Migration", "Globex – Kubernetes", "Initech_Security"]),
        ("Amount <> 42000", ["Acme – Migration", "Globex – Kubernetes", "Initech_Security"]),
        ("Amount < 48000", ["Acme – CI/CD 50%"]),
        ("Amount <= 48000", ["Acme – Migration", "Acme – CI/CD 50%"]),
        ("Amount > 48000", ["Globex – Kubernetes"]),
        ("Amount >= 48000", ["Acme – Migration", "Globex – Kubernetes"]),
        ("Amount = null", ["Initech_Security"]),
        ("Amount != null", ["Acme – Migration", "Acme – CI/CD 50%", "Globex – Kubernetes"]),
        (
            "StageName IN ('closed won', '5-Negotiating')",
            ["Acme – Migration", "Globex – Kubernetes"],
        ),
        ("StageName NOT IN ('4-Proposal')", ["Acme – Migration", "Globex – Kubernetes"]),
        ("Name = 'ACME – MIGRATION'", ["Acme – Migration"]),  # text compares case-insensitively
        ("Name LIKE 'acme%'", ["Acme – Migration", "Acme – CI/CD 50%"]),
        ("Name LIKE '%50\\%'", ["Acme – CI/CD 50%"]),  # \% is a literal percent sign
        ("Name LIKE 'Initech_Security'", ["Initech_Security"]),
        ("Name LIKE 'Initech\\_S%'", ["Initech_Security"]),
        ("Name LIKE '_lobex%'", ["Globex – Kubernetes"]),
        ("IsWon = true", ["Acme – Migration"]),
        ("IsWon = FALSE AND Amount > 0", ["Acme – CI/CD 50%", "Globex – Kubernetes"]),
        ("Amount > 50000 OR Name LIKE 'Init%'", ["Globex – Kubernetes", "Initech_Security"]),
        ("NOT Amount > 45000", ["Acme – CI/CD 50%", "Initech_Security"]),
        ("NOT (Amount > 45000 OR Amount = null)", ["Acme – CI/CD 50%"]),
        (
            "(Amount > 45000 OR Amount = null) AND StageName != 'Closed Won'",
            ["Globex – Kubernetes", "Initech_Security"],
        ),
        ("Account.Name = 'Globex'", ["Globex – Kubernetes"]),
        ("Account.Name = null", ["Initech_Security"]),
        ("Account.Owner.Name = 'Sam Patel'", ["Acme – Migration", "Acme – CI/CD 50%"]),
        ("PS_Engagement_Manager__r.Name = 'Sam Patel'", ["Acme – CI/CD 50%"]),
        (f"Id = '{sfid('006', 3)[:15]}'", ["Globex – Kubernetes"]),  # a 15-character id matches
        (f"AccountId IN ('{sfid('001', 2)}')", ["Globex – Kubernetes"]),
    ],
)
def test_where_operators(where: str, expected: list[str]) -> None:
    assert names(f"SELECT Name FROM Opportunity WHERE {where}") == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("CloseDate = TODAY", ["Acme – CI/CD 50%"]),
        ("CloseDate = YESTERDAY", ["Globex – Kubernetes"]),
        ("CloseDate > TODAY", ["Initech_Security"]),
        ("CloseDate <= TODAY", ["Acme – Migration", "Acme – CI/CD 50%", "Globex – Kubernetes"]),
        ("CloseDate = LAST_N_DAYS:1", ["Acme – CI/CD 50%", "Globex – Kubernetes"]),  # today too
        ("CloseDate = NEXT_N_DAYS:3", ["Initech_Security"]),
        ("CloseDate < LAST_N_DAYS:30", ["Acme – Migration"]),
        ("CloseDate = THIS_MONTH", ["Acme – CI/CD 50%", "Globex – Kubernetes", "Initech_Security"]),
        ("CloseDate = THIS_WEEK", ["Acme – CI/CD 50%", "Globex – Kubernetes"]),  # Sun..Sat
        ("CloseDate = NEXT_WEEK", ["Initech_Security"]),
        ("CloseDate = 2026-11-25", ["Globex – Kubernetes"]),
        ("CloseDate >= 2026-11-26", ["Acme – CI/CD 50%", "Initech_Security"]),
        ("CreatedDate = TODAY", ["Globex – Kubernetes"]),
        ("CreatedDate > 2026-11-26T08:59:59Z", ["Globex – Kubernetes"]),
        (
            "CreatedDate < 2026-11-26T10:00:00+01:00",
            ["Acme – Migration", "Acme – CI/CD 50%", "Initech_Security"],
        ),
        ("CreatedDate = LAST_N_DAYS:7", [o["Name"] for o in OPPORTUNITIES.values()][:4]),
    ],
)
def test_dates_datetimes_and_date_literals(where: str, expected: list[str]) -> None:
    assert names(f"SELECT Name FROM Opportunity WHERE {where}") == expected


def test_order_by_several_fields_with_nulls_first_by_default_and_limit_offset() -> None:
    assert names("SELECT Name FROM Opportunity ORDER BY Amount") == [
        "Initech_Security",
        "Acme – CI/CD 50%",
        "Acme – Migration",
        "Globex – Kubernetes",
    ]
    assert (
        names("SELECT Name FROM Opportunity ORDER BY Amount DESC NULLS LAST")[-1]
        == "Initech_Security"
    )
    assert names("SELECT Name FROM Opportunity ORDER BY Amount DESC")[0] == "Initech_Security"
    assert names("SELECT Name FROM Opportunity ORDER BY AccountId NULLS LAST, Amount DESC") == [
        "Acme – Migration",
        "Acme – CI/CD 50%",
        "Globex – Kubernetes",
        "Initech_Security",
    ]
    assert names(
        "SELECT Name FROM Opportunity ORDER BY Account.Name DESC, Name LIMIT 2 OFFSET 1"
    ) == ["Globex – Kubernetes", "Acme – CI/CD 50%"]  # skips Initech: no account, null first


def test_relationship_fields_are_nested_records_with_attributes() -> None:
    soql = (
        "SELECT name, account.name, Account.Owner.Email, PS_Engagement_Manager__r.Email "
        f"FROM opportunity WHERE Id IN ('{sfid('006', 2)}', '{sfid('006', 4)}') ORDER BY Name"
    )
    acme, initech = query(soql)
    assert acme == {
        "attributes": {
            "type": "Opportunity",
            "url": f"/services/data/v59.0/sobjects/Opportunity/{sfid('006', 2)}",
        },
        "Name": "Acme – CI/CD 50%",
        "Account": {
            "attributes": {
                "type": "Account",
                "url": f"/services/data/v59.0/sobjects/Account/{sfid('001', 1)}",
            },
            "Name": "Acme",
            "Owner": {
                "attributes": {
                    "type": "User",
                    "url": f"/services/data/v59.0/sobjects/User/{sfid('005', 2)}",
                },
                "Email": None,
            },
        },
        "PS_Engagement_Manager__r": {
            "attributes": {
                "type": "User",
                "url": f"/services/data/v59.0/sobjects/User/{sfid('005', 2)}",
            },
            "Email": None,
        },
    }
    assert initech["Account"] is None
    assert initech["PS_Engagement_Manager__r"] is None


def test_count_and_deleted_records() -> None:
    assert run(
        "SELECT COUNT() FROM Opportunity", lambda n: list(TABLES[n].values()), fetch, NOW
    ) == (4, [])
    compiled = compile_query("SELECT Name FROM Opportunity WHERE StageName = '8-Closed Lost'")
    rows = OPPORTUNITIES.values()
    assert compiled.select_records(rows, fetch, NOW) == []
    assert [r["Name"] for r in compiled.select_records(rows, fetch, NOW, include_deleted=True)] == [
        "Wayne – Jenkins"
    ]


def test_ids_normalise_to_18_characters_with_their_checksum() -> None:
    assert normalize_id("00300000003T2PG") == "00300000003T2PGAA0"  # Salesforce's own example
    assert normalize_id("00300000003T2PGAA0") == "00300000003T2PGAA0"
    assert normalize_id("00300000003T2PGAAA") is None  # wrong checksum
    assert normalize_id("003-0000003T2PG") is None
    assert normalize_id(sfid("006", 12345)) == sfid("006", 12345)


@given(st.lists(st.one_of(st.none(), st.integers(-1000, 1000)), max_size=30))
def test_order_by_matches_a_plain_sort(amounts: list[int | None]) -> None:
    table = {
        sfid("006", i + 1): opportunity(i + 1, f"o{i}", Amount=None if a is None else float(a))
        for i, a in enumerate(amounts)
    }
    compiled = compile_query("SELECT Amount FROM Opportunity ORDER BY Amount DESC NULLS LAST, Id")
    got = [r["Amount"] for r in compiled.select_records(table.values(), fetch, NOW)]
    present = sorted((float(a) for a in amounts if a is not None), reverse=True)
    assert got == [*present, *[None] * amounts.count(None)]


def test_today_is_taken_from_the_clock_given() -> None:
    later = NOW + timedelta(days=1)
    compiled = compile_query("SELECT Name FROM Opportunity WHERE CloseDate = YESTERDAY")
    rows = compiled.select_records(OPPORTUNITIES.values(), fetch, later)
    assert [r["CloseDate"] for r in rows] == [date(2026, 11, 26).isoformat()]


# --- parent-to-child subqueries ------------------------------------------------------------------


def test_parse_reads_a_subquery_in_the_select_list() -> None:
    q = parse(
        "SELECT Name, (SELECT LastName FROM Contacts WHERE Email != null ORDER BY LastName "
        "LIMIT 5) FROM Account"
    )
    _, sub = q.select
    assert isinstance(sub, Subquery)
    assert (sub.query.sobject, sub.query.limit) == ("Contacts", 5)
    assert [f.path for f in sub.query.select] == [("LastName",)]  # type: ignore[union-attr]
    assert isinstance(sub.query.where, Comparison)
    assert [o.field.path for o in sub.query.order_by] == [("LastName",)]
    assert q.sobject == "Account"


def test_subqueries_nest_child_records_under_the_relationship_name() -> None:
    cicd, globex = query(
        "SELECT Name, (SELECT ContactId, Role, Contact.FirstName, Contact.Email "
        "FROM OpportunityContactRoles), "
        "(SELECT Product2.ProductCode, Description, Quantity FROM opportunitylineitems) "
        f"FROM Opportunity WHERE Id IN ('{sfid('006', 2)}', '{sfid('006', 3)}') ORDER BY Name"
    )
    assert cicd == {
        "attributes": attributes("Opportunity", sfid("006", 2)),
        "Name": "Acme – CI/CD 50%",
        "OpportunityContactRoles": {
            "totalSize": 2,
            "done": True,
            "records": [
                {
                    "attributes": attributes("OpportunityContactRole", sfid("00K", 1)),
                    "ContactId": sfid("003", 1),
                    "Role": "Decision Maker",
                    "Contact": {
                        "attributes": attributes("Contact", sfid("003", 1)),
                        "FirstName": "Wile",
                        "Email": "w@x",
                    },
                },
                {
                    "attributes": attributes("OpportunityContactRole", sfid("00K", 2)),
                    "ContactId": sfid("003", 2),
                    "Role": "Technical Buyer",
                    "Contact": {
                        "attributes": attributes("Contact", sfid("003", 2)),
                        "FirstName": "Road",
                        "Email": None,
                    },
                },
            ],
        },
        "OpportunityLineItems": {
            "totalSize": 2,
            "done": True,
            "records": [
                {
                    "attributes": attributes("OpportunityLineItem", sfid("00k", 1)),
                    "Product2": {
                        "attributes": attributes("Product2", sfid("01t", 1)),
                        "ProductCode": "PS-CICD",
                    },
                    "Description": "Pipelines",
                    "Quantity": 80.0,
                },
                {
                    "attributes": attributes("OpportunityLineItem", sfid("00k", 2)),
                    "Product2": None,
                    "Description": "Training",
                    "Quantity": 24.0,
                },
            ],
        },
    }
    assert list(cicd) == ["attributes", "Name", "OpportunityContactRoles", "OpportunityLineItems"]
    # No children: the relationship is null, not an empty result.
    assert globex["OpportunityContactRoles"] is None
    assert globex["OpportunityLineItems"] is None


def test_subqueries_filter_order_and_limit_each_parents_children() -> None:
    def children(sub: str) -> list[list[str] | None]:
        rows = query(f"SELECT Name, ({sub}) FROM Account ORDER BY Name")
        return [
            [r["Name"] for r in a["Opportunities"]["records"]] if a["Opportunities"] else None
            for a in rows
        ]

    # Acme's deleted opportunity is left out, as in any query.
    assert children("SELECT Name FROM Opportunities ORDER BY Amount") == [
        ["Acme – CI/CD 50%", "Acme – Migration"],
        ["Globex – Kubernetes"],
    ]
    assert children("SELECT Name FROM Opportunities ORDER BY Amount DESC LIMIT 1") == [
        ["Acme – Migration"],
        ["Globex – Kubernetes"],
    ]
    assert children(
        "SELECT Name FROM Opportunities WHERE Account.Owner.Name = 'Sam Patel' AND IsWon = false"
    ) == [["Acme – CI/CD 50%"], None]


def test_subqueries_nest_below_subqueries() -> None:
    (acme,) = query(
        "SELECT Name, (SELECT Name, (SELECT Description FROM OpportunityLineItems) "
        f"FROM Opportunities ORDER BY Name) FROM Account WHERE Id = '{sfid('001', 1)}'"
    )
    opportunities = acme["Opportunities"]["records"]
    assert [o["Name"] for o in opportunities] == ["Acme – CI/CD 50%", "Acme – Migration"]
    assert [
        [i["Description"] for i in o["OpportunityLineItems"]["records"]] for o in opportunities
    ] == [["Pipelines", "Training"], ["Migration"]]


@pytest.mark.parametrize(
    ("soql", "name"),
    [
        ("SELECT Id, (SELECT Id FROM Contactz) FROM Account", "Contactz"),
        # The child object's name, a relationship of another object, a custom one without __r.
        ("SELECT Id, (SELECT Id FROM Contact) FROM Account", "Contact"),
        ("SELECT Id, (SELECT Id FROM Contacts) FROM Opportunity", "Contacts"),
        ("SELECT Id, (SELECT Id FROM PS_Engagements) FROM Opportunity", "PS_Engagements"),
    ],
)
def test_an_unknown_child_relationship_is_an_invalid_type(soql: str, name: str) -> None:
    err = error(soql)
    assert err.code == "INVALID_TYPE"
    assert err.message.startswith(
        f"Didn't understand relationship '{name}' in FROM part of query call."
    )
    assert err.render(soql).splitlines()[-2] == f"ERROR at Row:1:Column:{soql.index(name) + 1}"


def test_subquery_fields_are_checked_against_the_child_object() -> None:
    err = error("SELECT Id, (SELECT Nope FROM Contacts) FROM Account")
    assert err.code == "INVALID_FIELD"
    assert "No such column 'Nope' on entity 'Contact'" in err.message
    assert error("SELECT Id, (SELECT Id FROM Contacts WHERE Email = 5) FROM Account").code == (
        "INVALID_QUERY_FILTER_OPERATOR"
    )
    _, engagements = compile_query(
        "SELECT Id, (SELECT Id FROM ps_engagements__r) FROM Opportunity"
    ).select
    assert isinstance(engagements, Children)
    assert engagements.relationship.name == "PS_Engagements__r"
    assert engagements.query.sobject.name == "PS_Engagement__c"


@pytest.mark.parametrize(
    ("soql", "message"),
    [
        ("SELECT Id, (SELECT COUNT() FROM Contacts) FROM Account", "COUNT() is not allowed"),
        ("SELECT COUNT(), (SELECT Id FROM Contacts) FROM Account", "COUNT() cannot be combined"),
        ("SELECT Id, (SELECT Id FROM Contacts OFFSET 1) FROM Account", "only when the outer"),
        (
            "SELECT Id, (SELECT Id FROM Contacts), (SELECT Id FROM contacts) FROM Account",
            "duplicate field selected: Contacts",
        ),
        ("SELECT Id, (SELECT Id FROM Contacts FROM Account", "unexpected token: 'FROM'"),
        # A subquery in WHERE is a semi-join, which this SOQL does not have.
        ("SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact)", "'SELECT'"),
    ],
)
def test_subqueries_refused_as_salesforce_refuses_them(soql: str, message: str) -> None:
    err = error(soql)
    assert err.code == "MALFORMED_QUERY"
    assert message in err.message


def test_a_subquery_may_skip_children_when_the_outer_query_reads_one_record() -> None:
    (acme,) = query(
        "SELECT Name, (SELECT Name FROM Opportunities ORDER BY Name LIMIT 1 OFFSET 1) "
        "FROM Account ORDER BY Name LIMIT 1"
    )
    assert [o["Name"] for o in acme["Opportunities"]["records"]] == ["Acme – Migration"]
