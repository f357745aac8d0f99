"""The Mavenlink (Kantata OX) stand-in, driven through the httpx client of `MavenlinkConnection`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from sandbox import seed as demo
from sandbox.client import SandboxClient
from sandbox.mavenlink.staffing import business_days
from testkit.kantata import items, kantata, one, user_id

OPPORTUNITY = demo.OPPORTUNITIES[2]  # Globex, not yet in Mavenlink


@pytest.fixture
def api(sandbox: SandboxClient, sandbox_url: str) -> Iterator[httpx.Client]:
    with kantata(sandbox_url) as client:
        yield client


def new_workspace(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {
        "title": "Globex – Kubernetes Integration",
        "price": 68_500,
        "currency": "EUR",
        **fields,
    }
    return one(api.post("workspaces.json", json={"workspace": body}))


def workspace_of(api: httpx.Client, opportunity_id: str) -> list[dict[str, Any]]:
    return items(
        api.get(
            "external_references.json",
            params={"subject_type": "Workspace", "service_model_ref": opportunity_id},
        )
    )


# --- auth and envelope ---------------------------------------------------------------------------


def test_requests_without_a_bearer_token_are_refused(sandbox_url: str) -> None:
    reply = httpx.get(f"{sandbox_url}/mavenlink/api/v1/workspaces.json")
    assert reply.status_code == 401
    assert reply.json() == {"errors": [{"type": "oauth", "message": "Invalid OAuth 2 Request"}]}


def test_users_me_search_and_email_lookup(api: httpx.Client) -> None:
    me = one(api.get("users/me.json"))
    assert me["email_address"] == demo.PS_MAILBOX
    aisha = one(api.get("users.json", params={"by_email_address": "AISHA.BELLO@northwind.example"}))
    assert aisha["full_name"] == "Aisha Bello"
    assert aisha["headline"] == "Sr. PS Engineer"
    assert isinstance(aisha["id"], str)
    assert [u["full_name"] for u in items(api.get("users.json", params={"search": "chen"}))] == [
        "Chen Wei"
    ]
    assert items(api.get("users.json", params={"by_email_address": "nobody@example.com"})) == []
    assert one(api.get(f"users/{aisha['id']}.json"))["id"] == aisha["id"]


def test_seeded_workload_matches_the_bookings(api: httpx.Client) -> None:
    workspaces = items(api.get("workspaces.json", params={"per_page": 200}))
    assert sorted(w["title"] for w in workspaces) == sorted(demo.CURRENT_WORKSPACES)
    assert {w["status"]["message"] for w in workspaces} == {"Active"}
    allocations = items(
        api.get("workspace_allocations.json", params={"per_page": 200}), "workspace_allocations"
    )
    assert len(allocations) == len(demo.BOOKINGS)
    aisha = user_id(api, "aisha_bello")
    (booking,) = [b for b in demo.BOOKINGS if b.pse == "aisha_bello"]
    (allocation,) = items(api.get("workspace_allocations.json", params={"user_ids": aisha}))
    first, last = (
        demo.day(booking.start_in_days),
        demo.day(booking.start_in_days + booking.days - 1),
    )
    assert (allocation["start_date"], allocation["end_date"]) == (
        first.isoformat(),
        last.isoformat(),
    )
    assert allocation["minutes"] == booking.minutes_per_day * business_days(first, last)
    assert allocation["hard"] is True
    # the past engagement is tied to its Salesforce opportunity
    (ref,) = workspace_of(api, demo.ACME_PAST.id)
    assert ref["service_name"] == "Salesforce"


def test_include_side_loads_participants_and_references(api: httpx.Client) -> None:
    (ref,) = workspace_of(api, demo.ACME_PAST.id)
    reply = api.get(
        f"workspaces/{ref['subject_id']}.json",
        params={"include": "participants,external_references"},
    )
    body = reply.json()
    workspace = one(reply)
    assert workspace["external_reference_ids"] == [ref["id"]]
    assert body["external_references"][ref["id"]]["service_model_ref"] == demo.ACME_PAST.id
    names = {body["users"][i]["full_name"] for i in workspace["participant_ids"]}
    assert {"Bruno Costa", "Marcus Webb"} <= names
    assert "participant_ids" not in one(api.get(f"workspaces/{ref['subject_id']}.json"))


# --- workspaces ----------------------------------------------------------------------------------


def test_create_a_prospect_then_find_it_by_its_opportunity(
    api: httpx.Client, sandbox: SandboxClient
) -> None:
    before = sandbox.last_request_id()
    created = new_workspace(
        api,
        description="SOW-2026-042",
        status_key=115,
        target_margin=40,
        external_reference={
            "service_name": "Salesforce",
            "service_model": "Opportunity",
            "service_model_ref": OPPORTUNITY.id,
        },
    )
    assert created["status"] == {"color": "gray", "key": "115", "message": "Prospect"}
    assert created["price_in_cents"] == 6_850_000
    assert created["currency"] == "EUR"
    assert created["target_margin"] == 40
    assert created["start_date"] is None

    (ref,) = workspace_of(api, OPPORTUNITY.id)
    assert str(ref["subject_id"]) == created["id"]
    found = items(
        api.get("workspaces.json", params={"external_reference_service_model_ref": OPPORTUNITY.id})
    )
    assert [w["id"] for w in found] == [created["id"]]

    updated = one(
        api.put(
            f"workspaces/{created['id']}.json",
            json={
                "workspace": {
                    "status_key": 205,
                    "start_date": "2026-03-02",
                    "due_date": "2026-05-29",
                }
            },
        )
    )
    assert updated["status"]["message"] == "In Set Up"
    assert (updated["start_date"], updated["due_date"]) == ("2026-03-02", "2026-05-29")
    assert one(api.get(f"workspaces/{created['id']}.json"))["status"]["key"] == "205"
    assert sandbox.writes(system="mavenlink", since=before) == 2
    (state,) = [w for w in sandbox.state("mavenlink", "workspaces") if w["id"] == created["id"]]
    assert state["title"] == "Globex – Kubernetes Integration"


def test_create_or_update_reference_is_an_upsert(api: httpx.Client) -> None:
    workspace = new_workspace(api)
    body = {
        "subject_type": "Workspace",
        "subject_id": int(workspace["id"]),
        "service_name": "Salesforce",
        "service_model": "Opportunity",
        "service_model_ref": OPPORTUNITY.id,
        "status": "pending",
    }
    first = one(
        api.post("external_references/create_or_update.json", json={"external_reference": body})
    )
    again = one(
        api.post(
            "external_references/create_or_update.json",
            json={"external_reference": {**body, "status": "successful"}},
        )
    )
    assert again["id"] == first["id"]
    assert again["status"] == "successful"
    assert len(workspace_of(api, OPPORTUNITY.id)) == 1
    assert api.delete(f"external_references/{first['id']}.json").status_code == 204
    assert workspace_of(api, OPPORTUNITY.id) == []


def test_invalid_workspaces_answer_422_and_create_nothing(
    api: httpx.Client, sandbox: SandboxClient
) -> None:
    count = len(sandbox.state("mavenlink", "workspaces"))
    reply = api.post("workspaces.json", json={"workspace": {"title": " ", "creator_role": "boss"}})
    assert reply.status_code == 422
    errors = reply.json()["errors"]
    assert {e["type"] for e in errors} == {"validation"}
    assert {e["field"] for e in errors} == {"title", "creator_role", "price"}
    assert "Please give your project a title" in [e["message"] for e in errors]

    bad_dates = {"title": "x", "price": 1, "start_date": "2026-05-01", "due_date": "2026-04-01"}
    bulk = {"workspaces": [{"title": "fine", "price": 1}, bad_dates]}
    reply = api.post("workspaces.json", json=bulk)
    assert reply.status_code == 422
    assert [e["field"] for e in reply.json()["errors"]] == ["due_date"]
    reply = api.post(
        "workspaces.json", json={"workspace": {"title": "x", "price": 1, "status_key": 999}}
    )
    assert reply.json()["errors"][0]["field"] == "status_key"
    assert len(sandbox.state("mavenlink", "workspaces")) == count  # a bulk create is all or nothing


def test_unknown_ids_404_on_show_but_not_with_only(api: httpx.Client) -> None:
    reply = api.get("workspaces/999999.json")
    assert reply.status_code == 404
    assert reply.json()["errors"][0]["type"] == "system"
    listed = api.get("workspaces.json", params={"only": "999999"})
    assert listed.json()["count"] == 0
    assert api.put("stories/999999.json", json={"story": {"title": "x"}}).status_code == 404


def test_paging_per_page_and_limit_offset(api: httpx.Client) -> None:
    bulk = [{"title": f"Paging project {n:02d}", "price": 1000} for n in range(25)]
    assert len(items(api.post("workspaces.json", json={"workspaces": bulk}))) == 25
    params = {"matching": "paging", "order": "title:asc"}
    first = api.get("workspaces.json", params=params).json()
    assert first["meta"] == {"count": 25, "page_count": 2, "page_number": 1, "page_size": 20}
    assert len(first["results"]) == 20
    second = api.get("workspaces.json", params={**params, "page": 2, "per_page": 20})
    assert [w["title"] for w in items(second)] == [f"Paging project {n:02d}" for n in range(20, 25)]
    capped = api.get("workspaces.json", params={**params, "per_page": 500}).json()
    assert capped["meta"]["page_size"] == 200
    window = api.get("workspaces.json", params={**params, "limit": 3, "offset": 6})
    assert [w["title"] for w in items(window)] == [
        "Paging project 06",
        "Paging project 07",
        "Paging project 08",
    ]


def test_search_matching_and_archived_projects(api: httpx.Client) -> None:
    workspace = new_workspace(api, description="container platform rollout")
    assert [
        w["id"] for w in items(api.get("workspaces.json", params={"matching": "kube glo"}))
    ] == [workspace["id"]]
    assert items(api.get("workspaces.json", params={"matching": "ubernetes"})) == []
    hits = items(api.get("workspaces.json", params={"search": "description:'platform' globex"}))
    assert [w["id"] for w in hits] == [workspace["id"]]
    api.put(f"workspaces/{workspace['id']}.json", json={"workspace": {"archived": True}})
    assert items(api.get("workspaces.json", params={"matching": "globex"})) == []
    archived = items(
        api.get("workspaces.json", params={"matching": "globex", "include_archived": "true"})
    )
    assert [w["archived"] for w in archived] == [True]


# --- staffing ------------------------------------------------------------------------------------


def test_participations_resources_and_soft_allocations(api: httpx.Client) -> None:
    workspace = new_workspace(api)
    chen = user_id(api, "chen_wei")
    participation = one(
        api.post(
            "participations.json",
            params={"include": "user"},
            json={
                "participation": {"workspace_id": workspace["id"], "user_id": chen, "role": "maven"}
            },
        )
    )
    assert participation["user_id"] == chen
    again = api.post(
        "participations.json",
        json={"participation": {"workspace_id": workspace["id"], "user_id": chen}},
    )
    assert again.status_code == 422
    members = items(
        api.get("participations.json", params={"workspace_id": workspace["id"], "include": "user"}),
        "participations",
    )
    assert {m["user_id"] for m in members} == {chen, one(api.get("users/me.json"))["id"]}

    named = one(
        api.post(
            "workspace_resources.json",
            params={"include": "user"},
            json={"workspace_resource": {"workspace_id": workspace["id"], "user_id": chen}},
        )
    )
    assert named["user_id"] == chen
    role = items(api.get("roles.json"))[0]
    unnamed = one(
        api.post(
            "workspace_resources.json",
            json={
                "workspace_resource": {
                    "workspace_id": workspace["id"],
                    "user_id": None,
                    "role_id": role["id"],
                }
            },
        )
    )
    assert "user_id" not in unnamed  # Kantata shows user_id only with include=user
    listed = api.get("workspace_resources.json", params={"workspace_id": workspace["id"]})
    assert [r["id"] for r in items(listed)] == [named["id"]]
    everyone = api.get(
        "workspace_resources.json",
        params={"workspace_id": workspace["id"], "include_unnamed": "true", "include": "user"},
    )
    assert {r["user_id"] for r in items(everyone, "workspace_resources")} == {chen, None}

    soft = one(
        api.post(
            "workspace_allocations.json",
            params={"include": "workspace"},
            json={
                "workspace_allocation": {
                    "resource_id": named["id"],
                    "start_date": "2026-03-02",
                    "end_date": "2026-03-06",
                    "minutes": 2400,
                    "hard": False,
                }
            },
        )
    )
    assert (soft["hard"], soft["workspace_id"]) == (False, workspace["id"])
    assert soft["workspace_resource_id"] == named["id"]  # its person is the resource's user
    ours = {"workspace_ids": workspace["id"]}
    assert [
        a["id"]
        for a in items(api.get("workspace_allocations.json", params={**ours, "type": "soft"}))
    ] == [soft["id"]]
    assert items(api.get("workspace_allocations.json", params={**ours, "type": "hard"})) == []
    overlapping = {**ours, "overlaps_with_date_range": "2026-03-06:2026-03-31"}
    assert len(items(api.get("workspace_allocations.json", params=overlapping))) == 1
    later = {**ours, "overlaps_with_date_range": "2026-03-07:2026-03-31"}
    assert items(api.get("workspace_allocations.json", params=later)) == []
    hard = one(
        api.put(
            f"workspace_allocations/{soft['id']}.json",
            json={"workspace_allocation": {"hard": True}},
        )
    )
    assert hard["hard"] is True

    bad = api.post(
        "workspace_allocations.json",
        json={
            "workspace_allocation": {
                "resource_id": named["id"],
                "start_date": "2026-03-06",
                "end_date": "2026-03-02",
                "minutes": -5,
            }
        },
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"minutes", "end_date"}


def test_stories_and_assignments(api: httpx.Client) -> None:
    workspace = new_workspace(api)
    grace = user_id(api, "grace_kim")
    api.post(
        "participations.json",
        json={"participation": {"workspace_id": workspace["id"], "user_id": grace}},
    )
    milestone, task = items(
        api.post(
            "stories.json",
            json={
                "stories": [
                    {
                        "workspace_id": workspace["id"],
                        "title": "Kubernetes integration",
                        "story_type": "milestone",
                        "due_date": "2026-04-30",
                    },
                    {
                        "workspace_id": workspace["id"],
                        "title": "Runner rollout",
                        "story_type": "task",
                        "start_date": "2026-03-02",
                        "due_date": "2026-03-20",
                        "time_estimate_in_minutes": 4800,
                        "assignments": [{"assignee_id": grace}],
                    },
                ]
            },
        )
    )
    child = one(
        api.post(
            "stories.json",
            params={"include": "assignees,parent,root"},
            json={
                "story": {
                    "workspace_id": workspace["id"],
                    "title": "Helm charts",
                    "parent_id": milestone["id"],
                }
            },
        )
    )
    assert (child["parent_id"], child["root_id"], child["ancestor_ids"]) == (
        milestone["id"],
        milestone["id"],
        [milestone["id"]],
    )
    assert child["assignee_ids"] == []
    listed = api.get(
        "stories.json", params={"workspace_id": workspace["id"], "include": "assignees"}
    )
    by_title = {s["title"]: s for s in items(listed, "stories")}
    assert by_title["Runner rollout"]["assignee_ids"] == [grace]
    assert listed.json()["users"][grace]["full_name"] == "Grace Kim"
    assert by_title["Runner rollout"]["time_estimate_in_minutes"] == 4800

    assignment = one(
        api.post(
            "assignments.json", json={"assignment": {"story_id": child["id"], "assignee_id": grace}}
        )
    )
    assert assignment["assignee_id"] == grace
    duplicate = api.post(
        "assignments.json", json={"assignment": {"story_id": child["id"], "assignee_id": grace}}
    )
    assert duplicate.status_code == 422
    outsider = user_id(api, "luis_ortega")
    reply = api.post(
        "assignments.json", json={"assignment": {"story_id": child["id"], "assignee_id": outsider}}
    )
    assert reply.json()["errors"][0]["field"] == "assignee_id"

    done = one(api.put(f"stories/{task['id']}.json", json={"story": {"state": "completed"}}))
    assert done["state"] == "completed"
    invalid = api.post(
        "stories.json",
        json={"story": {"workspace_id": workspace["id"], "title": "", "story_type": "epic"}},
    )
    assert {e["field"] for e in invalid.json()["errors"]} == {"title", "story_type"}


# --- custom fields -------------------------------------------------------------------------------


def test_custom_field_values_create_override_and_update(api: httpx.Client) -> None:
    workspace = new_workspace(api)
    fields = {
        f["name"]: f
        for f in items(api.get("custom_fields.json", params={"subject_type": "Workspace"}))
    }
    assert {"GitLab Project", "Salesforce Opportunity"} <= set(fields)
    gitlab = fields["GitLab Project"]["id"]
    value = {
        "subject_type": "Workspace",
        "subject_id": int(workspace["id"]),
        "custom_field_id": gitlab,
    }
    first = one(
        api.post(
            "custom_field_values.json",
            json={"custom_field_value": {**value, "value": "ps-customers/globex/k8s"}},
        )
    )
    second = one(
        api.post(
            "custom_field_values.json",
            json={"custom_field_value": {**value, "value": "ps-customers/globex/k8s-2"}},
        )
    )
    assert second["id"] != first["id"]  # Kantata replaces the value under a new id
    params = {"subject_type": "Workspace", "with_subject_id": workspace["id"]}
    (stored,) = items(api.get("custom_field_values.json", params=params))
    assert (stored["custom_field_name"], stored["value"]) == (
        "GitLab Project",
        "ps-customers/globex/k8s-2",
    )
    updated = one(
        api.put(
            f"custom_field_values/{stored['id']}.json",
            json={"custom_field_value": {"value": "x/y"}},
        )
    )
    assert (updated["id"], updated["display_value"]) == (stored["id"], "x/y")
    assert api.get("custom_field_values.json").status_code == 422  # subject_type is required
    wrong = api.post(
        "custom_field_values.json",
        json={"custom_field_value": {**value, "subject_type": "Story", "subject_id": 1}},
    )
    assert wrong.status_code == 422
    included = api.get(
        f"workspaces/{workspace['id']}.json", params={"include": "custom_field_values"}
    )
    assert one(included)["custom_field_value_ids"] == [stored["id"]]


# --- what needs an include (Kantata/specification.yml, developer.kantata.com) ----------------------
# Each gated field's schema description reads "`<field>` will only be included in the response if
# `<association>` is in the list of included associations"; the include lists below are the
# endpoints' own. The spec documents no nested includes: a side-loaded object shows none.


def test_an_allocation_names_its_resource_not_its_person(api: httpx.Client) -> None:
    aisha = user_id(api, "aisha_bello")
    (allocation,) = items(api.get("workspace_allocations.json", params={"user_ids": aisha}))
    # WorkspaceAllocation: `workspace_resource_id` "The ID of the workspace resource that the
    # allocation will be associated with" (always); no `user_id` property at all
    assert "user_id" not in allocation
    assert "resource_id" not in allocation  # `resource_id` is the create request's field
    resource_id = allocation["workspace_resource_id"]
    # WorkspaceAllocation: workspace_id — only with include=workspace
    assert "workspace_id" not in allocation
    reply = api.get(
        f"workspace_allocations/{allocation['id']}.json",
        params={"include": "workspace,workspace_resource"},
    )
    shown = one(reply)
    assert shown["workspace_id"] in reply.json()["workspaces"]
    assert shown["workspace_resource_id"] == resource_id
    # the resource comes along, but its user_id needs include=user on the resource itself
    side_loaded = reply.json()["workspace_resources"][resource_id]
    assert "user_id" not in side_loaded
    # WorkspaceResource: user_id — only with include=user; `only` asks by id
    reply = api.get("workspace_resources.json", params={"only": resource_id, "include": "user"})
    assert one(reply)["user_id"] == aisha
    assert reply.json()["users"][aisha]["email_address"] == demo.staff("aisha_bello").email


def test_allocations_follow_a_resource_named_later(api: httpx.Client) -> None:
    workspace = new_workspace(api)
    role = items(api.get("roles.json"))[0]
    unnamed = one(
        api.post(
            "workspace_resources.json",
            json={"workspace_resource": {"workspace_id": workspace["id"], "role_id": role["id"]}},
        )
    )
    allocation = {"start_date": "2026-03-02", "end_date": "2026-03-06", "minutes": 600}
    soft = one(
        api.post(
            "workspace_allocations.json",
            json={"workspace_allocation": {"resource_id": unnamed["id"], **allocation}},
        )
    )
    ours = {"workspace_ids": workspace["id"]}
    unnamed_only = {**ours, "unnamed_resources_only": "true"}
    assert [a["id"] for a in items(api.get("workspace_allocations.json", params=unnamed_only))] == [
        soft["id"]
    ]
    chen = user_id(api, "chen_wei")
    api.put(
        f"workspace_resources/{unnamed['id']}.json", json={"workspace_resource": {"user_id": chen}}
    ).raise_for_status()
    # "Limit to allocations associated with the workspace resource user's IDs": the resource's
    # user as it is now
    by_user = {**ours, "user_ids": chen}
    assert [a["id"] for a in items(api.get("workspace_allocations.json", params=by_user))] == [
        soft["id"]
    ]
    named_only = {**ours, "named_resources_only": "true"}
    assert len(items(api.get("workspace_allocations.json", params=named_only))) == 1
    assert items(api.get("workspace_allocations.json", params=unnamed_only)) == []


def test_a_custom_field_value_names_its_field_only_with_include(api: httpx.Client) -> None:
    (ref,) = workspace_of(api, demo.ACME_PAST.id)
    params = {"subject_type": "Workspace", "with_subject_id": ref["subject_id"]}
    values = items(api.get("custom_field_values.json", params=params))
    assert {v["custom_field_name"] for v in values} >= {"Salesforce Opportunity"}
    # CustomFieldValue: custom_field_id — only with include=custom_field; setter_id — only with
    # include=setter; `custom_field_name` "The name of the Custom Field" is always there
    assert all("custom_field_id" not in v and "setter_id" not in v for v in values)
    reply = api.get("custom_field_values.json", params={**params, "include": "custom_field,setter"})
    body = reply.json()
    for value in items(reply, "custom_field_values"):
        assert body["custom_fields"][value["custom_field_id"]]["name"] == value["custom_field_name"]
        assert body["users"][value["setter_id"]]["email_address"] == demo.PS_MAILBOX
    # side-loaded with their project, values cannot be asked for their field
    reply = api.get(
        f"workspaces/{ref['subject_id']}.json", params={"include": "custom_field_values"}
    )
    side_loaded = [
        reply.json()["custom_field_values"][i] for i in one(reply)["custom_field_value_ids"]
    ]
    assert side_loaded
    assert all("custom_field_id" not in v for v in side_loaded)


def test_a_participation_names_its_user_and_project_only_with_include(
    api: httpx.Client,
) -> None:
    (ref,) = workspace_of(api, demo.ACME_PAST.id)
    workspace = str(ref["subject_id"])
    listed = items(api.get("participations.json", params={"workspace_id": workspace}))
    assert listed
    # Participation: user_id — only with include=user; workspace_id — only with
    # include=workspace; `role` and `is_team_lead` always
    assert all("user_id" not in p and "workspace_id" not in p for p in listed)
    assert all(p["role"] in ("maven", "buyer") and "is_team_lead" in p for p in listed)
    reply = api.get(
        "participations.json", params={"workspace_id": workspace, "include": "user,workspace"}
    )
    body = reply.json()
    for participation in items(reply, "participations"):
        assert participation["user_id"] in body["users"]
        assert participation["workspace_id"] == workspace
    assert workspace in body["workspaces"]


def test_participations_take_only_the_documented_filters(api: httpx.Client) -> None:
    (ref,) = workspace_of(api, demo.ACME_PAST.id)
    workspace = str(ref["subject_id"])
    bruno = user_id(api, "bruno_costa")
    # `workspace_id` (required): "This parameter is required to identify the project you want
    # to retrieve participations for"
    missing = api.get("participations.json", params={"by_user": bruno})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "workspace_id"
    # `by_user`: "Retrieves participations for the specified user ID"
    reply = api.get(
        "participations.json",
        params={"workspace_id": workspace, "by_user": bruno, "include": "user"},
    )
    assert [p["user_id"] for p in items(reply, "participations")] == [bruno]
    # `mavens_only`: "Only consultant participations"
    mavens = items(
        api.get("participations.json", params={"workspace_id": workspace, "mavens_only": "true"})
    )
    assert mavens
    assert {p["role"] for p in mavens} == {"maven"}
    # Kantata would not filter by a guessed `user_id` or `role`; the sandbox refuses them
    for guess in ({"user_id": bruno}, {"role": "maven"}):
        refused = api.get("participations.json", params={"workspace_id": workspace, **guess})
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["type"] == "system"


def test_a_story_names_its_project_and_parent_only_with_include(api: httpx.Client) -> None:
    workspace = new_workspace(api)
    parent = one(
        api.post("stories.json", json={"story": {"workspace_id": workspace["id"], "title": "A"}})
    )
    child = one(
        api.post(
            "stories.json",
            json={
                "story": {"workspace_id": workspace["id"], "title": "B", "parent_id": parent["id"]}
            },
        )
    )
    # Story: workspace_id — only with include=workspace; parent_id — only with include=parent;
    # root_id — only with include=root; creator_id — only with include=creator
    for gated in ("workspace_id", "parent_id", "root_id", "creator_id"):
        assert gated not in child
    assert child["ancestor_ids"] == [parent["id"]]  # always there
    reply = api.get(
        f"stories/{child['id']}.json", params={"include": "workspace,parent,root,creator"}
    )
    shown = one(reply)
    assert (shown["workspace_id"], shown["parent_id"], shown["root_id"]) == (
        workspace["id"],
        parent["id"],
        parent["id"],
    )
    assert reply.json()["users"][shown["creator_id"]]["email_address"] == demo.PS_MAILBOX
    assert "workspace_id" not in reply.json()["stories"][parent["id"]]  # side-loaded


# --- quotas and faults ---------------------------------------------------------------------------


def test_quota_answers_429_in_kantata_shape(api: httpx.Client, sandbox: SandboxClient) -> None:
    sandbox.set_quotas(True, {"mavenlink.requests-per-token": 2})
    assert api.get("users/me.json").status_code == 200
    assert api.get("workspaces.json").status_code == 200
    throttled = api.get("workspaces.json")
    assert throttled.status_code == 429
    assert throttled.json()["errors"][0]["type"] == "system"
    assert "retry-after" not in throttled.headers  # Kantata documents none
    assert sandbox.requests(system="mavenlink")[-1]["quota"] == "mavenlink.requests-per-token"


def test_503_fault_creates_nothing(api: httpx.Client, sandbox: SandboxClient) -> None:
    sandbox.add_fault(r"/mavenlink/api/v1/workspaces\.json", method="POST", status=503)
    reply = api.post("workspaces.json", json={"workspace": {"title": "x", "price": 1}})
    assert reply.status_code == 503
    assert reply.json()["errors"][0]["type"] == "system"
    assert not any(w["title"] == "x" for w in sandbox.state("mavenlink", "workspaces"))


def test_drop_and_fail_after_commit(api: httpx.Client, sandbox: SandboxClient) -> None:
    sandbox.add_fault(r"/mavenlink/api/v1/stories\.json", method="GET", kind="drop")
    with pytest.raises(httpx.TransportError):
        api.get("stories.json")

    sandbox.add_fault(
        r"/mavenlink/api/v1/workspaces\.json", method="POST", status=500, after_commit=True
    )
    reference = {
        "service_name": "Salesforce",
        "service_model": "Opportunity",
        "service_model_ref": OPPORTUNITY.id,
    }
    reply = api.post(
        "workspaces.json",
        json={"workspace": {"title": "x", "price": 1, "external_reference": reference}},
    )
    assert reply.status_code == 500
    # the write happened: a retry that looks the opportunity up first finds it instead of duplicating
    (ref,) = workspace_of(api, OPPORTUNITY.id)
    assert one(api.get(f"workspaces/{ref['subject_id']}.json"))["title"] == "x"


def test_seed_dates_are_relative_to_today(api: httpx.Client) -> None:
    (booking,) = [b for b in demo.BOOKINGS if b.pse == "isaac_cohen"]
    isaac = user_id(api, "isaac_cohen")
    (allocation,) = items(api.get("workspace_allocations.json", params={"user_ids": isaac}))
    assert (
        allocation["start_date"]
        == date.today().isoformat()
        == demo.day(booking.start_in_days).isoformat()
    )
