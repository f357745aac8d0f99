"""Deploy & Close through the served deployments: Validate's completion starts Close, which asks
the customer to sign off; a stranger's "accepted" is named and signs nothing off; the customer's
(the served mail watcher and reply run) signs off and starts Close again, which stops at an hour
without a cost rate before any write and, fixed in Kantata, goes on at its Retry: the wrap-up,
the closeout report the Project Owner approves in its form, the closure meeting, the loose ends,
and, once the coordinator says billing is done (her form's wait outlives a restart of the server
and the runner), Completed in Salesforce and Mavenlink. A second run writes nothing. (The
passive sign-off: test_fault_matrix_close.py.)"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.states import Scheduled

from engagement.close import AWAITING
from engagement.validate import ACCEPTED
from psflow.operate import retry, status, when
from sandbox.client import SandboxClient
from sandbox.mavenlink.seed import HOURLY_COST
from sandbox.seed import PSES, STAFF
from tasks.clients import systems
from testkit.expect import body_text, sent_mail, written
from testkit.faults import prepare
from testkit.runs import (
    FINAL,
    completions,
    events,
    flow_runs,
    paused_at,
    resume,
    state_of,
    wait_for_state,
    wait_until,
)
from testkit.stack import PrefectStack

pytestmark = pytest.mark.e2e

OPS_MANAGER = "olivia.park@northwind.example"


def runs_named(opportunity: str, prefix: str, count: int, timeout: float = 180) -> list[FlowRun]:
    """The opportunity's runs named `prefix ...`, once `count` of them have ended or wait."""

    def settled() -> list[FlowRun]:
        runs = [r for r in flow_runs(opportunity) if r.name.startswith(prefix)]
        done = [r for r in runs if state_of(r).type in (*FINAL, StateType.PAUSED)]
        return runs if len(done) >= count else []

    return cast(list[FlowRun], wait_until(settled, timeout, f"{count} '{prefix}' runs"))


def engagement_of(world: SandboxClient, opportunity: str) -> dict[str, Any]:
    (record,) = [
        e
        for e in world.state("salesforce", "PS_Engagement__c")
        if e["Opportunity_Id__c"] == opportunity
    ]
    return record


def workspace_of(world: SandboxClient, opportunity: str) -> dict[str, Any]:
    (workspace,) = [
        w for w in world.state("mavenlink", "workspaces") if opportunity in w["description"]
    ]
    return workspace


def sign_off_issue(world: SandboxClient, opportunity: str) -> dict[str, Any]:
    (issue,) = [
        i
        for i in world.state("gitlab", "issue")
        if "PS::Sign-off" in i["labels"] and opportunity in i["description"]
    ]
    return issue


def document(world: SandboxClient, title: str) -> str:
    """The text of the one Google Doc (not a template) whose first paragraph holds `title`."""
    (found,) = [
        "\n".join(d["paragraphs"])
        for d in world.state("google", "document")
        if d["paragraphs"] and title in d["paragraphs"][0] and "{{" not in d["paragraphs"][0]
    ]
    return found


def expected_cost(world: SandboxClient, workspace: dict[str, Any]) -> Decimal:
    """The hours on the project at each person's seeded cost (USD), computed apart from psflow."""
    titles = {p.email: p.title for p in (*STAFF, *PSES)}
    users = {u["id"]: u["email_address"] for u in world.state("mavenlink", "users")}
    return sum(
        (
            Decimal(e["time_in_minutes"]) / 60 * HOURLY_COST[titles[users[e["user_id"]]]]
            for e in world.state("mavenlink", "time_entries")
            if e["workspace_id"] == workspace["id"]
        ),
        Decimal(0),
    )


def test_an_engagement_goes_from_validated_to_completed_once(
    served: PrefectStack, world: SandboxClient
) -> None:
    # every activity accepted (prepared in this process): its completion starts the served Close
    opportunity = prepare(world, "close")
    (asked,) = runs_named(opportunity, "close ·", 1)
    assert state_of(asked).type == StateType.COMPLETED, state_of(asked).message
    (mail,) = sent_mail(world, "- project sign off")
    assert OPS_MANAGER in str(mail["Cc"])
    assert 'reply "accepted"' in body_text(mail)
    assert engagement_of(world, opportunity)["Status__c"] == "Closure"
    assert AWAITING in sign_off_issue(world, opportunity)["labels"]  # no passive language

    # a stranger's "accepted" signs nothing off: named, the Project Owner told
    world.act(
        "google",
        "/gmail/reply",
        message_id=mail["Message-ID"],
        body="accepted",
        **{"from": "someone@elsewhere.example"},
    )
    (stranger,) = runs_named(opportunity, "reply ·", 1)
    assert "someone@elsewhere.example, not one of the opportunity's contacts" in str(
        state_of(stranger).message
    )
    assert engagement_of(world, opportunity)["Signed_Acceptance__c"] is False

    # an hour logged where nobody has a cost rate (the project moved to GBP): named before any
    # write; fixed in Kantata, the run's Retry goes on
    workspace = workspace_of(world, opportunity)
    api = systems().mavenlink()
    api.request(
        "PUT", f"workspaces/{workspace['id']}.json", json={"workspace": {"currency": "GBP"}}
    ).raise_for_status()
    users = {u["id"]: u["email_address"] for u in world.state("mavenlink", "users")}
    (pse, *_) = sorted(
        {
            users[e["user_id"]]
            for e in world.state("mavenlink", "time_entries")
            if e["workspace_id"] == workspace["id"]
        }
    )
    stray = world.act(
        "mavenlink",
        "/time_entries",
        workspace_id=workspace["id"],
        user_email=pse,
        date=systems().clock().now().date().isoformat(),
        hours=1,
    )

    # the customer signs off by reply: the served watcher and reply run record it, Close goes on
    world.act("google", "/gmail/reply", message_id=mail["Message-ID"], body="Accepted, thanks!")
    signed = next(r for r in runs_named(opportunity, "reply ·", 2) if r.id != stranger.id)
    assert state_of(signed).message == f"signed off by {mail['To']}"
    before = world.last_request_id()
    record = engagement_of(world, opportunity)
    assert record["Signed_Acceptance__c"] is True
    assert record["Passive_Acceptance_Used__c"] is False
    assert ACCEPTED in sign_off_issue(world, opportunity)["labels"]
    run = wait_until(
        lambda: [r for r in runs_named(opportunity, "close ·", 2) if r.id != asked.id],
        120,
        "the second close run",
    )[0]
    failed = wait_for_state(run, *FINAL, timeout=180)
    assert failed.type == StateType.FAILED
    assert f"Kantata: no cost rate for {pse}" in str(failed.message)
    assert written(world, before) == {}
    api.request("DELETE", f"time_entries/{stray['id']}.json").raise_for_status()
    api.request(
        "PUT", f"workspaces/{workspace['id']}.json", json={"workspace": {"currency": "USD"}}
    ).raise_for_status()
    retry(opportunity, phase="close")

    form = paused_at(run, "closeout-approval", timeout=180)
    assert set(form["properties"]) >= {"lessons_learned", "approve"}
    # `psflow status` lists every run of the engagement, says what this one waits for, and when
    # the passive clock acts next (a run of its schedule, as Prefect's scheduler makes them)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    with get_client(sync_client=True) as client:
        (clock,) = client.read_deployments(
            deployment_filter=DeploymentFilter(
                name=DeploymentFilterName(any_=["passive-acceptance"])
            )
        )
        tick = client.create_flow_run_from_deployment(
            clock.id, state=Scheduled(scheduled_time=tomorrow)
        )
        try:
            shown = status(opportunity)
        finally:
            client.delete_flow_run(tick.id)
    assert f"passive-acceptance: next {when(tomorrow)[:16]}" in "\n".join(shown), shown
    assert "weekly-status" not in "\n".join(shown)  # Closure: no more weekly reports
    listed = {line[2:].split("  ")[0] for line in shown if line.startswith("  ") and line[2] != " "}
    assert {"pre-initiate", "initiate", "plan", "close", "reply sign-off"} <= listed, shown
    assert any(phase.startswith("accept ") for phase in listed), shown
    assert "waits for the Project Owner's approval of the closeout report" in "\n".join(shown)
    resume(run, form, lessons_learned="Agree the cutover window in week one.", approve=True)
    form = paused_at(run, "billing-done", timeout=180)
    # the wait survives a restart of both (the runner must have seen the run's process exit)
    runner = served.runner
    assert runner is not None
    wait_until(
        lambda: runner.tail(100_000).count(f"Execution of flow run '{run.id}' is paused") >= 2,
        60,
        "the runner to see the run suspended for billing",
    )
    time.sleep(2)  # its process winding down (as test_plan's restart)
    served.restart_server()
    served.restart_runner()
    assert state_of(run).state_details.pause_key == "billing-done"
    resume(run, form, billing_done=True)
    done = wait_for_state(run, *FINAL, timeout=180)
    assert done.type == StateType.COMPLETED, done.message

    # Completed in Salesforce and Mavenlink, the org's rule met
    record = engagement_of(world, opportunity)
    assert record["Status__c"] == "Completed"
    assert record["Completed__c"] >= record["Sign_Off_Date__c"] is not None
    workspace = workspace_of(world, opportunity)
    assert workspace["status"]["key"] == "605"
    hours = sum(
        Decimal(e["time_in_minutes"]) / 60
        for e in world.state("mavenlink", "time_entries")
        if e["workspace_id"] == workspace["id"]
    )
    assert Decimal(str(record["Hours_Consumed__c"])) == hours

    # the wrap-up, computed apart: 75,000 fixed fee, each hour at its person's cost
    cost = expected_cost(world, workspace)
    margin = (Decimal(75_000) - cost) / Decimal(75_000) * 100
    report = document(world, "closeout report")
    assert f"cost {cost:,.2f} USD: margin {margin:.1f}%" in report
    assert "Revenue recognised: 75,000.00 USD" in report  # every milestone's share released
    assert "Agree the cutover window in week one." in report
    assert "{{" not in report
    assert "{{" not in document(world, "project closure")
    (post,) = [
        m for m in world.state("slack", "messages") if m.get("text", "").startswith("Closeout")
    ]
    assert "approved by" in post["text"]

    # the closure meeting, its notes row, and nothing left open
    (meeting,) = [
        e for e in world.state("google", "event") if e["summary"].startswith("Project closure")
    ]
    day = date.fromisoformat(meeting["start"]["dateTime"][:10])
    assert sign_off_issue(world, opportunity)["state"] == "closed"
    (epic,) = [e for e in world.state("gitlab", "epic") if opportunity in e["description"]]
    assert epic["state"] == "closed"
    bookings = [
        a
        for a in world.state("mavenlink", "workspace_allocations")
        if a["workspace_id"] == workspace["id"]
    ]
    assert bookings
    assert all(date.fromisoformat(a["end_date"]) <= day + timedelta(days=1) for a in bookings)
    wait_until(lambda: completions(opportunity, "close"), 60, "Close's completion")

    # a second run, as the UI's Run does: nothing asked, nothing written
    before = world.last_request_id()
    again = cast(
        FlowRun,
        run_deployment("close/close", parameters={"opportunity_id": opportunity}, timeout=0),
    )
    ended = wait_for_state(again, *FINAL, timeout=180)
    assert ended.type == StateType.COMPLETED, ended.message
    assert written(world, before) == {}
    assert len(events("ps.engagement.signed-off", opportunity)) == 1
    assert len(completions(opportunity, "close")) == 1
