"""GitLab tasks: people looked up by e-mail; the customer group, the PS project, the customer epic,
issues, assignees and members, each made once per natural key.

Where psflow finds each object again (DESIGN.md, Idempotency):
- groups and projects by their deterministic full path (engagement/keys.py), one GET;
- epics and issues by the opportunity's label (a server-side filter, so one short page) and the
  natural key in an HTML comment in their description (`gitlab_key_marker`);
- an issue's epic, assignees and members by reading them before changing them.
So a retried or re-run phase writes only what is missing, even after a crash between a write and
its answer. Errors come out of `calling` as TransientError (retried) or PermanentError.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from gitlab.const import AccessLevel
from pydantic import BaseModel, ConfigDict

from engagement.execute import ProjectIssue
from engagement.keys import (
    GITLAB_KIND_LABELS,
    Key,
    Kind,
    find_key_marker,
    gitlab_epic_title,
    gitlab_group_name,
    gitlab_group_path,
    gitlab_key_marker,
    gitlab_labels,
    gitlab_project_name,
    gitlab_project_path,
    natural_key,
    parse_key,
)
from engagement.models import Opportunity, email_address
from engagement.refs import Ref
from engagement.slugs import one_line
from engagement.templates import Template, issue_description
from tasks.calls import PermanentError, calling, outside_task, read_task
from tasks.clients import systems
from tasks.docs import template_paragraphs

SYSTEM = "GitLab"
# psflow's retry policy (tasks/calls.py) owns retries: python-gitlab would otherwise wait out a
# 429 by itself up to 10 times per request, holding a worker and hiding the throttling.
NO_LIBRARY_RETRIES = {"obey_rate_limit": False, "retry_transient_errors": False}
GROUP_DESCRIPTION_MAX = 500  # GitLab refuses longer descriptions of a group,
PROJECT_DESCRIPTION_MAX = 2000  # and of a project


class GitLabUser(BaseModel):
    """A GitLab user as psflow needs one: to assign issues and add members."""

    model_config = ConfigDict(frozen=True)

    id: int
    username: str
    name: str


def _found(manager: Any, ref: str | int) -> Any | None:
    """`manager.get(ref)`, or None when GitLab answers 404 (the object does not exist)."""
    from gitlab.exceptions import GitlabGetError  # loaded with the client

    try:
        return manager.get(ref, **NO_LIBRARY_RETRIES)
    except GitlabGetError as error:
        if error.response_code == 404:
            return None
        raise


def _shows_address(user: dict[str, Any], address: str) -> bool:
    """Whether a user from `GET /users?search=<address>` is the one with that e-mail address.

    An admin token sees `email`: compare it. Other tokens (psflow's bot) see no e-mail at all;
    GitLab then matched the address either whole against the public e-mail, or as a fragment of a
    name or username (User.search), so a user whose name and username do not contain it is the one.
    """
    shown = [e.lower() for e in (user.get("email"), user.get("public_email")) if e]
    if shown:
        return address in shown
    return address not in user["name"].lower() and address not in user["username"].lower()


@read_task("find GitLab user {email}")
def find_user(email: str) -> GitLabUser | None:
    """The GitLab user with this e-mail address, or None (one request).

    A non-admin token (a group access token's bot, as on GitLab.com) finds people only by their
    PUBLIC e-mail, so the PS team shows its work address there; an admin token of a self-managed
    instance also finds private addresses.

    Raises:
        PermanentError: when `email` is not an e-mail address (nothing is asked of GitLab).
    """
    try:
        address = email_address(email).lower()
    except ValueError as error:
        raise PermanentError(SYSTEM, f"user with e-mail {email!r}", str(error)) from None
    with calling(SYSTEM, f"user with e-mail {address}"):
        users = (
            systems()
            .gitlab()
            .users.list(search=address, per_page=20, get_all=False, **NO_LIBRARY_RETRIES)
        )
    # e-mail addresses are unique in GitLab: at most one user carries it
    user = next((u for u in users if _shows_address(u.attributes, address)), None)
    return None if user is None else GitLabUser(id=user.id, username=user.username, name=user.name)


@outside_task("create GitLab group {account_name}")
def ensure_customer_group(account_id: str, account_name: str) -> Ref:
    """The customer's subgroup of the customers group (`PsflowSettings.customers_group`), created
    private if missing. Found by its full path, which the account id determines.

    Returns:
        A Ref whose id is the group's full path, e.g. "ps-customers/acme-corporation-1a2b3c4d".

    Raises:
        PermanentError: when the customers group does not exist or the token may not add to it.
    """
    from gitlab.exceptions import GitlabCreateError  # loaded with the client

    parent_path = systems().settings.customers_group
    path = gitlab_group_path(account_id, account_name)
    full_path = f"{parent_path}/{path}"
    groups = systems().gitlab().groups
    with calling(SYSTEM, f"customer group {full_path}"):
        group = _found(groups, full_path)
        created = group is None
        if group is None:
            with calling(SYSTEM, f"customers group {parent_path} (PsflowSettings.customers_group)"):
                parent = groups.get(parent_path, **NO_LIBRARY_RETRIES)
            name = one_line(account_name, GROUP_DESCRIPTION_MAX - 60)  # room for the rest
            data = {
                "name": gitlab_group_name(account_id, account_name),
                "path": path,
                "parent_id": parent.id,
                "visibility": "private",  # customer work; never the instance's default
                "description": f"PS engagements of {name} (Salesforce account {account_id})",
            }
            try:
                group = groups.create(data, **NO_LIBRARY_RETRIES)
            except GitlabCreateError as error:
                # Two engagements of one customer may start at once (concurrency is per
                # opportunity): the other run's group makes this create a 400 "taken".
                group = _found(groups, full_path) if error.response_code == 400 else None
                if group is None:
                    raise
                created = False
    return Ref(
        system=SYSTEM,
        kind="customer group",
        name=group.full_name,
        url=group.web_url,
        id=group.full_path,
        created=created,
    )


@outside_task("create GitLab project")
def ensure_project(group_full_path: str, opportunity: Opportunity) -> Ref:
    """The opportunity's PS project in the customer group, created private if missing. Found by
    its full path, which the opportunity id determines.

    Returns:
        A Ref whose id is the project's full path.

    Raises:
        PermanentError: when the group does not exist or the token may not create projects in it.
    """
    path = gitlab_project_path(opportunity.id, opportunity.name)
    full_path = f"{group_full_path}/{path}"
    gl = systems().gitlab()
    with calling(SYSTEM, f"project {full_path}"):
        project = _found(gl.projects, full_path)
        created = project is None
        if project is None:
            with calling(SYSTEM, f"group {group_full_path}"):
                group = gl.groups.get(group_full_path, **NO_LIBRARY_RETRIES)
            opportunity_ref = f"Salesforce opportunity {opportunity.id}"
            parts = (opportunity.sow_number, opportunity.name, opportunity_ref)
            data = {
                "name": gitlab_project_name(opportunity.id, opportunity.name),
                "path": path,
                "namespace_id": group.id,
                "visibility": "private",
                "description": one_line(
                    " · ".join(part for part in parts if part), PROJECT_DESCRIPTION_MAX
                ),
            }
            project = gl.projects.create(data, **NO_LIBRARY_RETRIES)
    return Ref(
        system=SYSTEM,
        kind="project",
        name=project.name_with_namespace,
        url=project.web_url,
        id=project.path_with_namespace,
        created=created,
    )


@outside_task("create customer epic")
def ensure_epic(group_full_path: str, opportunity: Opportunity) -> Ref:
    """The customer epic "<SOW#> <Customer>" of the opportunity in the customer group, created
    if missing. Found by the opportunity's label and the key marker in its description.

    Returns:
        A Ref whose id is the epic's reference, "<group full path>&<iid>".

    Raises:
        ValueError: when the opportunity has no SOW number (the epic is named after it).
        PermanentError: when the group does not exist or has no epics (a Premium feature).
    """
    kind = Kind.CUSTOMER_EPIC
    key = natural_key(kind, opportunity.id)
    labels = gitlab_labels(kind, opportunity.id)
    title = gitlab_epic_title(opportunity.sow_number or "", opportunity.account.name)
    # lazy: no request for the group itself; an unknown path fails the list below with a 404
    group = systems().gitlab().groups.get(group_full_path, lazy=True)
    with calling(SYSTEM, f"customer epic {key} in group {group_full_path}"):
        candidates = group.epics.list(
            labels=list(labels), iterator=True, per_page=100, **NO_LIBRARY_RETRIES
        )
        epic = next((e for e in candidates if find_key_marker(e.description) == key), None)
        created = epic is None
        if epic is None:
            description = (
                f"Customer epic of {opportunity.name} (Salesforce opportunity {opportunity.id})."
            )
            data = {
                "title": title,
                "description": f"{description}\n\n{gitlab_key_marker(key)}",
                "labels": ",".join(labels),
            }
            epic = group.epics.create(data, **NO_LIBRARY_RETRIES)
    return _numbered(kind, f"{group_full_path}&{epic.iid}", epic, created)


@outside_task("close the customer epic")
def ensure_epic_closed(group_full_path: str, opportunity_id: str) -> Ref | None:
    """The opportunity's customer epic closed, if it is open: one listing, a write when closed
    now. None when there is no such epic."""
    kind = Kind.CUSTOMER_EPIC
    key = natural_key(kind, opportunity_id)
    group = systems().gitlab().groups.get(group_full_path, lazy=True)
    with calling(SYSTEM, f"customer epic {key} in group {group_full_path}"):
        candidates = group.epics.list(
            labels=list(gitlab_labels(kind, opportunity_id)),
            iterator=True,
            per_page=100,
            **NO_LIBRARY_RETRIES,
        )
        epic = next((e for e in candidates if find_key_marker(e.description) == key), None)
        if epic is None:
            return None
        closed_now = epic.state != "closed"
        if closed_now:
            group.epics.update(epic.iid, {"state_event": "close"}, **NO_LIBRARY_RETRIES)
    return _numbered(kind, f"{group_full_path}&{epic.iid}", epic, closed_now)


def _epic(reference: str) -> Any:
    """The epic of a reference "<group full path>&<iid>" (its global id is what an issue is put
    in it by)."""
    group_full_path, _, iid = reference.rpartition("&")
    with calling(SYSTEM, f"epic {reference}"):
        group = systems().gitlab().groups.get(group_full_path, lazy=True)
        return group.epics.get(int(iid), **NO_LIBRARY_RETRIES)


def _keyed_issues(project_path: str, kind: Kind, opportunity_id: str) -> Iterator[Any]:
    """The issues carrying the labels of (kind, opportunity): one page of 100."""
    # lazy: no request for the project itself; an unknown path fails the list below with a 404
    project = systems().gitlab().projects.get(project_path, lazy=True)
    return project.issues.list(
        labels=list(gitlab_labels(kind, opportunity_id)),
        iterator=True,
        per_page=100,
        **NO_LIBRARY_RETRIES,
    )


def _find_issue(project_path: str, kind: Kind, key: str, opportunity_id: str) -> Any:
    """The issue carrying `key`, or None: one page filtered by the key's labels."""
    candidates = _keyed_issues(project_path, kind, opportunity_id)
    return next((i for i in candidates if find_key_marker(i.description) == key), None)


def _numbered(kind: Kind, reference: str, item: Any, created: bool) -> Ref:
    """An epic or issue as a Ref: its id is GitLab's reference to it ("group&iid", "project#iid")."""
    return Ref(
        system=SYSTEM,
        kind=kind.value.replace("-", " "),
        name=f"{reference} {item.title}",
        url=item.web_url,
        id=reference,
        created=created,
    )


@read_task("find {kind}")
def find_issue(
    project_path: str,
    kind: Kind,
    opportunity_id: str,
    part: str | None = None,
    in_an_epic: bool = False,
) -> Ref | None:
    """The issue of (kind, opportunity, part) in the project, or None: when it is missing, or
    (`in_an_epic`) in no epic, which `ensure_issue` then makes or repairs. One request.

    For an issue whose text costs reads to make (a template): found first, it is not needed."""
    key = natural_key(kind, opportunity_id, part)
    with calling(SYSTEM, f"{kind.value} issue {key} in project {project_path}"):
        issue = _find_issue(project_path, kind, key, opportunity_id)
    if issue is None or (in_an_epic and not issue.attributes.get("epic")):
        return None
    return _numbered(kind, f"{project_path}#{issue.iid}", issue, created=False)


def _by_part(project_path: str, kind: Kind, opportunity_id: str) -> dict[str, Any]:
    """The issues of (kind, opportunity), by their part (e.g. "CR-2"): one listing."""
    prefix = natural_key(kind, opportunity_id) + ":"
    with calling(SYSTEM, f"{kind.value} issues of {opportunity_id} in project {project_path}"):
        return {
            key.removeprefix(prefix): issue
            for issue in _keyed_issues(project_path, kind, opportunity_id)
            if (key := find_key_marker(issue.description) or "").startswith(prefix)
        }


@read_task("find the {kind}s")
def find_issue_parts(project_path: str, kind: Kind, opportunity_id: str) -> dict[str, str]:
    """The description of each issue of (kind, opportunity), by its part: one listing."""
    issues = _by_part(project_path, kind, opportunity_id)
    return {part: str(issue.description or "") for part, issue in issues.items()}


@read_task("read the labels of the {kind}s")
def find_issue_labels_by_part(
    project_path: str, kind: Kind, opportunity_id: str
) -> dict[str, tuple[str, ...]]:
    """The labels of each issue of (kind, opportunity), by its part: one listing."""
    issues = _by_part(project_path, kind, opportunity_id)
    return {part: tuple(issue.labels) for part, issue in issues.items()}


@read_task("find the open {kind}s")
def find_open_parts(project_path: str, kind: Kind, opportunity_id: str) -> list[str]:
    """The parts of the issues of (kind, opportunity) that are open (e.g. an activity reopened
    after its acceptance): one listing."""
    issues = _by_part(project_path, kind, opportunity_id)
    return sorted(part for part, issue in issues.items() if issue.state != "closed")


@read_task("read labels of the {kind}")
def find_issue_labels(
    project_path: str, kind: Kind, opportunity_id: str, part: str | None = None
) -> tuple[str, ...] | None:
    """The labels of the issue of (kind, opportunity, part), or None when there is no such issue
    (e.g. a reviewer's approval label on the TA review). One request."""
    key = natural_key(kind, opportunity_id, part)
    with calling(SYSTEM, f"{kind.value} issue {key} in project {project_path}"):
        issue = _find_issue(project_path, kind, key, opportunity_id)
    return None if issue is None else tuple(issue.labels)


@outside_task("close the {kind}")
def ensure_issue_closed(
    project_path: str, kind: Kind, opportunity_id: str, part: str | None = None
) -> Ref | None:
    """The issue of (kind, opportunity, part) closed, if there is one and it is open.

    Returns:
        The issue (`created` True when it was closed now), or None when there is none.
    """
    key = natural_key(kind, opportunity_id, part)
    with calling(SYSTEM, f"{kind.value} issue {key} in project {project_path}"):
        issue = _find_issue(project_path, kind, key, opportunity_id)
        if issue is None:
            return None
        closed_now = issue.state != "closed"
        if closed_now:
            issue.state_event = "close"
            issue.save(**NO_LIBRARY_RETRIES)
    return _numbered(kind, f"{project_path}#{issue.iid}", issue, created=closed_now)


@outside_task("set the due dates of the {kind}s")
def ensure_issue_due_dates(
    project_path: str,
    kind: Kind,
    opportunity_id: str,
    due: Mapping[str, date],
    moved: bool = False,
) -> list[Ref]:
    """The plan's due date on each issue of (kind, opportunity, part) for `due`'s parts, where it
    has none: a date a person set is theirs, unless the plan `moved` (an approved change request
    re-dates them all). One listing, a write per issue dated now; a part with no issue is left
    out.

    Returns:
        The issues found (`created` True where the due date was written now).
    """
    keys = {natural_key(kind, opportunity_id, part): part for part in due}
    with calling(SYSTEM, f"{kind.value} issues of {opportunity_id} in project {project_path}"):
        found = []
        for issue in _keyed_issues(project_path, kind, opportunity_id):
            part = keys.get(find_key_marker(issue.description) or "")
            if part is None:
                continue
            held = issue.attributes.get("due_date")
            written = not held or (moved and held != due[part].isoformat())
            if written:
                issue.due_date = due[part].isoformat()
                issue.save(**NO_LIBRARY_RETRIES)
            found.append(_numbered(kind, f"{project_path}#{issue.iid}", issue, created=written))
    return found


def _keyed_note(issue: Any, key: str) -> Any | None:
    notes = issue.notes.list(iterator=True, per_page=100, **NO_LIBRARY_RETRIES)
    return next((n for n in notes if find_key_marker(n.body) == key), None)


@read_task("find the {note} on the {kind}")
def find_issue_note(
    project_path: str, kind: Kind, opportunity_id: str, part: str | None, note: Kind
) -> str | None:
    """The text of psflow's note `note` on the issue of (kind, opportunity, part), or None (when
    the note or the issue is missing). Two requests."""
    key = natural_key(kind, opportunity_id, part)
    with calling(SYSTEM, f"{note.value} note on issue {key} in project {project_path}"):
        issue = _find_issue(project_path, kind, key, opportunity_id)
        found = (
            None if issue is None else _keyed_note(issue, natural_key(note, opportunity_id, part))
        )
    return None if found is None else str(found.body)


@outside_task("note the {note} on the {kind}")
def ensure_issue_note(
    project_path: str,
    kind: Kind,
    opportunity_id: str,
    part: str | None,
    note: Kind,
    body: str,
    note_part: str | None = None,
) -> Ref:
    """psflow's note `note` (keyed by (note, opportunity, note_part or part)) on the issue of
    (kind, opportunity, part), added when missing, e.g. the customer's written confirmation of a
    change request; `note_part` tells apart several notes of one kind (an answer's id). Two
    reads, a write when added.

    Raises:
        PermanentError: when the issue does not exist.
    """
    key = natural_key(kind, opportunity_id, part)
    note_key = natural_key(note, opportunity_id, note_part or part)
    with calling(SYSTEM, f"{note.value} note on issue {key} in project {project_path}"):
        issue = _find_issue(project_path, kind, key, opportunity_id)
        if issue is None:
            raise PermanentError(SYSTEM, f"issue {key} in project {project_path}", "not found")
        found = _keyed_note(issue, note_key)
        created = found is None
        if found is None:
            text = f"{body}\n\n{gitlab_key_marker(note_key)}"
            found = issue.notes.create({"body": text}, **NO_LIBRARY_RETRIES)
    return Ref(
        system=SYSTEM,
        kind=note.value.replace("-", " "),
        name=f"{project_path}#{issue.iid} note",
        url=f"{issue.web_url}#note_{found.id}",
        id=str(found.id),
        created=created,
    )


class KeyedIssue(BaseModel):
    """An issue psflow filed, found by a listing: what it keys, where it is, its state."""

    model_config = ConfigDict(frozen=True)

    key: Key
    project: str  # the project's full path
    labels: tuple[str, ...]
    closed: bool


def _keyed(issue: Any) -> KeyedIssue | None:
    try:
        key = parse_key(find_key_marker(issue.description) or "")
    except ValueError:
        return None  # an issue a person filed with psflow's labels
    project, _, _ = issue.references["full"].rpartition("#")
    return KeyedIssue(
        key=key, project=project, labels=tuple(issue.labels), closed=issue.state == "closed"
    )


@read_task("find the {kind}s {state} since {since}")
def find_keyed_issues(
    group_path: str,
    kind: Kind,
    state: str = "all",
    since: datetime | None = None,
    label: str | None = None,
) -> list[KeyedIssue]:
    """psflow's issues of `kind` anywhere under the group (the customers' group): one listing,
    filtered by state ("opened", "closed", "all"), by an update since `since`, by a `label`."""
    labels = [GITLAB_KIND_LABELS[kind], *([label] if label else [])]
    params: dict[str, Any] = {"labels": labels, "state": state, "scope": "all"}
    if since is not None:
        params["updated_after"] = since.astimezone(UTC).isoformat()
    with calling(SYSTEM, f"{kind.value} issues in group {group_path}"):
        group = systems().gitlab().groups.get(group_path, lazy=True)
        listed = group.issues.list(iterator=True, per_page=100, **params, **NO_LIBRARY_RETRIES)
        return [found for issue in listed if (found := _keyed(issue)) is not None]


@outside_task("label the {kind} {add}")
def ensure_issue_labels(
    project_path: str,
    kind: Kind,
    opportunity_id: str,
    part: str | None,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> bool:
    """The issue of (kind, opportunity, part) labelled `add` and not `remove` (a scoped label
    replaces its scope's other one), written only when it differs. True when GitLab was written.

    Raises:
        PermanentError: when the issue does not exist.
    """
    key = natural_key(kind, opportunity_id, part)
    with calling(SYSTEM, f"{kind.value} issue {key} in project {project_path}"):
        issue = _find_issue(project_path, kind, key, opportunity_id)
        if issue is None:
            raise PermanentError(SYSTEM, f"issue {key} in project {project_path}", "not found")
        missing = [label for label in add if label not in issue.labels]
        extra = [label for label in remove if label in issue.labels]
        if missing or extra:
            project = systems().gitlab().projects.get(project_path, lazy=True)
            edit = {"add_labels": ",".join(missing), "remove_labels": ",".join(extra)}
            project.issues.update(issue.iid, {k: v for k, v in edit.items() if v})
    return bool(missing or extra)


def project_path(url: str) -> str:
    """A project's full path from its web URL (the PS Engagement's Collaboration Project link),
    without a request.

    Raises:
        PermanentError: the URL is not a project on the configured GitLab.
    """
    base = systems().gitlab().url.rstrip("/") + "/"
    path = url.removeprefix(base).strip("/")
    if not url.startswith(base) or path.count("/") < 1:
        raise PermanentError(SYSTEM, f"project {url}", f"not a project on {base}")
    return path


@outside_task("create {kind}: {title}")
def ensure_issue(
    project_path: str,
    kind: Kind,
    opportunity_id: str,
    title: str,
    description: str | Template,
    labels: Sequence[str] = (),
    part: str | None = None,
    epic: str | None = None,
    assignee_ids: Sequence[int] = (),
) -> Ref:
    """The issue of (kind, opportunity, part) in the project `project_path`, created if missing.

    Args:
        project_path: the project's full path, e.g. "ps-customers/ps-planning".
        description: the text, or a template document read only when the issue is missing
            (`engagement.templates.issue_description`).
        labels: more labels besides the opportunity's and the kind's (which win a shared scope).
        part: tells apart several issues of one kind and opportunity (an activity code...).
        epic: the epic's reference, "<group full path>&<iid>" (`ensure_epic`'s id): the issue is
            created in that epic; an issue found in no epic is added to it (once: a re-run sees
            it there). An issue someone moved to another epic stays where they put it.
        assignee_ids: who a NEW issue is assigned to; a found issue keeps its assignees (people
            may have handed it on).

    Raises:
        PermanentError: when the project or the epic does not exist, or the token may not file
            issues in it.
    """
    key = natural_key(kind, opportunity_id, part)
    key_labels = gitlab_labels(kind, opportunity_id)
    with calling(SYSTEM, f"{kind.value} issue {key} in project {project_path}"):
        issue = _find_issue(project_path, kind, key, opportunity_id)
        created = issue is None
        if issue is None:
            if isinstance(description, Template):
                paragraphs = template_paragraphs(description.key)
                description = issue_description(paragraphs, description.values)
            data: dict[str, Any] = {
                "title": title,
                "description": f"{description}\n\n{gitlab_key_marker(key)}",
                # later labels win a scope, so the key labels come last
                "labels": ",".join(dict.fromkeys([*labels, *key_labels])),
            }
            if assignee_ids:
                data["assignee_ids"] = list(assignee_ids)
            if epic is not None:  # in the same request: no window where it is outside the epic
                data["epic_id"] = _epic(epic).id
            project = systems().gitlab().projects.get(project_path, lazy=True)
            issue = project.issues.create(data, **NO_LIBRARY_RETRIES)
        elif epic is not None and not issue.attributes.get("epic"):
            in_epic = _epic(epic)
            with calling(SYSTEM, f"adding issue {project_path}#{issue.iid} to epic {epic}"):
                in_epic.issues.create({"issue_id": issue.id}, **NO_LIBRARY_RETRIES)
    return _numbered(kind, f"{project_path}#{issue.iid}", issue, created)


@outside_task("add GitLab project member {user_id}")
def ensure_project_member(
    project_full_path: str, user_id: int, access_level: AccessLevel = AccessLevel.MAINTAINER
) -> bool:
    """Give the user at least `access_level` on the project (a maintainer unless told); True when
    that took a write. A membership inherited from a group at that level or above is enough.

    Raises:
        PermanentError: when the project or the user does not exist, or the token may not manage
            the project's members.
    """
    gl = systems().gitlab()
    with calling(SYSTEM, f"membership of user {user_id} in project {project_full_path}"):
        project = gl.projects.get(project_full_path, lazy=True)  # its path names it: no request
        member = _found(project.members_all, user_id)  # highest level, inherited included
        if member is not None and member.access_level >= access_level:
            return False
        direct = _found(project.members, user_id) if member is not None else None
        if direct is None:  # a project membership may rise above an inherited one
            data = {"user_id": user_id, "access_level": int(access_level)}
            project.members.create(data, **NO_LIBRARY_RETRIES)
        else:
            direct.access_level = int(access_level)
            direct.save(**NO_LIBRARY_RETRIES)
    return True


@read_task("read the open issues of project {project_path}")
def get_open_issues(project_path: str) -> tuple[ProjectIssue, ...]:
    """Every open issue of the project, its title and labels: pages of 100."""
    with calling(SYSTEM, f"open issues of project {project_path}"):
        project = systems().gitlab().projects.get(project_path, lazy=True)
        found = project.issues.list(
            state="opened", iterator=True, per_page=100, **NO_LIBRARY_RETRIES
        )
        return tuple(
            ProjectIssue(title=issue.title, labels=tuple(issue.labels), url=issue.web_url)
            for issue in found
        )
