"""Pacing on a real Prefect server: a request waits for its quota's rate limit instead of running into
the quota, and psflow counts each request toward the same quotas the sandbox does."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType

from core.quotas import QUOTAS, quotas_for
from sandbox.app import load_systems
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from tasks.clients import systems
from tasks.pacing import declare
from testkit.faults import PHASES, configured, prepare
from testkit.phases import run_phase

pytestmark = pytest.mark.e2e

LIST = next(q for q in QUOTAS if q.id == "slack.conversations.list")


@pytest.fixture(scope="module")
def world(prefect_api: str, sandbox_server: SandboxServer) -> Iterator[SandboxClient]:
    client = SandboxClient(sandbox_server.url)
    with configured(sandbox_server.url, pace=True):
        yield client
    client.set_quotas(False)
    client.reset()
    client.close()
    declare([LIST])  # back to the published size for the other tests on this server


@flow
def list_channels(times: int) -> int:
    """`times` conversations.list calls, back to back (each a Tier 2 request)."""
    for _ in range(times):
        systems().slack().conversations_list(limit=1)
    return times


def throttled(sandbox: SandboxClient, since: int) -> int:
    return sum(row["quota"] is not None for row in sandbox.requests(since=since))


def test_a_burst_waits_for_its_rate_limit_instead_of_running_into_the_quota(
    world: SandboxClient,
) -> None:
    # the sandbox enforces Tier 2 as 12 per 2 s, psflow paces by 10 per 2 s (a request may reach
    # the sandbox a little after its slot was granted: the two must not be equal)
    world.reset()
    # unpaced, 30 calls meet 12 in ten minutes however slowly a busy machine sends them (each
    # still asks Prefect's rate limit for a slot: under load, seconds apart)
    world.set_quotas(True, {LIST.id: 12}, {LIST.id: 600.0})
    try:
        declare([replace(LIST, limit=1000, window_seconds=2.0)])  # as good as unpaced
        start = world.last_request_id()
        unpaced = list_channels(30, return_state=True)
        assert unpaced.type == StateType.FAILED
        assert "ratelimited" in str(unpaced.message) or throttled(world, start) > 0
        assert throttled(world, start) >= 1  # so the sandbox does enforce it

        world.reset()  # a clean window: the sandbox's counters forget the unpaced burst
        world.set_quotas(True, {LIST.id: 12}, {LIST.id: 2.0})
        declare([replace(LIST, limit=10, window_seconds=2.0)])
        start = world.last_request_id()
        paced = list_channels(30, return_state=True)
        assert paced.type == StateType.COMPLETED, paced.message
        # (the served watcher, when this process has one, polls Salesforce meanwhile)
        rows = [row for row in world.requests(since=start) if row["system"] == "slack"]
        assert len(rows) == 30
        assert throttled(world, start) == 0
    finally:
        world.set_quotas(False)
        declare([LIST])


def test_psflow_counts_each_request_toward_the_quotas_the_sandbox_counts_it_toward(
    world: SandboxClient,
) -> None:
    world.reset()
    opportunity = prepare(world, "initiate")
    start = world.last_request_id()
    state, _ = run_phase(PHASES["initiate"], opportunity)
    assert state.type == StateType.COMPLETED, state.message
    rows = world.requests(since=start)
    systems = {system.name: system for system in load_systems()}
    paced = {quota.id for quota in QUOTAS}
    checked = 0
    for row in rows:
        sandbox_says = {
            q.id for q in systems[row["system"]].quotas if q.applies(row["method"], row["path"])
        }
        psflow_says = {q.id for q in quotas_for(row["system"], row["method"], row["path"])}
        assert psflow_says == sandbox_says & paced, row["method"] + " " + row["path"]
        checked += bool(psflow_says)
    assert checked >= 30  # Slack, Sheets, Mavenlink, Calendar, Gmail and GitLab requests among them

    # the run created the rate limits it paced by, at their quotas' sizes
    with get_client(sync_client=True) as client:
        limits = {limit.name: limit for limit in client.read_global_concurrency_limits(limit=200)}
    used = {q for q in QUOTAS if any(q.counts(r["method"], r["path"]) for r in rows)}
    assert {q.system for q in used} >= {"slack", "google", "gitlab", "mavenlink"}
    for quota in used:
        limit = limits[quota.rate_limit]
        assert (limit.limit, limit.slot_decay_per_second) == (
            quota.slots,
            quota.slot_decay_per_second,
        )
