"""The Slack stand-in, driven through the slack_sdk `WebClient` of `SlackConnection` (and the ops
alerts webhook through Prefect's `Webhook` block, as psflow's failure automation calls it)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prefect.blocks.webhook import Webhook
from pydantic import SecretStr
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks.slack import SlackConnection
from sandbox import seed as demo
from sandbox.client import SandboxClient
from sandbox.slack import OPS_WEBHOOK_PATH

KEY = {"event_type": "psflow_post", "event_payload": {"psflow_key": "006-staffing-decision"}}


def connect(sandbox_url: str, token: str = "xoxb-sandbox-token") -> WebClient:
    connection = SlackConnection(base_url=f"{sandbox_url}/slack/api/", bot_token=SecretStr(token))
    return connection.get_client()


@pytest.fixture
def slack(sandbox: SandboxClient, sandbox_url: str) -> WebClient:
    return connect(sandbox_url)


def channel_id(slack: WebClient, name: str) -> str:
    channels = slack.conversations_list(limit=1000)["channels"]
    return next(c["id"] for c in channels if c["name"] == name)


def error_of(call: Any, *args: Any, **kwargs: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call(*args, **kwargs)
    return caught.value


# --- auth ----------------------------------------------------------------------------------------


def test_tokens_are_checked(sandbox: SandboxClient, sandbox_url: str) -> None:
    assert error_of(connect(sandbox_url, "").auth_test).response["error"] == "not_authed"
    assert (
        error_of(connect(sandbox_url, "not-a-token").auth_test).response["error"] == "invalid_auth"
    )
    me = connect(sandbox_url).auth_test()
    assert me["ok"] is True
    assert me["url"].startswith(sandbox_url)
    assert me["team"] == demo.COMPANY
    assert connect(sandbox_url).users_info(user=me["user_id"])["user"]["is_bot"] is True


def test_unknown_method(slack: WebClient) -> None:
    assert error_of(slack.api_call, "chat.nonsense").response["error"] == "unknown_method"


# --- posting and finding a post again ------------------------------------------------------------


def test_metadata_round_trip_through_history(slack: WebClient, sandbox: SandboxClient) -> None:
    planning = channel_id(slack, "ps_planning")
    posted = slack.chat_postMessage(channel="#ps_planning", text="Staffing: Chen Wei", metadata=KEY)
    assert posted["channel"] == planning
    assert posted["message"]["metadata"] == KEY
    with_metadata = slack.conversations_history(channel=planning, include_all_metadata=True)
    (message,) = [m for m in with_metadata["messages"] if m["ts"] == posted["ts"]]
    assert message["metadata"] == KEY
    assert message["text"] == "Staffing: Chen Wei"
    plain = slack.conversations_history(channel=planning)
    (message,) = [m for m in plain["messages"] if m["ts"] == posted["ts"]]
    assert "metadata" not in message
    assert sandbox.writes(system="slack") == 1  # history is a read, although slack_sdk POSTs it


def test_post_by_name_blocks_and_validation(slack: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Kickoff* booked"}}]
    posted = slack.chat_postMessage(
        channel="ps_planning", text="Kickoff", blocks=blocks, unfurl_links=False
    )
    assert posted["message"]["blocks"] == blocks
    with pytest.warns(UserWarning, match="text"):  # slack_sdk warns before sending it anyway
        assert (
            error_of(slack.chat_postMessage, channel="ps_planning").response["error"] == "no_text"
        )
    missing = error_of(slack.chat_postMessage, channel="#nowhere", text="x")
    assert missing.response["error"] == "channel_not_found"
    bad = error_of(
        slack.chat_postMessage, channel="ps_planning", text="x", metadata={"event_type": "x"}
    )
    assert bad.response["error"] == "invalid_metadata_schema"
    assert bad.response.status_code == 200  # Slack's errors are HTTP 200 with ok: false


def test_mentions_and_links_in_text_are_what_slack_would_notify_and_render(
    slack: WebClient, sandbox: SandboxClient
) -> None:
    text = "<!channel> see <@U0GRACE001> and <https://evil.example|click>; &lt;!here&gt; is text"
    posted = slack.chat_postMessage(channel="ps_planning", text=text)
    escaped = slack.chat_postMessage(channel="ps_planning", text="&lt;!channel&gt; &amp; 3 &lt; 4")
    rendered = {row["ts"]: row for row in sandbox.state("slack", "rendered")}
    assert rendered[posted["ts"]]["notifies"] == ["channel", "U0GRACE001"]
    assert rendered[posted["ts"]]["links"] == ["https://evil.example"]
    assert rendered[posted["ts"]]["text"] == "@channel see @U0GRACE001 and click; <!here> is text"
    assert (rendered[escaped["ts"]]["notifies"], rendered[escaped["ts"]]["links"]) == ([], [])
    assert rendered[escaped["ts"]]["text"] == "<!channel> & 3 < 4"
    # what the API answers stays Slack's own message, with nothing of the sandbox's reading
    assert "notifies" not in posted["message"]


def test_the_bot_joins_before_posting_in_general(slack: WebClient) -> None:
    general = channel_id(slack, "general")
    assert (
        error_of(slack.chat_postMessage, channel=general, text="hi").response["error"]
        == "not_in_channel"
    )
    assert (
        error_of(slack.conversations_history, channel=general).response["error"] == "not_in_channel"
    )
    joined = slack.conversations_join(channel=general)
    assert joined["channel"]["is_member"] is True
    assert "warning" not in joined
    assert slack.conversations_join(channel=general)["warning"] == "already_in_channel"
    assert slack.chat_postMessage(channel=general, text="hi")["ok"] is True


def test_history_pages_newest_first_within_a_window(slack: WebClient) -> None:
    alerts = channel_id(slack, "ps_ops_alerts")
    stamps = [slack.chat_postMessage(channel=alerts, text=f"m{n}")["ts"] for n in range(5)]
    first = slack.conversations_history(channel=alerts, limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"]
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    second = slack.conversations_history(channel=alerts, limit=2, cursor=cursor)
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    third = slack.conversations_history(
        channel=alerts, limit=2, cursor=second["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in third["messages"]] == ["m0"]
    assert (third["has_more"], third["response_metadata"]["next_cursor"]) == (False, "")
    window = slack.conversations_history(channel=alerts, oldest=stamps[1], latest=stamps[3])
    assert [m["text"] for m in window["messages"]] == ["m2"]
    inclusive = slack.conversations_history(
        channel=alerts, oldest=stamps[1], latest=stamps[3], inclusive=True
    )
    assert [m["text"] for m in inclusive["messages"]] == ["m3", "m2", "m1"]
    assert (
        error_of(slack.conversations_history, channel=alerts, cursor="bad!").response["error"]
        == "invalid_cursor"
    )


def test_threads_update_permalink_and_pins(slack: WebClient, sandbox_url: str) -> None:
    planning = channel_id(slack, "ps_planning")
    parent = slack.chat_postMessage(channel=planning, text="Globex staffing")
    reply = slack.chat_postMessage(
        channel=planning, text="approved", thread_ts=parent["ts"], metadata=KEY
    )
    thread = slack.conversations_replies(
        channel=planning, ts=parent["ts"], include_all_metadata=True
    )
    assert [m["text"] for m in thread["messages"]] == ["Globex staffing", "approved"]
    assert thread["messages"][1]["metadata"] == KEY
    top = slack.conversations_history(channel=planning)["messages"]
    assert [m["text"] for m in top] == ["Globex staffing"]  # replies stay in their thread
    assert top[0]["reply_count"] == 1
    assert (
        error_of(slack.conversations_replies, channel=planning, ts="1.000001").response["error"]
        == "thread_not_found"
    )

    updated = slack.chat_update(channel=planning, ts=parent["ts"], text="Globex staffing (final)")
    assert updated["message"]["edited"]["user"] == slack.auth_test()["user_id"]
    assert (
        slack.conversations_history(channel=planning)["messages"][0]["text"]
        == "Globex staffing (final)"
    )
    assert (
        error_of(slack.chat_update, channel=planning, ts="1.000001", text="x").response["error"]
        == "message_not_found"
    )

    link = slack.chat_getPermalink(channel=planning, message_ts=reply["ts"])["permalink"]
    assert link.startswith(
        f"{sandbox_url}/slack/archives/{planning}/p{reply['ts'].replace('.', '')}"
    )
    assert f"thread_ts={parent['ts']}" in link

    assert slack.pins_add(channel=planning, timestamp=parent["ts"])["ok"] is True
    assert (
        error_of(slack.pins_add, channel=planning, timestamp=parent["ts"]).response["error"]
        == "already_pinned"
    )
    assert (
        error_of(slack.pins_add, channel=planning, timestamp="1.000001").response["error"]
        == "message_not_found"
    )


# --- channels ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "invalid_name_required"),
        ("a" * 81, "invalid_name_maxlength"),
        ("Acme Project", "invalid_name_specials"),
        ("acme.project", "invalid_name_specials"),
        ("--__", "invalid_name_punctuation"),
        ("ps_planning", "name_taken"),
    ],
)
def test_channel_names_are_checked_like_slack(slack: WebClient, name: str, error: str) -> None:
    assert error_of(slack.conversations_create, name=name).response["error"] == error


def test_create_invite_and_list_members(slack: WebClient, sandbox: SandboxClient) -> None:
    created = slack.conversations_create(name="ps-globex-k8s_2026", is_private=False)["channel"]
    assert (created["name"], created["is_member"], created["is_private"]) == (
        "ps-globex-k8s_2026",
        True,
        False,
    )
    assert created["id"].startswith("C")
    ids = [
        slack.users_lookupByEmail(email=demo.staff(k).email)["user"]["id"]
        for k in ("chen_wei", "elena_rossi")
    ]
    invited = slack.conversations_invite(channel=created["id"], users=",".join(ids))
    assert invited["ok"] is True
    again = error_of(slack.conversations_invite, channel=created["id"], users=ids[0])
    assert again.response["error"] == "already_in_channel"
    assert again.response["errors"] == [
        {"user": ids[0], "ok": False, "error": "already_in_channel"}
    ]
    unknown = error_of(slack.conversations_invite, channel=created["id"], users="U0NOBODY00")
    assert unknown.response["error"] == "user_not_found"
    # with force, the valid ones are invited and the answer is still the documented error shape:
    # ok false, `errors` per user (slack_sdk raises; the invitations stand)
    third = slack.users_lookupByEmail(email=demo.staff("olivia_park").email)["user"]["id"]
    forced = error_of(
        slack.conversations_invite, channel=created["id"], users=f"{ids[1]},{third}", force=True
    )
    assert (forced.response["ok"], forced.response["error"]) == (False, "already_in_channel")
    assert forced.response["errors"] == [
        {"user": ids[1], "ok": False, "error": "already_in_channel"}
    ]

    page = slack.conversations_members(channel=created["id"], limit=2)
    rest = slack.conversations_members(
        channel=created["id"], cursor=page["response_metadata"]["next_cursor"]
    )
    assert set(page["members"] + rest["members"]) == {slack.auth_test()["user_id"], *ids, third}
    assert rest["response_metadata"]["next_cursor"] == ""
    info = slack.conversations_info(channel=created["id"], include_num_members=True)["channel"]
    assert info["num_members"] == 4
    (stored,) = [c for c in sandbox.state("slack", "channels") if c["id"] == created["id"]]
    assert len(stored["members"]) == 4


def test_conversations_list_pages_and_filters(slack: WebClient) -> None:
    private = slack.conversations_create(name="ps-private-notes", is_private=True)["channel"]
    public = slack.conversations_list(limit=2)
    names = [c["name"] for c in public["channels"]]
    cursor = public["response_metadata"]["next_cursor"]
    while cursor:
        more = slack.conversations_list(limit=2, cursor=cursor)
        names += [c["name"] for c in more["channels"]]
        cursor = more["response_metadata"]["next_cursor"]
    assert sorted(names) == sorted(demo.CHANNELS)
    both = slack.conversations_list(types="public_channel,private_channel")["channels"]
    assert private["id"] in {c["id"] for c in both}
    assert (
        error_of(slack.conversations_info, channel="C0NOTHERE0").response["error"]
        == "channel_not_found"
    )


# --- users ---------------------------------------------------------------------------------------


def test_users_lookup_list_and_info(slack: WebClient) -> None:
    aisha = slack.users_lookupByEmail(email="aisha.bello@northwind.example")["user"]
    assert (aisha["real_name"], aisha["tz"], aisha["profile"]["title"]) == (
        "Aisha Bello",
        "Africa/Lagos",
        "Sr. PS Engineer",
    )
    assert aisha["tz_offset"] == 3600
    missing = error_of(slack.users_lookupByEmail, email="nobody@example.com")
    assert missing.response["error"] == "users_not_found"
    assert slack.users_info(user=aisha["id"])["user"]["name"] == "aisha_bello"
    assert error_of(slack.users_info, user="U0NOBODY00").response["error"] == "user_not_found"
    first = slack.users_list(limit=15)
    second = slack.users_list(limit=15, cursor=first["response_metadata"]["next_cursor"])
    everyone = first["members"] + second["members"]
    assert len(everyone) == len(demo.STAFF) + len(demo.PSES) + 1  # and the bot
    assert second["response_metadata"]["next_cursor"] == ""


def test_read_methods_are_not_writes(slack: WebClient, sandbox: SandboxClient) -> None:
    planning = channel_id(slack, "ps_planning")
    slack.auth_test()
    slack.conversations_info(channel=planning)
    slack.conversations_members(channel=planning)
    slack.users_list()
    slack.users_lookupByEmail(email="chen.wei@northwind.example")
    assert sandbox.writes(system="slack") == 0
    assert len(sandbox.requests(system="slack")) == 6
    posted = slack.chat_postMessage(channel=planning, text="x")
    slack.chat_getPermalink(channel=planning, message_ts=posted["ts"])
    assert sandbox.writes(system="slack") == 1


# --- the ops alerts webhook ----------------------------------------------------------------------


def call_webhook(url: str, payload: dict[str, Any]) -> Any:
    # a Webhook block's httpx client closes after one call: one block instance per call
    return asyncio.run(Webhook(url=SecretStr(url), allow_private_urls=True).call(payload))


def test_ops_webhook_posts_into_the_alerts_channel(slack: WebClient, sandbox_url: str) -> None:
    url = f"{sandbox_url}{OPS_WEBHOOK_PATH}"
    answer = call_webhook(url, {"text": "Flow run initiate · GLOBEX failed"})
    assert (answer.status_code, answer.text, answer.headers["content-type"].split(";")[0]) == (
        200,
        "ok",
        "text/plain",
    )
    latest = slack.conversations_history(channel=channel_id(slack, "ps_ops_alerts"))["messages"][0]
    assert (latest["text"], latest["subtype"]) == (
        "Flow run initiate · GLOBEX failed",
        "bot_message",
    )
    empty = call_webhook(url, {"blocks": []})
    assert (empty.status_code, empty.text) == (400, "no_text")
    wrong = call_webhook(f"{sandbox_url}/slack/services/T1/B1/nope", {"text": "x"})
    assert (wrong.status_code, wrong.text) == (404, "no_service")


# --- quotas and faults ---------------------------------------------------------------------------


def test_method_tier_quota(slack: WebClient, sandbox: SandboxClient) -> None:
    planning = channel_id(slack, "ps_planning")
    sandbox.set_quotas(True, {"slack.conversations.history": 2})
    slack.conversations_history(channel=planning)
    slack.conversations_history(channel=planning)
    throttled = error_of(slack.conversations_history, channel=planning)
    assert throttled.response.status_code == 429
    assert throttled.response["error"] == "ratelimited"
    assert int(throttled.response.headers["retry-after"]) >= 1
    assert slack.conversations_info(channel=planning)["ok"] is True  # other methods are unaffected


def test_one_message_per_second_per_channel(slack: WebClient, sandbox: SandboxClient) -> None:
    sandbox.set_quotas(True)
    slack.chat_postMessage(channel="ps_planning", text="first")
    throttled = error_of(slack.chat_postMessage, channel="ps_planning", text="second")
    assert (throttled.response.status_code, throttled.response["error"]) == (429, "ratelimited")
    assert throttled.response.headers["retry-after"] == "1"
    assert slack.chat_postMessage(channel="ps_ops_alerts", text="elsewhere")["ok"] is True
    texts = [
        m["text"]
        for m in slack.conversations_history(channel=channel_id(slack, "ps_planning"))["messages"]
    ]
    assert texts == ["first"]


def test_503_and_dropped_connection(slack: WebClient, sandbox: SandboxClient) -> None:
    sandbox.add_fault(r"/slack/api/chat\.postMessage", status=503, retry_after=2)
    failed = error_of(slack.chat_postMessage, channel="ps_planning", text="x")
    assert (failed.response.status_code, failed.response["error"]) == (503, "service_unavailable")
    assert failed.response.headers["retry-after"] == "2"
    sandbox.add_fault(r"/slack/api/conversations\.history", kind="drop")
    with pytest.raises(ConnectionError):  # urllib's; slack_sdk has no retry handler to hide it
        slack.conversations_history(channel=channel_id(slack, "ps_planning"))
    assert slack.conversations_history(channel=channel_id(slack, "ps_planning"))["messages"] == []


def test_failure_after_commit_leaves_exactly_one_message(
    slack: WebClient, sandbox: SandboxClient
) -> None:
    planning = channel_id(slack, "ps_planning")
    sandbox.add_fault(r"/slack/api/chat\.postMessage", status=500, after_commit=True)
    assert (
        error_of(
            slack.chat_postMessage, channel=planning, text="staffing", metadata=KEY
        ).response.status_code
        == 500
    )

    # psflow's retry: look for its key in history before posting again
    history = slack.conversations_history(channel=planning, include_all_metadata=True)["messages"]
    already = [m for m in history if m.get("metadata") == KEY]
    if not already:
        slack.chat_postMessage(channel=planning, text="staffing", metadata=KEY)
    messages = slack.conversations_history(channel=planning, include_all_metadata=True)["messages"]
    assert [m["text"] for m in messages] == ["staffing"]
    assert sandbox.writes(system="slack") == 1
