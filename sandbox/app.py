"""The sandbox server: every system's router, the control API and the shared middleware in one app."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from sandbox import control
from sandbox.core import ApiError, Sandbox, SandboxMiddleware, Store, System, default_error

# One module per system; each exposes `SYSTEM`, mounted under `/<SYSTEM.name>`.
SYSTEM_MODULES = ("salesforce", "gitlab", "google", "mavenlink", "slack")


def load_systems() -> list[System]:
    return [importlib.import_module(f"sandbox.{name}").SYSTEM for name in SYSTEM_MODULES]


def create_app(
    data_dir: Path | None = None, systems: Iterable[System] | None = None
) -> SandboxMiddleware:
    """Build the sandbox. State lives in `data_dir/sandbox.db` (memory only when None) and is seeded
    with the demo organisation the first time."""
    systems = list(systems) if systems is not None else load_systems()
    sandbox = Sandbox(
        store=Store(data_dir / "sandbox.db" if data_dir else None),
        systems={system.name: system for system in systems},
    )
    app = FastAPI(
        title="psflow sandbox",
        description="Local stand-ins of the SaaS APIs psflow talks to.",
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.sandbox = sandbox
    for system in systems:
        app.include_router(system.router, prefix=f"/{system.name}")
        if system.pages is not None:
            app.include_router(system.pages, prefix=f"/{system.name}")
        if system.control is not None:
            app.include_router(system.control, prefix=f"/_sandbox/{system.name}")
    app.include_router(control.router, prefix="/_sandbox")

    def render(request: Request, err: ApiError) -> Response:
        system = sandbox.system_for(request.scope.get("raw_path", b"").decode("latin-1"))
        return (system.render_error if system else default_error)(err)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return render(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return render(request, ApiError(exc.status_code, str(exc.detail), _code(exc.status_code)))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        system = sandbox.system_for(request.scope.get("raw_path", b"").decode("latin-1"))
        status = system.validation_status if system else 400
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return render(request, ApiError(status, f"Invalid request: {problems}", "invalid"))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        # a sandbox bug still answers in the system's shape, so the client raises its usual error
        return render(request, ApiError(500, f"Sandbox error: {exc!r}", "internal"))

    if sandbox.store.empty:
        sandbox.reset(seed=True)
    # Outermost, so a dropped-connection fault reaches the server's own transport.
    return SandboxMiddleware(app, sandbox)


def _code(status: int) -> str:
    return {404: "not_found", 405: "method_not_allowed"}.get(status, "error")
