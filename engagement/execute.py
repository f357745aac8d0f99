"""The Execute phase's rules, pure: the week a status report belongs to, the hours burn-down, the
project's health, and when hours over budget call for a work exception.

psflow's choices where the handbook leaves one (change them only with a reason in a note):
- a report belongs to its ISO week ("2027-W03"), its natural key everywhere: a re-run in the same
  week updates that week's report, never adds one;
- time elapsed and the ideal burn count working days (the customer's calendar), so a holiday week
  is not a week behind;
- health is the worst colour any rule gives, and every rule that fired is said (`Health.reasons`);
- a work exception is raised once per engagement and threshold of consumed hours against the
  scoped ones (100%, then 110%, 125%, 150%), not every week it stays over.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from engagement.cost_estimate import as_text
from engagement.keys import GITLAB_KIND_LABELS
from engagement.models import Engagement, EngagementStatus
from engagement.project_definition import STATUS_REPORT
from engagement.workdays import business_days

# Consumed hours against the scoped ones, in percent, at which a work exception is raised (once each)
EXCEPTION_THRESHOLDS = (100, 110, 125, 150)
# Burn ahead of time elapsed, in percentage points: yellow from the first, red from the second
BURN_AHEAD = (10, 25)
# Working days a milestone is overdue: yellow from the first, red from the second
SLIP_DAYS = (1, 10)


def iso_week(day: date) -> str:
    """The ISO week `day` falls in, as the status report's key.

    Example:
        >>> iso_week(date(2027, 1, 1)), iso_week(date(2027, 1, 4))  # a Friday of 2026's week 53
        ('2026-W53', '2027-W01')
    """
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def monday(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())


def report_problems(engagement: Engagement) -> list[str]:
    """What keeps a PS Engagement from its weekly status report, in Salesforce's field names;
    empty when it is under way (In Progress since its kickoff, with its scoped hours)."""
    problems = []
    if engagement.status != EngagementStatus.IN_PROGRESS or engagement.actual_start is None:
        problems.append(
            f"Status__c is {engagement.status.value!r}, not In Progress since a kickoff "
            "(Actual_Start__c)"
        )
    if not engagement.scoped_hours:  # Initiate writes it from the cost estimate
        problems.append("Scoped_Hours__c is empty")
    if engagement.expected_completion is None:  # Initiate writes it; a change request moves it
        problems.append("Expected_Completion__c is empty")
    return problems


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Logged(_Frozen):
    """Hours a person logged on the engagement one day (a Kantata time entry)."""

    day: date
    person: str  # their e-mail
    task_id: str | None  # the Kantata task (a SOW activity's) it was logged on, if any
    hours: Decimal
    cost_rate: Decimal | None = None  # what an hour of theirs cost that day (Kantata's cost rate)


class BurnPoint(_Frozen):
    """One week of the burn-down: the hours left at its end, and where the ideal line is."""

    week: str  # ISO week
    ends: date  # the week's last day (Sunday), or the engagement's end in its last week
    remaining: Decimal | None  # None: a week still to come
    ideal: Decimal


def burn_down(
    scoped: Decimal,
    start: date,
    end: date,
    logged: Iterable[tuple[date, Decimal]],
    today: date,
    country: str | None = None,
) -> tuple[BurnPoint, ...]:
    """Week by week from the engagement's first week to its last: the scoped hours less those
    logged by each week's end (weeks after `today`'s: still to come), against the ideal line, which
    falls from the scoped hours to none by the end, evenly over the working days.

    Raises:
        ValueError: `end` before `start`.

    Example:
        >>> points = burn_down(Decimal(80), date(2027, 1, 4), date(2027, 1, 15),
        ...                    [(date(2027, 1, 5), Decimal(30))], today=date(2027, 1, 8))
        >>> [(p.week, p.remaining, p.ideal) for p in points]
        [('2027-W01', Decimal('50'), Decimal('40')), ('2027-W02', None, Decimal('0'))]
    """
    if end < start:
        raise ValueError(f"the engagement ends ({end}) before it starts ({start})")
    days = business_days(start, end, country) or (end,)
    entries = sorted(logged)
    points = []
    week = monday(start)
    while week <= end:
        ends = min(week + timedelta(days=6), end)
        worked = sum(1 for day in days if day <= ends)
        ideal = scoped - scoped * worked / len(days)
        spent = sum((hours for day, hours in entries if day <= ends), Decimal(0))
        remaining = scoped - spent if week <= today else None
        points.append(
            BurnPoint(week=iso_week(week), ends=ends, remaining=remaining, ideal=_hours(ideal))
        )
        week += timedelta(days=7)
    return tuple(points)


def _hours(value: Decimal) -> Decimal:
    """To a tenth of an hour, written plainly (40, not 4E+1)."""
    return Decimal(f"{value.quantize(Decimal('0.1')).normalize():f}")


class Colour(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class Health(_Frozen):
    """The project's health, and every rule that made it so."""

    colour: Colour
    reasons: tuple[str, ...]


def health(
    *,
    today: date,
    start: date,
    end: date,
    scoped: Decimal,
    consumed: Decimal,
    overdue: Sequence[tuple[str, date]],
    escalations: Sequence[str],
    country: str | None = None,
) -> Health:
    """Green, yellow or red from schedule slip (milestones past their due date and not done),
    hours burned against time elapsed, and open escalations: the worst colour any rule gives.

    Args:
        overdue: (milestone, due) of each milestone not done whose due date has passed.
        escalations: the titles of the open risk or escalation issues.

    Example:
        >>> h = health(today=date(2027, 1, 15), start=date(2027, 1, 4), end=date(2027, 2, 26),
        ...            scoped=Decimal(100), consumed=Decimal(40), overdue=[], escalations=[])
        >>> h.colour, h.reasons
        (<Colour.YELLOW: 'yellow'>, ('40% of the hours burned with 25% of the time elapsed',))
    """
    found: list[tuple[Colour, str]] = []
    for name, due in overdue:
        late = len(business_days(due + timedelta(days=1), today, country))
        if late >= SLIP_DAYS[0]:
            colour = Colour.RED if late >= SLIP_DAYS[1] else Colour.YELLOW
            found.append((colour, f"{name} is {late} working days past its due date {due}"))
    days = business_days(start, end, country)
    gone = sum(1 for day in days if day <= today)
    elapsed = Decimal(gone) / len(days) if days else Decimal(1)
    burned = consumed / scoped if scoped else Decimal(0)
    ahead = (burned - elapsed) * 100
    if consumed > scoped:
        found.append(
            (Colour.RED, f"{_number(consumed)} hours consumed of {_number(scoped)} scoped")
        )
    elif ahead >= BURN_AHEAD[0]:
        colour = Colour.RED if ahead >= BURN_AHEAD[1] else Colour.YELLOW
        found.append(
            (colour, f"{burned:.0%} of the hours burned with {elapsed:.0%} of the time elapsed")
        )
    found.extend((Colour.RED, f"open escalation: {title}") for title in escalations)
    if not found:
        return Health(colour=Colour.GREEN, reasons=("on schedule, hours in line with time",))
    order = list(Colour)
    worst = max((colour for colour, _ in found), key=order.index)
    return Health(colour=worst, reasons=tuple(reason for _, reason in found))


def exception_threshold(consumed: Decimal, scoped: Decimal) -> int | None:
    """The highest threshold (percent of the scoped hours) the consumed hours have reached, or
    None under the first: the work exception's key, so each is raised once.

    Example:
        >>> exception_threshold(Decimal(99), Decimal(100)), exception_threshold(Decimal(112), Decimal(100))
        (None, 110)
    """
    if scoped <= 0:
        return EXCEPTION_THRESHOLDS[0] if consumed > 0 else None
    reached = [t for t in EXCEPTION_THRESHOLDS if consumed * 100 >= scoped * t]
    return reached[-1] if reached else None


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


# --- the report ----------------------------------------------------------------------------------


class ProjectIssue(_Frozen):
    """An open issue in the engagement's GitLab project."""

    title: str
    labels: tuple[str, ...]
    url: str = ""


ESCALATION_WORDS = ("escalation", "risk")  # a label naming one of these makes an issue one


def issues_and_escalations(issues: Iterable[ProjectIssue]) -> tuple[list[str], list[str]]:
    """The report's issues (every open issue but psflow's own: the hand-off, activities, reviews,
    change requests) and, among them, the escalations (labelled risk or escalation).

    Example:
        >>> found = [ProjectIssue(title="VPN blocked", labels=("Escalation",)),
        ...          ProjectIssue(title="Docs typo", labels=()),
        ...          ProjectIssue(title="PS-MIG Migration", labels=("PS::Activity",))]
        >>> issues_and_escalations(found)
        (['VPN blocked', 'Docs typo'], ['VPN blocked'])
    """
    ours = set(GITLAB_KIND_LABELS.values())
    theirs = [issue for issue in issues if not ours & set(issue.labels)]
    escalated = [
        issue.title
        for issue in theirs
        if any(word in label.lower() for label in issue.labels for word in ESCALATION_WORDS)
    ]
    return [issue.title for issue in theirs], escalated


def open_actions(rows: Sequence[Sequence[object]]) -> tuple[str, ...]:
    """The action items still open in the Project Definition's Actions table (its rows after the
    header: date, action, owner, due, status), each with its owner and due date when known.

    Example:
        >>> open_actions([["Date", "Action", "Owner", "Due", "Status"],
        ...               ["2027-01-04", "Share the inventory", "Wile", "2027-01-08", "Done"],
        ...               ["2027-01-04", "Provision runners", "Aisha", "2027-01-15", "Open"]])
        ('Provision runners (Aisha, due 2027-01-15)',)
    """
    found = []
    for row in rows[1:]:
        cells = [str(cell).strip() for cell in row] + [""] * 5
        _, action, owner, due, status = cells[:5]
        if not action or status.lower() in CLOSED_ACTIONS:
            continue
        said = ", ".join(part for part in (owner, f"due {due}" if due else "") if part)
        found.append(f"{action} ({said})" if said else action)
    return tuple(found)


CLOSED_ACTIONS = frozenset({"done", "closed", "cancelled", "canceled", "n/a"})


class MilestoneState(_Frozen):
    """A milestone as the schedule snapshot shows it."""

    title: str
    due: date
    done: bool


class Absence(_Frozen):
    """A team member's planned out-of-office (a Calendar out-of-office event)."""

    person: str
    start: date
    end: date  # the last day away

    def __str__(self) -> str:
        return f"{self.person}: {self.start} to {self.end}"


# The status report row's E-mail column: what became of the week's e-mail. Once it was sent or
# skipped the week's report is final: a re-run that week leaves the row, the health and the mail.
WAITING = "waiting for the Project Owner's review"
SENT = "sent to "
SKIPPED = "not sent: "


def week_email(rows: Sequence[Sequence[object]], week: str) -> str:
    """The E-mail column of `week`'s row in the Status Report table (header first), or "".

    Example:
        >>> week_email([["Week"], ["2027-W02", "", "", "", "", "", "", "", "", "", "sent to x"]],
        ...            "2027-W02")
        'sent to x'
    """
    column = len(STATUS_REPORT.header) - 1
    for row in rows[1:]:
        if row and str(row[0]).strip() == week:
            return str(row[column]).strip() if column < len(row) else ""
    return ""


def is_final(email: str) -> bool:
    """Whether the week's report was sent or skipped (see `week_email`)."""
    return email.startswith((SENT, SKIPPED))


class StatusReview(BaseModel):
    """What the Project Owner may change before the week's report goes to the customer: the
    Prefect UI's form (prefilled with the report as gathered)."""

    send: bool = Field(
        default=True, description="Send it to the customer's contacts; untick to skip this week"
    )
    issues: list[str] = Field(default_factory=list, description="Issues and escalations, one each")
    out_of_office: list[str] = Field(
        default_factory=list, description="The team's planned out of office, one each"
    )
    note: str = Field(default="", description="A note to the customer, at the report's end")
    # one field the server checks: a colour without its reason cannot be given
    health_override: str = Field(
        default="",
        pattern=r"^$|^(green|yellow|red): *\S.*$",
        description="To set the health yourself: the colour, a colon and why, e.g. "
        "'yellow: the customer's test environment is late'; empty keeps the computed one",
    )


class StatusReport(_Frozen):
    """A week's status report of one engagement, as its facts were gathered."""

    week: str  # ISO week: the report's key
    as_of: date
    title: str  # "<customer> – <engagement>"
    health: Health
    due: date  # the project's due date
    milestones: tuple[MilestoneState, ...]
    scoped: Decimal
    consumed: Decimal
    by_person: tuple[tuple[str, Decimal], ...]
    actions: tuple[str, ...]  # the open action items
    issues: tuple[str, ...]  # open issues and escalations
    out_of_office: tuple[str, ...]  # "<person>: <first day> to <last day>"
    note: str = ""

    @property
    def remaining(self) -> Decimal:
        return self.scoped - self.consumed

    def schedule(self) -> str:
        """The schedule in a line: "2 of 4 milestones done; late: Migration (due 2027-01-29)"."""
        done = sum(m.done for m in self.milestones)
        late = [m for m in self.milestones if not m.done and m.due < self.as_of]
        text = f"{done} of {len(self.milestones)} milestones done, the project due {self.due}"
        if late:
            text += "; late: " + ", ".join(f"{m.title} (due {m.due})" for m in late)
        return text

    def reviewed(self, review: StatusReview, by: str) -> StatusReport:
        """The report as the Project Owner `by` edited it: the issues, the out-of-office and
        the note as given, and the health as they judged it (the computed one kept as a
        reason)."""
        judged = self.health
        if review.health_override:
            colour, _, why = review.health_override.partition(":")
            computed = f"computed {self.health.colour.value}: " + "; ".join(self.health.reasons)
            judged = Health(
                colour=Colour(colour.strip()), reasons=(f"set by {by}: {why.strip()}", computed)
            )
        return self.model_copy(
            update={
                "issues": tuple(filter(None, map(str.strip, review.issues))),
                "out_of_office": tuple(filter(None, map(str.strip, review.out_of_office))),
                "note": review.note.strip(),
                "health": judged,
            }
        )

    def row(self, chart: str, email: str = "") -> list[object]:
        """The report's row in the Project Definition (`project_definition.STATUS_REPORT`): text
        from people (an issue's title, the note) stays text in Sheets, never a formula."""
        return [
            self.week,
            as_text(self.schedule()),
            float(self.consumed),
            float(self.remaining),
            as_text("; ".join(self.issues) or "none"),
            as_text("; ".join(self.out_of_office) or "none"),
            self.health.colour.value,
            len(self.actions),
            as_text(chart),
            as_text(self.note) if self.note else "",
            as_text(email) if email else "",
        ]

    def markdown(self, chart: str) -> str:
        """The whole report, as the run's artifact and the e-mail's text show it."""
        lines = [
            f"# Status report {self.week}: {self.title}",
            "",
            f"**Health: {self.health.colour.value}** — " + "; ".join(self.health.reasons),
            "",
            "## Schedule",
            self.schedule(),
            *(f"- {'done' if m.done else 'open'}: {m.title}, due {m.due}" for m in self.milestones),
            "",
            "## Hours",
            f"{_number(self.consumed)} of {_number(self.scoped)} hours used, "
            f"{_number(self.remaining)} remaining.",
            *(f"- {person}: {_number(hours)} h" for person, hours in self.by_person),
            f"![Burn-down]({chart})",
            "",
            "## Open action items",
            *(f"- {action}" for action in self.actions or ("none",)),
            "",
            "## Issues and escalations",
            *(f"- {issue}" for issue in self.issues or ("none",)),
            "",
            "## Planned out of office (next two weeks)",
            *(f"- {line}" for line in self.out_of_office or ("none",)),
        ]
        if self.note:
            lines += ["", "## Note", self.note]
        return "\n".join(lines) + "\n"
