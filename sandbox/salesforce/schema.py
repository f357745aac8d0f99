"""The slice of a Salesforce org psflow works with: standard objects plus the PS Engagement custom
object, described the way `sobjects/<Type>/describe` describes them.

Names are matched case-insensitively everywhere, as Salesforce does, and always answered in their
canonical spelling. Pure data and helpers: no HTTP, no storage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from sandbox import seed

# --- ids -----------------------------------------------------------------------------------------

_ID_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def _checksum(core: str) -> str:
    """The 3-character case-safe suffix that turns a 15-character id into its 18-character form."""
    suffix = ""
    for i in range(3):
        chunk = core[i * 5 : i * 5 + 5]
        suffix += _SUFFIX[sum(1 << j for j, c in enumerate(chunk) if "A" <= c <= "Z")]
    return suffix


def normalize_id(value: object) -> str | None:
    """The 18-character form of a 15- or 18-character record id; None if `value` is not one.

    An 18-character id whose suffix does not match its first 15 characters is not an id (real
    Salesforce rejects it as MALFORMED_ID)."""
    if not isinstance(value, str) or len(value) not in (15, 18) or not set(value) <= _ID_CHARS:
        return None
    core = value[:15]
    full = core + _checksum(core)
    if len(value) == 18 and value[15:].upper() != full[15:]:
        return None
    return full


# --- fields and objects --------------------------------------------------------------------------

TEXT_TYPES = frozenset({"string", "textarea", "url", "email", "phone", "picklist", "multipicklist"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})
ID_TYPES = frozenset({"id", "reference"})

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # describe's field type: string, picklist, reference, date, datetime, currency, ...
    label: str = ""
    required: bool = False  # not nillable on create (and cannot be cleared)
    length: int = 0  # for text types
    picklist: tuple[str, ...] = ()
    restricted: bool = False  # restricted picklist: other values are refused
    default: Any = None  # picklist default or checkbox default, applied on create
    reference_to: str | None = None
    relationship_name: str | None = None
    # A lookup's name for its records as seen from the parent: Contact.AccountId -> Contacts.
    child_relationship: str | None = None
    external_id: bool = False
    unique: bool = False
    createable: bool = True
    updateable: bool = True
    calculated: bool = False  # a formula, or a value Salesforce maintains itself

    @property
    def nillable(self) -> bool:
        return not self.required and self.type not in ("boolean", "id")

    def describe(self) -> dict[str, Any]:
        """The field as `describe()` returns it (the attributes clients read)."""
        return {
            "name": self.name,
            "label": self.label or self.name,
            "type": self.type,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.length,
            "custom": self.name.endswith("__c"),
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "calculated": self.calculated,
            "defaultedOnCreate": self.default is not None or self.type == "boolean",
            "defaultValue": self.default,
            "externalId": self.external_id,
            "unique": self.unique,
            "idLookup": self.external_id or self.type == "id",
            "restrictedPicklist": self.restricted,
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == self.default,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist
            ],
            "referenceTo": [self.reference_to] if self.reference_to else [],
            "relationshipName": self.relationship_name,
        }


@dataclass(frozen=True)
class SObject:
    name: str
    label: str
    key_prefix: str
    fields: tuple[Field, ...]
    _by_name: dict[str, Field] = field(init=False, repr=False, compare=False)
    _by_relationship: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name.lower(): f for f in self.fields})
        object.__setattr__(
            self,
            "_by_relationship",
            {f.relationship_name.lower(): f for f in self.fields if f.relationship_name},
        )

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    def field(self, name: str) -> Field | None:
        return self._by_name.get(name.lower())

    def relationship(self, name: str) -> Field | None:
        """The lookup field behind a relationship name, e.g. `Account` -> AccountId."""
        return self._by_relationship.get(name.lower())

    def describe(self, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label + "s",
            "keyPrefix": self.key_prefix,
            "custom": self.custom,
            "createable": True,
            "updateable": True,
            "deletable": True,
            "queryable": True,
            "fields": [f.describe() for f in self.fields],
            "childRelationships": [
                {"childSObject": s.name, "field": f.name, "relationshipName": f.child_relationship}
                for s in SOBJECTS
                for f in s.fields
                if f.reference_to == self.name
            ],
            "urls": {
                "sobject": base,
                "describe": f"{base}/describe",
                "rowTemplate": f"{base}/{{ID}}",
            },
        }


@dataclass(frozen=True)
class ChildRelationship:
    """The records of `child` whose lookup `field` points at a parent, read with a subquery:
    Account's `Contacts` are the contacts whose AccountId is the account."""

    name: str
    child: SObject
    field: Field


def _countries() -> dict[str, str]:
    """{name: ISO 3166 code}, the countries of Salesforce's State and Country picklists (tzdata's
    iso3166.tab, which ships with the time zones)."""
    table = files("tzdata.zoneinfo").joinpath("iso3166.tab").read_text(encoding="utf-8")
    rows = (line.split("\t") for line in table.splitlines() if line and not line.startswith("#"))
    return {name: code for code, name in rows}


COUNTRY_CODES = _countries()


def _system_fields(owner: bool = True) -> tuple[Field, ...]:
    """The fields every object has; Salesforce maintains them, nobody writes them."""
    ro: dict[str, Any] = {"createable": False, "updateable": False}
    fields = [
        Field("Id", "id", "Record ID", length=18, **ro),
        Field("IsDeleted", "boolean", "Deleted", **ro),
        Field("CreatedDate", "datetime", "Created Date", **ro),
        lookup("CreatedById", "User", "Created By ID", relationship="CreatedBy", **ro),
        Field("LastModifiedDate", "datetime", "Last Modified Date", **ro),
        lookup(
            "LastModifiedById", "User", "Last Modified By ID", relationship="LastModifiedBy", **ro
        ),
        Field("SystemModstamp", "datetime", "System Modstamp", **ro),
    ]
    if owner:
        fields.insert(1, lookup("OwnerId", "User", "Owner ID", relationship="Owner"))
    return tuple(fields)


def text(name: str, label: str, length: int = 255, **kw: Any) -> Field:
    return Field(name, "string", label, length=length, **kw)


def lookup(name: str, to: str, label: str, relationship: str | None = None, **kw: Any) -> Field:
    """A lookup; the relationship name is the field without `Id`, or `__r` for custom fields.
    `child_relationship` (in **kw) names the other direction, for subqueries from the parent."""
    if relationship is None:
        relationship = name[:-3] + "__r" if name.endswith("__c") else name.removesuffix("Id")
    return Field(
        name, "reference", label, length=18, reference_to=to, relationship_name=relationship, **kw
    )


def picklist(name: str, label: str, values: Iterable[str], **kw: Any) -> Field:
    return Field(name, "picklist", label, length=255, picklist=tuple(values), **kw)


def calculated(name: str, type_: str, label: str) -> Field:
    return Field(name, type_, label, createable=False, updateable=False, calculated=True)


HISTORY_PREFIX = "017"
TRACKED_OPPORTUNITY_FIELDS = ("StageName", "Amount", "CloseDate")

ENGAGEMENT_STATUSES = (
    "Backlog",
    "On Hold",
    "Initiation",
    "In Progress",
    "Closure",
    "Completed",
    "Cancelled",
)
ENGAGEMENT_TYPES = ("Consulting", "Training", "Health Check", "Migration", "Resident Engineer")
CURRENCIES = ("USD", "EUR", "GBP", "AUD", "CAD", "JPY")
BILLING_TYPES = ("Time & Materials", "Fixed Fee")
OPPORTUNITY_TYPES = (
    "New Customer",
    "Existing Customer - Upgrade",
    "Existing Customer - Replacement",
    "Existing Customer - Downgrade",
)
CONTACT_ROLES = (
    "Business User",
    "Decision Maker",
    "Economic Buyer",
    "Economic Decision Maker",
    "Evaluator",
    "Executive Sponsor",
    "Influencer",
    "Technical Buyer",
    "Other",
)
# Default probability of each stage, as the org's sales process sets it.
STAGE_PROBABILITY = dict(zip(seed.STAGES, (10, 20, 40, 60, 80, 90, 100, 0), strict=True))
WON_STAGES = frozenset({"Closed Won"})
CLOSED_STAGES = frozenset({"Closed Won", "8-Closed Lost"})

SOBJECTS: tuple[SObject, ...] = (
    SObject(
        "User",
        "User",
        seed.USER,
        (
            *_system_fields(owner=False),
            text("Username", "Username", 80, required=True, unique=True),
            text("FirstName", "First Name", 40),
            text("LastName", "Last Name", 80, required=True),
            calculated("Name", "string", "Full Name"),
            Field("Email", "email", "Email", required=True, length=128),
            text("Title", "Title", 80),
            text("TimeZoneSidKey", "Time Zone", 40),
            Field("IsActive", "boolean", "Active", default=True),
        ),
    ),
    SObject(
        "Account",
        "Account",
        seed.ACCOUNT,
        (
            *_system_fields(),
            text("Name", "Account Name", required=True),
            picklist("Type", "Account Type", ("Prospect", "Customer", "Partner", "Other")),
            text("Industry", "Industry", 40),
            text("BillingCountry", "Billing Country", 80),
            picklist(
                "BillingCountryCode",
                "Billing Country Code",
                sorted(COUNTRY_CODES.values()),
                restricted=True,
            ),
            text("PS_Time_Zone__c", "PS Time Zone", 40),
            Field(
                "PS_Communication_Style__c",
                "multipicklist",
                "PS Communication Style",
                length=4099,
                picklist=(
                    "direct",
                    "hands-on",
                    "formal",
                    "written",
                    "precise",
                    "calm",
                    "teacher",
                    "verbal",
                ),
            ),
        ),
    ),
    SObject(
        "Contact",
        "Contact",
        seed.CONTACT,
        (
            *_system_fields(),
            lookup("AccountId", "Account", "Account ID", child_relationship="Contacts"),
            text("FirstName", "First Name", 40),
            text("LastName", "Last Name", 80, required=True),
            calculated("Name", "string", "Full Name"),
            Field("Email", "email", "Email", length=80),
            text("Title", "Title", 128),
            Field("Phone", "phone", "Business Phone", length=40),
        ),
    ),
    SObject(
        "Opportunity",
        "Opportunity",
        seed.OPPORTUNITY,
        (
            *_system_fields(),
            text("Name", "Name", 120, required=True),
            lookup("AccountId", "Account", "Account ID", child_relationship="Opportunities"),
            picklist("StageName", "Stage", seed.STAGES, required=True, restricted=True),
            Field("Amount", "currency", "Amount"),
            picklist(
                "CurrencyIsoCode",
                "Opportunity Currency",
                CURRENCIES,
                restricted=True,
                default="USD",
            ),
            Field("CloseDate", "date", "Close Date", required=True),
            Field("Probability", "percent", "Probability (%)"),
            picklist("Type", "Opportunity Type", OPPORTUNITY_TYPES),
            calculated("IsClosed", "boolean", "Closed"),
            calculated("IsWon", "boolean", "Won"),
            text("SOW_Number__c", "SOW Number", 40),
            Field("SOW_Link__c", "url", "SOW Link", length=255),
            Field("Cost_Estimate_Link__c", "url", "Cost Estimate Link", length=255),
            lookup("PS_Engagement_Manager__c", "User", "PS Engagement Manager"),
            Field("PS_Skills_Required__c", "textarea", "PS Skills Required", length=1000),
            Field("PS_Expected_Start__c", "date", "PS Expected Start"),
            Field("PS_Expected_Completion__c", "date", "PS Expected Completion"),
            Field("PS_TA_Review_Required__c", "boolean", "PS TA Review Required", default=False),
            # how the SOW bills: a change request that switches it needs a change order
            picklist(
                "PS_Billing_Type__c",
                "PS Billing Type",
                BILLING_TYPES,
                restricted=True,
                default="Time & Materials",
            ),
        ),
    ),
    SObject(
        "OpportunityContactRole",
        "Opportunity Contact Role",
        seed.CONTACT_ROLE,
        (
            *_system_fields(owner=False),
            lookup(
                "OpportunityId",
                "Opportunity",
                "Opportunity ID",
                required=True,
                updateable=False,
                child_relationship="OpportunityContactRoles",
            ),
            lookup(
                "ContactId",
                "Contact",
                "Contact ID",
                required=True,
                child_relationship="OpportunityContactRoles",
            ),
            picklist("Role", "Role", CONTACT_ROLES),
            Field("IsPrimary", "boolean", "Primary", default=False),
        ),
    ),
    SObject(
        # Field history tracking on Opportunity (StageName, Amount, CloseDate): one row per change,
        # written by Salesforce itself; readable, never writable.
        "OpportunityFieldHistory",
        "Opportunity Field History",
        HISTORY_PREFIX,
        (
            Field("Id", "id", "Record ID", length=18, createable=False, updateable=False),
            Field("IsDeleted", "boolean", "Deleted", createable=False, updateable=False),
            lookup(
                "OpportunityId",
                "Opportunity",
                "Opportunity ID",
                createable=False,
                updateable=False,
                child_relationship="Histories",
            ),
            lookup(
                "CreatedById",
                "User",
                "Created By ID",
                relationship="CreatedBy",
                createable=False,
                updateable=False,
            ),
            Field("CreatedDate", "datetime", "Created Date", createable=False, updateable=False),
            picklist(
                "Field",
                "Changed Field",
                TRACKED_OPPORTUNITY_FIELDS,
                createable=False,
                updateable=False,
            ),
            Field("OldValue", "anyType", "Old Value", createable=False, updateable=False),
            Field("NewValue", "anyType", "New Value", createable=False, updateable=False),
        ),
    ),
    SObject(
        "Product2",
        "Product",
        seed.PRODUCT,
        (
            *_system_fields(owner=False),
            text("Name", "Product Name", required=True),
            text("ProductCode", "Product Code"),
            Field("Description", "textarea", "Product Description", length=4000),
            picklist("Family", "Product Family", ("Professional Services", "Training")),
            Field("IsActive", "boolean", "Active", default=True),
        ),
    ),
    SObject(
        "OpportunityLineItem",
        "Opportunity Product",
        seed.LINE_ITEM,
        (
            *_system_fields(owner=False),
            lookup(
                "OpportunityId",
                "Opportunity",
                "Opportunity ID",
                required=True,
                updateable=False,
                child_relationship="OpportunityLineItems",
            ),
            lookup("Product2Id", "Product2", "Product ID", updateable=False),
            calculated("Name", "string", "Opportunity Product Name"),
            Field("Description", "string", "Line Description", length=255),
            Field("Quantity", "double", "Quantity", required=True),
            Field("UnitPrice", "currency", "Sales Price"),
            calculated("TotalPrice", "currency", "Total Price"),
        ),
    ),
    SObject(
        "PS_Engagement__c",
        "PS Engagement",
        seed.ENGAGEMENT,
        (
            *_system_fields(),
            text("Name", "PS Engagement Name", 80, required=True),
            picklist("Engagement_Type__c", "Engagement Type", ENGAGEMENT_TYPES),
            lookup(
                "Opportunity__c",
                "Opportunity",
                "Opportunity",
                child_relationship="PS_Engagements__r",
            ),
            # The upsert key: real Salesforce cannot make a lookup an External ID, so the
            # opportunity id is also kept in this unique text field.
            text("Opportunity_Id__c", "Opportunity Id", 18, external_id=True, unique=True),
            Field("Opportunity_Amount__c", "currency", "Opportunity Amount"),
            picklist(
                "Status__c", "Status", ENGAGEMENT_STATUSES, restricted=True, default="Backlog"
            ),
            Field("SOW_Link__c", "url", "SOW Link", length=255),
            Field("Collaboration_Project__c", "url", "Collaboration Project", length=255),
            Field("Scoped_Hours__c", "double", "Scoped Hours"),
            Field("Hours_Consumed__c", "double", "Hours Consumed"),
            calculated("Remaining_Hours__c", "double", "Remaining Hours"),
            Field("Expected_Start__c", "date", "Expected Start"),
            Field("Expected_Completion__c", "date", "Expected Completion"),
            Field("Actual_Start__c", "date", "Actual Start"),
            Field("Completed__c", "date", "Completed"),
            Field("Approved__c", "boolean", "Approved", default=False),
            lookup("Approver__c", "User", "Approver"),
            lookup("Project_Owner__c", "User", "Project Owner"),
            Field("Signed_Acceptance__c", "boolean", "Signed Acceptance", default=False),
            Field(
                "Passive_Acceptance_Used__c", "boolean", "Passive Acceptance Used", default=False
            ),
            Field("Sign_Off_Date__c", "date", "Sign Off Date"),
        ),
    ),
)


@dataclass(frozen=True)
class ValidationRule:
    """One of the org's validation rules: while `when` holds of a record, every `required`
    field must be filled (a checkbox checked), or a save is refused with FIELD_CUSTOM_VALIDATION_
    EXCEPTION and the rule's message, as an error shown at the top of the page (no field)."""

    name: str
    when: Callable[[dict[str, Any]], bool]
    required: tuple[str, ...]
    message: str


# The handbook: the PS Engagement is set to Completed "only when its required fields are filled"
VALIDATION_RULES: dict[str, tuple[ValidationRule, ...]] = {
    "PS_Engagement__c": (
        ValidationRule(
            "Completed_Requires_Close_Out",
            lambda record: record.get("Status__c") == "Completed",
            (
                "Actual_Start__c",
                "Completed__c",
                "Sign_Off_Date__c",
                "Signed_Acceptance__c",
                "Hours_Consumed__c",
                "Project_Owner__c",
            ),
            "A PS Engagement can be Completed only with its close-out filled in; missing",
        ),
    ),
}

_BY_NAME = {s.name.lower(): s for s in SOBJECTS}
_BY_PREFIX = {s.key_prefix: s for s in SOBJECTS}
_CHILDREN = {
    (f.reference_to.lower(), f.child_relationship.lower()): ChildRelationship(
        f.child_relationship, s, f
    )
    for s in SOBJECTS
    for f in s.fields
    if f.reference_to and f.child_relationship
}


def sobject(name: str) -> SObject | None:
    return _BY_NAME.get(name.lower())


def sobject_of_id(record_id: str) -> SObject | None:
    return _BY_PREFIX.get(record_id[:3])


def child_relationship(parent: SObject, name: str) -> ChildRelationship | None:
    """A relationship a subquery can read from `parent`, e.g. Opportunity's `OpportunityLineItems`."""
    return _CHILDREN.get((parent.name.lower(), name.lower()))
