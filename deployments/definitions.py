"""Every deployment of psflow: its flow, triggers, schedule, tags and work pool.

The one source both the local serve path (`psflow/serve.py`, used by the demo and the e2e tests)
and `prefect.yaml` are built from, so the demo and production cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from prefect import Flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.events import DeploymentEventTrigger
from prefect.schedules import Cron, Schedule

from core.events import (
    ACTIVITY_COMPLETED,
    CHANGE_REQUEST_APPROVED,
    CUSTOMER_LABEL,
    EMAIL_REPLIED,
    ENGAGEMENT_SIGNED_OFF,
    OPPORTUNITY_AWAITING_SIGNATURE,
    OPPORTUNITY_CLOSED_LOST,
    OPPORTUNITY_CLOSED_WON,
    OPPORTUNITY_ID_LABEL,
    OPPORTUNITY_NEGOTIATING,
    OPPORTUNITY_RESOURCE_PREFIX,
    OPPORTUNITY_WITHDRAWN,
    PHASE_COMPLETED,
    PHASE_RESOURCE_PREFIX,
    Phase,
)
from flows.awaiting_signature import awaiting_signature
from flows.change_request import change_request
from flows.close import close
from flows.execute import status_report, weekly_status
from flows.initiate import initiate
from flows.passive import passive_acceptance
from flows.plan import plan
from flows.pre_initiate import pre_initiate
from flows.rebaseline import rebaseline
from flows.release import release
from flows.replies import reply, watch_replies
from flows.validate import validate, watch_activities
from flows.watch_opportunities import watch_opportunities

WORK_POOL = "psflow"  # a `process` work pool: the one name production workers poll
WATCH_INTERVAL = timedelta(minutes=2)
# The weekly status reports: Friday morning in the PS team's time zone, so each Project Owner
# reviews theirs that day
# A watcher's poll that finds the previous one still running is dropped, not queued behind it
ONE_POLL_AT_A_TIME = ConcurrencyLimitConfig(
    limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
)
# The passive clock: a customer's day ends at their midnight, a different hour of UTC for each, so
# the clock looks every hour (the handbook's "daily" at every customer's day end)
PASSIVE_CLOCK = Cron("5 * * * *", timezone="UTC")
WEEKLY_REPORTS = Cron("0 9 * * 5", timezone="America/New_York")


def phase_trigger(event: str) -> DeploymentEventTrigger:
    """Run the phase once per event, for the opportunity the event names."""
    return DeploymentEventTrigger(
        name=f"on {event}",
        expect={event},
        match={"prefect.resource.id": f"{OPPORTUNITY_RESOURCE_PREFIX}*"},
        for_each={"prefect.resource.id"},
        parameters={
            "opportunity_id": f"{{{{ event.resource['{OPPORTUNITY_ID_LABEL}'] }}}}",
            "customer": f"{{{{ event.resource['{CUSTOMER_LABEL}'] }}}}",
        },
    )


def with_payload(trigger: DeploymentEventTrigger, *names: str) -> DeploymentEventTrigger:
    """The trigger, its run also given these fields of the event's payload as parameters."""
    more = {name: f"{{{{ event.payload['{name}'] }}}}" for name in names}
    return trigger.model_copy(update={"parameters": {**(trigger.parameters or {}), **more}})


def after_phase(phase: Phase) -> DeploymentEventTrigger:
    """Run the next phase once per opportunity when `phase` completes for it (the completion
    names the phase as a related resource; another phase's completion does not match)."""
    trigger = phase_trigger(PHASE_COMPLETED)
    return trigger.model_copy(
        update={
            "name": f"after {phase}",
            "match_related": {
                "prefect.resource.id": f"{PHASE_RESOURCE_PREFIX}{phase}",
                "prefect.resource.role": "phase",
            },
        }
    )


@dataclass(frozen=True)
class Deployment:
    name: str
    flow: Flow[Any, Any]
    description: str
    triggers: tuple[DeploymentEventTrigger, ...] = ()
    interval: timedelta | None = None
    cron: Schedule | None = None  # a `Cron(...)`
    tags: tuple[str, ...] = ("psflow",)
    parameters: dict[str, Any] = field(default_factory=dict)
    concurrency: ConcurrencyLimitConfig | None = None

    def to_runner(self, scheduled: bool = True, triggered: bool = True) -> RunnerDeployment:
        """This deployment for `serve()`; unscheduled when the server polls on its own beat,
        untriggered when every run is started by hand (the crash tests)."""
        schedules = [self.cron] if self.cron and scheduled else None
        runner = self.flow.to_deployment(
            name=self.name,
            description=self.description,
            triggers=list(self.triggers) if triggered else [],
            interval=self.interval if scheduled else None,
            schedules=schedules,
            tags=list(self.tags),
            parameters=self.parameters,
            concurrency_limit=self.concurrency,
        )
        return cast(RunnerDeployment, runner)  # to_deployment is typed for async callers too


DEPLOYMENTS = (
    Deployment(
        name="watch-opportunities",
        flow=watch_opportunities,
        description="Polls Salesforce's stage history and emits ps.opportunity.* events.",
        interval=WATCH_INTERVAL,
        concurrency=ONE_POLL_AT_A_TIME,
    ),
    Deployment(
        name="pre-initiate",
        flow=pre_initiate,
        description="Cost estimate, staffing proposal and approval, soft booking.",
        triggers=(phase_trigger(OPPORTUNITY_NEGOTIATING),),
    ),
    Deployment(
        name="awaiting-signature",
        flow=awaiting_signature,
        description="Before signature: the cost estimate complete, the TA review approved.",
        triggers=(phase_trigger(OPPORTUNITY_AWAITING_SIGNATURE),),
    ),
    Deployment(
        name="release",
        flow=release,
        description="Lost or withdrawn: soft bookings released (lost: project Cancelled, "
        "review closed).",
        triggers=(phase_trigger(OPPORTUNITY_CLOSED_LOST), phase_trigger(OPPORTUNITY_WITHDRAWN)),
    ),
    Deployment(
        name="initiate",
        flow=initiate,
        description="On Closed Won: Salesforce, GitLab, Mavenlink, Drive, Slack, Gmail, Calendar.",
        triggers=(phase_trigger(OPPORTUNITY_CLOSED_WON),),
    ),
    Deployment(
        name="plan",
        flow=plan,
        description="After Initiate: hard allocation, project plan, kickoff deck and meeting, "
        "In Progress.",
        triggers=(after_phase(Phase.INITIATE),),
    ),
    Deployment(
        name="change-request",
        flow=change_request,
        description="A scope change (an EM or Project Owner runs it with the change as its form): "
        "classified, its document, issue and e-mail; the EM's approval.",
    ),
    Deployment(
        name="watch-replies",
        flow=watch_replies,
        description="Polls the PS mailbox for answers to psflow's e-mails; emits ps.email.replied.",
        interval=WATCH_INTERVAL,
        concurrency=ONE_POLL_AT_A_TIME,
    ),
    Deployment(
        name="reply",
        flow=reply,
        description="One answer to a psflow e-mail, read by the handbook's rule and taken where "
        "it goes (a change request's approval).",
        triggers=(with_payload(phase_trigger(EMAIL_REPLIED), "thread", "message"),),
    ),
    Deployment(
        name="rebaseline",
        flow=rebaseline,
        description="An approved change request applied to Mavenlink, GitLab, Drive, Salesforce "
        "and Slack.",
        triggers=(with_payload(phase_trigger(CHANGE_REQUEST_APPROVED), "number"),),
    ),
    Deployment(
        name="watch-activities",
        flow=watch_activities,
        description="Polls GitLab for activity issues closed; emits ps.activity.completed.",
        interval=WATCH_INTERVAL,
        concurrency=ONE_POLL_AT_A_TIME,
    ),
    Deployment(
        name="validate",
        flow=validate,
        description="An activity done: the customer asked to accept it (Gmail), sign-off sent "
        "recorded (GitLab).",
        triggers=(with_payload(phase_trigger(ACTIVITY_COMPLETED), "activity"),),
    ),
    Deployment(
        name="passive-acceptance",
        flow=passive_acceptance,
        description="Every hour: each acceptance request and sign-off whose fifth business day "
        "has ended, unanswered, accepted passively.",
        cron=PASSIVE_CLOCK,
        concurrency=ONE_POLL_AT_A_TIME,
    ),
    Deployment(
        name="close",
        flow=close,
        description="Every activity accepted: the sign-off, the wrap-up and closeout report, the "
        "closure meeting, loose ends, Completed (again on the customer's sign-off).",
        triggers=(after_phase(Phase.VALIDATE), phase_trigger(ENGAGEMENT_SIGNED_OFF)),
    ),
    Deployment(
        name="weekly-status",
        flow=weekly_status,
        description="Every week: one status report run per engagement In Progress.",
        cron=WEEKLY_REPORTS,
    ),
    Deployment(
        name="status",
        flow=status_report,
        description="One engagement's weekly status report: chart, review, row, health, e-mail "
        "(weekly-status starts it; run it by hand for one engagement).",
    ),
)
