"""The configured clients tasks use, built from the saved Blocks.

A Block is loaded once per process (a flow run is one process); clients are built once per thread,
because httplib2 (under googleapiclient) and requests sessions are not safe to share between the
threads of a concurrent task runner. Each is paced by the quotas its requests count toward
(tasks/pacing.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from prefect.blocks.core import Block
from prefect.results import ResultStore

from blocks import (
    GitLabConnection,
    GoogleWorkspaceConnection,
    MavenlinkConnection,
    PsflowSettings,
    SalesforceConnection,
    SlackConnection,
    load,
)
from tasks.pacing import paced_httpx, paced_session, paced_slack

if TYPE_CHECKING:  # the libraries themselves load with the first client (see blocks/)
    import gitlab
    import gspread
    import httpx
    import simple_salesforce
    import slack_sdk
    from googleapiclient.discovery import Resource

B = TypeVar("B", bound=Block)
T = TypeVar("T")

_local = threading.local()
_generation = 0  # bumped by reset(), so every thread rebuilds its clients


_configured: dict[type[Block], Block] = {}


@cache
def connection(block_type: type[B]) -> B:
    """The Block of this type: the one `configure` gave, else the saved one."""
    configured = _configured.get(block_type)
    return configured if isinstance(configured, block_type) else load(block_type)


_memory: list[ResultStore] = []  # the configured one, if any


def configure(blocks: Iterable[Block], memory: ResultStore | None = None) -> None:
    """Use these Blocks instead of the saved ones, and `memory` instead of Prefect's result store
    (a composition root: tests point the tasks at a sandbox without a Prefect server)."""
    reset()
    _configured.clear()
    _configured.update({type(block): block for block in blocks})
    _memory[:] = [memory] if memory is not None else []


def memory() -> ResultStore:
    """Where a task records what an outside system cannot look up consistently (a Gmail draft's
    id, until Gmail's search shows the e-mail): Prefect's result storage, which every worker of an
    installation shares (README, "Running in production")."""
    if _memory:
        return _memory[0]
    from prefect.results import get_result_store

    return get_result_store()


def settings() -> PsflowSettings:
    return connection(PsflowSettings)


def _per_thread(name: str, build: Callable[[], T]) -> T:
    if getattr(_local, "generation", None) != _generation:
        _local.generation, _local.clients = _generation, {}
    clients: dict[str, Any] = _local.clients
    if name not in clients:
        clients[name] = build()
    client: T = clients[name]
    return client


def salesforce() -> simple_salesforce.Salesforce:
    return _per_thread("salesforce", lambda: connection(SalesforceConnection).get_client())


def gitlab_client() -> gitlab.Gitlab:
    def build() -> gitlab.Gitlab:
        client = connection(GitLabConnection).get_client()
        paced_session(client.session, "gitlab")
        return client

    return _per_thread("gitlab", build)


def mavenlink() -> httpx.Client:
    return _per_thread(
        "mavenlink", lambda: paced_httpx(connection(MavenlinkConnection).get_client(), "mavenlink")
    )


def slack() -> slack_sdk.WebClient:
    return _per_thread("slack", lambda: paced_slack(connection(SlackConnection).get_client()))


def google() -> GoogleWorkspaceConnection:
    return connection(GoogleWorkspaceConnection)


def _paced_service(service: Resource) -> Resource:
    paced_session(service._http.session, "google")  # blocks/google_clients.py's requests http
    return service


def drive() -> Resource:
    return _per_thread("drive", lambda: _paced_service(google().drive()))


def sheets() -> Resource:
    return _per_thread("sheets", lambda: _paced_service(google().sheets()))


def gmail() -> Resource:
    return _per_thread("gmail", lambda: _paced_service(google().gmail()))


def calendar() -> Resource:
    return _per_thread("calendar", lambda: _paced_service(google().calendar()))


def docs() -> Resource:
    return _per_thread("docs", lambda: _paced_service(google().docs()))


def gspread_client() -> gspread.Client:
    def build() -> gspread.Client:
        client = google().gspread_client()
        paced_session(client.http_client.session, "google")
        return client

    return _per_thread("gspread", build)


def reset() -> None:
    """Forget loaded Blocks and built clients (tests that re-save Blocks between runs)."""
    global _generation
    connection.cache_clear()
    _generation += 1
