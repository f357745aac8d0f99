"""The Mavenlink (Kantata OX) stand-in's time entries and status reports, driven through the httpx
client of `MavenlinkConnection`, and the control action a PSE logs time with.

The shapes, filters and checks follow Kantata's API reference (developer.kantata.com, "Time
Entries" and "Status Reports"); the modules' docstrings say where it is silent and what the sandbox
chose."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox import seed as demo
from sandbox.client import SandboxClient
from testkit.kantata import errors, items, kantata, one, user_id

HOOLI = "Hooli – Runner Fleet Upgrade"  # Aisha, Isaac and Grace are booked on it
STARK = "Stark Industries – Compliance Pipelines"  # Chen and Erik


@pytest.fixture
def api(sandbox: SandboxClient, sandbox_url: str) -> Iterator[httpx.Client]:
    with kantata(sandbox_url) as client:
        yield client


def workspace_id(api: httpx.Client, title: str) -> str:
    (workspace,) = [w for w in items(api.get("workspaces.json")) if w["title"] == title]
    return str(workspace["id"])


def task(api: httpx.Client, workspace: str, title: str = "Runner rollout") -> str:
    body = {"story": {"workspace_id": workspace, "title": title}}
    return str(one(api.post("stories.json", json=body))["id"])


def log(api: httpx.Client, include: str = "", **fields: Any) -> httpx.Response:
    params = {"include": include} if include else {}
    return api.post("time_entries.json", params=params, json={"time_entry": fields})


def ids(reply: httpx.Response) -> list[str]:
    return [str(e["id"]) for e in items(reply, "time_entries")]


# --- time entries --------------------------------------------------------------------------------


def test_create_show_update_and_delete_a_time_entry(
    api: httpx.Client, sandbox: SandboxClient
) -> None:
    hooli = workspace_id(api, HOOLI)
    runner = task(api, hooli)
    before = sandbox.last_request_id()
    created = one(
        log(
            api,
            workspace_id=int(hooli),
            date_performed="2026-03-02",
            time_in_minutes=90,
            story_id=runner,
            notes="Runner rollout\nday one",
        )
    )
    assert isinstance(created["id"], str)
    assert (created["date_performed"], created["time_in_minutes"]) == ("2026-03-02", 90)
    assert created["notes"] == "Runner rollout\nday one"
    # `billable` defaults to the task's flag, else true; nothing is approved without a timesheet
    assert (created["billable"], created["approved"], created["is_invoiced"]) == (
        True,
        False,
        False,
    )
    assert created["currency"] == "USD"
    assert "created_at" in created
    assert "updated_at" in created
    # TimeEntry: user_id, workspace_id, story_id, role_id only with their includes
    for gated in ("user_id", "workspace_id", "story_id", "role_id"):
        assert gated not in created

    reply = api.get(
        f"time_entries/{created['id']}.json", params={"include": "user,workspace,story"}
    )
    shown = one(reply)
    me = str(one(api.get("users/me.json"))["id"])  # "set to the current_user ID by default"
    assert (shown["user_id"], shown["workspace_id"], shown["story_id"]) == (me, hooli, runner)
    assert reply.json()["users"][me]["email_address"] == demo.PS_MAILBOX
    assert reply.json()["workspaces"][hooli]["title"] == HOOLI
    assert reply.json()["stories"][runner]["title"] == "Runner rollout"

    updated = one(
        api.put(
            f"time_entries/{created['id']}.json",
            json={"time_entry": {"time_in_minutes": 120, "billable": False, "notes": "done"}},
        )
    )
    assert (updated["time_in_minutes"], updated["billable"], updated["notes"]) == (
        120,
        False,
        "done",
    )
    assert updated["date_performed"] == "2026-03-02"
    assert api.delete(f"time_entries/{created['id']}.json").status_code == 204
    assert api.get(f"time_entries/{created['id']}.json").status_code == 404
    assert sandbox.writes(system="mavenlink", since=before) == 3
    assert sandbox.state("mavenlink", "time_entries") == []


def test_user_id_counts_for_an_api_user_with_financial_access(api: httpx.Client) -> None:
    """ "This parameter is ignored unless the authorizing user has financial access in the project
    and is on the consultants team": the integration user is on every seeded project as a
    provider-team admin, so it logs for Aisha; the role is her resource's."""
    hooli = workspace_id(api, HOOLI)
    aisha = user_id(api, "aisha_bello")
    reply = log(
        api,
        include="user,role",
        workspace_id=hooli,
        date_performed="2026-03-02",
        time_in_minutes=480,
        user_id=int(aisha),
    )
    entry = one(reply)
    assert entry["user_id"] == aisha
    assert reply.json()["roles"][entry["role_id"]]["name"] == "Sr. PS Engineer"


def test_a_bulk_create_is_all_or_nothing(api: httpx.Client, sandbox: SandboxClient) -> None:
    hooli = workspace_id(api, HOOLI)
    day = {"workspace_id": hooli, "time_in_minutes": 60}
    bulk = {"time_entries": [{**day, "date_performed": "2026-03-02"}, {**day}]}
    assert errors(api.post("time_entries.json", json=bulk)) == {
        "date_performed": "Date performed can't be blank"
    }
    assert sandbox.state("mavenlink", "time_entries") == []
    bulk["time_entries"][1]["date_performed"] = "2026-03-03"
    assert len(items(api.post("time_entries.json", json=bulk))) == 2


def test_invalid_time_entries_answer_422(api: httpx.Client, sandbox: SandboxClient) -> None:
    hooli = workspace_id(api, HOOLI)
    stark = workspace_id(api, STARK)
    good = {"workspace_id": hooli, "date_performed": "2026-03-02", "time_in_minutes": 60}
    assert set(errors(log(api))) == {"workspace_id"}
    assert errors(log(api, **{**good, "workspace_id": 999_999})) == {
        "workspace_id": "Workspace can't be blank"
    }
    assert set(errors(log(api, workspace_id=hooli))) == {"date_performed", "time_in_minutes"}
    for minutes in (0, -30, 1.5, "an hour", True):
        assert set(errors(log(api, **{**good, "time_in_minutes": minutes}))) == {"time_in_minutes"}
    for day in ("2026-02-30", "02/03/2026", "soon"):
        assert errors(log(api, **{**good, "date_performed": day})) == {
            "date_performed": "Date performed is not a valid date"
        }
    other_task = task(api, stark, "Pipeline audit")
    assert set(errors(log(api, **{**good, "story_id": other_task}))) == {"story_id"}
    assert set(errors(log(api, **{**good, "story_id": 999_999}))) == {"story_id"}
    # logging time takes being on the project: Luis is on none of them
    luis = user_id(api, "luis_ortega")
    assert errors(log(api, **{**good, "user_id": luis})) == {
        "user_id": "User must be a participant in the project to log time"
    }
    assert set(errors(log(api, **{**good, "user_id": 999_999}))) == {"user_id"}
    # an update is checked too, and 404s for an unknown id
    entry = one(log(api, **good))
    reply = api.put(f"time_entries/{entry['id']}.json", json={"time_entry": {"time_in_minutes": 0}})
    assert set(errors(reply)) == {"time_in_minutes"}
    assert len(sandbox.state("mavenlink", "time_entries")) == 1
    missing = api.put("time_entries/999999.json", json={"time_entry": {"notes": "x"}})
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["type"] == "system"
    assert api.get("time_entries/999999.json").status_code == 404
    assert api.delete("time_entries/999999.json").status_code == 404
    assert api.post("time_entries.json", json={"entry": good}).status_code == 400


def test_list_filters(api: httpx.Client) -> None:
    hooli = workspace_id(api, HOOLI)
    stark = workspace_id(api, STARK)
    aisha, isaac = user_id(api, "aisha_bello"), user_id(api, "isaac_cohen")
    chen = user_id(api, "chen_wei")
    runner = task(api, hooli)

    def entry(workspace: str, user: str, day: str, **more: Any) -> str:
        fields = {"date_performed": day, "time_in_minutes": 60, **more}
        return str(one(log(api, workspace_id=workspace, user_id=user, **fields))["id"])

    a1 = entry(hooli, aisha, "2026-03-02", story_id=runner)
    a2 = entry(hooli, aisha, "2026-03-09", billable=False)
    i1 = entry(hooli, isaac, "2026-03-04")
    c1 = entry(stark, chen, "2026-03-05")

    # the default order is date_performed:desc
    assert ids(api.get("time_entries.json")) == [a2, c1, i1, a1]
    assert ids(api.get("time_entries.json", params={"order": "date_performed:asc"})) == [
        a1,
        i1,
        c1,
        a2,
    ]
    assert api.get("time_entries.json", params={"order": "time_in_minutes:asc"}).status_code == 400
    # `workspace_id`: one project; `workspace_ids`: a comma list
    assert set(ids(api.get("time_entries.json", params={"workspace_id": stark}))) == {c1}
    both = {"workspace_ids": f"{hooli},{stark}"}
    assert set(ids(api.get("time_entries.json", params=both))) == {a1, a2, i1, c1}
    # `with_user_ids`, not `user_id`
    users = {"with_user_ids": f"{aisha},{chen}"}
    assert set(ids(api.get("time_entries.json", params=users))) == {a1, a2, c1}
    # `date_performed_between`: YYYY-MM-DD:YYYY-MM-DD, both days in
    week = {"date_performed_between": "2026-03-02:2026-03-06"}
    assert set(ids(api.get("time_entries.json", params=week))) == {a1, i1, c1}
    week_of_aisha = {**week, "workspace_id": hooli, "with_user_ids": aisha}
    assert ids(api.get("time_entries.json", params=week_of_aisha)) == [a1]
    for bad in ("2026-03-02", "2026-03-02:soon", "2026-03-02..2026-03-06"):
        reply = api.get("time_entries.json", params={"date_performed_between": bad})
        assert reply.status_code == 400
        assert reply.json()["errors"][0]["type"] == "system"
    # `billable`, and `approved` ("always processed as true"): nothing is approved here
    assert ids(api.get("time_entries.json", params={"billable": "false"})) == [a2]
    assert ids(api.get("time_entries.json", params={"approved": "false"})) == []
    # the story an entry is on is read through include=story: there is no story filter
    reply = api.get("time_entries.json", params={"workspace_id": hooli, "include": "story"})
    on_runner = [e["id"] for e in items(reply, "time_entries") if e["story_id"] == runner]
    assert on_runner == [a1]
    assert reply.json()["stories"][runner]["title"] == "Runner rollout"
    for guess in ({"user_id": aisha}, {"story_id": runner}):
        refused = api.get("time_entries.json", params=guess)
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["type"] == "system"
    # `only` asks by id and never 404s
    assert ids(api.get("time_entries.json", params={"only": f"{a1},999999"})) == [a1]


def test_entries_of_archived_projects_need_from_archived_workspaces(api: httpx.Client) -> None:
    stark = workspace_id(api, STARK)
    chen = user_id(api, "chen_wei")
    entry = one(
        log(api, workspace_id=stark, user_id=chen, date_performed="2026-03-02", time_in_minutes=30)
    )
    api.put(f"workspaces/{stark}.json", json={"workspace": {"archived": True}}).raise_for_status()
    assert ids(api.get("time_entries.json", params={"workspace_id": stark})) == []
    archived = {"workspace_id": stark, "from_archived_workspaces": "true"}
    assert ids(api.get("time_entries.json", params=archived)) == [entry["id"]]


def test_created_and_updated_windows(api: httpx.Client, sandbox: SandboxClient) -> None:
    hooli = workspace_id(api, HOOLI)
    old = one(log(api, workspace_id=hooli, date_performed="2026-03-02", time_in_minutes=60))
    sandbox.advance_clock(1)
    new = one(log(api, workspace_id=hooli, date_performed="2026-03-03", time_in_minutes=60))
    before = {"created_before": new["created_at"]}
    assert ids(api.get("time_entries.json", params=before)) == [old["id"]]
    after = {"created_after": old["created_at"].replace("+00:00", "Z")}
    assert ids(api.get("time_entries.json", params=after)) == [new["id"]]
    api.put(f"time_entries/{old['id']}.json", json={"time_entry": {"notes": "later"}})
    assert ids(api.get("time_entries.json", params={"updated_after": old["updated_at"]})) == [
        new["id"],
        old["id"],
    ]
    assert api.get("time_entries.json", params={"updated_after": "yesterday"}).status_code == 400


def test_paging_per_page_and_limit_offset(api: httpx.Client) -> None:
    hooli = workspace_id(api, HOOLI)
    bulk = [
        {"workspace_id": hooli, "date_performed": f"2026-03-{n:02d}", "time_in_minutes": 60}
        for n in range(1, 26)
    ]
    assert len(items(api.post("time_entries.json", json={"time_entries": bulk}))) == 25
    params = {"workspace_id": hooli, "order": "date_performed:asc"}
    first = api.get("time_entries.json", params=params).json()
    assert first["meta"] == {"count": 25, "page_count": 2, "page_number": 1, "page_size": 20}
    second = items(api.get("time_entries.json", params={**params, "page": 2}))
    assert [e["date_performed"] for e in second] == [f"2026-03-{n:02d}" for n in range(21, 26)]
    window = items(api.get("time_entries.json", params={**params, "limit": 2, "offset": 4}))
    assert [e["date_performed"] for e in window] == ["2026-03-05", "2026-03-06"]


def test_includes_kantata_has_and_the_sandbox_makes_none_of(api: httpx.Client) -> None:
    hooli = workspace_id(api, HOOLI)
    entry = one(log(api, workspace_id=hooli, date_performed="2026-03-02", time_in_minutes=60))
    params = {"include": "invoice,active_submission,recent_submission,external_references"}
    shown = one(api.get(f"time_entries/{entry['id']}.json", params=params))
    assert shown["invoice_id"] is None
    assert shown["active_submission_id"] is None
    assert shown["external_reference_ids"] == []
    reply = api.get(f"time_entries/{entry['id']}.json", params={"include": "approver"})
    assert reply.status_code == 400


# --- the control action: a PSE logs time ---------------------------------------------------------


def test_a_pse_logs_time_in_the_web_app(api: httpx.Client, sandbox: SandboxClient) -> None:
    hooli = workspace_id(api, HOOLI)
    runner = task(api, hooli)
    aisha = user_id(api, "aisha_bello")
    before = sandbox.last_request_id()
    logged = sandbox.act(
        "mavenlink",
        "/time_entries",
        workspace_id=hooli,
        user_email=demo.staff("aisha_bello").email.upper(),
        date="2026-03-02",
        hours=7.5,
        story_id=runner,
        notes="Runner rollout",
    )
    assert (logged["user_id"], logged["time_in_minutes"], logged["story_id"]) == (
        aisha,
        450,
        runner,
    )
    assert sandbox.requests(system="mavenlink", since=before) == []  # not psflow's request
    week = {"workspace_id": hooli, "date_performed_between": "2026-03-02:2026-03-08"}
    reply = api.get("time_entries.json", params={**week, "include": "user"})
    (entry,) = items(reply, "time_entries")
    assert (entry["id"], entry["user_id"], entry["billable"]) == (logged["id"], aisha, True)
    assert [e["id"] for e in sandbox.state("mavenlink", "time_entries")] == [logged["id"]]


def test_the_control_action_checks_as_the_api_does(
    api: httpx.Client, sandbox: SandboxClient
) -> None:
    hooli = workspace_id(api, HOOLI)
    entry = {"workspace_id": hooli, "date": "2026-03-02", "hours": 1}
    with pytest.raises(httpx.HTTPStatusError) as refused:
        sandbox.act("mavenlink", "/time_entries", user_email="nobody@example.com", **entry)
    assert refused.value.response.status_code == 404
    luis = demo.staff("luis_ortega").email  # on no project
    with pytest.raises(httpx.HTTPStatusError) as refused:
        sandbox.act("mavenlink", "/time_entries", user_email=luis, **entry)
    assert refused.value.response.status_code == 422
    assert "participant" in refused.value.response.text
    aisha = demo.staff("aisha_bello").email
    with pytest.raises(httpx.HTTPStatusError) as refused:
        sandbox.act("mavenlink", "/time_entries", user_email=aisha, **{**entry, "hours": 0})
    assert refused.value.response.status_code == 400  # the request's own shape: hours > 0
    assert sandbox.state("mavenlink", "time_entries") == []


# --- status reports ------------------------------------------------------------------------------


def report(api: httpx.Client, include: str = "", **fields: Any) -> httpx.Response:
    params = {"include": include} if include else {}
    return api.post("status_reports.json", params=params, json={"status_report": fields})


def test_create_show_list_and_update_status_reports(
    api: httpx.Client, sandbox: SandboxClient
) -> None:
    hooli, stark = workspace_id(api, HOOLI), workspace_id(api, STARK)
    details = [
        {"category": "Schedule", "color": "yellow", "description": "two days behind"},
        {"category": "Budget", "color": "green"},
    ]
    first = one(
        report(api, workspace_id=int(hooli), color="yellow", description="Week 10", details=details)
    )
    assert (first["color"], first["description"]) == ("yellow", "Week 10")
    assert first["details"] == [
        {"category": "Schedule", "color": "yellow", "description": "two days behind"},
        {"category": "Budget", "color": "green", "description": ""},
    ]
    # StatusReport: workspace_id, creator_id, updater_id only with their includes
    for gated in ("workspace_id", "creator_id", "updater_id"):
        assert gated not in first
    # Kantata documents no limit of reports per project and day: a second one the same day is fine
    second = one(report(api, workspace_id=hooli, color="green", description="Week 10, later"))
    other = one(report(api, workspace_id=stark, color="red", description="Blocked"))

    reply = api.get(
        f"status_reports/{first['id']}.json", params={"include": "workspace,creator,updater"}
    )
    shown = one(reply)
    me = str(one(api.get("users/me.json"))["id"])
    assert (shown["workspace_id"], shown["creator_id"], shown["updater_id"]) == (hooli, me, me)
    assert reply.json()["workspaces"][hooli]["title"] == HOOLI

    listed = api.get("status_reports.json", params={"workspace_id": hooli})
    assert [r["id"] for r in items(listed)] == [first["id"], second["id"]]
    everything = api.get("status_reports.json", params={"order": "created_at:desc"})
    assert {r["id"] for r in items(everything)} == {first["id"], second["id"], other["id"]}

    updated = one(
        api.put(
            f"status_reports/{first['id']}.json",
            json={
                "status_report": {
                    "color": "red",
                    "details": [{"category": "Scope", "color": "red"}],
                }
            },
        )
    )
    assert (updated["color"], updated["description"]) == ("red", "Week 10")
    # "Any categories not provided when updating will be deleted if they were previously present"
    assert [d["category"] for d in updated["details"]] == ["Scope"]
    kept = one(
        api.put(f"status_reports/{first['id']}.json", json={"status_report": {"description": "x"}})
    )
    assert [d["category"] for d in kept["details"]] == ["Scope"]
    assert {r["id"] for r in sandbox.state("mavenlink", "status_reports")} == {
        first["id"],
        second["id"],
        other["id"],
    }
    assert api.delete(f"status_reports/{second['id']}.json").status_code == 204


def test_status_report_paging(api: httpx.Client) -> None:
    hooli = workspace_id(api, HOOLI)
    bulk = [
        {"workspace_id": hooli, "color": "green", "description": f"Week {n:02d}"} for n in range(23)
    ]
    assert len(items(api.post("status_reports.json", json={"status_reports": bulk}))) == 23
    page = api.get("status_reports.json", params={"workspace_id": hooli, "per_page": 10, "page": 3})
    assert page.json()["meta"] == {"count": 23, "page_count": 3, "page_number": 3, "page_size": 10}
    assert [r["description"] for r in items(page)] == ["Week 20", "Week 21", "Week 22"]


def test_invalid_status_reports_answer_422_and_unknown_ones_404(
    api: httpx.Client, sandbox: SandboxClient
) -> None:
    hooli = workspace_id(api, HOOLI)
    assert set(errors(report(api))) == {"workspace_id", "color", "description"}
    assert set(errors(report(api, workspace_id=999_999, color="green", description="x"))) == {
        "workspace_id"
    }
    assert errors(report(api, workspace_id=hooli, color="amber", description="x")) == {
        "color": "Color must be one of green, yellow, red"
    }
    assert errors(report(api, workspace_id=hooli, color="green", description="  ")) == {
        "description": "Description can't be blank"
    }
    for details in (
        [{"category": "Morale", "color": "green"}],
        [{"category": "Scope"}],
        [{"category": "Scope", "color": "blue"}],
        "all fine",
    ):
        reply = report(api, workspace_id=hooli, color="green", description="x", details=details)
        assert set(errors(reply)) == {"details"}
    assert sandbox.state("mavenlink", "status_reports") == []
    created = one(report(api, workspace_id=hooli, color="green", description="fine"))
    reply = api.put(f"status_reports/{created['id']}.json", json={"status_report": {"color": ""}})
    assert errors(reply) == {"color": "Color can't be blank"}
    missing = api.get("status_reports/999999.json")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["type"] == "system"
    assert api.get("status_reports.json", params={"only": "999999"}).json()["count"] == 0


def test_time_and_reports_count_in_the_log_and_the_quota(
    api: httpx.Client, sandbox: SandboxClient
) -> None:
    (hooli,) = [w["id"] for w in sandbox.state("mavenlink", "workspaces") if w["title"] == HOOLI]
    sandbox.set_quotas(True, {"mavenlink.requests-per-token": 2})
    assert api.get("time_entries.json").status_code == 200
    assert report(api, workspace_id=hooli, color="green", description="x").status_code == 200
    throttled = api.get("status_reports.json")
    assert throttled.status_code == 429
    assert throttled.json()["errors"][0]["type"] == "system"
    paths = [r["path"] for r in sandbox.requests(system="mavenlink")][-3:]
    assert paths == [
        "/mavenlink/api/v1/time_entries.json",
        "/mavenlink/api/v1/status_reports.json",
        "/mavenlink/api/v1/status_reports.json",
    ]


# --- cost rates ----------------------------------------------------------------------------------


def test_each_persons_cost_rates_come_with_their_account_membership(api: httpx.Client) -> None:
    aisha, grace = user_id(api, "aisha_bello"), user_id(api, "grace_kim")
    reply = api.get(
        "account_memberships.json",
        params={"with_user_ids": f"{aisha},{grace}", "include": "cost_rates"},
    )
    memberships = items(reply, "account_memberships")
    assert sorted(m["user_id"] for m in memberships) == sorted([aisha, grace])
    rates = reply.json()["cost_rates"]
    by_user = {
        m["user_id"]: {
            rates[r]["currency"]: rates[r]["amount_in_subunits"] for r in m["cost_rate_ids"]
        }
        for m in memberships
    }
    assert by_user[aisha] == {"USD": 9000, "EUR": 8100}  # a Sr. PS Engineer: $90 an hour
    assert by_user[grace]["USD"] == 7000  # a PS Engineer


def test_a_time_entry_keeps_the_cost_rate_of_the_day_it_was_logged(
    api: httpx.Client, sandbox: SandboxClient
) -> None:
    """ "Updating a cost rate will set the cost rate for future work. Existing time entries will
    not be affected." A create for a membership and currency that has a rate overrides it."""
    hooli = workspace_id(api, HOOLI)
    aisha = user_id(api, "aisha_bello")
    day = {"workspace_id": hooli, "time_in_minutes": 480, "user_id": int(aisha)}
    first = one(log(api, date_performed="2026-03-02", **day))
    assert first["cost_rate_in_cents"] == 9000
    (membership,) = items(api.get("account_memberships.json", params={"by_user_id": aisha}))
    raised = {
        "account_membership_id": membership["id"],
        "currency": "USD",
        "amount_in_subunits": 9500,
    }
    before = len(sandbox.state("mavenlink", "cost_rates"))
    assert (
        one(api.post("cost_rates.json", json={"cost_rate": raised}))["amount_in_subunits"] == 9500
    )
    assert len(sandbox.state("mavenlink", "cost_rates")) == before  # overridden, not added
    second = one(log(api, date_performed="2026-03-03", **day))
    assert second["cost_rate_in_cents"] == 9500
    assert one(api.get(f"time_entries/{first['id']}.json"))["cost_rate_in_cents"] == 9000
    assert errors(api.post("cost_rates.json", json={"cost_rate": {"currency": "usd!"}})) == {
        "account_membership_id": "Account membership can't be blank",
        "currency": "Currency is not a valid ISO 4217 code",
        "amount_in_subunits": "Amount in subunits can't be blank",
    }
