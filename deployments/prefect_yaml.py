"""Writes prefect.yaml from `deployments.definitions`, so `prefect deploy --all` deploys exactly what
the demo serves. A test fails when the committed file is stale.

    python -m deployments.prefect_yaml > prefect.yaml
"""

from __future__ import annotations

import sys
from typing import Any

import prefect
import yaml

from deployments.definitions import DEPLOYMENTS, WORK_POOL, Deployment

HEADER = (
    "# Generated from deployments/definitions.py by `python -m deployments.prefect_yaml`.\n"
    "# Do not edit by hand: change the definitions and regenerate.\n"
)


# The flow-run process a process worker starts. Left unset, Prefect 3.9's process worker starts a
# workspace supervisor process that starts the engine: two Python processes importing Prefect per
# run (~1.5 s more from event to Running). psflow's launcher forks the run from a warm process
# when the worker is `psflow worker` and is `python -m prefect.engine` otherwise (psflow/warm.py).
# `python` is the worker's: run it in psflow's venv.
RUN_COMMAND = "python -m psflow.warm prefect.engine"


def schedules(d: Deployment) -> list[dict[str, Any]]:
    if d.interval:
        return [{"interval": d.interval.total_seconds(), "active": True}]
    if d.cron:
        return [{"cron": d.cron.cron, "timezone": d.cron.timezone, "active": True}]
    return []


def deployment(d: Deployment) -> dict[str, Any]:
    runner = d.to_runner()
    entry: dict[str, Any] = {
        "name": d.name,
        "description": d.description,
        "entrypoint": runner.entrypoint,
        "tags": list(d.tags),
        "parameters": dict(d.parameters),
        "work_pool": {
            "name": WORK_POOL,
            "work_queue_name": None,
            "job_variables": {"command": RUN_COMMAND},
        },
        "schedules": schedules(d),
        "triggers": [t.model_dump(mode="json", exclude_none=True) for t in d.triggers],
    }
    if d.concurrency is not None:
        entry["concurrency_limit"] = d.concurrency.model_dump(mode="json", exclude_none=True)
    return entry


def prefect_yaml() -> str:
    project = {
        "name": "psflow",
        "prefect-version": prefect.__version__,
        "build": None,
        "push": None,
        # process workers run the flows from a checkout of this repository, found by PSFLOW_HOME
        "pull": [
            {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PSFLOW_HOME }}"}}
        ],
        "deployments": [deployment(d) for d in DEPLOYMENTS],
    }
    return HEADER + yaml.safe_dump(project, sort_keys=False, allow_unicode=True, width=100)


if __name__ == "__main__":
    sys.stdout.write(prefect_yaml())
