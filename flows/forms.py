"""What the forms a run waits on share."""

from __future__ import annotations

from typing import Any, TypeVar

from prefect import get_run_logger
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput
from pydantic import create_model
from pydantic.fields import FieldInfo

Form = TypeVar("Form", bound=RunInput)

# What a run waiting at a form waits for, by its key's start (a rejected proposal asks again at
# "staffing-decision-2", a refused answer at "...-again-1"): the run's log says it, as does
# `psflow status`.
WAITS_FOR = {
    "staffing-decision": "the PS Project Coordinator's staffing approval (form in the UI)",
    "plan-allocation": "the PS Project Coordinator's confirmation of the team (form in the UI)",
    "kickoff-held": "the Project Owner's word that the kickoff was held (form in the UI)",
    "status-review": "the Project Owner's review of the weekly report (form in the UI)",
    "change-approval": "the engagement manager's approval of the change (form in the UI)",
    "acceptance": "the Project Owner's answer to the customer's reply (form in the UI)",
    "closeout-approval": "the Project Owner's approval of the closeout report (form in the UI)",
    "billing-done": "the PS Project Coordinator's word that billing is done (form in the UI)",
}


def awaited(key: str) -> str | None:
    return next((what for start, what in WAITS_FOR.items() if key.startswith(start)), None)


def ask(form: type[Form], key: str, hours: float) -> Form:
    """Suspend the run until a person answers `form` in the UI (Resume) or `hours` pass (the run
    then fails). Its process exits meanwhile, so the wait survives a restart of the server or the
    worker. The run's log, the first thing its page shows, says what it waits for."""
    get_run_logger().info(
        "Asks for %s: press Resume to answer; unanswered after %g h, the run fails.",
        awaited(key) or "an answer (form in the UI)",
        hours,
    )
    return suspend_flow_run(wait_for_input=form, timeout=round(hours * 3600), key=key)


def with_defaults(form: type[Form], description: str, **defaults: Any) -> type[Form]:
    """`form` as the UI shows it: `description` above it, `defaults` in its fields. Prefect's own
    `with_initial_data` rebuilds a field from its bare type, dropping its description and what the
    server checks an answer against (a date's pattern): here each field stays as declared."""
    fields: dict[str, Any] = {
        name: (
            form.model_fields[name].annotation,
            FieldInfo.merge_field_infos(
                form.model_fields[name], default=value, default_factory=None
            ),
        )
        for name, value in defaults.items()
    }
    shown = create_model(form.__name__, __base__=form, **fields)
    return shown.with_initial_data(description=description)
