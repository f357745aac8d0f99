"""The whole lifecycle at scale (issue 23): a cohort of N engagements (default 10) from Closed Won
to Completed on psflow/production.py's topology (two API servers, PostgreSQL, Redis, process
workers), the sandbox enforcing the published quotas. Five stages, each measured on its own:

  Initiate  a burst of Closed Won: every Initiate Completed (each Plan then waits at its form)
  Plan      the coordinator's and the Project Owner's forms answered: every engagement In Progress
  Execute   two weeks of hours logged, the Friday schedule: every report reviewed and sent
  Validate  the activities closed in GitLab: acceptance asked; nine days later the passive clock
            accepts them, and Validate's completion starts Close, which asks for the sign-off
  Close     nine days later the passive clock signs off: the closeout report approved, billing
            done, every engagement Completed

The benchmark is the people: between stages (unmeasured, quotas off) it logs the team's hours,
closes the issues, sets the SOW's passive-acceptance language and moves the sandbox's clock; within
a stage it answers each form as soon as a run waits at it, with what the form shows and the few
words a person types. The schedules are paused: the benchmark starts the watchers and clocks
itself, as a schedule would. Per stage: wall time against the floor its requests' quotas set, CPU
seconds per engagement (every process on the machine), runs by state. At the end: duplicates (same
natural keys twice: none allowed) and every engagement's status in Salesforce and Kantata.

Staffing is approved before the burst as `benchmarks.burst` does it (Pre-Initiate run in this
process, the decision recorded as its form records it).

    .venv/bin/python -m benchmarks.cohort [--engagements 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from benchmarks.api_calls import burst_floor, quota_use
from benchmarks.burst import (
    TOPOLOGIES,
    busy_cpu_seconds,
    cpu_by_role,
    duplicates,
    runs_of,
    servers_running_here,
)
from benchmarks.stack import WATCHERS, approved, header, load, prefect_home

# What a person types into each form besides what it shows, by the form's key's start.
TYPED: dict[str, dict[str, Any]] = {
    "plan-allocation": {},
    "kickoff-held": {"minutes": "Scope, timeline and team confirmed."},
    "status-review": {"note": "On track."},
    "closeout-approval": {"approve": True, "lessons_learned": "Agree the cutover in week one."},
    "billing-done": {"billing_done": True},
}
PAUSED_ON_THEIR_OWN = (*WATCHERS, "weekly-status")  # the schedules: the benchmark runs them


@dataclass
class Figures:
    stage: str
    wall: float
    floor: float
    binding: str
    cpu: float
    roles: dict[str, float]
    requests: int
    writes: int
    throttled: int
    runs: Counter[str]


def answer_forms() -> int:
    """Every run waiting at a form answered as the UI submits it: the form's defaults, then what
    a person types (`TYPED`). A form asked again (its answer refused) stops the benchmark."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    from psflow.operate import staffing_form

    answered = 0
    with get_client(sync_client=True) as client:
        waiting = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            ),
            limit=200,
        )
        for run in waiting:
            key = str(run.state.state_details.pause_key if run.state else "")
            typed = next((t for start, t in TYPED.items() if key.startswith(start)), None)
            if typed is None or "again" in key:
                raise RuntimeError(
                    f"{run.name} waits at {key!r}: {run.state and run.state.message}"
                )
            form = staffing_form(run.id)
            shown = {k: f["default"] for k, f in form["properties"].items() if "default" in f}
            result = client.resume_flow_run(run.id, run_input={**shown, **typed})
            if result.status.value != "ACCEPT":
                raise RuntimeError(f"{run.name}: the answer at {key} was refused: {result.details}")
            answered += 1
    return answered


def idle(flow: str) -> bool:
    """Whether no run of `flow` is going (or waiting at a form)."""
    return all(r.state and r.state.is_final() for r in runs_of(flow))


def completed(flow: str, ids: Iterable[str], each: int = 1) -> bool:
    """Whether every opportunity has `each` Completed runs of `flow` and none of its runs is
    still going (a run that failed stops the benchmark: it would wait forever)."""
    runs = runs_of(flow)
    for run in runs:
        if run.state and run.state.is_final() and not run.state.is_completed():
            raise RuntimeError(f"{run.name}: {run.state.type.value} {run.state.message}")
    done = Counter(
        str(r.parameters.get("opportunity_id")) for r in runs if r.state and r.state.is_completed()
    )
    going = [r for r in runs if r.state and not r.state.is_final()]
    return not going and all(done[i] >= each for i in ids)


def start(deployment: str) -> None:
    """A run of the deployment, as its schedule would start it."""
    from prefect.deployments import run_deployment

    run_deployment(f"{deployment}/{deployment}", timeout=0)


def measure(
    stage: str,
    sandbox: Any,
    pids: dict[str, list[int]],
    steps: list[tuple[Callable[[], object], Callable[[], bool]]],
    flows: tuple[str, ...],
    answer: bool = True,
    timeout: float = 3600,
) -> Figures:
    """One stage: each step's action, then until its condition holds (answering the forms when
    `answer`), quotas on; its requests, CPU and the runs that ended in it."""
    print(f"▶ {stage}", flush=True)
    sandbox.set_quotas(True)
    since, cpu, roles = sandbox.last_request_id(), busy_cpu_seconds(), cpu_by_role(pids)
    t0, began = time.monotonic(), datetime.now(UTC)
    for action, until in steps:
        action()
        while not until():
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"{stage}: not done after {timeout:.0f} s")
            answered = answer_forms() if answer else 0
            print(
                f"  {time.strftime('%H:%M:%S')} {time.monotonic() - t0:5.0f} s, "
                f"{answered} forms answered; {load()}",
                flush=True,
            )
            time.sleep(3)
    wall = time.monotonic() - t0
    cpu = busy_cpu_seconds() - cpu
    roles = {role: seconds - roles[role] for role, seconds in cpu_by_role(pids).items()}
    rows = sandbox.requests(since=since)
    sandbox.set_quotas(False)
    use = quota_use(rows)
    floor, binding = burst_floor(use, 1) if use else (0.0, None)
    runs: Counter[str] = Counter()
    for flow in flows:
        runs.update(
            f"{flow} {r.state.type.value}"
            for r in runs_of(flow)
            if r.state and r.end_time and r.end_time >= began
        )
    figures = Figures(
        stage,
        wall,
        floor,
        binding.id if binding else "-",
        cpu,
        roles,
        len(rows),
        sum(1 for r in rows if r["write"]),
        sum(1 for r in rows if r["quota"]),
        runs,
    )
    print(f"  done in {wall:.0f} s (floor {floor:g} s, {figures.binding})", flush=True)
    return figures


# --- what the people do between stages -------------------------------------------------------


def log_two_weeks(sandbox: Any, ids: list[str]) -> date:
    """Each PSE's hours, 8 a day on the activities in turn, from the engagement's start to the
    second Friday after the latest start; the clock moved to that Friday afternoon."""
    from flows.initiate import approved_staffing
    from tasks.mavenlink import find_workspace, get_activity_tasks
    from tasks.salesforce import find_engagement, get_opportunity

    started = {}
    for opportunity in ids:
        engagement = find_engagement.fn(opportunity)
        workspace = find_workspace.fn(opportunity)
        decision = approved_staffing(get_opportunity.fn(opportunity))
        if not (engagement and engagement.actual_start and workspace and decision):
            raise RuntimeError(f"{opportunity}: Plan left no start, project or team")
        tasks = sorted(get_activity_tasks.fn(workspace.id, opportunity))
        started[opportunity] = (engagement.actual_start, workspace.id, tasks, decision.pses)
    latest = max(start for start, *_ in started.values())
    friday = latest + timedelta(days=(4 - latest.weekday()) % 7 + 7)
    for start, workspace_id, tasks, pses in started.values():
        days = [start + timedelta(days=n) for n in range((friday - start).days + 1)]
        for pse in pses:
            for n, day in enumerate(d for d in days if d.weekday() < 5):
                sandbox.act(
                    "mavenlink",
                    "/time_entries",
                    workspace_id=workspace_id,
                    user_email=pse,
                    date=day.isoformat(),
                    hours=8,
                    story_id=tasks[n % len(tasks)],
                )
    sandbox.set_clock(datetime.combine(friday, clock_time(14), UTC))
    return friday


def close_activities(sandbox: Any, ids: list[str]) -> int:
    """The team closes every activity issue of the cohort in GitLab; how many."""
    from engagement.keys import gitlab_opportunity_label
    from tasks.clients import systems

    labels = {gitlab_opportunity_label(o) for o in ids}
    gitlab = systems().gitlab()
    issues = [
        i
        for i in sandbox.state("gitlab", "issue")
        if "PS::Activity" in i["labels"] and labels & set(i["labels"])
    ]
    for issue in issues:
        gitlab.projects.get(issue["project_id"], lazy=True).issues.update(
            issue["iid"], {"state_event": "close"}
        )
    return len(issues)


def passive_language(ids: list[str]) -> None:
    """The SOWs have passive-acceptance language: a person sets the project's custom field."""
    from tasks.clients import systems
    from tasks.mavenlink import PASSIVE_LANGUAGE, find_workspace

    api = systems().mavenlink()
    fields = api.request("GET", "custom_fields.json", params={"subject_type": "Workspace"}).json()
    (field,) = [f["id"] for f in fields["custom_fields"].values() if f["name"] == PASSIVE_LANGUAGE]
    for opportunity in ids:
        workspace = find_workspace.fn(opportunity)
        assert workspace is not None, opportunity
        value = {"subject_type": "Workspace", "subject_id": workspace.id, "custom_field_id": field}
        api.request(
            "POST",
            "custom_field_values.json",
            json={"custom_field_value": {**value, "value": "Yes"}},
        ).raise_for_status()


def statuses(sandbox: Any, ids: list[str]) -> Counter[str]:
    """Each engagement's status in Salesforce and its project's in Kantata."""
    mine = set(ids)
    found: Counter[str] = Counter(
        f"Salesforce {e['Status__c']}"
        for e in sandbox.state("salesforce", "PS_Engagement__c")
        if e["Opportunity_Id__c"] in mine
    )
    found.update(
        f"Kantata {w['status']['message']}"
        for w in sandbox.state("mavenlink", "workspaces")
        if any(o in (w.get("description") or "") for o in mine)
    )
    return found


def all_completed(sandbox: Any, ids: list[str]) -> bool:
    return statuses(sandbox, ids)["Salesforce Completed"] == len(ids) and completed("close", ids)


# --- the run ------------------------------------------------------------------------------------


def run(data: Path, engagements: int, workers: int, concurrency: int) -> int:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    from blocks import sandbox_blocks
    from deployments.definitions import WORK_POOL
    from psflow.local import prefect_command
    from tasks import clients

    header(
        f"the whole lifecycle for a cohort: {engagements} engagements, {workers} worker(s), "
        f"production, pool concurrency {concurrency}"
    )
    with TOPOLOGIES["production"](data, workers) as (sandbox, api_url, logs, pids):
        pids = {**pids, **servers_running_here()}
        prefect_command(
            data / "cli", api_url, "work-pool", "set-concurrency-limit", WORK_POOL, str(concurrency)
        )
        with get_client(sync_client=True) as client:
            for name in PAUSED_ON_THEIR_OWN:
                client.pause_deployment(client.read_deployment_by_name(f"{name}/{name}").id)
        t0 = time.perf_counter()
        ids = approved(sandbox, engagements)
        run_deployment("watch-opportunities/watch-opportunities", timeout=120)  # its watermark
        print(f"setup: {len(ids)} opportunities staffed in {time.perf_counter() - t0:.0f} s")
        clients.configure(sandbox_blocks(sandbox.url))  # the people's own reads and edits
        try:
            stages = lifecycle(sandbox, ids, pids)
            extra = duplicates(sandbox)
            final = statuses(sandbox, ids)
        except Exception:
            print(logs())
            raise
        finally:
            clients.reset()
    report(stages, len(ids), extra, final)
    return 0 if not extra and final["Salesforce Completed"] == len(ids) else 1


def lifecycle(sandbox: Any, ids: list[str], pids: dict[str, list[int]]) -> list[Figures]:
    def closed_won() -> None:
        for opportunity in ids:
            sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
        start("watch-opportunities")

    def validated() -> bool:
        # every activity accepted passively: Validate's completion started Close, which asked
        return completed("close", ids)

    stages = [
        measure(
            "Initiate: a burst of Closed Won",
            sandbox,
            pids,
            [(closed_won, lambda: completed("initiate", ids))],
            ("initiate",),
            answer=False,
        ),
        measure(
            "Plan: the team confirmed, the kickoff held",
            sandbox,
            pids,
            [(lambda: None, lambda: completed("plan", ids))],
            ("plan",),
        ),
    ]
    passive_language(ids)  # before Close asks for the sign-off: it reads the SOW's terms then
    friday = log_two_weeks(sandbox, ids)
    print(f"  the team logged its hours; the clock is on {friday:%A %d %B %Y}", flush=True)
    stages.append(
        measure(
            "Execute: the Friday report, reviewed",
            sandbox,
            pids,
            [(lambda: start("weekly-status"), lambda: completed("status", ids))],
            ("weekly-status", "status"),
        )
    )
    closed = close_activities(sandbox, ids)
    print(f"  the team closed {closed} activity issues", flush=True)
    activities = closed // len(ids)
    stages.append(
        measure(
            "Validate: acceptance asked, accepted passively",
            sandbox,
            pids,
            [
                (
                    lambda: start("watch-activities"),
                    lambda: completed("validate", ids, each=activities),
                ),
                day_by_day(sandbox, validated),
            ],
            ("watch-activities", "validate", "passive-acceptance", "close"),
        )
    )
    stages.append(
        measure(
            "Close: signed off passively, closeout and billing, Completed",
            sandbox,
            pids,
            [day_by_day(sandbox, lambda: all_completed(sandbox, ids))],
            ("passive-acceptance", "close"),
        )
    )
    return stages


def day_by_day(
    sandbox: Any, done: Callable[[], bool]
) -> tuple[Callable[[], None], Callable[[], bool]]:
    """The passive clock's schedule, time moving: nine days on (five business days and a weekend,
    and more), then a day at a time while some engagement's deadline is later (a holiday in its
    country), the clock's run each day, until `done`."""

    def first() -> None:
        sandbox.advance_clock(9)
        start("passive-acceptance")

    def until() -> bool:
        if done():
            return True
        # what the last run accepted has started its runs (their triggers act within seconds)
        runs = runs_of("passive-acceptance")
        ended = [r.end_time for r in runs if r.state and r.state.is_final() and r.end_time]
        quiet = len(ended) == len(runs) and all(idle(flow) for flow in ("validate", "close"))
        if quiet and datetime.now(UTC) - max(ended) > timedelta(seconds=15):
            sandbox.advance_clock(1)
            start("passive-acceptance")
        return False

    return first, until


def report(stages: list[Figures], n: int, extra: Counter[str], final: Counter[str]) -> None:
    print(
        f"\n{'stage':<62} {'wall':>6} {'floor':>6} {'ratio':>5} {'CPU/eng':>7} {'writes':>6} 429s"
    )
    for f in stages:
        ratio = f"{f.wall / f.floor:.2f}" if f.floor else "n/a"
        print(
            f"{f.stage:<62} {f.wall:>5.0f}s {f.floor:>5.0f}s {ratio:>5} {f.cpu / n:>6.1f}s "
            f"{f.writes:>6} {f.throttled:>4}"
        )
    wall, cpu = sum(f.wall for f in stages), sum(f.cpu for f in stages)
    print(f"{'the whole lifecycle':<62} {wall:>5.0f}s {'':>6} {'':>5} {cpu / n:>6.1f}s")
    print("(floor: the time the quotas let the stage's requests through in, set by its busiest")
    print(" quota; n/a: every quota's first window holds them. CPU: every process on the machine)")
    for f in stages:
        print(f"  {f.stage}: floor set by {f.binding}; runs ended {dict(f.runs)}")
    roles: Counter[str] = Counter()
    for f in stages:
        roles.update(f.roles)
    print("CPU per engagement by role, the whole lifecycle:")
    for role, seconds in roles.most_common():
        print(f"  {role:<30} {seconds / n:>6.1f} s")
    print(f"every engagement at the end: {dict(final)}")
    print(f"duplicates (same natural keys twice): {sum(extra.values())} {dict(extra)}")
    print(f"\n{load()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engagements", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=24, help="the pool's concurrency limit")
    parser.add_argument("--data-dir", type=Path, help="keep servers' data and logs here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="psflow-cohort-") as tmp:
        data = (args.data_dir or Path(tmp)).resolve()
        prefect_home(data)
        return run(data, args.engagements, args.workers, args.concurrency)


if __name__ == "__main__":
    raise SystemExit(main())
