"""Natural keys and names for everything psflow creates, one small pure function per system rule.

Every write in psflow is "look the object up by its natural key, create it only if absent"
(DESIGN.md, Idempotency). An object's key is derived here from

- its `Kind` (so two kinds never share a key),
- the 18-character Salesforce id it belongs to: the Opportunity, or the Account for the
  per-customer objects in `CUSTOMER_KINDS`,
- and, where one opportunity has several of a kind, a `part` (an activity code, an ISO week...).

`natural_key` gives e.g. "activity-issue:006Dn0000000002IAA:PS-MIG". It contains the id itself, so
keys of different opportunities never collide; each system's function below stores it in the form
that system allows. Nothing here reads the clock or draws random numbers: the same input gives the
same key on every run.

Names people see (GitLab paths and names, Slack channels) must be unique in their system as well
as readable: they are a cleaned name plus an 8-character hash of the id (40 bits). Two different
ids get the same name only if their cleaned names are equal AND the hashes collide (about 1 in 10^12
per pair). Titles that need not be unique (epic, folders, Mavenlink workspace) carry no hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
from enum import StrEnum, unique
from typing import TypedDict

from pydantic import BaseModel, ConfigDict

from engagement.models import ACCOUNT_PREFIX, OPPORTUNITY_PREFIX, Opportunity, salesforce_id
from engagement.slugs import gitlab_name_text, one_line, slug

NAME_HASH_LENGTH = 8  # in names people read
KEY_HASH_LENGTH = 16  # inside keys, where only a machine reads it (80 bits)


def short_hash(text: str, length: int = NAME_HASH_LENGTH) -> str:
    """A stable hash of `text` in lowercase base32hex (0-9, a-v): valid in every system here.

    Example:
        >>> len(short_hash("006Dn0000000002IAA"))
        8
    """
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return base64.b32hexencode(digest).decode("ascii").lower()[:length]


@unique
class Kind(StrEnum):
    """Everything psflow creates, by what it is in the handbook. The value is part of every key:
    never rename one once objects exist."""

    # one per customer, keyed by the Account id
    CUSTOMER_GROUP = "customer-group"  # GitLab subgroup under ps-customers
    CUSTOMER_CHANNEL = "customer-channel"  # Slack a_<customer>_internal
    CUSTOMER_FOLDER = "customer-folder"  # Drive
    # one (or one per part) per opportunity, keyed by the Opportunity id
    ENGAGEMENT_RECORD = "engagement-record"  # Salesforce PS_Engagement__c
    PROJECT = "project"  # GitLab PS project
    CUSTOMER_EPIC = "customer-epic"  # GitLab epic "<SOW#> <Customer>"
    HANDOFF_ISSUE = "handoff-issue"
    ACTIVITY_ISSUE = "activity-issue"  # part: activity code
    TA_REVIEW_ISSUE = "ta-review-issue"
    CHANGE_REQUEST_ISSUE = "change-request-issue"  # part: change request number
    CHANGE_REQUEST_APPROVAL = "change-request-approval"  # Slack: the EM's word; part: CR number
    CUSTOMER_APPROVAL = "customer-approval"  # GitLab note: the customer's reply; part: CR number
    CUSTOMER_REPLY = "customer-reply"  # Slack: an answer for the Project Owner; part: its id
    CHANGE_REQUEST_APPLIED = "change-request-applied"  # Slack: the new baseline; part: CR number
    ACCEPTANCE_SENT = "acceptance-sent"  # GitLab note on an activity issue; part: activity code
    ACTIVITY_ACCEPTED = "activity-accepted"  # GitLab note: how it was accepted; part: its code
    ACCEPTANCE_QUESTION = "acceptance-question"  # the customer's answer, not an acceptance
    SIGN_OFF_ISSUE = "sign-off-issue"  # GitLab issue: the project's sign-off, its clock and record
    SIGNED_OFF = "signed-off"  # GitLab note on the sign-off issue: how it was signed off
    WORK_EXCEPTION = "work-exception"  # GitLab issue and Slack notice; part: the threshold (%)
    WORKSPACE = "workspace"  # Mavenlink project
    WORKSPACE_TASK = "workspace-task"  # part: activity code
    STAFFING_PROPOSAL = "staffing-proposal"  # Slack message in #ps_planning
    STAFFING_DECISION = "staffing-decision"  # Slack message in #ps_planning; part for rejections
    STAFFING_BOOKING = "staffing-booking"  # Mavenlink soft allocation; part: the PSE's e-mail
    TEAM_ALLOCATION = "team-allocation"  # Slack message in #ps_planning: the team confirmed (Plan)
    KICKOFF_HELD = "kickoff-held"  # Slack message in the customer channel: the kickoff's record
    HARD_BOOKING = "hard-booking"  # Mavenlink hard allocation (Plan); part: the PSE's e-mail
    MILESTONE = "milestone"  # Mavenlink milestone of a SOW activity (Plan); part: activity code
    BILLING_MILESTONE = "billing-milestone"  # Mavenlink: an accepted fixed fee; part: its code
    SIGNATURE_CHECK = "signature-check"  # Slack message in #ps_planning: missing before signature
    ENGAGEMENT_RELEASED = "engagement-released"  # Slack message in #ps_planning: Closed Lost
    CLOSEOUT_REPORT = "closeout-report"  # Slack message for PS leadership
    CLOSEOUT_DOC = "closeout-doc"  # Drive document: the closeout report
    CLOSEOUT_CHART = "closeout-chart"  # Drive PNG: estimated vs actual hours per activity
    ENGAGEMENT_CLOSED = "engagement-closed"  # Slack message in the customer channel: closed
    BILLING_DONE = "billing-done"  # Slack message in #ps_planning: the PC's word (Close)
    ENGAGEMENT_LINKS = "engagement-links"  # Slack message in the customer channel, pinned
    SOW_FOLDER = "sow-folder"  # Drive folder per SOW
    COST_ESTIMATE = "cost-estimate"
    PROJECT_DEFINITION = "project-definition"
    KICKOFF_DECK = "kickoff-deck"
    BURN_DOWN_CHART = "burn-down-chart"  # Drive PNG of the status report; part: ISO week
    CHANGE_REQUEST = "change-request"  # Drive document; part: change request number
    ACCEPTANCE_REQUEST = "acceptance-request"  # Drive document; part: activity code
    CLOSURE_AGENDA = "closure-agenda"
    INITIATION_EMAIL = "initiation-email"
    ACCEPTANCE_EMAIL = "acceptance-email"  # part: activity code
    SIGN_OFF_EMAIL = "sign-off-email"
    CHANGE_REQUEST_EMAIL = "change-request-email"  # part: change request number
    STATUS_REPORT_EMAIL = "status-report-email"  # part: ISO week, e.g. 2026-W07
    ALIGNMENT_MEETING = "alignment-meeting"  # Calendar: EM, PC, PSE
    HANDOFF_MEETING = "handoff-meeting"
    KICKOFF_MEETING = "kickoff-meeting"
    WEEKLY_MEETING = "weekly-meeting"  # Calendar: the weekly project meeting, one recurring event
    CLOSURE_MEETING = "closure-meeting"


CUSTOMER_KINDS = frozenset({Kind.CUSTOMER_GROUP, Kind.CUSTOMER_CHANNEL, Kind.CUSTOMER_FOLDER})

# --- the key -------------------------------------------------------------------------------------

MAX_PART_LENGTH = 40
_PLAIN_PART = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")


def key_part(part: str) -> str:
    """`part` as it appears in a key: itself when short and plain ("PS-MIG", "2026-W07"),
    otherwise "~" and a hash. No plain part contains "~", so the two forms cannot meet."""
    if len(part) <= MAX_PART_LENGTH and _PLAIN_PART.fullmatch(part):
        return part
    return "~" + short_hash(part, KEY_HASH_LENGTH)


def owner_id(kind: Kind, record_id: str) -> str:
    """The 18-character id an object of `kind` belongs to: an Account id for the customer
    kinds, an Opportunity id for the others (15-character ids are accepted and converted).

    Raises:
        ValueError: when `record_id` is not a valid id of the expected object.
    """
    if kind in CUSTOMER_KINDS:
        return salesforce_id(record_id, ACCOUNT_PREFIX, "Account")
    return salesforce_id(record_id, OPPORTUNITY_PREFIX, "Opportunity")


def natural_key(kind: Kind, record_id: str, part: str | None = None) -> str:
    """The natural key of an object: "<kind>:<18-character id>[:<part>]".

    At most 24 + 1 + 18 + 1 + 40 = 84 characters (kind values are kept to 24), in ASCII letters,
    digits and ":._-~" only, so it fits every store below: Drive's 124-byte property, an HTML
    comment, a Drive query in quotes.

    Example:
        >>> natural_key(Kind.ACTIVITY_ISSUE, "006Dn0000000002", "PS-MIG")
        'activity-issue:006Dn0000000002IAA:PS-MIG'
    """
    key = f"{kind.value}:{owner_id(kind, record_id)}"
    return key if part is None else f"{key}:{key_part(part)}"


class Key(BaseModel):
    """A natural key read back (from a header psflow wrote): what it keys, and whose."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    record_id: str  # the 18-character id
    part: str | None = None  # as keyed: a long or unusual part is its hash


def parse_key(text: str) -> Key:
    """The natural key `text` ("<kind>:<id>[:<part>]") read back.

    Raises:
        ValueError: when it is not a natural key psflow makes.

    Example:
        >>> parse_key("change-request-email:006Dn0000000002IAA:CR-2").part
        'CR-2'
    """
    kind, _, rest = text.strip().partition(":")
    record_id, _, part = rest.partition(":")
    try:
        key = Key(kind=Kind(kind), record_id=record_id, part=part or None)
        whole = natural_key(key.kind, record_id) + (f":{part}" if part else "")
    except ValueError:
        whole = None
    # as keyed: a plain part, or "~" and the hash of one that was not
    keyed = not part or key_part(part) == part or re.fullmatch(r"~[0-9a-v]{16}", part)
    if whole != text.strip() or not keyed:
        raise ValueError(f"not a psflow key: {text[:120]!r}")
    return key


# --- GitLab --------------------------------------------------------------------------------------

GITLAB_MAX_LENGTH = 255  # paths, names and titles
_READABLE_LENGTH = 60  # the part of a path or name taken from a person's text
_KEY_MARKER = re.compile(r"<!-- psflow:key=([A-Za-z0-9:._~-]+) -->")

# Group labels the seed creates (sandbox/seed.py GROUP_LABELS); psflow files its issues under them.
GITLAB_KIND_LABELS = {
    Kind.HANDOFF_ISSUE: "PS::Hand-off",
    Kind.ACTIVITY_ISSUE: "PS::Activity",
    Kind.TA_REVIEW_ISSUE: "PS::TA Review",
    Kind.CHANGE_REQUEST_ISSUE: "PS::Change Request",
    Kind.WORK_EXCEPTION: "PS::Work Exception",
    Kind.SIGN_OFF_ISSUE: "PS::Sign-off",
}


def _path_with_hash(text: str, record_id: str, fallback: str) -> str:
    # GitLab's strictest path rule (16.x+): letters/digits in runs joined by single '_', '-' or
    # '.', not starting or ending with a special character, not ending in .git/.atom. A slug
    # plus "-<hash>" meets it, and the hash suffix also keeps clear of reserved names ("api").
    return f"{slug(text, _READABLE_LENGTH) or fallback}-{short_hash(record_id)}"


def _name_with_hash(text: str, record_id: str, fallback: str) -> str:
    return f"{gitlab_name_text(text, _READABLE_LENGTH) or fallback} - {short_hash(record_id)}"


def gitlab_group_path(account_id: str, account_name: str) -> str:
    """The customer's subgroup path under ps-customers, e.g. "acme-corporation-1a2b3c4d"."""
    account = owner_id(Kind.CUSTOMER_GROUP, account_id)
    return _path_with_hash(account_name, account, "customer")


def gitlab_group_name(account_id: str, account_name: str) -> str:
    """The customer's subgroup name, e.g. "Acme Corporation - 1a2b3c4d" (GitLab refuses a second
    subgroup of the same name in a parent, and Salesforce account names need not be unique)."""
    account = owner_id(Kind.CUSTOMER_GROUP, account_id)
    return _name_with_hash(account_name, account, "Customer")


def gitlab_project_path(opportunity_id: str, opportunity_name: str) -> str:
    """The PS project's path in the customer group, e.g. "acme-ci-cd-modernisation-1a2b3c4d"."""
    opportunity = owner_id(Kind.PROJECT, opportunity_id)
    return _path_with_hash(opportunity_name, opportunity, "engagement")


def gitlab_project_name(opportunity_id: str, opportunity_name: str) -> str:
    """The PS project's name, e.g. "Acme – CI CD Modernisation - 1a2b3c4d" (unique per group)."""
    opportunity = owner_id(Kind.PROJECT, opportunity_id)
    return _name_with_hash(opportunity_name, opportunity, "Engagement")


def gitlab_epic_title(sow_number: str, customer_name: str) -> str:
    """The customer epic's title, "<SOW#> <Customer>" as the handbook names it, on one line.

    Raises:
        ValueError: when the SOW number is empty: the epic cannot be named without it.
    """
    sow = one_line(sow_number, _READABLE_LENGTH)
    if not sow:
        raise ValueError(f"sow_number is needed for the epic title; got {sow_number!r}")
    return one_line(f"{sow} {customer_name}", GITLAB_MAX_LENGTH)


def gitlab_key_marker(key: str) -> str:
    """The line psflow puts in an issue or epic description to find it again by `key`.
    An HTML comment, so GitLab renders nothing; keys never contain "--" or ">"."""
    return f"<!-- psflow:key={key} -->"


def find_key_marker(description: str | None) -> str | None:
    """The key in a description written with `gitlab_key_marker`, or None."""
    match = _KEY_MARKER.search(description or "")
    return match.group(1) if match else None


def gitlab_opportunity_label(opportunity_id: str) -> str:
    """The label on every issue and epic of one opportunity: the cheap server-side filter before
    the key marker is checked."""
    return f"opportunity::{owner_id(Kind.PROJECT, opportunity_id)}"


def gitlab_labels(kind: Kind, opportunity_id: str) -> tuple[str, ...]:
    """Labels for an issue or epic of `kind`: the opportunity's label and the handbook's kind label."""
    labels = (gitlab_opportunity_label(opportunity_id),)
    kind_label = GITLAB_KIND_LABELS.get(kind)
    return (*labels, kind_label) if kind_label else labels


# --- Slack ---------------------------------------------------------------------------------------

SLACK_MAX_CHANNEL = 80


def slack_customer_channel(account_id: str, account_name: str) -> str:
    """The customer's internal channel, "a_<customer>_internal", e.g.
    "a_acme-corporation-1a2b3c4d_internal": lowercase letters, digits, '-' and '_', at most 80."""
    account = owner_id(Kind.CUSTOMER_CHANNEL, account_id)
    # 2 ("a_") + 60 + 9 ("-" hash) + 9 ("_internal") = 80
    customer = slug(account_name, SLACK_MAX_CHANNEL - 20)
    hashed = short_hash(account)
    return f"a_{customer}-{hashed}_internal" if customer else f"a_{hashed}_internal"


class SlackMetadata(TypedDict):
    event_type: str
    event_payload: dict[str, str]


SLACK_KEY_FIELD = "psflow_key"


def slack_message_metadata(kind: Kind, record_id: str, part: str | None = None) -> SlackMetadata:
    """The `metadata` psflow attaches to a message it posts, found again with
    `conversations.history(include_all_metadata=True)` by `event_payload["psflow_key"]`.
    Slack asks for a readable alphanumeric event type: "psflow_staffing_decision"."""
    return {
        "event_type": "psflow_" + kind.value.replace("-", "_"),
        "event_payload": {SLACK_KEY_FIELD: natural_key(kind, record_id, part)},
    }


# --- Google Drive, Gmail, Calendar ---------------------------------------------------------------

DRIVE_KEY_PROPERTY = "psflow_key"
DRIVE_PROPERTY_MAX_BYTES = 124  # key + value, UTF-8, per app property
DRIVE_MAX_NAME = 255  # Drive takes far longer names; longer ones help nobody


def drive_app_properties(kind: Kind, record_id: str, part: str | None = None) -> dict[str, str]:
    """The `appProperties` psflow sets on a file or folder it creates: {"psflow_key": key}."""
    key = natural_key(kind, record_id, part)
    size = len(DRIVE_KEY_PROPERTY.encode()) + len(key.encode())
    if size > DRIVE_PROPERTY_MAX_BYTES:  # cannot happen with today's kinds; guards new ones
        raise ValueError(f"app property {key!r} is {size} bytes; Drive allows 124")
    return {DRIVE_KEY_PROPERTY: key}


def drive_key_query(kind: Kind, record_id: str, part: str | None = None) -> str:
    """The `files.list(q=...)` clause that finds the file carrying the key (keys need no
    escaping: they have no quotes or backslashes)."""
    key = natural_key(kind, record_id, part)
    return f"appProperties has {{ key='{DRIVE_KEY_PROPERTY}' and value='{key}' }}"


def drive_name(*parts: str | None, fallback: str = "Untitled") -> str:
    """A Drive file or folder name from its parts joined by " – ", e.g.
    drive_name("Cost Estimate", "Acme Corporation", "SOW-2026-041"). Control characters are
    stripped and each part is kept to one line; empty parts are skipped."""
    cleaned = [one_line(part, DRIVE_MAX_NAME) for part in parts if part]
    return one_line(" – ".join(part for part in cleaned if part), DRIVE_MAX_NAME) or fallback


class Folder(BaseModel):
    """A Drive folder psflow makes: found by its natural key wherever a person moved it, made
    (named `name`) in its parent only when missing."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    record_id: str
    name: str


def engagement_folders(opportunity: Opportunity) -> tuple[Folder, Folder]:
    """Where an engagement's documents go, under the engagements folder: the customer's folder,
    and the SOW's folder in it."""
    return (
        Folder(
            kind=Kind.CUSTOMER_FOLDER,
            record_id=opportunity.account.id,
            name=drive_name(opportunity.account.name),
        ),
        Folder(
            kind=Kind.SOW_FOLDER,
            record_id=opportunity.id,
            name=drive_name(opportunity.sow_number, opportunity.name),
        ),
    )


_DOMAIN = re.compile(
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)


def gmail_message_id(kind: Kind, record_id: str, domain: str, part: str | None = None) -> str:
    """The `Message-ID` header of an e-mail psflow sends, searched with `rfc822msgid:` before
    sending: "<psflow.<kind>.<id>.<hash of the key>@<domain>>", an RFC 5322 msg-id.

    Args:
        domain: the sending domain (the PS mailbox's), e.g. "northwind.example".

    Raises:
        ValueError: when `domain` is not a host name.
    """
    host = domain.lower()
    if not _DOMAIN.fullmatch(host) or len(host) > 253:
        raise ValueError(f"domain must be a host name like example.com; got {domain!r}")
    key_hash = short_hash(natural_key(kind, record_id, part), KEY_HASH_LENGTH)
    return f"<psflow.{kind.value}.{owner_id(kind, record_id)}.{key_hash}@{host}>"


GMAIL_MARKER_PREFIX = "PSF"


def gmail_key_marker(kind: Kind, record_id: str, part: str | None = None) -> str:
    """The word psflow writes in the last line of an e-mail it sends ("Ref: PSF..."), found again
    with a `in:sent "<marker>"` search before sending. Gmail replaces a client's `Message-ID`, so
    the body is where the key survives: one alphanumeric token (a Gmail search word), "PSF" and
    the key's 80-bit hash in uppercase base32hex, e.g. "PSF0K4Q7...".

    Example:
        >>> len(gmail_key_marker(Kind.INITIATION_EMAIL, "006Dn0000000002IAA"))
        19
    """
    key_hash = short_hash(natural_key(kind, record_id, part), KEY_HASH_LENGTH)
    return GMAIL_MARKER_PREFIX + key_hash.upper()


def calendar_event_id(kind: Kind, record_id: str, part: str | None = None) -> str:
    """The client-supplied id of a Calendar event: the key in lowercase base32hex (a-v, 0-9),
    which is exactly what Calendar allows, and a one-to-one encoding of the key."""
    key = natural_key(kind, record_id, part)
    return base64.b32hexencode(key.encode("ascii")).decode("ascii").rstrip("=").lower()


# --- Mavenlink and Salesforce --------------------------------------------------------------------


class MavenlinkExternalReference(TypedDict):
    service_name: str
    service_model: str
    service_model_ref: str


def mavenlink_external_reference(
    kind: Kind, record_id: str, part: str | None = None
) -> MavenlinkExternalReference:
    """The external reference psflow attaches to a Mavenlink object (workspace, task) and searches
    before creating one."""
    return {
        "service_name": "psflow",
        "service_model": kind.value,
        "service_model_ref": natural_key(kind, record_id, part),
    }


def mavenlink_workspace_title(opportunity_name: str, sow_number: str | None = None) -> str:
    """The Mavenlink project title: "<Opportunity name> (<SOW#>)", on one line."""
    title = one_line(opportunity_name, _READABLE_LENGTH * 2) or "Engagement"
    sow = one_line(sow_number or "", _READABLE_LENGTH)
    return f"{title} ({sow})" if sow else title


def salesforce_engagement_external_id(opportunity_id: str) -> str:
    """The External ID value the PS Engagement record is upserted by: the opportunity's
    18-character id (case-safe, so it stays unique in a case-insensitive External ID field)."""
    return owner_id(Kind.ENGAGEMENT_RECORD, opportunity_id)
