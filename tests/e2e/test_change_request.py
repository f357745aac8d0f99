"""Change requests through the served deployments: the change classified, its paper made once (the
document, the issue in the epic, the customer's e-mail), the engagement manager's approval asked
in the form, a change that would leave the engagement inconsistent refused before any write; then
the customer's reply (found by the served mail watcher, read by the `reply` run) and, on
"accepted", the re-baseline of every system, once, whatever arrives twice."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, cast

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment

from engagement.change_request import CHANGE_LOG
from engagement.keys import Kind
from engagement.project_definition import PLAN
from flows.change_request import change_request
from flows.rebaseline import rebaseline
from sandbox.client import SandboxClient
from tasks.clients import systems
from tasks.docs import paragraph_texts
from tasks.drive import find_keyed_file
from tasks.mavenlink import find_workspace
from tasks.sheets import get_tables
from testkit.expect import body_text, sent_mail, written
from testkit.faults import ops_retry, prepare
from testkit.runs import (
    FINAL,
    flow_runs,
    paused_at,
    resume,
    run_of,
    state_of,
    wait_for_state,
    wait_until,
)
from testkit.stack import PrefectStack

pytestmark = pytest.mark.e2e


def start(opportunity: str, **change: Any) -> FlowRun:
    parameters = {"opportunity_id": opportunity, "customer": "Globex", "change": change}
    return cast(
        FlowRun,
        run_deployment("change-request/change-request", parameters=parameters, timeout=0),
    )


def due_date(opportunity: str) -> date:
    workspace = find_workspace.fn(opportunity)
    assert workspace is not None
    assert workspace.due_date is not None
    return date.fromisoformat(workspace.due_date)


def test_a_change_that_would_leave_the_engagement_inconsistent_is_refused_naming_the_field(
    served: PrefectStack, world: SandboxClient
) -> None:
    opportunity = prepare(world, "execute")
    before = world.last_request_id()
    run = start(opportunity, description="Stop early", end="2020-01-31", removed=["PS-NOPE"])
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.FAILED
    assert "the change's end: 2020-01-31 is before today" in str(done.message)
    assert written(world, before) == {}


def test_a_budget_that_grows_is_a_change_order_the_customer_signs(
    served: PrefectStack, world: SandboxClient
) -> None:
    opportunity = prepare(world, "execute")
    run = start(opportunity, description="Admin training added", budget="80000")
    form = paused_at(run, "change-approval-cr-1")
    resume(run, form)
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message
    assert done.message.startswith("CR-1: change order; waiting for the customer's signature")
    (issue,) = [i for i in world.state("gitlab", "issue") if i["title"].startswith("CR-1 ")]
    assert "CR::Change Order" in issue["labels"]
    assert "the budget grows from 75000" in issue["description"]
    (mail,) = sent_mail(world, "CR-1: change order")
    assert "Please sign the change order" in body_text(mail)


def test_a_change_the_engagement_manager_declines_never_reaches_the_customer(
    served: PrefectStack, world: SandboxClient
) -> None:
    opportunity = prepare(world, "execute")
    run = start(
        opportunity,
        description="Cutover a week later",
        end=str(due_date(opportunity) + timedelta(days=7)),
    )
    form = paused_at(run, "change-approval-cr-1")
    resume(run, form, approve=False, comment="Not before the steering committee")
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message
    assert done.message == "CR-1: declined by the engagement manager"
    assert sent_mail(world, "CR-1") == []
    (record,) = [m for m in world.state("slack", "messages") if "CR-1" in m.get("text", "")]
    assert "declined by" in record["text"]


# --- the customer's answer, and the re-baseline ------------------------------------------------


def asked(opportunity: str, **change: Any) -> FlowRun:
    """A change request approved by the engagement manager and e-mailed to the customer."""
    run = start(opportunity, **change)
    resume(run, paused_at(run, "change-approval-cr-1"))
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message
    return run


def customer_replies(world: SandboxClient, body: str, **more: Any) -> dict[str, Any]:
    """The customer answers CR-1's e-mail (by default its first recipient: a contact)."""
    (mail,) = sent_mail(world, "CR-1")
    return cast(
        dict[str, Any],
        world.act("google", "/gmail/reply", message_id=mail["Message-ID"], body=body, **more),
    )


def replies_done(opportunity: str, count: int) -> list[FlowRun]:
    """The opportunity's `reply` runs, once `count` of them have ended."""

    def ended() -> list[FlowRun]:
        runs = [r for r in flow_runs(opportunity) if r.name.startswith("reply ·")]
        final = [r for r in runs if state_of(r).type in FINAL]
        return runs if len(final) >= count else []

    return cast(list[FlowRun], wait_until(ended, 120, f"{count} reply runs of {opportunity}"))


def engagement_of(world: SandboxClient, opportunity: str) -> dict[str, Any]:
    (record,) = [
        e
        for e in world.state("salesforce", "PS_Engagement__c")
        if e["Opportunity_Id__c"] == opportunity
    ]
    return cast(dict[str, Any], record)


def milestones_of(world: SandboxClient) -> dict[str, dict[str, Any]]:
    return {
        m["title"]: m for m in world.state("mavenlink", "stories") if m["story_type"] == "milestone"
    }


def test_a_three_week_extension_is_a_written_confirmation_confirmed_by_reply_in_every_system_once(
    served: PrefectStack, world: SandboxClient
) -> None:
    opportunity = prepare(world, "execute")  # In Progress, two weeks in
    end = due_date(opportunity)
    new_end = end + timedelta(days=21)
    scoped = engagement_of(world, opportunity)["Scoped_Hours__c"]
    before = world.last_request_id()
    run = start(opportunity, description="Three more weeks for the cutover", end=str(new_end))
    form = paused_at(run, "change-approval-cr-1")
    with get_client(sync_client=True) as client:  # the text above the form
        shown = client.read_flow_run_input(run.id, "suspended-change-approval-cr-1-description")
    assert "a **written confirmation** (the end date moves 21 days" in shown
    resume(run, form, comment="Within budget: fine")
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message
    assert done.message.startswith(
        "CR-1: written confirmation; waiting for the customer's confirmation"
    )

    # the document, filled; the issue in the epic, labelled; the approval recorded; the e-mail
    document = find_keyed_file.fn(Kind.CHANGE_REQUEST, opportunity, part="CR-1")
    assert document is not None
    texts = paragraph_texts(systems().docs().documents().get(documentId=document.id).execute())
    assert not [t for t in texts if "{{" in t]
    assert any("the end date" in t and "(+21 days)" in t for t in texts)
    (issue,) = [i for i in world.state("gitlab", "issue") if i["title"].startswith("CR-1 ")]
    assert "CR::Written Confirmation" in issue["labels"]
    assert issue.get("epic_id")
    (mail,) = sent_mail(world, "CR-1: written confirmation")
    assert 'reply "accepted"' in body_text(mail)
    # a copy and a fill, an issue, a Slack record (message), a draft and its sending
    assert written(world, before) == {"drive": 1, "docs": 1, "gitlab": 1, "slack": 1, "gmail": 2}
    with get_client(sync_client=True) as client:
        numbered = client.read_flow_run(run.id)
    assert numbered.name == "change · Globex Industries · CR-1"

    # the UI's Retry of that run: its own number found again, the approval read back, nothing
    # written twice
    again = world.last_request_id()
    state = ops_retry(change_request, numbered)
    assert state.type == StateType.COMPLETED, state.message
    assert str(state.message).startswith("CR-1: written confirmation")
    assert written(world, again) == {}

    # the customer confirms by reply: the re-baseline
    customer_replies(world, "Accepted, thanks.\n\n> CR-1: Three more weeks")
    run = run_of("rebaseline", opportunity)
    assert run.name == "rebaseline · Globex Industries · CR-1"
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message

    # Mavenlink: the due date, the last milestone due on it; Salesforce: the expected completion
    assert due_date(opportunity) == new_end
    last = date.fromisoformat(max(m["due_date"] for m in milestones_of(world).values()))
    assert new_end - timedelta(days=3) < last <= new_end  # its last working day
    record = engagement_of(world, opportunity)
    assert record["Expected_Completion__c"] == new_end.isoformat()
    assert record["Scoped_Hours__c"] == scoped  # within the budget: the hours stay
    # the allocations run to the new end (hard two months ahead, the rest soft)
    workspace = find_workspace.fn(opportunity)
    assert workspace is not None
    ends = [
        a["end_date"]
        for a in world.state("mavenlink", "workspace_allocations")
        if str(a["workspace_id"]) == str(workspace.id)
    ]
    assert max(ends) == new_end.isoformat()
    # the Plan tab, the cost estimate's Change Log
    definition = find_keyed_file.fn(Kind.PROJECT_DEFINITION, opportunity)
    estimate = find_keyed_file.fn(Kind.COST_ESTIMATE, opportunity)
    assert definition is not None
    assert estimate is not None
    plan = get_tables.fn(definition.id, [PLAN])[PLAN]
    assert max(str(row[4]) for row in plan[1:] if row) == last.isoformat()
    (log,) = get_tables.fn(estimate.id, [CHANGE_LOG])[CHANGE_LOG][1:]
    assert log[:4] == ["CR-1", log[1], "written confirmation", "Three more weeks for the cutover"]
    # the customer's confirmation on the CR issue (in the epic), the issue closed, the team told
    (issue,) = [i for i in world.state("gitlab", "issue") if i["title"].startswith("CR-1 ")]
    assert issue["state"] == "closed"
    notes = [n["body"] for n in world.state("gitlab", "note") if n["noteable_id"] == issue["id"]]
    assert any("Approved by the customer" in n and "> Accepted, thanks." in n for n in notes)
    (post,) = [m for m in world.state("slack", "messages") if "is applied" in m.get("text", "")]
    assert f"End: {end} → {new_end} (+21 days)" in post["text"]

    # exactly once: a second "accepted", and the UI's Retry of the re-baseline, write nothing
    before = world.last_request_id()
    customer_replies(world, "accepted (sent again from my phone)")
    replies = replies_done(opportunity, 2)
    assert len(replies) == 2
    assert [r.id for r in flow_runs(opportunity) if r.name.startswith("rebaseline ·")] == [run.id]
    state = ops_retry(rebaseline, run)
    assert state.type == StateType.COMPLETED, state.message
    assert written(world, before) == {}


def test_a_change_order_that_adds_an_activity_grows_the_budget_and_the_plan(
    served: PrefectStack, world: SandboxClient
) -> None:
    opportunity = prepare(world, "execute")
    scoped = float(engagement_of(world, opportunity)["Scoped_Hours__c"])
    added = {"code": "PS-ADM", "name": "Admin training", "hours": "24"}
    asked(opportunity, description="Admin training added", budget="80000", added=[added])
    customer_replies(world, "Accepted: signed copy attached.")
    done = wait_for_state(run_of("rebaseline", opportunity), *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message

    workspace = find_workspace.fn(opportunity)
    assert workspace is not None
    assert workspace.price == 80000
    assert "Admin training" in milestones_of(world)
    (issue,) = [i for i in world.state("gitlab", "issue") if i["title"] == "Admin training"]
    assert issue.get("epic_id")
    assert issue["due_date"]
    assert float(engagement_of(world, opportunity)["Scoped_Hours__c"]) == scoped + 24


def test_a_swap_within_the_budget_removes_one_activity_and_adds_another(
    served: PrefectStack, world: SandboxClient
) -> None:
    opportunity = prepare(world, "execute")
    definition = find_keyed_file.fn(Kind.PROJECT_DEFINITION, opportunity)
    assert definition is not None
    plan = get_tables.fn(definition.id, [PLAN])[PLAN]
    gone_code, gone_title = str(plan[-1][0]).lstrip("'"), str(plan[-1][1])
    added = {"code": "PS-ADM", "name": "Admin training", "hours": "16"}
    asked(opportunity, description="Admin training instead", added=[added], removed=[gone_code])
    (issue,) = [i for i in world.state("gitlab", "issue") if i["title"].startswith("CR-1 ")]
    assert "CR::$0 Change Order" in issue["labels"]
    customer_replies(world, "accepted")
    done = wait_for_state(run_of("rebaseline", opportunity), *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message

    titles = milestones_of(world)
    assert "Admin training" in titles
    assert gone_title not in titles
    (removed,) = [i for i in world.state("gitlab", "issue") if i["title"] == gone_title]
    assert removed["state"] == "closed"
    codes = [str(row[0]).lstrip("'") for row in get_tables.fn(definition.id, [PLAN])[PLAN][1:]]
    assert "PS-ADM" in codes
    assert gone_code not in codes


def test_an_answer_that_is_not_an_approval_goes_to_the_project_owner_and_changes_nothing(
    served: PrefectStack, world: SandboxClient
) -> None:
    opportunity = prepare(world, "execute")
    end = due_date(opportunity)
    asked(opportunity, description="A week later", end=str(end + timedelta(days=7)))
    before = world.last_request_id()
    customer_replies(world, "Does this move the training too?")
    customer_replies(world, "accepted", **{"from": "someone@elsewhere.example"})
    customer_replies(world, "I am out of the office.", headers={"Auto-Submitted": "auto-replied"})
    runs = replies_done(opportunity, 3)
    messages = " | ".join(sorted(str(state_of(r).message) for r in runs))
    assert "CR-1: an automatic reply (Auto-Submitted), left alone" in messages
    assert "wrote 'Does this move the training too?', not 'accepted'" in messages
    assert "someone@elsewhere.example, not one of the opportunity's contacts" in messages
    posts = [
        m["text"]
        for m in world.state("slack", "messages")
        if "is not an approval" in m.get("text", "")
    ]
    assert len(posts) == 2
    # two posts for the Project Owner; nothing else anywhere, no re-baseline
    assert written(world, before) == {"slack": 2}
    assert due_date(opportunity) == end
    assert not [r for r in flow_runs(opportunity) if r.name.startswith("rebaseline ·")]
