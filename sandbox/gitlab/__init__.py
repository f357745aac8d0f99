"""GitLab REST API v4 stand-in, mounted under `/gitlab` (python-gitlab's url: http://HOST:PORT/gitlab).

What psflow uses: users, groups and subgroups, projects, members, labels, issues, notes and group
epics (a Premium feature, implemented as Premium behaves). Paths, JSON shapes, status codes, error
bodies and offset paging follow docs.gitlab.com/api; see `api.py` for the routing on raw paths.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from email.utils import formatdate

from starlette.responses import JSONResponse, PlainTextResponse, Response

from sandbox.core import ApiError, Quota, System

# Importing the handler modules registers their routes.
from sandbox.gitlab import issues, namespaces  # noqa: F401
from sandbox.gitlab.api import GitLabError
from sandbox.gitlab.endpoint import router
from sandbox.gitlab.pages import pages
from sandbox.gitlab.seed import seed

API = "/gitlab/api/v4"


def _get(pattern: str) -> Callable[[str, str], bool]:
    regex = re.compile(API + pattern)
    return lambda method, path: method == "GET" and regex.fullmatch(path) is not None


# GitLab.com's published rate limits (docs.gitlab.com/user/gitlab_com/rate_limits/): authenticated
# API traffic is limited to 2,000 requests per minute per user (Rack::Attack
# `throttle_authenticated_api`). On top of it the Groups and Projects APIs have per-endpoint limits
# (docs.gitlab.com/administration/settings/rate_limit_on_groups_api/ and
# .../rate_limit_on_projects_api/, enforced on GitLab.com since April 2025).
QUOTAS = (
    Quota(
        "gitlab.api-per-user",
        "authenticated API requests: 2,000 per minute per user",
        2000,
        60,
        lambda method, path: path.startswith(API + "/"),
    ),
    Quota(
        "gitlab.get-project",
        "GET /projects/:id: 400 per minute per user",
        400,
        60,
        _get(r"/projects/[^/]+"),
    ),
    Quota(
        "gitlab.list-projects",
        "GET /projects: 2,000 per 10 minutes per user",
        2000,
        600,
        _get(r"/projects"),
    ),
    Quota(
        "gitlab.get-group",
        "GET /groups/:id: 400 per minute per user",
        400,
        60,
        _get(r"/groups/[^/]+"),
    ),
    Quota("gitlab.list-groups", "GET /groups: 200 per minute per user", 200, 60, _get(r"/groups")),
    Quota(
        "gitlab.group-projects",
        "GET /groups/:id/projects: 600 per minute per user",
        600,
        60,
        _get(r"/groups/[^/]+/projects"),
    ),
)
THROTTLE = "gitlab.api-per-user"


def quota_error(quota: Quota, wait: float) -> ApiError:
    """The throttling answer GitLab gives.

    The instance-wide API limit is Rack::Attack's: 429, plain text `Retry later`, and the RateLimit
    headers (RateLimit-Reset is a Unix time). The per-endpoint limits are the application rate
    limiter's: 429 with `{"message": {"error": ...}}` and Retry-After set to the window.
    """
    retry_after = max(math.ceil(wait), 1)
    if quota.id != THROTTLE:
        body = {"error": "This endpoint has been requested too many times. Try again later."}
        return GitLabError(429, {"message": body}, {"Retry-After": str(int(quota.window_seconds))})
    reset = int(time.time()) + retry_after
    headers = {
        "RateLimit-Name": "throttle_authenticated_api",
        "RateLimit-Limit": str(math.ceil(quota.limit * 60 / quota.window_seconds)),
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": str(reset),
        "RateLimit-ResetTime": formatdate(reset, usegmt=True),
        "Retry-After": str(retry_after),
    }
    return ApiError(429, "Retry later\n", "rate_limited", headers)


def render_error(err: ApiError) -> Response:
    """GitLab's error bodies: `{"message": ...}` (a string, or field -> messages), `{"error": ...}`
    for parameter errors and unknown routes, plain `Retry later` when throttled. python-gitlab turns
    them into GitlabGetError, GitlabCreateError, GitlabAuthenticationError and the like."""
    if isinstance(err, GitLabError):
        return JSONResponse(err.body, err.status, err.headers)
    if err.code == "rate_limited":
        return PlainTextResponse(err.message, err.status, err.headers)
    if err.status == 404:
        return JSONResponse({"error": "404 Not Found"}, 404, err.headers)
    if err.status == 405:
        return JSONResponse({"error": "405 Not Allowed"}, 405, err.headers)
    return JSONResponse({"message": err.message}, err.status, err.headers)


SYSTEM = System(
    name="gitlab",
    router=router,
    render_error=render_error,
    seed=seed,
    quotas=QUOTAS,
    quota_error=quota_error,
    pages=pages,
)
