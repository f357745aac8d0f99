"""The handbook's rule for a customer's reply: from a contact, first own line "accepted"."""

from __future__ import annotations

import pytest

from engagement.replies import Verdict, read_reply

DANA, OWNER = "dana.whitfield@acme.example", Verdict.FOR_THE_PROJECT_OWNER
CONTACTS = [DANA, "cto@acme.example"]
QUOTED = '\n\nOn Fri, 15 Jan 2027, PS wrote:\n> Please reply "accepted" to confirm the change.'


@pytest.mark.parametrize(
    ("sender", "text", "headers", "verdict"),
    [
        (DANA, "Accepted" + QUOTED, {}, Verdict.ACCEPTED),
        ("Dana.Whitfield@ACME.example", "  accepted, go ahead" + QUOTED, {}, Verdict.ACCEPTED),
        ("cto@acme.example", "\n\nACCEPTED." + QUOTED, {}, Verdict.ACCEPTED),
        (DANA, "Not yet: what about the runners?" + QUOTED, {}, OWNER),
        (DANA, "> accepted\nno, wait" + QUOTED, {}, OWNER),
        (DANA, "I have accepted nothing", {}, OWNER),
        ("stranger@elsewhere.example", "accepted", {}, OWNER),
        (DANA, "accepted", {"Auto-Submitted": "auto-replied"}, Verdict.AUTO_REPLY),
        (DANA, "accepted", {"X-Autoreply": "yes"}, Verdict.AUTO_REPLY),
        (DANA, "accepted", {"Auto-Submitted": "no"}, Verdict.ACCEPTED),
    ],
)  # fmt: skip
def test_a_reply_accepts_only_from_a_contact_whose_own_first_line_says_so(
    sender: str, text: str, headers: dict[str, str], verdict: Verdict
) -> None:
    reading = read_reply(sender, text, headers, CONTACTS)
    assert reading.verdict == verdict, reading.why
