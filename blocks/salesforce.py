"""Salesforce: a simple-salesforce client for the org's REST API."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

if TYPE_CHECKING:
    from simple_salesforce import Salesforce


class SalesforceConnection(Block):
    """Connection to the Salesforce org that holds the opportunities and PS Engagements.

    Authenticates with an access token (a session id or OAuth token) for `instance_url`, or, when
    no token is set, with the OAuth 2.0 JWT bearer flow (`username`, `consumer_key`,
    `private_key`). `instance_url` may carry a path, e.g. http://127.0.0.1:8765/salesforce for
    the psflow sandbox.
    """

    _block_type_name = "Salesforce Connection"
    _block_type_slug = "psflow-salesforce"
    _description = "A simple-salesforce client for psflow's Salesforce org."

    instance_url: str = Field(
        default="",
        description="The org's URL, e.g. https://northwind.my.salesforce.com, or "
        "http://127.0.0.1:8765/salesforce for the sandbox. Required with an access token; the "
        "JWT login finds it itself.",
    )
    access_token: SecretStr | None = Field(
        default=None, description="Session id or OAuth access token for `instance_url`."
    )
    username: str | None = Field(
        default=None, description="JWT bearer login: the Salesforce user psflow acts as."
    )
    consumer_key: str | None = Field(
        default=None, description="JWT bearer login: the connected app's consumer key."
    )
    private_key: SecretStr | None = Field(
        default=None,
        description="JWT bearer login: the PEM private key whose certificate is on the "
        "connected app.",
    )
    login_domain: str = Field(
        default="login",
        description="JWT bearer login host prefix: `login` (production), `test` (a Salesforce "
        "sandbox org) or the My Domain name, as in https://<login_domain>.salesforce.com.",
    )
    api_version: str = Field(default="59.0", description="REST API version, e.g. 59.0.")
    timeout_seconds: float = Field(default=30.0, description="Timeout of one HTTP request.")

    def get_client(self) -> Salesforce:
        """A simple-salesforce client; with the JWT flow this logs in (one HTTP request)."""
        import requests  # the client libraries load with the client, not with the Block
        from simple_salesforce import Salesforce

        from blocks.salesforce_http import Transport

        session = requests.Session()
        if self.access_token is not None:
            if not self.instance_url:
                raise ValueError("SalesforceConnection: instance_url is required with access_token")
            url = urlsplit(self.instance_url)
            adapter = Transport(self.timeout_seconds, url.netloc if url.scheme == "http" else None)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            # `instance` (host, port and path) instead of `instance_url`: simple-salesforce keeps
            # only the host and port of an instance_url, and would drop the sandbox's path.
            return Salesforce(
                session_id=self.access_token.get_secret_value(),
                instance=url.netloc + url.path.rstrip("/"),
                version=self.api_version,
                session=session,
            )
        if self.username and self.consumer_key and self.private_key is not None:
            adapter = Transport(self.timeout_seconds, None)
            session.mount("https://", adapter)
            return Salesforce(
                username=self.username,
                consumer_key=self.consumer_key,
                privatekey=self.private_key.get_secret_value(),
                domain=self.login_domain,
                version=self.api_version,
                session=session,
            )
        raise ValueError(
            "SalesforceConnection: set access_token (with instance_url), or username, "
            "consumer_key and private_key for the JWT bearer login"
        )
