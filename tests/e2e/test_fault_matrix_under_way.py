"""The fault matrix of an engagement under way (test_fault_matrix.py's): the weekly status report,
Validate's acceptance request and the acceptances the passive clock records (a fixed fee: each
releases its share on Kantata's Billing Schedule). Every write route, under every kind of fault,
ends with every object once."""

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


def test_validates_routes_reach_gmail_gitlab_and_kantatas_billing_schedule(
    references: dict[str, Reference],
) -> None:
    request = references["validate"].routes
    assert WriteRoute("google", "POST", "/google/gmail/v1/users/{user_id}/drafts/send") in request
    assert WriteRoute("gitlab", "POST", "/gitlab/api/v4/projects/{project}/issues/{iid}/notes") in (
        request
    )
    accepted = references["passive-acceptance"].routes
    assert WriteRoute("mavenlink", "POST", "/mavenlink/api/v1/billing_milestones.json") in accepted
    assert WriteRoute("mavenlink", "PUT", "/mavenlink/api/v1/stories/{object_id}.json") in accepted
    answers = google_answers(references.values())
    assert {a["service"] for a in answers} >= {"sheets", "gmail"}
    assert nonconforming(answers) == []


def test_a_fault_on_every_write_route_ends_with_every_object_once(
    world: SandboxClient, references: dict[str, Reference], phase: str, kind: str
) -> None:
    assert_every_object_once(world, references[phase], kind)
