"""Control routes under `/_sandbox/mavenlink/`: what people do in Kantata's web app. They change
objects directly (not through the API, so the request log stays psflow's own) with the same checks
as the API.

A PSE logs time, e.g. from a test::

    sandbox.act("mavenlink", "/time_entries", workspace_id=ws, user_email="aisha.bello@...",
                date="2026-03-02", hours=7.5, story_id=task, notes="Runner rollout")
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from sandbox.core import Json, SandboxDep
from sandbox.kit import Problems
from sandbox.mavenlink.api import table
from sandbox.mavenlink.time_entries import check_time_entry, new_time_entry

router = APIRouter(tags=["mavenlink"])


class TimeLogged(BaseModel):
    workspace_id: int | str = Field(description="the project the time is logged on")
    user_email: str = Field(description="who logs it: a Kantata user on the project's team")
    date: dt.date = Field(description="the day the work was done (date_performed)")
    hours: float = Field(gt=0, description="how long; stored as time_in_minutes, rounded")
    story_id: int | str | None = Field(None, description="the task it was spent on, if any")
    notes: str = Field("", description="what was done")
    billable: bool | None = Field(None, description="default: the task's flag, else true")


@router.post("/time_entries")
async def log_time(sb: SandboxDep, entry: TimeLogged) -> Json:
    """A person logs time on a project in Kantata's timesheet, as the API would let them: they must
    be on the project, the task must be in it. Answers the stored entry (every field)."""
    user = next(
        (
            u
            for u in table(sb, "users").values()
            if u["email_address"].lower() == entry.user_email.strip().lower()
        ),
        None,
    )
    if user is None:
        raise HTTPException(404, f"no Kantata user with the email address {entry.user_email!r}")
    data: Json = {
        "workspace_id": str(entry.workspace_id),
        "date_performed": entry.date.isoformat(),
        "time_in_minutes": round(entry.hours * 60),
        "notes": entry.notes,
    }
    if entry.story_id not in (None, ""):
        data["story_id"] = str(entry.story_id)
    if entry.billable is not None:
        data["billable"] = entry.billable
    problems: Problems = []
    fields = check_time_entry(sb, data, None, problems, user=user["id"])
    if problems:
        raise HTTPException(422, "; ".join(f"{field}: {message}" for field, message in problems))
    return new_time_entry(sb, fields, data)
