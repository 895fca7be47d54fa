"""`evbot ask "/ev-total leaf"`: one command through the console adapter, its reply printed."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import TextIO

from bot.app.bootstrap import open_commands
from bot.cli.common import load_settings, store_for
from bot.domain.channels import Channel
from bot.domain.defuse import defuse_json
from bot.domain.event_codec import message_to_dict
from bot.domain.settings import Config
from bot.ports.store import BotStore

CONSOLE_CHANNEL = Channel("console", "local", "terminal")


def console_user() -> str:
    """Who is at the terminal."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "console"


async def ask(config: Config, store: BotStore, text: str, as_json: bool) -> tuple[int, str]:
    """Run one command as the console user (who manages the console channel) on `store` (not
    yet open; SQLite or PostgreSQL); returns the exit status (0 answered, 1 refused or failed)
    and the text to print."""
    from bot.commands.dispatch import run_text
    from bot.commands.types import Invocation

    await store.open()
    try:
        await store.sync_groups(config.groups)
        ctx = await open_commands(store, config)
        invocation = Invocation(
            CONSOLE_CHANNEL, console_user(), can_manage=True, locale=config.locale
        )
        reply = await run_text(ctx, invocation, text)
    finally:
        await store.close()
    status = 0 if reply.ok else 1
    if as_json:
        payload = {
            "ok": reply.ok,
            "ephemeral": reply.ephemeral,
            "message": message_to_dict(reply.message),
            "data": dict(reply.data) if reply.data is not None else None,
        }
        # defused: scripts forward this to chat (the plain text below is defused as it renders)
        return status, json.dumps(defuse_json(payload), ensure_ascii=False)
    from adapters.text import render_text

    return status, render_text(reply.message).rstrip("\n")


async def cmd_ask(args: argparse.Namespace, out: TextIO) -> int:
    from bot.cli.ask import ask

    config = load_settings(args)
    store = store_for(args, config, read=True)  # refuses a missing database, with the reason
    status, text = await ask(config, store, args.text, args.json)
    print(text, file=out)
    return status
