"""The watchers' watermarks: how far each poll has read, kept in a Prefect Variable so every
worker's next poll starts there."""

from __future__ import annotations

from datetime import datetime

from prefect.variables import Variable

from tasks.clients import systems


def read(name: str) -> tuple[bool, datetime]:
    """(whether one is stored, the watermark): now the first time; never ahead of now, since a
    clock turned back (a sandbox reset) must not hide what happens next."""
    stored = Variable.get(name, default=None)
    now = systems().clock().now()
    return stored is not None, now if stored is None else min(now, datetime.fromisoformat(stored))


def advance(name: str, moment: datetime) -> None:
    """Store the watermark. Written only when it moves: on a SQLite server every write may
    collide with a run's and wait out the client's retries, stalling the next poll."""
    Variable.set(name, moment.isoformat(), overwrite=True)
