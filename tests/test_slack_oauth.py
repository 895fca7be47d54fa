"""Multi-workspace distribution: bolt's OAuth flow against the fake Slack, with installations and
OAuth states kept in the bot's SQLite database."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation

from adapters.slack.adapter import SlackAdapter
from adapters.slack.oauth import DatabaseInstallationStore, DatabaseStateStore
from bot.commands.context import CommandContext
from bot.domain.channels import MISSING_ACCESS, Channel, DeliveryFailure
from bot.domain.messages import Message
from bot.store.sqlite.sales import SqliteStore
from tests.fake_slack import FakeSlack
from tests.test_slack_support import (
    command_body,
    http_settings,
    post_signed,
    serving,
)

CLIENT_ID = "1111.2222"
# slack_sdk's oauth.v2.access call uses aiohttp.BasicAuth, deprecated in aiohttp 3.14: theirs to fix
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")


@pytest.fixture
def fake(fake_slack: FakeSlack) -> FakeSlack:
    return fake_slack


@pytest.fixture
def ctx(demo_ctx: CommandContext) -> CommandContext:
    return demo_ctx


async def install(url: str, code: str) -> int:
    """What a browser does: open the install page, follow Slack back with a code."""
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/slack/install") as page:
            assert page.status == 200
            html = await page.text()
            cookie = page.headers["Set-Cookie"].split(";")[0]
        match = re.search(r"state=([A-Za-z0-9_\-]+)", html)
        assert match is not None, html
        assert "client_id=1111.2222" in html
        # aiohttp's cookie jar drops cookies of IP hosts: send it as Slack's browser would
        async with session.get(
            url + f"/slack/oauth_redirect?code={code}&state={match.group(1)}",
            headers={"Cookie": cookie},
        ) as back:
            return back.status


async def test_an_oauth_install_of_a_second_workspace_then_a_command_and_a_post_there(
    fake: FakeSlack, ctx: CommandContext
) -> None:
    settings = http_settings(fake, bot_token=None, client_id=CLIENT_ID, client_secret="shh")
    adapter = SlackAdapter(settings)
    fake.admins.add("U0001")
    async with serving(adapter, ctx) as url:
        assert await install(url, "T0002-code1") == 200
        (exchange,) = fake.calls_to("oauth.v2.access")
        assert exchange.params["code"] == "T0002-code1"
        rows = await ctx.store.find_slack_bot("", "T0002")
        assert rows is not None and "xoxb-T0002-T0002-code1" in rows

        body, _ = command_body(fake, "ev-subscribe", "alliance", team="T0002")
        assert (await post_signed(url, body))[0] == 200
        await fake.wait_for(lambda: len(fake.responses) == 1)
        # answered to the caller only: the channel hears the outbox's "now following" post
        assert fake.responses[0][1]["response_type"] == "ephemeral", fake.responses
        assert "now follows Renault-Nissan Alliance" in fake.responses[0][1]["text"]
        (lookup,) = fake.calls_to("users.info")
        assert lookup.token == "xoxb-T0002-T0002-code1"  # the workspace's own token

        # a workspace that never installed the app: bolt refuses, nothing runs
        body, _ = command_body(fake, "ev-subscribe", "alliance", team="T0003")
        assert (await post_signed(url, body))[0] == 200
        await fake.wait_for(lambda: len(fake.responses) == 2)
        assert "install" in fake.responses[1][1]["text"].lower()

        ts = await adapter.post(Channel("slack", "T0002", "C0200"), Message("t", "b"), "k-1")
        with pytest.raises(DeliveryFailure) as caught:
            await adapter.post(Channel("slack", "T0003", "C0300"), Message("t", "b"), "k-2")
    assert caught.value.reason == MISSING_ACCESS and caught.value.permanent
    (posted,) = fake.messages
    assert (posted.team, posted.channel, posted.ts) == ("T0002", "C0200", ts)
    subs = await ctx.store.subscriptions()
    assert [(s.spec.channel.workspace, s.spec.channel.channel) for s in subs] == [
        ("T0002", "C0001")
    ]


async def test_a_redirect_with_a_state_never_issued_installs_nothing(
    fake: FakeSlack, ctx: CommandContext
) -> None:
    settings = http_settings(fake, bot_token=None, client_id=CLIENT_ID, client_secret="shh")
    adapter = SlackAdapter(settings)
    async with serving(adapter, ctx) as url, aiohttp.ClientSession() as session:
        back = await session.get(
            url + "/slack/oauth_redirect?code=T0009-x&state=forged",
            headers={"Cookie": "slack-app-oauth-state=forged"},
        )
        back.release()
        assert back.status == 401
    assert fake.calls_to("oauth.v2.access") == []
    assert await ctx.store.find_slack_bot("", "T0009") is None


# -- the stores on SQLite -------------------------------------------------------------------


def installation(team: str, user: str, token: str, at: float) -> Installation:
    return Installation(
        app_id="A0001",
        team_id=team,
        team_name=f"Workspace {team}",
        bot_token=token,
        bot_id=f"B{team}",
        bot_user_id=f"UB{team}",
        bot_scopes=["commands", "chat:write"],
        user_id=user,
        installed_at=at,
    )


async def test_installations_survive_a_reopen_and_the_newest_wins(
    store: SqliteStore, tmp_path: Path
) -> None:
    istore = DatabaseInstallationStore(store)
    await istore.async_save(installation("T1", "U1", "xoxb-old", 100.0))
    await istore.async_save(installation("T1", "U2", "xoxb-new", 200.0))
    await istore.async_save(installation("T2", "U1", "xoxb-t2", 150.0))
    await store.close()
    async with SqliteStore(store.path) as again:
        istore = DatabaseInstallationStore(again)
        latest = await istore.async_find_installation(enterprise_id=None, team_id="T1")
        assert latest is not None
        assert (latest.user_id, latest.bot_token, latest.bot_scopes) == (
            "U2",
            "xoxb-new",
            ["commands", "chat:write"],
        )
        by_u1 = await istore.async_find_installation(enterprise_id=None, team_id="T1", user_id="U1")
        assert by_u1 is not None and by_u1.user_id == "U1"
        assert by_u1.bot_token == "xoxb-new"  # the workspace's current bot token
        bot = await istore.async_find_bot(enterprise_id=None, team_id="T2")
        assert bot is not None and bot.bot_token == "xoxb-t2"
        assert await istore.async_find_bot(enterprise_id=None, team_id="T3") is None

        await istore.async_delete_all(enterprise_id=None, team_id="T1")
        assert await istore.async_find_bot(enterprise_id=None, team_id="T1") is None
        assert await istore.async_find_installation(enterprise_id=None, team_id="T1") is None
        assert await istore.async_find_bot(enterprise_id=None, team_id="T2") is not None


async def test_an_oauth_state_is_good_once_and_only_until_it_expires(store: SqliteStore) -> None:
    now = [1000.0]
    states = DatabaseStateStore(store, expiration_seconds=600, clock=lambda: now[0])
    first = await states.async_issue()
    second = await states.async_issue()
    assert first != second
    assert await states.async_consume(first)
    assert not await states.async_consume(first)  # once
    assert not await states.async_consume("never-issued")
    now[0] += 601
    assert not await states.async_consume(second)  # expired
