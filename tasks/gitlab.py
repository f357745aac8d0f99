"""GitLab tasks: issues psflow files once per natural key.

An issue psflow creates carries the opportunity's label and its kind's label (engagement/keys.py,
`gitlab_labels`) and, in its description, an HTML comment with its natural key. Before creating one,
`ensure_issue` lists the project's issues with those labels (a server-side filter, so one short
page) and looks for the key, so a retried or re-run phase files nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from engagement.artifacts import Artifact
from engagement.keys import (
    ArtifactKind,
    find_key_marker,
    gitlab_key_marker,
    gitlab_labels,
    natural_key,
)
from tasks.calls import calling, outside_task
from tasks.clients import gitlab_client

SYSTEM = "GitLab"
# psflow's retry policy (tasks/calls.py) owns retries: python-gitlab would otherwise wait out a
# 429 by itself up to 10 times per request, holding a worker and hiding the throttling.
NO_LIBRARY_RETRIES = {"obey_rate_limit": False, "retry_transient_errors": False}


@outside_task
def ensure_issue(
    project_path: str,
    kind: ArtifactKind,
    opportunity_id: str,
    title: str,
    description: str,
    labels: Sequence[str] = (),
    part: str | None = None,
) -> Artifact:
    """The issue of (kind, opportunity, part) in the project `project_path`, created if missing.

    Args:
        project_path: the project's full path, e.g. "ps-customers/ps-planning".
        labels: more labels besides the opportunity's and the kind's (which win a shared scope).
        part: tells apart several issues of one kind and opportunity (an activity code...).

    Raises:
        PermanentError: when the project does not exist or the token may not file issues in it.
    """
    key = natural_key(kind, opportunity_id, part)
    key_labels = gitlab_labels(kind, opportunity_id)
    # lazy: no request for the project itself; an unknown path fails the list below with a 404
    project = gitlab_client().projects.get(project_path, lazy=True)
    with calling(SYSTEM, f"{kind.value} issue {key} in project {project_path}"):
        candidates = project.issues.list(
            labels=list(key_labels), iterator=True, per_page=100, **NO_LIBRARY_RETRIES
        )
        issue = next((i for i in candidates if find_key_marker(i.description) == key), None)
        created = issue is None
        if issue is None:
            data = {
                "title": title,
                "description": f"{description}\n\n{gitlab_key_marker(key)}",
                # later labels win a scope, so the key labels come last
                "labels": ",".join(dict.fromkeys([*labels, *key_labels])),
            }
            issue = project.issues.create(data, **NO_LIBRARY_RETRIES)
    return Artifact(
        system=SYSTEM,
        kind=kind.value.replace("-", " "),
        name=f"{project_path}#{issue.iid} {issue.title}",
        url=issue.web_url,
        id=str(issue.iid),
        created=created,
    )
