"""`evbot mute`, `unmute` and `mutes` (issue 18): chat's /ev-mute for a channel named on the
command line, refusing what chat refuses, seen by chat's /ev-subscriptions in that channel."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.app.bootstrap import open_commands
from bot.cli.main import main
from bot.commands.dispatch import run_text
from bot.commands.types import Invocation, Reply
from bot.domain.channels import Channel
from bot.domain.settings import default_config
from bot.store.sqlite.sales import SqliteStore

CHANNEL = ["--platform", "discord", "--workspace", "1234", "--channel", "5678"]
HERE = Invocation(Channel("discord", "1234", "5678"), "alice", can_manage=True)


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVBOT_DB", raising=False)
    monkeypatch.delenv("EVBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = str(tmp_path / "demo.sqlite3")
    assert main(["import", "--demo", "--db", path]) == 0
    assert main(["subscribe", "alliance", *CHANNEL, "--db", path]) == 0
    capsys.readouterr()
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


async def _chat(db: str, text: str) -> Reply:
    async with SqliteStore(db) as store:
        config = default_config()
        await store.sync_groups(config.groups)
        return await run_text(await open_commands(store, config), HERE, text)


def test_mute_list_and_unmute(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(
        capsys, "mute", "leaf", "--for", "7d", "--then", "drop", "--by", "bob", *CHANNEL, "--db", db
    )
    assert (status, err) == (0, "")
    assert "Muted Nissan Leaf" in out and "is not posted here at all" in out

    # chat, in that channel, sees the mute the command line made
    reply = asyncio.run(_chat(db, "/ev-subscriptions"))
    assert "Nissan Leaf muted until" in reply.message.body and "by bob" in reply.message.body

    status, out, _ = run(capsys, "mutes", "--json", "--db", db)
    (listed,) = [json.loads(line) for line in out.splitlines()]
    assert status == 0
    assert (listed["channel"], listed["subject_name"], listed["then"], listed["by"]) == (
        "discord:1234/5678",
        "Nissan Leaf",
        "drop",
        "bob",
    )
    status, out, _ = run(capsys, "mutes", "--db", db)
    assert out.startswith("discord:1234/5678: Nissan Leaf muted until")

    status, out, err = run(capsys, "unmute", "all", *CHANNEL, "--db", db)
    assert (status, err) == (0, "") and "Ended every mute of this channel" in out
    assert run(capsys, "mutes", "--db", db)[1] == "no mutes in force\n"


def test_refusals_are_chats(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "mute", "leaf", "--for", "7y", *CHANNEL, "--db", db)
    assert (status, out) == (1, "")
    assert err.startswith("evbot mute: discord:1234/5678: --for: '7y' is not a duration")
    status, _, err = run(capsys, "mute", "zoee", "--for", "1d", *CHANNEL, "--db", db)
    assert status == 1 and "Did you mean 'Renault Zoe'?" in err
    status, _, err = run(capsys, "unmute", "leaf", *CHANNEL, "--db", db)
    assert status == 1 and "Nissan Leaf is not muted in this channel" in err
    assert run(capsys, "mutes", "--db", db)[1] == "no mutes in force\n"
