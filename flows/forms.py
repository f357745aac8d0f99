"""What the forms a run waits on share."""

from __future__ import annotations

from typing import Any, TypeVar

from prefect.input import RunInput
from pydantic import create_model
from pydantic.fields import FieldInfo

Form = TypeVar("Form", bound=RunInput)


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
