"""Gmail tasks: send an e-mail (initiation, acceptance, sign-off, status) exactly once.

Gmail has no idempotency key, and it replaces the `Message-ID` a client sets on send, so a
`rfc822msgid:` search cannot find psflow's own choice again. The key therefore travels in the body:
its last line is "Ref: PSF..." (`engagement.keys.gmail_key_marker`, one searchable word), and
before sending `ensure_email` searches the sent mail for that word.

Gmail's search does not promise to find at once what was just sent, so the search alone could let
a retry after a lost answer send twice. The e-mail is therefore written as a draft first, and the
draft's id recorded under the e-mail's key in Prefect's result store (a consistent store, shared by
every worker) before it is sent by that id: a retry, or a later run, sends the same draft again,
and Gmail answers 404 for a draft that was sent. A crash between the draft and its record leaves
an unsent draft behind, never a second e-mail.

Every address is validated (a bare address, no display name, no line break) and the message is
built with `email.message.EmailMessage`, so no value can add a header or a recipient.
"""

from __future__ import annotations

import base64
import email.policy
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from engagement.keys import Kind, gmail_key_marker, gmail_message_id, natural_key, parse_key
from engagement.models import addresses
from engagement.refs import Ref
from engagement.replies import Reply
from engagement.slugs import one_line
from engagement.templates import Attachment, Email, Template, email_from_template
from tasks.calls import PermanentError, calling, outside_task, read_task
from tasks.clients import systems
from tasks.docs import template_paragraphs

SYSTEM = "Gmail"
USER = "me"  # the mailbox the Google connection acts as: the PS team's
# Used for the Message-ID when the connection does not name its mailbox (an OAuth token): Gmail
# replaces that header on send anyway, and ".invalid" (RFC 2606) can never be a real host.
FALLBACK_DOMAIN = "psflow.invalid"
# How long a draft's id is remembered under its e-mail's key: far longer than Gmail's search takes
# to show a sent message. Within it a draft that Gmail no longer knows counts as sent (a person who
# deletes psflow's draft in that hour stops the e-mail); after it, the search decides.
DRAFT_MEMORY = timedelta(hours=1)
# Sent mail matching the key is read at most this far; the oldest is psflow's own message (a
# later match is a reply or forward from the mailbox that quotes it).
MAX_MATCHES = 50
# The natural key of the e-mail, in a header of its own: a reply's thread tells what it answers
# (Gmail keeps a client's X- headers; it is the Message-ID it replaces).
KEY_HEADER = "X-PSFlow-Key"
# What tells an automatic answer (RFC 3834's Auto-Submitted, and the headers older responders set)
AUTOMATIC_HEADERS = ("auto-submitted", "x-autoreply", "x-autorespond", "precedence")


def _subject(subject: str) -> str:
    """The subject as given, when it is one non-empty line; a line break could start a header."""
    if not subject.strip():
        raise ValueError("subject must not be empty")
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in subject):
        raise ValueError(
            "subject must be one line without control characters (a line break could add a "
            f"mail header); got {subject!r}"
        )
    return subject


def _sender() -> str | None:
    """The PS mailbox's address when the Google connection names it (a service account's
    `subject`); else None, and Gmail fills in the mailbox it acts as."""
    mailbox = systems().google.subject
    return addresses("GoogleWorkspaceConnection.subject", [mailbox])[0] if mailbox else None


def build_message(
    sender: str | None,
    to: list[str],
    cc: list[str],
    subject: str,
    body: str,
    message_id: str,
    reply_to: str | None = None,
    on_behalf_of: str | None = None,
    attachments: Sequence[Attachment] = (),
    key: str | None = None,
) -> EmailMessage:
    """The RFC 822 message. Without a sender, Gmail puts the mailbox's own address in From (and
    no name can be shown with it)."""
    message = EmailMessage(policy=email.policy.SMTP)
    if sender:
        name = f"{one_line(on_behalf_of, 60)} via PS" if on_behalf_of else ""
        message["From"] = Address(display_name=name, addr_spec=sender)
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    if key:
        message[KEY_HEADER] = key
    message.set_content(body)
    for attachment in attachments:
        main, _, sub = attachment.mime_type.partition("/")
        message.add_attachment(
            attachment.data, maintype=main, subtype=sub, filename=attachment.filename
        )
    return message


def _find_sent(marker: str, message_id: str) -> str | None:
    """The Gmail id of psflow's sent message carrying the key, or None (one or two searches).
    Trash is searched too: a sent e-mail someone deleted was still sent."""
    messages = systems().gmail().users().messages()
    # only sent mail: the unsent draft carries the marker and psflow's Message-ID too
    for query in (f'in:sent "{marker}"', f"in:sent rfc822msgid:{message_id}"):
        with calling(SYSTEM, f"search of the sent mail for {query}"):
            answer = messages.list(
                userId=USER, q=query, includeSpamTrash=True, maxResults=MAX_MATCHES
            ).execute()
        found: list[dict[str, Any]] = answer.get("messages") or []
        if found:
            return str(found[-1]["id"])  # listed newest first
    return None


def _mailbox_address() -> str:
    """The address of the mailbox the connection acts as (users.getProfile)."""
    with calling(SYSTEM, "the PS mailbox's address"):
        profile = systems().gmail().users().getProfile(userId=USER).execute()
    return str(profile["emailAddress"])


def _message_id(sender: str | None, kind: Kind, record_id: str, part: str | None) -> str:
    domain = sender.rpartition("@")[2] if sender else FALLBACK_DOMAIN
    return gmail_message_id(kind, record_id, domain, part)


@read_task("find {kind}")
def find_email(kind: Kind, record_id: str, part: str | None = None) -> Ref | None:
    """psflow's sent e-mail of (kind, record_id, part), or None (one search when it was sent).

    For an e-mail whose text costs reads to make (a template): found first, it is not needed."""
    marker = gmail_key_marker(kind, record_id, part)
    found = _find_sent(marker, _message_id(_sender(), kind, record_id, part))
    if found is None:
        return None
    return Ref(system=SYSTEM, kind=_label(kind), name=_label(kind), id=found, created=False)


@outside_task("send {kind}")
def ensure_email(
    kind: Kind,
    record_id: str,
    to: list[str],
    cc: list[str],
    email: Email | Template,
    part: str | None = None,
    reply_to: str | None = None,
    on_behalf_of: str | None = None,
) -> Ref:
    """Send an e-mail from the PS mailbox once per natural key (kind, record_id, part): when the
    sent mail already holds it, nothing is sent (whatever the subject or body say now).

    The body gets a last line "Ref: PSF..." carrying the key; the message gets a deterministic
    Message-ID as well.

    Args:
        to: the recipients, bare addresses (name@example.com); at least one.
        cc: copied addresses, e.g. the PS Ops Manager on the sign-off.
        reply_to: where answers go, when not the PS mailbox (the person it is sent for).
        on_behalf_of: the name shown as the sender: "<name> via <mailbox>" (a person's name).
        email: the subject (one line), plain-text body and attachments, or a template
            document read only when the e-mail was not sent yet
            (`engagement.templates.email_from_template`).

    Returns:
        The e-mail as a Ref: id its Gmail message id (its draft's, in the moment after sending
        while Gmail's search does not show it yet), no url (the Gmail API gives none).

    Raises:
        ValueError: naming the field, when an address is not a bare address or the subject is
            not one line; nothing is sent.

    Example:
        >>> ensure_email(Kind.INITIATION_EMAIL, "006Dn0000000002IAA", ["dana@acme.example"], [],
        ...              Email(subject="Welcome", body="Dear Dana, ..."))  # doctest: +SKIP
    """
    recipients = addresses("to", to)
    if not recipients:
        raise ValueError("to: an e-mail needs at least one recipient")
    to_keys = {address.casefold() for address in recipients}
    copied = [address for address in addresses("cc", cc) if address.casefold() not in to_keys]
    answers = addresses("reply_to", [reply_to])[0] if reply_to else None
    given = email if isinstance(email, Email) else None
    subject = _subject(given.subject) if given else _label(kind)
    sender = _sender()
    marker = gmail_key_marker(kind, record_id, part)
    message_id = _message_id(sender, kind, record_id, part)

    found = _find_sent(marker, message_id)
    if found is not None:
        name = f"{subject} (to {', '.join(recipients)})"
        return Ref(system=SYSTEM, kind=_label(kind), name=name, id=found, created=False)
    if not isinstance(email, Email):
        email = email_from_template(template_paragraphs(email.key), email.values)
    subject = _subject(email.subject)
    name = f"{subject} (to {', '.join(recipients)})"
    text = f"{email.body.rstrip()}\n\nRef: {marker}\n"
    # a name shown as the sender needs the mailbox's address beside it: asked of Gmail when the
    # connection does not name it (an OAuth token), only for an e-mail that is to be sent
    mailbox = sender or (_mailbox_address() if on_behalf_of else None)
    message = build_message(
        mailbox,
        recipients,
        copied,
        subject,
        text,
        message_id,
        answers,
        on_behalf_of,
        email.attachments,
        natural_key(kind, record_id, part),
    )
    what = f"sending of the {_label(kind)} to {', '.join(recipients)}"
    draft = _draft(natural_key(kind, record_id, part), marker, message, what)
    sent, now = _send_draft(draft, marker, message_id, what)
    return Ref(system=SYSTEM, kind=_label(kind), name=name, id=sent or draft, created=now)


def _draft(key: str, marker: str, message: EmailMessage, what: str) -> str:
    """The id of the e-mail's draft: the one recorded under its key, else one found in the
    drafts, else a new one; recorded before it is sent."""
    store = systems().memory()
    record = f"psflow-gmail-draft-{key}"
    if store.exists(record):
        return str(store.read(record).result)
    drafts = systems().gmail().users().drafts()
    with calling(SYSTEM, f"search of the drafts for {marker}"):
        listed = drafts.list(userId=USER, q=f'"{marker}"', maxResults=MAX_MATCHES).execute()
    found = listed.get("drafts") or []
    if found:
        draft_id = str(found[-1]["id"])
    else:
        raw = base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")
        with calling(SYSTEM, f"draft for the {what}"):
            draft_id = str(
                drafts.create(userId=USER, body={"message": {"raw": raw}}).execute()["id"]
            )
    # Prefect types `expiration` as its pendulum DateTime; a datetime is what it compares with
    expiry: Any = datetime.now(UTC) + DRAFT_MEMORY
    store.write(draft_id, key=record, expiration=expiry)
    return draft_id


def _send_draft(draft_id: str, marker: str, message_id: str, what: str) -> tuple[str | None, bool]:
    """Send the draft: (its Gmail message id, sent now). A draft Gmail no longer knows was sent
    already (the answer to that send was lost; "when the draft is sent, the draft is
    automatically deleted"): the sent message's id, when the search shows it yet."""
    from googleapiclient.errors import HttpError  # loaded with the client

    with calling(SYSTEM, what):
        try:
            sent = (
                systems()
                .gmail()
                .users()
                .drafts()
                .send(userId=USER, body={"id": draft_id})
                .execute()
            )
        except HttpError as error:
            if error.status_code != 404:
                raise
            return _find_sent(marker, message_id), False
    return str(sent["id"]), True


def _label(kind: Kind) -> str:
    return kind.value.replace("-", " ")


# --- replies ---------------------------------------------------------------------------------------


def _payload_headers(payload: dict[str, Any]) -> dict[str, str]:
    return {h["name"].lower(): str(h["value"]) for h in payload.get("headers", [])}


def _plain_text(payload: dict[str, Any]) -> str:
    """The first text/plain part of a message resource's payload (format=full), decoded."""
    if payload.get("mimeType") == "text/plain" and payload.get("body", {}).get("data"):
        data = base64.urlsafe_b64decode(payload["body"]["data"] + "==")
        return data.decode("utf-8", "replace")
    return next((t for part in payload.get("parts", []) if (t := _plain_text(part))), "")


def _replies_in(thread: dict[str, Any], since: datetime | None) -> list[Reply]:
    """The answers in a thread (format=full) to psflow's keyed e-mail that starts it: the
    messages after it that the PS mailbox did not send, received since `since`."""
    messages = thread.get("messages") or []
    keyed = next(
        (
            (i, headers[KEY_HEADER.lower()])
            for i, m in enumerate(messages)
            if "SENT" in m.get("labelIds", [])
            and KEY_HEADER.lower() in (headers := _payload_headers(m.get("payload", {})))
        ),
        None,
    )
    if keyed is None:
        return []  # not an answer to psflow
    first, key_text = keyed
    try:
        answers = parse_key(key_text)
    except ValueError:
        return []  # a header psflow did not write
    found = []
    for message in messages[first + 1 :]:
        received = datetime.fromtimestamp(int(message["internalDate"]) / 1000, UTC)
        if "SENT" in message.get("labelIds", []) or (since is not None and received < since):
            continue
        payload = message.get("payload", {})
        headers = _payload_headers(payload)
        sender = getaddresses([headers.get("from", "")])
        found.append(
            Reply(
                id=str(message["id"]),
                thread=str(thread["id"]),
                answers=answers,
                sender=sender[0][1] if sender else "",
                text=_plain_text(payload),
                headers={n: headers[n] for n in AUTOMATIC_HEADERS if n in headers},
                received=received,
            )
        )
    return found


def _thread(thread_id: str) -> dict[str, Any]:
    with calling(SYSTEM, f"thread {thread_id}"):
        thread: dict[str, Any] = (
            systems().gmail().users().threads().get(userId=USER, id=thread_id).execute()
        )
    return thread


@read_task("find replies since {since}")
def find_replies(since: datetime) -> list[Reply]:
    """The answers to psflow's e-mails received since `since`: one search of the inbox, then a
    read of each thread it finds (a thread psflow did not start is skipped)."""
    threads = systems().gmail().users().threads()
    query = f"in:inbox after:{int(since.timestamp())}"
    found: list[Reply] = []
    token = None
    while True:
        with calling(SYSTEM, f"search of the inbox for {query}"):
            page = threads.list(userId=USER, q=query, maxResults=100, pageToken=token).execute()
        for listed in page.get("threads") or []:
            found.extend(_replies_in(_thread(str(listed["id"])), since))
        token = page.get("nextPageToken")
        if not token:
            return found


@read_task("read reply {message_id}")
def get_reply(thread_id: str, message_id: str) -> Reply:
    """One answer to a psflow e-mail, read again from its thread (one request).

    Raises:
        PermanentError: when the thread holds no such answer to a psflow e-mail.
    """
    reply = next((r for r in _replies_in(_thread(thread_id), None) if r.id == message_id), None)
    if reply is None:
        raise PermanentError(
            SYSTEM, f"message {message_id}", f"not an answer to a psflow e-mail in {thread_id}"
        )
    return reply
