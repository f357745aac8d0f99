"""psflow's Slides task against the sandbox: the kickoff deck's placeholders filled once."""

from __future__ import annotations

import pytest

from engagement.keys import Kind, drive_name
from sandbox import seed
from sandbox.client import SandboxClient
from tasks.calls import TransientError
from tasks.clients import systems
from tasks.drive import ensure_copy
from tasks.slides import deck_texts, ensure_deck_filled

ACME_NEW = seed.OPPORTUNITIES[1]
VALUES = {
    "customer": "Acme Corporation",
    "sow_number": "SOW-2026-041",
    "opportunity": "Acme – CI/CD Modernisation",
    "team": "Divya Nair (Project Owner), Marcus Webb (Engagement Manager)",
    "start": "2027-01-04",
    "end": "2027-02-26",
    "milestones": "\nPS-CICD CI/CD pipelines: 2027-01-04 – 2027-01-27",
}


@pytest.fixture
def deck(outside: SandboxClient) -> str:
    name = drive_name("Kickoff", ACME_NEW.account.name, ACME_NEW.sow_number)
    made = ensure_copy.fn("kickoff-deck", Kind.KICKOFF_DECK, ACME_NEW.id, name, ())
    outside.clear_requests()
    return str(made.id)


def texts(deck_id: str) -> list[str]:
    return list(
        deck_texts(systems().slides().presentations().get(presentationId=deck_id).execute())
    )


def test_the_deck_is_filled_once(outside: SandboxClient, deck: str) -> None:
    assert ensure_deck_filled.fn(deck, Kind.KICKOFF_DECK, VALUES) == 7
    assert outside.writes(system="google") == 1
    assert texts(deck) == [
        "Acme Corporation – Project Kickoff\n",
        "SOW-2026-041 · Acme – CI/CD Modernisation\n",
        "Team: Divya Nair (Project Owner), Marcus Webb (Engagement Manager)\n",
        "Timeline: 2027-01-04 – 2027-02-26\n",
        "Milestones: \nPS-CICD CI/CD pipelines: 2027-01-04 – 2027-01-27\n",
    ]
    before = outside.last_request_id()
    assert ensure_deck_filled.fn(deck, Kind.KICKOFF_DECK, VALUES) == 0
    assert outside.writes(system="google", since=before) == 0


def test_a_placeholder_without_a_value_is_left_and_a_lost_answer_is_not_repeated(
    outside: SandboxClient, deck: str
) -> None:
    outside.add_fault(r".*/presentations/[^/]+:batchUpdate", status=500, after_commit=True)
    with pytest.raises(TransientError, match="Google Slides: kickoff-deck"):
        ensure_deck_filled.fn(deck, Kind.KICKOFF_DECK, {"customer": "Acme Corporation"})
    before = outside.last_request_id()
    assert ensure_deck_filled.fn(deck, Kind.KICKOFF_DECK, {"customer": "Acme Corporation"}) == 0
    assert outside.writes(system="google", since=before) == 0
    assert texts(deck)[1] == "{{sow_number}} · {{opportunity}}\n"
