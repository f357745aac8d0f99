"""Every Block documents its fields, keeps its secrets secret, and builds its client offline."""

from __future__ import annotations

import gitlab
import gspread
import httpx
import pytest
import simple_salesforce
import slack_sdk
from prefect.blocks.core import Block
from pydantic import SecretStr

import blocks
from blocks import (
    CONNECTIONS,
    GitLabConnection,
    GoogleWorkspaceConnection,
    MavenlinkConnection,
    PsflowSettings,
    SalesforceConnection,
    SlackConnection,
    sandbox_blocks,
)

SECRET = "distinctive-s3cret"


@pytest.mark.parametrize("block_type", [*CONNECTIONS, PsflowSettings], ids=lambda t: t.__name__)
def test_every_field_has_a_description(block_type: type[Block]) -> None:
    undocumented = [
        name for name, field in block_type.model_fields.items() if not field.description
    ]
    assert undocumented == []
    assert block_type.get_description()


CONNECTION_BLOCKS = [
    b for b in sandbox_blocks("http://127.0.0.1:9", SECRET) if isinstance(b, CONNECTIONS)
]


@pytest.mark.parametrize("block", CONNECTION_BLOCKS, ids=type)
def test_secrets_never_show_in_repr_str_or_dump(block: Block) -> None:
    secret_fields = [n for n, v in block if isinstance(v, SecretStr)]
    assert secret_fields, "every connection holds at least one secret"
    for text in (repr(block), str(block), block.model_dump_json(), str(block.model_dump())):
        assert SECRET not in text


# Port 9 (discard) answers nothing: a client that touched the network while being built would fail.
OFFLINE = "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("block", "client_type"),
    [
        (
            SalesforceConnection(instance_url=f"{OFFLINE}/salesforce", access_token=SECRET),
            simple_salesforce.Salesforce,
        ),
        (GitLabConnection(url=f"{OFFLINE}/gitlab", token=SECRET), gitlab.Gitlab),
        (MavenlinkConnection(base_url=f"{OFFLINE}/mavenlink/api/v1/", token=SECRET), httpx.Client),
        (SlackConnection(base_url=f"{OFFLINE}/slack/api/", bot_token=SECRET), slack_sdk.WebClient),
    ],
    ids=lambda v: type(v).__name__,
)
def test_get_client_builds_the_real_client_offline(block: Block, client_type: type) -> None:
    assert isinstance(block.get_client(), client_type)  # type: ignore[attr-defined]


def test_google_builds_every_api_client_on_the_configured_root() -> None:
    google = GoogleWorkspaceConnection(root_url=f"{OFFLINE}/google/", access_token=SECRET)
    assert google.drive()._baseUrl == f"{OFFLINE}/google/drive/v3/"
    assert google.calendar()._baseUrl == f"{OFFLINE}/google/calendar/v3/"
    for api in (google.sheets(), google.gmail(), google.docs(), google.slides()):
        assert api._baseUrl == f"{OFFLINE}/google/"
    assert isinstance(google.gspread_client(), gspread.Client)


def test_google_without_credentials_names_the_missing_fields() -> None:
    with pytest.raises(ValueError, match=r"service_account_info .* or access_token"):
        GoogleWorkspaceConnection(root_url=f"{OFFLINE}/google/").drive()


def test_sandbox_blocks_cover_every_connection_type() -> None:
    assert {type(b) for b in sandbox_blocks("http://127.0.0.1:9")} == {*CONNECTIONS, PsflowSettings}
    assert blocks.BLOCK_NAME == "psflow"
