"""psflow's Slack tasks against the sandbox: a message is posted once per natural key, whatever
fails in between, and psflow finds it again by its metadata."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from engagement.keys import SLACK_KEY_FIELD, Kind, natural_key, slack_customer_channel
from sandbox import seed as demo
from sandbox.client import SandboxClient
from tasks import calls
from tasks.calls import PermanentError, TransientError
from tasks.clients import systems
from tasks.slack import (
    ensure_channel,
    ensure_members,
    ensure_message,
    ensure_pinned,
    find_channel,
    find_message,
)

OPPORTUNITY = demo.OPPORTUNITIES[1].id  # Acme – CI/CD Modernisation
KIND = Kind.STAFFING_DECISION
POST = r"/slack/api/chat\.postMessage"


def keyed_messages(outside: SandboxClient, key: str) -> list[dict[str, Any]]:
    return [
        m
        for m in outside.state("slack", "messages")
        if (m.get("metadata") or {}).get("event_payload", {}).get(SLACK_KEY_FIELD) == key
    ]


def test_find_channel(outside: SandboxClient) -> None:
    channels = {c["name"]: c["id"] for c in outside.state("slack", "channels")}
    assert find_channel.fn("ps_planning") == channels["ps_planning"]
    assert find_channel.fn("#ps_ops_alerts") == channels["ps_ops_alerts"]
    with pytest.raises(PermanentError, match=r"Slack: channel #no_such_channel: no such channel"):
        find_channel.fn("no_such_channel")


def slack_calls(outside: SandboxClient, method: str, since: int = 0) -> int:
    return len(outside.requests(system="slack", path=f"/slack/api/{method}", since=since))


def test_a_channel_found_once_is_found_again_by_its_recorded_id_without_a_listing(
    outside: SandboxClient,
) -> None:
    # conversations.list is Tier 2 (20 a minute for the workspace): a weekly report per
    # engagement looking #ps_planning up that way made it the burst's floor
    planning = find_channel.fn("ps_planning")
    assert slack_calls(outside, "conversations.list") == 1
    before = outside.last_request_id()
    assert find_channel.fn("#ps_planning") == planning
    assert slack_calls(outside, "conversations.list", before) == 0
    assert slack_calls(outside, "conversations.info", before) == 1  # Tier 3


def test_a_recorded_channel_renamed_or_archived_is_not_taken_for_its_old_name(
    outside: SandboxClient,
) -> None:
    first = ensure_channel.fn(CUSTOMER_CHANNEL)
    systems().slack().conversations_rename(channel=first.id, name="a_acme_old")  # a person did
    again = ensure_channel.fn(CUSTOMER_CHANNEL)
    assert again.created
    assert again.id != first.id
    assert [c["id"] for c in channels_named(outside, CUSTOMER_CHANNEL)] == [again.id]

    systems().slack().conversations_archive(channel=again.id)
    with pytest.raises(PermanentError, match="the channel is archived"):
        ensure_channel.fn(CUSTOMER_CHANNEL)
    with pytest.raises(PermanentError, match="no such channel"):
        find_channel.fn(CUSTOMER_CHANNEL)


def test_ensure_message_posts_once(outside: SandboxClient) -> None:
    first = ensure_message.fn(
        "ps_planning", "Staffing proposal: Aisha Bello\nreasons...", KIND, OPPORTUNITY
    )
    assert first.created
    assert first.name == "#ps_planning: Staffing proposal: Aisha Bello"
    assert first.url
    assert "/archives/" in first.url
    assert outside.writes(system="slack") == 1

    before = outside.last_request_id()
    again = ensure_message.fn("ps_planning", "Staffing proposal (edited)", KIND, OPPORTUNITY)
    assert not again.created
    assert again.id == first.id
    assert again.url == first.url
    assert outside.writes(system="slack", since=before) == 0
    assert len(keyed_messages(outside, natural_key(KIND, OPPORTUNITY))) == 1


def test_metadata_round_trip(outside: SandboxClient) -> None:
    payload = {"pse": "aisha.bello@northwind.example", SLACK_KEY_FIELD: "not-the-key"}
    posted = ensure_message.fn(
        "ps_planning", "Proposal", KIND, OPPORTUNITY, part="second", payload=payload
    )
    channel = find_channel.fn("ps_planning")

    found = find_message.fn(channel, KIND, OPPORTUNITY, part="second")
    assert found is not None
    assert found.ts == posted.id
    assert found.text == "Proposal"
    # extra fields ride along; psflow's key cannot be overwritten by them
    assert found.payload == {
        "pse": "aisha.bello@northwind.example",
        SLACK_KEY_FIELD: natural_key(KIND, OPPORTUNITY, "second"),
    }
    assert find_message.fn(channel, KIND, OPPORTUNITY) is None  # another part, another key
    assert find_message.fn(channel, Kind.CLOSEOUT_REPORT, OPPORTUNITY, "second") is None


def test_find_message_finds_psflows_message_under_chatter_in_one_request(
    outside: SandboxClient,
) -> None:
    ensure_message.fn("ps_planning", "the old one", KIND, OPPORTUNITY)
    channel = find_channel.fn("ps_planning")
    for n in range(250):  # more than a page of history (200) of people's chatter above it
        systems().slack().chat_postMessage(channel=channel, text=f"chatter {n}")
    before = outside.last_request_id()

    found = find_message.fn(channel, KIND, OPPORTUNITY)
    assert found is not None
    assert found.text == "the old one"
    history = outside.requests(system="slack", path="%conversations.history", since=before)
    assert len(history) == 1  # a scan asks for 999 messages a page: one request


def test_a_message_found_in_a_run_is_not_looked_up_again_by_that_run(
    outside: SandboxClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """psflow never edits or deletes its messages: once a run has found (or posted) one, it stays
    found for the run. Only a miss can go stale, and a miss is looked up every time."""
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "5c1e1d0e-0000-4000-8000-000000000001")
    channel = find_channel.fn("ps_planning")
    before = outside.last_request_id()

    assert find_message.fn(channel, KIND, OPPORTUNITY) is None
    assert find_message.fn(channel, KIND, OPPORTUNITY) is None  # looked up again
    posted = ensure_message.fn("ps_planning", "Proposal", KIND, OPPORTUNITY)  # a look-up, a post
    found = find_message.fn(channel, KIND, OPPORTUNITY)
    assert found is not None
    assert (found.ts, found.text) == (posted.id, "Proposal")
    assert not ensure_message.fn("ps_planning", "Proposal", KIND, OPPORTUNITY).created
    history = outside.requests(system="slack", path="%conversations.history", since=before)
    assert len(history) == 3

    # another run reads the channel for itself
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "5c1e1d0e-0000-4000-8000-000000000002")
    assert find_message.fn(channel, KIND, OPPORTUNITY) == found
    history = outside.requests(system="slack", path="%conversations.history", since=before)
    assert len(history) == 4
    assert len(keyed_messages(outside, natural_key(KIND, OPPORTUNITY))) == 1


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_a_post_whose_answer_is_lost_is_found_on_the_retry(
    outside: SandboxClient, kind: str
) -> None:
    outside.add_fault(POST, method="POST", kind=kind, status=500, after_commit=True)
    with pytest.raises(TransientError, match="Slack: staffing-decision message in #ps_planning"):
        ensure_message.fn("ps_planning", "Proposal", KIND, OPPORTUNITY)

    retried = ensure_message.fn("ps_planning", "Proposal", KIND, OPPORTUNITY)
    assert not retried.created
    assert len(keyed_messages(outside, natural_key(KIND, OPPORTUNITY))) == 1
    assert outside.writes(system="slack") == 1  # the post that lost its answer, nothing since


def test_permanent_errors_name_the_system_and_the_object(outside: SandboxClient) -> None:
    with pytest.raises(PermanentError, match="Slack: channel #nowhere"):
        ensure_message.fn("nowhere", "Proposal", KIND, OPPORTUNITY)
    # the app was never added to #general: Slack refuses to read it, and retrying cannot help
    with pytest.raises(PermanentError, match=r"history of channel .*not_in_channel") as info:
        ensure_message.fn("general", "Proposal", KIND, OPPORTUNITY)
    assert info.value.status == 400
    # Slack sent HTTP 200 with `ok: false`: the message says that, not a status it never sent
    assert str(info.value).endswith("not_in_channel (Slack's error, HTTP 200)")
    assert outside.writes(system="slack") == 0


def test_throttling_is_transient_with_retry_after(
    outside: SandboxClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `calling` waits a Retry-After out before failing the attempt; keep that wait short here
    monkeypatch.setattr(calls, "MAX_RETRY_AFTER_SECONDS", 0.01)
    outside.set_quotas(True, {"slack.conversations.history": 1})  # Tier 3, per minute
    find_message.fn(find_channel.fn("ps_planning"), KIND, OPPORTUNITY)
    with pytest.raises(TransientError) as info:
        ensure_message.fn("ps_planning", "Proposal", KIND, OPPORTUNITY)
    assert info.value.status == 429
    assert info.value.retry_after is not None
    assert 0 < info.value.retry_after <= 61
    assert outside.writes(system="slack") == 0


# --- the customer channel: created once, its team invited once, its links pinned once ----------

CUSTOMER_CHANNEL = slack_customer_channel(demo.ACME.id, demo.ACME.name)
TEAM = [person.email for person in (demo.STAFF[1], demo.STAFF[2], demo.PSES[0])]  # PC, EM, PSE
CREATE = r"/slack/api/conversations\.create"


def channels_named(outside: SandboxClient, name: str) -> list[dict[str, Any]]:
    return [c for c in outside.state("slack", "channels") if c["name"] == name]


def test_ensure_channel_creates_once(outside: SandboxClient) -> None:
    first = ensure_channel.fn(CUSTOMER_CHANNEL)
    assert first.created
    assert first.name == f"#{CUSTOMER_CHANNEL}"
    assert first.url is not None
    assert first.url.endswith(f"/archives/{first.id}")
    assert outside.writes(system="slack") == 1

    before = outside.last_request_id()
    again = ensure_channel.fn(f"#{CUSTOMER_CHANNEL}")
    assert not again.created
    assert again.id == first.id
    assert outside.writes(system="slack", since=before) == 0
    assert len(channels_named(outside, CUSTOMER_CHANNEL)) == 1


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_a_channel_whose_creation_answer_is_lost_is_found_on_the_retry(
    outside: SandboxClient, kind: str
) -> None:
    outside.add_fault(CREATE, method="POST", kind=kind, status=500, after_commit=True)
    with pytest.raises(TransientError, match=f"Slack: creation of channel #{CUSTOMER_CHANNEL}"):
        ensure_channel.fn(CUSTOMER_CHANNEL)

    retried = ensure_channel.fn(CUSTOMER_CHANNEL)
    assert not retried.created
    assert len(channels_named(outside, CUSTOMER_CHANNEL)) == 1
    assert outside.writes(system="slack") == 1


def test_ensure_channel_joins_an_existing_channel_once(outside: SandboxClient) -> None:
    general = ensure_channel.fn("general")  # people made it; the app was never added
    assert not general.created
    assert [r["path"] for r in outside.requests(system="slack", write=True)] == [
        "/slack/api/conversations.join"
    ]
    before = outside.last_request_id()
    assert ensure_channel.fn("general").id == general.id
    assert outside.writes(system="slack", since=before) == 0


@pytest.mark.parametrize("name", ["", "Acme Corp", "acme.corp", "a" * 81, "a_acme\n_internal"])
def test_ensure_channel_refuses_an_invalid_name(outside: SandboxClient, name: str) -> None:
    with pytest.raises(ValueError, match="name must be a Slack channel name"):
        ensure_channel.fn(name)
    assert outside.requests(system="slack") == []


def test_a_valid_name_for_any_customer_name(outside: SandboxClient) -> None:
    name = slack_customer_channel(demo.ACME.id, 'Ünïcödé / "Quotes" \\ ' + "x" * 300)
    assert ensure_channel.fn(name).created


def member_ids(outside: SandboxClient, channel_id: str) -> list[str]:
    [channel] = [c for c in outside.state("slack", "channels") if c["id"] == channel_id]
    return list(channel["members"])


def user_id(outside: SandboxClient, email: str) -> str:
    [user] = [u for u in outside.state("slack", "users") if u["profile"].get("email") == email]
    return str(user["id"])


def test_ensure_members_invites_each_person_once(outside: SandboxClient) -> None:
    channel = ensure_channel.fn(CUSTOMER_CHANNEL)
    before = outside.last_request_id()
    assert ensure_members.fn(channel.id, [*TEAM, TEAM[0].upper()]) == 3
    assert outside.writes(system="slack", since=before) == 1  # one invite for everyone
    assert {user_id(outside, email) for email in TEAM} <= set(member_ids(outside, channel.id))

    before = outside.last_request_id()
    assert ensure_members.fn(channel.id, TEAM) == 0
    # a re-run: everyone is in under the ids recorded the first time, nobody is looked up again
    [listing] = outside.requests(system="slack", since=before)
    assert listing["path"] == "/slack/api/conversations.members"

    newcomer = demo.PSES[1].email
    assert ensure_members.fn(channel.id, [*TEAM, newcomer]) == 1
    assert member_ids(outside, channel.id).count(user_id(outside, newcomer)) == 1


def test_members_already_in_the_channel_are_not_invited(outside: SandboxClient) -> None:
    planning = find_channel.fn("ps_planning")  # the staff are in it already
    staff = [person.email for person in demo.STAFF[:2]]
    before = outside.last_request_id()
    assert ensure_members.fn(planning, [*staff, demo.PSES[2].email]) == 1
    [invite] = outside.requests(system="slack", since=before, write=True)
    assert invite["path"] == "/slack/api/conversations.invite"


def test_someone_joining_between_the_listing_and_the_invite_is_not_an_error(
    outside: SandboxClient,
) -> None:
    channel = ensure_channel.fn(CUSTOMER_CHANNEL)
    # the invite waits a second at the server; meanwhile a person adds the first of the team
    outside.add_fault(r"/slack/api/conversations\.invite", method="POST", kind="delay", delay=1)
    with ThreadPoolExecutor(1) as pool:
        inviting = pool.submit(ensure_members.fn, channel.id, TEAM)
        time.sleep(0.3)
        systems().slack().conversations_invite(channel=channel.id, users=user_id(outside, TEAM[0]))
        assert inviting.result() == 2  # the other two; Slack answered the first as an error
    members = member_ids(outside, channel.id)
    assert len(members) == 4  # the app and the three, once each
    assert {user_id(outside, email) for email in TEAM} <= set(members)


def test_an_invite_whose_answer_is_lost_is_not_repeated(outside: SandboxClient) -> None:
    channel = ensure_channel.fn(CUSTOMER_CHANNEL)
    invite = r"/slack/api/conversations\.invite"
    outside.add_fault(invite, method="POST", status=500, after_commit=True)
    with pytest.raises(TransientError, match="Slack: invitation of 3 people"):
        ensure_members.fn(channel.id, TEAM)
    assert ensure_members.fn(channel.id, TEAM) == 0
    assert len(member_ids(outside, channel.id)) == 4  # the app and the three


def test_an_unknown_email_is_a_permanent_error_naming_it(outside: SandboxClient) -> None:
    channel = ensure_channel.fn(CUSTOMER_CHANNEL)
    before = outside.last_request_id()
    unknown = ["nobody@northwind.example", "ghost@acme.example"]
    expected = f"Slack: users {', '.join(unknown)}: no active Slack user"
    with pytest.raises(PermanentError, match=re.escape(expected)):
        ensure_members.fn(channel.id, [TEAM[0], *unknown])
    assert outside.writes(system="slack", since=before) == 0


@pytest.mark.parametrize(
    "email", ["a@b.example\r\nBcc: c@d.example", "Evil <evil@x.example>", "a@b.example,c@d.example"]
)
def test_a_hostile_email_is_refused_before_any_call(outside: SandboxClient, email: str) -> None:
    with pytest.raises(ValueError, match=r"emails\[1\]"):
        ensure_members.fn("C0000000000", [TEAM[0], email])
    assert outside.requests(system="slack") == []


def test_ensure_pinned_pins_once(outside: SandboxClient) -> None:
    channel = ensure_channel.fn(CUSTOMER_CHANNEL)
    links = ensure_message.fn(
        CUSTOMER_CHANNEL, "Key links: ...", Kind.CUSTOMER_CHANNEL, demo.ACME.id
    )
    before = outside.last_request_id()
    assert ensure_pinned.fn(channel.id, links.id)
    assert outside.writes(system="slack", since=before) == 1

    before = outside.last_request_id()
    assert not ensure_pinned.fn(channel.id, links.id)
    assert outside.writes(system="slack", since=before) == 0
    [pinned] = systems().slack().pins_list(channel=channel.id)["items"]
    assert pinned["message"]["ts"] == links.id


def test_a_pin_whose_answer_is_lost_is_not_repeated(outside: SandboxClient) -> None:
    channel = ensure_channel.fn(CUSTOMER_CHANNEL)
    links = ensure_message.fn(
        CUSTOMER_CHANNEL, "Key links: ...", Kind.CUSTOMER_CHANNEL, demo.ACME.id
    )
    outside.add_fault(r"/slack/api/pins\.add", method="POST", status=500, after_commit=True)
    with pytest.raises(TransientError, match="Slack: pin of message"):
        ensure_pinned.fn(channel.id, links.id)
    assert not ensure_pinned.fn(channel.id, links.id)
    assert len(systems().slack().pins_list(channel=channel.id)["items"]) == 1
