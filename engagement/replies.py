"""A customer's reply to psflow's e-mail, read by the handbook's rule (psflow's decisions in
PROCESS.md): it accepts when it comes from one of the opportunity's contacts and its first
non-quoted line begins with "accepted" (any case); an auto-reply never counts. Anything else (a
question, "not yet", a stranger, an out-of-office) goes to the Project Owner."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from engagement.keys import Key


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    FOR_THE_PROJECT_OWNER = "for the Project Owner"  # a question, a refusal, a stranger's word
    AUTO_REPLY = "an auto-reply"  # never counts, never routed


class Reply(BaseModel):
    """An answer in the thread of an e-mail psflow sent: who wrote what, when."""

    model_config = ConfigDict(frozen=True)

    id: str  # Gmail's id of the answer
    thread: str
    answers: Key  # the natural key of psflow's e-mail it answers
    sender: str  # a bare address
    text: str  # its plain text, quotes included
    headers: dict[str, str]  # the ones that tell an automatic reply (names in lower case)
    received: datetime

    def read(self, contacts: Collection[str]) -> Reading:
        return read_reply(self.sender, self.text, self.headers, contacts)


class Reading(BaseModel):
    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    why: str


def first_line(text: str) -> str:
    """The reply's own first line: the first that is neither empty nor quoted ("> ...").

    Example:
        >>> first_line("\\n  Accepted, thanks!\\n\\nOn Fri, Dana wrote:\\n> Please reply")
        'Accepted, thanks!'
    """
    return next((s for line in text.splitlines() if (s := line.strip()) and s[0] != ">"), "")


def read_reply(
    sender: str, text: str, headers: Mapping[str, str], contacts: Collection[str]
) -> Reading:
    """What a reply says, by the handbook's rule.

    Example:
        >>> read_reply("dana@acme.example", "accepted", {}, ["Dana@Acme.example"]).verdict
        <Verdict.ACCEPTED: 'accepted'>
    """
    named = {name.lower(): value for name, value in headers.items()}
    automatic = named.get("auto-submitted", "no").strip().lower() != "no"
    if automatic or "x-autoreply" in named:
        return Reading(verdict=Verdict.AUTO_REPLY, why="an automatic reply (Auto-Submitted)")
    if sender.strip().lower() not in {contact.lower() for contact in contacts}:
        return Reading(
            verdict=Verdict.FOR_THE_PROJECT_OWNER,
            why=f"from {sender}, not one of the opportunity's contacts",
        )
    line = first_line(text)
    if line.lower().startswith("accepted"):
        return Reading(verdict=Verdict.ACCEPTED, why=f"{sender}: {line[:80]!r}")
    return Reading(
        verdict=Verdict.FOR_THE_PROJECT_OWNER,
        why=f"{sender} wrote {line[:80]!r}, not 'accepted'",
    )
