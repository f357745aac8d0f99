"""The Prefect UI as the team's console, in a real browser (testkit/browser.py): finding a phase's
run, reading its artifact and opening every link in it, answering the staffing form, pressing
Retry. Each step is kept as a screenshot under .data/screenshots/<test>/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import run_deployment

from engagement.execute import iso_week
from psflow.local import launch_prefect, launch_sandbox, running, wait_prefect, wait_sandbox
from psflow.operate import staffing_form
from sandbox.client import SandboxClient
from tasks.clients import systems
from testkit.browser import Screen
from testkit.expect import EXPECTED, body_text, objects_of, sent_mail
from testkit.faults import prepare
from testkit.phases import (
    COORDINATOR,
    choices,
    initiated,
    negotiated,
    staffed,
    three_more_weeks,
    waiting_for_staffing,
)
from testkit.runs import FINAL, run_of, state_of, wait_for_pause, wait_for_state, wait_until
from testkit.stack import PrefectStack

pytestmark = pytest.mark.e2e


def test_the_ui_calls_the_api_of_the_server_that_serves_it(tmp_path: Path) -> None:
    # left to Prefect, the UI calls the default port's API and shows "Oops. Something went wrong."
    server, api_url = launch_prefect(tmp_path, ui=True)
    with running(server):
        wait_prefect(server, api_url)
        ui = api_url.removesuffix("/api")
        settings = httpx.get(f"{ui}/ui-settings", timeout=10).json()
        assert settings["api_url"] == api_url
        assert '<div id="app"' in httpx.get(f"{ui}/", timeout=10).text  # the UI itself


def test_the_demos_servers_listen_on_loopback_only(served: PrefectStack, tmp_path: Path) -> None:
    # the demo has no login: nobody but this machine may reach its UI, API or sandbox; its
    # Prefect server is launched as the session's is, its sandbox as here
    child, url = launch_sandbox(tmp_path)
    with running(child):
        wait_sandbox(child, url)
        listening = _listening()
    for port in (served.port, int(url.rsplit(":", 1)[1])):
        assert listening.get(port) == {"127.0.0.1"}, (port, listening.get(port))


def _listening() -> dict[int, set[str]]:
    """{port: the addresses a socket listens on there}, from /proc/net/tcp and tcp6."""
    found: dict[int, set[str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state != "0A":  # LISTEN
                continue
            address, port = local.split(":")
            if len(address) == 8:  # IPv4, little-endian bytes
                shown = ".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0))
            else:
                shown = "::1" if address == "0" * 24 + "01000000" else f"ipv6:{address}"
            found.setdefault(int(port, 16), set()).add(shown)
    return found


def ui_of(served: PrefectStack) -> str:
    return served.api_url.removesuffix("/api")


def test_each_phase_run_is_found_by_name_and_every_link_of_its_artifact_opens(
    served: PrefectStack, sandbox: SandboxClient, screen: Screen
) -> None:
    (opportunity,) = staffed(sandbox)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
    run = run_of("initiate", opportunity)
    assert wait_for_state(run, *FINAL, timeout=120).type == StateType.COMPLETED

    page = screen.page
    page.goto(f"{ui_of(served)}/runs")
    page.locator("input[placeholder='Search by flow run name']:visible").fill(opportunity)
    for phase in ("pre-initiate", "initiate"):
        run_link(page, f"{phase} · Acme Corporation · {opportunity}").wait_for()
    screen.shoot("the runs of the opportunity")

    run_link(page, f"initiate · Acme Corporation · {opportunity}").click()
    page.get_by_text("Artifacts", exact=True).click()
    screen.shoot("the run's artifacts")
    page.get_by_text(f"initiate-{opportunity.lower()}", exact=True).click()
    table = page.locator("table")
    table.get_by_role("row").nth(len(EXPECTED)).wait_for()
    screen.shoot("the table of every object")

    links = {
        anchor.inner_text(): str(anchor.get_attribute("href"))
        for anchor in table.get_by_role("link").all()
        if str(anchor.get_attribute("href")).startswith(sandbox.url)
    }
    systems = {row["system"] for row in _rows(page)} - {"Gmail"}  # an e-mail has no web page
    assert {_system_of(href, sandbox.url) for href in links.values()} >= systems
    for name, href in links.items():
        opened = page.context.new_page()
        answer = opened.goto(href)
        assert answer is not None
        assert answer.status == 200, (name, href)
        assert "not found" not in opened.locator("h1").inner_text()
        opened.close()
    project = next(href for name, href in links.items() if "Project Definition" in name)
    page.goto(project)
    screen.shoot("a link opened: the Project Definition")


def run_link(page: Any, name: str) -> Any:
    return page.get_by_role("link", name=name, exact=True)


def _rows(page: object) -> list[dict[str, str]]:
    """The artifact's data, as the UI's 'Show raw data' gives it."""
    page.get_by_text("Show raw data").click()  # type: ignore[attr-defined]
    shown = page.locator("pre, code").first  # type: ignore[attr-defined]
    # the block appears before the UI fills it in (a loaded machine shows it empty for a moment)
    raw = wait_until(lambda: shown.inner_text().strip(), 10, "the artifact's raw data")
    page.get_by_text("Hide raw data").click()  # type: ignore[attr-defined]
    return list(json.loads(raw))


def _system_of(href: str, sandbox_url: str) -> str:
    head = href.removeprefix(sandbox_url).split("/")[1]
    return {
        "salesforce": "Salesforce",
        "gitlab": "GitLab",
        "mavenlink": "Mavenlink",
        "slack": "Slack",
    }.get(head, "Google Calendar" if "calendar" in href else "Google Drive")


def test_a_failed_run_is_retried_from_the_ui_and_completes_with_every_object_once(
    served: PrefectStack, sandbox: SandboxClient, screen: Screen
) -> None:
    (opportunity,) = negotiated(sandbox)
    # Kantata refuses the first task once: a permanent error, which Prefect does not retry itself
    sandbox.add_fault(r"/mavenlink/api/v1/stories(\.json)?", method="POST", status=403)
    sandbox.act("salesforce", f"/opportunities/{opportunity}/stage", stage="Closed Won")
    run = run_of("initiate", opportunity)
    assert wait_for_state(run, *FINAL, timeout=120).type == StateType.FAILED

    page = screen.page
    page.goto(f"{ui_of(served)}/runs/flow-run/{run.id}")
    page.get_by_text("Failed", exact=True).first.wait_for()
    screen.shoot("the failed run")
    page.get_by_role("button", name="Retry").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("This will retry flow run").wait_for()
    screen.shoot("asked to confirm")
    dialog.get_by_role("button", name="Retry").click()
    done = wait_for_state(run, StateType.COMPLETED, timeout=120)
    assert done.type == StateType.COMPLETED
    page.reload()
    page.get_by_text("Completed", exact=True).first.wait_for()
    screen.shoot("the retried run, completed")
    assert objects_of(sandbox, opportunity) == EXPECTED


def test_the_coordinator_approves_in_the_ui_form_choosing_among_the_ranked_pses_only(
    served: PrefectStack, sandbox: SandboxClient, screen: Screen
) -> None:
    _, run = waiting_for_staffing(sandbox)
    ranked = choices(staffing_form(run.id))

    page = screen.page
    page.goto(f"{ui_of(served)}/runs/flow-run/{run.id}")
    page.get_by_role("button", name="Resume").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Staffing proposal:").wait_for()  # the proposal and its reasoning
    screen.shoot("the staffing form")
    selects = dialog.locator(".p-select")
    assert _options(page, selects.first) == ranked  # whom to book: the ranked PSEs, nobody else
    assert _options(page, selects.last) == [COORDINATOR]  # who approves: the coordinators only
    selects.last.locator("button").first.focus()
    page.keyboard.press("ArrowDown")
    page.get_by_role("option", name=COORDINATOR).click()
    selects.last.get_by_text(COORDINATOR).wait_for()
    screen.shoot("the form filled in")
    dialog.get_by_role("button", name="Submit").click()

    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message
    page.reload()
    page.get_by_text("Completed", exact=True).first.wait_for()
    screen.shoot("the run, completed")
    assert done.message.startswith(f"Staffed: {ranked[0]}")


def _options(page: Any, select: Any) -> list[str]:
    """The choices a form's select offers (it opens from the keyboard)."""
    select.locator("button").first.focus()
    page.keyboard.press("ArrowDown")
    page.get_by_role("option").first.wait_for()
    offered = [option.inner_text() for option in page.get_by_role("option").all()]
    page.keyboard.press("Escape")
    page.get_by_role("listbox").wait_for(state="detached")
    return offered


def test_plans_two_forms_are_answered_in_the_ui(
    served: PrefectStack, sandbox: SandboxClient, screen: Screen
) -> None:
    run = run_of("plan", initiated(sandbox))
    page = screen.page
    forms = (("plan-allocation", "Confirm the team"), ("kickoff-held", "once the kickoff"))
    for key, description in forms:
        wait_for_pause(run, key)
        staffing_form(run.id)  # saved once the run is paused: the UI shows it from then on
        page.goto(f"{ui_of(served)}/runs/flow-run/{run.id}")
        page.get_by_role("button", name="Resume").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_text(description).wait_for()  # the form says what it asks, with defaults
        screen.shoot(f"the {key} form")
        dialog.get_by_role("button", name="Submit").click()
        # the run moves on once the server took the answer (on SQLite a write that collides is
        # retried by Prefect's client for up to a minute): read from the API, not the dialog
        wait_until(
            lambda key=key: (
                (s := state_of(run)).type != StateType.PAUSED or s.state_details.pause_key != key
            ),
            180,
            f"the run to take the {key} answer",
        )
    done = wait_for_state(run, *FINAL, timeout=120)
    assert done.type == StateType.COMPLETED, done.message
    page.reload()
    page.get_by_text("Completed", exact=True).first.wait_for()
    screen.shoot("the plan run, completed")


def test_the_project_owner_reviews_the_weekly_report_in_the_ui_and_sees_its_chart(
    served: PrefectStack, world: SandboxClient, screen: Screen
) -> None:
    opportunity = prepare(world, "execute")  # In Progress, two weeks of hours logged
    week = iso_week(systems().clock().today("UTC"))
    run = cast(
        FlowRun,
        run_deployment(
            "status/status",
            parameters={"opportunity_id": opportunity, "customer": "Globex", "week": week},
            timeout=0,
        ),
    )
    key = f"status-review-{week.lower()}"
    wait_for_pause(run, key)
    staffing_form(run.id)  # saved once the run is paused: the UI shows it from then on
    page = screen.page
    page.goto(f"{ui_of(served)}/runs/flow-run/{run.id}")
    page.get_by_role("button", name="Resume").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(f"review the status report {week}").wait_for()
    field(dialog, "Note").fill("Wave one is done; wave two starts Monday.")
    field(dialog, "Health Override").fill("yellow: the customer's test data is late")
    screen.shoot("the review form, filled")
    dialog.get_by_role("button", name="Submit").click()
    done = wait_for_state(run, *FINAL, timeout=180)
    assert done.type == StateType.COMPLETED, done.message

    # the artifact shows the whole report with its chart drawn in it
    page.reload()
    page.get_by_text("Artifacts", exact=True).click()
    page.get_by_text(f"status-{opportunity.lower()}", exact=True).click()
    chart = page.locator("img[alt='Burn-down']")
    chart.wait_for()
    assert str(chart.get_attribute("src")).startswith("data:image/png;base64,")
    assert chart.evaluate("image => image.naturalWidth") > 0  # the picture decoded
    page.get_by_text("Wave one is done; wave two starts Monday.").wait_for()
    screen.shoot("the week's report with its burn-down chart")
    (mail,) = sent_mail(world, f"status report {week}")
    assert "**Health: yellow** — set by" in body_text(mail)


def test_the_engagement_manager_approves_a_change_request_in_the_ui(
    served: PrefectStack, world: SandboxClient, screen: Screen
) -> None:
    opportunity = prepare(world, "execute")
    change = three_more_weeks(opportunity)
    run = cast(
        FlowRun,
        run_deployment(
            "change-request/change-request",
            parameters={
                "opportunity_id": opportunity,
                "customer": "Globex",
                "change": change.model_dump(mode="json"),
            },
            timeout=0,
        ),
    )
    wait_for_pause(run, "change-approval-cr-1")
    staffing_form(run.id)
    page = screen.page
    page.goto(f"{ui_of(served)}/runs/flow-run/{run.id}")
    page.get_by_text("change · Globex Industries · CR-1").first.wait_for()  # renamed once numbered
    page.get_by_role("button", name="Resume").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("before it goes to the customer", exact=False).first.wait_for()
    field(dialog, "Comment").fill("Within budget: the customer's test team is late")
    screen.shoot("the engagement manager's approval of CR-1")
    dialog.get_by_role("button", name="Submit").click()
    done = wait_for_state(run, *FINAL, timeout=180)
    assert done.type == StateType.COMPLETED, done.message

    # the artifact says what waits on whom; the customer was asked once
    page.reload()
    page.get_by_text("Artifacts", exact=True).click()
    page.get_by_text(f"change-{opportunity.lower()}-cr-1", exact=True).click()
    page.get_by_text("Waiting for:", exact=False).first.wait_for()
    screen.shoot("CR-1's artifact: waiting for the customer")
    (mail,) = sent_mail(world, "CR-1: written confirmation")
    assert 'reply "accepted"' in body_text(mail)
    (record,) = [m for m in world.state("slack", "messages") if "CR-1" in m.get("text", "")]
    assert "approved by" in record["text"]
    assert "test team is late" in record["text"]  # the comment typed in the form


def field(dialog: Any, label: str) -> Any:
    """A form's text field by its label (the UI's labels are not tied to their inputs)."""
    return dialog.locator(".schema-form-property", has_text=f"{label} (Optional)").locator(
        "textarea, input"
    )
