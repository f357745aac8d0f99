"""Execute's read of the team's out-of-office, from each person's calendar, against the sandbox."""

from __future__ import annotations

from datetime import date

from engagement.execute import Absence
from sandbox import seed as demo
from sandbox.client import SandboxClient
from tasks.calendar import get_out_of_office

AISHA, GRACE, ISAAC = (demo.staff(key).email for key in ("aisha_bello", "grace_kim", "isaac_cohen"))


def away(outside: SandboxClient, email: str, start: str, end: str) -> None:
    outside.act("google", "/calendar/out_of_office", email=email, start=start, end=end)


def test_the_teams_out_of_office_in_the_next_two_weeks(outside: SandboxClient) -> None:
    away(outside, AISHA, "2027-02-08", "2027-02-09")
    away(outside, GRACE, "2027-02-05", "2027-02-05")  # ends as the window opens: still in it
    away(outside, GRACE, "2027-03-01", "2027-03-05")  # after the window
    before = outside.last_request_id()
    found = get_out_of_office.fn([AISHA, GRACE, ISAAC, AISHA], date(2027, 2, 5), date(2027, 2, 18))
    assert found == (
        Absence(person=AISHA, start=date(2027, 2, 8), end=date(2027, 2, 9)),
        Absence(person=GRACE, start=date(2027, 2, 5), end=date(2027, 2, 5)),
    )
    assert len(outside.requests(system="google", since=before)) == 3  # a listing per person
