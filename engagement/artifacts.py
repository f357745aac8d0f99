"""What a phase made or found in the outside systems: the rows of its summary in the Prefect UI."""

from __future__ import annotations

import re

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
        """A row of the phase's table artifact. The UI renders each cell as markdown: the name is
        the link a person clicks (the bare URL follows, for whoever reads the data)."""
        name = markdown_text(self.name)
        return {
            "system": self.system,
            "object": self.kind,
            "name": f"[{name}]({self.url})" if self.url else name,
            "this run": "created" if self.created else "already existed",
            "link": self.url or "",
        }


_MARKDOWN = re.compile(r"([\\`*_\[\]()<>|#!~])")


def markdown_text(text: str) -> str:
    r"""`text` shown literally where markdown is rendered: its markup characters escaped.

    >>> markdown_text("Acme *CI/CD* [phase 2]")
    'Acme \\*CI/CD\\* \\[phase 2\\]'
    """
    return _MARKDOWN.sub(r"\\\1", text)
