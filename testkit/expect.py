"""What the phases leave in the sandbox, counted as the tests assert on it: the objects of an
opportunity system by system, the writes per service, the e-mails sent."""

from __future__ import annotations

import base64
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from sandbox.client import SandboxClient
from sandbox.slack import OPS_WEBHOOK_PATH

# What Initiate leaves for a staffed opportunity with two SOW activities, under $50k.
EXPECTED = {
    "engagement records": 1,
    "gitlab issues": 3,  # the hand-off and one per activity
    "gitlab epics": 1,
    "mavenlink tasks": 2,
    "drive files": 3,  # the SOW folder, the cost estimate, the Project Definition
    "e-mails": 1,
    "calendar events": 2,
}


def objects_of(sandbox: SandboxClient, opportunity: str) -> dict[str, int]:
    """How many of each kind of object exist for the opportunity, system by system."""

    def count(rows: list[dict[str, Any]], *fields: str) -> int:
        return sum(any(opportunity in str(row.get(f) or "") for f in fields) for row in rows)

    return {
        "engagement records": count(
            sandbox.state("salesforce", "PS_Engagement__c"), "Opportunity_Id__c"
        ),
        "gitlab issues": count(sandbox.state("gitlab", "issue"), "description"),
        "gitlab epics": count(sandbox.state("gitlab", "epic"), "description"),
        "mavenlink tasks": count(
            sandbox.state("mavenlink", "external_references"), "service_model_ref"
        )
        - 1
        - _bookings(sandbox, opportunity),
        "drive files": count(sandbox.state("google", "file"), "appProperties"),
        "e-mails": len(sent(sandbox)),  # the sandbox is reset for each test
        "calendar events": len(
            [e for e in sandbox.state("google", "event") if e.get("status") != "cancelled"]
        ),
    }


def _bookings(sandbox: SandboxClient, opportunity: str) -> int:
    return sum(
        r["service_model"] == "staffing-booking" and opportunity in r["service_model_ref"]
        for r in sandbox.state("mavenlink", "external_references")
    )


def sent(sandbox: SandboxClient) -> list[EmailMessage]:
    """Every e-mail sent from the sandbox's mailboxes."""
    messages = []
    for stored in sandbox.state("google", "message"):
        if "SENT" in stored.get("labelIds", []):
            parsed = message_from_bytes(base64.urlsafe_b64decode(stored["raw"]), policy=default)
            assert isinstance(parsed, EmailMessage)
            messages.append(parsed)
    return messages


def sent_mail(sandbox: SandboxClient, subject: str) -> list[EmailMessage]:
    """The e-mails sent whose subject holds `subject`."""
    return [message for message in sent(sandbox) if subject in str(message["Subject"])]


def body_text(message: EmailMessage) -> str:
    """An e-mail's plain text, with its line breaks as written."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def written(sandbox: SandboxClient, since: int) -> dict[str, int]:
    """The phases' writes per service since a request id (the watcher's polls are reads). A failed
    run's ops alert is not a phase's write: Prefect's automation posts it when it gets to it, in
    this test's window or the next one's."""
    rows = sandbox.requests(write=True, since=since)
    out: dict[str, int] = {}
    for row in rows:
        if row["path"] == OPS_WEBHOOK_PATH:
            continue
        out[row["service"]] = out.get(row["service"], 0) + 1
    return out
