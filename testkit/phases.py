"""Driving the phases as people and the served deployments do: the coordinator's answer to the
staffing form, a phase run in this process, and opportunities brought through Pre-Initiate."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast

from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.states import State

from engagement.change_request import Change, Paper, approval_note
from engagement.keys import Kind
from engagement.plan import KickoffHeld, TeamAllocation
from flows.change_request import Approval, post_approval
from flows.initiate import approved_staffing
from flows.plan import initiated_objects, post_allocation, post_kickoff
from flows.pre_initiate import StaffingDecision, post_decision, pre_initiate, propose_staffing
from psflow.operate import staffing_form
from sandbox.client import SandboxClient
from tasks.clients import systems
from tasks.gitlab import ensure_issue_note
from tasks.mavenlink import find_workspace
from tasks.salesforce import get_opportunity
from tasks.slack import ensure_message
from testkit.factories import new_opportunity, opportunities
from testkit.runs import FINAL, run_of, wait_for_state

COORDINATOR = "priya.raman@northwind.example"  # the seed's PS Project Coordinator


def choices(form: dict[str, Any]) -> list[str]:
    """The PSEs the staffing form offers (its JSON schema's enum)."""
    items = form["properties"]["pses"]["items"]
    if "$ref" in items:
        items = form["$defs"][items["$ref"].rsplit("/", 1)[1]]
    return list(items["enum"])


def answer(run: FlowRun, **changes: Any) -> dict[str, Any]:
    """The form filled as the UI submits it: every field as shown (its default), the coordinator
    as approver, then `changes`; the run resumed with it."""
    form = staffing_form(run.id)
    shown = {
        name: field["default"] for name, field in form["properties"].items() if "default" in field
    }
    filled = {**shown, "approver": COORDINATOR, **changes}
    with get_client(sync_client=True) as client:
        client.resume_flow_run(run.id, run_input=filled)
    return filled


def approve(run: FlowRun) -> None:
    """The proposal approved as it stands, once the run waits for it."""
    wait_for_state(run, StateType.PAUSED, timeout=90)
    answer(run)


def record_approval(opportunity_id: str, comment: str = "") -> None:
    """The coordinator's approval of the top pick, recorded in #ps_planning as the approval form
    records it: Pre-Initiate then reads it and does not suspend (only a deployment run can)."""
    opportunity = get_opportunity(opportunity_id)
    proposal = propose_staffing(opportunity)
    pick = (proposal.picks or proposal.candidates)[0].pse.email
    # the proposal as the run that asked for the approval posted it (its table artifact aside)
    ensure_message(
        systems().settings.planning_channel,
        proposal.summary(),
        Kind.STAFFING_PROPOSAL,
        opportunity.id,
    )
    decision = StaffingDecision(approve=True, pses=[pick], approver=COORDINATOR, comment=comment)
    post_decision(opportunity, decision)


def record_plan_answers(opportunity_id: str) -> None:
    """The coordinator's and the Project Owner's answers to Plan's forms as they stand (the
    approved staffing over the SOW's dates; the kickoff held on the first day, a weekly meeting a
    week later), recorded in Slack as the forms record them: Plan then reads them and does not
    suspend (only a deployment run can)."""
    opportunity = get_opportunity(opportunity_id)
    decision = approved_staffing(opportunity)
    assert decision is not None, "Pre-Initiate first"
    start, end = opportunity.expected_start, opportunity.expected_completion
    assert start is not None
    assert end is not None
    hours = decision.hours_per_day or Decimal(8)
    team = TeamAllocation(start=start, end=end, hours_per_day=dict.fromkeys(decision.pses, hours))
    post_allocation(opportunity, team, COORDINATOR)
    weekly = datetime.combine(start + timedelta(days=7), time(10))
    held = KickoffHeld(held_on=start, actions=["Share the inventory"], weekly_meeting=weekly)
    post_kickoff(opportunity, held, decision.owner)


def run_phase(
    phase: Flow[..., Any], opportunity_id: str, **parameters: Any
) -> tuple[State[Any], FlowRun]:
    """One run of the phase in this process: its final state and its flow run."""
    state = cast(State[Any], phase(opportunity_id=opportunity_id, return_state=True, **parameters))
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
    return state, run


def waiting_for_staffing(sandbox: SandboxClient) -> tuple[str, FlowRun]:
    """A fresh opportunity under $50k moved to Negotiating, as a person does in Salesforce, and its
    served Pre-Initiate run once it waits at the coordinator's form."""
    opportunity = new_opportunity(sandbox, amount=20_000)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="5-Negotiating")
    run = run_of("pre-initiate", opportunity)
    wait_for_state(run, StateType.PAUSED, timeout=90)
    return opportunity, run


def staffed(sandbox: SandboxClient, amount: float = 30_000, count: int = 1) -> list[str]:
    """Fresh opportunities through Pre-Initiate, staffing approved, through the served path: the
    move to Negotiating triggers Pre-Initiate in the runner, the coordinator approves in its form."""
    created = opportunities(sandbox, count=count, amount=amount)
    for opportunity in created:
        sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="5-Negotiating")
    for opportunity in created:
        run = run_of("pre-initiate", opportunity)
        approve(run)
        assert wait_for_state(run, *FINAL, timeout=90).type == StateType.COMPLETED
    return created


def negotiated(
    sandbox: SandboxClient, amount: float = 30_000, count: int = 1, comment: str = ""
) -> list[str]:
    """Fresh opportunities through Pre-Initiate, staffing approved, the short way for the tests of
    Initiate (the served path to here is `staffed`'s and test_pre_initiate's): imported in
    Negotiating, so the served watcher sees no move and starts nothing; the coordinator's approval
    recorded; Pre-Initiate run in this process. Closed Won then triggers Initiate as in life."""
    created = opportunities(
        sandbox, count=count, amount=amount, stage="5-Negotiating", imported=True
    )
    for opportunity in created:
        record_approval(opportunity, comment)
        state, _ = run_phase(pre_initiate, opportunity)
        assert state.type == StateType.COMPLETED, state.message
    return created


def initiated(sandbox: SandboxClient) -> str:
    """A fresh opportunity through Pre-Initiate (`negotiated`), then Closed Won, its served
    Initiate completed: Plan's run starts from there."""
    (opportunity,) = negotiated(sandbox)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
    done = wait_for_state(run_of("initiate", opportunity), *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message
    return opportunity


def log_hours(
    sandbox: SandboxClient, opportunity_id: str, start: date, days: Sequence[int]
) -> None:
    """Each PSE of the engagement logs eight hours in Kantata on each of `days` after `start`."""
    workspace = find_workspace.fn(opportunity_id)
    assert workspace is not None, "Initiate first"
    decision = approved_staffing(get_opportunity.fn(opportunity_id))
    assert decision is not None, "Pre-Initiate first"
    for pse in decision.pses:
        for day in days:
            sandbox.act(
                "mavenlink",
                "/time_entries",
                workspace_id=workspace.id,
                user_email=pse,
                date=(start + timedelta(days=day)).isoformat(),
                hours=8,
            )


def under_way(sandbox: SandboxClient, opportunity_id: str) -> date:
    """Eleven days into an engagement Plan started: the clock moved there (15:00 UTC), the team's
    hours logged on its first three days and on the Monday and Tuesday after; its start."""
    (engagement,) = [
        e
        for e in sandbox.state("salesforce", "PS_Engagement__c")
        if e["Opportunity_Id__c"] == opportunity_id
    ]
    start = date.fromisoformat(engagement["Actual_Start__c"])
    sandbox.set_clock(datetime.combine(start + timedelta(days=11), time(15), UTC))
    log_hours(sandbox, opportunity_id, start, (0, 1, 2, 7, 8))
    return start


THREE_WEEKS = "Three more weeks for the cutover"


def three_more_weeks(opportunity_id: str) -> Change:
    """The demo's change request: the engagement's end three weeks later, within the budget."""
    workspace = find_workspace(opportunity_id)
    assert workspace is not None
    assert workspace.due_date is not None, "Plan first"
    end = date.fromisoformat(workspace.due_date) + timedelta(days=21)
    return Change(description=THREE_WEEKS, end=end)


def record_change_approvals(
    opportunity_id: str, number: str = "CR-1", customer: bool = False
) -> None:
    """The engagement manager's approval of the change request, recorded in the customer's channel
    as the form records it (the change-request run then reads it and does not suspend); and, with
    `customer`, the customer's reply noted on its issue as the reply run notes it."""
    opportunity = get_opportunity(opportunity_id)
    approval = Approval(approve=True, comment="Within budget")
    paper = Paper.WRITTEN_CONFIRMATION
    post_approval(opportunity, number, paper, str(opportunity.engagement_manager_email), approval)
    if customer:
        project = initiated_objects(opportunity).project
        contact = str(opportunity.contacts[0].email)
        note = approval_note(contact, systems().clock().now(), "Accepted")
        ensure_issue_note(
            project, Kind.CHANGE_REQUEST_ISSUE, opportunity.id, number, Kind.CUSTOMER_APPROVAL, note
        )
