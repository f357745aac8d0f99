"""The demo organisation's Google Drive: shared folders, the templates, the PS skills matrix, the SOWs
sales wrote, and the Drive folder of the one finished engagement (Acme's 2025 migration).

People made the shared folders, the templates, the skills matrix and the SOWs in the Drive UI,
which sets no appProperties: psflow finds them by name (or the SOW by the link in Salesforce).
psflow made the past engagement's files, so they carry its appProperties, private to its OAuth
client (`common.PSFLOW_APP`), so no edit in the Drive UI can break a lookup:
- `psflow_key=<kind>:<id>`: the natural key psflow looks a file up by before it creates one:
  `customer-folder:<Account id>`, `sow-folder:<Opportunity id>`, `project-definition:<Opportunity id>`.
- `psflow_opportunity=<Opportunity id>` on every file that belongs to one engagement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sandbox import seed as org
from sandbox.core import Json, Sandbox
from sandbox.google import common


def seed(sb: Sandbox) -> None:
    folders = {
        key: common.new_file(sb, name, common.FOLDER)
        for key, name in (
            ("templates", org.TEMPLATES_FOLDER),
            ("engagements", org.ENGAGEMENTS_FOLDER),
            ("operations", org.OPERATIONS_FOLDER),
            ("sows", org.SOWS_FOLDER),
        )
    }
    for template in org.TEMPLATES:
        _template(sb, template, folders["templates"]["id"])
    _skills_matrix(sb, folders["operations"]["id"])
    for opportunity in org.OPPORTUNITIES:
        _sow(sb, opportunity, folders["sows"]["id"])
    _past_engagement(sb, org.ACME_PAST, folders["engagements"]["id"])


def _psflow_folder(sb: Sandbox, name: str, key: str, parent: str, **props: str) -> Json:
    return common.new_file(
        sb,
        name,
        common.FOLDER,
        parents=[parent],
        app_properties={"psflow_key": key, **props},
        app=common.PSFLOW_APP,
    )


def _template(sb: Sandbox, template: org.Template, folder_id: str) -> Json:
    # A person uploaded it in the Drive UI, which sets no appProperties: psflow finds it by name.
    fields = {
        "parents": [folder_id],
        "description": f"psflow template '{template.key}': copied for each engagement.",
    }
    if template.mime_type == common.SPREADSHEET:
        return common.new_spreadsheet(sb, template.name, dict(template.tabs), **fields)
    if template.mime_type == common.DOCUMENT:
        return common.new_document(sb, template.name, template.text, **fields)
    # A deck: the title slide holds the first two lines (title, subtitle), then one slide each.
    slides = [list(template.text[:2]), *([line] for line in template.text[2:])]
    return common.new_presentation(sb, template.name, slides, **fields)


def _skills_matrix(sb: Sandbox, folder_id: str) -> Json:
    pses = [
        (
            pse.email,
            pse.name,
            pse.title,
            pse.time_zone,
            org.skills_cell(pse.skills),
            "; ".join(pse.growth_goals),
            "; ".join(pse.traits),
        )
        for pse in org.PSES
    ]
    partners = [(name, email, org.skills_cell(skills)) for name, email, skills in org.PARTNERS]
    return common.new_spreadsheet(
        sb,
        org.SKILLS_MATRIX,
        {
            "PSEs": [org.SKILLS_MATRIX_HEADER, *pses],
            "Partners": [org.PARTNERS_HEADER, *partners],
        },
        parents=[folder_id],
        description="Skills, growth goals and communication style of every PSE, and our partners.",
    )


def _money(amount: float, currency: str) -> str:
    return f"{currency} {amount:,.2f}"


def _sow(sb: Sandbox, opp: org.Opportunity, folder_id: str) -> Json:
    """The SOW as sales writes it: parties, scope per line item, dates, fees, acceptance."""
    start = org.day(opp.start_in_days)
    end = org.day(opp.start_in_days + 7 * opp.weeks)
    primary = next(c for c in opp.account.contacts if c.primary)
    paragraphs = [
        f"Statement of Work {opp.sow_number}",
        f"{opp.name}",
        f'This Statement of Work is entered into between {org.COMPANY} ("Provider") and '
        f'{opp.account.name} ("Customer") under the Master Services Agreement between the '
        "parties.",
        f"Customer contact: {primary.first_name} {primary.last_name}, {primary.title} "
        f"({primary.email}).",
        f"Engagement manager: {org.staff(opp.engagement_manager).name}. "
        f"Engagement type: {opp.engagement_type}.",
        f"Expected start: {start.isoformat()}. Expected completion: {end.isoformat()} "
        f"({opp.weeks} weeks).",
        "Scope of services (activities):",
        *(
            f"{n}. {item.product} – {item.description}: {item.quantity:g} hours at "
            f"{_money(item.unit_price, opp.currency)} per hour."
            for n, item in enumerate(opp.line_items, start=1)
        ),
        f"Total fees: {_money(opp.amount, opp.currency)}, invoiced monthly on time and materials "
        "against the hours above.",
        "Acceptance: Provider requests the Customer's acceptance of each activity on completion. "
        "An activity is deemed accepted when the Customer has not answered within five (5) "
        "business days.",
        "Changes to scope, schedule or budget require a change request signed by both parties.",
    ]
    return common.new_document(
        sb,
        f"{opp.sow_number} – {opp.account.name} – {opp.name}",
        paragraphs,
        parents=[folder_id],
        file_id=org.sow_document_id(opp.sow_number),
    )


def _past_engagement(sb: Sandbox, opp: org.Opportunity, engagements_id: str) -> None:
    """Acme's finished migration: its customer folder, the SOW folder and a completed Project
    Definition, as psflow leaves them at close (so a new Acme engagement finds the customer
    folder and reuses it)."""
    customer = _psflow_folder(
        sb, opp.account.name, f"customer-folder:{opp.account.id}", engagements_id
    )
    sow_folder = _psflow_folder(
        sb,
        opp.sow_number,
        f"sow-folder:{opp.id}",
        customer["id"],
        psflow_opportunity=opp.id,
    )
    start = org.day(opp.start_in_days)
    end = org.day(opp.start_in_days + 7 * opp.weeks)
    pse = org.staff("bruno_costa")  # booked on it in org.BOOKINGS
    em = org.staff(opp.engagement_manager)

    def week(n: int) -> str:
        return org.day(opp.start_in_days + 7 * n).isoformat()

    hours = sum(item.quantity for item in opp.line_items)
    tabs: dict[str, Iterable[Sequence[str]]] = {
        "Overview": [
            ("Project definition", f"{opp.account.name} – {opp.sow_number}"),
            ("Customer", opp.account.name),
            ("Opportunity", f"{opp.name} ({opp.id})"),
            ("SOW", opp.sow_number),
            ("Project owner", pse.name),
            ("Engagement manager", em.name),
            ("GitLab project", org.acme_project_path()),
            ("Mavenlink project", opp.name),
            ("Expected start", start.isoformat()),
            ("Expected completion", end.isoformat()),
        ],
        "Actions": [
            ("Date", "Action", "Owner", "Due", "Status"),
            (week(0), "Share repository inventory", "Road Runner", week(1), "Done"),
            (week(1), "Provision migration runners", pse.name, week(2), "Done"),
            (week(6), "Schedule admin training", em.name, week(8), "Done"),
        ],
        "Meeting Notes": [
            ("Date", "Meeting", "Attendees", "Notes"),
            (
                week(0),
                "Kickoff",
                f"Wile Coyote, Road Runner, {pse.name}, {em.name}",
                "Scope and timeline confirmed; migration in three waves.",
            ),
            (
                week(10),
                "Project closure",
                f"Wile Coyote, {pse.name}, {em.name}",
                "All activities accepted; lessons learned recorded.",
            ),
        ],
        "Status Report": [
            ("Week", "Schedule", "Hours used", "Hours remaining", "Issues", "Out of office"),
            *(
                (week(n), "On track", f"{hours * n / 10:g}", f"{hours * (10 - n) / 10:g}", "", "")
                for n in range(1, 11)
            ),
        ],
    }
    common.new_spreadsheet(
        sb,
        f"{opp.account.name} – {opp.sow_number} – Project Definition",
        tabs,
        parents=[sow_folder["id"]],
        app_properties={"psflow_key": f"project-definition:{opp.id}", "psflow_opportunity": opp.id},
        app=common.PSFLOW_APP,
    )
