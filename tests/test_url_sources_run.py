"""End to end (issue 20): `evbot fetch`, `evbot sources` and `evbot run` as real processes on a
URL source served on 127.0.0.1; the publisher adds a month and the console announces it with no
command."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.cli.main import main
from tests.fake_publisher import HEADER, serving

ROOT = Path(__file__).resolve().parent.parent
HISTORY = "2020-01,World,Nissan,Leaf,95000\n2020-01,World,Renault,Zoe,60000\n"
LEAF_100K = "2020-02,World,Nissan,Leaf,6000\n"


def _environment() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("EVBOT_", "DISCORD_", "SLACK_"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


async def _cli(*args: str) -> tuple[int, str]:
    """`evbot ARGS` in a thread (it runs a loop of its own), and its output."""
    out = io.StringIO()
    status = await asyncio.to_thread(main, list(args), out)
    return status, out.getvalue()


async def _read_until(stream: asyncio.StreamReader, needle: str, within: float) -> str:
    text = ""
    async with asyncio.timeout(within):
        while needle not in text:
            chunk = await stream.read(65536)
            if not chunk:
                break
            text += chunk.decode("utf-8", errors="replace")
    assert needle in text, text
    return text


@pytest.mark.slow  # three commands and `evbot run` as processes: about 10 s
async def test_evbot_run_announces_a_month_published_at_the_url_with_no_command(
    tmp_path: Path,
) -> None:
    async with serving() as site:
        site.csv("/ev.csv", HEADER + HISTORY, etag='"v1"')
        config = tmp_path / "evbot.toml"
        config.write_text(
            f'database = "{tmp_path / "run.sqlite3"}"\n\n[sources.news]\n'
            f'url = "{site.url("/ev.csv")}?token=SECRET"\nformat = "canonical"\n'
            'refresh = "1s"\nallow_http = true\nallow_private = true\n',
            encoding="utf-8",
        )
        common = ["--config", str(config)]
        status, out = await _cli("fetch", "--dry-run", *common)
        assert status == 0 and "news: would be imported: 2 rows: 2 new, 0 revised" in out
        status, out = await _cli("fetch", *common)
        assert (status, out.strip()) == (0, "news: imported: 2 rows: 2 new, 0 revised")
        status, out = await _cli("subscribe", "alliance", "--by", "test", *common)
        assert status == 0, out

        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            *common,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=tmp_path,
            env=_environment(),
        )
        assert proc.stdout is not None and proc.stderr is not None
        try:
            await _read_until(proc.stdout, "Now following Renault-Nissan Alliance", 30)
            site.csv("/ev.csv", HEADER + HISTORY + LEAF_100K, etag='"v2"')
            await _read_until(proc.stdout, "Nissan Leaf passes 100,000 sales", 30)
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                assert await proc.wait() == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            err = (await proc.stderr.read()).decode("utf-8", errors="replace")
        assert "Traceback" not in err and "SECRET" not in err

        status, out = await _cli("sources", "--json", *common)
        [listed] = json.loads(out)["sources"]
        assert listed["url"].endswith("/ev.csv?…") and "SECRET" not in out
        assert (listed["status"], listed["rows"], listed["failures"]) in {
            ("imported", 3, 0),
            ("unchanged", 3, 0),
        }
        assert listed["etag"] == '"v2"'
        status, out = await _cli("sources", *common)
        assert out.startswith("news: http://127.0.0.1:") and "(refresh 1s)" in out
