"""Execute's Kantata tasks against the sandbox: the hours the team logged, read in one listing with
who and on what; the project's health reported at most once a day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from engagement.execute import Colour, Health, Logged
from sandbox import seed as demo
from sandbox.client import SandboxClient
from tasks import mavenlink as ml

HOOLI = "Hooli – Runner Fleet Upgrade"  # the seed books Aisha, Isaac and Grace on it
AISHA, GRACE = demo.staff("aisha_bello").email, demo.staff("grace_kim").email


def hooli(outside: SandboxClient) -> ml.Workspace:
    (row,) = [w for w in outside.state("mavenlink", "workspaces") if w["title"] == HOOLI]
    return ml.Workspace(
        system="Mavenlink",
        kind="project",
        name=HOOLI,
        id=str(row["id"]),
        created=False,
        status=str(row["status"]["key"]),
    )


def test_the_hours_logged_are_read_with_who_and_on_what_in_one_listing(
    outside: SandboxClient,
) -> None:
    workspace = hooli(outside)
    assert ml.get_time_entries.fn(workspace.id) == ()
    logged = [(AISHA, "2027-01-04", 7.5), (GRACE, "2027-01-04", 8), (AISHA, "2027-01-05", 4)]
    for email, day, hours in logged:
        outside.act(
            "mavenlink",
            "/time_entries",
            workspace_id=workspace.id,
            user_email=email,
            date=day,
            hours=hours,
        )
    before = outside.last_request_id()
    entries = ml.get_time_entries.fn(workspace.id)
    assert len(outside.requests(system="mavenlink", since=before)) == 1
    assert sorted(entries, key=lambda e: (e.day, e.person)) == [
        # each with the cost of the person's hour (Kantata's cost rate: a Sr. PS Engineer's $90)
        Logged(
            day=date(2027, 1, 4), person=AISHA, task_id=None, hours=Decimal("7.5"), cost_rate=90
        ),
        Logged(day=date(2027, 1, 4), person=GRACE, task_id=None, hours=Decimal(8), cost_rate=70),
        Logged(day=date(2027, 1, 5), person=AISHA, task_id=None, hours=Decimal(4), cost_rate=90),
    ]


def test_the_health_is_reported_at_most_once_a_day(outside: SandboxClient) -> None:
    workspace = hooli(outside)
    since = datetime.now(UTC) - timedelta(hours=1)  # the sandbox's clock: today's start, here
    yellow = Health(colour=Colour.YELLOW, reasons=("40% of the hours burned with 25% elapsed",))
    before = outside.last_request_id()
    made = ml.ensure_health_report.fn(workspace, since, yellow)
    assert made.created
    assert made.name == "yellow: 40% of the hours burned with 25% elapsed"
    assert outside.writes(system="mavenlink", since=before) == 1
    (report,) = outside.state("mavenlink", "status_reports")
    assert (report["color"], report["workspace_id"]) == ("yellow", workspace.id)

    # later that day, even red: the day's report stands (a person may edit it)
    red = Health(colour=Colour.RED, reasons=("open escalation: VPN",))
    again = ml.ensure_health_report.fn(workspace, since, red)
    assert (again.id, again.created) == (made.id, False)
    assert outside.writes(system="mavenlink", since=before) == 1
