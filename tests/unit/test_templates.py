"""engagement.templates: placeholders filled from plain values, and a template document's
paragraphs turned into a one-line subject and a body."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engagement.templates import MAX_SUBJECT, Email, email_from_template, fill, placeholders
from sandbox import seed

VALUES = {
    "company": "Northwind Cloud",
    "customer": "Acme Corporation",
    "sow_number": "SOW-2026-041",
    "contact_first_name": "Dana",
    "project_owner": "Aisha Bello",
    "coordinator": "Priya Raman",
    "opportunity": "Acme – CI/CD Modernisation",
}


def template_text(key: str) -> tuple[str, ...]:
    [template] = [t for t in seed.TEMPLATES if t.key == key]
    return template.text


# --- fill ----------------------------------------------------------------------------------------


def test_fill_replaces_every_placeholder() -> None:
    text = "{{customer}} / {{ customer }} / {{sow_number}}"
    assert fill(text, VALUES) == "Acme Corporation / Acme Corporation / SOW-2026-041"


def test_fill_without_placeholders_is_the_text_itself() -> None:
    assert fill("No braces {here} at all }}", {}) == "No braces {here} at all }}"


def test_fill_names_every_missing_placeholder_once() -> None:
    with pytest.raises(ValueError, match=r"without a value: \{\{customer\}\}, \{\{activity\}\}$"):
        fill("{{customer}} {{activity}} {{customer}} {{company}}", {"company": "N"})


@pytest.mark.parametrize("text", ["{{contact first name}}", "{{}}", "{{1st}}", "{{a-b}}"])
def test_fill_refuses_a_malformed_placeholder(text: str) -> None:
    with pytest.raises(ValueError, match="malformed placeholder"):
        fill(f"Dear {text},", {"contact first name": "x", "": "x", "1st": "x", "a-b": "x"})


def test_values_are_plain_text_never_expanded_again() -> None:
    values = {"customer": "{{company}} \\1 $0", "company": "Northwind"}
    assert fill("Hello {{customer}}", values) == "Hello {{company}} \\1 $0"


def test_placeholders_in_order_of_first_use() -> None:
    assert placeholders("{{b}} {{a}} {{ b }}") == ["b", "a"]


# --- e-mail from a template document ------------------------------------------------------------


def test_new_customer_initiation_email() -> None:
    email = email_from_template(template_text("initiation-email"), VALUES)
    assert email.subject == "Welcome to Northwind Cloud Professional Services – SOW-2026-041"
    assert email.body == (
        "Dear Dana,\n\n"
        "Thank you for choosing Northwind Cloud. I am Priya Raman, the PS Project Coordinator "
        "of Acme – CI/CD Modernisation; Aisha Bello will be your project owner. In the coming "
        "days we will schedule a kickoff to confirm scope, timeline and the team.\n\n"
        "Kind regards, Priya Raman"
    )


def test_existing_customer_template_differs() -> None:
    new = email_from_template(template_text("initiation-email"), VALUES)
    existing = email_from_template(template_text("initiation-email-existing"), VALUES)
    assert existing.subject == "Your next engagement with Northwind Cloud – SOW-2026-041"
    assert existing.body.startswith("Dear Dana,\n\nGreat to be working together again.")
    assert existing != new


def test_a_value_cannot_break_the_subject_into_headers() -> None:
    hostile = {**VALUES, "customer": "Acme\r\nBcc: evil@x.example\u2028\u202e"}
    email = email_from_template(["Subject: {{customer}}- project sign off", "Hi"], hostile)
    assert email.subject == "Acme Bcc: evil@x.example - project sign off"


def test_subject_is_kept_to_a_readable_length() -> None:
    email = email_from_template(["Subject: {{customer}}", "Hi"], {"customer": "x" * 300})
    assert len(email.subject) == MAX_SUBJECT


def test_layout_of_the_document() -> None:
    paragraphs = ["", "  subject :  Hello {{customer}} ", "", "Line one\nline two", "", "", "Bye"]
    assert email_from_template(paragraphs, VALUES) == Email(
        subject="Hello Acme Corporation", body="Line one\nline two\n\nBye"
    )


def test_body_keeps_line_breaks_and_drops_other_controls() -> None:
    values = {"notes": "first\r\nsecond\rthird\x00\x1b[31m\u200b"}
    email = email_from_template(["Subject: s", "{{notes}}"], values)
    assert email.body == "first\nsecond\nthird[31m"


@pytest.mark.parametrize(
    "paragraphs",
    [[], ["", "  "], ["Dear {{contact_first_name}},", "Subject: late"], ["Subj: x", "body"]],
)
def test_the_first_paragraph_must_be_the_subject(paragraphs: list[str]) -> None:
    with pytest.raises(ValueError, match=r"must start with a paragraph 'Subject: \.\.\.'"):
        email_from_template(paragraphs, VALUES)


def test_an_empty_subject_is_refused() -> None:
    with pytest.raises(ValueError, match="empty subject"):
        email_from_template(["Subject: {{customer}}", "Hi"], {"customer": "\r\n \t"})


def test_missing_values_anywhere_are_listed_together() -> None:
    with pytest.raises(ValueError, match=r"\{\{customer\}\}, \{\{activity\}\}"):
        email_from_template(["Subject: {{customer}}", "Done: {{activity}}"], {})


@given(st.text())
def test_no_value_ever_yields_a_multi_line_subject(value: str) -> None:
    try:
        email = email_from_template(["Subject: Re {{v}}", "{{v}}"], {"v": value})
    except ValueError:
        pytest.fail("a non-empty subject prefix always gives a subject")
    assert email.subject.startswith("Re")
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in email.subject)
    assert "\r" not in email.body
