"""Slack stand-in: the Web API under `/slack/api/<method>` and incoming webhooks under
`/slack/services/<T>/<B>/<secret>`.

What psflow uses: posting (with message `metadata` carrying its idempotency key), finding its own
earlier post again in `conversations.history`, threads, pins, customer channels (create, invite,
join) and user look-ups by email; ops alerts arrive through an incoming webhook. The wire format
is in `api.py`; each family of methods registers itself there (`users`, `conversations`, `chat`,
`pins`).
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox.core import Quota, System
from sandbox.slack import conversations, pins, users  # noqa: F401  (they register their methods)
from sandbox.slack.api import (
    NAME,
    OPS_WEBHOOK_PATH,
    READ_METHODS,
    quota_error,
    render_error,
    router,
)
from sandbox.slack.chat import PER_CHANNEL
from sandbox.slack.pages import pages
from sandbox.slack.seed import seed

__all__ = ["OPS_WEBHOOK_PATH", "PER_MINUTE", "QUOTAS", "SYSTEM", "TIERS"]

# Web API rate-limit tiers, per method per workspace per app (https://docs.slack.dev/apis/web-api/
# rate-limits and each method's reference page): Tier 2 "20+ per minute", Tier 3 "50+ per minute",
# Tier 4 "100+ per minute". chat.postMessage is "Special": about one message per second per
# channel, like incoming webhooks.
TIERS = {
    "conversations.archive": 2,
    "conversations.create": 2,
    "conversations.list": 2,
    "conversations.rename": 2,
    "pins.add": 2,
    "pins.list": 2,
    "users.list": 2,
    "chat.update": 3,
    "conversations.history": 3,
    "conversations.info": 3,
    "conversations.invite": 3,
    "conversations.join": 3,
    "conversations.replies": 3,
    "users.lookupByEmail": 3,
    "conversations.members": 4,
    "users.info": 4,
}
PER_MINUTE = {2: 20, 3: 50, 4: 100}


def _for_method(name: str) -> Callable[[str, str], bool]:
    path = f"/{NAME}/api/{name}"
    return lambda method_, request_path: request_path == path


QUOTAS = (
    *(
        Quota(
            f"slack.{name}",
            f"{name}: Tier {tier}, {PER_MINUTE[tier]}+ per minute",
            PER_MINUTE[tier],
            60,
            _for_method(name),
        )
        for name, tier in TIERS.items()
    ),
    PER_CHANNEL,
)


def is_write(http_method: str, path: str) -> bool:
    """A Web API call writes unless it is a read method, whatever its HTTP verb."""
    prefix = f"/{NAME}/api/"
    if path.startswith(prefix):
        return path[len(prefix) :] not in READ_METHODS
    return http_method not in ("GET", "HEAD", "OPTIONS")


SYSTEM = System(
    name=NAME,
    router=router,
    render_error=render_error,
    seed=seed,
    quotas=QUOTAS,
    quota_error=quota_error,
    is_write=is_write,
    pages=pages,
)
