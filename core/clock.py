"""The one clock of psflow: what "now" is. This machine's in production; in the demo and the tests
the sandbox's, which they move through weeks in seconds (`POST /_sandbox/clock`). Rules that depend
on "today" take it as an argument; flows ask this clock for it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx


class Clock(ABC):
    @abstractmethod
    def now(self) -> datetime:
        """The current moment, aware (UTC)."""

    def today(self, time_zone: str) -> date:
        """The day it is now in `time_zone` (the customer's: a deadline ends at their midnight)."""
        return self.now().astimezone(ZoneInfo(time_zone)).date()


class SystemClock(Clock):
    """This machine's clock: production's."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class RemoteClock(Clock):
    """A clock kept by a server (the sandbox's `GET <url>` answering {"now": ISO 8601}): every
    process of an installation reads the same moment, however the tests move it."""

    def __init__(self, url: str) -> None:
        self.url = url
        # one client for every reading: a new one costs ~30 ms of CPU (its TLS context)
        self._http = httpx.Client(timeout=10)

    def now(self) -> datetime:
        answer = self._http.get(self.url)
        answer.raise_for_status()
        return datetime.fromisoformat(answer.json()["now"]).astimezone(UTC)
