"""Hostile requests to the Slack adapter's HTTP endpoint (real slack-bolt, the fake Slack):
forged, malformed and replayed signatures, and a user without permission trying every
subscription path. Nothing unsigned runs; nothing a non-admin sends changes a subscription."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time

import aiohttp
import pytest

from adapters.slack.adapter import SlackAdapter
from bot.commands.context import CommandContext
from tests.fake_slack import FakeSlack, sign
from tests.test_slack_support import (
    SECRET,
    command_body,
    http_settings,
    post_signed,
    serving,
)


@pytest.fixture
def fake(fake_slack: FakeSlack) -> FakeSlack:
    return fake_slack


@pytest.fixture
def ctx(demo_ctx: CommandContext) -> CommandContext:
    return demo_ctx


async def _post(url: str, body: str, headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/slack/events", data=body, headers=headers) as response,
    ):
        await response.read()
        return response.status


def _forgeries(body: str) -> list[tuple[str, dict[str, str]]]:
    now = int(time.time())
    good = sign(SECRET, body, now)
    digest = good["X-Slack-Signature"].removeprefix("v0=")
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    def signed_as(ts: str) -> str:
        mac = hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256)
        return f"v0={mac.hexdigest()}"

    cases = [
        ("no headers", form),
        ("no signature", form | {"X-Slack-Request-Timestamp": str(now)}),
        ("no timestamp", form | {"X-Slack-Signature": good["X-Slack-Signature"]}),
        ("zeros", good | {"X-Slack-Signature": "v0=" + "0" * 64}),
        ("v1 scheme", good | {"X-Slack-Signature": "v1=" + digest}),
        ("bare digest", good | {"X-Slack-Signature": digest}),
        ("upper case", good | {"X-Slack-Signature": "v0=" + digest.upper()}),
        ("truncated", good | {"X-Slack-Signature": "v0=" + digest[:-2]}),
        ("other timestamp", good | {"X-Slack-Request-Timestamp": str(now - 1)}),
        ("empty signature", good | {"X-Slack-Signature": ""}),
        ("huge signature", good | {"X-Slack-Signature": "v0=" + "a" * 8000}),
    ]
    for ts in ("nan", "inf", "1e99", "-1", "abc", "", str(now) + "0", "9" * 40):
        cases.append(
            (
                f"timestamp {ts!r}",
                form | {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signed_as(ts)},
            )
        )
    return cases


async def test_forged_and_malformed_signatures_run_nothing(
    fake: FakeSlack, ctx: CommandContext
) -> None:
    fake.admins.add("U0001")
    adapter = SlackAdapter(http_settings(fake))
    async with serving(adapter, ctx) as url:
        body, _ = command_body(fake, "ev-subscribe", "alliance")
        for name, headers in _forgeries(body):
            status = await _post(url, body, headers)
            assert status == 401, (name, status)
        # a body changed after signing
        headers = sign(SECRET, body)
        tampered = body.replace("alliance", "nissan")
        assert await _post(url, tampered, headers) == 401
        await asyncio.sleep(0.2)  # anything wrongly accepted would have answered by now
    assert fake.responses == []
    assert await ctx.store.subscriptions() == []


async def test_a_non_numeric_timestamp_is_a_quiet_401(
    fake: FakeSlack, ctx: CommandContext, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = SlackAdapter(http_settings(fake))
    async with serving(adapter, ctx) as url:
        body, _ = command_body(fake, "ev-total", "alliance")
        for name, headers in _forgeries(body):
            if name.startswith("timestamp"):
                assert await _post(url, body, headers) == 401, name
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_replayed_request_is_refused_outside_the_window_and_harmless_inside(
    fake: FakeSlack, ctx: CommandContext
) -> None:
    """Slack's scheme has no nonce: inside the 5-minute window a captured request can be sent
    again. Subscribing is idempotent, so a replay changes nothing; outside the window (or with
    a re-dated timestamp under the old signature) it is refused."""
    fake.admins.add("U0001")
    adapter = SlackAdapter(http_settings(fake))
    async with serving(adapter, ctx) as url:
        body, _ = command_body(fake, "ev-subscribe", "alliance")
        captured = sign(SECRET, body, int(time.time()) - 30)
        assert await _post(url, body, captured) == 200
        await fake.wait_for(lambda: len(fake.responses) == 1)
        assert await _post(url, body, captured) == 200  # the replay, inside the window
        await fake.wait_for(lambda: len(fake.responses) == 2)
        old = sign(SECRET, body, int(time.time()) - 400)
        assert await _post(url, body, old) == 401
        redated = captured | {"X-Slack-Request-Timestamp": str(int(time.time()))}
        assert await _post(url, body, redated) == 401
    subs = await ctx.store.subscriptions()
    assert len(subs) == 1 and subs[0].spec.subject.name == "Renault-Nissan Alliance"


async def test_a_user_without_permission_tries_every_subscription_path(
    fake: FakeSlack, ctx: CommandContext
) -> None:
    fake.admins.add("U0ADMIN")
    adapter = SlackAdapter(http_settings(fake))
    async with serving(adapter, ctx) as url:
        for text in ("alliance", "nissan leaf"):
            body, _ = command_body(fake, "ev-subscribe", text, user="U0ADMIN")
            assert (await post_signed(url, body))[0] == 200
        await fake.wait_for(lambda: len(fake.responses) == 2)
        before = [(s.id, s.spec) for s in await ctx.store.subscriptions()]
        assert len(before) == 2
        attempts = [
            ("ev-subscribe", "alliance"),
            ("ev-subscribe", "renault mode:daily"),
            ("ev-subscribe", "nissan leaf kinds:milestone locale:fr"),
            ("ev-subscribe", "all"),
            ("ev-unsubscribe", "alliance"),
            ("ev-unsubscribe", "nissan leaf"),
            ("ev-unsubscribe", "all"),
            ("ev-unsubscribe", "ALL"),
            ("ev-unsubscribe", "subject:all"),
        ]
        for i, (name, text) in enumerate(attempts):
            body, _ = command_body(fake, name, text, user="U0MALLORY")
            assert (await post_signed(url, body))[0] == 200
            await fake.wait_for(lambda n=i: len(fake.responses) == 3 + n)
            reply = fake.responses[-1][1]
            assert reply["response_type"] == "ephemeral", (name, text, reply)
            assert "permission" in str(reply), (name, text, reply)
    assert [(s.id, s.spec) for s in await ctx.store.subscriptions()] == before
