"""`evbot slack manifest` on the command line (the registry's hook).

Only the parser is built here: the manifest (and the command table it is built from) is imported
when the command runs (`adapters.slack.manifest`).
"""

from __future__ import annotations

import argparse
from typing import TextIO

from adapters.registry import CommandLine, Subcommands


def add_commands(sub: Subcommands, cli: CommandLine) -> None:
    """Add `evbot slack manifest` to the `evbot` parser."""

    async def run(args: argparse.Namespace, out: TextIO) -> int:
        from adapters.slack.manifest import cmd_manifest

        try:
            return await cmd_manifest(args, out)
        except ValueError as exc:
            raise cli.error(str(exc)) from None

    p = sub.add_parser("slack", help="Slack helpers (the app manifest)")
    slack = p.add_subparsers(dest="slack_command", metavar="SLACK_COMMAND", required=True)
    p = slack.add_parser("manifest", help="print a Slack app manifest (JSON) to paste")
    p.add_argument("--url", help="HTTP mode: the bot's public https:// base URL")
    p.add_argument(
        "--name", default="EV Milestone Bot", help="the app's name in Slack (default: %(default)s)"
    )
    p.set_defaults(run=run)
