"""The platforms' own commands: `evbot discord ...` and `evbot slack manifest`."""

from __future__ import annotations

import argparse
from typing import TextIO

from bot.cli.common import CliError, load_settings, resolve_database

# -- discord --------------------------------------------------------------------------------


async def cmd_discord(args: argparse.Namespace, out: TextIO) -> int:
    from adapters.discord.chores import run_discord_command

    config = load_settings(args)
    database = resolve_database(args.db, config)
    return await run_discord_command(args.action, config, database, out, force=args.force)


async def cmd_slack_manifest(args: argparse.Namespace, out: TextIO) -> int:
    from adapters.slack.manifest import cmd_manifest

    try:
        return await cmd_manifest(args, out)
    except ValueError as exc:
        raise CliError(str(exc)) from None
