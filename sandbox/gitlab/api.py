"""Routing, parameters, errors and paging of the GitLab REST v4 stand-in.

One FastAPI route (endpoint.py) takes every `/gitlab/api/v4/...` request and dispatches on the RAW
path: GitLab ids may be url-encoded full paths (`ps-customers%2Facme-corporation`) and Starlette
decodes `%2F` before routing, so FastAPI's own matching cannot tell `a%2Fb` (one id) from `a/b`
(two segments).

Handlers are plain (not async) functions called from the one async endpoint after the body has
been read: they cannot await, so each runs atomically on the event loop, as the core requires.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from fastapi import Request

from sandbox.core import ApiError, Json, Sandbox, base_url

SYSTEM = "gitlab"
API_PREFIX = "/api/v4"
DEFAULT_PER_PAGE = 20  # GitLab's default page size
MAX_PER_PAGE = 100  # larger per_page values are capped, as GitLab does


class GitLabError(ApiError):
    """An error with GitLab's exact JSON body, e.g. `{"message": {"path": [...]}}` or
    `{"error": "title is missing"}`."""

    def __init__(self, status: int, body: Json, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, json.dumps(body), "gitlab", headers)
        self.body = body


def not_found(what: str) -> GitLabError:
    """GitLab's `not_found!(what)`: `{"message": "404 Project Not Found"}`."""
    return GitLabError(404, {"message": f"404 {what} Not Found"})


def record_not_found() -> GitLabError:
    """What GitLab answers when a lookup by iid fails (ActiveRecord::RecordNotFound)."""
    return GitLabError(404, {"message": "404 Not found"})


def bad_param(message: str) -> GitLabError:
    """A Grape parameter error: `{"error": "title is missing"}`."""
    return GitLabError(400, {"error": message})


def invalid(errors: dict[str, list[str]]) -> GitLabError:
    """A model validation error (`render_validation_error!`): `{"message": {"field": [...]}}`."""
    return GitLabError(400, {"message": errors})


@dataclass
class Reply:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    """One request as a handler sees it: the sandbox, the path ids, the merged query and body
    parameters, and the user behind the token."""

    sb: Sandbox
    request: Request
    ids: dict[str, str]
    params: dict[str, Any]
    user: Json

    @property
    def base(self) -> str:
        """The GitLab base URL as this client reaches it, e.g. http://127.0.0.1:8765/gitlab."""
        return base_url(self.request, SYSTEM)

    def has(self, name: str) -> bool:
        return self.params.get(name) is not None

    def require(self, *names: str) -> None:
        missing = [n for n in names if not self.has(n)]
        if missing:
            raise bad_param(", ".join(f"{n} is missing" for n in missing))

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        return default if value is None else str(value)

    def integer(self, name: str) -> int | None:
        value = self.params.get(name)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_param(f"{name} is invalid") from None

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.params.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "yes", "t"):
            return True
        if str(value).lower() in ("false", "0", "no", "f"):
            return False
        raise bad_param(f"{name} is invalid")

    def choice(self, name: str, values: tuple[str, ...], default: str | None = None) -> str | None:
        value = self.text(name, default)
        if value is not None and value not in values:
            raise bad_param(f"{name} does not have a valid value")
        return value

    def names(self, name: str) -> list[str] | None:
        """A list of label names: a comma-separated string (query, or python-gitlab bodies) or a
        JSON array, as Grape's `Array[String]` with comma splitting accepts both."""
        value = self.params.get(name)
        if value is None:
            return None
        items = value if isinstance(value, list) else str(value).split(",")
        return [str(item).strip() for item in items if str(item).strip()]

    def integers(self, name: str) -> list[int] | None:
        value = self.params.get(name)
        if value is None:
            return None
        items = value if isinstance(value, list) else str(value).split(",")
        try:
            return [int(item) for item in items if str(item).strip() != ""]
        except (TypeError, ValueError):
            raise bad_param(f"{name} is invalid") from None

    def page(self, items: list[Json]) -> Reply:
        """One page of `items`, with GitLab's offset-pagination headers and `Link`."""
        page = self.integer("page") or 1
        per_page = self.integer("per_page") or DEFAULT_PER_PAGE
        page, per_page = max(page, 1), min(max(per_page, 1), MAX_PER_PAGE)
        total = len(items)
        pages = max(math.ceil(total / per_page), 1)
        start = (page - 1) * per_page
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Total": str(total),
            "X-Total-Pages": str(pages),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
        }
        links = []
        if page > 1:
            links.append((page - 1, "prev"))
        if page < pages:
            links.append((page + 1, "next"))
        links += [(1, "first"), (pages, "last")]
        headers["Link"] = ", ".join(
            f'<{self._page_url(n, per_page)}>; rel="{rel}"' for n, rel in links
        )
        return Reply(items[start : start + per_page], 200, headers)

    def _page_url(self, page: int, per_page: int) -> str:
        # the same request with another page, on the host and prefix this client used
        raw_path = self.request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
        api_path = raw_path[raw_path.index(API_PREFIX) :]
        query = [
            (k, v)
            for k, v in parse_qsl(self.request.url.query, keep_blank_values=True)
            if k not in ("page", "per_page")
        ]
        query += [("page", str(page)), ("per_page", str(per_page))]
        return f"{self.base}{api_path}?{urlencode(query)}"


Handler = Callable[[Ctx], Json | list[Json] | Reply]


@dataclass(frozen=True)
class Route:
    method: str
    parts: tuple[str, ...]  # literal segments, or "{name}" for an id
    handler: Handler

    def match(self, segments: list[str]) -> dict[str, str] | None:
        if len(segments) != len(self.parts):
            return None
        ids = {}
        for part, segment in zip(self.parts, segments, strict=True):
            if part.startswith("{"):
                ids[part[1:-1]] = unquote(segment)
            elif part != segment:
                return None
        return ids


ROUTES: list[Route] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Register a handler for `method` and a path under /api/v4, e.g. "/groups/{group}"."""

    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method, tuple(pattern.strip("/").split("/")), handler))
        return handler

    return register
