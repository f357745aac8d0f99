"""The one FastAPI route of the GitLab stand-in: every `/gitlab/api/v4/...` request, authenticated
as psflow's bot, its parameters merged, dispatched to the handler `api.route` registered."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from sandbox.core import Json, Sandbox, SandboxDep
from sandbox.gitlab.api import API_PREFIX, ROUTES, Ctx, GitLabError, Reply, bad_param
from sandbox.gitlab.seed import ensure_bot
from sandbox.kit import bearer_token, parse_json

router = APIRouter()


@router.api_route(
    API_PREFIX + "/{rest:path}",
    methods=["GET", "POST", "PUT", "DELETE"],
    include_in_schema=False,
)
async def dispatch(request: Request, sb: SandboxDep) -> Response:
    body = await request.body()  # the only await: handlers below run without yielding
    raw_path = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
    segments = raw_path[raw_path.index(API_PREFIX) + len(API_PREFIX) :].strip("/").split("/")
    matched = [(r, ids) for r in ROUTES if (ids := r.match(segments)) is not None]
    if not matched:
        raise GitLabError(404, {"error": "404 Not Found"})
    chosen = next(((r, ids) for r, ids in matched if r.method == request.method), None)
    if chosen is None:
        raise GitLabError(405, {"error": "405 Not Allowed"})
    handler, ids = chosen[0].handler, chosen[1]
    user = _authenticate(sb, request)
    params = _params(request, body)
    reply = handler(Ctx(sb, request, ids, params, user))
    if not isinstance(reply, Reply):
        reply = Reply(reply, 201 if request.method == "POST" else 200)
    return JSONResponse(reply.body, reply.status, reply.headers)


def _authenticate(sb: Sandbox, request: Request) -> Json:
    """Any non-empty token is accepted and acts as the bot user psflow's token belongs to."""
    token = request.headers.get("private-token") or request.query_params.get("private_token")
    if not (token or bearer_token(request)):
        raise GitLabError(401, {"message": "401 Unauthorized"})
    return ensure_bot(sb)  # the bot exists even in an unseeded sandbox


def _params(request: Request, body: bytes) -> dict[str, Any]:
    """Query parameters merged with the body (JSON or form), the body winning, as Grape does.
    Array parameters arrive in a query as `name[]=a&name[]=b`."""
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key.endswith("[]"):
            params.setdefault(key[:-2], []).append(value)
        else:
            params[key] = value
    if not body:
        return params
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        data = parse_json(
            body, bad_param("The provided content-type 'application/json' is not supported.")
        )
        if isinstance(data, dict):
            params.update(data)
    elif "form" in content_type:
        for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
            if key.endswith("[]"):
                params.setdefault(key[:-2], []).append(value)
            else:
                params[key] = value
    return params
