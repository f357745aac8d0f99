"""psflow's Docs task against the sandbox: e-mail templates are read from the Google Docs in the
templates folder, so an edit the PS team makes there is what the next e-mail says."""

from __future__ import annotations

import re
from typing import Any

import pytest

from engagement.templates import email_from_template
from sandbox import seed
from sandbox.client import SandboxClient
from tasks.calls import PermanentError
from tasks.clients import systems
from tasks.docs import paragraph_texts, template_paragraphs
from tasks.drive import template_id
from testkit.outside import use_templates

VALUES = {
    "company": seed.COMPANY,
    "sow_number": "SOW-2026-041",
    "contact_first_name": "Dana",
    "project_owner": "Aisha Bello",
    "coordinator": "Priya Raman",
    "opportunity": "Acme – CI/CD Modernisation",
}


def seeded(key: str) -> list[str]:
    [template] = [t for t in seed.TEMPLATES if t.key == key]
    return list(template.text)


@pytest.mark.parametrize("key", ["initiation-email", "initiation-email-existing", "sign-off-email"])
def test_reads_the_template_paragraphs(outside: SandboxClient, key: str) -> None:
    assert template_paragraphs(key) == seeded(key)
    assert outside.writes() == 0
    assert len(outside.requests(service="docs")) == 1


def test_new_and_existing_customer_templates_round_trip(outside: SandboxClient) -> None:
    new = email_from_template(template_paragraphs("initiation-email"), VALUES)
    existing = email_from_template(template_paragraphs("initiation-email-existing"), VALUES)

    assert new.subject == f"Welcome to {seed.COMPANY} Professional Services – SOW-2026-041"
    assert new.body.startswith(f"Dear Dana,\n\nThank you for choosing {seed.COMPANY}. I am Priya")
    assert existing.subject == f"Your next engagement with {seed.COMPANY} – SOW-2026-041"
    assert existing.body.startswith("Dear Dana,\n\nGreat to be working together again.")
    for email in (new, existing):
        assert "{{" not in email.subject + email.body
        assert email.body.endswith("Kind regards, Priya Raman")


def test_an_edit_in_docs_is_read_without_a_code_change(outside: SandboxClient) -> None:
    document_id = template_id("initiation-email")
    edit = {
        "replaceAllText": {
            "containsText": {"text": "Kind regards,", "matchCase": True},
            "replaceText": "P.S. Your kickoff is on {{kickoff_date}}.\nKind regards,",
        }
    }
    systems().docs().documents().batchUpdate(
        documentId=document_id, body={"requests": [edit]}
    ).execute()

    paragraphs = template_paragraphs("initiation-email")
    assert paragraphs[-2:] == [
        "P.S. Your kickoff is on {{kickoff_date}}.",
        "Kind regards, {{coordinator}}",
    ]
    with pytest.raises(ValueError, match=r"\{\{kickoff_date\}\}"):
        email_from_template(paragraphs, VALUES)
    email = email_from_template(paragraphs, {**VALUES, "kickoff_date": "2 March"})
    assert email.body.endswith("P.S. Your kickoff is on 2 March.\n\nKind regards, Priya Raman")


def test_paragraph_texts_of_a_docs_answer() -> None:
    """The parts of a real Docs answer the stand-in does not produce: a paragraph of several
    runs, a soft line break (Shift+Enter, stored as a vertical tab) and a table."""

    def paragraph(*runs: str) -> dict[str, Any]:
        return {"paragraph": {"elements": [{"textRun": {"content": run}} for run in runs]}}

    document = {
        "body": {
            "content": [
                {"sectionBreak": {}},
                paragraph("Subject: Hi ", "{{customer}}", "\n"),
                {"table": {"rows": 1}},
                paragraph("Kind regards,\x0b{{project_owner}}\n"),
                paragraph("\n"),
            ]
        }
    }
    assert paragraph_texts(document) == [
        "Subject: Hi {{customer}}",
        "Kind regards,\n{{project_owner}}",
        "",
    ]
    assert paragraph_texts({}) == []


def test_a_template_not_in_the_settings_is_a_permanent_error(outside: SandboxClient) -> None:
    with pytest.raises(
        PermanentError, match=re.escape("template 'no-such-email': not in PsflowSettings.templates")
    ):
        template_paragraphs("no-such-email")


def test_a_template_is_read_by_the_file_id_in_its_setting(
    outside: SandboxClient, sandbox_url: str
) -> None:
    document_id = template_id("sign-off-email")
    use_templates(sandbox_url, **{"initiation-email": document_id})
    outside.clear_requests()
    assert template_paragraphs("initiation-email") == seeded("sign-off-email")
    assert [r["service"] for r in outside.requests()] == ["drive", "docs"]  # no folder look-up


def test_a_template_missing_from_the_folder_names_its_setting(outside: SandboxClient) -> None:
    document_id = template_id("initiation-email")
    systems().drive().files().update(fileId=document_id, body={"trashed": True}).execute()
    with pytest.raises(
        PermanentError,
        match=re.escape(
            "template 'initiation-email' named 'Initiation Email – New Customer' in folder "
            "'PS Templates' (setting PsflowSettings.templates['initiation-email']): not found"
        ),
    ):
        template_paragraphs("initiation-email")


def test_a_template_that_is_not_a_document_is_a_permanent_error(outside: SandboxClient) -> None:
    with pytest.raises(PermanentError, match=r"Google Docs: template 'cost-estimate' .*HTTP 4"):
        template_paragraphs("cost-estimate")  # a Google Sheet
