"""Google Workspace: Drive, Sheets (googleapiclient and gspread), Gmail, Calendar, Docs, Slides.

The client libraries are imported when a client is built (`blocks/google_clients.py`), not with
the Block: a flow run that never calls Google does not pay for importing them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect.blocks.core import Block
from prefect.types import SecretDict
from pydantic import Field, SecretStr

if TYPE_CHECKING:
    import google.auth.credentials
    import gspread
    from googleapiclient.discovery import Resource


class GoogleWorkspaceConnection(Block):
    """Connection to Google Workspace as the PS team's mailbox account.

    Credentials are either a service account with domain-wide delegation (`service_account_info`
    and `subject`) or an OAuth access token. `root_url` points every API at another host, such as
    the psflow sandbox; left empty, each API uses its googleapis.com host.
    """

    _block_type_name = "Google Workspace Connection"
    _block_type_slug = "psflow-google-workspace"
    _description = "Drive, Sheets, Gmail, Calendar, Docs and Slides clients for psflow."

    root_url: str | None = Field(
        default=None,
        description="Base URL that replaces every googleapis.com host, e.g. "
        "http://127.0.0.1:8765/google/ for the sandbox. Empty: the real Google APIs.",
    )
    service_account_info: SecretDict | None = Field(
        default=None, description="Service-account key (JSON) with domain-wide delegation."
    )
    subject: str | None = Field(
        default=None,
        description="Mailbox the service account acts as (the PS team address); sends the email "
        "and owns the calendar events.",
    )
    access_token: SecretStr | None = Field(
        default=None, description="OAuth access token; used when no service account is set."
    )
    timeout_seconds: float = Field(default=30.0, description="Timeout of one HTTP request.")

    def credentials(self) -> google.auth.credentials.Credentials:
        from blocks.google_clients import credentials

        return credentials(self)

    def _service(self, name: str, version: str) -> Resource:
        from blocks.google_clients import service

        return service(self, name, version)

    def drive(self) -> Resource:
        return self._service("drive", "v3")

    def sheets(self) -> Resource:
        return self._service("sheets", "v4")

    def gmail(self) -> Resource:
        return self._service("gmail", "v1")

    def calendar(self) -> Resource:
        return self._service("calendar", "v3")

    def docs(self) -> Resource:
        return self._service("docs", "v1")

    def slides(self) -> Resource:
        return self._service("slides", "v1")

    def gspread_client(self) -> gspread.Client:
        from blocks.google_clients import gspread_client

        return gspread_client(self)
