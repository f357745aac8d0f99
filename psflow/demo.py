"""`psflow demo`: one engagement through every phase that exists, against the sandbox and a local
Prefect server, with the deployments served as production runs them (triggers and all).

It plays the other people: the account executive moves the opportunity in Salesforce, the PS Project
Coordinator approves the staffing through the same API the Prefect UI's form uses (with
`--interactive`, the person at the keyboard approves in the UI instead). With `--keep-open` everything
stays up after the story until Ctrl-C, for a look at the runs or more engagements.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, cast

from psflow.local import (
    Child,
    launch_prefect,
    launch_sandbox,
    prefect_env,
    running,
    serve_argv,
    start,
    wait_prefect,
    wait_sandbox,
)

COORDINATOR = "priya.raman@northwind.example"
OPPORTUNITY = "006Dn0000000002IAA"  # Acme – CI/CD Modernisation, in 4-Proposal in the seed
INTERRUPTED = 130  # the shell's exit code for a Ctrl-C


def say(text: str = "") -> None:
    print(text, flush=True)


def run(data_dir: Path, keep_open: bool = False, interactive: bool = False) -> int:
    started = time.monotonic()
    shutil.rmtree(data_dir, ignore_errors=True)  # every demo starts from the same seed
    home = data_dir / "prefect"
    code = 0
    with children_stopped_on_signals() as stack:
        try:
            prefect_child, api_url = launch_prefect(home)
            stack.enter_context(running(prefect_child))
            sandbox_child, sandbox_url = launch_sandbox(data_dir / "sandbox")
            stack.enter_context(running(sandbox_child))
            ui = api_url.removesuffix("/api")
            say(f"Sandbox:     {sandbox_url}   (control API: {sandbox_url}/_sandbox/docs)")
            say(f"Prefect API: {api_url}")
            say(f"Prefect UI:  {ui}")
            say()
            wait_sandbox(sandbox_child, sandbox_url)
            wait_prefect(prefect_child, api_url)
            say(f"✓ sandbox and Prefect server up ({time.monotonic() - started:.0f} s)")

            # Prefect reads its settings from the environment when first imported.
            os.environ.update(prefect_env(home, api_url))
            import blocks

            blocks.save_sandbox_blocks(sandbox_url)
            say(f"✓ blocks saved: {', '.join(b.get_block_type_slug() for b in blocks.CONNECTIONS)}")
            argv = serve_argv("psflow.serve", "--watch-seconds", "2")
            runner = start("serve", argv, home / "serve.log", prefect_env(home, api_url))
            stack.enter_context(running(runner))
            wait_for("the deployments to be served", _deployments_served, 60)
            say("✓ deployments served (the Salesforce watcher polls every 2 s)")
            say()
            tour()
            say()
            runs = play_pre_initiate(sandbox_url, ui, interactive)
            say()
            runs += play_initiate(sandbox_url, ui, interactive)
            say()
            runs += play_plan(sandbox_url, ui, interactive)
            say()
            runs += play_execute(sandbox_url, ui, interactive)
            say()
            runs += play_change_request(sandbox_url, ui, interactive)
            say()
            runs += play_validate(sandbox_url, ui)
            say()
            runs += play_close(sandbox_url, ui, interactive)
            say()
            summarize(runs, ui)
            if keep_open:
                code = stay_open([prefect_child, sandbox_child, runner], sandbox_url, api_url, ui)
        except KeyboardInterrupt:
            say()
            say("Interrupted: stopping every process the demo started ...")
            code = INTERRUPTED
    say()
    ended = "stopped after" if code == INTERRUPTED else "finished in"
    say(f"Demo {ended} {time.monotonic() - started:.0f} s; every process it started is stopped.")
    return code


SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def children_stopped_on_signals() -> Iterator[ExitStack]:
    """An ExitStack for the demo's children, unwound by Ctrl-C, SIGTERM or a closed terminal too.

    Each child runs in its own process group, out of reach of the terminal's Ctrl-C: only the demo
    can stop it. The signal becomes a KeyboardInterrupt, so the demo unwinds and the stack stops
    every child; a second signal is ignored, so it cannot cut that short and leave one behind.
    """
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}

    def interrupt(signum: int, frame: object) -> None:
        ignore_signals()
        raise KeyboardInterrupt

    for signum in SIGNALS:
        signal.signal(signum, interrupt)
    try:
        with ExitStack() as stack:
            try:
                yield stack
            finally:
                ignore_signals()  # from here on, the children are being stopped
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def ignore_signals() -> None:
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def stay_open(children: list[Child], sandbox_url: str, api_url: str, ui: str) -> int:
    """Keep everything up until interrupted; 0 on Ctrl-C (the way to end it), 1 if a child died."""
    try:  # from the first line on: a Ctrl-C as soon as the prompt shows is the normal end
        say()
        say("Everything stays up: look at the runs in the UI, or drive more engagements.")
        say(f"  Prefect UI:  {ui}")
        say(f"  Sandbox:     {sandbox_url}   (move an opportunity: {sandbox_url}/_sandbox/docs)")
        say("  From another shell:")
        say(f"    export PREFECT_API_URL={api_url}")
        say(f"    psflow status {OPPORTUNITY}")
        say(f"    psflow emit negotiating <opportunity>   psflow retry {OPPORTUNITY}")
        say(f"Press Ctrl-C to stop everything (or: kill {os.getpid()}).")
        while True:
            for child in children:
                if child.process.poll() is not None:
                    say(f"✗ {child.name} stopped by itself (exit {child.process.returncode}):")
                    say(child.tail(10))
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        say()
        say("Stopping every process the demo started ...")
        return 0


# --- the seed ------------------------------------------------------------------------------------


def tour() -> None:
    """What the sandbox holds, read with the clients the saved Blocks build."""
    from tasks.clients import systems

    sf = systems().salesforce()
    rows = sf.query_all(
        "SELECT Name, StageName, Amount, CurrencyIsoCode, Account.Name FROM Opportunity "
        "ORDER BY StageName"
    )["records"]
    say(f"Salesforce: {len(rows)} opportunities")
    for row in rows:
        say(
            f"  {row['StageName']:<24} {row['Amount']:>10,.0f} {row['CurrencyIsoCode']}  "
            f"{row['Name']}  ({row['Account']['Name']})"
        )
    roster = systems().gspread().open("PS Skills Matrix").worksheet("PSEs").get_all_records()
    say(f"Google Sheets: the PS Skills Matrix lists {len(roster)} PSEs, e.g.")
    for pse in roster[:3]:
        say(f"  {pse['Name']:<16} {pse['Time zone']:<20} {pse['Skills']}")
    channels = systems().slack().conversations_list()["channels"]
    say(f"Slack: {', '.join('#' + c['name'] for c in channels)}")


# --- Pre-Initiate --------------------------------------------------------------------------------


def play_pre_initiate(sandbox_url: str, ui: str, interactive: bool = False) -> list[Any]:
    from prefect.client.schemas.objects import StateType

    from sandbox.client import SandboxClient
    from tasks.clients import systems

    sandbox = SandboxClient(sandbox_url)
    say("▶ Pre-Initiate")
    say(
        "  The account executive moves 'Acme – CI/CD Modernisation' to 5-Negotiating in Salesforce"
        " (a fixed-fee SOW)."
    )
    sandbox.edit(
        "salesforce", f"/sobjects/Opportunity/{OPPORTUNITY}", PS_Billing_Type__c="Fixed Fee"
    )
    sandbox.act("salesforce", f"/opportunities/{OPPORTUNITY}/stage", stage="5-Negotiating")
    run = wait_for(
        "the watcher's event to start Pre-Initiate", lambda: _run_for("pre-initiate"), 60
    )
    say(f"  ✓ the watcher emitted ps.opportunity.negotiating; run '{run.name}' started")
    say(f"    {ui}/runs/flow-run/{run.id}")
    wait_for("the staffing proposal", lambda: _state(run).type == StateType.PAUSED, 120)
    say("  ✓ cost estimate copied, prefilled, shared and linked; proposal posted to #ps_planning;")
    say("    the run is suspended, waiting for the PS Project Coordinator:")
    for line in html.unescape(_proposal(sandbox)).splitlines():
        say(f"      │ {line}")
    decide(run, ui, interactive)
    done = wait_for("Pre-Initiate to finish", lambda: _final(run), 120)
    say(f"  ✓ run finished: {done.name} – {done.message}")
    link = (
        systems()
        .salesforce()
        .query(
            f"SELECT Cost_Estimate_Link__c, PS_TA_Review_Required__c FROM Opportunity "
            f"WHERE Id = '{OPPORTUNITY}'"
        )["records"][0]
    )
    say(f"  ✓ cost estimate on the opportunity: {link['Cost_Estimate_Link__c']}")
    for row in _artifact_rows(f"pre-initiate-{OPPORTUNITY.lower()}"):
        say(f"    {row['this run']:<15} {row['system']:<12} {row['object']:<18} {row['link']}")
    return [_read(run)]


def decide(run: Any, ui: str, interactive: bool) -> None:
    """The coordinator's staffing decision on a suspended run: the demo's, or the person's."""
    from prefect.client.schemas.objects import StateType
    from prefect.flow_runs import resume_flow_run

    if interactive:
        say("  ▷ your turn, as the PS Project Coordinator: open the run in the UI,")
        say(f"    {ui}/runs/flow-run/{run.id}")
        say("    press Resume, pick the PSEs (and who chose them, the Project Owner, the dates if")
        say("    they change), choose yourself as the approving coordinator and submit.")
        say("    The demo waits for your decision (Ctrl-C stops it).")
        wait_for("your decision", lambda: _state(run).type != StateType.PAUSED, None)
        say("  ✓ your decision is in")
        return
    from psflow.operate import staffing_form

    form = staffing_form(run.id)
    picks = form["properties"]["pses"]["default"]
    architects = form["properties"]["chosen_by"]["anyOf"][0]  # one choice, or none
    decision = {
        "approve": True,
        "pses": picks,
        "chosen_by": _enum(form, architects)[0],
        "approver": COORDINATOR,
        "comment": "Approved from the demo on the coordinator's behalf",
    }
    say(f"  ▷ the coordinator approves in the UI's form: {json.dumps(decision)}")
    resume_flow_run(run.id, run_input=decision)


def _enum(form: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """The choices of a form field's schema, following a $ref into the form's definitions."""
    if "$ref" in schema:
        schema = form["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    return list(schema.get("enum", [schema["const"]] if "const" in schema else []))


# --- Initiate ------------------------------------------------------------------------------------


def play_initiate(sandbox_url: str, ui: str, interactive: bool = False) -> list[Any]:
    from prefect.client.schemas.objects import StateType

    from sandbox.client import SandboxClient

    sandbox = SandboxClient(sandbox_url)
    say("▶ Initiate")
    say("  The customer signs: the account executive moves the opportunity to Closed Won.")
    sandbox.act("salesforce", f"/opportunities/{OPPORTUNITY}/stage", stage="Closed Won")
    run = wait_for("the watcher's event to start Initiate", lambda: _run_for("initiate"), 60)
    say(f"  ✓ ps.opportunity.closed-won; run '{run.name}' started")
    say(f"    {ui}/runs/flow-run/{run.id}")
    # Initiate asks for the approval itself when Pre-Initiate's staffing was rejected
    if wait_for("Initiate to finish", lambda: _final_or_paused(run), 180).type == StateType.PAUSED:
        say("  The staffing was not approved: Initiate asks the coordinator again.")
        decide(run, ui, interactive)
    done = wait_for("Initiate to finish", lambda: _final(run), 180)
    say(f"  ✓ run finished: {done.name} – {done.message}")
    say("  Every object, with its link (the run's artifact table):")
    for row in _artifact_rows(f"initiate-{OPPORTUNITY.lower()}"):
        say(
            f"    {row['this run']:<15} {row['system']:<14} {row['object']:<20} "
            f"{row['link'] or row['name']}"
        )
    return [_read(run)]


# --- Plan ----------------------------------------------------------------------------------------


def play_plan(sandbox_url: str, ui: str, interactive: bool = False) -> list[Any]:
    from datetime import datetime, timedelta

    from sandbox.client import SandboxClient
    from tasks.clients import systems

    sandbox = SandboxClient(sandbox_url)
    say("▶ Plan")
    run = wait_for("Initiate's completion to start Plan", lambda: _run_for("plan"), 60)
    say(f"  ✓ ps.phase.completed (initiate); run '{run.name}' started")
    say(f"    {ui}/runs/flow-run/{run.id}")
    form = wait_for("the coordinator's form", lambda: _paused_at(run, "plan-allocation"), 120)
    team = {
        "start": form["properties"]["start"]["default"],
        "hours_per_day": form["properties"]["hours_per_day"]["default"],
    }
    answer(run, "the PS Project Coordinator confirms the team", team, ui, interactive)
    form = wait_for("the kickoff to be scheduled", lambda: _paused_at(run, "kickoff-held"), 120)
    (kickoff,) = [e for e in sandbox.state("google", "event") if "kickoff" in e["summary"]]
    held = datetime.fromisoformat(kickoff["start"]["dateTime"])
    say("  ✓ booked hard two months ahead, milestones and due dates planned, the kickoff deck")
    say(f"    filled and shared; the kickoff is on {held:%A %d %B %Y, %H:%M} ({held:%Z}).")
    say("  Time passes: the sandbox's clock moves to the kickoff, and the kickoff is held.")
    sandbox.set_clock(held + timedelta(hours=2))
    first_weekly = held + timedelta(days=7)
    kickoff_held = {
        "held_on": held.date().isoformat(),
        "minutes": "Scope, timeline and team confirmed; migration in three waves.",
        "actions": ["Share the repository inventory", "Provision the migration runners"],
        "handoff_complete": True,
        "weekly_meeting": first_weekly.replace(tzinfo=None).isoformat(timespec="minutes"),
    }
    answer(run, "the Project Owner records the kickoff", kickoff_held, ui, interactive)
    done = wait_for("Plan to finish", lambda: _final(run), 180)
    say(f"  ✓ run finished: {done.name} – {done.message}")
    for row in _artifact_rows(f"plan-{OPPORTUNITY.lower()}"):
        say(
            f"    {row['this run']:<15} {row['system']:<14} {row['object']:<20} "
            f"{row['link'] or row['name']}"
        )
    record = (
        systems()
        .salesforce()
        .query(
            "SELECT Status__c, Actual_Start__c FROM PS_Engagement__c "
            f"WHERE Opportunity_Id__c = '{OPPORTUNITY}'"
        )["records"][0]
    )
    say(f"  ✓ PS Engagement: {record['Status__c']} since {record['Actual_Start__c']}")
    return [_read(run)]


# --- Execute -------------------------------------------------------------------------------------


def play_execute(sandbox_url: str, ui: str, interactive: bool = False) -> list[Any]:
    from datetime import UTC, date, datetime, time, timedelta

    from prefect.deployments import run_deployment

    from flows.initiate import approved_staffing
    from sandbox.client import SandboxClient
    from tasks.mavenlink import find_workspace, get_activity_tasks
    from tasks.salesforce import find_engagement, get_opportunity

    sandbox = SandboxClient(sandbox_url)
    say("▶ Execute: the weekly status report")
    engagement = find_engagement.fn(OPPORTUNITY)
    workspace = find_workspace.fn(OPPORTUNITY)
    decision = approved_staffing(get_opportunity.fn(OPPORTUNITY))
    if not (engagement and engagement.actual_start and workspace and decision):
        raise RuntimeError("Plan left the demo's engagement without its start, project or team")
    start: date = engagement.actual_start
    friday = start + timedelta(days=(4 - start.weekday()) % 7 + 7)  # the second Friday
    say(f"  Time passes: the sandbox's clock moves to {friday:%A %d %B}. The team logs its hours")
    sandbox.set_clock(datetime.combine(friday, time(14), UTC))
    days = [start + timedelta(days=n) for n in range((friday - start).days + 1)]
    # on the activities' tasks, a day each in turn (the wrap-up counts hours per activity)
    tasks = sorted(
        {
            code: task for task, code in get_activity_tasks.fn(workspace.id, OPPORTUNITY).items()
        }.items()
    )
    for pse in decision.pses:
        for n, day in enumerate(d for d in days if d.weekday() < 5):
            sandbox.act(
                "mavenlink",
                "/time_entries",
                workspace_id=workspace.id,
                user_email=pse,
                date=day.isoformat(),
                hours=8,
                story_id=tasks[n % len(tasks)][1],
            )
        away = friday + timedelta(days=10)
        sandbox.act(
            "google",
            "/calendar/out_of_office",
            email=pse,
            start=away.isoformat(),
            end=away.isoformat(),
        )
        say(f"    {pse}: 8 h a day on the activities in Kantata, a day off on {away} in Calendar")
    say(
        "  The Friday schedule fires: weekly-status starts a status run per engagement In Progress."
    )
    weekly = run_deployment("weekly-status/weekly-status", timeout=0)
    wait_for("the weekly run", lambda: _final(weekly), 120)
    run = wait_for("the engagement's status run", lambda: _tagged_run("status ·"), 60)
    say(f"  ✓ run '{run.name}' started")
    say(f"    {ui}/runs/flow-run/{run.id}")
    week = run.name.rsplit(" · ", 1)[-1]
    form = wait_for(
        "the review form", lambda: _paused_at(run, f"status-review-{week.lower()}"), 180
    )
    say("  ✓ hours in Salesforce, bookings rolled forward, the next weekly meeting's notes row,")
    say("    the burn-down chart in Drive; the run waits for the Project Owner's review.")
    review = {
        "send": True,
        "issues": form["properties"]["issues"]["default"],
        "out_of_office": form["properties"]["out_of_office"]["default"],
        "note": "Wave one of the migration is done; wave two starts Monday.",
        "health_override": "",
    }
    answer(run, "the Project Owner reviews the report", review, ui, interactive)
    done = wait_for("the status report to finish", lambda: _final(run), 180)
    say(f"  ✓ run finished: {done.name} – {done.message}")
    for line in _artifact_text(f"status-{OPPORTUNITY.lower()}").splitlines():
        if line.startswith("![Burn-down](data:"):
            line = "[the burn-down chart, drawn in the artifact]"
        say(f"      │ {line}")
    return [_read(weekly), _read(run)]


# --- a change request ----------------------------------------------------------------------------


def play_change_request(sandbox_url: str, ui: str, interactive: bool = False) -> list[Any]:
    from datetime import date, timedelta

    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    from sandbox.client import SandboxClient
    from tasks.mavenlink import find_workspace

    sandbox = SandboxClient(sandbox_url)
    workspace = find_workspace.fn(OPPORTUNITY)
    if workspace is None or workspace.due_date is None:
        raise RuntimeError("Plan left the demo's engagement without its project's due date")
    end = date.fromisoformat(workspace.due_date) + timedelta(days=21)
    say("▶ A change request: the cutover needs three more weeks, within the budget")
    change = {"description": "Three more weeks for the cutover", "end": end.isoformat()}
    say(f"  The engagement manager starts change-request from the UI: {json.dumps(change)}")
    run = cast(
        FlowRun,
        run_deployment(
            "change-request/change-request",
            parameters={"opportunity_id": OPPORTUNITY, "customer": "Acme", "change": change},
            timeout=0,
        ),
    )
    wait_for("the approval form", lambda: _paused_at(run, "change-approval-cr-1"), 180)
    say(f"  ✓ classified, its document, issue and approval form made: '{_read(run).name}'")
    say(f"    {ui}/runs/flow-run/{run.id}")
    approval = {"approve": True, "comment": "Within budget; the customer's test team is late"}
    answer(run, "the engagement manager approves", approval, ui, interactive)
    done = wait_for("the change request to finish", lambda: _final(run), 120)
    say(f"  ✓ run finished: {done.message}")
    (mail,) = [m for m in sandbox.state("google", "message") if "CR-1" in m.get("subject", "")]
    say(f"  The customer answers '{mail['subject']}': \"Accepted – three more weeks is fine.\"")
    sandbox.act(
        "google",
        "/gmail/reply",
        message_id=mail["messageId"],
        body="Accepted – three more weeks is fine.\n\nDana",
    )
    reply = wait_for("the mail watcher to find the answer", lambda: _tagged_run("reply ·"), 60)
    rebaseline = wait_for("the re-baseline", lambda: _tagged_run("rebaseline ·"), 120)
    applied = wait_for("the re-baseline to finish", lambda: _final(rebaseline), 180)
    say(f"  ✓ the watcher found it; '{_read(reply).name}' read it: the customer's approval")
    say(f"  ✓ '{_read(rebaseline).name}' finished: {applied.message}")
    for line in _artifact_text(f"rebaseline-{OPPORTUNITY.lower()}-cr-1").splitlines():
        say(f"      │ {line}")
    return [_read(run), _read(reply), _read(rebaseline)]


# --- Validate ------------------------------------------------------------------------------------


def play_validate(sandbox_url: str, ui: str) -> list[Any]:
    from datetime import timedelta

    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    from engagement.keys import gitlab_opportunity_label
    from sandbox.client import SandboxClient
    from tasks.clients import systems

    sandbox = SandboxClient(sandbox_url)
    say("▶ Validate: each activity accepted by the customer")
    mine = gitlab_opportunity_label(OPPORTUNITY)
    activities = [
        i
        for i in sandbox.state("gitlab", "issue")
        if "PS::Activity" in i["labels"] and mine in i["labels"]
    ]
    gitlab = systems().gitlab()
    for issue in activities:
        gitlab.projects.get(issue["project_id"], lazy=True).issues.update(
            issue["iid"], {"state_event": "close"}
        )
    say(f"  The team closes its {len(activities)} activity issues in GitLab.")
    requests = wait_for(
        "the acceptance requests",
        lambda: (
            (runs := _tagged_runs("accept ·"))
            and len(runs) == len(activities)
            and all(_final(r) for r in runs)
            and runs
        ),
        180,
    )
    for run in requests:
        say(f"  ✓ '{run.name}': {_state(run).message}")
    first = sorted(i["title"] for i in activities)[0].split(" – ")[0]
    (mail,) = [
        m for m in sandbox.state("google", "message") if f"acceptance of {first}" in m["subject"]
    ]
    say(f"  The customer answers '{mail['subject']}': \"Accepted, thank you.\"")
    sandbox.act("google", "/gmail/reply", message_id=mail["messageId"], body="Accepted, thank you.")
    reply = wait_for(
        "the reply run", lambda: _final_run(f"reply · Acme Corporation · {first}"), 120
    )
    say(f"  ✓ '{reply.name}': {_state(reply).message}")
    now = systems().clock().now()
    later = now + timedelta(days=9)
    say(f"  Nobody answers the other. Time passes: the clock moves to {later:%A %d %B}.")
    sandbox.set_clock(later)
    say("  The hourly passive-acceptance schedule fires:")
    clock = cast(FlowRun, run_deployment("passive-acceptance/passive-acceptance", timeout=0))
    ended = wait_for("the passive clock", lambda: _final(clock), 180)
    say(f"  ✓ '{_read(clock).name}': {ended.message}")
    say("  The records, on each activity's issue (GitLab) and milestone (Kantata):")
    for note in sandbox.state("gitlab", "note"):
        if note["body"].startswith("**Accepted"):
            say(f"      │ {note['body'].splitlines()[0]}")
    done = [m for m in sandbox.state("mavenlink", "stories") if m["story_type"] == "milestone"]
    billed = {b["story_id"]: b for b in sandbox.state("mavenlink", "billing_milestones")}
    for milestone in done:
        bill = billed.get(milestone["id"])
        fee = (
            f"; {bill['amount_in_cents'] / 100:,.2f} {bill['currency']} billable from "
            f"{bill['date_to_invoice']}"
            if bill
            else ""
        )
        say(f"      │ milestone {milestone['title']}: {milestone['state']}{fee}")
    wait_for("Validate's completion", lambda: _completed("validate"), 60)
    say("  ✓ every activity accepted: ps.phase.completed (validate), the event Close starts on")
    return [*map(_read, requests), _read(reply), _read(clock)]


def play_close(sandbox_url: str, ui: str, interactive: bool = False) -> list[Any]:
    from sandbox.client import SandboxClient

    sandbox = SandboxClient(sandbox_url)
    say("▶ Deploy & Close: the sign-off, the wrap-up, the closure meeting, Completed")
    asked = wait_for("the close run", lambda: _final_run("close ·"), 120)
    say(f"  ✓ '{asked.name}': {_state(asked).message}")
    (mail,) = [m for m in sandbox.state("google", "message") if "project sign off" in m["subject"]]
    say(f"  The customer answers '{mail['subject']}' (CC the PS Ops Manager): \"Accepted.\"")
    sandbox.act("google", "/gmail/reply", message_id=mail["messageId"], body="Accepted.")
    signed = wait_for(
        "the reply run", lambda: _final_run("reply · Acme Corporation · sign-off"), 120
    )
    say(f"  ✓ '{signed.name}': {_state(signed).message}")
    say("  The sign-off starts Close again: the wrap-up, the closeout report, the closure meeting.")
    run = wait_for(
        "Close again",
        lambda: next((r for r in _tagged_runs("close ·") if r.id != asked.id), None),
        120,
    )
    wait_for("the closeout form", lambda: _paused_at(run, "closeout-approval"), 180)
    lessons = "Agree the cutover window in week one; the runner fleet took longer than planned."
    answer(
        run,
        "the Project Owner approves the closeout report",
        {"lessons_learned": lessons, "approve": True},
        ui,
        interactive,
    )
    wait_for("the billing form", lambda: _paused_at(run, "billing-done"), 180)
    say("  ✓ report posted to #ps_leadership, closure meeting booked, bookings end that day,")
    say("    epic and sign-off issue closed, the project Closed in Mavenlink (billing pending).")
    answer(
        run, "the PS Project Coordinator: billing is done", {"billing_done": True}, ui, interactive
    )
    done = wait_for("Close to finish", lambda: _final(run), 180)
    say(f"  ✓ run finished: {done.name} – {done.message}")
    say("  The wrap-up (the run's artifact):")
    for line in _artifact_text(f"closeout-{OPPORTUNITY.lower()}").splitlines():
        if line.strip() and not line.startswith("![") and not line.startswith("# "):
            say(f"      │ {line}")
    wait_for("Close's completion", lambda: _completed("close"), 60)
    say("  ✓ ps.phase.completed (close): the engagement's lifecycle is over. Where it stands:")
    final_state(sandbox)
    return [_read(asked), _read(signed), _read(run)]


def final_state(sandbox: Any) -> None:
    """The engagement as each system holds it at the end."""
    (record,) = [
        e
        for e in sandbox.state("salesforce", "PS_Engagement__c")
        if e["Opportunity_Id__c"] == OPPORTUNITY
    ]
    say(
        f"      │ Salesforce  PS Engagement {record['Status__c']}, completed "
        f"{record['Completed__c']}, signed off {record['Sign_Off_Date__c']}, "
        f"{record['Hours_Consumed__c']:g} h consumed"
    )
    (workspace,) = [
        w for w in sandbox.state("mavenlink", "workspaces") if OPPORTUNITY in w["description"]
    ]
    say(f"      │ Mavenlink   {workspace['title']}: {workspace['status']['message']}")
    epics = [e for e in sandbox.state("gitlab", "epic") if OPPORTUNITY in e["description"]]
    issues = [i for i in sandbox.state("gitlab", "issue") if OPPORTUNITY in i["description"]]
    open_issues = sum(i["state"] != "closed" for i in issues)
    say(
        f"      │ GitLab      epic {epics[0]['state'] if epics else '-'}; "
        f"{len(issues) - open_issues} of {len(issues)} issues closed"
    )
    closure = [
        e for e in sandbox.state("google", "event") if e["summary"].startswith("Project closure")
    ]
    when = closure[0]["start"]["dateTime"] if closure else "-"
    say(
        f"      │ Calendar    {closure[0]['summary'] if closure else 'no closure meeting'} at {when}"
    )
    posts = [
        m for m in sandbox.state("slack", "messages") if m.get("text", "").startswith("Closeout")
    ]
    say(f"      │ Slack       {len(posts)} closeout report in #ps_leadership")


def _completed(phase: str) -> bool:
    """Whether the server holds the engagement's `ps.phase.completed` for `phase`."""
    wanted = {
        "event": {"name": ["ps.phase.completed"]},
        "resource": {"id": [f"ps.opportunity.{OPPORTUNITY}"]},
        "related": {"id": [f"ps.phase.{phase}"]},
    }
    with _client() as client:
        answer = client.request("POST", "/events/filter", json={"filter": wanted})
    return bool(answer.json()["events"])


def _tagged_runs(prefix: str) -> list[Any]:
    """The engagement's runs whose names start with `prefix`."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    with _client() as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[f"opportunity:{OPPORTUNITY}"])
            )
        )
    return [r for r in runs if r.name.startswith(prefix)]


def _final_run(name: str) -> Any:
    return next((r for r in _tagged_runs(name) if _final(r)), None)


def _tagged_run(prefix: str) -> Any:
    """The engagement's run whose name starts with `prefix`, once there is one."""
    return next(iter(_tagged_runs(prefix)), None)


def _artifact_text(key: str) -> str:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with _client() as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    return str(artifacts[-1].data) if artifacts else ""


def answer(run: Any, who: str, fields: dict[str, Any], ui: str, interactive: bool) -> None:
    """A person's answer to a run's form: the demo's (`fields`), or the person's at the UI."""
    from prefect.client.schemas.objects import StateType
    from prefect.flow_runs import resume_flow_run

    if interactive:
        say(f"  ▷ your turn: {who} in the run's form (Resume), at")
        say(f"    {ui}/runs/flow-run/{run.id}")
        say("    The demo waits for your answer (Ctrl-C stops it).")
        wait_for("your answer", lambda: _state(run).type != StateType.PAUSED, None)
        return
    say(f"  ▷ {who} in the UI's form: {json.dumps(fields)}")
    resume_flow_run(run.id, run_input=fields)


def _paused_at(run: Any, key: str) -> Any:
    """The form of a run waiting at the pause `key`, once it does."""
    from prefect.client.schemas.objects import StateType

    from psflow.operate import staffing_form

    state = _state(run)
    if state.is_final():
        raise RuntimeError(f"{run.name} ended before its form: {state.message}")
    if state.type != StateType.PAUSED or state.state_details.pause_key != key:
        return None
    return staffing_form(run.id)


def summarize(runs: list[Any], ui: str) -> None:
    say("Runs:")
    for run in runs:
        took = run.total_run_time.total_seconds() if run.total_run_time else 0
        say(f"  {run.state.name:<10} {took:5.1f} s  {run.name}")
        say(f"             {ui}/runs/flow-run/{run.id}")


# --- reading Prefect -----------------------------------------------------------------------------


def wait_for(what: str, check: Callable[[], Any], timeout: float | None) -> Any:
    """Poll `check` until it returns something truthy; for ever when `timeout` is None."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while deadline is None or time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.3)
    raise TimeoutError(f"the demo waited {timeout:.0f} s for {what}")


def _client() -> Any:
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def _deployments_served() -> bool:
    from deployments.definitions import DEPLOYMENTS

    with _client() as client:
        return len(client.read_deployments()) >= len(DEPLOYMENTS)


def _run_for(phase: str) -> Any:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with _client() as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=OPPORTUNITY))
        )
    return next((r for r in runs if r.name.startswith(phase)), None)


def _read(run: Any) -> Any:
    with _client() as client:
        return client.read_flow_run(run.id)


def _state(run: Any) -> Any:
    return _read(run).state


def _final(run: Any) -> Any:
    state = _state(run)
    return state if state.is_final() else None


def _final_or_paused(run: Any) -> Any:
    from prefect.client.schemas.objects import StateType

    state = _state(run)
    return state if state.is_final() or state.type == StateType.PAUSED else None


def _proposal(sandbox: Any) -> str:
    for message in sandbox.state("slack", "messages"):
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get("psflow_key", "").startswith(f"staffing-proposal:{OPPORTUNITY}"):
            return str(message["text"])
    return "(not found)"


def _artifact_rows(key: str) -> list[dict[str, str]]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with _client() as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    if not artifacts:
        return []
    data = artifacts[-1].data
    return list(json.loads(data) if isinstance(data, str) else data)
