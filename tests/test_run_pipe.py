"""`evbot run` reading slash commands from a pipe, as a real process: it answers what is piped
in; at the end of input the bot runs on, or, with `--exit-on-eof`, exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.cli.main import main

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("EVBOT_DB", "EVBOT_CONFIG")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "run.sqlite3")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "import", "--demo", "--db", path],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return path


def test_piped_commands_are_answered_and_exit_on_eof_exits(db: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--db", db, "--exit-on-eof"],
        input="/ev-total leaf\n\n/ev-total leef\n",
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "reading slash commands from standard input" in out
    assert "Nissan Leaf: 253,991" in out  # the answer, as a console panel
    assert "Did you mean 'Nissan Leaf'?" in out
    assert out.rstrip().endswith("end of input: stopping (--exit-on-eof)")


def _read_until(
    proc: subprocess.Popen[str], text: str
) -> tuple[list[str], threading.Event, threading.Thread]:
    """A thread reading `proc`'s output into a list, with an event set at the first line holding
    `text`: (the lines, the event, the thread)."""
    lines: list[str] = []
    seen = threading.Event()

    def collect() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if text in line:
                seen.set()

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    return lines, seen, reader


def test_without_exit_on_eof_the_bot_runs_on_after_the_input_ends(db: str, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--db", db],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=_env(),
        text=True,
    )
    assert proc.stdin is not None
    lines, ended, reader = _read_until(proc, "end of input")
    try:
        proc.stdin.write("/ev-total leaf\n")
        proc.stdin.close()
        assert ended.wait(60), "".join(lines) + (proc.stderr.read() if proc.poll() else "")
        time.sleep(1.0)
        assert proc.poll() is None, "the bot stopped at the end of its input"
        out = "".join(lines)
        assert "Nissan Leaf: 253,991" in out
        assert "end of input: no more commands are read; the bot runs on (Ctrl-C stops)" in out
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        reader.join(5)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def test_run_with_no_input_at_all_runs_on(db: str, tmp_path: Path) -> None:
    """A service's standard input is often /dev/null: the end of input at once."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--db", db],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=_env(),
        text=True,
    )
    lines, ended, reader = _read_until(proc, "the bot runs on")
    try:
        # told once it has started and read the end of its input (a fixed sleep was too short
        # for a loaded machine: SIGINT came before the bot had set its handlers)
        assert ended.wait(60), "".join(lines) + (proc.stderr.read() if proc.poll() else "")
        time.sleep(1.0)
        assert proc.poll() is None, "the bot stopped at the end of its input"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        reader.join(5)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def test_exit_on_eof_has_help_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--exit-on-eof stop when standard input ends" in text
    assert "default: answer what is piped in or typed, then run on" in text
