"""Google Slides: a deck copied from its template (the kickoff deck) filled in.

The template holds `{{placeholders}}` (`{{customer}}`, `{{team}}`, `{{milestones}}`, ...); filling
replaces those still in the deck, so a re-run finds none and writes nothing, and a slide a person
rewrote is theirs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from engagement.keys import Kind
from engagement.templates import replace_requests
from tasks.calls import calling, outside_task
from tasks.clients import systems

SYSTEM = "Google Slides"


def deck_texts(presentation: Mapping[str, Any]) -> Iterator[str]:
    """The text of every shape and table cell of a `presentations.get` answer."""
    for page in presentation.get("slides") or []:
        for element in page.get("pageElements") or []:
            texts = [(element.get("shape") or {}).get("text")]
            for row in (element.get("table") or {}).get("tableRows") or []:
                texts.extend(cell.get("text") for cell in row.get("tableCells") or [])
            for text in texts:
                runs = (text or {}).get("textElements") or []
                yield "".join((run.get("textRun") or {}).get("content", "") for run in runs)


@outside_task("fill the {kind}")
def ensure_deck_filled(presentation_id: str, kind: Kind, values: Mapping[str, str]) -> int:
    """Every `{{name}}` of `values` still in the deck replaced by its value: one read, and one
    batchUpdate of replaceAllText requests when any is left.

    Returns:
        How many placeholders were replaced: 0 on a re-run.

    Example:
        >>> ensure_deck_filled.fn("1deck", Kind.KICKOFF_DECK, {"customer": "Acme"})  # doctest: +SKIP
        1
    """
    decks = systems().slides().presentations()
    with calling(SYSTEM, f"{kind.value} {presentation_id}"):
        deck = decks.get(presentationId=presentation_id).execute()
        requests = replace_requests(deck_texts(deck), values)
        if requests:
            body = {"requests": requests}
            decks.batchUpdate(presentationId=presentation_id, body=body).execute()
    return len(requests)
