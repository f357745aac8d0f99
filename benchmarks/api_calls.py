"""API calls per engagement (issue 7): reads and writes per system, from the sandbox's request log,
for one engagement through Pre-Initiate (staffing approved), Initiate, Plan, a weekly report, a
change request, Validate and Close, against the floor; then a re-run of each completed phase (target: 0
writes, at most one read per object).

The floor of a phase's writes is the number of objects it creates or changes (one write each,
batched where the API batches: a Sheets batchUpdate counts once for the whole sheet), counted from
the sandbox's own state before and after the run. Runs go through the served deployments
(`python -m psflow.serve`) on a real Prefect server, the approval through the run's form.

    .venv/bin/python -m benchmarks.api_calls [--detail] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import tempfile
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.stack import Stack, header, load, prefect_home, stack

SYSTEMS = ("salesforce", "gitlab", "google", "mavenlink", "slack")
INTERNAL = {"meta"}  # the sandbox's own bookkeeping (e.g. Slack's clock), not API objects
AMOUNT = 30_000  # under $50k: no TA review issue (as testkit/phases.py's `staffed`)


def snapshot(sandbox: Any) -> dict[tuple[str, str, str], str]:
    """Every object in the sandbox, by (system, kind, id), as JSON to compare."""
    objects = {}
    for system in SYSTEMS:
        for kind, rows in sandbox.state(system).items():
            if kind in INTERNAL:
                continue
            for i, row in enumerate(rows):
                key = str(row.get("id") or row.get("Id") or row.get("ts") or i)
                objects[(system, kind, key)] = json.dumps(row, sort_keys=True, default=str)
                # a Drive permission is an object of its own (one permissions.create each),
                # kept inside its file by the sandbox
                for grant in row.get("permissions", []) if kind == "file" else []:
                    if grant.get("role") != "owner":
                        objects[(system, "permission", f"{key}/{grant['id']}")] = "{}"
                # so are a Slack channel's invited members (one conversations.invite for all)
                members = row.get("members", []) if kind == "channels" else []
                if len(members) > 1:
                    objects[(system, "invitation", key)] = json.dumps(members[1:])
    return objects


def touched(before: dict[Any, str], after: dict[Any, str]) -> Counter[str]:
    """Objects created or changed, per system: the floor of the writes."""
    return Counter(key[0] for key, value in after.items() if before.get(key) != value)


def touched_kinds(before: dict[Any, str], after: dict[Any, str]) -> Counter[str]:
    return Counter(f"{key[0]}.{key[1]}" for key, value in after.items() if before.get(key) != value)


_ID = re.compile(r"/(?=[^/]*\d)[^/]+")  # a path segment holding a digit is an id


def shape(row: dict[str, Any]) -> str:
    path = _ID.sub("/:id", row["path"])
    return f"{'W' if row['write'] else 'R'} {row['method']} {path}"


def phase(
    st: Stack, name: str, run: Any, detail: bool, floors: dict[str, Counter[str]] | None = None
) -> tuple[dict[str, list[int]], Counter[str]]:
    """Run `run()`, print reads and writes per system against the floor; returns the per-system
    figures and the objects touched."""
    sandbox = st.sandbox
    before, since = snapshot(sandbox), sandbox.last_request_id()
    run()
    rows = sandbox.requests(since=since)
    after = snapshot(sandbox)
    floor = touched(before, after)
    figures: dict[str, list[int]] = {}
    for row in rows:
        counts = figures.setdefault(row["system"], [0, 0])
        counts[1 if row["write"] else 0] += 1
    print(f"\n{name}: {len(rows)} requests")
    objects = floors[name.split(" ")[0]] if floors else floor
    rerun = floors is not None
    print(
        f"  {'system':<11} {'reads':>5} {'writes':>6}  "
        + ("floor: writes 0, reads <= objects" if rerun else "floor: writes = objects touched")
    )
    for system in SYSTEMS:
        reads, writes = figures.get(system, [0, 0])
        if rerun:
            note = f"objects {objects[system]:>3}" + (
                "" if writes == 0 and reads <= objects[system] else "  ABOVE"
            )
        else:
            note = f"objects {floor[system]:>3}" + ("" if writes <= floor[system] else "  ABOVE")
        print(f"  {system:<11} {reads:>5} {writes:>6}  {note}")
    total_r = sum(r for r, _ in figures.values())
    total_w = sum(w for _, w in figures.values())
    total_o = sum(objects.values())
    print(f"  {'total':<11} {total_r:>5} {total_w:>6}  objects {total_o:>3}")
    if detail:
        print("  objects touched:", dict(sorted(touched_kinds(before, after).items())))
        for what, n in sorted(Counter(shape(r) for r in rows).items()):
            print(f"    {n:>3} {what}")
    return figures, floor


def quota_use(rows: list[dict[str, Any]]) -> dict[Any, int]:
    """Requests per published quota (the sandbox's own, `sandbox.core.Quota`) among `rows`."""
    from sandbox.app import load_systems

    systems = {system.name: system for system in load_systems()}
    use: Counter[Any] = Counter()
    for row in rows:
        for quota in systems[row["system"]].quotas:
            if quota.applies(row["method"], row["path"]):
                use[quota] += 1
    return dict(use)


def burst_floor(use: dict[Any, int], engagements: int) -> tuple[float, Any]:
    """The least wall time `engagements` Initiates need under the quotas, each using `use`: a
    sliding window of Q requests per W seconds lets n requests through no sooner than
    (ceil(n / Q) - 1) * W after the first. Returns the seconds and the quota that sets them."""
    return max(
        (
            ((math.ceil(n * engagements / q.limit) - 1) * q.window_seconds, q)
            for q, n in use.items()
        ),
        key=lambda floor: floor[0],
    )


def quota_floor(rows: list[dict[str, Any]], engagements: int = 200, name: str = "initiate") -> None:
    """Print one run's requests per quota and the floor they imply for `engagements` runs (the
    end-of-quarter burst of Initiates; a Friday's status reports)."""
    use = quota_use(rows)
    print(f"\n  {name}: requests per published quota, and {engagements} runs' floor")
    print(f"  {'quota':<38} {'requests':>8} {'limit':>7} {'window s':>8} {'floor s':>8}")
    for quota, n in sorted(
        use.items(), key=lambda item: -burst_floor({item[0]: item[1]}, engagements)[0]
    ):
        floor, _ = burst_floor({quota: n}, engagements)
        print(f"  {quota.id:<38} {n:>8} {quota.limit:>7} {quota.window_seconds:>8g} {floor:>8g}")
    seconds, binding = burst_floor(use, engagements)
    print(f"  burst floor for {engagements} engagements: {seconds:g} s, set by {binding.id}")


def _run_named(phase: str, opportunity: str) -> Any:
    from testkit.runs import flow_runs

    return next((r for r in flow_runs(opportunity) if r.name.startswith(f"{phase} ·")), None)


def _run_of(opportunity: str, prefix: str, code: str) -> Any:
    """The engagement's run of one activity: `<prefix> · <customer> · <code>`."""
    from testkit.runs import flow_runs

    runs = flow_runs(opportunity)
    return next((r for r in runs if r.name.startswith(prefix) and r.name.endswith(code)), None)


def _paused_at(run: Any, key: str) -> bool:
    from benchmarks.measure import _client

    with _client() as client:
        state = client.read_flow_run(run.id).state
    return state is not None and state.is_paused() and state.state_details.pause_key == key


def close_activities(sandbox: Any, opportunity: str) -> list[str]:
    """The team closes the engagement's activity issues in GitLab, as PSEs do; their codes."""
    from blocks import sandbox_blocks
    from engagement.keys import gitlab_opportunity_label
    from tasks import clients
    from tasks.clients import systems

    clients.configure(sandbox_blocks(sandbox.url, pace=False))
    mine = gitlab_opportunity_label(opportunity)
    issues = [
        i
        for i in sandbox.state("gitlab", "issue")
        if "PS::Activity" in i["labels"] and mine in i["labels"] and i["state"] == "opened"
    ]
    gitlab = systems().gitlab()
    for issue in issues:
        project = gitlab.projects.get(issue["project_id"], lazy=True)
        project.issues.update(issue["iid"], {"state_event": "close"})
    return sorted(issue["title"].split(" – ")[0] for issue in issues)


def run(data: Path, detail: bool) -> int:
    from prefect.client.schemas.objects import FlowRun, StateType
    from prefect.deployments import run_deployment
    from prefect.flow_runs import resume_flow_run

    from benchmarks.measure import FINAL, _reached, wait_until
    from psflow.operate import staffing_form
    from testkit.factories import new_opportunity
    from testkit.phases import three_more_weeks, under_way
    from testkit.runs import flow_runs

    header("api calls per engagement")
    with stack(data) as st:
        sandbox, logs = st.sandbox, st.logs
        opportunity = new_opportunity(sandbox, amount=AMOUNT)

        def deployment(name: str, approve: bool = False) -> None:
            params = {"opportunity_id": opportunity, "customer": "Benchmark"}
            flow_run: FlowRun = run_deployment(  # type: ignore[assignment]  # sync here
                f"{name}/{name}", parameters=params, timeout=0
            )
            if approve:
                wait_until(lambda: _reached(flow_run, StateType.PAUSED, *FINAL), 180, name, logs)
                form = staffing_form(flow_run.id)
                picks = form["properties"]["pses"]["default"]
                resume_flow_run(
                    flow_run.id,
                    run_input={
                        "approve": True,
                        "pses": picks,
                        "approver": "priya.raman@northwind.example",  # a coordinator
                    },
                )
            state = wait_until(lambda: _reached(flow_run, *FINAL), 300, name, logs)
            if state.type != StateType.COMPLETED:
                raise RuntimeError(f"{name} ended {state.type}: {state.message}\n{logs()}")

        sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="5-Negotiating")
        floors: dict[str, Counter[str]] = {}
        _, floors["pre-initiate"] = phase(
            st, "pre-initiate (approved)", lambda: deployment("pre-initiate", True), detail
        )

        def plan() -> None:
            """The Plan run Initiate's completion started, both forms answered as people do."""
            run = wait_until(lambda: _run_named("plan", opportunity), 120, "plan", logs)
            for key in ("plan-allocation", "kickoff-held"):
                wait_until(lambda key=key: _paused_at(run, key), 180, key, logs)
                form = staffing_form(run.id)
                shown = {k: f["default"] for k, f in form["properties"].items() if "default" in f}
                if key == "kickoff-held":  # held today, a weekly meeting from next week
                    weekly = date.fromisoformat(shown["held_on"]) + timedelta(days=7)
                    shown["weekly_meeting"] = f"{weekly}T10:00:00"
                resume_flow_run(run.id, run_input=shown)
            state = wait_until(lambda: _reached(run, *FINAL), 300, "plan", logs)
            if state.type != StateType.COMPLETED:
                raise RuntimeError(f"plan ended {state.type}: {state.message}\n{logs()}")

        sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
        since = sandbox.last_request_id()
        _, floors["initiate"] = phase(st, "initiate", lambda: deployment("initiate"), detail)
        quota_floor(sandbox.requests(since=since))
        _, floors["plan"] = phase(st, "plan (both forms answered)", plan, detail)

        def status() -> None:
            """The week's status report, its review answered as the Project Owner would."""
            params = {"opportunity_id": opportunity, "customer": "Benchmark"}
            run: FlowRun = run_deployment(  # type: ignore[assignment]  # sync here
                "status/status", parameters=params, timeout=0
            )
            wait_until(lambda: _reached(run, StateType.PAUSED, *FINAL), 180, "status", logs)
            if _reached(run, StateType.PAUSED):
                form = staffing_form(run.id)
                shown = {k: f["default"] for k, f in form["properties"].items() if "default" in f}
                resume_flow_run(run.id, run_input=shown)
            state = wait_until(lambda: _reached(run, *FINAL), 300, "status", logs)
            if state.type != StateType.COMPLETED:
                raise RuntimeError(f"status ended {state.type}: {state.message}\n{logs()}")

        under_way(sandbox, opportunity)  # eleven days in, the team's hours logged
        since = sandbox.last_request_id()
        _, floors["status"] = phase(st, "status (reviewed)", status, detail)
        quota_floor(sandbox.requests(since=since), 500, "status")

        def change() -> None:
            """Three more weeks, asked of the customer; the engagement manager approves."""
            params = {
                "opportunity_id": opportunity,
                "customer": "Benchmark",
                "change": three_more_weeks(opportunity).model_dump(mode="json"),
            }
            run: FlowRun = run_deployment(  # type: ignore[assignment]  # sync here
                "change-request/change-request", parameters=params, timeout=0
            )
            wait_until(lambda: _reached(run, StateType.PAUSED, *FINAL), 180, "change", logs)
            if _reached(run, StateType.PAUSED):
                resume_flow_run(run.id, run_input={"approve": True, "comment": "fine"})
            state = wait_until(lambda: _reached(run, *FINAL), 300, "change", logs)
            if state.type != StateType.COMPLETED:
                raise RuntimeError(f"change ended {state.type}: {state.message}\n{logs()}")

        def answered() -> None:
            """The customer's "accepted": a watcher poll, the reply run, the re-baseline."""
            mail = next(m for m in sandbox.state("google", "message") if "CR-1" in m["subject"])
            sandbox.act("google", "/gmail/reply", message_id=mail["messageId"], body="Accepted")
            poll: FlowRun = run_deployment(  # type: ignore[assignment]  # sync here
                "watch-replies/watch-replies", timeout=0
            )
            wait_until(lambda: _reached(poll, *FINAL), 120, "watch-replies", logs)
            run = wait_until(lambda: _run_named("rebaseline", opportunity), 120, "rebase", logs)
            state = wait_until(lambda: _reached(run, *FINAL), 300, "rebaseline", logs)
            if state.type != StateType.COMPLETED:
                raise RuntimeError(f"rebaseline ended {state.type}: {state.message}\n{logs()}")

        def rebaseline_again() -> None:
            params = {"opportunity_id": opportunity, "customer": "Benchmark", "number": "CR-1"}
            run: FlowRun = run_deployment(  # type: ignore[assignment]  # sync here
                "rebaseline/rebaseline", parameters=params, timeout=0
            )
            state = wait_until(lambda: _reached(run, *FINAL), 300, "rebaseline", logs)
            if state.type != StateType.COMPLETED:
                raise RuntimeError(f"rebaseline ended {state.type}: {state.message}\n{logs()}")

        _, floors["change"] = phase(st, "change (approved)", change, detail)
        _, floors["answer"] = phase(st, "answer (accepted) and re-baseline", answered, detail)
        phase(st, "pre-initiate re-run", lambda: deployment("pre-initiate"), detail, floors)
        phase(st, "initiate re-run", lambda: deployment("initiate"), detail, floors)
        phase(st, "plan re-run", lambda: deployment("plan"), detail, floors)
        phase(st, "status re-run", status, detail, floors)
        floors["rebaseline"] = floors["answer"]
        phase(st, "rebaseline re-run", rebaseline_again, detail, floors)

        # Validate, of a fixed fee (each acceptance releases its share): the team closes the
        # activity issues (their writes are not psflow's)
        sandbox.edit(
            "salesforce", f"/sobjects/Opportunity/{opportunity}", PS_Billing_Type__c="Fixed Fee"
        )
        codes = close_activities(sandbox, opportunity)

        def requested() -> None:
            """The watcher's poll, and an acceptance request per activity."""
            poll: FlowRun = run_deployment(  # type: ignore[assignment]  # sync here
                "watch-activities/watch-activities", timeout=0
            )
            wait_until(lambda: _reached(poll, *FINAL), 120, "watch-activities", logs)
            for code in codes:
                run = wait_until(
                    lambda c=code: _run_of(opportunity, "accept ·", c), 120, code, logs
                )
                state = wait_until(lambda r=run: _reached(r, *FINAL), 300, code, logs)
                if state.type != StateType.COMPLETED:
                    raise RuntimeError(f"{run.name} ended {state.type}: {state.message}\n{logs()}")

        def accepted() -> None:
            """The first accepted by reply; the others passively, five business days later."""
            first = next(
                m
                for m in sandbox.state("google", "message")
                if f"acceptance of {codes[0]}" in m["subject"]
            )
            sandbox.act("google", "/gmail/reply", message_id=first["messageId"], body="Accepted")
            poll: FlowRun = run_deployment(  # type: ignore[assignment]  # sync here
                "watch-replies/watch-replies", timeout=0
            )
            wait_until(lambda: _reached(poll, *FINAL), 120, "watch-replies", logs)
            reply = wait_until(
                lambda: _run_of(opportunity, "reply ·", codes[0]), 120, "reply", logs
            )
            wait_until(lambda: _reached(reply, *FINAL), 300, "reply", logs)
            sandbox.advance_clock(9)
            passive()

        def passive() -> None:
            run: FlowRun = run_deployment(  # type: ignore[assignment]  # sync here
                "passive-acceptance/passive-acceptance", timeout=0
            )
            state = wait_until(lambda: _reached(run, *FINAL), 300, "passive", logs)
            if state.type != StateType.COMPLETED:
                raise RuntimeError(f"passive ended {state.type}: {state.message}\n{logs()}")

        def ended(run: Any, what: str) -> None:
            state = wait_until(lambda: _reached(run, *FINAL), 300, what, logs)
            if state.type != StateType.COMPLETED:
                raise RuntimeError(f"{what} ended {state.type}: {state.message}\n{logs()}")

        def sign_off_asked() -> None:
            """Validate's completion starts Close: the sign-off e-mail, its issue, Closure."""
            ended(wait_until(lambda: _run_named("close", opportunity), 120, "close", logs), "close")

        def closed() -> None:
            """The customer signs off by reply; Close again, its two forms answered: Completed."""
            asked = _run_named("close", opportunity)
            mail = next(
                m for m in sandbox.state("google", "message") if "project sign off" in m["subject"]
            )
            sandbox.act("google", "/gmail/reply", message_id=mail["messageId"], body="Accepted")
            poll: FlowRun = run_deployment(  # type: ignore[assignment]  # sync here
                "watch-replies/watch-replies", timeout=0
            )
            wait_until(lambda: _reached(poll, *FINAL), 120, "watch-replies", logs)
            run = wait_until(
                lambda: next(
                    (
                        r
                        for r in flow_runs(opportunity)
                        if r.name.startswith("close ·") and r.id != asked.id
                    ),
                    None,
                ),
                120,
                "close again",
                logs,
            )
            answers = (
                (
                    "closeout-approval",
                    {"lessons_learned": "Book the cutover early", "approve": True},
                ),
                ("billing-done", {"billing_done": True}),
            )
            for key, answer in answers:
                wait_until(lambda k=key: _paused_at(run, k), 300, key, logs)
                resume_flow_run(run.id, run_input=answer)
            ended(run, "close")

        def close_again() -> None:
            params = {"opportunity_id": opportunity, "customer": "Benchmark"}
            run: FlowRun = run_deployment(  # type: ignore[assignment]  # sync here
                "close/close", parameters=params, timeout=0
            )
            ended(run, "close re-run")

        def validate_again() -> None:
            for code in codes:
                params = {"opportunity_id": opportunity, "customer": "Benchmark", "activity": code}
                run: FlowRun = run_deployment(  # type: ignore[assignment]  # sync here
                    "validate/validate", parameters=params, timeout=0
                )
                state = wait_until(lambda r=run: _reached(r, *FINAL), 300, code, logs)
                if state.type != StateType.COMPLETED:
                    raise RuntimeError(f"validate ended {state.type}: {state.message}\n{logs()}")

        _, floors["validate"] = phase(st, "validate (requests)", requested, detail)
        _, floors["acceptances"] = phase(st, "acceptances (a reply, the clock)", accepted, detail)
        _, floors["close"] = phase(st, "close (the sign-off asked)", sign_off_asked, detail)
        phase(st, "validate re-run", validate_again, detail, floors)
        phase(st, "acceptances re-run (the clock)", passive, detail, floors)
        _, floors["closed"] = phase(st, "closed (a reply signs off; the forms)", closed, detail)
        floors["close"] += floors["closed"]
        phase(st, "close re-run", close_again, detail, floors)
    print(f"\n{load()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--detail", action="store_true", help="every request shape and object")
    parser.add_argument("--data-dir", type=Path, help="keep servers' data and logs here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="psflow-api-calls-") as tmp:
        data = (args.data_dir or Path(tmp)).resolve()
        prefect_home(data)
        return run(data, args.detail)


if __name__ == "__main__":
    raise SystemExit(main())
