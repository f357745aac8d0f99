"""The object pages behind the links psflow hands people: a Salesforce record, a GitLab group,
project, epic or issue, a Slack channel or message, a Calendar event, a Kantata project. Each
system's web address for an object (the URL its API answers, or psflow builds) opens a plain page
of what the sandbox holds for it, so a link in a run's artifact or a Slack message works in the
demo and in the browser tests. Google Drive's files have their own pages (`google/viewer.py`).

These are GETs of people's browsers: logged like any request, no API traffic of psflow's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from typing import Any

from starlette.responses import HTMLResponse

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #202124; }
header { border-bottom: 1px solid #dadce0; margin-bottom: 1rem; }
.meta { color: #5f6368; font-size: .9rem; }
table { border-collapse: collapse; }
td, th { border: 1px solid #dadce0; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f1f3f4; font-weight: 500; color: #5f6368; white-space: nowrap; }
pre { margin: 0; white-space: pre-wrap; }
"""


def object_page(system: str, kind: str, title: str, fields: Mapping[str, Any]) -> HTMLResponse:
    """`title` as the page's heading, then every field of the object as stored."""
    rows = "\n".join(
        f"<tr><th>{escape(str(name))}</th><td>{_value(value)}</td></tr>"
        for name, value in fields.items()
    )
    return HTMLResponse(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{_STYLE}</style></head>
<body><header><h1>{escape(title)}</h1><p class="meta">{escape(system)} · {escape(kind)}</p></header>
<table>
{rows}
</table></body></html>"""
    )


def not_found(system: str, what: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><title>Not found</title><h1>{escape(system)}: {escape(what)} not found</h1>",
        404,
    )


def _value(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"<pre>{escape(json.dumps(value, indent=2, ensure_ascii=False))}</pre>"
    return escape("" if value is None else str(value))
