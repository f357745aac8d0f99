"""prefect.yaml and the local serve path come from the same definitions and cannot drift apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from core.events import OPPORTUNITY_NEGOTIATING, PHASE_COMPLETED
from deployments.definitions import DEPLOYMENTS
from deployments.prefect_yaml import prefect_yaml
from flows.execute import STATUS_DEPLOYMENT

PREFECT_YAML = Path(__file__).parents[2] / "prefect.yaml"


def test_the_committed_prefect_yaml_is_the_generated_one() -> None:
    assert PREFECT_YAML.read_text() == prefect_yaml(), (
        "prefect.yaml is stale: run `python -m deployments.prefect_yaml > prefect.yaml`"
    )


def test_yaml_and_serve_deploy_the_same_flows_triggers_and_schedules() -> None:
    declared = {d["name"]: d for d in yaml.safe_load(PREFECT_YAML.read_text())["deployments"]}
    served = {d.name: d.to_runner() for d in DEPLOYMENTS}
    assert declared.keys() == served.keys()
    for name, runner in served.items():
        entry = declared[name]
        assert entry["entrypoint"] == runner.entrypoint
        assert [t["expect"] for t in entry["triggers"]] == [
            sorted(t.expect) for t in runner.triggers
        ]
        assert [t["parameters"] for t in entry["triggers"]] == [
            t.parameters for t in runner.triggers
        ]
        assert [
            (s.get("interval"), s.get("cron"), s.get("timezone")) for s in entry["schedules"]
        ] == [_schedule(s.schedule) for s in runner.schedules]


def _schedule(schedule: Any) -> tuple[float | None, str | None, str | None]:
    """A served schedule as prefect.yaml writes it: an interval's seconds, or a cron and zone."""
    if hasattr(schedule, "interval"):  # an IntervalSchedule; else a CronSchedule
        return schedule.interval.total_seconds(), None, None
    return None, schedule.cron, schedule.timezone


def test_the_weekly_reports_start_each_friday_one_run_per_engagement() -> None:
    weekly = next(d for d in DEPLOYMENTS if d.name == "weekly-status")
    (schedule,) = weekly.to_runner().schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 9 * * 5", "America/New_York")
    assert weekly.to_runner(scheduled=False).schedules == []  # the demo starts it by hand
    # each engagement's report is the `status` deployment's run: the name the weekly run starts
    status = next(d for d in DEPLOYMENTS if d.name == "status")
    assert f"{status.flow.name}/{status.name}" == STATUS_DEPLOYMENT


def test_pre_initiate_runs_once_per_negotiating_opportunity() -> None:
    (trigger,) = next(d for d in DEPLOYMENTS if d.name == "pre-initiate").triggers
    assert trigger.expect == {OPPORTUNITY_NEGOTIATING}
    assert trigger.for_each == {"prefect.resource.id"}
    assert trigger.parameters == {
        "opportunity_id": "{{ event.resource['ps.opportunity_id'] }}",
        "customer": "{{ event.resource['ps.customer'] }}",
    }


def test_plan_runs_after_initiate_completes_not_after_another_phase() -> None:
    (trigger,) = next(d for d in DEPLOYMENTS if d.name == "plan").triggers
    assert trigger.expect == {PHASE_COMPLETED}
    assert trigger.for_each == {"prefect.resource.id"}
    assert trigger.match_related == {
        "prefect.resource.id": "ps.phase.initiate",
        "prefect.resource.role": "phase",
    }
    assert trigger.parameters == {
        "opportunity_id": "{{ event.resource['ps.opportunity_id'] }}",
        "customer": "{{ event.resource['ps.customer'] }}",
    }
