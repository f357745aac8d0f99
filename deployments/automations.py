"""Automations declared with the deployments: a failed phase run is reported to the ops channel.

The report goes through a Prefect `Webhook` block (a Slack incoming webhook's URL is a secret), not
through psflow's code: it must work when psflow's own code is what failed.

    python -m deployments.automations    # create or update them (the serve path does it itself)
"""

from __future__ import annotations

from typing import cast

from prefect.automations import Automation
from prefect.blocks.webhook import Webhook
from prefect.events.actions import CallWebhook
from prefect.events.schemas.automations import EventTrigger, Posture

from blocks import OPS_WEBHOOK_BLOCK

FAILED_RUN_ALERT = "psflow: a phase run failed -> ops channel"

# Slack's incoming-webhook body; `tojson` keeps quotes and newlines of the state message valid JSON.
_ALERT_TEXT = (
    '":rotating_light: " ~ flow_run.name ~ " is " ~ flow_run.state.name ~ ": " ~ '
    '((flow_run.state.message or "")[:500]) ~ "\\n" ~ ((flow_run|ui_url) or ("flow run " ~ flow_run.id))'
)
ALERT_PAYLOAD = '{"text": {{ (' + _ALERT_TEXT + ") | tojson }}}"


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


def ensure_automations() -> list[str]:
    """Create the automations, or bring existing ones (found by name) up to date."""
    webhook = cast(Webhook, Webhook.load(OPS_WEBHOOK_BLOCK))
    wanted = failed_run_alert(webhook)
    try:
        existing = cast(Automation, Automation.read(name=wanted.name))
    except ValueError:
        wanted.create()
    else:
        wanted.id = existing.id
        wanted.update()
    return [wanted.name]


if __name__ == "__main__":
    for name in ensure_automations():
        print(f"automation: {name}")  # noqa: T201
