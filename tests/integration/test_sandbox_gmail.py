"""The Gmail v1 stand-in through googleapiclient, as psflow's Block builds it."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from blocks.google import GoogleWorkspaceConnection
from sandbox.client import SandboxClient
from sandbox.seed import PS_MAILBOX

CUSTOMER = "wile.coyote@acme.example"
KEY_ID = "<psflow.acceptance.006Dn0000000002AAA.migration@northwind.example>"


@pytest.fixture
def gmail(sandbox: SandboxClient, sandbox_url: str) -> Any:
    """The PS mailbox in a freshly reset sandbox."""
    conn = GoogleWorkspaceConnection(root_url=f"{sandbox_url}/google/", access_token="token-1")
    return conn.gmail().users()


def raw(
    subject: str = "Acme – acceptance of SCM migration",
    body: str = "Please reply accepted.",
    to: str = CUSTOMER,
    **headers: str,
) -> str:
    msg = EmailMessage()
    msg["From"] = f"PS Team <{PS_MAILBOX}>"
    msg["To"] = to
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return base64.urlsafe_b64encode(msg.as_bytes()).decode()


def send(gmail: Any, **body: Any) -> dict[str, Any]:
    return dict(gmail.messages().send(userId="me", body=body).execute())


def search(gmail: Any, q: str, **params: Any) -> list[str]:
    found = gmail.messages().list(userId="me", q=q, **params).execute()
    return [m["id"] for m in found.get("messages", [])]


def headers_of(gmail: Any, message_id: str) -> dict[str, str]:
    got = gmail.messages().get(userId="me", id=message_id, format="metadata").execute()
    return {h["name"]: h["value"] for h in got["payload"]["headers"]}


def test_send_gets_gmails_own_message_id_so_rfc822msgid_finds_only_that(
    sandbox: SandboxClient, gmail: Any
) -> None:
    sent = send(gmail, raw=raw(Message_ID=KEY_ID))
    assert sent["labelIds"] == ["SENT"]
    assert sent["threadId"] == sent["id"]

    # Gmail replaces a client's Message-ID on send: the deterministic key is gone
    assert search(gmail, f"rfc822msgid:{KEY_ID}") == []
    gmail_id = headers_of(gmail, sent["id"])["Message-ID"]
    assert gmail_id.startswith("<CA")
    assert gmail_id.endswith("@mail.gmail.com>")
    assert search(gmail, f"rfc822msgid:{gmail_id}") == [sent["id"]]
    assert search(gmail, f"rfc822msgid:{gmail_id.strip('<>')}") == [sent["id"]]
    assert search(gmail, "in:sent subject:acceptance") == [sent["id"]]
    assert search(gmail, "in:inbox") == []
    [stored] = sandbox.state("google", "message")
    assert stored["messageId"] == gmail_id


def test_customer_reply_arrives_in_the_same_thread_unread(
    sandbox: SandboxClient, gmail: Any
) -> None:
    sent = send(gmail, raw=raw())
    message_id = headers_of(gmail, sent["id"])["Message-ID"]

    answer = sandbox.act("google", "/gmail/reply", message_id=message_id, body="accepted")
    assert answer["threadId"] == sent["threadId"]
    assert search(gmail, "in:inbox is:unread") == [answer["id"]]
    assert search(gmail, f"from:{CUSTOMER} accepted") == [answer["id"]]

    thread = gmail.threads().get(userId="me", id=sent["threadId"]).execute()
    assert [m["id"] for m in thread["messages"]] == [sent["id"], answer["id"]]
    reply = thread["messages"][1]
    assert reply["labelIds"] == ["INBOX", "UNREAD", "CATEGORY_PERSONAL"]
    headers = {h["name"]: h["value"] for h in reply["payload"]["headers"]}
    assert headers["In-Reply-To"] == message_id
    assert headers["References"] == message_id
    assert headers["Subject"] == "Re: Acme – acceptance of SCM migration"
    assert headers["From"] == CUSTOMER
    assert base64.urlsafe_b64decode(reply["payload"]["body"]["data"]).decode().strip() == "accepted"
    assert reply["snippet"] == "accepted"

    gmail.messages().modify(
        userId="me", id=answer["id"], body={"removeLabelIds": ["UNREAD"]}
    ).execute()
    assert search(gmail, "in:inbox is:unread") == []
    assert search(gmail, "is:read in:inbox") == [answer["id"]]
    listed = gmail.threads().list(userId="me", q="accepted").execute()
    assert [t["id"] for t in listed["threads"]] == [sent["threadId"]]


def test_send_joins_a_thread_only_with_references_and_the_same_subject(gmail: Any) -> None:
    first = send(gmail, raw=raw(subject="Acme- project sign off"))
    first_id = headers_of(gmail, first["id"])["Message-ID"]
    follow_up = send(
        gmail,
        raw=raw(subject="Re: Acme- project sign off", In_Reply_To=first_id, References=first_id),
        threadId=first["threadId"],
    )
    assert follow_up["threadId"] == first["threadId"]
    other_subject = send(
        gmail, raw=raw(subject="Something else", In_Reply_To=first_id), threadId=first["threadId"]
    )
    assert other_subject["threadId"] == other_subject["id"]
    with pytest.raises(HttpError) as bad_thread:
        send(gmail, raw=raw(), threadId="ffffffffffffffff")
    assert bad_thread.value.status_code == 400


def test_message_formats(gmail: Any) -> None:
    msg = EmailMessage()
    msg["From"] = PS_MAILBOX
    msg["To"] = CUSTOMER
    msg["Cc"] = "olivia.park@northwind.example"
    msg["Subject"] = "Status report – week 10"
    msg.set_content("Hours used: 32.\nAll on track & green.")
    msg.add_alternative("<p>Hours used: <b>32</b>.</p>", subtype="html")
    msg.add_attachment(b"week,hours\n10,32\n", maintype="text", subtype="csv", filename="hours.csv")
    sent = send(gmail, raw=base64.urlsafe_b64encode(msg.as_bytes()).decode())
    get = gmail.messages().get

    full = get(userId="me", id=sent["id"]).execute()
    assert full["snippet"] == "Hours used: 32. All on track &amp; green."
    payload = full["payload"]
    assert payload["mimeType"] == "multipart/mixed"
    assert [p["mimeType"] for p in payload["parts"]] == ["multipart/alternative", "text/csv"]
    assert [p["partId"] for p in payload["parts"][0]["parts"]] == ["0.0", "0.1"]
    text = payload["parts"][0]["parts"][0]["body"]["data"]
    assert base64.urlsafe_b64decode(text).decode().startswith("Hours used: 32.")
    assert payload["parts"][1]["filename"] == "hours.csv"
    assert search(gmail, "has:attachment") == [sent["id"]]

    meta = get(
        userId="me", id=sent["id"], format="metadata", metadataHeaders=["Subject", "cc"]
    ).execute()
    assert meta["payload"]["headers"] == [
        {"name": "Cc", "value": "olivia.park@northwind.example"},
        {"name": "Subject", "value": "Status report – week 10"},
    ]
    as_raw = get(userId="me", id=sent["id"], format="raw").execute()
    assert b"Message-ID: <CA" in base64.urlsafe_b64decode(as_raw["raw"])
    assert "payload" not in as_raw
    minimal = get(userId="me", id=sent["id"], format="minimal").execute()
    assert set(minimal) == {
        "id",
        "threadId",
        "labelIds",
        "snippet",
        "sizeEstimate",
        "historyId",
        "internalDate",
    }


def test_header_injection_stays_inside_the_header_value(gmail: Any) -> None:
    crafted = (
        f"From: {PS_MAILBOX}\r\nTo: {CUSTOMER}\r\n"
        "Subject: =?utf-8?q?Hello=0D=0ABcc:_attacker@evil.example?=\r\n\r\nbody\r\n"
    )
    sent = send(gmail, raw=base64.urlsafe_b64encode(crafted.encode()).decode())
    headers = headers_of(gmail, sent["id"])
    assert "Bcc" not in headers
    assert "attacker@evil.example" in headers["Subject"]
    assert search(gmail, "to:attacker@evil.example") == []


def test_paging_and_date_operators(sandbox: SandboxClient, gmail: Any) -> None:
    ids = []
    for week in range(5):
        ids.append(send(gmail, raw=raw(subject=f"Status report week {week}"))["id"])
        sandbox.advance_clock(2)

    request = gmail.messages().list(userId="me", q="subject:status", maxResults=2)
    pages = []
    while request is not None:
        page = request.execute()
        pages.append([m["id"] for m in page.get("messages", [])])
        request = gmail.messages().list_next(request, page)
    assert pages == [ids[4:2:-1], ids[2:0:-1], ids[:1]]

    assert search(gmail, "newer_than:3d") == [ids[4]]
    assert search(gmail, "older_than:7d") == [ids[1], ids[0]]
    assert search(gmail, 'subject:"week 3" -week') == []
    assert search(gmail, 'subject:"week 3"') == [ids[3]]
    assert search(gmail, "after:2000/01/01 before:2000/01/02") == []
    assert len(search(gmail, "after:2000/01/01")) == 5


def test_errors_quota_and_faults(sandbox: SandboxClient, gmail: Any) -> None:
    with pytest.raises(HttpError) as missing:
        gmail.messages().get(userId="me", id="0123456789abcdef").execute()
    assert missing.value.status_code == 404
    with pytest.raises(HttpError) as other_user:
        gmail.messages().list(userId="someone@else.example").execute()
    assert other_user.value.status_code == 403
    with pytest.raises(HttpError) as no_recipient:
        send(gmail, raw=raw(to=""))
    assert no_recipient.value.reason == "Recipient address required"

    # the counters run even while quotas are off: the refused send above counts
    sandbox.set_quotas(True, {"google.gmail-send-per-user": 2})
    send(gmail, raw=raw())
    with pytest.raises(HttpError) as throttled:
        send(gmail, raw=raw())
    assert throttled.value.status_code == 429
    assert [r["quota"] for r in sandbox.requests(status=429)] == ["google.gmail-send-per-user"]
    sandbox.set_quotas(False)

    send_path = "/google/gmail/v1/users/me/messages/send"
    sandbox.add_fault(send_path, method="POST", status=503, retry_after=2)
    with pytest.raises(HttpError) as unavailable:
        send(gmail, raw=raw())
    assert unavailable.value.status_code == 503
    sandbox.add_fault(send_path, method="POST", status=500, after_commit=True)
    with pytest.raises(HttpError):
        send(gmail, raw=raw(subject="sent although the client saw 500"))
    assert search(gmail, 'subject:"sent although"') != []
    assert len(sandbox.state("google", "message")) == 2


# --- drafts, and a search index that lags ---------------------------------------------------------


def test_a_draft_is_kept_found_sent_by_id_and_then_is_a_draft_no_more(
    sandbox: SandboxClient, gmail: Any
) -> None:
    draft = gmail.drafts().create(userId="me", body={"message": {"raw": raw(body="Ref: PSFX1")}})
    draft = draft.execute()
    assert draft["id"].startswith("r")
    assert draft["message"]["labelIds"] == ["DRAFT"]
    assert sandbox.writes(path="%/drafts") == 1
    listed = gmail.drafts().list(userId="me", q="PSFX1").execute()["drafts"]
    assert [d["id"] for d in listed] == [draft["id"]]
    assert search(gmail, 'in:sent "PSFX1"') == []  # a draft is not sent mail

    sent = gmail.drafts().send(userId="me", body={"id": draft["id"]}).execute()
    assert sent["labelIds"] == ["SENT"]
    assert sent["id"] != draft["message"]["id"]  # "a new message with an updated ID"
    assert search(gmail, 'in:sent "PSFX1"') == [sent["id"]]
    assert headers_of(gmail, sent["id"])["Message-ID"].endswith("@mail.gmail.com>")
    assert gmail.drafts().list(userId="me", q="PSFX1").execute().get("drafts") is None
    # sending it again: Gmail no longer knows the draft
    with pytest.raises(HttpError) as err:
        gmail.drafts().send(userId="me", body={"id": draft["id"]}).execute()
    assert err.value.status_code == 404
    assert sandbox.writes(path="%/drafts/send") == 2  # both tries are in the log


def test_a_stale_search_does_not_find_what_was_just_sent_but_a_get_by_id_does(
    sandbox: SandboxClient, gmail: Any
) -> None:
    sent = send(gmail, raw=raw(body="Ref: PSFX2"))
    sandbox.add_fault(r"/google/gmail/v1/users/me/messages", method="GET", kind="stale", delay=60)
    assert search(gmail, '"PSFX2"') == []  # the index is a minute behind
    assert search(gmail, '"PSFX2"') == [sent["id"]]  # the fault hit one search
    gmail.messages().get(userId="me", id=sent["id"]).execute()
