"""`evbot discord sync` and `evbot discord invite-url` on the command line (the registry's hook).

Only the parser is built here: discord.py is imported when one of these commands runs
(`adapters.discord.chores`), never by `evbot total`.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from adapters.registry import CommandLine, Subcommands


def add_commands(sub: Subcommands, cli: CommandLine) -> None:
    """Add `evbot discord ACTION` to the `evbot` parser."""

    async def run(args: argparse.Namespace, out: TextIO) -> int:
        from adapters.discord.chores import run_discord_command

        config = cli.settings(args)
        database = cli.database(args, config)
        return await run_discord_command(args.action, config, database, out, force=args.force)

    p = sub.add_parser("discord", help="Discord: sync the slash commands, print the invite URL")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = actions.add_parser("sync", help="sync the slash commands to Discord now")
    q.add_argument("--force", action="store_true", help="even when they did not change")
    cli.add_common(q)
    q.set_defaults(run=run)
    q = actions.add_parser("invite-url", help="the URL that adds the bot to a server")
    cli.add_common(q)
    q.set_defaults(run=run, force=False)
