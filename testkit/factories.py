"""Opportunities for the tests and the benchmarks, from one default with keyword overrides: in the
sandbox (`opportunities`, `new_opportunity`), through its control API, with fresh ids, so Prefect
has seen no event about them.
"""

from __future__ import annotations

from typing import Any

from sandbox.client import SandboxClient


def opportunities(
    sandbox: SandboxClient,
    count: int = 1,
    amount: float | None = 75_000,
    stage: str | None = None,
    imported: bool = False,
    details: bool = True,
) -> list[str]:
    """`count` fresh opportunities in the sandbox, across its seeded accounts in turn (Acme first,
    then Globex, …): ready for the phases (contacts and SOW activities) unless not `details`, of
    `amount` each (None: the sandbox's own amounts), in `stage` (None: 4-Proposal). `imported`:
    created a week ago without a stage-history row, as a data import does, so the stage watcher
    sees no move and starts nothing for them."""
    arguments: dict[str, Any] = {"count": count, "details": details}
    if stage is not None:
        arguments["stage"] = stage
    if imported:
        arguments["created_days_ago"] = 7
    created = [str(i) for i in sandbox.act("salesforce", "/opportunities/bulk", **arguments)["ids"]]
    if amount is not None:
        for opportunity in created:
            sandbox.edit("salesforce", f"/sobjects/Opportunity/{opportunity}", Amount=amount)
    return created


def new_opportunity(sandbox: SandboxClient, amount: float = 75_000) -> str:
    """A fresh opportunity of Acme's in 4-Proposal (ids are never reused, so Prefect has seen no
    event about it); 75,000 is over $50k: a TA review."""
    (opportunity,) = opportunities(sandbox, amount=amount)
    return opportunity
