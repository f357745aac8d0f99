"""Pacing: before a request that counts toward a published quota (core/quotas.py), take a slot of
that quota's Prefect rate limit, waiting for one when a burst of engagements has used them up.

Every client gets one hook on its own transport: a requests adapter (GitLab, Google), an httpx
event hook (Mavenlink), `WebClient.api_call` (Slack). Only flow runs pace: a task called on its own
(a test, a script) has no Prefect server to share slots through; `PsflowSettings.pace_requests`
switches it off where no quota applies. A limit is created the first time a run paces by it, sized
from its quota, so a missing limit never lets a burst through unpaced.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from core.quotas import QUOTAS, SLOTS_PER_REQUEST, Quota, quotas_for

if TYPE_CHECKING:
    import httpx
    import requests
    import slack_sdk


class Pacer:
    """Paces one run's clients: before each request that counts toward a quota, a slot of that
    quota's rate limit (when `enabled` and inside a flow run)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.declared: set[str] = set()  # rate limits seen to exist, at their quota's size

    def pace(self, system: str, method: str, url: str) -> None:
        """Wait for a slot of every paced quota this request counts toward."""
        from prefect.runtime import flow_run

        if not self.enabled or flow_run.get_id() is None:
            return
        quotas = quotas_for(system, method, urlsplit(url).path)
        if not quotas:
            return
        self.declared.update(declare(q for q in quotas if q.rate_limit not in self.declared))
        from prefect.concurrency.sync import rate_limit

        rate_limit([q.rate_limit for q in quotas], occupy=SLOTS_PER_REQUEST, strict=True)

    # --- one hook per transport ---------------------------------------------------------------

    def session(self, session: requests.Session, system: str) -> requests.Session:
        """The session, pacing every request it sends (through whatever adapters it had)."""
        from requests.adapters import BaseAdapter

        pace = self.pace

        class Paced(BaseAdapter):
            def __init__(self, inner: BaseAdapter) -> None:
                super().__init__()
                self.inner = inner

            def send(
                self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
            ) -> requests.Response:
                pace(system, request.method or "GET", request.url or "")
                return self.inner.send(request, *args, **kwargs)

            def close(self) -> None:
                self.inner.close()

        for prefix, adapter in list(session.adapters.items()):
            if not isinstance(adapter, Paced):
                session.mount(prefix, Paced(adapter))
        return session

    def httpx(self, client: httpx.Client, system: str) -> httpx.Client:
        client.event_hooks["request"].append(
            lambda request: self.pace(system, request.method, str(request.url))
        )
        return client

    def slack(self, client: slack_sdk.WebClient) -> slack_sdk.WebClient:
        """Every Web API method goes through `api_call`, the method's name on the base URL."""
        call = client.api_call

        def api_call(api_method: str, **kwargs: Any) -> Any:
            self.pace("slack", "POST", client.base_url + api_method)
            return call(api_method, **kwargs)

        client.api_call = api_call  # type: ignore[method-assign]
        return client


def declare(quotas: Iterable[Quota] = QUOTAS) -> list[str]:
    """Create, or resize to its quota, the rate limit of each quota; returns their names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    names = []
    with get_client(sync_client=True) as client:
        for quota in quotas:
            size = {"limit": quota.slots, "slot_decay_per_second": quota.slot_decay_per_second}
            try:
                current = client.read_global_concurrency_limit_by_name(quota.rate_limit)
            except ObjectNotFound:
                # another process may create it first: that is just as good
                with suppress(ObjectAlreadyExists):
                    client.create_global_concurrency_limit(
                        GlobalConcurrencyLimitCreate(name=quota.rate_limit, **size)
                    )
            else:
                if (current.limit, current.slot_decay_per_second) != tuple(size.values()):
                    client.update_global_concurrency_limit(
                        quota.rate_limit, GlobalConcurrencyLimitUpdate(**size)
                    )
            names.append(quota.rate_limit)
    return names
