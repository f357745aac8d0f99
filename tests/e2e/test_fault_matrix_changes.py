"""The fault matrix of change requests (test_fault_matrix.py's, for the phases whose cases prepare
the most: an engagement under way, its change request made and approved): every write route of
`change-request` and `rebaseline`, under every kind of fault, ends with every object once."""

from __future__ import annotations

import pytest

from sandbox.client import SandboxClient
from testkit.faults import (
    Reference,
    WriteRoute,
    assert_every_object_once,
    google_answers,
    nonconforming,
)

pytestmark = pytest.mark.e2e


def test_the_rebaselines_routes_reach_every_system(references: dict[str, Reference]) -> None:
    routes = references["rebaseline"].routes
    assert {route.system for route in routes} >= {"gitlab", "google", "mavenlink", "salesforce"}
    assert WriteRoute("mavenlink", "PUT", "/mavenlink/api/v1/workspaces/{object_id}.json") in routes
    change = references["change-request"].routes
    assert WriteRoute("gitlab", "POST", "/gitlab/api/v4/projects/{project}/issues") in change
    answers = google_answers(references.values())
    assert {a["service"] for a in answers} >= {"drive", "sheets", "gmail", "docs"}
    assert nonconforming(answers) == []


def test_a_fault_on_every_write_route_ends_with_every_object_once(
    world: SandboxClient, references: dict[str, Reference], phase: str, kind: str
) -> None:
    assert_every_object_once(world, references[phase], kind)
