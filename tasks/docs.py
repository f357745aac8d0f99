"""Google Docs: a template document's text.

E-mail and issue templates are Google Docs (found as `PsflowSettings.templates` names them,
`tasks.drive.template_id`), so the PS team edits the wording in Docs. The tasks that write from a
template (`ensure_email`, `ensure_issue`) read it only when what they make is missing; the text is
filled in by `engagement.templates`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engagement.keys import Kind
from engagement.templates import replace_requests
from tasks.calls import calling, outside_task
from tasks.clients import systems
from tasks.drive import template_id

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


def template_paragraphs(template_key: str) -> list[str]:
    """The paragraphs of the template document `template_key` (e.g. "initiation-email"): found
    as `PsflowSettings.templates` names it (`tasks.drive.template_id`), then read with Docs.

    Raises:
        PermanentError: when the template is not found, or is not a Google Doc.

    Example:
        >>> template_paragraphs("initiation-email")[0]  # doctest: +SKIP
        'Subject: Welcome to {{company}} Professional Services – {{sow_number}}'
    """
    document_id = template_id(template_key)
    with calling(SYSTEM, f"template {template_key!r} (document {document_id})"):
        document = systems().docs().documents().get(documentId=document_id).execute()
    return paragraph_texts(document)


@outside_task("fill the {kind}")
def ensure_document_filled(document_id: str, kind: Kind, values: Mapping[str, str]) -> int:
    """Every `{{name}}` of `values` still in the document replaced by its value: one read, and
    one batchUpdate of replaceAllText requests when any is left (a re-run finds none).

    Returns:
        How many placeholders were replaced: 0 on a re-run.
    """
    documents = systems().docs().documents()
    with calling(SYSTEM, f"{kind.value} {document_id}"):
        texts = paragraph_texts(documents.get(documentId=document_id).execute())
        requests = replace_requests(texts, values)
        if requests:
            documents.batchUpdate(documentId=document_id, body={"requests": requests}).execute()
    return len(requests)
