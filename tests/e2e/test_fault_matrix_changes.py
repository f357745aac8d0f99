"""The fault matrix of change requests (tests/e2e/test_fault_matrix.py's, for the phases whose
cases prepare the most: an engagement under way, its change request made and approved): every
write route of `change-request` and `rebaseline`, under every kind of fault, ends with every
object exactly once."""

from __future__ import annotations

import pytest

from sandbox.client import SandboxClient
from testkit.faults import (
    BATCHED_KINDS,
    CHANGE_PHASES,
    Reference,
    WriteRoute,
    reference_run,
    run_case,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def references(world: SandboxClient) -> dict[str, Reference]:
    return {phase: reference_run(world, phase) for phase in CHANGE_PHASES}


def test_the_rebaselines_routes_reach_every_system(references: dict[str, Reference]) -> None:
    routes = references["rebaseline"].routes
    assert {route.system for route in routes} >= {"gitlab", "google", "mavenlink", "salesforce"}
    assert WriteRoute("mavenlink", "PUT", "/mavenlink/api/v1/workspaces/{object_id}.json") in routes
    change = references["change-request"].routes
    assert WriteRoute("gitlab", "POST", "/gitlab/api/v4/projects/{project}/issues") in change


@pytest.mark.parametrize("kind", BATCHED_KINDS)
@pytest.mark.parametrize("phase", CHANGE_PHASES)
def test_a_fault_on_every_write_route_ends_with_every_object_once(
    world: SandboxClient, references: dict[str, Reference], phase: str, kind: str
) -> None:
    reference = references[phase]
    case = run_case(world, reference, kind, reference.routes)
    assert case.problems == [], "\n".join(case.problems or [])
    assert case.faults >= len(reference.routes)
