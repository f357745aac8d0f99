"""The Docs v1 and Slides v1 stand-ins, driven through googleapiclient as the Google Block builds it:
reading the real document and presentation JSON, and changing their text with batchUpdate."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

from blocks.google import GoogleWorkspaceConnection
from sandbox import seed as org
from sandbox.client import SandboxClient


@pytest.fixture
def google(sandbox: SandboxClient, sandbox_url: str) -> GoogleWorkspaceConnection:
    return GoogleWorkspaceConnection(root_url=f"{sandbox_url}/google/", access_token="docs-token")


def template_id(google: GoogleWorkspaceConnection, key: str) -> str:
    name = next(t.name for t in org.TEMPLATES if t.key == key)
    q = f"name = '{name}' and trashed = false"
    [found] = google.drive().files().list(q=q).execute()["files"]
    return str(found["id"])


def copy_of(google: GoogleWorkspaceConnection, key: str, name: str) -> str:
    """A fresh copy of a template, as psflow makes one before filling it in."""
    drive = google.drive()
    return str(
        drive.files().copy(fileId=template_id(google, key), body={"name": name}).execute()["id"]
    )


def paragraphs(document: dict[str, Any]) -> list[str]:
    return [
        "".join(e["textRun"]["content"] for e in block["paragraph"]["elements"])
        for block in document["body"]["content"]
        if "paragraph" in block
    ]


def replace(
    text: str, by: str, match_case: bool = True, pages: list[str] | None = None
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "containsText": {"text": text, "matchCase": match_case},
        "replaceText": by,
    }
    if pages is not None:
        request["pageObjectIds"] = pages  # Slides only
    return {"replaceAllText": request}


# --- Docs ----------------------------------------------------------------------------------------


def test_a_document_reads_as_docs_json_with_contiguous_indices(
    google: GoogleWorkspaceConnection,
) -> None:
    doc_id = template_id(google, "change-request")
    doc = google.docs().documents().get(documentId=doc_id).execute()
    assert doc["documentId"] == doc_id
    assert doc["title"] == "Change Request Template"
    assert doc["revisionId"]
    template = next(t for t in org.TEMPLATES if t.key == "change-request")
    assert paragraphs(doc) == [line + "\n" for line in template.text]

    content = doc["body"]["content"]
    assert content[0] == {"endIndex": 1, "sectionBreak": content[0]["sectionBreak"]}
    index = 1
    for block in content[1:]:
        assert block["startIndex"] == index
        run = block["paragraph"]["elements"][0]
        assert (run["startIndex"], run["endIndex"]) == (block["startIndex"], block["endIndex"])
        assert block["endIndex"] - index == len(run["textRun"]["content"])
        index = block["endIndex"]

    tabbed = google.docs().documents().get(documentId=doc_id, includeTabsContent=True).execute()
    assert "body" not in tabbed
    assert tabbed["tabs"][0]["documentTab"]["body"] == doc["body"]


def test_replace_all_text_round_trip(
    google: GoogleWorkspaceConnection, sandbox: SandboxClient
) -> None:
    doc_id = copy_of(google, "acceptance-request", "Acme – acceptance of PS-MIG")
    docs = google.docs().documents()
    before = docs.get(documentId=doc_id).execute()
    modified = (
        google.drive().files().get(fileId=doc_id, fields="modifiedTime").execute()["modifiedTime"]
    )
    sandbox.advance_clock(days=1)

    reply = docs.batchUpdate(
        documentId=doc_id,
        body={
            "requests": [
                replace("{{CUSTOMER}}", "Acme Corporation", match_case=False),
                replace("{{activity}}", "SCM migration"),
                replace("{{Activity}}", "nothing", match_case=True),  # no such text
            ]
        },
    ).execute()
    assert reply["documentId"] == doc_id
    assert reply["replies"] == [
        {"replaceAllText": {"occurrencesChanged": 1}},
        {"replaceAllText": {"occurrencesChanged": 2}},
        {"replaceAllText": {}},  # Google's JSON leaves out a zero
    ]
    after = docs.get(documentId=doc_id).execute()
    assert paragraphs(after)[0] == "Subject: Acme Corporation – acceptance of SCM migration\n"
    assert "We have completed SCM migration under" in paragraphs(after)[2]
    assert after["revisionId"] != before["revisionId"]
    assert reply["writeControl"] == {"requiredRevisionId": after["revisionId"]}

    drive = google.drive().files()
    assert drive.get(fileId=doc_id, fields="modifiedTime").execute()["modifiedTime"] > modified
    found = drive.list(q="fullText contains '\"acceptance of SCM migration\"'").execute()
    assert [f["id"] for f in found["files"]] == [doc_id]
    template = docs.get(documentId=template_id(google, "acceptance-request")).execute()
    assert "{{customer}}" in paragraphs(template)[0]  # the template itself is untouched
    assert sandbox.writes(service="docs") == 1


def test_insert_and_delete_text_count_utf16_code_units(google: GoogleWorkspaceConnection) -> None:
    doc_id = copy_of(google, "closure-agenda", "Closure")
    docs = google.docs().documents()
    end = docs.get(documentId=doc_id).execute()["body"]["content"][-1]["endIndex"]
    docs.batchUpdate(
        documentId=doc_id,
        body={
            "requests": [
                {"insertText": {"location": {"index": 1}, "text": "🎉 Done. "}},
                {"insertText": {"endOfSegmentLocation": {}, "text": "\n5. Thanks"}},
            ]
        },
    ).execute()
    doc = docs.get(documentId=doc_id).execute()
    assert paragraphs(doc)[0] == "🎉 Done. {{customer}} – project closure ({{sow_number}})\n"
    assert paragraphs(doc)[-1] == "5. Thanks\n"
    # the emoji is two UTF-16 code units, so the body grew by 2 + 7 + 10
    assert doc["body"]["content"][-1]["endIndex"] == end + 19

    docs.batchUpdate(
        documentId=doc_id,
        body={"requests": [{"deleteContentRange": {"range": {"startIndex": 1, "endIndex": 10}}}]},
    ).execute()
    assert (
        paragraphs(docs.get(documentId=doc_id).execute())[0]
        == "{{customer}} – project closure ({{sow_number}})\n"
    )


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"insertText": {"location": {"index": 9999}, "text": "x"}}, "must be less than"),
        ({"insertText": {"location": {"index": 0}, "text": "x"}}, "insertion index"),
        ({"deleteContentRange": {"range": {"startIndex": 1, "endIndex": 9999}}}, "newline"),
        ({"replaceAllText": {"containsText": {"text": ""}, "replaceText": "x"}}, "empty"),
        ({"frobnicate": {}}, 'Unknown name "frobnicate"'),
        ({"insertTable": {"rows": 1, "columns": 1}}, "not supported"),
    ],
)
def test_an_invalid_request_is_400_and_the_batch_applies_nothing(
    google: GoogleWorkspaceConnection, request_: dict[str, Any], message: str
) -> None:
    doc_id = copy_of(google, "closure-agenda", "Closure")
    docs = google.docs().documents()
    before = docs.get(documentId=doc_id).execute()
    with pytest.raises(HttpError) as err:
        docs.batchUpdate(
            documentId=doc_id, body={"requests": [replace("{{customer}}", "Acme"), request_]}
        ).execute()
    assert err.value.status_code == 400
    assert message in err.value.reason
    assert docs.get(documentId=doc_id).execute() == before


def test_unknown_documents_are_404_and_a_sheet_is_not_a_document(
    google: GoogleWorkspaceConnection,
) -> None:
    docs = google.docs().documents()
    with pytest.raises(HttpError) as err:
        docs.get(documentId="nope").execute()
    assert err.value.status_code == 404
    assert err.value.error_details[0]["reason"] == "notFound"
    with pytest.raises(HttpError) as err:
        docs.batchUpdate(documentId="nope", body={"requests": []}).execute()
    assert err.value.status_code == 404
    with pytest.raises(HttpError) as err:
        docs.get(documentId=template_id(google, "cost-estimate")).execute()
    assert err.value.status_code == 400


# --- Slides --------------------------------------------------------------------------------------


def test_a_presentation_reads_as_slides_json(google: GoogleWorkspaceConnection) -> None:
    deck_id = template_id(google, "kickoff-deck")
    deck = google.slides().presentations().get(presentationId=deck_id).execute()
    assert deck["presentationId"] == deck_id
    assert deck["title"] == "Customer Project Kickoff"
    assert [s["objectId"] for s in deck["slides"]] == ["slide_0", "slide_1", "slide_2", "slide_3"]
    title = deck["slides"][0]["pageElements"][0]["shape"]["text"]["textElements"]
    assert title == [
        {"endIndex": 31, "paragraphMarker": {"style": {}}},
        {"endIndex": 31, "textRun": {"content": "{{customer}} – Project Kickoff\n", "style": {}}},
    ]


def deck_texts(google: GoogleWorkspaceConnection, deck_id: str) -> list[list[str]]:
    deck = google.slides().presentations().get(presentationId=deck_id).execute()
    return [
        [
            "".join(
                t["textRun"]["content"]
                for t in e["shape"]["text"]["textElements"]
                if "textRun" in t
            )
            for e in slide["pageElements"]
        ]
        for slide in deck["slides"]
    ]


def test_slides_replace_all_text_everywhere_or_on_chosen_pages(
    google: GoogleWorkspaceConnection, sandbox: SandboxClient
) -> None:
    deck_id = copy_of(google, "kickoff-deck", "Acme – Kickoff")
    slides = google.slides().presentations()
    reply = slides.batchUpdate(
        presentationId=deck_id,
        body={
            "requests": [
                replace("{{customer}}", "Acme Corporation"),
                replace("{{start}}", "2026-05-04", pages=["slide_1"]),  # it is on slide_2
                replace("{{end}}", "2026-06-26", pages=["slide_2"]),
            ]
        },
    ).execute()
    assert reply["presentationId"] == deck_id
    assert reply["replies"] == [
        {"replaceAllText": {"occurrencesChanged": 1}},
        {"replaceAllText": {}},
        {"replaceAllText": {"occurrencesChanged": 1}},
    ]
    assert deck_texts(google, deck_id) == [
        ["Acme Corporation – Project Kickoff\n", "{{sow_number}} · {{opportunity}}\n"],
        ["Team: {{team}}\n"],
        ["Timeline: {{start}} – 2026-06-26\n"],
        ["Milestones: {{milestones}}\n"],
    ]
    assert "writeControl" in reply
    assert sandbox.writes(service="slides") == 1

    with pytest.raises(HttpError) as err:
        slides.batchUpdate(
            presentationId=deck_id,
            body={"requests": [replace("x", "y", pages=["no_such_slide"])]},
        ).execute()
    assert err.value.status_code == 400
    with pytest.raises(HttpError) as err:
        slides.get(presentationId="nope").execute()
    assert err.value.status_code == 404


# --- quotas and faults ---------------------------------------------------------------------------


def test_docs_write_quota_answers_429_and_reads_go_on(
    google: GoogleWorkspaceConnection, sandbox: SandboxClient
) -> None:
    doc_id = copy_of(google, "closure-agenda", "Closure")
    docs = google.docs().documents()
    sandbox.set_quotas(True, {"google.docs-write-per-user": 1})
    body = {"requests": [replace("{{customer}}", "Acme")]}
    docs.batchUpdate(documentId=doc_id, body=body).execute()
    with pytest.raises(HttpError) as err:
        docs.batchUpdate(documentId=doc_id, body=body).execute()
    assert err.value.status_code == 429
    assert err.value.error_details[0]["reason"] == "rateLimitExceeded"
    assert "docs.googleapis.com" in err.value.reason
    assert docs.get(documentId=doc_id).execute()["documentId"] == doc_id
    assert [r["quota"] for r in sandbox.requests(status=429)] == ["google.docs-write-per-user"]


def test_slides_read_quota_answers_429(
    google: GoogleWorkspaceConnection, sandbox: SandboxClient
) -> None:
    deck_id = template_id(google, "kickoff-deck")
    sandbox.set_quotas(True, {"google.slides-read-per-user": 1})
    slides = google.slides().presentations()
    slides.get(presentationId=deck_id).execute()
    with pytest.raises(HttpError) as err:
        slides.get(presentationId=deck_id).execute()
    assert err.value.status_code == 429


def test_a_503_on_batch_update_changes_nothing(
    google: GoogleWorkspaceConnection, sandbox: SandboxClient
) -> None:
    doc_id = copy_of(google, "closure-agenda", "Closure")
    docs = google.docs().documents()
    sandbox.add_fault(r"/google/v1/documents/.*:batchUpdate", status=503, retry_after=1)
    with pytest.raises(HttpError) as err:
        docs.batchUpdate(
            documentId=doc_id, body={"requests": [replace("{{customer}}", "Acme")]}
        ).execute()
    assert err.value.status_code == 503
    assert "{{customer}}" in paragraphs(docs.get(documentId=doc_id).execute())[0]


def test_a_replace_that_fails_after_commit_is_safe_to_send_again(
    google: GoogleWorkspaceConnection, sandbox: SandboxClient
) -> None:
    """replaceAllText of placeholders is idempotent: the retry finds nothing left to replace."""
    doc_id = copy_of(google, "closure-agenda", "Closure")
    docs = google.docs().documents()
    body = {"requests": [replace("{{customer}}", "Acme Corporation")]}
    sandbox.add_fault(r"/google/v1/documents/.*:batchUpdate", status=500, after_commit=True)
    with pytest.raises(HttpError):
        docs.batchUpdate(documentId=doc_id, body=body).execute()
    retry = docs.batchUpdate(documentId=doc_id, body=body).execute()
    assert retry["replies"] == [{"replaceAllText": {}}]
    assert paragraphs(docs.get(documentId=doc_id).execute())[0] == (
        "Acme Corporation – project closure ({{sow_number}})\n"
    )
