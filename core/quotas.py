"""The outside APIs' published request quotas psflow paces itself by: one place, sizing one Prefect
rate limit each (declared with the deployments, created on first use by `tasks/pacing.py`).

A request takes a slot of every limit whose quota it counts toward before it is sent, so a burst of
engagements waits in Prefect instead of running into 429s. Each limit is a token bucket: B requests
at once, then (Q - B) per window, so that no window of the quota's length ever holds more than its Q
requests (B + (Q - B) = Q), whenever the bucket was last full.

Not paced, because a whole engagement uses a small share of them (figures: benchmarks/api_calls.py,
one Initiate): GitLab's 2,000 requests a minute (20 per Initiate), Drive's 12,000 queries a minute
(19), Gmail's 3,000 reads and Docs' 300 reads a minute (2 each), Salesforce's 100,000 a day (8),
Calendar's 10,000 a minute per project. Slack's one message per second per channel is per channel:
psflow posts one message in each new channel and a few per engagement in #ps_planning.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# A slot is a thousandth of a request: Prefect decays a limit by whole slots since its last update,
# and every acquisition (or denial) is an update. At Slack Tier 2's 20 a minute a busy limit would
# seldom see the 3 s a whole request needs between two updates, and would almost never decay.
SLOTS_PER_REQUEST = 1000
BURST_SHARE = 0.05  # of a quota, sent at once before pacing starts (at least one request)


@dataclass(frozen=True)
class Quota:
    """One published quota: `limit` requests per `window_seconds` of the requests it counts (an
    HTTP method among `methods`, none meaning any, and a URL path that `path` is found in)."""

    id: str  # "<system>.<quota>", as the sandbox names the same quota
    limit: int
    window_seconds: float
    path: str  # a regular expression searched in the URL's path
    methods: frozenset[str] = frozenset()
    except_methods: frozenset[str] = frozenset()

    def counts(self, method: str, path: str) -> bool:
        method = method.upper()
        return (
            (not self.methods or method in self.methods)
            and method not in self.except_methods
            and re.search(self.path, path) is not None
        )

    @property
    def system(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def rate_limit(self) -> str:
        """The name of its Prefect rate limit."""
        return f"psflow-quota-{self.id}"

    @property
    def burst(self) -> int:
        """Requests let through at once."""
        return max(1, math.floor(self.limit * BURST_SHARE))

    @property
    def slots(self) -> int:
        """The limit's size, in slots."""
        return self.burst * SLOTS_PER_REQUEST

    @property
    def slot_decay_per_second(self) -> float:
        return (self.limit - self.burst) / self.window_seconds * SLOTS_PER_REQUEST


GET = frozenset({"GET"})


# Slack's Web API tiers (docs.slack.dev/apis/web-api/rate-limits): requests a minute, per method per
# workspace per app; the sandbox enforces the same tiers (tests/unit/test_quotas.py checks it).
SLACK_TIER_PER_MINUTE = {2: 20, 3: 50, 4: 100}
# The Web API methods psflow calls, by the tier each one's reference page gives. auth.test,
# chat.getPermalink and chat.postMessage have "Special" limits: not paced (see the docstring).
SLACK_TIERS = {
    "conversations.create": 2,
    "conversations.list": 2,
    "pins.add": 2,
    "pins.list": 2,
    "chat.update": 3,
    "conversations.history": 3,
    "conversations.info": 3,
    "conversations.invite": 3,
    "conversations.join": 3,
    "conversations.replies": 3,
    "users.lookupByEmail": 3,
    "conversations.members": 4,
}
SLACK_SPECIAL = frozenset({"auth.test", "chat.getPermalink", "chat.postMessage"})


def _slack(method: str, tier: int) -> Quota:
    """A Slack Web API method's tier: per method per workspace."""
    limit = SLACK_TIER_PER_MINUTE[tier]
    return Quota(f"slack.{method}", limit, 60, rf"/api/{re.escape(method)}$")


QUOTAS: tuple[Quota, ...] = (
    # Slack: the Web API methods psflow calls, by their tier
    *(_slack(method, tier) for method, tier in SLACK_TIERS.items()),
    # Google Sheets (developers.google.com/sheets/api/limits): 60 per minute per user, each way
    Quota("google.sheets-read-per-user", 60, 60, r"/v4/spreadsheets(/|$)", methods=GET),
    Quota("google.sheets-write-per-user", 60, 60, r"/v4/spreadsheets(/|$)", except_methods=GET),
    # Google Docs writes (developers.google.com/workspace/docs/api/limits): 60 per minute per user
    Quota("google.docs-write-per-user", 60, 60, r"/v1/documents(/|$)", methods=frozenset({"POST"})),
    # Gmail (developers.google.com/gmail/api/reference/quota): 15,000 units a minute per user,
    # messages.send and drafts.send cost 100
    Quota("google.gmail-send-per-user", 150, 60, r"/gmail/v1/users/[^/]+/(messages|drafts)/send$"),
    # Google Calendar (developers.google.com/workspace/calendar/api/guides/quota): 600 a minute
    Quota("google.calendar-per-user", 600, 60, r"/calendar/v3/"),
    # GitLab.com's endpoint limits (docs.gitlab.com/user/gitlab_com/rate_limits/), per user
    Quota("gitlab.get-project", 400, 60, r"/api/v4/projects/[^/]+$", methods=GET),
    Quota("gitlab.get-group", 400, 60, r"/api/v4/groups/[^/]+$", methods=GET),
    Quota("gitlab.list-groups", 200, 60, r"/api/v4/groups$", methods=GET),
    Quota("gitlab.group-projects", 600, 60, r"/api/v4/groups/[^/]+/projects$", methods=GET),
    # Kantata OX: requests per minute per token (see sandbox/mavenlink/__init__.py on this figure)
    Quota("mavenlink.requests-per-token", 600, 60, r"/api/v1/"),
)


def quotas_for(system: str, method: str, path: str) -> list[Quota]:
    """The paced quotas a request to `system` ("slack", "google", "gitlab", "mavenlink",
    "salesforce") counts toward."""
    return [q for q in QUOTAS if q.system == system and q.counts(method, path)]
