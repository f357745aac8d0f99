"""Mavenlink / Kantata OX API v1 stand-in, under `/mavenlink/api/v1/`.

What psflow uses of it: users, workspaces (projects) with their status, budget and target margin,
external references (how psflow ties a workspace to its Salesforce opportunity and finds it again),
participations, workspace resources and allocations (staffing), stories (tasks, deliverables,
milestones) with assignments, custom fields with their values, the time people log (time
entries) with their cost (account memberships' cost rates), projects' status reports and billing
milestones (a fixed fee's Billing Schedule).
`control` plays the people who use Kantata's web app (a PSE logging time).

Each resource is declared once (`sandbox.kit.Resource`: its filters, includes, checks and writes)
and served by the kit's generic list/get/create/update/delete handlers in Kantata's wire format
(`api.py`).
"""

from __future__ import annotations

from sandbox.core import Quota, System
from sandbox.mavenlink import (
    billing,
    people,
    rates,
    references,
    staffing,
    status_reports,
    stories,
    time_entries,
    workspaces,
)
from sandbox.mavenlink.api import NAME, api, quota_error, render_error, router
from sandbox.mavenlink.control import router as control
from sandbox.mavenlink.pages import pages
from sandbox.mavenlink.seed import seed

api.serve(
    *people.RESOURCES,
    *references.RESOURCES,
    workspaces.WORKSPACES,
    *staffing.RESOURCES,
    *stories.RESOURCES,
    *time_entries.RESOURCES,
    *status_reports.RESOURCES,
    *billing.RESOURCES,
    *rates.RESOURCES,
)

QUOTAS = (
    # Kantata rate-limits every request and documents a 429 "retry after a small delay" answer
    # (developer.kantata.com, "Rate Limits"); the figures themselves are only in a customer-only
    # knowledge-base article (knowledge.kantata.com 9698066628123). This per-token figure is a
    # stand-in until that article's number is copied here.
    Quota(
        "mavenlink.requests-per-token",
        "requests per minute per OAuth token (figure not public; see the comment)",
        600,
        60,
        lambda method, path: path.startswith("/mavenlink/api/"),
    ),
)

SYSTEM = System(
    name=NAME,
    router=router,
    render_error=render_error,
    seed=seed,
    quotas=QUOTAS,
    quota_error=quota_error,
    validation_status=422,
    control=control,
    pages=pages,
)
