"""The engagement's domain model: the Salesforce records it starts from, the people who staff it, its
cost estimate and the PS Engagement record, as validated, immutable pydantic models.

Every validation error names its field (pydantic puts it in `loc`, our messages say what is wrong and
what is expected): these messages reach the Prefect UI, where a coordinator has to fix the record in
Salesforce or the sheet. Pure: the only outside read is the IANA time-zone list through `zoneinfo`.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

# --- Salesforce ids ------------------------------------------------------------------------------

OPPORTUNITY_PREFIX = "006"
ACCOUNT_PREFIX = "001"
CONTACT_PREFIX = "003"
USER_PREFIX = "005"

_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_checksum(id15: str) -> str:
    """The 3-character suffix that makes a 15-character Salesforce id case-safe (18 characters).

    For each 5-character chunk, bit i is set when character i is an uppercase A-Z; the 5 bits pick
    one of 32 characters. Two ids that differ only in case get different suffixes, so the 18-character
    form stays unique in systems that ignore case.

    Example:
        >>> salesforce_checksum("0015000000Gv7qJ")
        'AAR'
    """
    suffix = ""
    for start in (0, 5, 10):
        chunk = id15[start : start + 5]
        bits = sum(1 << i for i, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix += _CHECKSUM_ALPHABET[bits]
    return suffix


def salesforce_id(value: str, prefix: str | None = None, what: str = "record") -> str:
    """Validate a Salesforce id (15 or 18 characters, with the given key prefix) and return its
    18-character form. An 18-character id must carry the checksum of its first 15 characters,
    letter case included; ids whose case was lost are refused rather than guessed.

    Raises:
        ValueError: saying what is wrong and what a valid id looks like.
    """
    expected = f"a Salesforce {what} id: 15 or 18 letters and digits" + (
        f" starting with {prefix!r}" if prefix else ""
    )
    if not _SALESFORCE_ID.fullmatch(value):
        raise ValueError(f"must be {expected}; got {value!r}")
    if prefix and not value.startswith(prefix):
        raise ValueError(f"must be {expected}; got {value!r}, which starts with {value[:3]!r}")
    core, suffix = value[:15], salesforce_checksum(value[:15])
    if len(value) == 18 and value[15:] != suffix:
        raise ValueError(
            f"must be {expected} whose last 3 characters are the checksum of the first 15; "
            f"{value!r} ends in {value[15:]!r} where {suffix!r} was expected "
            "(a mistyped character or a changed letter case)"
        )
    return core + suffix


def _id_validator(prefix: str | None, what: str) -> AfterValidator:
    def check(value: str) -> str:
        return salesforce_id(value, prefix, what)

    return AfterValidator(check)


OpportunityId = Annotated[str, _id_validator(OPPORTUNITY_PREFIX, "Opportunity")]
AccountId = Annotated[str, _id_validator(ACCOUNT_PREFIX, "Account")]
ContactId = Annotated[str, _id_validator(CONTACT_PREFIX, "Contact")]
UserId = Annotated[str, _id_validator(USER_PREFIX, "User")]
# custom objects (the PS Engagement) get an org-specific key prefix, so any prefix is accepted
RecordId = Annotated[str, _id_validator(None, "record")]

# --- text, e-mail, time zone, currency, links ----------------------------------------------------


def _single_line(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            raise ValueError(f"must be one line of text without control characters; found {char!r}")
    return value


# One non-empty line: names and titles end up in mail headers, Slack and file names.
Text = Annotated[str, AfterValidator(_single_line)]

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def email_address(value: str) -> str:
    """Validate a bare e-mail address (RFC 5322 dot-atom local part, DNS host name) and return it
    with the domain lower-cased. Refuses anything that could add a header or a recipient when put
    in a mail header: line breaks, display names, angle brackets, quotes, commas, spaces.
    Internationalised (non-ASCII) addresses are refused too: psflow sends plain SMTP mail.
    """
    if any(unicodedata.category(char)[0] == "C" for char in value):
        raise ValueError(
            "must be an e-mail address without line breaks or control characters "
            "(they could inject mail headers)"
        )
    if any(char.isspace() or char in '<>",;:()[]\\' for char in value):
        raise ValueError(
            "must be a bare address like name@example.com: no display name, quotes, "
            f"brackets, spaces or list of addresses; got {value!r}"
        )
    if not value.isascii():
        raise ValueError(f"must be an ASCII address like name@example.com; got {value!r}")
    local, at, domain = value.rpartition("@")
    if not at or not local or "@" in local:
        raise ValueError(
            f"must have exactly one '@' between a name and a domain, like name@example.com; "
            f"got {value!r}"
        )
    if len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        raise ValueError(
            f"has an invalid part before '@' ({local!r}): expected up to 64 letters, digits "
            "and !#$%&'*+/=?^_`{|}~- with single dots between them"
        )
    labels = domain.split(".")
    if (
        len(domain) > 253
        or len(labels) < 2
        or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
        or not (labels[-1].isalpha() or labels[-1].lower().startswith("xn--"))
    ):
        raise ValueError(
            f"has an invalid domain ({domain!r}): expected a host name like example.com"
        )
    if len(value) > 254:
        raise ValueError(f"must be at most 254 characters; got {len(value)}")
    return f"{local}@{domain.lower()}"


EmailAddress = Annotated[str, AfterValidator(email_address)]


def addresses(field: str, values: Iterable[str]) -> list[str]:
    """Each address validated (see `email_address`), duplicates dropped.

    Raises:
        ValueError: naming the field, the position and the address that is not a bare address.
    """
    valid: list[str] = []
    for position, value in enumerate(values):
        try:
            address = email_address(value)
        except ValueError as error:
            raise ValueError(f"{field}[{position}] {value!r}: {error}") from None
        if address.casefold() not in {known.casefold() for known in valid}:
            valid.append(address)
    return valid


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _time_zone(value: str) -> str:
    if value not in _time_zones():
        raise ValueError(
            f"must be an IANA time zone name like 'Europe/Berlin' or 'America/New_York'; "
            f"got {value!r}"
        )
    return value


TimeZone = Annotated[str, AfterValidator(_time_zone)]


def _country(value: str) -> str:
    import holidays  # its list of calendars; loaded only when a country is given

    if value.upper() not in holidays.list_supported_countries():
        raise ValueError(
            f"must be an ISO 3166 country code with a public holiday calendar, like 'US' or "
            f"'DE'; got {value!r}"
        )
    return value.upper()


CountryCode = Annotated[str, AfterValidator(_country)]

# ISO 4217 active currency codes (funds and precious metals left out: nobody buys services in them).
_ISO_4217_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
    GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW
    KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN
    NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK
    SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU
    UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
"""
ISO_4217 = frozenset(_ISO_4217_CODES.split())


def _currency(value: str) -> str:
    code = value.upper()
    if code not in ISO_4217:
        raise ValueError(f"must be an ISO 4217 currency code like 'USD' or 'EUR'; got {value!r}")
    return code


Currency = Annotated[str, AfterValidator(_currency)]

# A form's answer is checked by Prefect's server against the form's JSON schema before the run
# resumes, and a value it lets through that the form's model refuses fails the run. To that check
# "format" is an annotation only, so dates in forms carry the pattern it does check.
_DAY = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
_TIME = r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?"
FormDate = Annotated[
    date, WithJsonSchema({"type": "string", "format": "date", "pattern": f"^{_DAY}$"})
]
FormDateTime = Annotated[
    datetime,
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": f"^{_DAY}T{_TIME}$"}),
]

_GOOGLE_DOC_PATH = re.compile(r"/document/(?:u/\d+/)?d/([A-Za-z0-9_-]{10,})(?:/[^?#]*)?")


def google_doc_id(url: str) -> str:
    """The document id in a Google Docs link (https://docs.google.com/document/d/<id>/edit).

    Raises:
        ValueError: when `url` is not a Google Docs document link.
    """
    _single_line(url)
    parts = urlsplit(url)
    match = _GOOGLE_DOC_PATH.fullmatch(parts.path)
    if parts.scheme != "https" or parts.hostname != "docs.google.com" or match is None:
        raise ValueError(
            "must be a Google Docs link like https://docs.google.com/document/d/<id>/edit; "
            f"got {url!r}"
        )
    return match.group(1)


def _google_doc_url(value: str) -> str:
    google_doc_id(value)
    return value


GoogleDocUrl = Annotated[str, AfterValidator(_google_doc_url)]


def _web_url(value: str) -> str:
    _single_line(value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in value:
        raise ValueError(f"must be a web link starting with https://; got {value!r}")
    return value


WebUrl = Annotated[str, AfterValidator(_web_url)]
PositiveDecimal = Annotated[Decimal, Field(gt=0)]

# --- tags, skills and the semicolon lists they arrive in -----------------------------------------

SKILL_LEVELS = range(1, 6)
_TAG = re.compile(r"[a-z0-9][a-z0-9+#./ _-]{0,49}")


def tag(value: str, what: str = "tag") -> str:
    """A skill name or tag, normalised: lowercase, single spaces ("GitLab CI" -> "gitlab ci")."""
    normalised = " ".join(value.lower().split())
    if not _TAG.fullmatch(normalised):
        raise ValueError(
            f"{what} {value!r} must be 1-50 lowercase letters, digits, spaces or + # . / _ -, "
            "starting with a letter or digit (like 'gitlab-ci')"
        )
    return normalised


def parse_list(cell: str) -> list[str]:
    """A semicolon-separated cell ("calm; structured; written") as a list; empty items dropped."""
    return [item.strip() for item in cell.split(";") if item.strip()]


def format_list(items: Iterable[str]) -> str:
    return "; ".join(items)


def parse_skills(cell: str) -> dict[str, int]:
    """A skills cell ("gitlab-ci:5; kubernetes:4") as {skill: level}.

    Strict, because a silently dropped skill would mis-staff an engagement: every item needs a
    level from 1 to 5, and a skill may appear once.

    Raises:
        ValueError: naming the item that is wrong.

    Example:
        >>> parse_skills("gitlab-ci:5; kubernetes:4")
        {'gitlab-ci': 5, 'kubernetes': 4}
    """
    skills: dict[str, int] = {}
    for item in parse_list(cell):
        name_text, colon, level_text = item.partition(":")
        if not colon:
            raise ValueError(
                f"skill {item!r} has no level: write 'name:level' with a level 1-5, "
                "like 'gitlab-ci:5'"
            )
        name, level_text = tag(name_text, "skill"), level_text.strip()
        if not re.fullmatch(r"[1-5]", level_text):
            raise ValueError(
                f"skill {name!r} has level {level_text!r}: expected a whole number from 1 to 5 "
                "(items are separated by ';')"
            )
        if name in skills:
            raise ValueError(f"skill {name!r} appears twice")
        skills[name] = int(level_text)
    return skills


def format_skills(skills: Mapping[str, int]) -> str:
    """The inverse of `parse_skills`: {"gitlab-ci": 5} -> "gitlab-ci:5"."""
    return format_list(f"{name}:{level}" for name, level in skills.items())


def _skills_input(value: object) -> object:
    if value is None:  # an empty cell or field
        return {}
    return parse_skills(value) if isinstance(value, str) else value


def _check_skills(skills: dict[str, int]) -> dict[str, int]:
    checked: dict[str, int] = {}
    for name, level in skills.items():
        normalised = tag(name, "skill")
        if level not in SKILL_LEVELS:
            raise ValueError(
                f"skill {normalised!r} has level {level}: expected a whole number from 1 to 5"
            )
        if normalised in checked:
            raise ValueError(f"skill {normalised!r} appears twice")
        checked[normalised] = level
    return checked


def _list_input(value: object) -> object:
    if value is None:  # an empty cell or field
        return ()
    return parse_list(value) if isinstance(value, str) else value


def _check_tags(tags: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(tag(item) for item in tags))  # normalised, duplicates dropped


# {skill: level 1..5}; also accepts the sheet's "gitlab-ci:5; kubernetes:4" cell, or none
Skills = Annotated[dict[str, int], BeforeValidator(_skills_input), AfterValidator(_check_skills)]
# lowercase tags; also accepts a "calm; structured" cell, or none
Tags = Annotated[tuple[str, ...], BeforeValidator(_list_input), AfterValidator(_check_tags)]


class _Model(BaseModel):
    # Immutable values with no stray fields: a typo in a field name is an error, not a silent drop.
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _not_before_start(value: date | None, info: ValidationInfo) -> date | None:
    start = info.data.get("expected_start")
    if value is not None and start is not None and value < start:
        raise ValueError(f"must be on or after expected_start ({start}); got {value}")
    return value


# --- Salesforce: account, contacts, opportunity --------------------------------------------------


class Account(_Model):
    """A customer (Salesforce Account) with the PS fields psflow reads."""

    id: AccountId
    name: Text
    time_zone: TimeZone  # Account.PS_Time_Zone__c
    # Account.BillingCountryCode: whose public holidays are not working days of the engagement
    country: CountryCode | None = None
    communication_style: Tags = ()  # Account.PS_Communication_Style__c
    # True when the account had an earlier PS engagement; None when not read (one more query,
    # for Initiate only: it picks the initiation e-mail template).
    existing_customer: bool | None = None


class Contact(_Model):
    """A customer contact on the opportunity (OpportunityContactRole)."""

    id: ContactId | None = None
    first_name: Text
    last_name: Text
    email: EmailAddress
    title: Text | None = None
    role: Text | None = None  # OpportunityContactRole.Role, e.g. "Decision Maker"
    primary: bool = False

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class EffortUnit(StrEnum):
    HOURS = "hours"
    DAYS = "days"


HOURS_PER_DAY = Decimal(8)  # the handbook's working day, for efforts estimated in days


def effort_hours(effort: Decimal, unit: EffortUnit) -> Decimal:
    return effort * HOURS_PER_DAY if unit is EffortUnit.DAYS else effort


class SowActivity(_Model):
    """An activity sold in the SOW (an opportunity line item): what psflow turns into a GitLab
    issue, a Mavenlink task and an acceptance request."""

    code: Text  # the product code, e.g. "PS-MIG"
    description: Text
    quantity: PositiveDecimal  # effort sold, in `unit`
    unit: EffortUnit = EffortUnit.HOURS
    unit_price: Decimal | None = Field(default=None, ge=0)

    @property
    def hours(self) -> Decimal:
        return effort_hours(self.quantity, self.unit)


class Billing(StrEnum):
    """How the SOW bills (Opportunity.PS_Billing_Type__c)."""

    TIME_AND_MATERIALS = "Time & Materials"
    FIXED_FEE = "Fixed Fee"


class Opportunity(_Model):
    """A Salesforce Opportunity with its account, contacts and SOW activities: the root every
    engagement is keyed by."""

    id: OpportunityId
    name: Text
    account: Account
    stage: Text  # StageName, e.g. "5-Negotiating", "Closed Won"
    amount: PositiveDecimal
    currency: Currency
    close_date: date
    sow_number: Text | None = None  # SOW_Number__c, e.g. "SOW-2026-041"
    sow_link: GoogleDocUrl | None = None  # SOW_Link__c
    engagement_manager_email: EmailAddress | None = None
    account_executive_email: EmailAddress | None = None  # the opportunity's owner (sales)
    engagement_type: Text = "Consulting"
    required_skills: Skills = Field(default_factory=dict)  # PS_Skills_Required__c
    expected_start: date | None = None
    expected_completion: date | None = None
    contacts: tuple[Contact, ...] = ()
    line_items: tuple[SowActivity, ...] = ()
    billing: Billing = Billing.TIME_AND_MATERIALS  # PS_Billing_Type__c

    _completion_after_start = field_validator("expected_completion")(_not_before_start)

    @field_validator("contacts")
    @classmethod
    def _one_primary(cls, contacts: tuple[Contact, ...]) -> tuple[Contact, ...]:
        primaries = [contact.email for contact in contacts if contact.primary]
        if len(primaries) > 1:
            raise ValueError(f"must have at most one primary contact; got {', '.join(primaries)}")
        return contacts

    @field_validator("line_items")
    @classmethod
    def _unique_codes(cls, items: tuple[SowActivity, ...]) -> tuple[SowActivity, ...]:
        codes = [item.code for item in items]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            raise ValueError(f"must list each activity code once; repeated: {duplicates}")
        return items

    @property
    def sow_document_id(self) -> str | None:
        """The Google Docs id of the SOW, from `sow_link`."""
        return google_doc_id(self.sow_link) if self.sow_link else None

    @property
    def primary_contact(self) -> Contact | None:
        return next((contact for contact in self.contacts if contact.primary), None)


# --- people --------------------------------------------------------------------------------------


class Pse(_Model):
    """A PS Engineer as the skills matrix describes them."""

    email: EmailAddress
    name: Text
    title: Text
    time_zone: TimeZone
    skills: Skills
    growth_goals: Tags = ()  # skills they want to grow into
    traits: Tags = ()  # personality and communication tags, matched against the account's
    user_id: UserId | None = None


class Partner(_Model):
    """A partner firm, staffed when nobody internal fits; judged on its best consultant's skills."""

    name: Text
    email: EmailAddress
    skills: Skills


# --- cost estimate -------------------------------------------------------------------------------

# The handbook's "estimates over $50k need a TA review": the threshold is in US dollars, so
# other currencies are converted with a rate table the caller passes (see `revenue_in_usd`).
TA_REVIEW_THRESHOLD_USD = Decimal(50_000)


class EstimateActivity(_Model):
    """One row of the cost estimate sheet: a SOW activity and the effort it will take."""

    activity: Text
    effort: Decimal | None = Field(default=None, ge=0)  # None while the cell is empty
    unit: EffortUnit = EffortUnit.HOURS
    notes: str = ""

    @property
    def hours(self) -> Decimal | None:
        return None if self.effort is None else effort_hours(self.effort, self.unit)


class CostEstimate(_Model):
    """The cost estimate sheet: contracted revenue and estimated effort per SOW activity.

    It must be complete before SOW signature (the Initiate gate); `missing()` says what is not.
    """

    opportunity_id: OpportunityId
    revenue: PositiveDecimal | None = None
    currency: Currency | None = None
    activities: tuple[EstimateActivity, ...] = ()

    @field_validator("activities")
    @classmethod
    def _unique_activities(
        cls, activities: tuple[EstimateActivity, ...]
    ) -> tuple[EstimateActivity, ...]:
        names = [activity.activity.casefold() for activity in activities]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"must list each activity once; repeated: {duplicates}")
        return activities

    @property
    def total_hours(self) -> Decimal:
        """Hours over the activities estimated so far (days count `HOURS_PER_DAY` hours)."""
        return sum((a.hours for a in self.activities if a.hours is not None), Decimal(0))

    @property
    def total_days(self) -> Decimal:
        return self.total_hours / HOURS_PER_DAY

    def missing(self, sow_activities: Iterable[str] = ()) -> list[str]:
        """What keeps the estimate from being complete, one readable item each; empty when complete.

        Args:
            sow_activities: the activity names (or codes) the SOW sells; each needs an estimate row.
                Leave empty to check only the rows the sheet has.
        """
        items = [name for name in ("revenue", "currency") if getattr(self, name) is None]
        if not self.activities:
            items.append("activities: no activity is estimated")
        for row in self.activities:
            if row.effort is None:
                items.append(f"effort of activity {row.activity!r}")
            elif row.effort == 0:
                items.append(f"effort of activity {row.activity!r} (is 0)")
        estimated = {row.activity.casefold() for row in self.activities}
        items.extend(
            f"activity {name!r} from the SOW has no estimate row"
            for name in sow_activities
            if name.strip().casefold() not in estimated
        )
        return items

    @property
    def is_complete(self) -> bool:
        """Revenue, currency and a non-zero effort for every row (see `missing`)."""
        return not self.missing()

    def revenue_in_usd(self, usd_rates: Mapping[str, Decimal] | None = None) -> Decimal:
        """The revenue in US dollars.

        Args:
            usd_rates: US dollars per one unit of each currency, e.g. {"EUR": Decimal("1.08")};
                not needed for USD estimates.

        Raises:
            ValueError: when revenue or currency is missing, or there is no rate for the currency.
        """
        if self.revenue is None or self.currency is None:
            raise ValueError("revenue and currency are needed to compare against a USD threshold")
        if self.currency == "USD":
            return self.revenue
        rate = (usd_rates or {}).get(self.currency)
        if rate is None or rate <= 0:
            raise ValueError(
                f"usd_rates needs a positive rate for {self.currency} (US dollars per 1 "
                f"{self.currency}) to compare the revenue with the USD threshold"
            )
        return self.revenue * rate

    def needs_ta_review(self, usd_rates: Mapping[str, Decimal] | None = None) -> bool:
        """True when the revenue is over $50,000 (`TA_REVIEW_THRESHOLD_USD`), converted with
        `usd_rates` when the estimate is in another currency (see `revenue_in_usd`)."""
        return self.revenue_in_usd(usd_rates) > TA_REVIEW_THRESHOLD_USD


# --- the PS Engagement record --------------------------------------------------------------------


class EngagementStatus(StrEnum):
    BACKLOG = "Backlog"
    ON_HOLD = "On Hold"
    INITIATION = "Initiation"
    IN_PROGRESS = "In Progress"
    CLOSURE = "Closure"
    COMPLETED = "Completed"
    CANCELLED = "Cancelled"

    def moves_forward(self, current: str | None) -> bool:
        """Whether setting this status over `current` moves the engagement on: a re-run of an
        earlier phase never sets it back, nor over a person's On Hold or Cancelled.

        Example:
            >>> EngagementStatus.IN_PROGRESS.moves_forward("Initiation")
            True
            >>> EngagementStatus.INITIATION.moves_forward("In Progress")
            False
        """
        if current is None or current == self.BACKLOG:
            return self != self.BACKLOG
        order = [status.value for status in _LIFECYCLE]
        return current in order and order.index(self.value) > order.index(current)


# The order psflow moves an engagement through; On Hold and Cancelled are people's decisions.
_LIFECYCLE = (
    EngagementStatus.BACKLOG,
    EngagementStatus.INITIATION,
    EngagementStatus.IN_PROGRESS,
    EngagementStatus.CLOSURE,
    EngagementStatus.COMPLETED,
)


class Engagement(_Model):
    """The PS Engagement custom object in Salesforce, one per opportunity.

    The model accepts any status so that records people edited by hand can still be read; psflow
    sets COMPLETED only when `engagement.close.completion_problems` finds nothing missing.
    """

    id: RecordId | None = None
    name: Text
    engagement_type: Text = "Consulting"
    opportunity_id: OpportunityId
    opportunity_amount: PositiveDecimal | None = None
    currency: Currency | None = None
    status: EngagementStatus = EngagementStatus.BACKLOG
    sow_link: GoogleDocUrl | None = None
    collaboration_project: WebUrl | None = None  # the GitLab project's URL
    scoped_hours: Decimal | None = Field(default=None, ge=0)
    hours_consumed: Decimal = Field(default=Decimal(0), ge=0)
    expected_start: date | None = None
    expected_completion: date | None = None
    actual_start: date | None = None
    completed_on: date | None = None
    approved: bool = False
    approver: EmailAddress | None = None
    approver_id: RecordId | None = None  # the approver's Salesforce user
    project_owner_id: RecordId | None = None  # the Project Owner's Salesforce user
    signed_acceptance: bool = False
    passive_acceptance_used: bool = False
    sign_off_date: date | None = None

    _completion_after_start = field_validator("expected_completion")(_not_before_start)

    @property
    def over_budget(self) -> bool:
        """Hours consumed past the scoped ones (none scoped: never over)."""
        return self.scoped_hours is not None and self.hours_consumed > self.scoped_hours

    @property
    def remaining_hours(self) -> Decimal | None:
        return None if self.scoped_hours is None else self.scoped_hours - self.hours_consumed
