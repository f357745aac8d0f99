"""The PS team, the roles, psflow's custom fields and the projects people are booked on."""

from __future__ import annotations

from sandbox import seed as demo
from sandbox.core import Json, Sandbox
from sandbox.mavenlink.api import ACCOUNT_ID, NAME, new_id
from sandbox.mavenlink.people import new_user
from sandbox.mavenlink.rates import new_membership, set_cost_rate
from sandbox.mavenlink.references import new_custom_field
from sandbox.mavenlink.staffing import business_days, new_allocation, new_resource
from sandbox.mavenlink.workspaces import STATUS_KEYS, new_workspace, status

API_USER_EMAIL = demo.PS_MAILBOX  # the token belongs to the PS team's integration user
ROLES = (
    "PS Engineer",
    "Sr. PS Engineer",
    "Technical Architect",
    "Project Manager",
    "Engagement Manager",
)
CUSTOM_FIELDS = (
    # name, value type, subject type: what psflow keeps on a project beside the native fields
    ("Salesforce Opportunity", "string", "Workspace"),
    ("GitLab Project", "string", "Workspace"),
    ("SOW Number", "string", "Workspace"),
    ("Project Definition", "string", "Workspace"),
    # a person's: "Yes" when the SOW has passive-acceptance language (the sign-off's clock)
    ("Passive Acceptance Language", "string", "Workspace"),
    # and on a milestone: its acceptance, as the handbook records it (Validate)
    ("Sign-Off Sent", "date", "Story"),
    ("Sign-Off Received", "date", "Story"),
    ("Passive Acceptance Utilized", "string", "Story"),
)
SALESFORCE = "Salesforce"  # service_name of the references psflow writes
# What an hour of each title costs the PS team, in USD (EUR: 0.9 of it): Kantata's cost rates
HOURLY_COST = {
    "PS Engineer": 70,
    "Sr. PS Engineer": 90,
    "Technical Architect": 110,
    "Project Manager": 80,
    "Engagement Manager": 100,
    "Sr. PS Project Coordinator": 65,
    "PS Operations Manager": 95,
}


def seed(sb: Sandbox) -> None:
    """Kantata's side of the demo organisation."""
    api_user = new_user(sb, f"{demo.COMPANY} PS Team", API_USER_EMAIL, "Integration user")
    sb.store.put(NAME, "meta", "account", {"id": ACCOUNT_ID, "api_user_id": api_user["id"]})
    users = {p.key: new_user(sb, p.name, p.email, p.title) for p in (*demo.STAFF, *demo.PSES)}
    for person in (*demo.STAFF, *demo.PSES):
        membership = new_membership(sb, users[person.key])
        if (cost := HOURLY_COST.get(person.title)) is not None:
            for currency, share in (("USD", 1.0), ("EUR", 0.9)):
                rate = {"account_membership_id": membership["id"], "currency": currency}
                set_cost_rate(sb, {**rate, "amount_in_subunits": round(cost * share * 100)})
    roles = {}
    for name in ROLES:
        role_id = new_id(sb, "roles")
        roles[name] = sb.store.put(NAME, "roles", role_id, {"id": role_id, "name": name})
    fields = {
        name: new_custom_field(sb, name, kind, subject) for name, kind, subject in CUSTOM_FIELDS
    }

    opportunities = {o.name: o for o in demo.OPPORTUNITIES}
    for title in demo.CURRENT_WORKSPACES:
        bookings = [b for b in demo.BOOKINGS if b.workspace == title]
        start = min(demo.day(b.start_in_days) for b in bookings)
        due = max(demo.day(b.start_in_days + b.days - 1) for b in bookings)
        opportunity = opportunities.get(title)
        data: Json = {}
        fields_in: Json = {
            "title": title,
            "description": f"{title} ({demo.COMPANY} Professional Services)",
            "budgeted": True,
            "currency": opportunity.currency if opportunity else "USD",
            "price_in_cents": round((opportunity.amount if opportunity else 60_000) * 100),
            "start_date": start.isoformat(),
            "due_date": due.isoformat(),
            "status": status(STATUS_KEYS["Active"]),
            "target_margin": 40.0,
        }
        if opportunity:
            fields_in["primary_maven_id"] = users[opportunity.engagement_manager]["id"]
            data = {
                "external_reference": {
                    "service_name": SALESFORCE,
                    "service_model": "Opportunity",
                    "service_model_ref": opportunity.id,
                    "status": "successful",
                },
                "custom_fields": [
                    {
                        "custom_field_id": fields["Salesforce Opportunity"]["id"],
                        "value": opportunity.id,
                    },
                    {
                        "custom_field_id": fields["SOW Number"]["id"],
                        "value": opportunity.sow_number,
                    },
                ],
            }
        workspace = new_workspace(sb, fields_in, data)
        for booking in bookings:
            person = demo.staff(booking.pse)
            role = roles["Sr. PS Engineer" if person.title.startswith("Sr.") else "PS Engineer"]
            resource = new_resource(sb, workspace["id"], users[booking.pse]["id"], role["id"])
            first = demo.day(booking.start_in_days)
            last = demo.day(booking.start_in_days + booking.days - 1)
            minutes = booking.minutes_per_day * business_days(first, last)
            new_allocation(sb, resource, first.isoformat(), last.isoformat(), minutes, hard=True)
