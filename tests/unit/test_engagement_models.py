"""The domain models: every validation error names its field and says what is expected; the
Salesforce id checksum; cost estimate maths and completeness; the skills cell format."""

from __future__ import annotations

import string
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from engagement.models import (
    HOURS_PER_DAY,
    Account,
    Contact,
    CostEstimate,
    Engagement,
    EngagementStatus,
    EstimateActivity,
    Opportunity,
    Partner,
    Pse,
    SowActivity,
    format_skills,
    google_doc_id,
    parse_list,
    parse_skills,
    salesforce_checksum,
    salesforce_id,
)
from testkit.factories import (
    ACCOUNT_ID,
    OPPORTUNITY_ID,
    account_fields,
    contact_fields,
    opportunity_fields,
)


def pse(**changes: Any) -> dict[str, Any]:
    return {
        "email": "aisha.bello@northwind.example",
        "name": "Aisha Bello",
        "title": "Sr. PS Engineer",
        "time_zone": "Africa/Lagos",
        "skills": {"gitlab-ci": 5, "kubernetes": 4},
        "growth_goals": ["security"],
        "traits": "calm; structured; written",
    } | changes


def engagement(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Acme – CI/CD Modernisation",
        "opportunity_id": OPPORTUNITY_ID,
        "status": "In Progress",
        "scoped_hours": 160,
        "hours_consumed": 40,
    } | changes


def estimate(**changes: Any) -> dict[str, Any]:
    return {
        "opportunity_id": OPPORTUNITY_ID,
        "revenue": "42000",
        "currency": "USD",
        "activities": [
            {"activity": "PS-CICD", "effort": 72},
            {"activity": "PS-K8S", "effort": 11, "unit": "days"},
        ],
    } | changes


def only_error(model: type[BaseModel], data: dict[str, Any]) -> tuple[tuple[str | int, ...], str]:
    """The location and message of the single error `data` gives."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return errors[0]["loc"], errors[0]["msg"]


# --- Salesforce ids ------------------------------------------------------------------------------


def test_checksum_matches_salesforces_documented_example() -> None:
    # the 15/18-character pair Salesforce's own documentation uses
    assert salesforce_checksum("0015000000Gv7qJ") == "AAR"
    assert salesforce_id("0015000000Gv7qJ") == "0015000000Gv7qJAAR"


def test_seed_style_ids_normalise_to_18_characters() -> None:
    assert salesforce_id("006Dn0000000002", "006") == OPPORTUNITY_ID
    assert salesforce_id(OPPORTUNITY_ID, "006") == OPPORTUNITY_ID
    assert salesforce_id("006Dn00000000zz") == "006Dn00000000zzIAA"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("006Dn0000000002IAB", "checksum"),  # wrong suffix
        ("006dn0000000002IAA", "checksum"),  # a letter's case changed
        ("006Dn0000000002iaa", "checksum"),  # suffix lower-cased
        ("001Dn0000000001IAA", "starting with '006'"),  # an Account id
        ("006Dn000000002", "15 or 18"),
        ("006Dn00000000002IA", "15 or 18"),  # 17 characters
        ("006Dn0000000-02", "15 or 18"),
        ("006Dn000000000٢", "15 or 18"),  # a non-ASCII digit
        ("", "15 or 18"),
    ],
)
def test_bad_opportunity_ids_are_refused_naming_the_field(value: str, expected: str) -> None:
    loc, message = only_error(Opportunity, opportunity_fields(id=value))
    assert loc == ("id",)
    assert "Opportunity id" in message
    assert expected in message


def test_each_id_field_checks_its_own_prefix() -> None:
    loc, message = only_error(
        Opportunity, opportunity_fields(account=account_fields(id=OPPORTUNITY_ID))
    )
    assert loc == ("account", "id")
    assert "Account id" in message
    loc, message = only_error(Contact, contact_fields(id=ACCOUNT_ID))
    assert loc == ("id",)
    assert "Contact id" in message
    loc, message = only_error(Pse, pse(user_id=OPPORTUNITY_ID))
    assert loc == ("user_id",)
    assert "User id" in message


id15 = st.text(string.ascii_letters + string.digits, min_size=12, max_size=12).map(
    lambda body: "006" + body
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(id15)
def test_18_character_ids_are_stable_and_case_safe(value: str) -> None:
    long_id = salesforce_id(value, "006")
    assert long_id[:15] == value
    assert salesforce_id(long_id, "006") == long_id
    # the same id with any one letter's case flipped is a different record; its 18-character
    # form must differ even where case is ignored
    for i, char in enumerate(value):
        if char.isalpha():
            twin = value[:i] + char.swapcase() + value[i + 1 :]
            assert salesforce_id(twin).lower() != long_id.lower()


# --- e-mail addresses, text, time zones, currencies, links ---------------------------------------


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("wile.coyote@acme.example", "wile.coyote@acme.example"),
        ("o'brien+ps@Globex.Example", "o'brien+ps@globex.example"),
        ("  ps-team@northwind.example ", "ps-team@northwind.example"),
        ("x@mail.xn--bcher-kva.example", "x@mail.xn--bcher-kva.example"),
    ],
)
def test_good_addresses_are_accepted_with_the_domain_lowercased(
    value: str, normalised: str
) -> None:
    assert Contact.model_validate(contact_fields(email=value)).email == normalised


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("wile@acme.example\r\nBcc: all@acme.example", "line breaks"),
        ("wile@acme.example\nBcc: all@acme.example", "line breaks"),
        ('"The Boss" <boss@acme.example>', "bare address"),
        ("Boss <boss@acme.example>", "bare address"),
        ("wile@acme.example, road@acme.example", "bare address"),
        ("wile coyote@acme.example", "bare address"),
        ("wile@acme.example>", "bare address"),
        ("wilé@acme.example", "ASCII"),
        ("wile.acme.example", "exactly one '@'"),
        ("wile@road@acme.example", "exactly one '@'"),
        ("@acme.example", "exactly one '@'"),
        ("wile..coyote@acme.example", "before '@'"),
        (".wile@acme.example", "before '@'"),
        ("wile@acme", "domain"),
        ("wile@-acme.example", "domain"),
        ("wile@acme..example", "domain"),
        ("wile@acme.123", "domain"),
        ("w" * 65 + "@acme.example", "before '@'"),
    ],
)
def test_bad_addresses_are_refused_naming_the_field(value: str, expected: str) -> None:
    loc, message = only_error(Contact, contact_fields(email=value))
    assert loc == ("email",)
    assert expected in message


def test_names_must_be_one_line() -> None:
    loc, message = only_error(Contact, contact_fields(first_name="Wile\r\nBcc: x@y.example"))
    assert loc == ("first_name",)
    assert "one line" in message
    loc, message = only_error(Contact, contact_fields(last_name="   "))
    assert loc == ("last_name",)
    assert "empty" in message


@pytest.mark.parametrize("value", ["Mars/Olympus_Mons", "central", "../../etc/passwd", ""])
def test_unknown_time_zones_are_refused(value: str) -> None:
    loc, message = only_error(Account, account_fields(time_zone=value))
    assert loc == ("time_zone",)
    assert "IANA time zone" in message


def test_known_time_zones_are_accepted() -> None:
    assert Pse.model_validate(pse(time_zone="Asia/Kolkata")).time_zone == "Asia/Kolkata"


def test_currency_is_an_iso_4217_code() -> None:
    assert Opportunity.model_validate(opportunity_fields(currency="eur")).currency == "EUR"
    for value in ("EURO", "US", "XYZ", "$"):
        loc, message = only_error(Opportunity, opportunity_fields(currency=value))
        assert loc == ("currency",)
        assert "ISO 4217" in message


def test_amount_must_be_positive() -> None:
    for value in ("0", "-100"):
        loc, message = only_error(Opportunity, opportunity_fields(amount=value))
        assert loc == ("amount",)
        assert "greater than 0" in message
    assert Opportunity.model_validate(opportunity_fields(amount=42000.5)).amount == Decimal(
        "42000.5"
    )


def test_sow_link_exposes_the_document_id() -> None:
    opp = Opportunity.model_validate(opportunity_fields())
    assert opp.sow_document_id == "1sowabcdef0123456789abcdef0123456789abcd"
    assert google_doc_id("https://docs.google.com/document/d/abcdefghij_-12/edit?tab=t.0") == (
        "abcdefghij_-12"
    )
    assert Opportunity.model_validate(opportunity_fields(sow_link=None)).sow_document_id is None


@pytest.mark.parametrize(
    "value",
    [
        "http://docs.google.com/document/d/1sowabcdef0123456789/edit",  # not https
        "https://docs.google.com.evil.example/document/d/1sowabcdef0123456789/edit",
        "https://docs.google.com/spreadsheets/d/1sowabcdef0123456789/edit",  # a sheet
        "https://drive.google.com/file/d/1sowabcdef0123456789/view",
        "https://docs.google.com/document/d/\n1sowabcdef0123456789/edit",
        "SOW-2026-041.pdf",
    ],
)
def test_sow_link_must_be_a_google_docs_document(value: str) -> None:
    loc, message = only_error(Opportunity, opportunity_fields(sow_link=value))
    assert loc == ("sow_link",)
    assert "Google Docs link" in message or "one line" in message


# --- opportunity ---------------------------------------------------------------------------------


def test_a_full_opportunity_parses_from_salesforce_shaped_data() -> None:
    opp = Opportunity.model_validate(opportunity_fields(id="006Dn0000000002"))
    assert opp.id == OPPORTUNITY_ID
    assert opp.account.communication_style == ("direct", "hands-on")
    assert opp.required_skills == {"gitlab-ci": 4, "kubernetes": 3}
    assert opp.primary_contact is not None
    assert opp.primary_contact.name == "Wile Coyote"
    assert [item.hours for item in opp.line_items] == [Decimal(80), 10 * HOURS_PER_DAY]


def test_expected_completion_may_not_precede_the_start() -> None:
    loc, message = only_error(
        Opportunity,
        opportunity_fields(expected_start="2026-05-01", expected_completion="2026-04-30"),
    )
    assert loc == ("expected_completion",)
    assert "expected_start (2026-05-01)" in message
    same_day = opportunity_fields(expected_start="2026-05-01", expected_completion="2026-05-01")
    assert Opportunity.model_validate(same_day).expected_completion == date(2026, 5, 1)


def test_one_primary_contact_and_unique_activity_codes() -> None:
    loc, message = only_error(
        Opportunity, opportunity_fields(contacts=[contact_fields(), contact_fields()])
    )
    assert loc == ("contacts",)
    assert "one primary" in message
    item = {"code": "PS-MIG", "description": "Migration", "quantity": 1}
    loc, message = only_error(Opportunity, opportunity_fields(line_items=[item, item]))
    assert loc == ("line_items",)
    assert "PS-MIG" in message


def test_sold_quantity_must_be_positive_and_unit_known() -> None:
    item = {"code": "PS-MIG", "description": "Migration", "quantity": 0}
    loc, _ = only_error(SowActivity, item)
    assert loc == ("quantity",)
    loc, message = only_error(SowActivity, item | {"quantity": 3, "unit": "weeks"})
    assert loc == ("unit",)
    assert "'hours' or 'days'" in message


def test_unknown_fields_are_refused_by_name() -> None:
    loc, message = only_error(Opportunity, opportunity_fields(amont="42000"))
    assert loc == ("amont",)
    assert "not permitted" in message


def test_models_are_immutable() -> None:
    opp = Opportunity.model_validate(opportunity_fields())
    with pytest.raises(ValidationError):
        opp.amount = Decimal(1)  # type: ignore[misc]


# --- skills cells --------------------------------------------------------------------------------


def test_skills_cell_round_trip() -> None:
    cell = "gitlab-ci:5; kubernetes:4; terraform:3"
    skills = parse_skills(cell)
    assert skills == {"gitlab-ci": 5, "kubernetes": 4, "terraform": 3}
    assert format_skills(skills) == cell
    assert parse_skills(" GitLab CI : 5 ;; c++:2; ") == {"gitlab ci": 5, "c++": 2}
    assert parse_skills("") == {}


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("gitlab-ci", "skill 'gitlab-ci' has no level"),
        ("gitlab-ci:6", "skill 'gitlab-ci' has level '6'"),
        ("gitlab-ci:0", "level '0'"),
        ("gitlab-ci:x", "level 'x'"),
        ("gitlab-ci:4.5", "level '4.5'"),
        ("gitlab-ci:", "level ''"),
        ("gitlab-ci:4; GitLab-CI:3", "skill 'gitlab-ci' appears twice"),
        (":3", "skill ''"),
        ("kubernetes: 4, helm: 3", "level '4, helm: 3'"),
    ],
)
def test_bad_skills_cells_name_the_item(cell: str, expected: str) -> None:
    with pytest.raises(ValueError, match=r"level|skill") as caught:
        parse_skills(cell)
    assert expected in str(caught.value)
    loc, message = only_error(Pse, pse(skills=cell))
    assert loc == ("skills",)
    assert expected in message


def test_skills_given_as_a_mapping_are_checked_too() -> None:
    loc, message = only_error(Pse, pse(skills={"kubernetes": 7}))
    assert loc == ("skills",)
    assert "level 7" in message
    loc, _ = only_error(Pse, pse(skills={"kubernetes": 4.5}))
    assert loc == ("skills", "kubernetes")
    assert Pse.model_validate(pse(skills={"Kubernetes": "4"})).skills == {"kubernetes": 4}


def test_tags_and_semicolon_lists() -> None:
    assert parse_list(" calm;structured ;; written ") == ["calm", "structured", "written"]
    person = Pse.model_validate(pse(traits="Calm; calm; Hands-On"))
    assert person.traits == ("calm", "hands-on")
    loc, message = only_error(Pse, pse(growth_goals=["-security"]))
    assert loc == ("growth_goals",)
    assert "'-security'" in message


def test_partner() -> None:
    partner = Partner(
        name="Contoso Consulting",
        email="staffing@contoso-consulting.example",
        skills="kubernetes:5; aws:5",  # the sheet's cell form
    )
    assert partner.skills == {"kubernetes": 5, "aws": 5}


# --- cost estimate -------------------------------------------------------------------------------


def test_totals_mix_hours_and_days() -> None:
    cost = CostEstimate.model_validate(estimate())
    assert cost.total_hours == Decimal(72 + 11 * 8)
    assert cost.total_days == Decimal(20)
    assert cost.activities[1].hours == Decimal(88)
    assert cost.is_complete
    assert cost.missing(["PS-CICD", "ps-k8s"]) == []


def test_missing_names_everything_incomplete() -> None:
    assert CostEstimate(opportunity_id=OPPORTUNITY_ID).missing() == [
        "revenue",
        "currency",
        "activities: no activity is estimated",
    ]
    cost = CostEstimate.model_validate(
        estimate(
            activities=[
                {"activity": "PS-CICD", "effort": None},
                {"activity": "PS-K8S", "effort": 0},
                {"activity": "PS-TRN", "effort": 3, "unit": "days"},
            ]
        )
    )
    assert not cost.is_complete
    assert cost.missing(["PS-CICD", "PS-SEC"]) == [
        "effort of activity 'PS-CICD'",
        "effort of activity 'PS-K8S' (is 0)",
        "activity 'PS-SEC' from the SOW has no estimate row",
    ]
    assert cost.total_hours == Decimal(24)  # only what is estimated so far


def test_estimate_rows_are_validated() -> None:
    loc, _ = only_error(CostEstimate, estimate(activities=[{"activity": "X", "effort": -1}]))
    assert loc == ("activities", 0, "effort")
    rows = [{"activity": "PS-MIG", "effort": 1}, {"activity": "ps-mig", "effort": 2}]
    loc, message = only_error(CostEstimate, estimate(activities=rows))
    assert loc == ("activities",)
    assert "ps-mig" in message
    assert EstimateActivity(activity="PS-MIG").hours is None


@pytest.mark.parametrize(
    ("revenue", "currency", "rates", "expected"),
    [
        ("50000", "USD", None, False),  # "over $50k": exactly 50k is not over
        ("50000.01", "USD", None, True),
        ("48000", "EUR", {"EUR": Decimal("1.08")}, True),  # 51,840 USD
        ("48000", "EUR", {"EUR": Decimal("1.04")}, False),  # 49,920 USD
        ("6000000", "JPY", {"JPY": Decimal("0.0067")}, False),  # 40,200 USD: not "over 50,000"
    ],
)
def test_ta_review_threshold_is_50k_usd(
    revenue: str, currency: str, rates: dict[str, Decimal] | None, expected: bool
) -> None:
    cost = CostEstimate.model_validate(estimate(revenue=revenue, currency=currency))
    assert cost.needs_ta_review(rates) is expected


def test_ta_review_needs_a_rate_for_other_currencies() -> None:
    cost = CostEstimate.model_validate(estimate(revenue="68500", currency="EUR"))
    with pytest.raises(ValueError, match="rate for EUR"):
        cost.needs_ta_review()
    with pytest.raises(ValueError, match="rate for EUR"):
        cost.needs_ta_review({"GBP": Decimal("1.27")})
    with pytest.raises(ValueError, match="revenue and currency"):
        CostEstimate(opportunity_id=OPPORTUNITY_ID).needs_ta_review()


# --- engagement and staffing ---------------------------------------------------------------------


def test_engagement_status_values_match_salesforce_picklist() -> None:
    assert [status.value for status in EngagementStatus] == [
        "Backlog",
        "On Hold",
        "Initiation",
        "In Progress",
        "Closure",
        "Completed",
        "Cancelled",
    ]
    loc, message = only_error(Engagement, engagement(status="Done"))
    assert loc == ("status",)
    assert "'Completed'" in message


def test_engagement_hours() -> None:
    record = Engagement.model_validate(engagement())
    assert record.remaining_hours == Decimal(120)
    assert record.status is EngagementStatus.IN_PROGRESS


def test_engagement_fields_are_validated_by_name() -> None:
    loc, _ = only_error(Engagement, engagement(hours_consumed=-1))
    assert loc == ("hours_consumed",)
    loc, message = only_error(Engagement, engagement(collaboration_project="gitlab/acme"))
    assert loc == ("collaboration_project",)
    assert "web link" in message
    loc, _ = only_error(
        Engagement, engagement(expected_start="2026-05-01", expected_completion="2026-01-01")
    )
    assert loc == ("expected_completion",)
    # a custom object's id: any key prefix, same checksum ("a0PDn": P and D are bits 2 and 3)
    assert Engagement.model_validate(engagement(id="a0PDn0000000001")).id == "a0PDn0000000001MAA"
