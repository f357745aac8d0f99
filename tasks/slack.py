"""Slack tasks: find a channel, find psflow's own earlier message by its key, post a message once.

A message psflow posts carries its natural key in the message `metadata` (engagement/keys.py,
`slack_message_metadata`); before posting, `ensure_message` looks for that key in the channel's
history, so a retried or re-run phase never posts the same proposal twice.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from engagement.keys import SLACK_KEY_FIELD, Kind, natural_key, slack_message_metadata
from engagement.models import addresses
from engagement.refs import Ref
from engagement.slugs import one_line
from tasks.calls import PermanentError, calling, outside_task, read_task
from tasks.clients import systems

SYSTEM = "Slack"
PAGE_SIZE = 200  # Slack recommends no more than 200 items per page
# ... but a scan for one item on a Tier 2 or 3 method costs a request per page against 20 or 50 a
# minute for the whole workspace: those scans ask for the most a page holds ("under 1000").
SCAN_PAGE_SIZE = 999
# How far back `find_message` looks: 2 pages of 999 messages. psflow's messages are found again
# within days of posting (a retried phase), so 2,000 messages of a busy channel is plenty, and the
# bound keeps a lookup to at most 2 Tier 3 calls (50+ per minute).
MAX_HISTORY_PAGES = 2


class SlackMessage(BaseModel):
    """A message psflow posted earlier, as channel history shows it."""

    model_config = ConfigDict(frozen=True)

    channel_id: str
    ts: str  # the message's id within its channel
    text: str
    payload: dict[str, Any]  # metadata.event_payload, psflow's key among it
    permalink: str | None = None


def _channel(name: str) -> dict[str, Any] | None:
    """The channel called `name` as Slack shows it now (archived ones too: their names stay
    taken); None when the app sees none. Found the cheapest sure way: as this run last saw it;
    else by the id psflow recorded when it first found it (`conversations.info`, Tier 3: 50+ a
    minute; an id outlives a rename, so the name is checked); else in the listing of every
    channel (`conversations.list`, Tier 2: 20 a minute for the whole workspace), once per run."""
    seen = _seen()
    if name in seen:
        return seen[name]
    channel = _by_recorded_id(name)
    if channel is None and not systems().listed:
        channel = _directory().get(name)
    if channel is not None:
        _remember(name, channel)
    return channel


def _seen() -> dict[str, dict[str, Any]]:
    """The channels this flow run has seen, by name; nothing outside a run (a test, a script),
    and a run's sight dies with it, though a test's `Systems` outlives its runs."""
    from prefect.runtime import flow_run

    kept, run = systems(), flow_run.get_id()
    if run is None or kept.channels_of != run:
        kept.channels, kept.listed, kept.channels_of, kept.messages = {}, False, run, {}
    return kept.channels


def _found() -> dict[tuple[str, str], SlackMessage]:
    """psflow's messages this flow run has found or posted, by channel id and key (as `_seen`)."""
    _seen()
    return systems().messages


def _memory_key(name: str) -> str:
    return f"psflow-slack-channel-{name}"


def _by_recorded_id(name: str) -> dict[str, Any] | None:
    """The channel psflow recorded under `name`, when Slack still shows it by that name."""
    from slack_sdk.errors import SlackApiError  # loaded with the client

    store, key = systems().memory(), _memory_key(name)
    if not store.exists(key):
        return None
    channel_id = str(store.read(key).result)
    with calling(SYSTEM, f"channel {channel_id} (#{name}, as recorded)"):
        try:
            channel = dict(systems().slack().conversations_info(channel=channel_id)["channel"])
        except SlackApiError as error:
            if error.response.get("error") != "channel_not_found":
                raise
            return None  # deleted, or private now: the listing says what there is
    return channel if channel.get("name") == name else None  # renamed: the name may be another's


def _directory(fresh: bool = False) -> dict[str, dict[str, Any]]:
    """Every channel the app can see, by name, from one listing per run unless `fresh` (outside a
    run, always fresh); the channels found in it join what the run has seen."""
    seen, kept = _seen(), systems()
    if kept.listed and not fresh:
        return seen
    with calling(SYSTEM, "the list of channels"):
        listing = kept.slack().conversations_list(
            types="public_channel,private_channel", exclude_archived=False, limit=SCAN_PAGE_SIZE
        )
        # a slack_sdk answer iterates its pages, following the cursor
        channels = {str(c["name"]): dict(c) for page in listing for c in page.get("channels") or []}
    seen.update(channels)
    kept.listed = kept.channels_of is not None  # outside a run, nothing is kept
    return channels


def _remember(name: str, channel: dict[str, Any]) -> None:
    """The channel as this run last saw it (posting in it next needs no look-up), and its id
    recorded for later runs (ids never change; `_by_recorded_id` checks the name)."""
    _seen()[name] = channel
    store, key = systems().memory(), _memory_key(name)
    if not store.exists(key) or str(store.read(key).result) != str(channel["id"]):
        store.write(str(channel["id"]), key=key)


@read_task("find channel {name}")
def find_channel(name: str) -> str:
    """The id of the channel called `name` (with or without "#").

    Raises:
        PermanentError: when no open channel of that name is visible to the psflow app.
    """
    name = name.removeprefix("#")
    channel = _channel(name)
    if channel is None or channel.get("is_archived"):
        raise PermanentError(
            SYSTEM,
            f"channel #{name}",
            "no such channel: create it, or invite the psflow app if it is private",
        )
    return str(channel["id"])


@read_task("find {kind} message")
def find_message(
    channel_id: str, kind: Kind, record_id: str, part: str | None = None
) -> SlackMessage | None:
    """psflow's message carrying the natural key of (kind, record_id, part), newest first, among
    the channel's last `MAX_HISTORY_PAGES` pages of history; None when there is none."""
    key = natural_key(kind, record_id, part)
    return _scan(channel_id, [key]).get(key)


@read_task("find {kinds} messages")
def find_messages(
    channel_id: str, kinds: Sequence[Kind], record_id: str, part: str | None = None
) -> dict[Kind, SlackMessage]:
    """psflow's messages of several kinds about one record (and `part`) in one channel, found in
    one scan of its history (as `find_message`): those found, by kind."""
    keys = {natural_key(kind, record_id, part): kind for kind in kinds}
    return {keys[key]: message for key, message in _scan(channel_id, list(keys)).items()}


def _scan(channel_id: str, keys: Sequence[str]) -> dict[str, SlackMessage]:
    """The newest message carrying each key, among the channel's last pages of history; the
    scan stops once every key is found. What this run found already is not looked up again: a
    run reads #ps_planning's records in most of its steps."""
    known = _found()
    found = {key: known[(channel_id, key)] for key in keys if (channel_id, key) in known}
    if len(found) < len(keys):
        found.update(_history(channel_id, [key for key in keys if key not in found]))
        known.update({(channel_id, key): message for key, message in found.items()})
    return found


def _history(channel_id: str, keys: Sequence[str]) -> dict[str, SlackMessage]:
    found: dict[str, SlackMessage] = {}
    with calling(SYSTEM, f"history of channel {channel_id} (looking for {', '.join(keys)})"):
        history = (
            systems()
            .slack()
            .conversations_history(
                channel=channel_id, include_all_metadata=True, limit=SCAN_PAGE_SIZE
            )
        )
        for page in itertools.islice(history, MAX_HISTORY_PAGES):  # pages, by the cursor
            for message in page.get("messages") or []:
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                key = str(payload.get(SLACK_KEY_FIELD) or "")
                if key in keys and key not in found:
                    found[key] = SlackMessage(
                        channel_id=channel_id,
                        ts=message["ts"],
                        text=message.get("text", ""),
                        payload=payload,
                    )
            if len(found) == len(keys):
                break
    return found


@outside_task("post {kind}")
def ensure_message(
    channel_name: str,
    text: str,
    kind: Kind,
    record_id: str,
    part: str | None = None,
    payload: dict[str, str] | None = None,
    blocks: Sequence[dict[str, Any]] | None = None,
) -> Ref:
    """Post `text` (and `blocks`) to #channel_name once: found again by its key on a re-run.

    `text` is always sent: it is the notification and the fallback where blocks do not show.
    `payload` adds fields to the message metadata (e.g. the proposed PSE), read back with
    `find_message`; the key field itself cannot be overridden.

    Returns:
        The message as an Ref: id its `ts`, url its permalink, created False when it was
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
            answer = (
                systems()
                .slack()
                .chat_postMessage(
                    channel=channel_id, text=text, blocks=blocks, metadata=dict(metadata)
                )
            )
        ts = str(answer["ts"])
        key = str(metadata["event_payload"][SLACK_KEY_FIELD])
        _found()[(channel_id, key)] = SlackMessage(
            channel_id=channel_id, ts=ts, text=text, payload=metadata["event_payload"]
        )
    else:
        ts = found.ts
    with calling(SYSTEM, f"link to the {kind.value} message in #{channel_name}"):
        link = systems().slack().chat_getPermalink(channel=channel_id, message_ts=ts)
    first_line = one_line(text.partition("\n")[0], 80)  # what the summary shows of the message
    return Ref(
        system=SYSTEM,
        kind=kind.value.replace("-", " "),
        name=f"#{channel_name.removeprefix('#')}: {first_line}",
        url=link.get("permalink"),
        id=ts,
        created=found is None,
    )


# --- customer channels: the channel, its members, its pinned links -------------------------------

_CHANNEL_NAME = re.compile(r"[a-z0-9_-]{1,80}")


def _channel_url(channel_id: str) -> str:
    """The channel's link, on the workspace's own URL (auth.test)."""
    with calling(SYSTEM, "workspace URL (auth.test)"):
        workspace = str(systems().slack().auth_test().get("url") or "")
    return f"{workspace.rstrip('/')}/archives/{channel_id}"


def _create_channel(name: str, what: str) -> dict[str, Any] | None:
    """The new public channel; None when Slack answers that the name is taken."""
    from slack_sdk.errors import SlackApiError  # loaded with the client

    with calling(SYSTEM, f"creation of {what}"):
        try:
            return dict(systems().slack().conversations_create(name=name)["channel"])
        except SlackApiError as error:
            if error.response.get("error") != "name_taken":
                raise
            return None


@outside_task("create channel {name}")
def ensure_channel(name: str) -> Ref:
    """The public channel #name (e.g. the customer's `a_<customer>_internal`, see
    `engagement.keys.slack_customer_channel`), created unless a channel of that name exists; the
    psflow app joins an existing public channel it is not in yet.

    Returns:
        The channel as an Ref: id its channel id, url its link.

    Raises:
        ValueError: when `name` is not a valid Slack channel name.
        PermanentError: when the channel is archived (a Slack app's bot token cannot unarchive
            a channel: a person must), or its name is taken by a channel the app cannot see.

    Example:
        >>> ensure_channel("a_acme-corporation-1a2b3c4d_internal")  # doctest: +SKIP
    """
    name = name.removeprefix("#")
    if not _CHANNEL_NAME.fullmatch(name):
        raise ValueError(
            "name must be a Slack channel name: 1 to 80 lowercase letters, digits, '-' and '_'; "
            f"got {name!r}"
        )
    what = f"channel #{name}"
    channel = _channel(name)
    created = False
    if channel is None:
        channel = _create_channel(name, what)
        created = channel is not None
        if channel is None:  # name_taken: made meanwhile by another run, or one we cannot see
            channel = _directory(fresh=True).get(name)
    if channel is None:
        raise PermanentError(
            SYSTEM,
            what,
            "the name is taken by a channel psflow cannot see: invite the psflow app to it",
        )
    if channel.get("is_archived"):
        raise PermanentError(
            SYSTEM,
            what,
            "the channel is archived: unarchive it in Slack (a bot token cannot), then retry",
        )
    if not channel.get("is_member"):
        with calling(SYSTEM, f"joining {what}"):
            systems().slack().conversations_join(channel=channel["id"])
    channel_id = str(channel["id"])
    _remember(name, {**channel, "is_member": True})  # posting in it next needs no look-up
    return Ref(
        system=SYSTEM,
        kind="channel",
        name=f"#{name}",
        url=_channel_url(channel_id),
        id=channel_id,
        created=created,
    )


def _members(channel_id: str) -> set[str]:
    """The user ids in the channel (one conversations.members call per 200)."""
    with calling(SYSTEM, f"members of channel {channel_id}"):
        pages = systems().slack().conversations_members(channel=channel_id, limit=PAGE_SIZE)
        return {member for page in pages for member in page.get("members") or []}


def _user_ids(emails: list[str]) -> list[str]:
    """The Slack user id of each address, in order.

    Raises:
        PermanentError: naming every address without an active Slack user.
    """
    from slack_sdk.errors import SlackApiError  # loaded with the client

    ids: list[str] = []
    unknown: list[str] = []
    for address in emails:
        with calling(SYSTEM, f"user {address}"):
            try:
                user = systems().slack().users_lookupByEmail(email=address)["user"]
            except SlackApiError as error:
                if error.response.get("error") != "users_not_found":
                    raise
                user = None
        if user is None or user.get("deleted"):
            unknown.append(address)
        else:
            ids.append(str(user["id"]))
            _record_user(address, ids[-1])
    if unknown:
        raise PermanentError(
            SYSTEM,
            f"users {', '.join(unknown)}",
            "no active Slack user has this e-mail address: fix the address in Salesforce or "
            "the skills matrix, or add the person to Slack",
        )
    return list(dict.fromkeys(ids))


def _user_key(email: str) -> str:
    return f"psflow-slack-user-{email.lower()}"


def _record_user(email: str, user_id: str) -> None:
    """The user id of the address, recorded for later runs (a Slack user's id never changes)."""
    store, key = systems().memory(), _user_key(email)
    if not store.exists(key) or str(store.read(key).result) != user_id:
        store.write(user_id, key=key)


def _recorded_user(email: str) -> str | None:
    store, key = systems().memory(), _user_key(email)
    return str(store.read(key).result) if store.exists(key) else None


@read_task("find Slack user {email}")
def find_user_id(email: str) -> str | None:
    """The Slack user id of the address (to mention them: `<@U…>`), or None when no active user
    has it."""
    from slack_sdk.errors import SlackApiError  # loaded with the client

    with calling(SYSTEM, f"user {email}"):
        try:
            user = (
                systems().slack().users_lookupByEmail(email=addresses("email", [email])[0])["user"]
            )
        except SlackApiError as error:
            if error.response.get("error") != "users_not_found":
                raise
            return None
    return None if user.get("deleted") else str(user["id"])


@outside_task("invite {emails} to the channel")
def ensure_members(channel_id: str, emails: list[str]) -> int:
    """Invite the people with these e-mail addresses to the channel, those not in it yet.
    Every address is looked up before anyone is invited, unless each is in the channel already
    under the user id psflow recorded for it (a re-run: one read).

    Returns:
        How many people were invited now (0 on a re-run).

    Raises:
        ValueError: naming an address that is not a bare e-mail address.
        PermanentError: naming the addresses no Slack user has.

    Example:
        >>> ensure_members(channel.id, ["marcus.webb@northwind.example"])  # doctest: +SKIP
        1
    """
    from slack_sdk.errors import SlackApiError  # loaded with the client

    emails = addresses("emails", emails)
    members = _members(channel_id)
    if all(_recorded_user(email) in members for email in emails):
        return 0
    missing = [user for user in _user_ids(emails) if user not in members]
    if not missing:
        return 0
    what = f"invitation of {len(missing)} people to channel {channel_id}"
    with calling(SYSTEM, what):
        try:
            # force: invite the others even if one of them cannot be; Slack then answers with an
            # error and an `errors` entry per user not invited, the others invited all the same
            systems().slack().conversations_invite(
                channel=channel_id, users=",".join(missing), force=True
            )
        except SlackApiError as error:
            failed = {
                str(e.get("user")): str(e.get("error")) for e in error.response.get("errors") or []
            }
            if not failed:
                raise
            refused = {user: why for user, why in failed.items() if why != "already_in_channel"}
            if refused:  # a person must look: Slack says why for each
                listed = ", ".join(f"{user} ({why})" for user, why in refused.items())
                raise PermanentError(SYSTEM, what, f"not invited: {listed}") from None
            # who joined meanwhile (another run, a person) is in: that is what was wanted
            return len([user for user in missing if user not in failed])
    return len(missing)


@outside_task("pin message")
def ensure_pinned(channel_id: str, ts: str) -> bool:
    """Pin the message `ts` (e.g. the key links psflow posted) in the channel, unless it is.

    Returns:
        True when it was pinned now.
    """
    from slack_sdk.errors import SlackApiError  # loaded with the client

    what = f"pin of message {ts} in channel {channel_id}"
    with calling(SYSTEM, what):
        pins = systems().slack().pins_list(channel=channel_id).get("items") or []
        if any((item.get("message") or {}).get("ts") == ts for item in pins):
            return False
        try:
            systems().slack().pins_add(channel=channel_id, timestamp=ts)
        except SlackApiError as error:
            if error.response.get("error") != "already_pinned":  # pinned meanwhile
                raise
            return False
    return True
