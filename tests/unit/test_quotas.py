"""The quotas psflow paces by: the published figures the sandbox enforces, each matched to its own
system's requests, each rate limit never letting a window hold more than its quota."""

from __future__ import annotations

import pytest

from core.quotas import QUOTAS, SLOTS_PER_REQUEST, quotas_for
from sandbox.app import load_systems


def test_each_paced_quota_is_the_published_one_the_sandbox_enforces() -> None:
    published = {q.id: q for system in load_systems() for q in system.quotas}
    for quota in QUOTAS:
        assert quota.id in published, quota.id
        assert (quota.limit, quota.window_seconds) == (
            published[quota.id].limit,
            published[quota.id].window_seconds,
        ), quota.id
        # no window of the quota's length lets more than its limit through
        per_window = (
            quota.burst + quota.slot_decay_per_second / SLOTS_PER_REQUEST * quota.window_seconds
        )
        assert per_window == pytest.approx(quota.limit)
        assert quota.burst >= 1


def test_a_quota_counts_only_its_own_systems_requests() -> None:
    # Mavenlink's /api/v1/ must not take Google Docs' /v1/documents, nor Slack's /api/ GitLab's
    assert [q.id for q in quotas_for("google", "POST", "/v1/documents/d1:batchUpdate")] == [
        "google.docs-write-per-user"
    ]
    assert quotas_for("gitlab", "POST", "/api/v4/projects") == []
    assert quotas_for("mavenlink", "GET", "/v1/documents/d1") == []
    assert [q.id for q in quotas_for("gitlab", "GET", "/api/v4/projects/42")] == [
        "gitlab.get-project"
    ]
    assert quotas_for("salesforce", "GET", "/services/data/v59.0/query/") == []
    assert [q.id for q in quotas_for("slack", "POST", "https://slack.com/api/pins.add")] == [
        "slack.pins.add"
    ]
    assert quotas_for("slack", "POST", "https://slack.com/api/chat.postMessage") == []
