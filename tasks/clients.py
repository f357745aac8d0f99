"""The composition root of psflow's outside systems: `systems()` is the one way a task reaches them.

A `Systems` turns the saved Blocks (or the ones a test gives) into the clients: built once per
thread, because httplib2 (under googleapiclient) and requests sessions are not safe to share
between the threads of a concurrent task runner, and paced by the quotas their requests count
toward (tasks/pacing.py). It also holds what a run keeps for itself: the Slack channels it listed,
the rate limits it declared, the clock, the memory of what an outside system cannot look up. A
flow run gets a Systems of its own, so nothing kept outlives the run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from prefect.blocks.core import Block

from blocks import (
    GitLabConnection,
    GoogleWorkspaceConnection,
    MavenlinkConnection,
    PsflowSettings,
    SalesforceConnection,
    SlackConnection,
    load,
)
from core.clock import Clock, RemoteClock, SystemClock
from tasks.pacing import Pacer

if TYPE_CHECKING:  # the libraries themselves load with the first client (see blocks/)
    import gitlab
    import gspread
    import httpx
    import simple_salesforce
    import slack_sdk
    from googleapiclient.discovery import Resource
    from prefect.results import ResultStore

B = TypeVar("B", bound=Block)
T = TypeVar("T")


class Systems:
    """The outside systems of one flow run (or one test)."""

    def __init__(
        self,
        blocks: Iterable[Block] = (),
        memory: ResultStore | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._blocks: dict[type[Block], Block] = {type(block): block for block in blocks}
        self._memory = memory
        self._clock = clock
        self._local = threading.local()
        self._pacer: Pacer | None = None
        # the Slack channels a flow run has seen, by name (tasks/slack.py `_seen`): `listed` once
        # it listed them all (conversations.list is Tier 2: 20 a minute for the whole workspace)
        self.channels: dict[str, dict[str, Any]] = {}
        self.listed = False
        self.channels_of: str | None = None  # the run they were seen by
        # psflow's messages that run found or posted, by (channel id, key): never edited or
        # deleted by psflow, so once found they stay found (tasks/slack.py `_scan`)
        self.messages: dict[tuple[str, str], Any] = {}

    # --- configuration ---------------------------------------------------------------------

    def connection(self, block_type: type[B]) -> B:
        """The Block of this type: the one given, else the saved one (loaded once)."""
        block = self._blocks.get(block_type)
        if not isinstance(block, block_type):
            block = load(block_type)
            self._blocks[block_type] = block
        return block

    @property
    def settings(self) -> PsflowSettings:
        return self.connection(PsflowSettings)

    def clock(self) -> Clock:
        """The sandbox's clock where the settings name one (demo, tests), else this machine's."""
        if self._clock is None:
            url = self.settings.clock_url
            self._clock = RemoteClock(url) if url else SystemClock()
        return self._clock

    def memory(self) -> ResultStore:
        """Where a task records what an outside system cannot look up consistently (a Gmail
        draft's id, until Gmail's search shows the e-mail): Prefect's result storage, which
        every worker of an installation shares (README, "Running in production")."""
        if self._memory is None:
            from prefect.results import get_result_store

            self._memory = get_result_store()
        return self._memory

    @property
    def pacer(self) -> Pacer:
        if self._pacer is None:
            self._pacer = Pacer(enabled=self.settings.pace_requests)
        return self._pacer

    # --- the clients, one per thread ----------------------------------------------------------

    def _per_thread(self, name: str, build: Callable[[], T]) -> T:
        clients: dict[str, Any] = self._local.__dict__.setdefault("clients", {})
        if name not in clients:
            clients[name] = build()
        client: T = clients[name]
        return client

    def salesforce(self) -> simple_salesforce.Salesforce:
        return self._per_thread(
            "salesforce", lambda: self.connection(SalesforceConnection).get_client()
        )

    def gitlab(self) -> gitlab.Gitlab:
        def build() -> gitlab.Gitlab:
            client = self.connection(GitLabConnection).get_client()
            self.pacer.session(client.session, "gitlab")
            return client

        return self._per_thread("gitlab", build)

    def mavenlink(self) -> httpx.Client:
        return self._per_thread(
            "mavenlink",
            lambda: self.pacer.httpx(
                self.connection(MavenlinkConnection).get_client(), "mavenlink"
            ),
        )

    def slack(self) -> slack_sdk.WebClient:
        return self._per_thread(
            "slack", lambda: self.pacer.slack(self.connection(SlackConnection).get_client())
        )

    @property
    def google(self) -> GoogleWorkspaceConnection:
        return self.connection(GoogleWorkspaceConnection)

    def _google(self, name: str, build: Callable[[], Resource]) -> Resource:
        def paced() -> Resource:
            service = build()
            self.pacer.session(service._http.session, "google")  # blocks/google_clients.py's
            return service

        return self._per_thread(name, paced)

    def drive(self) -> Resource:
        return self._google("drive", self.google.drive)

    def sheets(self) -> Resource:
        return self._google("sheets", self.google.sheets)

    def gmail(self) -> Resource:
        return self._google("gmail", self.google.gmail)

    def calendar(self) -> Resource:
        return self._google("calendar", self.google.calendar)

    def docs(self) -> Resource:
        return self._google("docs", self.google.docs)

    def slides(self) -> Resource:
        return self._google("slides", self.google.slides)

    def gspread(self) -> gspread.Client:
        def build() -> gspread.Client:
            client = self.google.gspread_client()
            self.pacer.session(client.http_client.session, "google")
            return client

        return self._per_thread("gspread", build)


# What `configure` gave (tests, benchmarks, scripts), else a Systems per flow run: a run's
# caches die with it, and a process running several runs in turn starts each afresh.
_configured: list[Systems] = []
_current: dict[str, Systems] = {}


def systems() -> Systems:
    """The outside systems of this flow run (or of this test): the one accessor tasks use."""
    if _configured:
        return _configured[0]
    from prefect.runtime import flow_run

    run = str(flow_run.get_id() or "")
    if run not in _current:
        _current.clear()  # the previous run's, in a process that runs several in turn
        _current[run] = Systems()
    return _current[run]


def configure(
    blocks: Iterable[Block], memory: ResultStore | None = None, clock: Clock | None = None
) -> Systems:
    """Use these Blocks (and `memory`, `clock`) instead of the saved ones, until `reset()` (a
    composition root: tests point the tasks at a sandbox without a Prefect server)."""
    _configured[:] = [Systems(blocks, memory, clock)]
    return _configured[0]


def reset() -> None:
    """Forget what was configured, loaded and built (tests that re-save Blocks between runs)."""
    _configured.clear()
    _current.clear()
