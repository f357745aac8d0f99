"""The quotas psflow paces by: the published figures the sandbox enforces, each matched to its own
system's requests, each rate limit never letting a window hold more than its quota."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.quotas import (
    QUOTAS,
    SLACK_SPECIAL,
    SLACK_TIER_PER_MINUTE,
    SLACK_TIERS,
    SLOTS_PER_REQUEST,
    quotas_for,
)
from sandbox import slack as slack_sandbox
from sandbox.app import load_systems

ROOT = Path(__file__).resolve().parents[2]


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


def test_slack_paces_each_method_by_the_tier_the_sandbox_enforces() -> None:
    # the tiers as Slack's method pages give them: users.list Tier 2, users.lookupByEmail Tier 3,
    # users.info Tier 4 (the sandbox serves all three; psflow calls only lookupByEmail)
    assert SLACK_TIER_PER_MINUTE == slack_sandbox.PER_MINUTE
    enforced = {q.id: q for q in slack_sandbox.QUOTAS}
    for method, tier in SLACK_TIERS.items():
        assert slack_sandbox.TIERS.get(method) == tier, method
        path = f"/slack/api/{method}"
        assert enforced[f"slack.{method}"].applies("POST", path), method
        assert [q.id for q in quotas_for("slack", "POST", path)] == [f"slack.{method}"]
    assert not SLACK_SPECIAL & set(slack_sandbox.TIERS)


def test_every_slack_method_psflow_calls_is_paced_or_special() -> None:
    called = {
        name.replace("_", ".", 1)
        for folder in ("tasks", "flows", "psflow")
        for source in (ROOT / folder).glob("*.py")
        for name in re.findall(r"slack\(\)\.([a-z]+_[A-Za-z]+)", source.read_text())
    }
    assert "users.lookupByEmail" in called  # the scan finds psflow's calls
    assert called - set(SLACK_TIERS) - SLACK_SPECIAL == set()
