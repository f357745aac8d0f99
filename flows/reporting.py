"""What every phase shows a person in the Prefect UI: the objects it made or found, with links."""

from __future__ import annotations

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from engagement.artifacts import Artifact
from engagement.models import Opportunity


def publish_summary(
    phase: str, opportunity: Opportunity, made: list[Artifact], waiting: str
) -> None:
    """A table of every object with its link, created now or already there, and what comes next."""
    create_table_artifact(
        key=f"{phase}-{opportunity.id.lower()}",
        table=[artifact.row() for artifact in made],
        description=f"{phase} · {opportunity.account.name} · {opportunity.name}",
    )
    created = sum(artifact.created for artifact in made)
    create_markdown_artifact(
        key=f"{phase}-status-{opportunity.id.lower()}",
        markdown=(
            f"**{opportunity.name}** ({opportunity.account.name}), {phase}: {created} created, "
            f"{len(made) - created} already existed. Next: waiting for {waiting}."
        ),
    )
    get_run_logger().info(
        "%s: %d objects created, %d already existed", phase, created, len(made) - created
    )
