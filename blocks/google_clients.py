"""The Google clients a `GoogleWorkspaceConnection` builds: googleapiclient services on a requests
session, and gspread rooted at the same host."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import google.auth.credentials
import gspread
import httplib2
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from googleapiclient.discovery import Resource, build_from_document
from gspread.http_client import HTTPClient

if TYPE_CHECKING:
    from blocks.google import GoogleWorkspaceConnection

# What the PS mailbox's service account is delegated.
SCOPES = (
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/gmail.modify",
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/documents",
    "https://www.googleapis.com/auth/presentations",
)

# The googleapis.com hosts gspread builds its URLs on; `root_url` replaces them.
_GSPREAD_HOSTS = ("https://sheets.googleapis.com/", "https://www.googleapis.com/")


def credentials(connection: GoogleWorkspaceConnection) -> google.auth.credentials.Credentials:
    if connection.service_account_info is not None:
        info = connection.service_account_info.get_secret_value()
        creds = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
        return creds.with_subject(connection.subject) if connection.subject else creds
    if connection.access_token is not None:
        return user_credentials.Credentials(token=connection.access_token.get_secret_value())
    raise ValueError(
        "GoogleWorkspaceConnection: set service_account_info (with subject) or access_token"
    )


def service(connection: GoogleWorkspaceConnection, name: str, version: str) -> Resource:
    http = _RequestsHttp(AuthorizedSession(credentials(connection)), connection.timeout_seconds)
    document = _discovery_document(name, version, connection.root_url)
    return _nested_kept(build_from_document(document, http=http))


def _nested_kept(resource: Resource) -> Resource:
    """The service with each nested resource (`drive.files()`, `gmail.users().drafts()`) built on
    its first call and kept: googleapiclient builds a new one on every call, writing a docstring
    for each of its methods from the schemas (a fifth of a phase run's CPU). A service is one
    thread's (`tasks.clients.Systems`), as googleapiclient's objects must be."""
    for name in resource._resourceDesc.get("resources", {}):
        build = getattr(resource, name)
        setattr(resource, name, cache(lambda build=build: _nested_kept(build())))
    return resource


def gspread_client(connection: GoogleWorkspaceConnection) -> gspread.Client:
    root_url = connection.root_url
    client_class = _rooted_http_client(root_url) if root_url else HTTPClient
    client = gspread.Client(auth=credentials(connection), http_client=client_class)
    client.set_timeout(connection.timeout_seconds)
    return client


class _RequestsHttp:
    """The `http` googleapiclient calls, on a requests session instead of httplib2.

    httplib2 resends a request, POSTs included, after the connection drops before an answer
    ("the connection just went stale"), whatever its RETRIES: a create whose answer was lost is made
    twice before psflow can look its key up. requests sends once and lets the failure reach the
    task, whose retry looks the key up first. gspread already talks through the same kind of session.
    """

    def __init__(self, session: AuthorizedSession, timeout: float) -> None:
        self.session, self.timeout = session, timeout

    def request(
        self,
        uri: str,
        method: str = "GET",
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        **_: Any,
    ) -> tuple[httplib2.Response, bytes]:
        answer = self.session.request(method, uri, data=body, headers=headers, timeout=self.timeout)
        # requests has already decoded any gzip body: do not let the header say otherwise
        info = {k: v for k, v in answer.headers.items() if k.lower() != "content-encoding"}
        response = httplib2.Response({**info, "status": str(answer.status_code)})
        response.reason = answer.reason
        return response, answer.content


@cache
def _discovery_document(name: str, version: str, root_url: str | None) -> str:
    """The discovery document shipped with google-api-python-client, with `rootUrl` moved when
    asked. Moving rootUrl (not `api_endpoint`) also moves media uploads and batch requests."""
    path = (
        resources.files("googleapiclient.discovery_cache") / "documents" / f"{name}.{version}.json"
    )
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if root_url:
        document["rootUrl"] = document["mtlsRootUrl"] = root_url.rstrip("/") + "/"
    return json.dumps(document)


@cache
def _rooted_http_client(root_url: str) -> type[HTTPClient]:
    """gspread copies its URLs into several modules at import time, so the only seam is the HTTP
    client: this one rewrites the googleapis.com prefix of every request to `root_url`."""
    root = root_url.rstrip("/") + "/"

    class RootedHTTPClient(HTTPClient):
        def request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> Any:
            for host in _GSPREAD_HOSTS:
                if endpoint.startswith(host):
                    endpoint = root + endpoint[len(host) :]
                    break
            return super().request(method, endpoint, *args, **kwargs)

    return RootedHTTPClient
