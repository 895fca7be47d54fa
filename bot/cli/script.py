"""The `evbot` script and `python -m bot`: one command (`bot.cli.main.main`), then the process
ends at once.

Once a command has returned, its store and connections are closed and nothing is left to run;
what remains is the interpreter's teardown of every module imported (discord.py, slack_sdk,
matplotlib, numpy, ...), which takes a second or more on a busy machine. That second counts
against a service manager's stop timeout (`evbot run` on SIGTERM: `[delivery]
stop_grace_seconds`), so the output is flushed and the process exits without it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys


def main() -> None:
    """Run the command line's one command and exit with its status."""
    from bot.cli.main import main as run_command

    status = run_command()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe (`evbot replay | head`): nothing is left to keep
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)
