"""The fault matrix on a real Prefect server: every outside write of every phase built, under
every kind of fault, ends with every object exactly once.

The write routes are discovered from a clean reference run of each phase (testkit/faults.py), so a
write added tomorrow is faulted without anyone listing it. Here a kind of fault is injected on all of
a phase's write routes at once (once each: the run meets them one after the other); 500, 503, 429
with Retry-After, a dropped connection and a timeout share one batch, each route getting one of them
in turn. The per-route x per-kind matrix is `python -m benchmarks.reliability`.

This module holds the phases up to the engagement's start; those under way are in
test_fault_matrix_changes.py and test_fault_matrix_under_way.py, Close in test_fault_matrix_close.py
(`MATRIX`: the test processes share them).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sandbox.client import SandboxClient
from testkit.discovery import conformance_problems, method_of
from testkit.faults import (
    MATRIX,
    PHASES,
    Reference,
    WriteRoute,
    assert_every_object_once,
    google_answers,
    nonconforming,
    route_of,
    run_case,
    write_routes,
)

pytestmark = pytest.mark.e2e


def test_every_phase_is_in_one_of_the_matrixs_modules() -> None:
    modules = {path.stem for path in Path(__file__).parent.glob("test_fault_matrix*.py")}
    assert set(MATRIX) == modules
    assert sorted(phase for phases in MATRIX.values() for phase in phases) == sorted(PHASES)


def test_the_write_routes_come_from_the_reference_runs(
    world: SandboxClient, references: dict[str, Reference]
) -> None:
    pre, initiate = references["pre-initiate"].routes, references["initiate"].routes
    # a few the handbook names, so an empty or broken discovery cannot pass
    assert WriteRoute("google", "POST", "/google/gmail/v1/users/{user_id}/drafts/send") in initiate
    assert WriteRoute("gitlab", "POST", "/gitlab/api/v4/projects") in initiate
    assert WriteRoute("mavenlink", "POST", "/mavenlink/api/v1/workspace_allocations.json") in pre
    # (Pre-Initiate's proposal and approval are recorded before its run, as the approval form
    # leaves them: its in-process run cannot suspend; Initiate posts through the same route)
    assert WriteRoute("slack", "POST", "/slack/api/chat.postMessage") in initiate
    # Plan: the kickoff deck filled, the engagement In Progress (its forms' answers recorded first)
    plan = references["plan"].routes
    assert (
        WriteRoute("google", "POST", "/google/v1/presentations/{presentation_id}:batchUpdate")
        in plan
    )
    assert (
        WriteRoute(
            "salesforce",
            "PATCH",
            "/salesforce/services/data/{version}/sobjects/{type_}/{record_id}",
        )
        in plan
    )
    # a lost deal's release: its soft booking deleted, the project cancelled, the review closed
    release = references["release"].routes
    assert (
        WriteRoute(
            "mavenlink", "DELETE", "/mavenlink/api/v1/workspace_allocations/{object_id}.json"
        )
        in release
    )
    assert WriteRoute("gitlab", "PUT", "/gitlab/api/v4/projects/{project}/issues/{iid}") in release
    # before signature: the engagement manager told in #ps_planning what is missing
    signature = references["awaiting-signature"].routes
    assert signature == [WriteRoute("slack", "POST", "/slack/api/chat.postMessage")]
    # GitLab and Slack dispatch under one FastAPI route each: still one template per API route
    assert route_of("POST", "/gitlab/api/v4/projects/a%2Fb/issues") == WriteRoute(
        "gitlab", "POST", "/gitlab/api/v4/projects/{project}/issues"
    )
    assert route_of("POST", "/slack/api/pins.add") == WriteRoute(
        "slack", "POST", "/slack/api/pins.add"
    )
    # a write no sandbox route serves could not be faulted by route: discovery refuses it
    start = world.last_request_id()
    httpx.post(f"{world.url}/mavenlink/api/v1/not-a-route.json", timeout=10)  # a 404, logged
    with pytest.raises(AssertionError, match="no sandbox route serves"):
        write_routes(world, start)


def test_a_fault_on_every_write_route_ends_with_every_object_once(
    world: SandboxClient, references: dict[str, Reference], phase: str, kind: str
) -> None:
    assert_every_object_once(world, references[phase], kind)


def test_a_case_whose_fault_the_run_never_meets_fails(
    world: SandboxClient, references: dict[str, Reference]
) -> None:
    """The matrix's check can fail: a fault on a route the phase never writes to is a problem."""
    nowhere = WriteRoute("slack", "POST", "/slack/api/pins.add")  # a lost deal pins nothing
    assert nowhere not in references["release"].routes
    case = run_case(world, references["release"], "transient", [nowhere])
    assert case.problems == [f"the fault on {nowhere} was never hit"]


def test_every_google_answer_of_the_reference_runs_is_as_googles_own_spec_describes_it(
    references: dict[str, Reference],
) -> None:
    answers = google_answers(references.values())
    called = {found[1]["id"] for a in answers if (found := method_of(a["method"], a["path"]))}
    # every Google API psflow calls, so an empty or broken log cannot pass
    assert {a["service"] for a in answers} >= {"drive", "sheets", "gmail", "calendar", "docs"}
    assert len(called) >= 12, called
    assert nonconforming(answers) == []


def test_the_conformance_check_finds_what_differs_from_the_spec() -> None:
    file = {"kind": "drive#file", "id": "1", "name": "x", "appProperties": {"k": "v"}}
    assert conformance_problems("GET", "/google/drive/v3/files/1", file) == []
    bad = {**file, "color": "red", "size": 12, "capabilities": {"canEdit": "yes"}}
    assert sorted(conformance_problems("GET", "/google/drive/v3/files/1", bad)) == [
        "drive.files.get.capabilities.canEdit: a boolean, got 'yes'",
        "drive.files.get.color: not a field of File",
        "drive.files.get.size: a string, got 12",  # an int64: JSON carries it as text
    ]
    values = {"range": "Estimate!A1", "majorDimension": "DIAGONAL", "values": [["1"]]}
    assert conformance_problems("GET", "/google/v4/spreadsheets/s1/values/Estimate!A1", values) == [
        "sheets.spreadsheets.values.get.majorDimension: one of "
        "['DIMENSION_UNSPECIFIED', 'ROWS', 'COLUMNS'], got 'DIAGONAL'"
    ]
    assert conformance_problems("GET", "/google/nowhere/v9/things", {}) != []
