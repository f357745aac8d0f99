"""A real browser on the Prefect UI, as the PS team uses it: Playwright driving Debian's Chromium
(Playwright's own browser download cannot be reached from these machines; `make test` installs
Debian's package). Every step a test takes is kept as a screenshot under `.data/screenshots/`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from psflow.local import REPOSITORY

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPOSITORY / ".data" / "screenshots"
# As the machine's probe starts it: no sandbox as root, and nothing that reaches for the network
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# A poll of the UI: it refreshes runs by itself every few seconds
WAIT_MS = 60_000


class InBrowserThread:
    """A Playwright object whose every call runs in the browser's own thread.

    Playwright's sync API keeps an event loop running in the thread that started it, and Prefect's
    sync functions called from a thread with a running loop hand back a coroutine instead of
    running it (a resume, an in-process flow run would silently not happen). So the browser lives
    in a thread of its own, and the tests talk to it through this proxy as if it were local.
    """

    def __init__(self, target: Any, thread: ThreadPoolExecutor) -> None:
        self._target, self._thread = target, thread

    def __getattr__(self, name: str) -> Any:
        attribute = self._thread.submit(getattr, self._target, name).result()
        if not callable(attribute):
            return self._wrapped(attribute)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._wrapped(self._thread.submit(attribute, *args, **kwargs).result())

        return call

    def _wrapped(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._wrapped(item) for item in value]
        if type(value).__module__.startswith("playwright."):
            return InBrowserThread(value, self._thread)
        return value


@contextmanager
def chromium() -> Iterator[Any]:
    """The browser (an `InBrowserThread` Browser), or a failure that says how to get one."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}: `make test` installs it as root, "
            "else run `sudo apt-get install chromium`"
        )
    with ThreadPoolExecutor(1, thread_name_prefix="browser") as thread:
        playwright = thread.submit(lambda: sync_playwright().start()).result()
        try:
            browser = thread.submit(
                playwright.chromium.launch, executable_path=str(CHROMIUM), args=ARGS
            ).result()
            yield InBrowserThread(browser, thread)
            thread.submit(browser.close).result()
        finally:
            thread.submit(playwright.stop).result()


class Screen:
    """One test's page, keeping a numbered screenshot of each step it names."""

    def __init__(self, page: Any, name: str) -> None:
        self.page = page
        self.folder = SCREENSHOTS / re.sub(r"[^\w.-]+", "_", name)
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.steps = 0

    def shoot(self, step: str) -> Path:
        self.steps += 1
        slug = re.sub(r"[^\w.-]+", "-", step)
        path = self.folder / f"{self.steps:02d}-{slug}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path
