"""auth.test and the people: users.info, users.list, users.lookupByEmail."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import Request

from sandbox import seed as demo
from sandbox.core import Json, Sandbox, base_url
from sandbox.slack.api import (
    BOT_ID,
    BOT_NAME,
    NAME,
    TEAM_ID,
    TEAM_NAME,
    fail,
    method,
    paged,
    slack_id,
    table,
)


def new_user(sb: Sandbox, person: demo.Person) -> Json:
    user_id = slack_id("U", person.key)
    offset = datetime.now(ZoneInfo(person.time_zone)).utcoffset()
    first_name = person.name.split()[0]
    user: Json = {
        "id": user_id,
        "team_id": TEAM_ID,
        "name": person.key,
        "deleted": False,
        "real_name": person.name,
        "tz": person.time_zone,
        "tz_label": datetime.now(ZoneInfo(person.time_zone)).tzname(),
        "tz_offset": int(offset.total_seconds()) if offset else 0,
        "profile": {
            "title": person.title,
            "real_name": person.name,
            "real_name_normalized": person.name,
            "display_name": first_name,
            "display_name_normalized": first_name,
            "email": person.email,
            "team": TEAM_ID,
        },
        "is_admin": False,
        "is_owner": False,
        "is_bot": False,
        "is_app_user": False,
        "updated": int(sb.now().timestamp()),
    }
    return sb.store.put(NAME, "users", user_id, user)


@method("auth.test")
async def auth_test(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    return {
        "url": f"{base_url(request, NAME)}/",
        "team": TEAM_NAME,
        "user": BOT_NAME,
        "team_id": TEAM_ID,
        "user_id": caller,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


@method("users.lookupByEmail")
async def users_lookup_by_email(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    email = str(args.get("email") or "").strip().lower()
    for user in table(sb, "users").values():
        if not user["deleted"] and user["profile"].get("email", "").lower() == email:
            return {"user": user}
    raise fail("users_not_found")


@method("users.info")
async def users_info(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    user = sb.store.get(NAME, "users", str(args.get("user") or ""))
    if user is None:
        raise fail("user_not_found")
    return {"user": user}


@method("users.list")
async def users_list(sb: Sandbox, request: Request, args: Json, caller: str) -> Json:
    users = sorted(table(sb, "users").values(), key=lambda u: u["id"])
    return paged(args, users, "members", default=200, maximum=1000, extra={"cache_ts": 0})
