"""psflow's GitLab tasks against the sandbox: an issue exists once per natural key whatever fails in
between, found again by its labels and the key marker in its description."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest

from blocks import PsflowSettings
from engagement.keys import ArtifactKind, find_key_marker, gitlab_labels, natural_key
from sandbox import seed as demo
from sandbox.client import SandboxClient
from tasks import calls
from tasks.calls import PermanentError, TransientError
from tasks.gitlab import ensure_issue

PLANNING = PsflowSettings().planning_project  # ps-customers/ps-planning, seeded
OPPORTUNITY = demo.OPPORTUNITIES[2].id  # Globex – Kubernetes Integration, over $50k
KIND = ArtifactKind.TA_REVIEW_ISSUE
ISSUES = r"/gitlab/api/v4/projects/[^/]+/issues"


def issues_keyed(outside: SandboxClient, key: str) -> list[dict[str, Any]]:
    return [i for i in outside.state("gitlab", "issue") if find_key_marker(i["description"]) == key]


def ta_review(**overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "project_path": PLANNING,
        "kind": KIND,
        "opportunity_id": OPPORTUNITY,
        "title": "TA review: Globex – Kubernetes Integration (EUR 68,500)",
        "description": "Please review the cost estimate.",
    }
    return ensure_issue.fn(**(arguments | overrides))


def test_the_planning_project_is_seeded(outside: SandboxClient) -> None:
    (project,) = [p for p in outside.state("gitlab", "project") if p["path"] == "ps-planning"]
    assert project["name"] == "PS Planning"


def test_ensure_issue_creates_once(outside: SandboxClient) -> None:
    first = ta_review(labels=["needs-estimate"])
    assert first.created
    assert first.url is not None
    assert first.url.endswith(f"/{PLANNING}/-/issues/{first.id}")
    assert outside.writes(system="gitlab") == 1
    key = natural_key(KIND, OPPORTUNITY)
    (issue,) = issues_keyed(outside, key)
    assert issue["description"].startswith("Please review the cost estimate.\n\n<!-- psflow:key=")
    assert set(issue["labels"]) == {"needs-estimate", *gitlab_labels(KIND, OPPORTUNITY)}

    before = outside.last_request_id()
    again = ta_review(title="edited title")
    assert not again.created
    assert again.id == first.id
    assert outside.writes(system="gitlab", since=before) == 0
    # the look-up is filtered by the labels on the server, not a scan of the project
    (lookup,) = outside.requests(system="gitlab", method="GET", since=before)
    assert parse_qs(lookup["query"])["labels"] == [",".join(gitlab_labels(KIND, OPPORTUNITY))]


def test_issues_of_other_parts_and_closed_issues(outside: SandboxClient) -> None:
    activity = ArtifactKind.ACTIVITY_ISSUE
    first = ta_review(kind=activity, part="PS-K8S", title="PS-K8S")
    second = ta_review(kind=activity, part="PS-SEC", title="PS-SEC")
    assert first.created
    assert second.created
    assert first.id != second.id
    assert not ta_review(kind=activity, part="PS-K8S", title="PS-K8S").created
    assert len(issues_keyed(outside, natural_key(activity, OPPORTUNITY, "PS-K8S"))) == 1


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_a_create_whose_answer_is_lost_is_found_on_the_retry(
    outside: SandboxClient, kind: str
) -> None:
    outside.add_fault(ISSUES, method="POST", kind=kind, status=500, after_commit=True)
    with pytest.raises(TransientError, match=f"GitLab: ta-review-issue .* in project {PLANNING}"):
        ta_review()

    retried = ta_review()
    assert not retried.created
    assert [str(i["iid"]) for i in issues_keyed(outside, natural_key(KIND, OPPORTUNITY))] == [
        retried.id
    ]
    assert outside.writes(system="gitlab") == 1


def test_an_unknown_project_is_a_permanent_error(outside: SandboxClient) -> None:
    with pytest.raises(
        PermanentError, match=r"GitLab: .* in project ps-customers/nowhere: HTTP 404"
    ):
        ta_review(project_path="ps-customers/nowhere")
    assert outside.writes(system="gitlab") == 0


def test_throttling_is_left_to_psflow(
    outside: SandboxClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # python-gitlab would wait a 429 out and retry by itself; psflow's policy must see it instead
    monkeypatch.setattr(calls, "MAX_RETRY_AFTER_SECONDS", 0.01)
    outside.add_fault(ISSUES, method="GET", status=429, retry_after=30)
    with pytest.raises(TransientError) as info:
        ta_review()
    assert info.value.status == 429
    assert len(outside.requests(system="gitlab")) == 1
