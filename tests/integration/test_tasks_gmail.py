"""psflow's Gmail task against the sandbox, through googleapiclient: an e-mail is sent once per
natural key, however the send fails, although Gmail replaces the Message-ID psflow sets; and
nothing a caller passes can add a header or a recipient."""

from __future__ import annotations

import base64
import email
import email.policy
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from pydantic import ValidationError

from engagement.keys import Kind, gmail_key_marker, gmail_message_id
from engagement.templates import Attachment, Email, Template, email_from_template
from sandbox import seed
from sandbox.client import SandboxClient
from tasks.calls import PermanentError, TransientError
from tasks.clients import systems
from tasks.docs import template_paragraphs
from tasks.gmail import FALLBACK_DOMAIN, ensure_email, find_email, find_replies, get_reply

OPPORTUNITY = seed.OPPORTUNITIES[1].id
KIND = Kind.INITIATION_EMAIL
SEND = r"/google/gmail/v1/users/me/drafts/send"
SEARCHES = r"/google/gmail/v1/users/me/(messages|drafts)"
CUSTOMER = "dana.whitfield@acme.example"
OPS = "olivia.park@northwind.example"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))  # bytes of every value travel


def sent(outside: SandboxClient) -> list[EmailMessage]:
    """Every message in the mailbox, parsed from the bytes Gmail keeps."""
    messages = []
    for stored in outside.state("google", "message"):
        parsed = email.message_from_bytes(
            base64.urlsafe_b64decode(stored["raw"]), policy=email.policy.default
        )
        assert isinstance(parsed, EmailMessage)
        messages.append(parsed)
    return messages


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # sent with SMTP's CRLF


def send(
    subject: str = "Welcome to Northwind Cloud – SOW-2026-041",
    body: str = "Dear Dana,\n\nWelcome.",
    **overrides: Any,
) -> Any:
    arguments: dict[str, Any] = {
        "kind": KIND,
        "record_id": OPPORTUNITY,
        "to": [CUSTOMER],
        "cc": [OPS],
        "email": Email(subject=subject, body=body),
    }
    return ensure_email.fn(**{**arguments, **overrides})


def test_sends_once_and_finds_it_again(outside: SandboxClient) -> None:
    first = send()
    assert first.created
    assert first.system == "Gmail"
    assert first.kind == "initiation email"
    assert first.name == f"Welcome to Northwind Cloud – SOW-2026-041 (to {CUSTOMER})"
    assert outside.writes(service="gmail") == 2  # the draft, then its sending

    before = outside.last_request_id()
    again = send(subject="Edited subject", body="Edited body")
    assert not again.created
    assert again.id == first.id
    assert outside.writes(service="gmail", since=before) == 0
    assert len(sent(outside)) == 1


def test_a_sent_email_is_found_by_its_key_alone(outside: SandboxClient) -> None:
    assert find_email.fn(KIND, OPPORTUNITY) is None
    first = send()
    before = outside.last_request_id()
    found = find_email.fn(KIND, OPPORTUNITY)
    assert found is not None
    assert (found.id, found.created, found.kind) == (first.id, False, "initiation email")
    assert len(outside.requests(service="gmail", since=before)) == 1
    assert find_email.fn(KIND, OPPORTUNITY, part="other") is None


def test_the_message_as_sent(outside: SandboxClient) -> None:
    send(to=[CUSTOMER, "Dana.Whitfield@ACME.example", "cto@acme.example"], cc=[OPS, CUSTOMER])
    [message] = sent(outside)
    marker = gmail_key_marker(KIND, OPPORTUNITY)
    assert message["To"] == f"{CUSTOMER}, cto@acme.example"  # duplicates dropped
    assert message["Cc"] == OPS  # nobody twice
    assert message["Subject"] == "Welcome to Northwind Cloud – SOW-2026-041"
    assert message["From"] == seed.PS_MAILBOX  # Gmail fills in the mailbox psflow acts as
    assert body_of(message).splitlines()[-1] == f"Ref: {marker}"
    assert body_of(message).startswith("Dear Dana,\n\nWelcome.\n")
    # Gmail replaced psflow's Message-ID: only the body's marker can find the message again
    assert message["Message-ID"] != gmail_message_id(KIND, OPPORTUNITY, FALLBACK_DOMAIN)


def test_parts_are_different_emails(outside: SandboxClient) -> None:
    kind = Kind.ACCEPTANCE_EMAIL
    first = send(kind=kind, part="PS-MIG")
    second = send(kind=kind, part="PS-TRAIN")
    assert first.created
    assert second.created
    assert first.id != second.id
    assert not send(kind=kind, part="PS-MIG").created
    assert outside.writes(service="gmail") == 4


@pytest.mark.parametrize("fault", ["status", "drop"])
def test_a_send_whose_answer_is_lost_is_not_sent_again(outside: SandboxClient, fault: str) -> None:
    outside.add_fault(SEND, method="POST", kind=fault, status=500, after_commit=True)
    with pytest.raises(TransientError, match="Gmail: sending of the initiation email"):
        send()

    retried = send()
    assert not retried.created
    assert len(sent(outside)) == 1
    assert outside.writes(service="gmail") == 2  # the draft, the send that lost its answer


def test_a_draft_whose_answer_is_lost_is_sent_once_and_none_is_left(outside: SandboxClient) -> None:
    # the draft exists, its id never came back: the retry finds it (unsent: it carries the key
    # and psflow's Message-ID, yet it is no sent mail) and sends it
    outside.add_fault(r"/google/gmail/v1/users/me/drafts", method="POST", after_commit=True)
    with pytest.raises(TransientError, match="Gmail: draft for the sending"):
        send()
    retried = send()
    assert retried.created
    messages = outside.state("google", "message")
    assert [m["labelIds"] for m in messages] == [["SENT"]]
    assert outside.state("google", "draft") == []


def test_a_lost_answer_is_not_sent_again_while_the_search_cannot_see_it_yet(
    outside: SandboxClient,
) -> None:
    # Gmail's search is minutes behind; the send is applied but its answer is lost
    outside.add_fault(SEARCHES, method="GET", kind="stale", delay=600, times=None)
    outside.add_fault(SEND, method="POST", status=503, after_commit=True)
    with pytest.raises(TransientError, match="Gmail: sending of the initiation email"):
        send()

    retried = send()  # the draft recorded under the key is sent again: Gmail answers 404
    assert not retried.created
    assert len(sent(outside)) == 1
    assert outside.writes(service="gmail", path="%/drafts/send") == 2
    assert outside.writes(service="gmail", path="%/drafts") == 1  # one draft, never a second


def test_a_sent_email_moved_to_the_trash_is_not_sent_again(outside: SandboxClient) -> None:
    first = send()
    messages = systems().gmail().users().messages()
    messages.modify(userId="me", id=first.id, body={"addLabelIds": ["TRASH"]}).execute()

    again = send()
    assert not again.created
    assert again.id == first.id


def test_a_quoting_reply_from_the_mailbox_does_not_pass_for_the_email(
    outside: SandboxClient,
) -> None:
    first = send()
    [original] = sent(outside)
    quote = "Following up.\n\n" + "\n".join(f"> {line}" for line in body_of(original).split("\n"))
    reply = EmailMessage()
    reply["To"] = CUSTOMER
    reply["Subject"] = "Re: Welcome"
    reply.set_content(quote)
    raw = base64.urlsafe_b64encode(reply.as_bytes()).decode()
    systems().gmail().users().messages().send(userId="me", body={"raw": raw}).execute()

    again = send()
    assert again.id == first.id  # the oldest match: psflow's own message, not the reply


# --- hostile input: refused before any request ----------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"subject": "Hi\r\nBcc: evil@x.example"}, "subject must be one line"),
        ({"subject": "Hi\nBcc: evil@x.example"}, "subject must be one line"),
        ({"subject": "Hi\u2028Bcc: evil@x.example"}, "subject must be one line"),
        ({"subject": "  "}, "subject must not be empty"),
        ({"to": ["a@b.example\r\nBcc: c@d.example"]}, r"to\[0\] .*line breaks"),
        ({"to": [CUSTOMER, '"Dana" <evil@x.example>']}, r"to\[1\] .*no display name"),
        ({"to": ["Dana <dana@acme.example>"]}, r"to\[0\] .*no display name"),
        ({"to": ["a@b.example, evil@x.example"]}, r"to\[0\] .*list of addresses"),
        ({"cc": ["evil@x.example>\nBcc: c@d.example"]}, r"cc\[0\] .*line breaks"),
        ({"cc": ["dana@acme.example;evil@x.example"]}, r"cc\[0\]"),
        ({"to": []}, "at least one recipient"),
    ],
)
def test_hostile_input_is_refused_with_nothing_sent(
    outside: SandboxClient, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        send(**overrides)
    assert outside.requests(service="gmail") == []


def test_a_hostile_customer_name_from_a_template_gives_a_safe_subject(
    outside: SandboxClient,
) -> None:
    values = {
        "customer": 'Acme\r\nBcc: evil@x.example\r\n\r\n"quoted"',
        "contact_first_name": "Dana",
        "sow_number": "SOW-2026-041",
        "project_owner": "Aisha Bello",
    }
    send(kind=Kind.SIGN_OFF_EMAIL, email=Template(key="sign-off-email", values=values))
    [message] = sent(outside)
    assert message["Subject"] == 'Acme Bcc: evil@x.example "quoted"- project sign off'
    assert message["Bcc"] is None
    assert set(message.keys()) == {
        "From",
        "To",
        "Cc",
        "Subject",
        "Message-ID",
        "X-PSFlow-Key",
        "Date",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
    }
    assert body_of(message).startswith("Dear Dana,\n\nAll activities of SOW-2026-041 are")


def test_an_email_from_a_template_reads_it_only_to_send(outside: SandboxClient) -> None:
    values = {
        "company": "Northwind Cloud",
        "customer": "Acme Corporation",
        "opportunity": "CI/CD Modernisation",
        "sow_number": "SOW-2026-041",
        "contact_first_name": "Dana",
        "project_owner": "Aisha Bello",
        "coordinator": "Priya Raman",
        "engagement_manager": "Marcus Webb",
    }
    expected = email_from_template(template_paragraphs("initiation-email"), values)
    outside.clear_requests()
    made = send(email=Template(key="initiation-email", values=values))
    assert made.created
    assert made.name == f"{expected.subject} (to {CUSTOMER})"
    [message] = sent(outside)
    assert message["Subject"] == expected.subject
    assert body_of(message).startswith(expected.body)
    assert outside.requests(system="google", service="docs") != []  # the template, read

    before = outside.last_request_id()
    again = send(email=Template(key="initiation-email", values=values))
    assert (again.created, again.id) == (False, made.id)
    # found by its key: neither Drive nor Docs is asked for the template
    assert {r["service"] for r in outside.requests(since=before)} == {"gmail"}
    assert outside.writes(since=before) == 0


def test_an_attachment_goes_with_the_text(outside: SandboxClient) -> None:
    chart = Attachment(filename="Burn-down 2027-W02.png", mime_type="image/png", data=PNG)
    send(
        email=Email(
            subject="Status report 2027-W02", body="Hours: 40 of 120.", attachments=(chart,)
        )
    )
    [message] = sent(outside)
    assert body_of(message).startswith("Hours: 40 of 120.\n")
    [part] = list(message.iter_attachments())
    assert (part.get_filename(), part.get_content_type()) == ("Burn-down 2027-W02.png", "image/png")
    assert part.get_content() == PNG


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("filename", "chart\r\nBcc: x@evil.example.png"),
        ("filename", "../chart"),
        ("mime_type", "image"),
    ],
)
def test_an_attachment_that_could_add_a_header_is_refused(field: str, value: str) -> None:
    fields = {"filename": "chart.png", "mime_type": "image/png", "data": PNG} | {field: value}
    with pytest.raises(ValidationError, match=field):
        Attachment(**fields)


# --- replies -------------------------------------------------------------------------------------


def _answer(outside: SandboxClient, gmail_id: str, body: str, **more: Any) -> dict[str, Any]:
    """The customer answers psflow's message `gmail_id` (the sandbox plays them)."""
    [stored] = [m for m in outside.state("google", "message") if m["id"] == gmail_id]
    return outside.act("google", "/gmail/reply", message_id=stored["messageId"], body=body, **more)


def test_replies_to_psflows_emails_are_found_with_what_they_answer(
    outside: SandboxClient,
) -> None:
    since = systems().clock().now()
    first = send(part="CR-1", kind=Kind.CHANGE_REQUEST_EMAIL)
    other = send(part="CR-2", kind=Kind.CHANGE_REQUEST_EMAIL)
    accepted = _answer(outside, first.id, "Accepted, thanks!\n\n> CR-1: ...")
    question = _answer(
        outside, other.id, "Does this include training?", **{"from": "stranger@elsewhere.example"}
    )
    away = _answer(
        outside, first.id, "I am out of the office.", headers={"Auto-Submitted": "auto-replied"}
    )

    before = outside.last_request_id()
    found = {reply.id: reply for reply in find_replies.fn(since)}
    assert set(found) == {accepted["id"], question["id"], away["id"]}
    assert found[accepted["id"]].answers.part == "CR-1"
    assert found[accepted["id"]].answers.kind is Kind.CHANGE_REQUEST_EMAIL
    assert found[accepted["id"]].answers.record_id == OPPORTUNITY
    assert found[accepted["id"]].sender == CUSTOMER
    assert found[accepted["id"]].text.startswith("Accepted, thanks!")
    assert found[question["id"]].answers.part == "CR-2"
    assert found[question["id"]].sender == "stranger@elsewhere.example"
    assert found[away["id"]].headers == {"auto-submitted": "auto-replied"}
    # one search, then one read per thread (two threads)
    assert len(outside.requests(service="gmail", since=before)) == 3
    assert outside.writes(service="gmail", since=before) == 0

    again = get_reply.fn(accepted["threadId"], accepted["id"])
    assert again == found[accepted["id"]]
    assert find_replies.fn(systems().clock().now() + timedelta(seconds=1)) == []


def test_a_message_that_answers_no_psflow_email_is_not_a_reply(outside: SandboxClient) -> None:
    since = systems().clock().now()
    gmail = systems().gmail().users()
    message = EmailMessage()
    message["To"] = CUSTOMER
    message["Subject"] = "Lunch?"
    message.set_content("Shall we?")
    raw = base64.urlsafe_b64encode(message.as_bytes()).decode()
    mine = gmail.messages().send(userId="me", body={"raw": raw}).execute()
    answer = _answer(outside, mine["id"], "accepted")

    assert find_replies.fn(since) == []
    with pytest.raises(PermanentError, match=answer["id"]):
        get_reply.fn(answer["threadId"], answer["id"])
