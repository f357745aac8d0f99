"""The fault matrix of Deploy & Close (test_fault_matrix.py's): a validated engagement whose
sign-off was asked nine days ago, with passive-acceptance language, the Project Owner's and the
coordinator's answers recorded; the passive clock signs it off and Close runs to Completed. Every
write route (the sign-off's record, the closeout report and its chart, the agenda, the meeting and
its notes row, the posts, the closed epic and issue, the ended bookings, the statuses), under
every kind of fault, ends with every object once."""

from __future__ import annotations

import pytest
from prefect.client.schemas.objects import StateType

from flows.close import close
from flows.passive import passive_acceptance
from sandbox.client import SandboxClient
from tasks.clients import systems
from tasks.mavenlink import find_workspace
from testkit.faults import (
    Reference,
    WriteRoute,
    assert_every_object_once,
    google_answers,
    nonconforming,
    prepared,
)
from testkit.phases import run_phase

pytestmark = pytest.mark.e2e


def test_closes_routes_reach_every_system(
    world: SandboxClient, references: dict[str, Reference]
) -> None:
    # the reference: signed off passively (the SOW's language, no answer), then Completed
    (record,) = world.state("salesforce", "PS_Engagement__c")[-1:]
    assert (record["Status__c"], record["Passive_Acceptance_Used__c"]) == ("Completed", True)
    routes = references["close-out"].routes
    for route in (
        WriteRoute(
            "salesforce",
            "PATCH",
            "/salesforce/services/data/{version}/sobjects/{type_}/{record_id}",
        ),
        WriteRoute("gitlab", "PUT", "/gitlab/api/v4/groups/{group}/epics/{iid}"),
        WriteRoute("google", "POST", "/google/v1/documents/{document_id}:batchUpdate"),
        WriteRoute("google", "POST", "/google/calendar/v3/calendars/{calendar_id}/events"),
        WriteRoute("mavenlink", "PUT", "/mavenlink/api/v1/workspace_allocations/{object_id}.json"),
        WriteRoute("slack", "POST", "/slack/api/chat.postMessage"),
    ):
        assert route in routes, "\n".join(map(str, routes))
    answers = google_answers(references.values())
    assert {a["service"] for a in answers} >= {"docs", "drive", "sheets", "calendar"}
    assert nonconforming(answers) == []


def test_a_fault_on_every_write_route_ends_with_every_object_once(
    world: SandboxClient, references: dict[str, Reference], phase: str, kind: str
) -> None:
    assert_every_object_once(world, references[phase], kind)


def test_a_project_without_hours_is_named_before_any_write_of_the_close_out(
    world: SandboxClient, references: dict[str, Reference]
) -> None:
    opportunity = prepared(world, "close-out")
    workspace = find_workspace(opportunity)
    assert workspace is not None
    api = systems().mavenlink()
    logged = [
        e for e in world.state("mavenlink", "time_entries") if e["workspace_id"] == workspace.id
    ]
    assert logged, "the preparation logs two weeks of hours"
    for entry in logged:  # deleted in Kantata, as someone who logged them on the wrong project
        api.request("DELETE", f"time_entries/{entry['id']}.json").raise_for_status()
    assert passive_acceptance(return_state=True).is_completed()  # signed off passively
    before = world.last_request_id()

    state, _ = run_phase(close, opportunity)
    assert state.type == StateType.FAILED
    assert f"Kantata: no time entries on project {workspace.name}" in str(state.message)
    assert world.writes(since=before) == 0
