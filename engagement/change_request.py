"""Change requests, pure: what a scope change is by the handbook's rules, and why.

The handbook (`PROCESS.md`, "Plan and Execute" and psflow's decisions) decides what paper a change
needs; the first rule that fires decides, and every rule that fires is listed:

1. billing switches (T&M <-> fixed fee), or the budget grows -> change order (the customer signs);
2. the end date moves 60 days or more with the budget unchanged, or activities are swapped within
   the budget -> $0 change order (the customer signs);
3. any other change within the budget, an extension under 60 days included -> written
   confirmation (the customer's reply, attached to the epic);
4. no change at all, but hours over the budget -> work exception (Execute raises it).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from engagement.models import Billing, Opportunity
from engagement.plan import planned
from engagement.project_definition import Table

EXTENSION_DAYS = 60  # "the end date moves about two months or more"


class Paper(StrEnum):
    """What a change needs, by the handbook."""

    CHANGE_ORDER = "change order"
    ZERO_CHANGE_ORDER = "$0 change order"
    WRITTEN_CONFIRMATION = "written confirmation"
    WORK_EXCEPTION = "work exception"

    @property
    def signed(self) -> bool:
        """A change order is signed by the customer; the others are confirmed by reply."""
        return self in (Paper.CHANGE_ORDER, Paper.ZERO_CHANGE_ORDER)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Baseline(_Frozen):
    """The engagement as agreed so far: what a change is measured against."""

    budget: Decimal
    end: date
    billing: Billing
    activities: dict[str, Decimal]  # hours by SOW activity code


class Activity(_Frozen):
    """An activity a change adds or re-scopes: its code, its name (for one added) and its hours."""

    code: str = Field(min_length=1, max_length=40, description="The SOW activity code, e.g. PS-MIG")
    name: str = Field(default="", max_length=200, description="Its name, for one added")
    hours: Decimal = Field(gt=0, le=10_000, description="Its estimated hours")


class Change(_Frozen):
    """A change request as the form asks it: everything optional but the description."""

    description: str = Field(min_length=1, max_length=2000, description="What changes, and why")
    added: tuple[Activity, ...] = ()
    removed: tuple[str, ...] = ()  # activity codes
    rescoped: tuple[Activity, ...] = ()
    budget: Decimal | None = Field(default=None, description="The new budget; empty: unchanged")
    end: date | None = Field(default=None, description="The new end date; empty: unchanged")
    billing: Billing | None = Field(default=None, description="The new billing; empty: unchanged")

    @property
    def empty(self) -> bool:
        activities = self.added or self.removed or self.rescoped
        return not activities and self.budget is None and self.end is None and self.billing is None


class Classification(_Frozen):
    paper: Paper
    reasons: tuple[str, ...]  # every rule that fired, the deciding one first


def problems(
    change: Change, baseline: Baseline, today: date, accepted: Collection[str]
) -> list[str]:
    """What makes a change leave the engagement inconsistent, by the form's field; empty when none.

    Example:
        >>> base = Baseline(budget=Decimal(50000), end=date(2027, 3, 26), billing=Billing.FIXED_FEE,
        ...                 activities={"PS-MIG": Decimal(80)})
        >>> problems(Change(description="x", end=date(2027, 1, 4), removed=("PS-MIG",)), base,
        ...          date(2027, 1, 15), accepted={"PS-MIG"})
        ['end: 2027-01-04 is before today (2027-01-15)', 'removed: PS-MIG is accepted already']
    """
    found = []
    if change.end is not None and change.end < today:
        found.append(f"end: {change.end} is before today ({today})")
    if change.budget is not None and change.budget < 0:
        found.append(f"budget: {change.budget} is negative")
    for code in change.removed:
        if code in accepted:
            found.append(f"removed: {code} is accepted already")
        elif code not in baseline.activities:
            found.append(f"removed: {code} is not an activity of the engagement")
    for activity in change.rescoped:
        if activity.code not in baseline.activities:
            found.append(f"rescoped: {activity.code} is not an activity of the engagement")
    for activity in change.added:
        if activity.code in baseline.activities:
            found.append(f"added: {activity.code} is an activity already (re-scope it)")
    if change.empty:
        found.append(
            "description: the change changes nothing (no activity, budget, end or billing)"
        )
    return found


def classify(change: Change, baseline: Baseline, hours_over: bool = False) -> Classification:
    """The paper a change needs, and every rule that fired, in the handbook's order.

    Example:
        >>> base = Baseline(budget=Decimal(50000), end=date(2027, 3, 26), billing=Billing.FIXED_FEE,
        ...                 activities={"PS-MIG": Decimal(80)})
        >>> found = classify(Change(description="three more weeks", end=date(2027, 4, 16)), base)
        >>> found.paper.value, found.reasons
        ('written confirmation', ('the end date moves 21 days (under 60), within the budget',))
    """
    fired: list[tuple[Paper, str]] = []
    if change.billing is not None and change.billing != baseline.billing:
        fired.append(
            (Paper.CHANGE_ORDER, f"billing switches from {baseline.billing} to {change.billing}")
        )
    budget = baseline.budget if change.budget is None else change.budget
    if budget > baseline.budget:
        grows = budget - baseline.budget
        fired.append(
            (Paper.CHANGE_ORDER, f"the budget grows from {baseline.budget} to {budget} (+{grows})")
        )
    moved = abs((change.end - baseline.end).days) if change.end is not None else 0
    if moved >= EXTENSION_DAYS and budget == baseline.budget:
        fired.append(
            (
                Paper.ZERO_CHANGE_ORDER,
                f"the end date moves {moved} days ({EXTENSION_DAYS} or more), the budget unchanged",
            )
        )
    if change.added and change.removed and budget <= baseline.budget:
        swapped = f"{', '.join(a.code for a in change.added)} for {', '.join(change.removed)}"
        fired.append((Paper.ZERO_CHANGE_ORDER, f"activities swapped within the budget: {swapped}"))
    if budget <= baseline.budget:
        if 0 < moved < EXTENSION_DAYS:
            fired.append(
                (
                    Paper.WRITTEN_CONFIRMATION,
                    f"the end date moves {moved} days (under {EXTENSION_DAYS}), within the budget",
                )
            )
        if budget < baseline.budget:
            fired.append(
                (
                    Paper.WRITTEN_CONFIRMATION,
                    f"the budget shrinks from {baseline.budget} to {budget}",
                )
            )
        if change.rescoped or (bool(change.added) != bool(change.removed)):
            fired.append((Paper.WRITTEN_CONFIRMATION, "the scope changes within the budget"))
    if not fired and change.empty and hours_over:
        fired.append((Paper.WORK_EXCEPTION, "hours over the budget with no approved change"))
    if not fired:
        raise ValueError("description: the change changes nothing the handbook classifies")
    order = list(Paper)
    paper = min((paper for paper, _ in fired), key=order.index)
    deciding = [reason for p, reason in fired if p == paper]
    return Classification(
        paper=paper, reasons=(*deciding, *(reason for p, reason in fired if p != paper))
    )


_NUMBER = re.compile(r"CR-(\d+)")


def next_number(existing: Iterable[str]) -> str:
    """The next CR number of an opportunity, from the ones it has (its slot held while counting).

    Example:
        >>> next_number(["CR-1", "CR-3"]), next_number([])
        ('CR-4', 'CR-1')
    """
    numbers = [int(m[1]) for text in existing if (m := _NUMBER.fullmatch(text))]
    return f"CR-{max(numbers, default=0) + 1}"


def rebaselined(baseline: Baseline, change: Change) -> Baseline:
    """The engagement as it stands once the change is approved.

    Example:
        >>> base = Baseline(budget=Decimal(50000), end=date(2027, 3, 26), billing=Billing.FIXED_FEE,
        ...                 activities={"PS-MIG": Decimal(80), "PS-TRN": Decimal(16)})
        >>> new = rebaselined(base, Change(description="x", removed=("PS-TRN",),
        ...     added=(Activity(code="PS-ADM", hours=Decimal(24)),), end=date(2027, 4, 16)))
        >>> new.end, new.activities
        (datetime.date(2027, 4, 16), {'PS-MIG': Decimal('80'), 'PS-ADM': Decimal('24')})
    """
    activities = {
        code: hours for code, hours in baseline.activities.items() if code not in change.removed
    }
    activities |= {a.code: a.hours for a in (*change.rescoped, *change.added)}
    return Baseline(
        budget=baseline.budget if change.budget is None else change.budget,
        end=change.end or baseline.end,
        billing=change.billing or baseline.billing,
        activities=activities,
    )


def impact(baseline: Baseline, change: Change) -> dict[str, str]:
    """The change request document's figures: the budget's and the schedule's impact, in words."""
    new = rebaselined(baseline, change)
    budget = (
        f"{baseline.budget} -> {new.budget} ({new.budget - baseline.budget:+})"
        if new.budget != baseline.budget
        else f"none: the budget stays {baseline.budget}"
    )
    days = (new.end - baseline.end).days
    schedule = (
        f"the end date {baseline.end} -> {new.end} ({days:+} days)"
        if days
        else f"none: the end date stays {baseline.end}"
    )
    hours = sum(new.activities.values()) - sum(baseline.activities.values())
    if hours:
        schedule += f"; estimated hours {hours:+}"
    return {"budget_impact": budget, "schedule_impact": schedule}


def activities_of(plan: Sequence[Sequence[object]]) -> dict[str, Decimal]:
    """The engagement's activities and their hours from the Project Definition's Plan tab.

    Example:
        >>> activities_of([["Activity", "Milestone", "Hours"], ["PS-MIG", "Migration", "80"]])
        {'PS-MIG': Decimal('80')}
    """
    return {code: hours for code, _, hours in planned(plan)}


def request_text(number: str, change: Change, found: Classification, document: str) -> str:
    """The customer's e-mail: what changes, what paper it is, and what is asked of them."""
    asked = (
        "Please sign the change order in the document and reply to this e-mail."
        if found.paper.signed
        else 'Please reply "accepted" to confirm the change.'
    )
    return "\n".join(
        [
            f"{number}: {change.description}",
            "",
            f"This change is a {found.paper.value}: " + "; ".join(found.reasons) + ".",
            f"The change request: {document}",
            "",
            asked,
        ]
    )


def document_values(
    opportunity: Opportunity,
    number: str,
    change: Change,
    classified: Classification,
    baseline: Baseline,
) -> dict[str, str]:
    """The change request document's placeholders, filled."""
    return {
        "customer": opportunity.account.name,
        "sow_number": opportunity.sow_number or "",
        "change": f"{number} ({classified.paper.value}): {change.description}",
        **impact(baseline, change),
    }


# --- the record of a change request, and its re-baseline ------------------------------------------

_RECORD = re.compile(r"<!-- psflow:change=([A-Za-z0-9_=-]+) -->")


class Recorded(_Frozen):
    """A change request as its GitLab issue keeps it, for the re-baseline its approval starts."""

    change: Change
    paper: Paper
    baseline: Baseline  # what it was measured against when classified
    scoped: Decimal  # the PS Engagement's scoped hours then

    def scoped_hours(self, new: Baseline) -> Decimal:
        """The scoped hours once applied: moved by what the change adds to or takes from the
        activities' estimates (the same however much of the change was applied before)."""
        return self.scoped + sum(new.activities.values()) - sum(self.baseline.activities.values())


def record_marker(change: Change, paper: Paper, baseline: Baseline, scoped: Decimal) -> str:
    """The change and its paper in the CR issue's text: an HTML comment GitLab does not show, its
    JSON in base64url (no text a person typed can end the comment).

    Example:
        >>> base = Baseline(budget=Decimal(1), end=date(2027, 3, 26), billing=Billing.FIXED_FEE,
        ...                 activities={})
        >>> marker = record_marker(Change(description="--> x"), Paper.WRITTEN_CONFIRMATION, base,
        ...                        Decimal(0))
        >>> recorded(f"text\\n{marker}").change.description
        '--> x'
    """
    record = Recorded(change=change, paper=paper, baseline=baseline, scoped=scoped)
    data = record.model_dump_json().encode()
    return f"<!-- psflow:change={base64.urlsafe_b64encode(data).decode('ascii')} -->"


def recorded(text: str) -> Recorded | None:
    """The change request a CR issue's text records, or None when it records none."""
    found = _RECORD.search(text)
    if found is None:
        return None
    return Recorded.model_validate_json(base64.urlsafe_b64decode(found[1]))


CHANGE_LOG = Table(
    "Change Log",
    ("Change", "Approved", "Paper", "Description", "Budget", "End", "Hours", "Approved by"),
)


def change_log_row(
    number: str, record: Recorded, new: Baseline, approved_on: date, approved_by: str
) -> list[object]:
    """The cost estimate's Change Log row of an approved change request (keyed by its number).

    Example:
        >>> new = Baseline(budget=Decimal(50000), end=date(2027, 4, 16), billing=Billing.FIXED_FEE,
        ...                activities={"PS-MIG": Decimal(80)})
        >>> record = Recorded(change=Change(description="three more weeks"),
        ...                   paper=Paper.WRITTEN_CONFIRMATION, baseline=new, scoped=Decimal(80))
        >>> change_log_row("CR-1", record, new, date(2027, 1, 22), "dana@acme.example")[:4]
        ['CR-1', '2027-01-22', 'written confirmation', 'three more weeks']
    """
    return [
        number,
        approved_on.isoformat(),
        record.paper.value,
        record.change.description,
        float(new.budget),
        new.end.isoformat(),
        float(sum(new.activities.values())),
        approved_by,
    ]


def baseline_text(old: Baseline, new: Baseline) -> list[str]:
    """The new baseline against the old one, a line per figure, as people read it.

    Example:
        >>> old = Baseline(budget=Decimal(50000), end=date(2027, 3, 26), billing=Billing.FIXED_FEE,
        ...                activities={"PS-MIG": Decimal(80)})
        >>> baseline_text(old, old.model_copy(update={"end": date(2027, 4, 16)}))[1]
        'End: 2027-03-26 → 2027-04-16 (+21 days)'
    """
    days = (new.end - old.end).days
    hours = sum(new.activities.values()), sum(old.activities.values())
    return [
        f"Budget: {old.budget} → {new.budget}"
        if new.budget != old.budget
        else f"Budget: {new.budget} (unchanged)",
        f"End: {old.end} → {new.end} ({days:+} days)" if days else f"End: {new.end} (unchanged)",
        f"Billing: {old.billing} → {new.billing}"
        if new.billing != old.billing
        else f"Billing: {new.billing} (unchanged)",
        f"Hours: {hours[1]} → {hours[0]}"
        if hours[0] != hours[1]
        else f"Hours: {hours[0]} (unchanged)",
        "Activities: " + ", ".join(f"{code} {h}" for code, h in new.activities.items()),
    ]


_APPROVED_BY = "**Approved by the customer**: "


def approval_note(sender: str, received: datetime, text: str) -> str:
    """The customer's approval as noted on the CR issue: who, when (in the customer's time zone,
    as `received` is given), and their reply quoted.

    Example:
        >>> note = approval_note("dana@acme.example", datetime(2027, 1, 22, 9, 30), "Accepted")
        >>> note.splitlines()[0], approver_of(note)
        ('**Approved by the customer**: dana@acme.example, 2027-01-22 09:30.', 'dana@acme.example')
    """
    when = f"{received:%Y-%m-%d %H:%M %Z}".strip()
    quoted = (f"> {line}" for line in text.strip().splitlines()[:40])
    return "\n".join([f"{_APPROVED_BY}{sender}, {when}.", "", *quoted])


def approver_of(note: str) -> str:
    """Who approved, as `approval_note` wrote it."""
    first = note.splitlines()[0] if note else ""
    return first.removeprefix(_APPROVED_BY).partition(",")[0].strip() or "the customer"
