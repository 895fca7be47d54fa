"""`evbot run`, `evbot discord sync` and `evbot discord invite-url` as real processes against the
fake Discord (served by the test on 127.0.0.1), configured through the test-only `api_base` and
`gateway_url` settings and `DISCORD_TOKEN`."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
import yarl

from bot.detection.detector import Detector
from bot.domain.channels import Channel
from bot.domain.settings import default_config
from bot.domain.subscriptions import SubscriptionSpec
from bot.store.sqlite.sales import SqliteStore
from tests.crash_runner import LEAF, SOURCE, Feed, leaf
from tests.fake_discord import APP_ID, CHANNEL_ID, GUILD_ID, TOKEN, FakeDiscord

ROOT = Path(__file__).resolve().parent.parent
HERE = Channel("discord", str(GUILD_ID), str(CHANNEL_ID))


def write_config(path: Path, fake: FakeDiscord, extra: str = "") -> Path:
    path.write_text(
        "[platforms.discord]\n"
        "enabled = true\n"
        f'api_base = "{fake.api_base}"\n'
        f'gateway_url = "{fake.gateway_url}"\n' + extra,
        encoding="utf-8",
    )
    return path


def env() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("EVBOT_")}
    return keep | {"PYTHONPATH": str(ROOT), "DISCORD_TOKEN": TOKEN}


async def evbot(*args: str, within: float = 60.0) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=ROOT,
        env=env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), within)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_evbot_run_serves_commands_and_posts_announcements(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    async with SqliteStore(db) as store:
        config = default_config()
        await store.sync_groups(config.groups)
        await store.subscribe(SubscriptionSpec(HERE, LEAF))
        await Feed(store, Detector(store, config)).history()
        # news that `evbot run` finds on its first poll: the Leaf passes 2,500
        await store.import_records([(SOURCE, [leaf(3, 1_500)])])

    async with FakeDiscord() as fake:
        toml = write_config(tmp_path / "evbot.toml", fake)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--db",
            str(db),
            "--config",
            str(toml),
            cwd=ROOT,
            env=env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await fake.wait_identified(1, within=60)
            (posted,) = await fake.wait_messages(1, CHANNEL_ID, within=60)
            embed = posted.body["embeds"][0]
            assert "Nissan Leaf" in embed["title"] and "2,500" in embed["title"]
            assert posted.body["allowed_mentions"] == {"parse": []}
            assert posted.body["nonce"].startswith("evbot-delivery-")
            assert posted.body["enforce_nonce"] is True
            assert [s for s, _ in fake.command_puts] == ["global"]

            token = await fake.send_interaction(
                "ev-total", [{"name": "subject", "type": 3, "value": "leaf"}]
            )
            kind, seen, body = await fake.next_callback(within=30)
            assert (kind, seen, body["type"]) == ("callback", token, 4)
            assert "2,700" in body["data"]["embeds"][0]["description"]
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert "evbot running: discord" in out.decode()
        assert TOKEN not in out.decode() + err.decode()

    async with SqliteStore(db) as store:
        (delivery,) = await store.deliveries()
        assert delivery.status == "posted" and delivery.message_id == posted.payload["id"]


@pytest.mark.slow
async def test_evbot_discord_sync_and_invite_url(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    async with FakeDiscord() as fake:
        toml = write_config(tmp_path / "evbot.toml", fake, f"guilds = ['{GUILD_ID}']\n")
        status, out, err = await evbot("discord", "sync", "--db", str(db), "--config", str(toml))
        assert status == 0, err
        assert f"synced: {GUILD_ID}" in out
        assert [s for s, _ in fake.command_puts] == [str(GUILD_ID)]
        assert (tmp_path / "bot.sqlite3.discord-commands.json").exists()

        status, out, _ = await evbot("discord", "sync", "--db", str(db), "--config", str(toml))
        assert status == 0 and "nothing changed" in out
        assert len(fake.command_puts) == 1
        status, out, _ = await evbot(
            "discord", "sync", "--force", "--db", str(db), "--config", str(toml)
        )
        assert status == 0 and len(fake.command_puts) == 2

        # without application_id it is asked of Discord
        status, out, err = await evbot("discord", "invite-url", "--config", str(toml))
        assert status == 0, err
        url = yarl.URL(out.strip())
        assert url.host == "discord.com" and url.query["client_id"] == str(APP_ID)
        assert url.query["scope"] == "bot applications.commands"

    # with it, nothing is contacted
    offline = tmp_path / "offline.toml"
    offline.write_text("[platforms.discord]\napplication_id = '123456789'\n", encoding="utf-8")
    status, out, err = await evbot("discord", "invite-url", "--config", str(offline))
    assert status == 0, err
    assert yarl.URL(out.strip()).query["client_id"] == "123456789"


async def test_evbot_discord_sync_reports_a_refused_token(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        toml = write_config(tmp_path / "evbot.toml", fake)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "discord",
            "sync",
            "--config",
            str(toml),
            "--db",
            str(tmp_path / "x.sqlite3"),
            cwd=ROOT,
            env=env() | {"DISCORD_TOKEN": "aaaa.bbbb.not-the-right-one"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert "refused the bot token" in err.decode()
    assert "not-the-right-one" not in err.decode() + out.decode()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("shard_count = 0\n", "platforms.discord.shard_count"),
        ("api_base = 'nope'\n", "platforms.discord.api_base"),
    ],
)
async def test_evbot_run_refuses_bad_discord_settings(
    tmp_path: Path, extra: str, message: str
) -> None:
    toml = tmp_path / "evbot.toml"
    toml.write_text(f"[platforms.discord]\nenabled = true\n{extra}", encoding="utf-8")
    status, out, err = await evbot(
        "run", "--db", str(tmp_path / "x.sqlite3"), "--config", str(toml)
    )
    assert status == 1
    assert message in err and str(toml) in err
    assert "evbot running" not in out


async def test_evbot_discord_without_a_token_says_which_variable(tmp_path: Path) -> None:
    toml = tmp_path / "evbot.toml"
    toml.write_text("[platforms.discord]\ntoken_env = 'MY_BOT_TOKEN'\n", encoding="utf-8")
    status, out, err = await evbot("discord", "invite-url", "--config", str(toml))
    assert status == 1 and not out
    assert err.startswith("evbot discord: ") and str(toml) in err
    assert "platforms.discord.token" in err
