"""Slack slash commands end to end: real slack-bolt, over HTTP (signed) and Socket Mode, against
the fake Slack; answers arrive through the response URL."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path

import pytest
from slack_sdk.signature import Clock, SignatureVerifier

from adapters.slack.adapter import SlackAdapter
from adapters.slack.render import render_blocks
from bot.app.bootstrap import build_adapters, build_app
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_text
from bot.commands.table import COMMANDS
from bot.commands.types import Invocation
from bot.config.load import load_config
from bot.domain.channels import Channel
from bot.domain.i18n import t
from bot.domain.settings import ConfigError
from bot.store.sqlite.sales import SqliteStore
from tests.crash_runner import Feed
from tests.fake_slack import FakeSlack
from tests.test_slack_support import (
    action_body,
    command_body,
    http_settings,
    post_signed,
    serving,
    socket_settings,
)


@pytest.fixture
def fake(fake_slack: FakeSlack) -> FakeSlack:
    return fake_slack


@pytest.fixture
def ctx(demo_ctx: CommandContext) -> CommandContext:
    return demo_ctx


CHANNEL = Channel("slack", "T0001", "C0001")


def example_text(name: str) -> str:
    return COMMANDS[name].example.removeprefix(f"/{name}").strip()


async def answer(fake: FakeSlack, response_url: str) -> dict:
    path = response_url.split(str(fake.port), 1)[1]
    await fake.wait_for(lambda: any(p == path for p, _ in fake.responses))
    return next(body for p, body in fake.responses if p == path)


def header(body: dict) -> str:
    return next(b["text"]["text"] for b in body["blocks"] if b["type"] == "header")


# -- the signing vector ---------------------------------------------------------------------


class FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self.t = now

    def now(self) -> float:
        return self.t


def test_slacks_published_signing_example_verifies_within_five_minutes_only() -> None:
    # https://api.slack.com/authentication/verifying-requests-from-slack
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    ts = "1531420618"
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
        "G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook"
        "-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F3977"
        "00885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10"
        "d2c447fce8b6703c"
    )
    signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert SignatureVerifier(secret).generate_signature(timestamp=ts, body=body) == signature
    for offset, valid in ((0, True), (300, True), (301, False), (-301, False)):
        verifier = SignatureVerifier(secret, clock=FixedClock(int(ts) + offset))
        assert verifier.is_valid(body, ts, signature) is valid, offset
    assert not SignatureVerifier(secret, clock=FixedClock(int(ts))).is_valid(
        body.replace("roadrunner", "coyote"), ts, signature
    )


# -- HTTP mode ------------------------------------------------------------------------------


async def test_every_command_over_http_is_acknowledged_and_answered_through_the_response_url(
    fake: FakeSlack, ctx: CommandContext
) -> None:
    fake.admins.add("U0001")
    adapter = SlackAdapter(http_settings(fake))
    async with serving(adapter, ctx) as url:
        for name, command in COMMANDS.items():  # the table's order: subscribe before unsubscribe
            body, response_url = command_body(fake, name, example_text(name))
            status, text = await post_signed(url, body)
            assert (status, text) == (200, ""), name  # acknowledged at once, empty
            reply = await answer(fake, response_url)
            assert header(reply) != "Cannot do that", (name, reply)
            visible = (
                "ephemeral"
                if name in ("ev-help", "ev-subscriptions", "ev-preview", "ev-subscribe")
                else ("in_channel")
            )
            assert reply["response_type"] == visible, name
            assert reply["text"], name  # the plain fallback is always there
            assert command.name == name
    # the first answer is /ev-total's: the core's reply, rendered as Block Kit
    core = await run_text(ctx, Invocation(CHANNEL, "U0001"), COMMANDS["ev-total"].example)
    assert (fake.responses[0][1]["blocks"], fake.responses[0][1]["text"]) == (
        list(render_blocks(core.message)[0]),
        render_blocks(core.message)[1],
    )
    assert {c.token for c in fake.calls} == {"xoxb-T0001-test"}


async def test_a_subscription_made_over_slack_is_stored_for_the_slack_channel(
    fake: FakeSlack, ctx: CommandContext
) -> None:
    fake.owners.add("U0001")
    adapter = SlackAdapter(http_settings(fake))
    async with serving(adapter, ctx) as url:
        body, response_url = command_body(fake, "ev-subscribe", "nissan leaf", channel="C0042")
        assert (await post_signed(url, body))[0] == 200
        await answer(fake, response_url)
    subs = await ctx.store.subscriptions()
    assert [
        (s.spec.channel.platform, s.spec.channel.workspace, s.spec.channel.channel) for s in subs
    ] == [("slack", "T0001", "C0042")]
    assert subs[0].spec.created_by == "U0001"


async def test_subscribing_needs_a_workspace_admin_or_the_allow_list(
    fake: FakeSlack, ctx: CommandContext
) -> None:
    adapter = SlackAdapter(http_settings(fake, admins=frozenset({"U0777"})))
    async with serving(adapter, ctx) as url:
        body, response_url = command_body(fake, "ev-subscribe", "alliance", user="U0002")
        await post_signed(url, body)
        refused = await answer(fake, response_url)
        assert refused["response_type"] == "ephemeral"
        assert "permission" in json.dumps(refused)
        assert [c.params["user"] for c in fake.calls_to("users.info")] == ["U0002"]

        body, response_url = command_body(fake, "ev-subscribe", "alliance", user="U0777")
        await post_signed(url, body)
        allowed = await answer(fake, response_url)
        # the channel hears the "now following" message; the command's answer is the caller's
        assert allowed["response_type"] == "ephemeral", allowed
        assert "now follows" in json.dumps(allowed)
        assert len(fake.calls_to("users.info")) == 1  # the allow list needs no lookup

        fake.admins.add("U0003")
        body, response_url = command_body(fake, "ev-unsubscribe", "alliance", user="U0003")
        await post_signed(url, body)
        assert (await answer(fake, response_url))["response_type"] == "in_channel"
    assert await ctx.store.subscriptions() == []


async def test_a_bad_signature_and_a_stale_timestamp_are_refused(
    fake: FakeSlack, ctx: CommandContext
) -> None:
    adapter = SlackAdapter(http_settings(fake))
    async with serving(adapter, ctx) as url:
        body, _ = command_body(fake, "ev-total", "alliance")
        assert (await post_signed(url, body, secret="not-the-secret"))[0] == 401
        stale = int(time.time()) - 301
        assert (await post_signed(url, body, timestamp=stale))[0] == 401
        future = int(time.time()) + 400
        assert (await post_signed(url, body, timestamp=future))[0] == 401
        tampered_ok, _ = await post_signed(url, body + "x", secret="not-the-secret")
        assert tampered_ok == 401
        # within the window (a few seconds of clock skew) it is accepted
        status, _ = await post_signed(url, body, timestamp=int(time.time()) - 240)
        assert status == 200
        await fake.wait_for(lambda: len(fake.responses) == 1)
    assert len(fake.responses) == 1  # only the good request was answered


async def test_an_unknown_subject_gets_did_you_mean_buttons_that_run_the_command(
    fake: FakeSlack, ctx: CommandContext
) -> None:
    adapter = SlackAdapter(http_settings(fake))
    async with serving(adapter, ctx) as url:
        body, response_url = command_body(fake, "ev-total", "nisan leef region:World")
        await post_signed(url, body)
        error = await answer(fake, response_url)
        assert error["response_type"] == "ephemeral"
        actions = [b for b in error["blocks"] if b["type"] == "actions"]
        assert len(actions) == 1
        buttons = actions[0]["elements"]
        labels = [b["text"]["text"] for b in buttons]
        assert "Nissan Leaf" in labels, labels
        leaf = buttons[labels.index("Nissan Leaf")]
        assert json.loads(leaf["value"]) == {
            "c": "ev-total",
            "a": {"subject": "Nissan Leaf", "region": "World"},
        }

        status, _ = await post_signed(url, action_body(response_url, leaf["value"]))
        assert status == 200
        await fake.wait_for(lambda: len(fake.responses) == 3)
    deleted, total = fake.responses[1][1], fake.responses[2][1]
    assert deleted["delete_original"] is True
    assert total["response_type"] == "in_channel"
    assert header(total).startswith("Nissan Leaf")


async def test_a_known_subject_with_a_bad_option_gets_no_buttons(
    fake: FakeSlack, ctx: CommandContext
) -> None:
    adapter = SlackAdapter(http_settings(fake))
    async with serving(adapter, ctx) as url:
        body, response_url = command_body(fake, "ev-total", "nissan leaf region:Atlantis")
        await post_signed(url, body)
        error = await answer(fake, response_url)
    assert header(error) == "Cannot do that"
    assert "Atlantis" in error["text"]
    assert not [b for b in error["blocks"] if b["type"] == "actions"]


async def test_locale_asks_one_answer_in_another_language_over_slack(
    fake: FakeSlack, ctx: CommandContext
) -> None:
    """Slack gives no member locale: answers are in the configuration's language unless the
    command's `locale:` (read from the text, as every option) asks for another."""
    adapter = SlackAdapter(http_settings(fake))
    async with serving(adapter, ctx) as url:
        body, response_url = command_body(fake, "ev-help", "locale:ja")
        await post_signed(url, body)
        help_ja = await answer(fake, response_url)
        body, response_url = command_body(fake, "ev-total", "leaf locale:xx")
        await post_signed(url, body)
        refused = await answer(fake, response_url)
    assert header(help_ja) == t("ja", "EV Milestone Bot commands") == "EV Milestone Bot のコマンド"
    assert header(refused) == "Cannot do that"  # the configuration's language: English
    assert "locale: 'xx' is not a language the bot writes" in refused["text"]


async def test_user_text_in_an_answer_cannot_ping_or_format(
    fake: FakeSlack, ctx: CommandContext
) -> None:
    adapter = SlackAdapter(http_settings(fake))
    async with serving(adapter, ctx) as url:
        body, response_url = command_body(fake, "ev-total", "<!channel> @everyone <@U0001> *x*")
        await post_signed(url, body)
        error = await answer(fake, response_url)
    text = json.dumps(error, ensure_ascii=False)
    for raw in ("<!channel>", "<@U0001>", "@everyone", "*x*"):
        assert raw not in text
    assert "&lt;!channel&gt;" in error["text"]


# -- Socket Mode ----------------------------------------------------------------------------


async def test_every_command_works_over_socket_mode(fake: FakeSlack, ctx: CommandContext) -> None:
    fake.admins.add("U0001")
    adapter = SlackAdapter(socket_settings(fake))
    async with serving(adapter, ctx):
        await asyncio.wait_for(fake.sm_connected.wait(), 10)
        for name in COMMANDS:
            response_url = fake.response_url()
            envelope = await fake.send_envelope(
                "slash_commands",
                {
                    "command": f"/{name}",
                    "text": example_text(name),
                    "team_id": "T0001",
                    "channel_id": "C0001",
                    "user_id": "U0001",
                    "api_app_id": "A0001",
                    "response_url": response_url,
                    "trigger_id": "1.2.3",
                },
            )
            ack = await asyncio.wait_for(fake.sm_acks.get(), 10)
            assert ack["envelope_id"] == envelope
            reply = await answer(fake, response_url)
            assert header(reply) != "Cannot do that", (name, reply)
    opened = fake.calls_to("apps.connections.open")
    assert [c.token for c in opened] == ["xapp-1-test"]
    assert "Nissan Leaf in the USA" in json.dumps(fake.responses[0][1])


# -- through the app ------------------------------------------------------------------------


async def test_the_app_serves_slack_commands_and_announces_what_a_channel_subscribed_to(
    fake: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-T0001-app")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-app")
    path = tmp_path / "evbot.toml"
    path.write_text(
        f'[platforms.slack]\nenabled = true\napi_base_url = "{fake.api_url}"\nadmins = ["U0001"]\n',
        encoding="utf-8",
    )
    config = load_config(path)
    adapters = build_adapters(config, io.StringIO())
    store = SqliteStore(tmp_path / "app.sqlite3")
    app = build_app(config, store, adapters)
    await store.open()
    await store.sync_groups(config.groups)
    feed = Feed(store, app.detector)
    await feed.history()  # the Leaf's first figures, before the app loads them
    await app.start(poll=False)
    try:
        await asyncio.wait_for(fake.sm_connected.wait(), 10)
        response_url = fake.response_url()
        await fake.send_envelope(
            "slash_commands",
            {
                "command": "/ev-subscribe",
                "text": "nissan leaf",
                "team_id": "T0001",
                "channel_id": "C0777",
                "user_id": "U0001",
                "api_app_id": "A0001",
                "response_url": response_url,
                "trigger_id": "1.2.3",
            },
        )
        reply = await answer(fake, response_url)
        assert reply["response_type"] == "ephemeral", reply  # to the caller only
        await fake.wait_for(lambda: len(fake.in_channel("C0777")) == 1)  # the status message
        assert await feed.news() >= 1  # the milestone (and events for the digest)
        app.worker.wake()
        await fake.wait_for(lambda: len(fake.in_channel("C0777")) == 2)
    finally:
        await app.stop()
    _, news = fake.in_channel("C0777")
    assert news.metadata["event_type"] == "ev_announcement"
    assert "2,500" in news.text
    assert {c.token for c in fake.calls_to("chat.postMessage")} == {"xoxb-T0001-app"}
    async with SqliteStore(tmp_path / "app.sqlite3") as again:
        assert {d.status for d in await again.deliveries()} == {"posted"}


async def test_a_refused_app_token_or_a_busy_port_is_a_clear_error(
    fake: FakeSlack, ctx: CommandContext
) -> None:
    fake.fail("apps.connections.open", "invalid_auth")
    with pytest.raises(ConfigError, match=r"app_token: Slack refused .* \(invalid_auth\)"):
        await SlackAdapter(socket_settings(fake)).serve(ctx, asyncio.Event())

    busy = SlackAdapter(http_settings(fake, port=fake.port))  # the fake holds that port
    with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{fake.port}"):
        await busy.serve(ctx, asyncio.Event())


async def test_the_chart_command_answers_and_shares_the_png_in_the_channel(
    fake: FakeSlack, ctx: CommandContext
) -> None:
    adapter = SlackAdapter(http_settings(fake))
    async with serving(adapter, ctx) as url:
        body, response_url = command_body(fake, "ev-chart", "alliance", channel="C0055")
        await post_signed(url, body)
        reply = await answer(fake, response_url)
        await fake.wait_for(lambda: len(fake.completed) == 1)

        fake.fail("files.completeUploadExternal", "not_in_channel")
        body, response_url = command_body(fake, "ev-chart", "alliance", channel="C0066")
        await post_signed(url, body)
        await fake.wait_for(lambda: len(fake.responses) == 3)
    assert reply["response_type"] == "in_channel"
    assert fake.completed[0]["channel_id"] == "C0055"
    assert next(iter(fake.uploads.values())).startswith(b"\x89PNG")
    refused = fake.responses[2][1]
    assert refused["response_type"] == "ephemeral" and "not_in_channel" in refused["text"]
