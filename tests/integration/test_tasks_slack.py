"""psflow's Slack tasks against the sandbox: a message is posted once per natural key, whatever
fails in between, and psflow finds it again by its metadata."""

from __future__ import annotations

from typing import Any

import pytest

from engagement.keys import SLACK_KEY_FIELD, ArtifactKind, natural_key
from sandbox import seed as demo
from sandbox.client import SandboxClient
from tasks import calls
from tasks.calls import PermanentError, TransientError
from tasks.clients import slack
from tasks.slack import ensure_message, find_channel, find_message

OPPORTUNITY = demo.OPPORTUNITIES[1].id  # Acme – CI/CD Modernisation
KIND = ArtifactKind.STAFFING_DECISION
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
    assert find_message.fn(channel, ArtifactKind.CLOSEOUT_REPORT, OPPORTUNITY, "second") is None


def test_find_message_pages_through_history(outside: SandboxClient) -> None:
    ensure_message.fn("ps_planning", "the old one", KIND, OPPORTUNITY)
    channel = find_channel.fn("ps_planning")
    for n in range(250):  # more than a page of history (200) of people's chatter above it
        slack().chat_postMessage(channel=channel, text=f"chatter {n}")
    before = outside.last_request_id()

    found = find_message.fn(channel, KIND, OPPORTUNITY)
    assert found is not None
    assert found.text == "the old one"
    history = outside.requests(system="slack", path="%conversations.history", since=before)
    assert len(history) == 2


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
    assert outside.writes(system="slack") == 0


def test_throttling_is_transient_with_retry_after(
    outside: SandboxClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `calling` waits a Retry-After out before failing the attempt; keep that wait short here
    monkeypatch.setattr(calls, "MAX_RETRY_AFTER_SECONDS", 0.01)
    outside.set_quotas(True, {"slack.conversations.list": 1})  # Tier 2, per minute
    find_channel.fn("ps_planning")
    with pytest.raises(TransientError) as info:
        ensure_message.fn("ps_planning", "Proposal", KIND, OPPORTUNITY)
    assert info.value.status == 429
    assert info.value.retry_after is not None
    assert 0 < info.value.retry_after <= 61
    assert outside.writes(system="slack") == 0
