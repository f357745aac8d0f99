"""Between Negotiating and the signature, and when the deal is lost or withdrawn: the checks the
handbook wants before the SOW is signed, told once; what the deal held released once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prefect.client.schemas.objects import StateType
from prefect.deployments import run_deployment

from sandbox.client import SandboxClient
from testkit.expect import written
from testkit.phases import negotiated, waiting_for_staffing
from testkit.runs import FINAL, flow_runs, run_of, wait_for_state, wait_until
from testkit.stack import PrefectStack

pytestmark = pytest.mark.e2e


def _keyed(sandbox: SandboxClient, kind: str, opportunity: str) -> list[dict[str, Any]]:
    return [
        m
        for m in sandbox.state("slack", "messages")
        if ((m.get("metadata") or {}).get("event_payload") or {})
        .get("psflow_key", "")
        .startswith(f"{kind}:{opportunity}")
    ]


def _review(sandbox: SandboxClient, opportunity: str) -> dict[str, Any]:
    (issue,) = [
        i
        for i in sandbox.state("gitlab", "issue")
        if opportunity in i["description"] and "TA review" in i["title"]
    ]
    return issue


def test_awaiting_signature_tells_the_engagement_manager_what_is_missing_once(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    (opportunity,) = negotiated(sandbox, amount=75_000)  # over $50k: a TA review, not approved
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="6-Awaiting Signature")
    run = run_of("awaiting-signature", opportunity)
    done = wait_for_state(run, *FINAL, timeout=90)
    assert done.type == StateType.COMPLETED, done.message
    assert "has not approved the review (label TA::Approved)" in done.message
    (told,) = _keyed(sandbox, "signature-check", opportunity)
    manager = next(u for u in sandbox.state("slack", "users") if u["name"] == "marcus_webb")
    assert told["text"].startswith(f"<@{manager['id']}> ")  # the engagement manager, mentioned
    (shown,) = [r for r in sandbox.state("slack", "rendered") if r["ts"] == told["ts"]]
    assert shown["notifies"] == [manager["id"]]

    # again (a repeated event, a re-run): nothing more is said
    before = sandbox.last_request_id()
    again = run_deployment(
        "awaiting-signature/awaiting-signature", parameters={"opportunity_id": opportunity}
    )
    assert again.state is not None
    assert again.state.type == StateType.COMPLETED
    assert written(sandbox, before) == {}

    # the Technical Architect approves: the opportunity is ready, and nobody is told again
    review = _review(sandbox, opportunity)
    httpx.put(  # in GitLab, as the reviewer
        f"{sandbox.url}/gitlab/api/v4/projects/{review['project_id']}/issues/{review['iid']}",
        json={"add_labels": "TA::Approved"},
        headers={"PRIVATE-TOKEN": "the-architects-token"},
        timeout=10,
    ).raise_for_status()
    ready = run_deployment(
        "awaiting-signature/awaiting-signature", parameters={"opportunity_id": opportunity}
    )
    assert ready.state is not None
    assert ready.state.message == ("Ready for signature: the estimate is complete")
    assert len(_keyed(sandbox, "signature-check", opportunity)) == 1


def test_a_lost_deal_releases_its_bookings_project_and_review_once(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    (opportunity,) = negotiated(sandbox, amount=75_000)
    start = sandbox.last_request_id()
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="8-Closed Lost")
    run = run_of("release", opportunity)
    done = wait_for_state(run, *FINAL, timeout=90)
    assert done.type == StateType.COMPLETED, done.message
    assert done.message == "Released: 1 soft bookings; project Cancelled"

    refs = [
        r
        for r in sandbox.state("mavenlink", "external_references")
        if opportunity in r["service_model_ref"]
    ]
    booked = {str(r["subject_id"]) for r in refs if r["service_model"] == "staffing-booking"}
    live = {str(a["id"]) for a in sandbox.state("mavenlink", "workspace_allocations")}
    assert booked
    assert not booked & live
    (workspace,) = [
        w
        for w in sandbox.state("mavenlink", "workspaces")
        if str(w["id"]) in {str(r["subject_id"]) for r in refs if r["service_model"] == "workspace"}
    ]
    assert workspace["status"]["message"] == "Cancelled"
    assert _review(sandbox, opportunity)["state"] == "closed"
    assert len(_keyed(sandbox, "engagement-released", opportunity)) == 1
    assert written(sandbox, start) == {"mavenlink": 2, "gitlab": 1, "slack": 1}

    before = sandbox.last_request_id()
    again = run_deployment("release/release", parameters={"opportunity_id": opportunity})
    assert again.state is not None
    assert again.state.type == StateType.COMPLETED
    assert written(sandbox, before) == {}


def test_a_deal_moved_back_before_negotiating_frees_its_pses_until_it_returns(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    (opportunity,) = negotiated(sandbox)  # approved and softly booked
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="4-Proposal")
    run = run_of("release", opportunity)
    done = wait_for_state(run, *FINAL, timeout=90)
    assert done.type == StateType.COMPLETED, done.message
    assert done.message == "Released: 1 soft bookings (4-Proposal)"
    assert _bookings(sandbox, opportunity) == 0
    (workspace,) = _workspaces(sandbox, opportunity)
    assert workspace["status"]["message"] == "Prospect"  # the deal is not lost
    assert len(_keyed(sandbox, "engagement-released", opportunity)) == 1

    # back in Negotiating: the approval stands, and the PSE is booked again
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="5-Negotiating")
    (served_run,) = wait_until(
        lambda: [
            r
            for r in flow_runs(opportunity)
            if r.name.startswith("pre-initiate ·") and r.deployment_id is not None
        ],
        90,
        "Pre-Initiate again",
    )
    again = wait_for_state(served_run, *FINAL, timeout=90)
    assert again.type == StateType.COMPLETED, again.message
    assert _bookings(sandbox, opportunity) == 1


def _refs(sandbox: SandboxClient, opportunity: str, model: str) -> set[str]:
    return {
        str(r["subject_id"])
        for r in sandbox.state("mavenlink", "external_references")
        if r["service_model"] == model and opportunity in r["service_model_ref"]
    }


def _bookings(sandbox: SandboxClient, opportunity: str) -> int:
    live = {str(a["id"]) for a in sandbox.state("mavenlink", "workspace_allocations")}
    return len(_refs(sandbox, opportunity, "staffing-booking") & live)


def _workspaces(sandbox: SandboxClient, opportunity: str) -> list[dict[str, Any]]:
    ids = _refs(sandbox, opportunity, "workspace")
    return [w for w in sandbox.state("mavenlink", "workspaces") if str(w["id"]) in ids]


def test_a_deal_lost_while_its_staffing_waits_asks_the_coordinator_no_more(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity, asking = waiting_for_staffing(sandbox)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="8-Closed Lost")
    done = wait_for_state(run_of("release", opportunity), *FINAL, timeout=90)
    assert done.type == StateType.COMPLETED, done.message
    assert done.message.endswith(f"; the staffing form withdrawn ({asking.name})")
    # the form is withdrawn, saying why: nobody approves staffing for a lost deal
    withdrawn = wait_for_state(asking, StateType.CANCELLED, *FINAL, timeout=30)
    assert withdrawn.type == StateType.CANCELLED
    assert withdrawn.message == "Withdrawn by release: the opportunity is 8-Closed Lost"
    assert _bookings(sandbox, opportunity) == 0
