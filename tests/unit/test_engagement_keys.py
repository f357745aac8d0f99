"""Natural keys and names: each is valid in its system for ANY text (unicode, emoji, right-to-left,
control characters, very long, nothing left after cleaning), deterministic, distinct per artifact
kind, and never the same for two different opportunities (or accounts)."""

from __future__ import annotations

import base64
import re
import string
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement.keys import (
    CUSTOMER_KINDS,
    DRIVE_KEY_PROPERTY,
    Kind,
    calendar_event_id,
    drive_app_properties,
    drive_key_query,
    drive_name,
    find_key_marker,
    gitlab_epic_title,
    gitlab_group_name,
    gitlab_group_path,
    gitlab_key_marker,
    gitlab_labels,
    gitlab_project_name,
    gitlab_project_path,
    gmail_message_id,
    key_part,
    mavenlink_external_reference,
    mavenlink_workspace_title,
    natural_key,
    parse_key,
    salesforce_engagement_external_id,
    slack_customer_channel,
    slack_message_metadata,
)
from engagement.models import salesforce_id
from engagement.slugs import ascii_words, gitlab_name_text, one_line, slug

OPPORTUNITY = "006Dn0000000002IAA"
ACCOUNT = "001Dn0000000001IAA"
DOMAIN = "northwind.example"

PROPERTY = settings(max_examples=200, derandomize=True, deadline=None, database=None)

# --- what each system accepts, written from its documentation ------------------------------------

# GitLab path/slug (docs "Reserved project and group names" + lib/gitlab/path_regex.rb): letters,
# digits, '_', '-', '.'; starts and ends with a letter or digit; no consecutive special characters.
GITLAB_PATH = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")
SLACK_CHANNEL = re.compile(r"[a-z0-9_-]{1,80}")
CALENDAR_ID = re.compile(r"[a-v0-9]{5,1024}")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
RFC5322_MSG_ID = re.compile(rf"<{_ATEXT}(?:\.{_ATEXT})*@{_ATEXT}(?:\.{_ATEXT})*>")


def assert_gitlab_path(path: str) -> None:
    assert GITLAB_PATH.fullmatch(path), path
    assert len(path) <= 255
    assert not path.endswith((".git", ".atom"))


def assert_gitlab_name(name: str) -> None:
    # lib/gitlab/regex.rb: \A[\p{Alnum}emoji_][\p{Alnum}\p{Pd}emoji_\. ]*\z (emoji: we use none)
    def alnum(char: str) -> bool:
        return unicodedata.category(char)[0] == "L" or unicodedata.category(char) == "Nd"

    assert name, name
    assert alnum(name[0]) or name[0] == "_", name
    assert all(alnum(c) or unicodedata.category(c) == "Pd" or c in "_. " for c in name), name
    assert len(name) <= 255


def assert_one_line(text: str, limit: int) -> None:
    assert text == text.strip()
    assert 0 < len(text) <= limit
    assert not any(unicodedata.category(c)[0] == "C" or (c.isspace() and c != " ") for c in text)
    text.encode("utf-8")  # no lone surrogates


# --- inputs --------------------------------------------------------------------------------------

TRICKY_NAMES = [
    "",
    "   ",
    "---",
    "...git",
    "acme.git",
    "api",
    "🦄🚀",
    "شركة البيانات",  # right-to-left
    "עברית ‮evil‬",  # with a bidi override
    "東京データ株式会社",
    "Société Générale de Données",
    "Müller & Søn – ĐÔ / Łódź",
    "a\r\nBcc: x@example.com",
    "\x00\x1b[31m",
    "x" * 5000,
    "word " * 400,
]
# any text: every Unicode category, lone surrogates included; plus very long text and known traps
names = st.one_of(
    st.text(st.characters(exclude_categories=())),
    st.text(min_size=300, max_size=3000),
    st.sampled_from(TRICKY_NAMES),
)
parts = st.one_of(st.none(), st.sampled_from(["PS-MIG", "2026-W07", "CR-1"]), names)


def ids(prefix: str) -> st.SearchStrategy[str]:
    body = st.text(string.ascii_letters + string.digits, min_size=12, max_size=12)
    return body.map(lambda b: salesforce_id(prefix + b))


def _case_twin(id18: str, data: st.DataObject) -> str:
    """The same 15 characters with one letter's case flipped: a different Salesforce record that
    systems ignoring case would confuse without the checksum."""
    letters = [i for i, c in enumerate(id18[3:15], start=3) if c.isalpha()]
    if not letters:
        return salesforce_id(id18[:14] + ("a" if id18[14] != "a" else "b"))
    i = data.draw(st.sampled_from(letters))
    return salesforce_id(id18[:i] + id18[i].swapcase() + id18[i + 1 : 15])


opportunity_ids, account_ids = ids("006"), ids("001")
kinds = st.sampled_from(list(Kind))
opportunity_kinds = st.sampled_from([k for k in Kind if k not in CUSTOMER_KINDS])


def owner_ids(kind: Kind) -> st.SearchStrategy[str]:
    return account_ids if kind in CUSTOMER_KINDS else opportunity_ids


# a kind with the id of what it belongs to (drawn together, not with st.data(): hypothesis found
# data-dependent draws flaky to replay)
owned_kinds = kinds.flatmap(lambda kind: owner_ids(kind).map(lambda record: (kind, record)))


# --- slugs ---------------------------------------------------------------------------------------


def test_slug_examples() -> None:
    assert slug("Acme – CI/CD Modernisation", 60) == "acme-ci-cd-modernisation"
    assert slug("Société Générale de Données", 60) == "societe-generale-de-donnees"
    assert slug("Müller & Søn – Łódź", 60) == "muller-son-lodz"
    assert slug("Ｆｕｌｌｗｉｄｔｈ ①", 60) == "fullwidth-1"
    assert slug("Société Générale de Données", 20) == "societe-generale-de"
    assert slug("x" * 100, 10) == "x" * 10
    assert slug("東京 🦄", 60) == ""
    assert ascii_words("GitLab CI/CD") == ["gitlab", "ci", "cd"]


def test_one_line_and_gitlab_name_text_examples() -> None:
    assert one_line("  Acme\r\n\tCorp\u202e \x00Ltd  ", 255) == "Acme Corp Ltd"
    assert one_line("abcdef", 3) == "abc"
    assert gitlab_name_text("Acme – CI/CD (EMEA) 🚀", 60) == "Acme – CI CD EMEA"
    assert gitlab_name_text("--- .Société", 60) == "Société"
    assert gitlab_name_text("🦄", 60) == ""


# --- the natural key -----------------------------------------------------------------------------


def test_natural_key_examples() -> None:
    assert natural_key(Kind.COST_ESTIMATE, "006Dn0000000002") == (
        "cost-estimate:006Dn0000000002IAA"
    )
    assert natural_key(Kind.ACTIVITY_ISSUE, OPPORTUNITY, "PS-MIG") == (
        "activity-issue:006Dn0000000002IAA:PS-MIG"
    )
    assert natural_key(Kind.CUSTOMER_FOLDER, ACCOUNT) == "customer-folder:" + ACCOUNT
    hashed = natural_key(Kind.ACTIVITY_ISSUE, OPPORTUNITY, "Kubernetes & runners")
    assert re.fullmatch(r"activity-issue:006Dn0000000002IAA:~[a-v0-9]{16}", hashed)


def test_kinds_are_short_enough_for_every_store() -> None:
    assert max(len(kind.value) for kind in Kind) <= 24
    assert all(re.fullmatch(r"[a-z]+(?:-[a-z]+)*", kind.value) for kind in Kind)


def test_a_kind_only_takes_the_id_of_its_owner() -> None:
    with pytest.raises(ValueError, match="Account id"):
        natural_key(Kind.CUSTOMER_CHANNEL, OPPORTUNITY)
    with pytest.raises(ValueError, match="Opportunity id"):
        gitlab_project_path(ACCOUNT, "Acme")
    with pytest.raises(ValueError, match="checksum"):
        calendar_event_id(Kind.KICKOFF_MEETING, "006Dn0000000002IAB")


@PROPERTY
@given(owned_kinds, parts)
def test_keys_are_plain_ascii_and_deterministic(owned: tuple[Kind, str], part: str | None) -> None:
    kind, record = owned
    key = natural_key(kind, record, part)
    assert re.fullmatch(r"[A-Za-z0-9:._~-]+", key), key
    assert "--" not in key
    assert len(key) <= 84
    assert key == natural_key(kind, record[:15], part)  # 15- and 18-character ids agree
    assert key.split(":")[:2] == [kind.value, record]


@PROPERTY
@given(opportunity_ids, parts, parts)
def test_different_parts_give_different_keys(record: str, a: str | None, b: str | None) -> None:
    if a != b:
        kind = Kind.ACCEPTANCE_EMAIL
        assert natural_key(kind, record, a) != natural_key(kind, record, b)


# --- GitLab --------------------------------------------------------------------------------------


def test_gitlab_examples() -> None:
    path = gitlab_group_path(ACCOUNT, "Acme Corporation")
    assert re.fullmatch(r"acme-corporation-[a-v0-9]{8}", path)
    assert gitlab_group_name(ACCOUNT, "Acme Corporation") == "Acme Corporation - " + path[-8:]
    project = gitlab_project_path(OPPORTUNITY, "Acme – CI/CD Modernisation")
    assert re.fullmatch(r"acme-ci-cd-modernisation-[a-v0-9]{8}", project)
    assert gitlab_project_name(OPPORTUNITY, "Acme – CI/CD Modernisation").startswith(
        "Acme – CI CD Modernisation - "
    )
    assert gitlab_epic_title("SOW-2026-041", "Acme Corporation") == "SOW-2026-041 Acme Corporation"
    assert gitlab_group_path(ACCOUNT, "🦄").startswith("customer-")
    assert gitlab_labels(Kind.ACTIVITY_ISSUE, OPPORTUNITY) == (
        "opportunity::" + OPPORTUNITY,
        "PS::Activity",
    )
    assert gitlab_labels(Kind.CUSTOMER_EPIC, OPPORTUNITY) == ("opportunity::" + OPPORTUNITY,)


def test_the_sandbox_seeds_acmes_group_as_psflow_names_it() -> None:
    """The sandbox writes Acme's 2025 group out (it does not import psflow); this holds it to the keys."""
    from sandbox.seed import ACME, acme_group

    assert acme_group() == (
        gitlab_group_path(ACME.id, ACME.name),
        gitlab_group_name(ACME.id, ACME.name),
    )


@PROPERTY
@given(account_ids, opportunity_ids, names)
def test_gitlab_paths_and_names_are_valid_for_any_name(account: str, opp: str, name: str) -> None:
    assert_gitlab_path(gitlab_group_path(account, name))
    assert_gitlab_path(gitlab_project_path(opp, name))
    assert_gitlab_name(gitlab_group_name(account, name))
    assert_gitlab_name(gitlab_project_name(opp, name))


@PROPERTY
@given(names, names)
def test_epic_title_is_one_line_for_any_text(sow: str, customer: str) -> None:
    if not one_line(sow, 255):
        with pytest.raises(ValueError, match="sow_number"):
            gitlab_epic_title(sow, customer)
        return
    title = gitlab_epic_title(sow, customer)
    assert_one_line(title, 255)
    assert title.startswith(one_line(sow, 60))


@PROPERTY
@given(owned_kinds, parts, names)
def test_key_marker_round_trips_through_a_description(
    owned: tuple[Kind, str], part: str | None, text: str
) -> None:
    kind, owner = owned
    key = natural_key(kind, owner, part)
    marker = gitlab_key_marker(key)
    assert marker.startswith("<!-- ")
    assert marker.endswith(" -->")
    inside = marker[4:-3]  # the comment cannot end early
    assert "--" not in inside
    assert ">" not in inside
    assert find_key_marker(f"{text}\n\n{marker}\n") == key
    if "psflow:key=" not in text:
        assert find_key_marker(text) is None


# --- Slack ---------------------------------------------------------------------------------------


@PROPERTY
@given(account_ids, names)
def test_slack_channel_is_valid_for_any_name(account: str, name: str) -> None:
    channel = slack_customer_channel(account, name)
    assert SLACK_CHANNEL.fullmatch(channel), channel
    assert channel.startswith("a_")
    assert channel.endswith("_internal")


def test_slack_examples() -> None:
    assert re.fullmatch(
        r"a_acme-corporation-[a-v0-9]{8}_internal",
        slack_customer_channel(ACCOUNT, "Acme Corporation!"),
    )
    assert re.fullmatch(r"a_[a-v0-9]{8}_internal", slack_customer_channel(ACCOUNT, "東京"))
    assert slack_message_metadata(Kind.STAFFING_DECISION, OPPORTUNITY) == {
        "event_type": "psflow_staffing_decision",
        "event_payload": {"psflow_key": "staffing-decision:" + OPPORTUNITY},
    }


@PROPERTY
@given(owned_kinds, parts)
def test_slack_metadata_carries_the_key(owned: tuple[Kind, str], part: str | None) -> None:
    kind, record = owned
    metadata = slack_message_metadata(kind, record, part)
    assert re.fullmatch(r"[a-z0-9_]+", metadata["event_type"])
    assert metadata["event_payload"] == {"psflow_key": natural_key(kind, record, part)}


# --- Google --------------------------------------------------------------------------------------


@PROPERTY
@given(owned_kinds, parts)
def test_drive_app_property_fits_124_bytes(owned: tuple[Kind, str], part: str | None) -> None:
    kind, record = owned
    properties = drive_app_properties(kind, record, part)
    [(key, value)] = properties.items()
    assert key == DRIVE_KEY_PROPERTY
    assert len(key.encode()) + len(value.encode()) <= 124
    query = drive_key_query(kind, record, part)
    assert query == f"appProperties has {{ key='psflow_key' and value='{value}' }}"
    assert not set(value) & {"'", "\\"}  # nothing to escape inside the quotes


@PROPERTY
@given(st.lists(st.one_of(st.none(), names), max_size=4))
def test_drive_names_are_one_line_for_any_text(texts: list[str | None]) -> None:
    assert_one_line(drive_name(*texts), 255)


def test_drive_name_example() -> None:
    assert drive_name("Cost Estimate", "Acme\nCorporation", None, "SOW-2026-041") == (
        "Cost Estimate – Acme Corporation – SOW-2026-041"
    )
    assert drive_name("\x00\u200b", fallback="Customer") == "Customer"


@PROPERTY
@given(opportunity_kinds, opportunity_ids, parts)
def test_message_id_is_rfc5322(kind: Kind, record: str, part: str | None) -> None:
    message_id = gmail_message_id(kind, record, DOMAIN, part)
    assert RFC5322_MSG_ID.fullmatch(message_id), message_id
    assert message_id.startswith(f"<psflow.{kind.value}.{record}.")
    assert message_id.endswith("@northwind.example>")


def test_message_id_refuses_a_bad_domain() -> None:
    for domain in ("", "north wind.example", "x@y.example", "-bad.example", "a..b"):
        with pytest.raises(ValueError, match="domain"):
            gmail_message_id(Kind.SIGN_OFF_EMAIL, OPPORTUNITY, domain)
    assert gmail_message_id(Kind.SIGN_OFF_EMAIL, OPPORTUNITY, "PS.Example").endswith("@ps.example>")


@PROPERTY
@given(owned_kinds, parts)
def test_calendar_event_id_is_base32hex_and_encodes_the_key(
    owned: tuple[Kind, str], part: str | None
) -> None:
    kind, record = owned
    event_id = calendar_event_id(kind, record, part)
    assert CALENDAR_ID.fullmatch(event_id), event_id
    padded = event_id.upper() + "=" * (-len(event_id) % 8)
    assert base64.b32hexdecode(padded).decode() == natural_key(kind, record, part)


# --- Mavenlink and Salesforce --------------------------------------------------------------------


def test_mavenlink_and_salesforce_examples() -> None:
    assert mavenlink_external_reference(Kind.WORKSPACE, OPPORTUNITY) == {
        "service_name": "psflow",
        "service_model": "workspace",
        "service_model_ref": "workspace:" + OPPORTUNITY,
    }
    assert mavenlink_workspace_title("Acme – CI/CD Modernisation", "SOW-2026-041") == (
        "Acme – CI/CD Modernisation (SOW-2026-041)"
    )
    assert mavenlink_workspace_title("\n", None) == "Engagement"
    assert salesforce_engagement_external_id("006Dn0000000002") == OPPORTUNITY


@PROPERTY
@given(names, st.one_of(st.none(), names))
def test_workspace_title_is_one_line_for_any_text(name: str, sow: str | None) -> None:
    assert_one_line(mavenlink_workspace_title(name, sow), 255)


# --- no collisions -------------------------------------------------------------------------------

# every per-opportunity key or name, as a function of (opportunity id, name, part)
BY_OPPORTUNITY: dict[str, Callable[[str, str, str | None], object]] = {
    "natural key": lambda o, n, p: natural_key(Kind.ACTIVITY_ISSUE, o, p),
    "project path": lambda o, n, p: gitlab_project_path(o, n),
    "project name": lambda o, n, p: gitlab_project_name(o, n),
    "label": lambda o, n, p: gitlab_labels(Kind.HANDOFF_ISSUE, o),
    "slack metadata": lambda o, n, p: slack_message_metadata(Kind.CLOSEOUT_REPORT, o, p),
    "drive property": lambda o, n, p: drive_app_properties(Kind.COST_ESTIMATE, o, p),
    "message id": lambda o, n, p: gmail_message_id(Kind.ACCEPTANCE_EMAIL, o, DOMAIN, p),
    "calendar id": lambda o, n, p: calendar_event_id(Kind.KICKOFF_MEETING, o, p),
    "mavenlink": lambda o, n, p: mavenlink_external_reference(Kind.WORKSPACE_TASK, o, p),
    "salesforce": lambda o, n, p: salesforce_engagement_external_id(o),
}
BY_ACCOUNT: dict[str, Callable[[str, str], object]] = {
    "group path": gitlab_group_path,
    "group name": gitlab_group_name,
    "slack channel": slack_customer_channel,
    "folder key": lambda a, n: drive_app_properties(Kind.CUSTOMER_FOLDER, a),
}


def _lower(value: object) -> str:
    # Slack, Calendar and GitLab paths ignore case: compare what they would compare
    return repr(value).lower()


@PROPERTY
@given(st.data(), opportunity_ids, names, parts)
def test_distinct_opportunities_never_share_a_key_or_name(
    data: st.DataObject, first: str, name: str, part: str | None
) -> None:
    second = data.draw(st.one_of(opportunity_ids, st.just(_case_twin(first, data))))
    if second == first:
        return
    for what, key in BY_OPPORTUNITY.items():
        assert _lower(key(first, name, part)) != _lower(key(second, name, part)), what


@PROPERTY
@given(st.data(), account_ids, names)
def test_distinct_accounts_never_share_a_key_or_name(
    data: st.DataObject, first: str, name: str
) -> None:
    second = data.draw(st.one_of(account_ids, st.just(_case_twin(first, data))))
    if second == first:
        return
    for what, key in BY_ACCOUNT.items():
        assert _lower(key(first, name)) != _lower(key(second, name)), what


@PROPERTY
@given(opportunity_ids, parts)
def test_kinds_never_share_a_key(record: str, part: str | None) -> None:
    per_kind: list[Callable[[Kind], str]] = [
        lambda k: natural_key(k, record, part),
        lambda k: calendar_event_id(k, record, part),
        lambda k: gmail_message_id(k, record, DOMAIN, part),
        lambda k: slack_message_metadata(k, record, part)["event_type"],
    ]
    for make in per_kind:
        values = [make(kind) for kind in Kind if kind not in CUSTOMER_KINDS]
        assert len(set(values)) == len(values)


@given(
    kind=st.sampled_from([k for k in Kind if k not in CUSTOMER_KINDS]),
    part=st.none() | st.text(min_size=1, max_size=60),
)
def test_a_key_read_back_is_the_key_written(kind: Kind, part: str | None) -> None:
    key = natural_key(kind, OPPORTUNITY, part)
    found = parse_key(key)
    assert (found.kind, found.record_id) == (kind, OPPORTUNITY)
    assert found.part == (None if part is None else key_part(part))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no-such-kind:006Dn0000000002IAA",
        "change-request-email:006Dn0000000002",  # a 15-character id: not as psflow writes it
        "change-request-email:001Dn0000000001IAA:CR-1",  # an account's id for an opportunity's
        "change-request-email:006Dn0000000002IAA:CR 1",  # a part psflow would have hashed
    ],
)
def test_a_text_that_is_not_a_psflow_key_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a psflow key"):
        parse_key(text)
