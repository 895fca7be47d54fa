"""`evbot discord sync` and `evbot discord invite-url`: the Discord chores run by hand.

`sync` pushes the command definitions to Discord now (globally, or to the configured development
guilds) and records their hash, so the next `evbot run` does not sync them again; `--force`
syncs even when nothing changed. `invite-url` prints the OAuth2 URL that adds the bot to a
server with the scopes and permissions it needs; it logs in only when `application_id` is not
configured (the application id is then asked of Discord).
"""

from __future__ import annotations

import sys
from typing import TextIO

import aiohttp
import discord

from adapters.discord.adapter import DiscordAdapter
from adapters.discord.commands import SyncRecord, invite_url
from bot.domain.settings import Config, ConfigError

EXIT_OK, EXIT_FAIL = 0, 1


async def run_discord_command(
    action: str, config: Config, database: str, out: TextIO, *, force: bool = False
) -> int:
    """Run one `evbot discord ACTION`; returns the exit status."""
    platform = config.platforms.get("discord")
    if platform is None:
        raise ConfigError(f"{config.path or 'configuration'}: no [platforms.discord] settings")
    try:
        adapter = DiscordAdapter(platform)
    except ConfigError as exc:
        raise ConfigError(f"{config.path or 'configuration'}: {exc}") from None
    try:
        if action == "invite-url":
            app_id = adapter.settings.application_id
            if app_id is None:
                await adapter.login()
                app_id = adapter.client.application_id
            if app_id is None:
                raise ConfigError("platforms.discord.application_id: Discord did not say it")
            print(invite_url(app_id), file=out)
            return EXIT_OK
        if action == "sync":
            synced = await adapter.sync(SyncRecord.beside(database), force=force)
            count = len(adapter.tree.get_commands())
            where = ", ".join(synced) if synced else "nothing changed"
            print(f"{count} commands; synced: {where}", file=out)
            return EXIT_OK
        raise ConfigError(f"evbot discord: unknown action {action!r}")
    except discord.LoginFailure:
        print("evbot discord: Discord refused the bot token (401)", file=sys.stderr)
        return EXIT_FAIL
    except discord.HTTPException as exc:
        print(f"evbot discord: Discord answered HTTP {exc.status}: {exc.text}", file=sys.stderr)
        return EXIT_FAIL
    except (aiohttp.ClientError, OSError) as exc:
        print(f"evbot discord: cannot reach Discord: {type(exc).__name__}", file=sys.stderr)
        return EXIT_FAIL
    finally:
        await adapter.close()
