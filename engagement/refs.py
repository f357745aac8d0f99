"""References to what a phase made or found in the outside systems; their list is the phase's
summary in the Prefect UI (a Prefect table artifact, one row per reference)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Ref(BaseModel):
    """One object in an outside system, as a task found or created it: it always has an id."""

    model_config = ConfigDict(frozen=True)

    system: str  # "Google Drive", "Slack", ...
    kind: str  # the handbook's word: "cost estimate", "staffing proposal", ...
    name: str
    id: str  # what the system's API names it by: a file id, a project path, a message ts, ...
    url: str | None = None
    created: bool  # False when it already existed (a re-run, a retry)

    def __str__(self) -> str:  # as a task run's name shows it
        return self.name

    def row(self) -> dict[str, str]:
        """A row of the phase's table artifact. The UI renders each cell as markdown: the name is
        the link a person clicks (the bare URL follows, for whoever reads the data)."""
        name = link_text(self.name)
        return {
            "system": self.system,
            "object": self.kind,
            "name": f"[{name}]({self.url})" if self.url else name,
            "this run": "created" if self.created else "already existed",
            "link": self.url or "",
        }


def link_text(text: str) -> str:
    """`text` as the text of a markdown link: the UI's table shows a backslash escape as it is,
    so the brackets that would end the link become parentheses, and nothing else changes.

    >>> link_text("Acme [phase 2] (SOW-7)")
    'Acme (phase 2) (SOW-7)'
    """
    return text.replace("[", "(").replace("]", ")")
