"""psflow's own settings: names of things in the outside systems and the business rules' knobs.

Not secret; a Block so that ops edit them in the Prefect UI next to the connections, and every flow
run reads the same values.
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field

# Each template psflow copies or reads, by its key, and the file name it has in the templates folder
# (the names of the sandbox's demo Drive).
TEMPLATES = {
    "cost-estimate": "Cost Estimate Template",
    "project-definition": "Project Definition Template",
    "kickoff-deck": "Customer Project Kickoff",
    "change-request": "Change Request Template",
    "acceptance-request": "Activity Acceptance Request",
    "closure-agenda": "Project Closure Meeting Agenda",
    "initiation-email": "Initiation Email – New Customer",
    "initiation-email-existing": "Initiation Email – Existing Customer",
    "sign-off-email": "Project Sign-off Email",
    "closeout-report": "Project Closeout Report",
    "handoff-issue": "Sales to PS Hand-off Issue",
}


class PsflowSettings(Block):
    """Where psflow finds and files things, and the knobs of the handbook's rules."""

    _block_type_name = "psflow Settings"
    _block_type_slug = "psflow-settings"
    _description = "Channel, group, folder and template names; stages; approval and review rules."

    negotiating_stage: str = Field(
        default="5-Negotiating", description="Opportunity stage that starts Pre-Initiate."
    )
    later_stages: list[str] = Field(
        default=["6-Awaiting Signature", "Closed Won"],
        description="Stages after Negotiating in which Pre-Initiate may still run (a late start).",
    )
    awaiting_signature_stage: str = Field(
        default="6-Awaiting Signature",
        description="Opportunity stage in which the cost estimate must be complete (and the TA "
        "review approved over $50k): psflow tells the engagement manager what is missing.",
    )
    ta_approved_label: str = Field(
        default="TA::Approved",
        description="GitLab label the Technical Architect puts on the TA review issue to approve "
        "the estimate (its own scope: a PS:: label would replace the issue's PS::TA Review).",
    )
    closed_won_stage: str = Field(
        default="Closed Won", description="Opportunity stage that starts Initiate."
    )
    closed_lost_stage: str = Field(
        default="8-Closed Lost", description="Opportunity stage that ends an engagement early."
    )
    planning_channel: str = Field(
        default="ps_planning", description="Slack channel for staffing proposals and decisions."
    )
    leadership_channel: str = Field(
        default="ps_leadership",
        description="Slack channel of PS leadership, where each closeout report is posted.",
    )
    ops_manager_email: str = Field(
        default="",
        description="The PS Operations Manager, copied on every project sign-off e-mail (the "
        "handbook's Deploy & Close); Close stops before the e-mail while it is empty.",
    )
    ops_channel: str = Field(
        default="ps_ops_alerts", description="Slack channel where failed runs are reported."
    )
    customers_group: str = Field(
        default="ps-customers", description="GitLab group holding one subgroup per customer."
    )
    planning_project: str = Field(
        default="ps-customers/ps-planning",
        description="GitLab project (full path) for Technical Architect review issues.",
    )
    templates_folder: str = Field(
        default="PS Templates", description="Drive folder holding the PS templates."
    )
    templates: dict[str, str] = Field(
        default=TEMPLATES,
        description="Each template psflow uses, by its key: the file's exact name in the templates "
        "folder, or its Drive file id (the part after /d/ in its URL), then found wherever it is.",
    )
    engagements_folder: str = Field(
        default="PS Engagements",
        description="Drive folder holding one folder per customer, each one folder per SOW.",
    )
    skills_matrix: str = Field(
        default="PS Skills Matrix",
        description="Google Sheet with the PSE roster (tab PSEs) and partners (tab Partners).",
    )
    usd_rates: dict[str, float] = Field(
        default={"EUR": 1.08, "GBP": 1.27, "AUD": 0.66, "CAD": 0.73, "JPY": 0.0067},
        description="US dollars per unit of each currency, for the $50k TA review threshold.",
    )
    company_name: str = Field(
        default="", description="Your company's name, as the customer e-mails say it."
    )
    coordinator_title: str = Field(
        default="Sr. PS Project Coordinator",
        description="The Salesforce user title of the PS Project Coordinators: they (and only "
        "they) approve staffing in the form.",
    )
    coordinator_email: str = Field(
        default="",
        description="When set, only this person approves staffing (instead of everyone with the "
        "coordinator title).",
    )
    architect_titles: list[str] = Field(
        default=["Technical Architect", "Sr. PS Engineer"],
        description="Salesforce user titles of who chooses the PSE (recorded with the decision).",
    )
    project_manager_title: str = Field(
        default="Project Manager",
        description="The Salesforce user title of Project Managers, who may own a project.",
    )
    meeting_hour: int = Field(
        default=10,
        ge=0,
        le=23,
        description="Preferred local hour (the organiser's time zone) of new meetings, "
        "kept when it is inside every attendee's working hours.",
    )
    approval_timeout_hours: int = Field(
        default=168, ge=1, description="How long a staffing approval waits before the run fails."
    )
    status_review: bool = Field(
        default=True,
        description="The Project Owner reviews each weekly status report in the Prefect UI before "
        "it is sent (off: sent as gathered).",
    )
    status_review_hours: int = Field(
        default=48,
        ge=1,
        description="How long a weekly report waits for its review; then its run fails (the ops "
        "channel is told) and nothing is sent: a retry asks again.",
    )
    clock_url: str = Field(
        default="",
        description="Where psflow reads the time when not from this machine: a clock server's "
        'URL answering {"now": ...} (the sandbox\'s /_sandbox/clock in the demo and tests, '
        "which they move through weeks in seconds). Empty in production.",
    )
    pace_requests: bool = Field(
        default=True,
        description="Before each request that counts toward a published API quota, take a slot of "
        "its Prefect rate limit (deployments/quotas.py). Off only where no quota applies.",
    )
