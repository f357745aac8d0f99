"""Automations declared with the deployments: a failed phase run is reported to the ops channel, and
a phase run whose worker vanished is declared Crashed and started again on another worker.

The report goes through a Prefect `Webhook` block (a Slack incoming webhook's URL is a secret), not
through psflow's code: it must work when psflow's own code is what failed.

    python -m deployments.automations    # create or update them (the serve path does it itself)
"""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from prefect.automations import Automation
from prefect.blocks.webhook import Webhook
from prefect.client.schemas.objects import StateType
from prefect.events.actions import CallWebhook, ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.settings import get_current_settings

from blocks import OPS_WEBHOOK_BLOCK

FAILED_RUN_ALERT = "psflow: a phase run failed -> ops channel"

# Slack's incoming-webhook body; `tojson` keeps quotes and newlines of the state message valid JSON.
# The run's name and message carry the customer's name as sales typed it: `&`, `<`, `>` escaped, as
# Slack asks (engagement.slugs.slack_text), so a name like "<!channel>" pings nobody.
_ALERT_TEXT = (
    '":rotating_light: " ~ flow_run.name ~ " is " ~ flow_run.state.name ~ ": " ~ '
    '((flow_run.state.message or "")[:500]) ~ "\\n" ~ ((flow_run|ui_url) or ("flow run " ~ flow_run.id))'
)
_SLACK_ESCAPED = '|replace("&", "&amp;")|replace("<", "&lt;")|replace(">", "&gt;")'
ALERT_PAYLOAD = '{"text": {{ (' + _ALERT_TEXT + ")" + _SLACK_ESCAPED + " | tojson }}}"


def failed_run_alert(webhook: Webhook) -> Automation:
    return Automation(
        name=FAILED_RUN_ALERT,
        description="Posts a failed or crashed psflow run, with its link, to the ops channel.",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.id": "prefect.tag.psflow"},
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[CallWebhook(block_document_id=webhook._block_document_id, payload=ALERT_PAYLOAD)],
    )


# --- a worker lost mid-phase ----------------------------------------------------------------------
# A deployment run's process sends `prefect.flow-run.heartbeat` every PREFECT_FLOWS_HEARTBEAT_FREQUENCY
# seconds (at least 30) while it runs. When a machine dies, nobody reports the run: it stays Running.
LOST_RUN = "psflow: a phase run whose worker vanished -> Crashed"
RESCUE_RUN = "psflow: a crashed phase run -> rescheduled"
MISSED_HEARTBEATS = 2  # one late heartbeat is not a lost worker; two are
RESCUES = 3  # a run that keeps crashing stays Crashed after this many restarts (and ops hear of it)
LOST_MESSAGE = "No heartbeat from its worker: the worker was lost"
RESCUE_MESSAGE = "Rescheduled after a crash"
# what ends a run's heartbeats without a lost worker: its end, or a wait for a person (the process
# of a suspended run exits)
_HEARTBEAT_ENDS = {
    f"prefect.flow-run.{state}"
    for state in (
        "Completed",
        "Failed",
        "Cancelled",
        "Cancelling",
        "Crashed",
        "Paused",
        "Suspended",
    )
}


def lost_after() -> timedelta:
    """The silence after which a run is declared lost: MISSED_HEARTBEATS heartbeat periods of the
    process that declares the automation (production.env gives every process the same setting)."""
    heartbeat = get_current_settings().flows.heartbeat_frequency or 180  # 3.9.1's default
    return timedelta(seconds=MISSED_HEARTBEATS * max(heartbeat, 30))


def lost_run_crasher() -> Automation:
    """Prefect's "zombie flow run" automation, for psflow's runs: a heartbeat not followed by
    another one (or by the run's end) within `lost_after()` marks the run Crashed. Not forced: a
    run that finished in the meantime keeps its final state."""
    return Automation(
        name=LOST_RUN,
        description="Marks a psflow run whose heartbeats stopped (its worker vanished) Crashed.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *_HEARTBEAT_ENDS},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.id": "prefect.tag.psflow"},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=lost_after(),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, message=LOST_MESSAGE)],
    )


def crashed_run_rescuer() -> Automation:
    """A crashed psflow run goes back to the pool as the UI's Retry does (AwaitingRetry), for any
    worker to take: phases are idempotent (every object is looked up by its natural key first).
    The run count caps it: a run that crashes every time stays Crashed after RESCUES restarts, and
    the ops alert reports every crash."""
    return Automation(
        name=RESCUE_RUN,
        description=f"Reschedules a crashed psflow run, at most {RESCUES} times.",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Crashed"},
            match={
                "prefect.resource.id": "prefect.flow-run.*",
                # the run count when it crashed; it grows by one each time the run starts
                "prefect.run-count": [str(n) for n in range(1, RESCUES + 1)],
            },
            match_related={"prefect.resource.id": "prefect.tag.psflow"},
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.SCHEDULED,
                name="AwaitingRetry",
                message=RESCUE_MESSAGE,
                force=True,  # out of a final state, as the UI's Retry button does
            )
        ],
    )


def ensure_automations() -> list[str]:
    """Create the automations, or bring existing ones (found by name) up to date."""
    webhook = cast(Webhook, Webhook.load(OPS_WEBHOOK_BLOCK))
    names = []
    for wanted in (failed_run_alert(webhook), lost_run_crasher(), crashed_run_rescuer()):
        try:
            existing = cast(Automation, Automation.read(name=wanted.name))
        except ValueError:
            wanted.create()
        else:
            wanted.id = existing.id
            wanted.update()
        names.append(wanted.name)
    return names


if __name__ == "__main__":
    from tasks.pacing import declare

    for name in ensure_automations():
        print(f"automation: {name}")  # noqa: T201
    for name in declare():  # the quotas' rate limits: in the UI before the first run needs them
        print(f"rate limit: {name}")  # noqa: T201
