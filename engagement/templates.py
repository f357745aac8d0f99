"""E-mail templates: text with `{{placeholders}}`, filled from plain values, split into a subject
and a body.

The PS team keeps its e-mail templates as Google Docs (so they change wording without a code
change): the first paragraph is "Subject: ...", the rest is the body. Values are plain text,
never markup: they are put in as they are, in one pass, so a value that itself contains
"{{name}}" stays literal text. The subject becomes a mail header, so it is reduced to one line
without control characters: no value (a customer name pasted with a line break) can add a header.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engagement.lifecycle import Team
from engagement.models import Opportunity
from engagement.slugs import one_line

# A placeholder is a name of letters, digits and "_" between double braces; spaces inside the
# braces are allowed ("{{ customer }}"), as people type them in a document.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACES = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_SUBJECT = re.compile(r"\s*subject\s*:", re.IGNORECASE)
# Mail clients show about 80 characters of a subject; 255 keeps every real one whole and a
# runaway value (a 300-character customer name) from making an unreadable header.
MAX_SUBJECT = 255
_KEPT_IN_BODY = "\n\t"  # the only control characters a plain-text body keeps


class Template(BaseModel):
    """A template document by its key in `PsflowSettings.templates` (e.g. "initiation-email"), and
    the values of its placeholders: what a task that writes from a template is given, so it reads
    the document only when the object it makes is missing."""

    model_config = ConfigDict(frozen=True)

    key: str
    values: dict[str, str]


class Attachment(BaseModel):
    """A file sent with an e-mail, e.g. the status report's burn-down chart."""

    model_config = ConfigDict(frozen=True)

    filename: str = Field(pattern=r"^[\w .()-]{1,100}\.[A-Za-z0-9]{1,8}$")
    mime_type: str = Field(pattern=r"^[a-z]+/[a-z0-9.+-]+$")  # e.g. "image/png"
    data: bytes


class Email(BaseModel):
    """An e-mail's text as a template gives it: a one-line subject and a plain-text body, and
    any files sent with it."""

    model_config = ConfigDict(frozen=True)

    subject: str
    body: str
    attachments: tuple[Attachment, ...] = ()


def placeholders(text: str) -> list[str]:
    """The placeholder names in `text`, each once, in order of first use.

    Raises:
        ValueError: naming a `{{...}}` whose inside is not a placeholder name.

    Example:
        >>> placeholders("Dear {{contact_first_name}}, {{ customer }} and {{customer}}")
        ['contact_first_name', 'customer']
    """
    names: list[str] = []
    for match in _BRACES.finditer(text):
        name = match.group(1).strip()
        if not _NAME.fullmatch(name):
            raise ValueError(
                f"template has a malformed placeholder {match.group(0)!r}: expected a name of "
                "letters, digits and '_' in double braces, like {{customer}}"
            )
        if name not in names:
            names.append(name)
    return names


def _check_values(texts: Sequence[str], values: Mapping[str, str]) -> None:
    missing = [name for text in texts for name in placeholders(text) if name not in values]
    if missing:
        listed = ", ".join("{{" + name + "}}" for name in dict.fromkeys(missing))
        raise ValueError(f"template placeholders without a value: {listed}")


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with every `{{name}}` replaced by `values[name]`.

    Raises:
        ValueError: naming every placeholder that has no value (nothing is half-filled), or a
            malformed one.

    Example:
        >>> fill("Welcome, {{ customer }}!", {"customer": "Acme"})
        'Welcome, Acme!'
    """
    _check_values([text], values)
    return _BRACES.sub(lambda match: str(values[match.group(1).strip()]), text)


def _clean_body(text: str) -> str:
    """Line endings as "\\n"; control characters other than newline and tab dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        char
        for char in text
        if char in _KEPT_IN_BODY or unicodedata.category(char) not in ("Cc", "Cf", "Cs")
    )


def subject_line(text: str) -> str:
    """`text` as a safe one-line subject: control and invisible characters removed, line breaks
    and runs of whitespace made one space, at most `MAX_SUBJECT` characters."""
    return one_line(text, MAX_SUBJECT)


def email_from_template(paragraphs: Sequence[str], values: Mapping[str, str]) -> Email:
    """The e-mail a template document gives with `values` filled in.

    Args:
        paragraphs: the document's paragraphs, in order (empty ones are fine); the first non-empty
            one is "Subject: ...". Line breaks within a paragraph ("\\n") are kept.
        values: the text for each placeholder, e.g. {"customer": "Acme Corporation"}.

    Returns:
        The subject on one line, and the body: the other paragraphs, separated by a blank line.

    Raises:
        ValueError: when the first paragraph is not a subject, the subject is empty, or a
            placeholder has no value.

    Example:
        >>> email_from_template(["Subject: Hi {{name}}", "Dear {{name}},", "Bye"], {"name": "Ann"})
        Email(subject='Hi Ann', body='Dear Ann,\\n\\nBye', attachments=())
    """
    texts = [paragraph for paragraph in paragraphs if paragraph.strip()]
    first = texts[0] if texts else ""
    match = _SUBJECT.match(first)
    if match is None:
        raise ValueError(
            "e-mail template must start with a paragraph 'Subject: ...'; "
            f"its first paragraph is {one_line(first, 80)!r}"
        )
    _check_values(texts, values)  # all paragraphs first: one error lists every missing value
    subject = subject_line(fill(first[match.end() :], values))
    if not subject:
        raise ValueError("e-mail template gives an empty subject")
    body = "\n\n".join(_clean_body(fill(text, values)).strip("\n") for text in texts[1:])
    return Email(subject=subject, body=body)


def issue_description(paragraphs: Sequence[str], values: Mapping[str, str]) -> str:
    """An issue's description from a template document: its paragraphs after the first (the
    document's heading, for whoever edits it) with `values` filled in, one per line.

    Raises:
        ValueError: naming every placeholder that has no value, or a malformed one.

    Example:
        >>> issue_description(["Hand-off", "- [ ] {{customer}} SOW read"], {"customer": "Acme"})
        '- [ ] Acme SOW read'
    """
    return "\n".join(fill(paragraph, values) for paragraph in paragraphs[1:])


def engagement_values(
    opportunity: Opportunity, team: Team, names: Mapping[str, str], company: str
) -> dict[str, str]:
    """The value of every placeholder an engagement's templates may use. `names` are people's
    names by e-mail address; someone without one is named by their address."""
    contact = opportunity.primary_contact
    return {
        "company": company,
        "customer": opportunity.account.name,
        "opportunity": opportunity.name,
        "sow_number": opportunity.sow_number or "",
        "contact_first_name": contact.first_name if contact else "",
        "project_owner": names.get(team.project_owner, team.project_owner),
        "coordinator": names.get(team.coordinator, team.coordinator),
        "engagement_manager": names.get(team.engagement_manager, team.engagement_manager),
    }


_FILLABLE = re.compile(r"\{\{\s*([A-Za-z_]+)\s*\}\}")


def replace_requests(texts: Iterable[str], values: Mapping[str, str]) -> list[dict[str, Any]]:
    """The replaceAllText requests (Docs and Slides share them) for each `{{name}}` of `values`
    still in `texts`: none once a copy is filled, and a text a person rewrote is theirs.

    Example:
        >>> replace_requests(["Dear {{customer}}", "done"], {"customer": "Acme", "other": "x"})
        [{'replaceAllText': {'containsText': {'text': '{{customer}}', 'matchCase': True}, \
'replaceText': 'Acme'}}]
    """
    left = {name for text in texts for name in _FILLABLE.findall(text)}
    return [
        {
            "replaceAllText": {
                "containsText": {"text": "{{" + name + "}}", "matchCase": True},
                "replaceText": values[name],
            }
        }
        for name in sorted(left & values.keys())
    ]
