"""Change requests through the served `change-request` deployment (issue 20, first half): the
change classified, its paper made once (the document, the issue in the epic, the customer's
e-mail), the engagement manager's approval asked in the form, a change that would leave the
engagement inconsistent refused before any write."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, cast

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment

from engagement.keys import Kind
from flows.change_request import change_request
from sandbox.client import SandboxClient
from tasks.clients import systems
from tasks.docs import paragraph_texts
from tasks.drive import find_keyed_file
from tasks.mavenlink import find_workspace
from testkit.expect import body_text, sent_mail, written
from testkit.faults import ops_retry, prepare
from testkit.runs import FINAL, paused_at, resume, wait_for_state
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


def test_a_three_week_extension_is_a_written_confirmation_asked_of_the_customer_once(
    served: PrefectStack, world: SandboxClient
) -> None:
    opportunity = prepare(world, "execute")  # In Progress, two weeks in
    end = due_date(opportunity)
    before = world.last_request_id()
    run = start(
        opportunity,
        description="Three more weeks for the cutover",
        end=str(end + timedelta(days=21)),
    )
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
