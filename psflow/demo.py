"""`psflow demo`: the sandbox and a local Prefect server, Blocks registered, and a tour of what the
sandbox holds, read back through the real client libraries configured by those Blocks.

The lifecycle phases join this tour as they are built (issues 3-5).
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import ExitStack
from pathlib import Path

from psflow.local import (
    launch_prefect,
    launch_sandbox,
    prefect_env,
    running,
    wait_prefect,
    wait_sandbox,
)


def say(text: str = "") -> None:
    print(text, flush=True)


def run(data_dir: Path) -> int:
    started = time.monotonic()
    shutil.rmtree(data_dir, ignore_errors=True)  # every demo starts from the same seed
    with ExitStack() as stack:
        prefect_child, api_url = launch_prefect(data_dir / "prefect")
        stack.enter_context(running(prefect_child))
        sandbox_child, sandbox_url = launch_sandbox(data_dir / "sandbox")
        stack.enter_context(running(sandbox_child))
        say(f"Sandbox:    {sandbox_url}   (control API: {sandbox_url}/_sandbox/docs)")
        say(f"Prefect API: {api_url}")
        say(f"Prefect UI:  {api_url.removesuffix('/api')}")
        say()
        wait_sandbox(sandbox_child, sandbox_url)
        say("✓ sandbox is up")
        wait_prefect(prefect_child, api_url)
        say(f"✓ Prefect server is up ({time.monotonic() - started:.0f} s)")

        # Prefect reads its settings from the environment when first imported.
        os.environ.update(prefect_env(data_dir / "prefect", api_url))
        import blocks

        for slug in blocks.save_sandbox_blocks(sandbox_url):
            say(f"✓ block {slug}")
        say()
        tour()
    say()
    say(f"Demo finished in {time.monotonic() - started:.0f} s; servers stopped.")
    return 0


def tour() -> None:
    """What each system holds, read with the clients the saved Blocks build."""
    from blocks import (
        GitLabConnection,
        GoogleWorkspaceConnection,
        MavenlinkConnection,
        SalesforceConnection,
        SlackConnection,
        load,
    )

    sf = load(SalesforceConnection).get_client()
    rows = sf.query_all(
        "SELECT Name, StageName, Amount, CurrencyIsoCode, Account.Name FROM Opportunity "
        "ORDER BY StageName"
    )["records"]
    say(f"Salesforce: {len(rows)} opportunities")
    for row in rows:
        say(
            f"  {row['StageName']:<24} {row['Amount']:>10,.0f} {row['CurrencyIsoCode']}  "
            f"{row['Name']}  ({row['Account']['Name']})"
        )

    google = load(GoogleWorkspaceConnection)
    drive = google.drive().files()
    folder = drive.list(
        q="name = 'PS Templates' and mimeType = 'application/vnd.google-apps.folder'",
        fields="files(id)",
    ).execute()["files"][0]
    files = drive.list(q=f"'{folder['id']}' in parents and trashed = false").execute()["files"]
    say(f"Google Drive: {len(files)} templates")
    for file in files:
        say(f"  {file['name']}")
    roster = google.gspread_client().open("PS Skills Matrix").worksheet("PSEs").get_all_records()
    say(f"Google Sheets: PS Skills Matrix lists {len(roster)} PSEs")
    for pse in roster:
        say(f"  {pse['Name']:<16} {pse['Time zone']:<20} {pse['Skills']}")

    ml = load(MavenlinkConnection).get_client()
    workspaces = ml.get("workspaces.json").raise_for_status().json()["workspaces"]
    say(f"Mavenlink: {len(workspaces)} workspaces")
    for ws in workspaces.values():
        say(f"  {ws['title']}")

    slack = load(SlackConnection).get_client()
    channels = slack.conversations_list()["channels"]
    say(f"Slack: channels {', '.join('#' + c['name'] for c in channels)}")

    gl = load(GitLabConnection).get_client()
    groups = gl.groups.list(get_all=True)
    say(f"GitLab: groups {', '.join(g.full_path for g in groups)}")
