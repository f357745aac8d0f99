"""Slack tasks: find a channel, find psflow's own earlier message by its key, post a message once.

A message psflow posts carries its natural key in the message `metadata` (engagement/keys.py,
`slack_message_metadata`); before posting, `ensure_message` looks for that key in the channel's
history, so a retried or re-run phase never posts the same proposal twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from engagement.artifacts import Artifact
from engagement.keys import SLACK_KEY_FIELD, ArtifactKind, natural_key, slack_message_metadata
from engagement.slugs import one_line
from tasks.calls import PermanentError, calling, outside_task
from tasks.clients import slack

SYSTEM = "Slack"
PAGE_SIZE = 200  # Slack recommends no more than 200 items per page
# How far back `find_message` looks: 10 pages of 200 messages. psflow's messages are found again
# within days of posting (a retried phase), so 2,000 messages of a busy channel is plenty, and the
# bound keeps a lookup to at most 10 Tier 3 calls (50+ per minute).
MAX_HISTORY_PAGES = 10


class SlackMessage(BaseModel):
    """A message psflow posted earlier, as channel history shows it."""

    model_config = ConfigDict(frozen=True)

    channel_id: str
    ts: str  # the message's id within its channel
    text: str
    payload: dict[str, Any]  # metadata.event_payload, psflow's key among it
    permalink: str | None = None


@outside_task
def find_channel(name: str) -> str:
    """The id of the channel called `name` (with or without "#").

    Raises:
        PermanentError: when no channel of that name is visible to the psflow app.
    """
    name = name.removeprefix("#")
    cursor: str | None = None
    with calling(SYSTEM, f"channel #{name}"):
        while True:
            page = slack().conversations_list(
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=PAGE_SIZE,
                cursor=cursor,
            )
            for channel in page.get("channels") or []:
                if channel.get("name") == name:
                    return str(channel["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                break
    raise PermanentError(
        SYSTEM,
        f"channel #{name}",
        "no such channel: create it, or invite the psflow app if it is private",
    )


@outside_task
def find_message(
    channel_id: str, kind: ArtifactKind, record_id: str, part: str | None = None
) -> SlackMessage | None:
    """psflow's message carrying the natural key of (kind, record_id, part), newest first, among
    the channel's last `MAX_HISTORY_PAGES` pages of history; None when there is none."""
    key = natural_key(kind, record_id, part)
    cursor: str | None = None
    with calling(SYSTEM, f"history of channel {channel_id} (looking for {key})"):
        for _ in range(MAX_HISTORY_PAGES):
            page = slack().conversations_history(
                channel=channel_id, include_all_metadata=True, limit=PAGE_SIZE, cursor=cursor
            )
            for message in page.get("messages") or []:
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                if payload.get(SLACK_KEY_FIELD) == key:
                    return SlackMessage(
                        channel_id=channel_id,
                        ts=message["ts"],
                        text=message.get("text", ""),
                        payload=payload,
                    )
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                break
    return None


@outside_task
def ensure_message(
    channel_name: str,
    text: str,
    kind: ArtifactKind,
    record_id: str,
    part: str | None = None,
    payload: dict[str, str] | None = None,
    blocks: Sequence[dict[str, Any]] | None = None,
) -> Artifact:
    """Post `text` (and `blocks`) to #channel_name once: found again by its key on a re-run.

    `text` is always sent: it is the notification and the fallback where blocks do not show.
    `payload` adds fields to the message metadata (e.g. the proposed PSE), read back with
    `find_message`; the key field itself cannot be overridden.

    Returns:
        The message as an Artifact: id its `ts`, url its permalink, created False when it was
        already there.

    Raises:
        PermanentError: when the channel does not exist or the app may not post in it.
    """
    channel_id = find_channel.fn(channel_name)
    found = find_message.fn(channel_id, kind, record_id, part)
    if found is None:
        metadata = slack_message_metadata(kind, record_id, part)
        metadata["event_payload"] = {**(payload or {}), **metadata["event_payload"]}
        with calling(SYSTEM, f"{kind.value} message in #{channel_name}"):
            answer = slack().chat_postMessage(
                channel=channel_id, text=text, blocks=blocks, metadata=dict(metadata)
            )
        ts = str(answer["ts"])
    else:
        ts = found.ts
    with calling(SYSTEM, f"link to the {kind.value} message in #{channel_name}"):
        link = slack().chat_getPermalink(channel=channel_id, message_ts=ts)
    first_line = one_line(text.partition("\n")[0], 80)  # what the summary shows of the message
    return Artifact(
        system=SYSTEM,
        kind=kind.value.replace("-", " "),
        name=f"#{channel_name.removeprefix('#')}: {first_line}",
        url=link.get("permalink"),
        id=ts,
        created=found is None,
    )
