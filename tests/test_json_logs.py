"""`--log-format json`: every line `evbot run` writes on stdout and stderr is one JSON object
(time, level, logger, message, and the fields a record carries), warnings and a crash's
traceback included, and no configured secret appears in any decoded value."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake_discord import TOKEN, FakeDiscord

ROOT = Path(__file__).resolve().parent.parent
SECRETS = {
    "DISCORD_TOKEN": TOKEN,
    "SLACK_BOT_TOKEN": "xoxb-T0001-json-log-bot-token",
    "SLACK_APP_TOKEN": "xapp-1-json-log-app-token",
    "SLACK_SIGNING_SECRET": "json-log-signing-secret",
    "SLACK_CLIENT_SECRET": "json-log-client-secret",
    "EVBOT_WEBHOOK_SECRET": "json-log-webhook-secret",
    "PGPASSWORD": "json-log-database-password",
}


def environment() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("EVBOT_")}
    return keep | SECRETS | {"PYTHONPATH": str(ROOT)}


def strings(value: Any) -> Iterator[str]:
    """Every string in a decoded JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def records(text: str) -> list[dict[str, Any]]:
    """Each line as a JSON object with the fields every line has; a failure names the line."""
    found = []
    for line in text.splitlines():
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "message"} <= set(record), line
        found.append(record)
    return found


def leaks(found: list[dict[str, Any]]) -> list[str]:
    return [
        name
        for name, secret in SECRETS.items()
        if any(secret in text for record in found for text in strings(record))
    ]


@pytest.mark.slow
async def test_evbot_run_logs_only_json_lines_and_no_secret(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        config = tmp_path / "evbot.toml"
        config.write_text(
            '[logging]\nformat = "json"\nlevel = "debug"\n'
            "[platforms.discord]\nenabled = true\n"
            f'api_base = "{fake.api_base}"\ngateway_url = "{fake.gateway_url}"\n'
            "[platforms.webhook]\nenabled = true\n",
            encoding="utf-8",
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "bot", "run", "--db", str(tmp_path / "bot.sqlite3"), "--config", str(config)),
            "--ops",
            "127.0.0.1:0",
            cwd=ROOT,
            env=environment(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        # read as the bot writes: at debug level its start fills a pipe's 64 KB, and a bot whose
        # stderr nobody reads blocks on its next log line (it never got to IDENTIFY)
        assert proc.stdout is not None and proc.stderr is not None
        readers = [asyncio.create_task(proc.stdout.read()), asyncio.create_task(proc.stderr.read())]
        try:
            await fake.wait_identified(1, within=60)
            await asyncio.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 60)
            out, err = await asyncio.wait_for(asyncio.gather(*readers), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert out.decode() == ""  # the banner is a log line too
    found = records(err.decode())
    messages = [r["message"] for r in found]
    assert any(m.startswith("evbot running: discord, webhook") for m in messages)
    assert any(r["logger"].startswith("discord") for r in found)  # a library's own lines
    assert any(r["level"] == "DEBUG" for r in found)
    assert leaks(found) == []


def test_warnings_and_a_crash_are_json_lines_without_secrets(tmp_path: Path) -> None:
    script = (
        "import warnings, os\n"
        "from bot.cli.logs import configure_logging, report_crash\n"
        "configure_logging('info', 'json')\n"
        "warnings.warn('careful with ' + os.environ['SLACK_BOT_TOKEN'])\n"
        "try:\n"
        "    raise RuntimeError('boom ' + os.environ['DISCORD_TOKEN'])\n"
        "except RuntimeError as exc:\n"
        "    report_crash(exc, 'evbot run: internal error (a bug; please report it)')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    found = records(done.stderr)
    assert [r["logger"] for r in found] == ["py.warnings", "evbot.cli"]
    crash = found[1]
    assert crash["level"] == "ERROR" and "internal error" in crash["message"]
    assert "RuntimeError: boom ***" in crash["exc_info"]  # the traceback, in the line
    assert leaks(found) == []
