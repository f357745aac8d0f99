"""Initiate on a real Prefect server: Closed Won -> every system provisioned exactly once."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment
from prefect.states import AwaitingRetry

from engagement.lifecycle import NotReady
from engagement.refs import link_text
from engagement.workdays import at_work
from flows.initiate import initiate
from sandbox.client import SandboxClient
from tasks.salesforce import InvalidRecord
from testkit.expect import EXPECTED, objects_of, sent, written
from testkit.factories import new_opportunity
from testkit.outside import sheet as worksheet
from testkit.phases import COORDINATOR, approve, negotiated, waiting_for_staffing
from testkit.runs import FINAL, completions, flow_runs, run_of, state_of, wait_for_state, wait_until
from testkit.stack import PrefectStack

pytestmark = pytest.mark.e2e


def _task_runs(run: FlowRun) -> list[Any]:
    with get_client(sync_client=True) as client:
        return list(
            client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])), limit=200
            )
        )


def _log_lines(run: FlowRun) -> list[str]:
    """Every log line of the run, page by page (the API answers 200 at most)."""
    lines: list[str] = []
    with get_client(sync_client=True) as client:
        while page := client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])),
            limit=200,
            offset=len(lines),
        ):
            lines.extend(log.message for log in page)
    return lines


def test_closed_won_provisions_every_system_once_and_a_rerun_writes_nothing(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    (opportunity,) = negotiated(sandbox)
    start = sandbox.last_request_id()
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
    run = run_of("initiate", opportunity)
    assert run.parameters == {"opportunity_id": opportunity, "customer": "Acme Corporation"}
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message

    writes = written(sandbox, start)
    assert writes["salesforce"] == 1  # the engagement record, with its GitLab link
    assert writes["gmail"] == 2  # the initiation e-mail: its draft, then its sending
    assert writes["calendar"] == 2
    objects = objects_of(sandbox, opportunity)
    assert objects == EXPECTED
    (record,) = [
        r
        for r in sandbox.state("salesforce", "PS_Engagement__c")
        if r["Opportunity_Id__c"] == opportunity
    ]
    assert record["Status__c"] == "Initiation"
    assert record["Collaboration_Project__c"].startswith(sandbox.url)
    # the staffing approval: approved, by whom, and who owns the project
    users = {u["Id"]: u["Email"] for u in sandbox.state("salesforce", "User")}
    assert record["Approved__c"] is True
    assert users[record["Approver__c"]] == COORDINATOR
    assert users[record["Project_Owner__c"]].endswith("@northwind.example")
    # Mavenlink knows the SOW and the Project Definition; the e-mail is the coordinator's
    fields = {f["id"]: f["name"] for f in sandbox.state("mavenlink", "custom_fields")}
    values = {
        fields[v["custom_field_id"]]: v["value"]
        for v in sandbox.state("mavenlink", "custom_field_values")
    }
    assert values["SOW Number"].startswith("SOW-")
    assert "/google/spreadsheets/d/" in values["Project Definition"]
    (email,) = sent(sandbox)
    assert email["Reply-To"] == COORDINATOR
    assert COORDINATOR in email["Cc"]
    assert email["From"] == "Priya Raman via PS <ps-team@northwind.example>"
    assert wait_until(lambda: completions(opportunity), 30, "the phase's completion event")

    # in the UI each task run says what it did to which object, and its log says how it went
    names = {task.name for task in _task_runs(run)}
    assert {
        "create GitLab project",
        "create customer epic",
        "copy project definition",
        "post engagement links",
        "send initiation email",
        "schedule alignment meeting",
        "upsert PS engagement",
        "set Mavenlink project budget, margin and fields",
    } <= names
    assert not [name for name in names if re.fullmatch(r"\w+-[0-9a-f]{3}", name)]
    # the run's process sends its logs in batches: the last may land after the run completed
    expected = (
        r"Created project '.+': http",  # GitLab's
        # Pre-Initiate made the Mavenlink project: found, with its link into Kantata's web app
        r"Found project '.+': http.*/mavenlink/workspaces/",
    )
    wait_until(
        lambda: all(
            any(re.match(pattern, line) for line in _log_lines(run)) for pattern in expected
        ),
        30,
        "the run's log lines of the projects it made and found",
    )

    before = sandbox.last_request_id()
    again = run_deployment(
        "initiate/initiate", parameters={"opportunity_id": opportunity}, timeout=120
    )
    assert again.state is not None
    assert again.state.type == StateType.COMPLETED, again.state.message
    assert written(sandbox, before) == {}
    assert objects_of(sandbox, opportunity) == objects


def test_closed_won_without_negotiating_gets_the_missed_pre_initiate_first(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity = new_opportunity(sandbox, amount=30_000)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
    run = run_of("initiate", opportunity)
    approve(run)  # the same approval, asked by the Initiate run itself
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message
    assert not [r for r in flow_runs(opportunity) if r.name.startswith("pre-initiate")]
    keys = [f["appProperties"].get("psflow_key", "") for f in sandbox.state("google", "file")]
    assert sum(k.startswith(f"cost-estimate:{opportunity}") for k in keys) == 1
    assert sum(k.startswith(f"project-definition:{opportunity}") for k in keys) == 1


def test_an_opportunity_created_closed_won_starts_initiate(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    # sales ops enter renewals and add-ons straight in Closed Won: no stage ever changes
    created = sandbox.act(
        "salesforce", "/opportunities/bulk", count=1, stage="Closed Won", details=True
    )
    (opportunity,) = created["ids"]
    run = run_of("initiate", opportunity, timeout=60)
    approve(run)  # its missed Pre-Initiate asks for the staffing approval
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message
    assert [r.name.split(" ·")[0] for r in flow_runs(opportunity)] == ["initiate"]


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "Pacific/Chatham"])
def test_meetings_are_in_the_working_hours_of_those_invited_whatever_the_customers_zone(
    served: PrefectStack, sandbox: SandboxClient, zone: str
) -> None:
    account = sandbox.state("salesforce", "Account")[0]["Id"]  # the one `negotiated` sells to
    sandbox.edit("salesforce", f"/sobjects/Account/{account}", PS_Time_Zone__c=zone)
    (opportunity,) = negotiated(sandbox)
    friday = date(2026, 12, 11)  # the deal closes on a Friday: the meetings are next week
    sandbox.edit("salesforce", f"/sobjects/Opportunity/{opportunity}", CloseDate=friday.isoformat())
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
    run = run_of("initiate", opportunity)
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message

    users = {u["Email"]: u["TimeZoneSidKey"] for u in sandbox.state("salesforce", "User")}
    events = [e for e in sandbox.state("google", "event") if e.get("status") != "cancelled"]
    assert len(events) == 2
    meetings = [row["name"] for row in _summary_rows(run) if row["object"].endswith("meeting")]
    for event in events:
        start = datetime.fromisoformat(event["start"]["dateTime"])
        end = datetime.fromisoformat(event["end"]["dateTime"])
        attendees = [a["email"] for a in event["attendees"]]
        outside = [a for a in attendees if not at_work(users[a], start, end)]
        organiser = users["marcus.webb@northwind.example"]  # the engagement manager
        assert at_work(organiser, start, end)
        assert start.astimezone(ZoneInfo(organiser)).date() > friday
        # whoever is outside their hours (no time suits them all) is named in the summary
        (named,) = [name for name in meetings if link_text(event["summary"]) in name]
        assert all(person in named for person in outside), (named, outside)
        assert ("outside theirs" in named) == bool(outside)


def _summary_rows(run: FlowRun) -> list[dict[str, str]]:
    with get_client(sync_client=True) as client:
        answer = client.request(
            "POST",
            "/artifacts/filter",
            json={
                "artifacts": {"flow_run_id": {"any_": [str(run.id)]}, "type": {"any_": ["table"]}}
            },
        )
    (table,) = [a for a in answer.json() if a["key"].startswith("initiate-")]
    return list(json.loads(table["data"]) if isinstance(table["data"], str) else table["data"])


def test_a_run_failing_halfway_is_retried_by_ops_and_ends_with_each_object_once(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    (opportunity,) = negotiated(sandbox)
    # Mavenlink refuses the first task create (a permanent error: no automatic retry)
    sandbox.add_fault(r"/mavenlink/api/v1/stories(\.json)?", method="POST", status=403)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
    run = run_of("initiate", opportunity)
    failed = wait_for_state(run, *FINAL, timeout=120)
    assert failed.type == StateType.FAILED
    assert "Mavenlink" in failed.message

    with get_client(sync_client=True) as client:  # what the UI's Retry button does
        client.set_flow_run_state(run.id, AwaitingRetry(), force=True)
    done = wait_until(
        lambda: (s := state_of(run)).is_final() and s.type != StateType.FAILED and s,
        120,
        "the retried run",
    )
    assert done.type == StateType.COMPLETED, done.message
    assert objects_of(sandbox, opportunity) == EXPECTED


def test_an_existing_customer_gets_the_other_initiation_template(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    acme, globex = negotiated(sandbox, count=2)  # bulk opportunities alternate accounts
    for opportunity in (acme, globex):
        sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
    for opportunity in (acme, globex):
        done = wait_for_state(run_of("initiate", opportunity), *FINAL, timeout=120)
        assert done.type == StateType.COMPLETED, done.message
    subjects = [str(message["Subject"]) for message in sent(sandbox)]
    assert any(s.startswith("Your next engagement with") for s in subjects)  # Acme, existing
    assert any(s.startswith("Welcome to") for s in subjects)  # Globex, new


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"StageName": "6-Awaiting Signature"}, "StageName is '6-Awaiting Signature'"),
        ({"SOW_Link__c": None}, "SOW_Link__c is empty"),
    ],
)
def test_an_opportunity_not_ready_for_initiate_fails_before_any_write(
    served: PrefectStack, sandbox: SandboxClient, edit: dict[str, Any], expected: str
) -> None:
    opportunity = new_opportunity(sandbox)
    sandbox.edit(
        "salesforce", f"/sobjects/Opportunity/{opportunity}", **{"StageName": "Closed Won", **edit}
    )
    start = sandbox.last_request_id()
    with pytest.raises(NotReady, match=expected):
        initiate(opportunity_id=opportunity)
    assert written(sandbox, start) == {}


def test_a_missing_contact_email_or_a_zero_amount_names_the_field(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity = new_opportunity(sandbox)
    sandbox.edit(
        "salesforce", f"/sobjects/Opportunity/{opportunity}", StageName="Closed Won", Amount=0
    )
    start = sandbox.last_request_id()
    with pytest.raises(InvalidRecord, match="Amount"):
        initiate(opportunity_id=opportunity)
    assert written(sandbox, start) == {}


def test_a_missing_contact_email_names_the_contact(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    opportunity = new_opportunity(sandbox)  # Acme's: its contacts are 003…1 and 003…2
    contact = sandbox.state("salesforce", "Contact")[0]["Id"]
    sandbox.edit("salesforce", f"/sobjects/Contact/{contact}", Email=None)
    sandbox.edit("salesforce", f"/sobjects/Opportunity/{opportunity}", StageName="Closed Won")
    start = sandbox.last_request_id()
    with pytest.raises(InvalidRecord, match=f"Contact {contact}.Email"):
        initiate(opportunity_id=opportunity)
    assert written(sandbox, start) == {}


def test_an_incomplete_cost_estimate_stops_initiate_naming_the_activity(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    (opportunity,) = negotiated(sandbox)
    (sheet,) = [
        f
        for f in sandbox.state("google", "file")
        if f["appProperties"].get("psflow_key", "").startswith(f"cost-estimate:{opportunity}")
    ]
    worksheet(sheet["id"], "Estimate").update(
        [[""]],
        "C12",  # the engagement manager cleared the first activity's effort
    )
    sandbox.edit("salesforce", f"/sobjects/Opportunity/{opportunity}", StageName="Closed Won")
    start = sandbox.last_request_id()
    with pytest.raises(NotReady, match="effort of activity"):
        initiate(opportunity_id=opportunity)
    assert written(sandbox, start) == {}


def test_hostile_customer_names_give_valid_names_everywhere(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    hostile = (
        "Ünïcødé / \"Quotes\" 'n' <tags> <!channel> <https://evil.example|click> & ; DROP "
        "TABLE --  💥 " + "x" * 240
    )
    account = sandbox.state("salesforce", "Account")[0]["Id"]
    sandbox.edit("salesforce", f"/sobjects/Account/{account}", Name=hostile[:255])
    (opportunity,) = negotiated(sandbox, comment="<!here> <@U0GRACE001> fits <http://x|best>")
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
    done = wait_for_state(run_of("initiate", opportunity), *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message  # the stand-ins enforce the name rules
    (channel,) = [c for c in sandbox.state("slack", "channels") if c["name"].startswith("a_")]
    assert channel["name"].startswith("a_unicode-quotes-n-tags-channel-https-evil-example")
    assert len(channel["name"]) <= 80
    # every message shows the names and the coordinator's comment as typed: nobody is pinged,
    # nothing links elsewhere
    shown = sandbox.state("slack", "rendered")
    assert len([r for r in shown if hostile[:60] in r["text"]]) >= 2  # the proposal, the decision
    assert any("<!here> <@U0GRACE001> fits <http://x|best>" in r["text"] for r in shown)
    assert [(r["notifies"], r["links"]) for r in shown if r["notifies"] or r["links"]] == []


def test_closed_won_while_the_staffing_approval_waits_asks_once_then_initiates(
    served: PrefectStack, sandbox: SandboxClient
) -> None:
    # the customer signs before the coordinator has answered Pre-Initiate's form
    opportunity, asking = waiting_for_staffing(sandbox)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
    initiate = run_of("initiate", opportunity)
    first = wait_for_state(initiate, *FINAL, timeout=120)
    assert first.type == StateType.COMPLETED, first.message
    assert first.message == f"{asking.name} is under way and asks for this answer: answer it there"
    assert state_of(asking).type == StateType.PAUSED  # the one form, still waiting

    approve(asking)
    assert wait_for_state(asking, *FINAL, timeout=120).type == StateType.COMPLETED
    # the approval starts Initiate again: the engagement is provisioned, every object once
    again = wait_until(
        lambda: [
            r
            for r in flow_runs(opportunity)
            if r.name.startswith("initiate") and r.id != initiate.id
        ],
        120,
        "Initiate started again by the approval",
    )
    (run,) = again
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message
    assert objects_of(sandbox, opportunity) == EXPECTED
