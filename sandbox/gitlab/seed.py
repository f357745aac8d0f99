"""GitLab's part of the demo organisation: the PS people as users, the bot behind psflow's token,
the customers group with the PS labels, and Acme's earlier engagement (project, closed epic and
closed issues), so an existing customer looks like one."""

from __future__ import annotations

from sandbox import seed as demo
from sandbox.core import Json, Sandbox
from sandbox.gitlab.model import OWNER, new_id, put, slug, table

BOT_USERNAME = "psflow-bot"
DEVELOPER, MAINTAINER = 30, 40


def _at(offset_days: int, hour: int = 14) -> str:
    return f"{demo.day(offset_days).isoformat()}T{hour:02d}:00:00.000Z"


def _user(sb: Sandbox, username: str, name: str, email: str, title: str, bot: bool) -> Json:
    # People show their work address as their public e-mail (a PS onboarding step): it is what a
    # non-admin token such as psflow's can search users by. A bot user has none.
    return put(
        sb,
        "user",
        {
            "id": new_id(sb, "user"),
            "username": username,
            "name": name,
            "email": email,
            "public_email": None if bot else email,
            "job_title": title,
            "bot": bot,
            "namespace_id": new_id(sb, "namespace"),  # every user has a personal namespace
            "created_at": _at(-900),
        },
    )


def ensure_bot(sb: Sandbox) -> Json:
    """The user behind psflow's token (a project or group access token's bot user)."""
    bot = next((u for u in table(sb, "user").values() if u["username"] == BOT_USERNAME), None)
    if bot is None:
        bot = _user(
            sb, BOT_USERNAME, "psflow automation", f"psflow-bot@{demo.DOMAIN}", "Automation", True
        )
    return bot


def _group(sb: Sandbox, name: str, path: str, parent_id: int | None, created: str) -> Json:
    group = {
        "id": new_id(sb, "namespace"),
        "name": name,
        "path": path,
        "description": "",
        "visibility": "private",
        "parent_id": parent_id,
        "created_at": created,
    }
    return put(sb, "group", group)


def _member(sb: Sandbox, source: str, source_id: int, user_id: int, level: int) -> None:
    member = {
        "id": new_id(sb, "member"),
        "source": source,
        "source_id": source_id,
        "user_id": user_id,
        "access_level": level,
        "expires_at": None,
        "created_at": _at(-800),
    }
    put(sb, "member", member)


def seed(sb: Sandbox) -> None:
    bot = ensure_bot(sb)
    users = {
        p.key: _user(sb, p.key, p.name, p.email, p.title, False) for p in (*demo.STAFF, *demo.PSES)
    }

    customers = _group(sb, "PS Customers", demo.CUSTOMERS_GROUP, None, _at(-800))
    customers["description"] = f"{demo.COMPANY} Professional Services: one subgroup per customer"
    put(sb, "group", customers)
    _member(sb, "group", customers["id"], bot["id"], OWNER)
    for user in users.values():
        _member(sb, "group", customers["id"], user["id"], DEVELOPER)
    for name, color in demo.GROUP_LABELS:
        label = {"id": new_id(sb, "label"), "name": name, "color": color}
        put(sb, "label", label | {"description": f"psflow: {name}", "group_id": customers["id"]})

    _seed_planning_project(sb, customers, bot)
    _seed_past_engagement(sb, customers, bot, users)


PLANNING_PROJECT = "ps-planning"  # PsflowSettings.planning_project: ps-customers/ps-planning


def _seed_planning_project(sb: Sandbox, customers: Json, bot: Json) -> None:
    """The project where psflow files Technical Architect review issues; people reach it through
    their membership of the customers group."""
    put(
        sb,
        "project",
        {
            "id": new_id(sb, "project"),
            "name": "PS Planning",
            "path": PLANNING_PROJECT,
            "description": "Technical Architect reviews of cost estimates over $50k.",
            "namespace_id": customers["id"],
            "visibility": "private",
            "creator_id": bot["id"],
            "created_at": _at(-700),
            "last_activity_at": _at(-30),
            "default_branch": "main",
        },
    )


def _seed_past_engagement(sb: Sandbox, customers: Json, bot: Json, users: dict[str, Json]) -> None:
    """Acme's finished engagement: its subgroup, project, closed epic and closed issues."""
    opp, account = demo.ACME_PAST, demo.ACME
    start, end = opp.start_in_days, opp.start_in_days + opp.weeks * 7
    path, name = demo.acme_group()  # named as psflow names customer groups
    acme = _group(sb, name, path, customers["id"], _at(start - 20))
    project = {
        "id": new_id(sb, "project"),
        "name": opp.name,
        "path": slug(opp.sow_number),
        "description": f"{opp.sow_number} · {opp.name} · Salesforce opportunity {opp.id}",
        "namespace_id": acme["id"],
        "visibility": "private",
        "creator_id": bot["id"],
        "created_at": _at(start - 14),
        "last_activity_at": _at(end),
        "default_branch": "main",
    }
    put(sb, "project", project)
    pse = users["bruno_costa"]  # who delivered it (see seed.BOOKINGS)
    _member(sb, "project", project["id"], pse["id"], MAINTAINER)

    epic = {
        "id": new_id(sb, "epic"),
        "work_item_id": new_id(sb, "issue"),
        "iid": sb.store.next_id(f"gitlab.epic-iid.{acme['id']}"),
        "group_id": acme["id"],
        "parent_id": None,
        "title": f"{opp.sow_number} {account.name}",
        "description": f"Customer epic of {opp.name} (opportunity {opp.id}).",
        "labels": [],
        "confidential": False,
        "author_id": bot["id"],
        "start_date": demo.day(start).isoformat(),
        "due_date": demo.day(end).isoformat(),
        "state": "closed",
        "created_at": _at(start - 14),
        "updated_at": _at(end + 5),
        "closed_at": _at(end + 5),
    }
    put(sb, "epic", epic)

    handoff: tuple[str, str, str, list[int]] = (
        f"Sales to PS hand-off: {account.name} – {opp.sow_number}",
        "Hand-off from sales to PS is complete.",
        "PS::Hand-off",
        [],
    )
    activities = [
        (
            f"{item.product}: {item.description}",
            f"{item.quantity:g} hours",
            "PS::Activity",
            [pse["id"]],
        )
        for item in opp.line_items
    ]
    for n, (title, description, label, assignees) in enumerate([handoff, *activities], start=1):
        put(
            sb,
            "issue",
            {
                "id": new_id(sb, "issue"),
                "iid": sb.store.next_id(f"gitlab.issue-iid.{project['id']}"),
                "project_id": project["id"],
                "title": title,
                "description": description,
                "state": "closed",
                "labels": [label],
                "assignee_ids": assignees,
                "author_id": bot["id"],
                "due_date": None,
                "confidential": False,
                "created_at": _at(start - 14 + n),
                "updated_at": _at(end),
                "closed_at": _at(end),
                "closed_by_id": bot["id"],
                "epic_id": epic["id"],
                "epic_issue_id": new_id(sb, "epic_issue"),
                "relative_position": 513 * n,
            },
        )
