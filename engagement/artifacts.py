"""What a phase made or found in the outside systems: the rows of its summary in the Prefect UI."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Artifact(BaseModel):
    """One object in an outside system, as a task found or created it."""

    model_config = ConfigDict(frozen=True)

    system: str  # "Google Drive", "Slack", ...
    kind: str  # the handbook's word: "cost estimate", "staffing proposal", ...
    name: str
    url: str | None = None
    id: str | None = None
    created: bool  # False when it already existed (a re-run, a retry)

    def row(self) -> dict[str, str]:
        """A row of the phase's table artifact."""
        return {
            "system": self.system,
            "object": self.kind,
            "name": self.name,
            "link": self.url or "",
            "this run": "created" if self.created else "already existed",
        }
