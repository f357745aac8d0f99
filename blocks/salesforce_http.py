"""The requests transport under simple-salesforce (imported with the client, not the Block)."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter


class Transport(HTTPAdapter):
    """Gives every request the connection's timeout (simple-salesforce sets none), and sends
    the https URLs simple-salesforce always builds over plain http when the instance URL itself
    is plain http (`plain_http_host`), as a local stand-in is."""

    def __init__(self, timeout: float, plain_http_host: str | None) -> None:
        super().__init__()
        self.timeout = timeout
        self.plain_prefix = f"https://{plain_http_host}/" if plain_http_host else None

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if self.plain_prefix and request.url and request.url.startswith(self.plain_prefix):
            request.url = "http://" + request.url[len("https://") :]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, *args, **kwargs)
