"""The crash tests' harness, one for every platform: read the outbox, start a fake platform as a
process, SIGKILL a bot process once it has made some progress, and run one to the end.

The bot processes themselves are `evbot run` or a runner (`tests/crash_runner.py`, `_discord`,
`_slack`, all around `crash_runner.drain`); the tests (`test_crash.py`, `test_slack_crash.py`,
`test_discord_crash.py`, `test_replicas.py`) say what is killed when and what must hold after.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def outbox_counts(db: Path) -> dict[str, int]:
    """{status: deliveries} of a SQLite outbox, read while the bot may be writing it."""
    with sqlite3.connect(db, timeout=10) as conn:
        rows = conn.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall()
    conn.close()
    return {str(status): int(n) for status, n in rows}


def fake_stats(port: int) -> dict[str, Any]:
    """What a fake platform process has received (its `/_stats`)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats", timeout=5) as response:
        found: dict[str, Any] = json.load(response)
    return found


def start_fake(
    script: Path, state: Path, env: Mapping[str, str], *options: str
) -> tuple[subprocess.Popen[str], int]:
    """A fake platform (`tests/fake_webhook.py`, `tests/fake_slack.py`) as its own process on a
    free port of 127.0.0.1, writing what it received to `state` when stopped; and its port."""
    proc = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--state", str(state), *options],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(env),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("listening on "), line
    return proc, int(line.split()[-1])


class Bot:
    """One bot process after another, the running one killed if the test ends early."""

    def __init__(self, command: list[str], env: Mapping[str, str]) -> None:
        self.command = command
        self.env = dict(env)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        self.proc = subprocess.Popen(
            self.command, env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL
        )
        return self.proc

    def kill_after(
        self, progress: Callable[[], int], wanted: int, within: float, pause: float
    ) -> None:
        """Start the bot, wait (bounded) until `progress()` reaches `wanted` while it runs, then
        `pause` seconds (a random moment among its posts), and SIGKILL it."""
        bot = self.start()
        deadline = time.monotonic() + within
        # polled: the progress is another process's (the fake's counters), with no event to await
        while progress() < wanted:
            assert bot.poll() is None, f"the bot exited early with {bot.returncode}"
            assert time.monotonic() < deadline, "the bot makes no progress"
            time.sleep(0.005)
        time.sleep(pause)  # real pacing: the kill's moment among the posts
        bot.send_signal(signal.SIGKILL)
        bot.wait(timeout=10)
        self.proc = None

    def run_until_posted(
        self, db: Path, total: int, within: float, *, may_exit: bool, clean_stop: bool
    ) -> None:
        """Start the bot and wait (bounded) until `total` deliveries are posted; the bot may exit
        by itself when done (`may_exit`, a runner) or is stopped with SIGTERM (`clean_stop`,
        `evbot run`); either way it must exit 0."""
        bot = self.start()
        deadline = time.monotonic() + within
        # polled: the outbox is written by the bot's process, with no event to await
        while outbox_counts(db).get("posted", 0) < total:
            assert bot.poll() is None or may_exit, bot.returncode
            assert time.monotonic() < deadline, f"not finished: {outbox_counts(db)}"
            time.sleep(0.05)
        if clean_stop:
            bot.send_signal(signal.SIGTERM)  # a clean stop this time
        assert bot.wait(timeout=20) == 0
        self.proc = None

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def stop_fake(fake: subprocess.Popen[str]) -> None:
    """Stop a fake platform process (SIGTERM: it writes its state) and close its pipe."""
    fake.send_signal(signal.SIGTERM)
    fake.wait(timeout=10)
    assert fake.stdout is not None
    fake.stdout.close()


@contextmanager
def stopped_at_the_end(fake: subprocess.Popen[str], bot: Bot) -> Iterator[None]:
    """Kill the bot if it still runs, and stop the fake (SIGTERM: it writes its state)."""
    try:
        yield
    finally:
        bot.close()
        stop_fake(fake)
