"""Google Docs tasks: read a template document's text.

E-mail templates are Google Docs in the templates folder (found by `tasks.drive.find_template`),
so the PS team edits the wording in Docs and psflow reads it at send time; the text is turned
into an e-mail by `engagement.templates`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tasks.calls import calling, read_task
from tasks.clients import systems
from tasks.drive import find_template

SYSTEM = "Google Docs"
# Docs writes a line break typed with Shift+Enter inside a paragraph as a vertical tab.
_SOFT_BREAK = "\x0b"


def paragraph_texts(document: Mapping[str, Any]) -> list[str]:
    """The text of each paragraph of a `documents.get` answer's body, in order, without the
    paragraph's closing newline; line breaks within a paragraph as "\\n". Tables, section breaks
    and other elements are left out.

    Example:
        >>> run = {"textRun": {"content": "Hello\\n"}}
        >>> paragraph_texts({"body": {"content": [{"paragraph": {"elements": [run]}}]}})
        ['Hello']
    """
    texts = []
    for element in (document.get("body") or {}).get("content") or []:
        paragraph = element.get("paragraph")
        if paragraph is None:
            continue
        text = "".join(
            (part.get("textRun") or {}).get("content", "")
            for part in paragraph.get("elements") or []
        )
        texts.append(text.removesuffix("\n").replace(_SOFT_BREAK, "\n"))
    return texts


@read_task("read template {template_key}")
def get_template_paragraphs(template_key: str) -> list[str]:
    """The paragraphs of the template document `template_key` (e.g. "initiation-email"): found
    as `PsflowSettings.templates` names it (`tasks.drive.find_template`), then read with Docs.

    Raises:
        PermanentError: when the template is not found, or is not a Google Doc.

    Example:
        >>> get_template_paragraphs("initiation-email")[0]  # doctest: +SKIP
        'Subject: Welcome to {{company}} Professional Services – {{sow_number}}'
    """
    document_id = find_template.fn(template_key)
    with calling(SYSTEM, f"template {template_key!r} (document {document_id})"):
        document = systems().docs().documents().get(documentId=document_id).execute()
    return paragraph_texts(document)
