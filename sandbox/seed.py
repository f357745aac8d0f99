"""The demo organisation the sandbox starts with: Northwind Cloud's Professional Services team, its
customers, pipeline, people, templates and current workload.

Plain data, shared by every system's seed function so the same people and opportunities appear in
Salesforce, Mavenlink, Slack, Google and GitLab. Ids that cross systems (Salesforce ids) are fixed
here so a re-seed gives the same ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta

COMPANY = "Northwind Cloud"
DOMAIN = "northwind.example"
PS_MAILBOX = f"ps-team@{DOMAIN}"  # the Gmail/Calendar account psflow acts as

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def sfid(prefix: str, n: int, instance: str = "Dn0") -> str:
    """An 18-character Salesforce id: key prefix, the org's instance (a pod and a reserved
    character; the seed's is fixed), a base-62 counter and the case-safe checksum that real ids
    carry."""
    num, digits = n, ""
    while True:
        num, r = divmod(num, 62)
        digits = _BASE62[r] + digits
        if num == 0:
            break
    core = f"{prefix}{instance}{digits.rjust(9, '0')}"
    assert len(core) == 15, core
    suffix = ""
    for i in range(3):
        chunk = core[i * 5 : i * 5 + 5]
        bits = sum(1 << j for j, c in enumerate(chunk) if "A" <= c <= "Z")
        suffix += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits]
    return core + suffix


def base62(n: int, width: int) -> str:
    """`n` in base 62, `width` digits."""
    digits = ""
    for _ in range(width):
        n, r = divmod(n, 62)
        digits = _BASE62[r] + digits
    return digits


# Salesforce key prefixes
USER, ACCOUNT, CONTACT, OPPORTUNITY, CONTACT_ROLE, LINE_ITEM, PRODUCT, ENGAGEMENT = (
    "005",
    "001",
    "003",
    "006",
    "00K",
    "00k",
    "01t",
    "a0P",
)

# --- people --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    key: str  # short handle, also the GitLab/Slack username
    name: str
    title: str
    time_zone: str

    @property
    def email(self) -> str:
        return f"{self.key.replace('_', '.')}@{DOMAIN}"


@dataclass(frozen=True)
class Pse(Person):
    skills: dict[str, int] = field(default_factory=dict)  # skill -> level 1..5
    growth_goals: tuple[str, ...] = ()
    traits: tuple[str, ...] = ()  # personality and communication tags


STAFF = (
    Person("olivia_park", "Olivia Park", "PS Operations Manager", "America/New_York"),
    Person("priya_raman", "Priya Raman", "Sr. PS Project Coordinator", "America/Chicago"),
    Person("marcus_webb", "Marcus Webb", "Engagement Manager", "America/New_York"),
    Person("elena_rossi", "Elena Rossi", "Engagement Manager", "Europe/Rome"),
    Person("hiro_tanaka", "Hiro Tanaka", "Technical Architect", "Asia/Tokyo"),
    Person("nora_quinn", "Nora Quinn", "Project Manager", "Europe/Dublin"),
    Person("dana_cole", "Dana Cole", "Account Executive", "America/Denver"),
    Person("sam_patel", "Sam Patel", "Account Executive", "Europe/London"),
)

PSES = (
    Pse(
        "aisha_bello",
        "Aisha Bello",
        "Sr. PS Engineer",
        "Africa/Lagos",
        {"gitlab-ci": 5, "kubernetes": 4, "terraform": 3, "security": 2},
        ("security", "architecture"),
        ("calm", "structured", "written"),
    ),
    Pse(
        "bruno_costa",
        "Bruno Costa",
        "PS Engineer",
        "America/Sao_Paulo",
        {"migration": 5, "gitlab-ci": 3, "python": 4, "jenkins": 4},
        ("kubernetes",),
        ("energetic", "hands-on", "verbal"),
    ),
    Pse(
        "chen_wei",
        "Chen Wei",
        "Sr. PS Engineer",
        "Asia/Shanghai",
        {"kubernetes": 5, "helm": 4, "security": 3, "gcp": 4},
        ("architecture",),
        ("precise", "formal", "written"),
    ),
    Pse(
        "divya_nair",
        "Divya Nair",
        "PS Engineer",
        "Asia/Kolkata",
        {"python": 5, "migration": 4, "data": 4, "gitlab-ci": 3},
        ("leadership", "kubernetes"),
        ("patient", "teacher", "verbal"),
    ),
    Pse(
        "erik_lund",
        "Erik Lund",
        "Sr. PS Engineer",
        "Europe/Stockholm",
        {"security": 5, "compliance": 4, "gitlab-ci": 4, "terraform": 2},
        ("data",),
        ("formal", "precise", "written"),
    ),
    Pse(
        "fatima_zahra",
        "Fatima Zahra",
        "PS Engineer",
        "Europe/London",
        {"training": 4, "gitlab-ci": 4, "agile": 5},
        ("security",),
        ("energetic", "teacher", "verbal"),
    ),
    Pse(
        "grace_kim",
        "Grace Kim",
        "PS Engineer",
        "America/Los_Angeles",
        {"training": 5, "gitlab-ci": 4, "agile": 4, "python": 2},
        ("kubernetes", "leadership"),
        ("patient", "teacher", "verbal"),
    ),
    Pse(
        "hannah_mueller",
        "Hannah Müller",
        "PS Engineer",
        "Europe/Berlin",
        {"migration": 4, "jenkins": 5, "gitlab-ci": 4, "aws": 2},
        ("aws",),
        ("structured", "formal", "written"),
    ),
    Pse(
        "isaac_cohen",
        "Isaac Cohen",
        "Sr. PS Engineer",
        "America/New_York",
        {"terraform": 5, "aws": 5, "kubernetes": 3, "gitlab-ci": 3},
        ("security",),
        ("hands-on", "calm", "verbal"),
    ),
    Pse(
        "jonas_berg",
        "Jonas Berg",
        "PS Engineer",
        "Pacific/Auckland",
        {"gitlab-ci": 4, "kubernetes": 3, "helm": 3, "gcp": 2},
        ("architecture", "gcp"),
        ("calm", "hands-on", "written"),
    ),
    Pse(
        "kavya_iyer",
        "Kavya Iyer",
        "PS Engineer",
        "Australia/Adelaide",
        {"data": 5, "python": 4, "migration": 3},
        ("gitlab-ci",),
        ("precise", "patient", "written"),
    ),
    Pse(
        "luis_ortega",
        "Luis Ortega",
        "PS Engineer",
        "America/Mexico_City",
        {"gitlab-ci": 3, "migration": 3, "training": 3},
        ("migration", "kubernetes"),
        ("energetic", "verbal"),
    ),
)

PARTNERS = (
    # name, contact email, skills (a partner firm is judged on its best consultant)
    (
        "Contoso Consulting",
        "staffing@contoso-consulting.example",
        {"kubernetes": 5, "terraform": 5, "aws": 5, "gcp": 4},
    ),
    (
        "Fabrikam DevOps Partners",
        "ps@fabrikam-devops.example",
        {"migration": 5, "jenkins": 5, "gitlab-ci": 5, "security": 4},
    ),
)


def staff(key: str) -> Person:
    return next(p for p in (*STAFF, *PSES) if p.key == key)


def user_id(person: Person) -> str:
    """The person's Salesforce user id."""
    return sfid(USER, 1 + [p.key for p in (*STAFF, *PSES)].index(person.key))


# --- customers and pipeline ----------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    first_name: str
    last_name: str
    email: str
    title: str
    role: str  # OpportunityContactRole.Role
    primary: bool = False


@dataclass(frozen=True)
class Account:
    n: int
    name: str
    industry: str
    country: str
    time_zone: str  # Account.PS_Time_Zone__c
    communication: tuple[str, ...]  # Account.PS_Communication_Style__c (semicolon list)
    contacts: tuple[Contact, ...]

    @property
    def id(self) -> str:
        return sfid(ACCOUNT, self.n)


@dataclass(frozen=True)
class LineItem:
    product: str
    description: str
    quantity: float  # hours sold
    unit_price: float


@dataclass(frozen=True)
class Opportunity:
    n: int
    account: Account
    name: str
    stage: str
    amount: float
    currency: str
    owner: str  # staff key of the account executive
    engagement_manager: str
    sow_number: str
    skills: dict[str, int]  # PS_Skills_Required__c
    start_in_days: int  # PS expected start, relative to the seed day
    weeks: int
    line_items: tuple[LineItem, ...]
    engagement_type: str = "Consulting"

    @property
    def id(self) -> str:
        return sfid(OPPORTUNITY, self.n)


ACME = Account(
    1,
    "Acme Corporation",
    "Manufacturing",
    "United States",
    "America/Chicago",
    ("direct", "hands-on"),
    (
        Contact(
            "Wile", "Coyote", "wile.coyote@acme.example", "VP Engineering", "Decision Maker", True
        ),
        Contact("Road", "Runner", "road.runner@acme.example", "DevOps Lead", "Technical Buyer"),
    ),
)
GLOBEX = Account(
    2,
    "Globex Industries",
    "Energy",
    "Germany",
    "Europe/Berlin",
    ("formal", "written"),
    (
        Contact("Hank", "Scorpio", "hank.scorpio@globex.example", "CTO", "Decision Maker", True),
        Contact(
            "Lena", "Schmidt", "lena.schmidt@globex.example", "Platform Owner", "Technical Buyer"
        ),
    ),
)
INITECH = Account(
    3,
    "Initech Software",
    "Software",
    "United States",
    "America/Los_Angeles",
    ("precise", "written"),
    (
        Contact(
            "Bill",
            "Lumbergh",
            "bill.lumbergh@initech.example",
            "Director of IT",
            "Decision Maker",
            True,
        ),
        Contact(
            "Peter",
            "Gibbons",
            "peter.gibbons@initech.example",
            "Software Engineer",
            "Business User",
        ),
    ),
)
UMBRELLA = Account(
    4,
    "Umbrella Health",
    "Healthcare",
    "Australia",
    "Australia/Sydney",
    ("calm", "formal"),
    (
        Contact(
            "Alice",
            "Abernathy",
            "alice.abernathy@umbrella.example",
            "Head of Platform",
            "Decision Maker",
            True,
        ),
    ),
)
SGD = Account(
    5,
    "Société Générale de Données",
    "Financial Services",
    "France",
    "Europe/Paris",
    ("formal", "teacher"),
    (
        Contact(
            "Amélie",
            "Poulain",
            "amelie.poulain@sgd.example",
            "Responsable DevOps",
            "Decision Maker",
            True,
        ),
    ),
)
WAYNE = Account(
    6,
    "Wayne Enterprises",
    "Conglomerate",
    "United States",
    "America/New_York",
    ("direct", "verbal"),
    (Contact("Lucius", "Fox", "lucius.fox@wayne.example", "CTO", "Decision Maker", True),),
)
ACCOUNTS = (ACME, GLOBEX, INITECH, UMBRELLA, SGD, WAYNE)

# GitLab-style stage names; stage 5 is the one that starts Pre-Initiate.
STAGES = (
    "1-Discovery",
    "2-Scoping",
    "3-Technical Evaluation",
    "4-Proposal",
    "5-Negotiating",
    "6-Awaiting Signature",
    "Closed Won",
    "8-Closed Lost",
)

_MIGRATION = LineItem("PS-MIG", "SCM migration: repositories, users, CI definitions", 120, 250)
_CI = LineItem("PS-CICD", "CI/CD pipeline design and rollout", 80, 250)
_K8S = LineItem("PS-K8S", "Kubernetes integration and runners", 100, 275)
_SEC = LineItem("PS-SEC", "Security and compliance pipeline rollout", 120, 275)
_TRAIN = LineItem("PS-TRN", "Administrator and user training (remote)", 24, 300)
_HEALTH = LineItem("PS-HC", "Instance health check and recommendations", 40, 250)

ACME_PAST = Opportunity(
    1,
    ACME,
    "Acme – GitLab Migration 2025",
    "Closed Won",
    48_000,
    "USD",
    "dana_cole",
    "marcus_webb",
    "SOW-2025-031",
    {"migration": 4},
    -400,
    10,
    (_MIGRATION, _TRAIN),
)
OPPORTUNITIES = (
    ACME_PAST,
    Opportunity(
        2,
        ACME,
        "Acme – CI/CD Modernisation",
        "4-Proposal",
        42_000,
        "USD",
        "dana_cole",
        "marcus_webb",
        "SOW-2026-041",
        {"gitlab-ci": 4, "kubernetes": 3},
        30,
        8,
        (_CI, _K8S),
    ),
    Opportunity(
        3,
        GLOBEX,
        "Globex – Kubernetes Integration",
        "4-Proposal",
        68_500,
        "EUR",
        "sam_patel",
        "elena_rossi",
        "SOW-2026-042",
        {"kubernetes": 4, "helm": 3, "security": 2},
        45,
        12,
        (_K8S, _SEC, _TRAIN),
    ),
    Opportunity(
        4,
        INITECH,
        "Initech – Security & Compliance Rollout",
        "3-Technical Evaluation",
        36_000,
        "USD",
        "dana_cole",
        "marcus_webb",
        "SOW-2026-043",
        {"security": 4, "compliance": 3},
        60,
        8,
        (_SEC, _TRAIN),
    ),
    Opportunity(
        5,
        UMBRELLA,
        "Umbrella Health – Platform Onboarding",
        "6-Awaiting Signature",
        29_500,
        "AUD",
        "sam_patel",
        "elena_rossi",
        "SOW-2026-044",
        {"gitlab-ci": 3, "training": 3},
        21,
        6,
        (_HEALTH, _CI, _TRAIN),
    ),
    Opportunity(
        6,
        SGD,
        "SGD – Formation GitLab & migration",
        "2-Scoping",
        54_000,
        "EUR",
        "sam_patel",
        "elena_rossi",
        "SOW-2026-045",
        {"migration": 4, "training": 4},
        75,
        10,
        (_MIGRATION, _TRAIN),
    ),
    Opportunity(
        7,
        WAYNE,
        "Wayne – Jenkins to GitLab",
        "8-Closed Lost",
        61_000,
        "USD",
        "dana_cole",
        "marcus_webb",
        "SOW-2026-039",
        {"jenkins": 4, "migration": 4},
        30,
        10,
        (_MIGRATION, _CI),
    ),
)

# --- current workload (Mavenlink): who is booked where -------------------------------------------


@dataclass(frozen=True)
class Booking:
    pse: str
    workspace: str
    start_in_days: int  # relative to the seed day
    days: int
    minutes_per_day: int


CURRENT_WORKSPACES = (
    "Acme – GitLab Migration 2025",
    "Hooli – Runner Fleet Upgrade",
    "Stark Industries – Compliance Pipelines",
)
BOOKINGS = (
    Booking("aisha_bello", "Hooli – Runner Fleet Upgrade", -20, 90, 480),  # fully booked
    Booking("chen_wei", "Stark Industries – Compliance Pipelines", -10, 40, 240),
    Booking("erik_lund", "Stark Industries – Compliance Pipelines", -10, 120, 480),
    Booking("isaac_cohen", "Hooli – Runner Fleet Upgrade", 0, 30, 480),
    Booking("bruno_costa", "Acme – GitLab Migration 2025", -400, 70, 480),  # long finished
    Booking("grace_kim", "Hooli – Runner Fleet Upgrade", 5, 20, 120),
)

# --- Drive: templates, the skills matrix, SOWs ---------------------------------------------------

TEMPLATES_FOLDER = "PS Templates"
ENGAGEMENTS_FOLDER = "PS Engagements"
OPERATIONS_FOLDER = "PS Operations"
SOWS_FOLDER = "Sales – Statements of Work"

SPREADSHEET = "application/vnd.google-apps.spreadsheet"
DOCUMENT = "application/vnd.google-apps.document"
PRESENTATION = "application/vnd.google-apps.presentation"
FOLDER = "application/vnd.google-apps.folder"


@dataclass(frozen=True)
class Template:
    key: str  # psflow's key of the template; PsflowSettings.templates maps it to `name`
    name: str
    mime_type: str
    # Docs/Slides: paragraphs with {{placeholders}}; Sheets: {tab: rows}
    text: tuple[str, ...] = ()
    tabs: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)


TEMPLATES = (
    Template(
        "cost-estimate",
        "Cost Estimate Template",
        SPREADSHEET,
        tabs={
            "Estimate": (
                ("Cost estimate", ""),
                ("Customer", ""),
                ("Opportunity", ""),
                ("Opportunity Id", ""),
                ("SOW", ""),
                ("Currency", ""),
                ("Contracted revenue", ""),
                ("Expected start", ""),
                ("Expected completion", ""),
                ("", ""),
                ("Activity", "Unit", "Effort", "Hours", "Notes"),
            ),
        },
    ),
    Template(
        "project-definition",
        "Project Definition Template",
        SPREADSHEET,
        tabs={
            "Overview": (
                ("Project definition", ""),
                ("Customer", ""),
                ("Opportunity", ""),
                ("SOW", ""),
                ("Project owner", ""),
                ("Engagement manager", ""),
                ("GitLab project", ""),
                ("Mavenlink project", ""),
                ("Expected start", ""),
                ("Expected completion", ""),
            ),
            "Plan": (("Activity", "Milestone", "Hours", "Start", "Due"),),
            "Actions": (("Date", "Action", "Owner", "Due", "Status"),),
            "Meeting Notes": (("Date", "Meeting", "Attendees", "Notes"),),
            "Status Report": (
                (
                    "Week",
                    "Schedule",
                    "Hours used",
                    "Hours remaining",
                    "Issues",
                    "Out of office",
                    "Health",
                    "Open actions",
                    "Burn-down",
                    "Note",
                    "E-mail",
                ),
            ),
        },
    ),
    Template(
        "kickoff-deck",
        "Customer Project Kickoff",
        PRESENTATION,
        text=(
            "{{customer}} – Project Kickoff",
            "{{sow_number}} · {{opportunity}}",
            "Team: {{team}}",
            "Timeline: {{start}} – {{end}}",
            "Milestones: {{milestones}}",
        ),
    ),
    Template(
        "change-request",
        "Change Request Template",
        DOCUMENT,
        text=(
            "Change request for {{customer}} ({{sow_number}})",
            "Requested change: {{change}}",
            "Impact on budget: {{budget_impact}}",
            "Impact on schedule: {{schedule_impact}}",
        ),
    ),
    Template(
        "acceptance-request",
        "Activity Acceptance Request",
        DOCUMENT,
        text=(
            "Subject: {{customer}} – acceptance of {{activity}}",
            "Dear {{contact_first_name}},",
            "We have completed {{activity}} under {{sow_number}}. Its deliverables: {{deliverables}}",
            'Please reply "accepted" to confirm completion, or tell us what is missing. Without an '
            "answer by the end of {{passive_date}} (five business days) the activity will be "
            "considered accepted.",
            "Kind regards, {{project_owner}}",
        ),
    ),
    Template(
        "closure-agenda",
        "Project Closure Meeting Agenda",
        DOCUMENT,
        text=(
            "{{customer}} – project closure ({{sow_number}})",
            "1. Deliverables and acceptance: {{deliverables}}",
            "2. Estimate vs actual: {{hours}}",
            "3. Budget and margin: {{margin}}",
            "4. Change requests: {{change_requests}}",
            "5. Lessons learned",
            "6. Next steps: billing, support hand-over",
        ),
    ),
    Template(
        "closeout-report",
        "Project Closeout Report",
        DOCUMENT,
        text=(
            "{{customer}} – closeout report ({{sow_number}})",
            "Opportunity: {{opportunity}}. Project Owner: {{project_owner}}.",
            "Estimate vs actual: {{hours}}",
            "Hours per activity: {{activities}}",
            "Budget, cost and margin: {{margin}}",
            "Revenue recognised: {{revenue}}",
            "Deliverables and their acceptance: {{deliverables}}",
            "Sign-off: {{sign_off}}",
            "Change requests: {{change_requests}}",
            "Lessons learned: {{lessons_learned}}",
        ),
    ),
    Template(
        "initiation-email",
        "Initiation Email – New Customer",
        DOCUMENT,
        text=(
            "Subject: Welcome to {{company}} Professional Services – {{sow_number}}",
            "Dear {{contact_first_name}},",
            "Thank you for choosing {{company}}. I am {{coordinator}}, the PS Project Coordinator "
            "of {{opportunity}}; {{project_owner}} will be your project owner. In the coming days "
            "we will schedule a kickoff to confirm scope, timeline and the team.",
            "Kind regards, {{coordinator}}",
        ),
    ),
    Template(
        "initiation-email-existing",
        "Initiation Email – Existing Customer",
        DOCUMENT,
        text=(
            "Subject: Your next engagement with {{company}} – {{sow_number}}",
            "Dear {{contact_first_name}},",
            "Great to be working together again. I am {{coordinator}}, the PS Project Coordinator "
            "of {{opportunity}}, and {{project_owner}} will be your project owner; we will build on "
            "what we delivered before and propose a kickoff date shortly.",
            "Kind regards, {{coordinator}}",
        ),
    ),
    Template(
        "sign-off-email",
        "Project Sign-off Email",
        DOCUMENT,
        text=(
            "Subject: {{customer}}- project sign off",
            "Dear {{contact_first_name}},",
            'All activities of {{sow_number}} are complete. Please reply "accepted" to sign off '
            "the project.",
            "Kind regards, {{project_owner}}",
        ),
    ),
    Template(
        "handoff-issue",
        "Sales to PS Hand-off Issue",
        DOCUMENT,
        text=(
            "Sales to PS hand-off: {{customer}} – {{sow_number}}",
            "- [ ] SOW reviewed with the account team",
            "- [ ] Customer contacts and time zone confirmed",
            "- [ ] Technical environment and access",
            "- [ ] Risks and commitments made during the sale",
        ),
    ),
)

SKILLS_MATRIX = "PS Skills Matrix"
SKILLS_MATRIX_HEADER = (
    "Email",
    "Name",
    "Title",
    "Time zone",
    "Skills",
    "Growth goals",
    "Personality & communication",
)
PARTNERS_HEADER = ("Partner", "Email", "Skills")


def skills_cell(skills: dict[str, int]) -> str:
    return "; ".join(f"{name}:{level}" for name, level in skills.items())


# --- Slack ---------------------------------------------------------------------------------------

CHANNELS = ("ps_planning", "ps_ops_alerts", "ps_leadership", "general")


# --- GitLab --------------------------------------------------------------------------------------

CUSTOMERS_GROUP = "ps-customers"  # top-level group; one subgroup per customer
GROUP_LABELS = (
    ("PS::Hand-off", "#6699cc"),
    ("PS::Activity", "#428bca"),
    ("PS::TA Review", "#d9534f"),
    ("PS::Change Request", "#f0ad4e"),
    ("PS::Work Exception", "#8e44ad"),
)


def seed_day() -> date:
    """Relative dates in the seed are counted from today, so the demo always looks current."""
    return date.today()


def day(offset: int) -> date:
    return seed_day() + timedelta(days=offset)


def sow_document_id(sow_number: str) -> str:
    """The Drive id of a seeded SOW document, fixed so Salesforce's SOW_Link__c can name it."""
    return "1sow" + hashlib.sha256(sow_number.encode()).hexdigest()[:40]


def sow_link(sow_number: str) -> str:
    """Opportunity.SOW_Link__c as sales enters it: the Google Docs URL of the SOW."""
    return f"https://docs.google.com/document/d/{sow_document_id(sow_number)}/edit"


def acme_group() -> tuple[str, str]:
    """Acme's GitLab subgroup (path, name) as psflow named it for the 2025 engagement (written out:
    the sandbox does not import psflow; a unit test holds it to engagement.keys)."""
    return "acme-corporation-8sl9u7a1", "Acme Corporation - 8sl9u7a1"


def acme_project_path() -> str:
    return f"{CUSTOMERS_GROUP}/{acme_group()[0]}/sow-2025-031"
