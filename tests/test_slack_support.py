"""Shared pieces of the Slack tests (no tests here): a served adapter, signed requests, the demo
context."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from adapters.slack.adapter import SlackAdapter
from adapters.slack.settings import SlackSettings
from bot.commands.context import CommandContext
from tests.fake_slack import FakeSlack, sign

SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-T0001-test"
APP_TOKEN = "xapp-1-test"


def http_settings(fake: FakeSlack, **overrides: Any) -> SlackSettings:
    values: dict[str, Any] = {
        "mode": "http",
        "port": 0,
        "api_base_url": fake.api_url,
        "bot_token": BOT_TOKEN,
        "signing_secret": SECRET,
        "rate_per_second": 1000.0,
        "channel_rate_per_second": 1000.0,
    }
    values.update(overrides)
    return SlackSettings(**values)


def socket_settings(fake: FakeSlack, **overrides: Any) -> SlackSettings:
    values: dict[str, Any] = {
        "mode": "socket",
        "api_base_url": fake.api_url,
        "bot_token": BOT_TOKEN,
        "app_token": APP_TOKEN,
    }
    values.update(overrides)
    return SlackSettings(**values)


@contextlib.asynccontextmanager
async def serving(adapter: SlackAdapter, ctx: CommandContext) -> AsyncIterator[str]:
    """Run `adapter.serve` as the app does; yields the events URL (HTTP mode) or ""."""
    stopping = asyncio.Event()
    task = asyncio.create_task(adapter.serve(ctx, stopping))
    try:
        url = ""
        if adapter.settings.mode == "http":
            listening = asyncio.ensure_future(adapter.listening())
            await asyncio.wait({listening, task}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()  # a failed start: raise its error
            url = f"http://127.0.0.1:{listening.result()}"
        yield url
    finally:
        stopping.set()
        await asyncio.wait_for(task, 10)
        await adapter.close()


def command_body(
    fake: FakeSlack,
    name: str,
    text: str,
    *,
    team: str = "T0001",
    channel: str = "C0001",
    user: str = "U0001",
) -> tuple[str, str]:
    """A slash command's form body, and its response URL."""
    response_url = fake.response_url()
    body = urllib.parse.urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": team,
            "team_domain": "evfans",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": "someone",
            "command": f"/{name}",
            "text": text,
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )
    return body, response_url


async def post_signed(
    url: str, body: str, *, secret: str = SECRET, timestamp: int | None = None
) -> tuple[int, str]:
    """POST a body to the bot as Slack would, signed; returns the status and the body."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url + "/slack/events", data=body, headers=sign(secret, body, timestamp)
        ) as response,
    ):
        return response.status, await response.text()


def action_body(
    response_url: str, value: str, *, team: str = "T0001", channel: str = "C0001"
) -> str:
    """A block_actions interaction (a button press) as Slack posts it: `payload=<json>`."""
    payload = {
        "type": "block_actions",
        "team": {"id": team, "domain": "evfans"},
        "user": {"id": "U0001", "team_id": team},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "container": {"type": "message", "is_ephemeral": True},
        "trigger_id": "1.2.4",
        "channel": {"id": channel, "name": "general"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": "evbot_suggest_0",
                "block_id": "evbot_suggestions",
                "value": value,
                "action_ts": "1700000000.1",
            }
        ],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})
