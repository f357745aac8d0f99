"""Deploy & Close, pure: the financial wrap-up, explained.

The handbook (PROCESS.md, Deploy & Close): estimated vs actual hours, budget vs cost, margin
against the 40% target. psflow's choices where it leaves one (change them only with a reason in a
note):
- estimated hours are the Plan tab's per activity (the cost estimate's, as approved change
  requests moved them); actual hours are Kantata's time entries, an entry on no activity's task
  counted apart ("other");
- the budget is the PS Engagement's as it stands: the SOW amount plus approved change orders;
- cost is each time entry's hours times its person's cost rate in Kantata (the rate of the day it
  was logged, as Kantata keeps it on the entry); hours without a cost rate are an error naming
  the people, never a cost of zero;
- margin is (budget - cost) / budget, flagged below the 40% target;
- revenue recognised so far: a fixed fee's billing milestones released; time and materials, the
  billable hours at the SOW's rate (its amount over its scoped hours).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import BaseModel, ConfigDict

from engagement.execute import Logged
from engagement.models import Billing, Opportunity
from engagement.validate import sent_note

TARGET_MARGIN = Decimal("0.40")  # the handbook's target
# The PS Engagement is set to Completed "only when its required fields are filled": the org's
# validation rule refuses the save otherwise; psflow checks the same fields before any write
COMPLETION_REQUIRES = (
    "Actual_Start__c",
    "Completed__c",
    "Sign_Off_Date__c",
    "Signed_Acceptance__c",
    "Hours_Consumed__c",
    "Project_Owner__c",
)
OTHER = "other"  # hours logged on no activity's task
# The sign-off issue's state without a passive clock (the SOW has no such language): it waits for
# the customer's "accepted" only; with one it is labelled validate.REQUESTED, the clock's list
AWAITING = "Acceptance::Awaiting"
CENT = Decimal("0.01")


class MissingCostRate(ValueError):
    """People with hours on the engagement and no cost rate in Kantata."""

    def __init__(self, people: Iterable[str]) -> None:
        self.people = sorted(people)
        super().__init__(
            "Kantata: no cost rate for " + ", ".join(self.people) + " on their time entries "
            "(cost_rates of their account membership): the wrap-up's cost would be wrong"
        )


class NothingLogged(ValueError):
    """No hours on the engagement's project: there is nothing to wrap up (or the hours are
    logged elsewhere)."""

    def __init__(self, project: str) -> None:
        super().__init__(
            f"Kantata: no time entries on project {project}: the wrap-up has no actual hours "
            "(were they logged on another project?)"
        )


class ActivityHours(BaseModel):
    model_config = ConfigDict(frozen=True)

    activity: str  # its code, or OTHER
    estimated: Decimal
    actual: Decimal

    @property
    def variance(self) -> Decimal:
        """Actual over estimate (positive: more hours than estimated)."""
        return self.actual - self.estimated


class WrapUp(BaseModel):
    """The engagement's financial wrap-up, every figure from the inputs it names."""

    model_config = ConfigDict(frozen=True)

    currency: str
    billing: Billing
    activities: tuple[ActivityHours, ...]
    budget: Decimal
    cost: Decimal
    revenue: Decimal  # recognised so far

    @property
    def estimated(self) -> Decimal:
        return sum((a.estimated for a in self.activities), Decimal(0))

    @property
    def actual(self) -> Decimal:
        return sum((a.actual for a in self.activities), Decimal(0))

    @property
    def margin(self) -> Decimal:
        """(budget - cost) / budget, to four places (a ratio: 0.4 is 40%)."""
        if self.budget <= 0:
            return Decimal(0)
        return ((self.budget - self.cost) / self.budget).quantize(Decimal("0.0001"))

    @property
    def below_target(self) -> bool:
        return self.margin < TARGET_MARGIN

    def explained(self) -> list[str]:
        """The figures in words, as the closeout report and the run's artifact say them.

        Example:
            >>> wrap = WrapUp(currency="USD", billing=Billing.FIXED_FEE, budget=Decimal(1000),
            ...     cost=Decimal(700), revenue=Decimal(1000), activities=(ActivityHours(
            ...     activity="PS-A", estimated=Decimal(10), actual=Decimal(12)),))
            >>> print("\\n".join(wrap.explained()))
            Hours: 12 actual against 10 estimated (+2, +20.0%).
            - PS-A: 12 of 10 (+2)
            Budget 1,000.00 USD, cost 700.00 USD: margin 30.0%, BELOW the 40% target.
            Revenue recognised: 1,000.00 USD (fixed fee: the accepted milestones' shares).
        """
        lines = [
            f"Hours: {_hours(self.actual)} actual against {_hours(self.estimated)} estimated "
            f"({_signed(self.actual - self.estimated)}{_percent_of(self.actual, self.estimated)})."
        ]
        lines += [
            f"- {a.activity}: {_hours(a.actual)} of {_hours(a.estimated)} ({_signed(a.variance)})"
            for a in self.activities
        ]
        verdict = "BELOW" if self.below_target else "meets"
        lines.append(
            f"Budget {_money(self.budget)} {self.currency}, cost {_money(self.cost)} "
            f"{self.currency}: margin {self.margin * 100:.1f}%, {verdict} the "
            f"{TARGET_MARGIN * 100:.0f}% target."
        )
        how = (
            "fixed fee: the accepted milestones' shares"
            if self.billing is Billing.FIXED_FEE
            else "time and materials: the hours at the SOW's rate"
        )
        lines.append(f"Revenue recognised: {_money(self.revenue)} {self.currency} ({how}).")
        return lines


def wrap_up(
    *,
    currency: str,
    billing: Billing,
    estimates: Mapping[str, Decimal],
    logged: Iterable[Logged],
    activity_of_task: Mapping[str, str],
    budget: Decimal,
    scoped_hours: Decimal,
    billed: Iterable[Decimal] = (),
) -> WrapUp:
    """The wrap-up from what Close reads: the Plan tab's `estimates` per activity, the time
    entries (`logged`, each with its cost rate) and the activity of each task they were logged
    on, the budget and scoped hours as they stand, and a fixed fee's billing milestones.

    Raises:
        MissingCostRate: someone logged hours and has no cost rate.
    """
    entries = list(logged)
    missing = {e.person for e in entries if e.cost_rate is None}
    if missing:
        raise MissingCostRate(missing)
    actual: dict[str, Decimal] = {}
    for entry in entries:
        code = activity_of_task.get(entry.task_id or "", OTHER)
        actual[code] = actual.get(code, Decimal(0)) + entry.hours
    codes = [*estimates, *sorted(set(actual) - set(estimates))]
    activities = tuple(
        ActivityHours(
            activity=code,
            estimated=estimates.get(code, Decimal(0)),
            actual=actual.get(code, Decimal(0)),
        )
        for code in codes
    )
    cost = sum((e.hours * (e.cost_rate or 0) for e in entries), Decimal(0))
    if billing is Billing.FIXED_FEE:
        revenue = sum(billed, Decimal(0))
    else:  # the hours billed at the SOW's rate
        hours = sum((e.hours for e in entries), Decimal(0))
        revenue = hours * budget / scoped_hours if scoped_hours > 0 else Decimal(0)
    return WrapUp(
        currency=currency,
        billing=billing,
        activities=activities,
        budget=budget,
        cost=cost.quantize(CENT, ROUND_HALF_EVEN),
        revenue=revenue.quantize(CENT, ROUND_HALF_EVEN),
    )


def completion_problems(values: Mapping[str, object]) -> list[str]:
    """What keeps the PS Engagement from Completed, once `values` are written: each required
    field left empty (a checkbox unchecked), by its Salesforce name.

    Example:
        >>> completion_problems({"Actual_Start__c": "2027-01-04", "Signed_Acceptance__c": False})
        ... # doctest: +NORMALIZE_WHITESPACE
        ['Completed__c: empty', 'Sign_Off_Date__c: empty', 'Signed_Acceptance__c: unchecked',
         'Hours_Consumed__c: empty', 'Project_Owner__c: empty']
    """
    problems = []
    for name in COMPLETION_REQUIRES:
        value = values.get(name)
        if value is False:
            problems.append(f"{name}: unchecked")
        elif value in (None, ""):
            problems.append(f"{name}: empty")
    return problems


def _hours(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _signed(value: Decimal) -> str:
    return f"+{_hours(value)}" if value > 0 else _hours(value) if value < 0 else "±0"


def _percent_of(part: Decimal, whole: Decimal) -> str:
    if whole <= 0:
        return ""
    change = (part - whole) / whole * 100
    return f", {'+' if change > 0 else ''}{change:.1f}%"


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def sign_off_note(sent: datetime, to: str, deadline: datetime | None) -> str:
    """The sign-off issue's record of the request, as an activity's (`validate.sent_note`, which
    the clock reads back); without passive-acceptance language, no deadline.

    Example:
        >>> from datetime import UTC
        >>> print(sign_off_note(datetime(2027, 3, 1, 15, tzinfo=UTC), "dana@acme.example", None))
        Acceptance requested at 2027-03-01T15:00:00+00:00 from dana@acme.example (sign-off sent).
        No passive acceptance: the SOW has no such language; only the customer's reply signs off.
    """
    if deadline is not None:
        return sent_note(sent, to, deadline)
    return "\n".join(
        [
            f"Acceptance requested at {sent.isoformat()} from {to} (sign-off sent).",
            "No passive acceptance: the SOW has no such language; only the customer's reply "
            "signs off.",
        ]
    )


def closeout_values(
    opportunity: Opportunity,
    project_owner: str,
    wrap: WrapUp,
    deliverables: Mapping[str, str],
    sign_off: str,
    change_requests: Mapping[str, str],
) -> dict[str, str]:
    """The closeout report's placeholders (and the closure agenda's): the wrap-up in words, each
    deliverable with how and when it was accepted, the sign-off, the change requests. The lessons
    learned come later, from the Project Owner's form."""
    explained = wrap.explained()
    return {
        "customer": opportunity.account.name,
        "sow_number": opportunity.sow_number or "",
        "opportunity": opportunity.name,
        "project_owner": project_owner,
        "hours": explained[0],
        "activities": "; ".join(line.removeprefix("- ") for line in explained[1:-2]),
        "margin": explained[-2],
        "revenue": explained[-1],
        "deliverables": "; ".join(f"{code}: {how}" for code, how in deliverables.items()) or "none",
        "sign_off": sign_off,
        "change_requests": "; ".join(
            f"{number}: {what}" for number, what in change_requests.items()
        )
        or "none",
    }
