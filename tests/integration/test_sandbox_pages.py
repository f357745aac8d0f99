"""The pages the links psflow hands out open: each system's web address of an object, as its API
gives it (or psflow builds it), shows that object."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from sandbox import seed as demo
from sandbox.client import SandboxClient


@pytest.fixture
def web(sandbox: SandboxClient, sandbox_url: str) -> httpx.Client:
    return httpx.Client(base_url=sandbox_url, timeout=10)


def test_a_salesforce_record_opens_in_lightning(sandbox: SandboxClient, web: httpx.Client) -> None:
    opportunity = demo.OPPORTUNITIES[1]
    page = web.get(f"/salesforce/lightning/r/Opportunity/{opportunity.id}/view")
    assert page.status_code == 200
    assert f"<h1>{opportunity.name}</h1>" in page.text
    assert web.get("/salesforce/lightning/r/Opportunity/006Dn0000000099IAA/view").status_code == 404


def test_gitlab_groups_projects_epics_and_issues_open_at_their_web_url(
    sandbox: SandboxClient, web: httpx.Client
) -> None:
    api = httpx.Client(
        base_url=str(web.base_url).rstrip("/") + "/gitlab/api/v4", headers={"PRIVATE-TOKEN": "t"}
    )
    project = api.get(f"/projects/{quote(demo.acme_project_path(), safe='')}").json()
    group = api.get(f"/groups/{project['namespace']['id']}").json()
    epic = api.get(f"/groups/{group['id']}/epics").json()[0]
    issue = api.get(f"/projects/{project['id']}/issues").json()[0]
    for thing, title in (
        (group, group["name"]),
        (project, project["name"]),
        (epic, epic["title"]),
        (issue, issue["title"]),
    ):
        page = httpx.get(thing["web_url"], timeout=10)
        assert page.status_code == 200, thing["web_url"]
        assert title in page.text
    assert httpx.get(f"{project['web_url']}/-/issues/999", timeout=10).status_code == 404


def test_a_slack_permalink_and_a_channel_open(sandbox: SandboxClient, web: httpx.Client) -> None:
    headers = {"Authorization": "Bearer xoxb-test"}
    posted = web.post(
        "/slack/api/chat.postMessage",
        json={"channel": "ps_planning", "text": "Staffing & <!here> ok"},
        headers=headers,
    ).json()
    link = web.post(
        "/slack/api/chat.getPermalink",
        json={"channel": posted["channel"], "message_ts": posted["ts"]},
        headers=headers,
    ).json()["permalink"]
    page = httpx.get(link, timeout=10)
    assert page.status_code == 200
    assert "Staffing &amp; &lt;!here&gt; ok" in page.text  # as Slack shows it, escaped for HTML
    assert web.get(f"/slack/archives/{posted['channel']}").status_code == 200


def test_a_calendar_event_and_a_kantata_project_open(
    sandbox: SandboxClient, web: httpx.Client
) -> None:
    event = web.post(
        "/google/calendar/v3/calendars/primary/events",
        json={
            "summary": "Kickoff: Acme",
            "start": {"dateTime": "2027-01-11T10:00:00-05:00"},
            "end": {"dateTime": "2027-01-11T11:00:00-05:00"},
        },
        headers={"Authorization": "Bearer t"},
    ).json()
    page = httpx.get(event["htmlLink"], timeout=10)
    assert page.status_code == 200
    assert "<h1>Kickoff: Acme</h1>" in page.text
    workspace = sandbox.state("mavenlink", "workspaces")[0]
    page = web.get(f"/mavenlink/workspaces/{workspace['id']}")
    assert page.status_code == 200
    assert workspace["title"] in page.text
    assert web.get("/mavenlink/workspaces/999999").status_code == 404
