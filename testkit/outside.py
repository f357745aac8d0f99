"""The outside systems as people change them while psflow's tasks point at the sandbox: a sheet's
tab edited through the Sheets API, the settings' templates changed."""

from __future__ import annotations

import gspread

from blocks import PsflowSettings, sandbox_blocks
from tasks import clients
from tasks.clients import systems


def sheet(spreadsheet_id: str, tab: str) -> gspread.Worksheet:
    """A tab as a person edits it."""
    return systems().gspread().open_by_key(spreadsheet_id).worksheet(tab)


def use_templates(sandbox_url: str, **entries: str) -> None:
    """Point the tasks at settings whose `templates` entries are changed as a person would."""
    blocks = sandbox_blocks(sandbox_url)
    for block in blocks:
        if isinstance(block, PsflowSettings):
            block.templates = {**block.templates, **entries}
    clients.configure(blocks)
