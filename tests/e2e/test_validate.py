"""Validate through the served deployments: the team closes an engagement's activity issues, the
served watcher starts one acceptance request per activity; the customer accepts one by reply,
asks a question about another and accepts it after, and lets the third pass five business days of
moved time; each acceptance is recorded once, and Validate's completion (which starts Close) is
announced once all are accepted."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

import pytest
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment

from engagement.keys import Kind, gitlab_opportunity_label
from engagement.project_definition import PLAN
from engagement.validate import ACCEPTED, QUESTION, REQUESTED
from flows.replies import reply
from flows.validate import poll, validate
from sandbox.client import SandboxClient
from tasks.clients import systems
from tasks.drive import find_keyed_file
from tasks.gitlab import find_keyed_issues
from tasks.sheets import get_tables
from testkit.expect import body_text, sent_mail, written
from testkit.faults import prepare
from testkit.phases import run_phase
from testkit.runs import (
    FINAL,
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


def activity_issues(world: SandboxClient, opportunity: str) -> dict[str, dict[str, Any]]:
    """The engagement's activity issues, by their code (from their titles' "<code> – ...")."""
    mine = gitlab_opportunity_label(opportunity)
    return {
        issue["title"].split(" – ")[0]: issue
        for issue in world.state("gitlab", "issue")
        if "PS::Activity" in issue["labels"] and mine in issue["labels"]
    }


def close(world: SandboxClient, opportunity: str) -> list[str]:
    """The team closes every activity issue, as a PSE does in GitLab."""
    gitlab = systems().gitlab()
    issues = activity_issues(world, opportunity)
    for issue in issues.values():
        project = gitlab.projects.get(issue["project_id"], lazy=True)
        project.issues.update(issue["iid"], {"state_event": "close"})
    return sorted(issues)


def runs_named(opportunity: str, prefix: str, count: int) -> list[FlowRun]:
    """The opportunity's runs named `prefix ...`, once `count` of them have ended."""

    def ended() -> list[FlowRun]:
        runs = [r for r in flow_runs(opportunity) if r.name.startswith(prefix)]
        return runs if sum(state_of(r).type in FINAL for r in runs) >= count else []

    return cast(list[FlowRun], wait_until(ended, 180, f"{count} '{prefix}' runs"))


def answer(world: SandboxClient, code: str, body: str) -> dict[str, Any]:
    """The customer answers the acceptance request of `code`."""
    (mail,) = sent_mail(world, f"acceptance of {code}")
    return cast(
        dict[str, Any],
        world.act("google", "/gmail/reply", message_id=mail["Message-ID"], body=body),
    )


def labels_of(world: SandboxClient, opportunity: str, code: str) -> list[str]:
    return list(activity_issues(world, opportunity)[code]["labels"])


def test_an_engagement_is_validated_by_reply_after_a_question_and_passively_once(
    served: PrefectStack, world: SandboxClient
) -> None:
    opportunity = prepare(world, "execute")
    # a fixed fee: each accepted milestone releases its share (the sales rep's field)
    world.edit("salesforce", f"/sobjects/Opportunity/{opportunity}", PS_Billing_Type__c="Fixed Fee")
    first, second, third = close(world, opportunity)

    # one request per activity, started by the served watcher
    requests = runs_named(opportunity, "accept ·", 3)
    assert len(requests) == 3
    assert all(state_of(r).type == StateType.COMPLETED for r in requests), [
        state_of(r).message for r in requests
    ]
    for code in (first, second, third):
        (mail,) = sent_mail(world, f"acceptance of {code}")
        text = body_text(mail)
        assert "Its deliverables:" in text
        assert "(five business days)" in text
        assert labels_of(world, opportunity, code).count(REQUESTED) == 1

    # the first accepted by reply
    answer(world, first, "Accepted. Thanks, team!")
    (reply,) = runs_named(opportunity, "reply ·", 1)
    assert state_of(reply).message == f"{first}: accepted by {mail_to(world, first)}"
    assert ACCEPTED in labels_of(world, opportunity, first)

    # the second: a question first (the Project Owner told and asked), then accepted by reply
    asked = answer(world, second, "Does this include the runbook?")
    question = wait_until(
        lambda: [
            r
            for r in flow_runs(opportunity)
            if r.name == f"reply · Globex Industries · {second}"
            and state_of(r).type == StateType.PAUSED
        ],
        120,
        "the Project Owner's form",
    )[0]
    assert QUESTION in labels_of(world, opportunity, second)
    posts = [
        m["text"]
        for m in world.state("slack", "messages")
        if "is not an acceptance" in m.get("text", "")
    ]
    assert len(posts) == 1
    answer(world, second, "accepted, the runbook is there")
    runs_named(opportunity, "reply ·", 2)  # the question waits; the two others ended
    assert ACCEPTED in labels_of(world, opportunity, second)
    form = paused_at(question, f"acceptance-{second.lower()}-{asked['id']}")
    resume(question, form, accept=False)
    done = wait_for_state(question, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message

    # the third: no answer; five business days pass (the clock moved, not waited)
    assert not completions(opportunity)
    now = systems().clock().now()
    world.set_clock(now + timedelta(days=9))
    before = world.last_request_id()
    clock = cast(FlowRun, run_deployment("passive-acceptance/passive-acceptance", timeout=0))
    ended = wait_for_state(clock, *FINAL, timeout=180)
    assert ended.type == StateType.COMPLETED, ended.message
    assert (
        ended.message == "1 accepted passively, of 1 waiting; 0 signed off passively, of 0 waiting"
    )
    assert ACCEPTED in labels_of(world, opportunity, third)
    notes = [
        n["body"]
        for n in world.state("gitlab", "note")
        if n["body"].startswith("**Accepted passively")
    ]
    assert len(notes) == 1
    assert "nobody: no answer in five business days" in notes[0]

    # every milestone completed; Validate completed, once
    milestones = [m for m in world.state("mavenlink", "stories") if m["story_type"] == "milestone"]
    mine = [m for m in milestones if m["title"].split(" – ")[0] in (first, second, third)]
    assert len(mine) == 3
    assert all(m["state"] == "completed" for m in mine)
    # the handbook's records on each milestone (Kantata's custom fields)
    records: dict[str, dict[str, str]] = {}
    for value in world.state("mavenlink", "custom_field_values"):
        if value["subject_type"] == "Story":
            fields = records.setdefault(str(value["subject_id"]), {})
            fields[value["custom_field_name"]] = value["value"]
    by_code = {m["title"].split(" – ")[0]: records.get(str(m["id"]), {}) for m in mine}
    assert set(by_code[first]) == {"Sign-Off Sent", "Sign-Off Received"}
    assert set(by_code[second]) == {"Sign-Off Sent", "Sign-Off Received"}
    assert by_code[third]["Passive Acceptance Utilized"] == "Yes"
    assert by_code[third]["Sign-Off Received"] > by_code[third]["Sign-Off Sent"]
    # the fixed fee released on the Billing Schedule: a share per accepted milestone, by its
    # planned hours, invoiceable from the day it was accepted, the shares adding up to the budget
    billed = {b["story_id"]: b for b in world.state("mavenlink", "billing_milestones")}
    assert sorted(billed) == sorted(m["id"] for m in mine)
    hours = planned_hours(opportunity)
    for m in mine:
        code, bill = m["title"].split(" – ")[0], billed[m["id"]]
        assert bill["date_to_invoice"] == by_code[code]["Sign-Off Received"]
        exact = Decimal(7_500_000) * hours[code] / sum(hours.values())
        assert abs(bill["amount_in_cents"] - exact) < 1, (code, bill, hours)
    assert sum(b["amount_in_cents"] for b in billed.values()) == 7_500_000  # $75,000.00
    wait_until(lambda: completions(opportunity), 60, "Validate's completion")
    assert written(world, before) != {}
    # which starts Close: the customer asked to sign off (tests/e2e/test_close.py goes on)
    (closing,) = runs_named(opportunity, "close ·", 1)
    assert "sign-off asked of" in str(state_of(closing).message), state_of(closing).message

    # exactly once: the clock again, a request run again (as the UI's Run does), and a late
    # "accepted" (recorded, changing nothing)
    again = world.last_request_id()
    clock = cast(FlowRun, run_deployment("passive-acceptance/passive-acceptance", timeout=0))
    assert wait_for_state(clock, *FINAL, timeout=180).message == (
        "0 accepted passively, of 0 waiting; 0 signed off passively, of 0 waiting"
    )
    rerun = cast(
        FlowRun,
        run_deployment(
            "validate/validate",
            parameters={"opportunity_id": opportunity, "activity": first},
            timeout=0,
        ),
    )
    assert wait_for_state(rerun, *FINAL, timeout=180).message == f"{first}: accepted already"
    assert written(world, again) == {}
    answer(world, third, "accepted (sorry, I was away)")
    late = runs_named(opportunity, "reply ·", 4)
    messages = [str(state_of(r).message) for r in late]
    assert f"{third}: accepted already; the reply is recorded" in messages
    assert written(world, again) == {"gitlab": 1}  # the late reply, noted
    assert len(completions(opportunity)) == 1


def planned_hours(opportunity: str) -> dict[str, Decimal]:
    """The Plan tab's hours per activity, as the engagement's Project Definition has them."""
    definition = find_keyed_file.fn(Kind.PROJECT_DEFINITION, opportunity)
    assert definition is not None
    tab = get_tables.fn(definition.id, [PLAN])[PLAN]
    return {str(row[0]): Decimal(str(row[2])) for row in tab[1:] if row and row[0]}


def mail_to(world: SandboxClient, code: str) -> str:
    (mail,) = sent_mail(world, f"acceptance of {code}")
    return str(mail["To"])


def completions(opportunity: str) -> list[dict[str, Any]]:
    return events("ps.phase.completed", opportunity, related="ps.phase.validate")


# --- bad input, races, repeats --------------------------------------------------------------------


def test_an_activity_whose_contacts_have_no_email_is_refused_naming_the_field(
    world: SandboxClient,
) -> None:
    opportunity = prepare(world, "initiate")  # refused on reading the opportunity: no more needed
    for role in world.state("salesforce", "OpportunityContactRole"):
        if role["OpportunityId"] == opportunity:
            world.edit("salesforce", f"/sobjects/Contact/{role['ContactId']}", Email=None)
    before = world.last_request_id()
    state, _ = run_phase(validate, opportunity, activity="PS-MIG")  # refused before it is read
    assert state.type == StateType.FAILED
    assert "Email" in str(state.message)
    assert written(world, before) == {}


def test_a_reply_that_is_not_in_a_psflow_thread_is_named_and_nothing_is_written(
    world: SandboxClient,
) -> None:
    # (prepared through Plan, as in the other tests: a Plan left to the served deployment after
    # Initiate would write meanwhile)
    opportunity = prepare(world, "execute")
    (mail,) = [m for m in world.state("google", "message") if "SENT" in m["labelIds"]][:1]
    cases = [
        ("18c2a0000000dead", "18c2a0000000beef", "thread 18c2a0000000dead"),  # no such thread
        (str(mail["threadId"]), "18c2a0000000beef", "message 18c2a0000000beef"),  # not in it
    ]
    for thread, message, named in cases:
        before = world.last_request_id()
        state, _ = run_phase(reply, opportunity, thread=thread, message=message)
        assert state.type == StateType.FAILED
        assert f"Gmail: {named}" in str(state.message)
        assert written(world, before) == {}


def test_a_repeated_poll_starts_nothing_and_a_reply_racing_the_clock_is_recorded_once(
    served: PrefectStack, world: SandboxClient
) -> None:
    opportunity = prepare(world, "execute")
    codes = close(world, opportunity)
    runs_named(opportunity, "accept ·", len(codes))

    # the watcher polled again, twice, over the same closes: the same events, nothing new
    assert poll(find_keyed_issues.fn, overlap_seconds=3600) >= len(codes)
    assert poll(find_keyed_issues.fn, overlap_seconds=3600) >= len(codes)
    before = world.last_request_id()
    wait_until(lambda: not busy(opportunity), 60, "no run under way")
    requests = [r for r in flow_runs(opportunity) if r.name.startswith("accept ·")]
    assert len(requests) == len(codes)
    assert written(world, before) == {}

    # the customer's "accepted" arrives just as the clock passes the fifth business day
    code = codes[0]
    world.set_clock(systems().clock().now() + timedelta(days=9))
    answer(world, code, "accepted")
    clock = cast(FlowRun, run_deployment("passive-acceptance/passive-acceptance", timeout=0))
    assert wait_for_state(clock, *FINAL, timeout=180).type == StateType.COMPLETED
    runs_named(opportunity, "reply ·", 1)
    notes = [
        n["body"]
        for n in world.state("gitlab", "note")
        if n["body"].startswith("**Accepted") and f":{code} -->" in n["body"]
    ]
    assert len(notes) == 1, notes  # by reply or passively: whichever came first, once
    assert labels_of(world, opportunity, code).count(ACCEPTED) == 1
    accepted = events("ps.activity.accepted", opportunity)
    assert len([e for e in accepted if e["payload"]["activity"] == code]) == 1


def busy(opportunity: str) -> list[FlowRun]:
    return [r for r in flow_runs(opportunity) if state_of(r).type not in (*FINAL, StateType.PAUSED)]
