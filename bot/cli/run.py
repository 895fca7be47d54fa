"""`evbot run`: the bot with every enabled adapter, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import TYPE_CHECKING, TextIO

from adapters.console import ConsoleAdapter
from bot.app.bootstrap import build_adapters, build_app, build_leadership, build_ops, open_commands
from bot.cli.common import EXIT_OK, CliError, load_settings, store_for
from bot.domain.messages import Message
from bot.domain.settings import Config
from bot.ports.chat import ChatAdapter

if TYPE_CHECKING:
    from bot.app.runtime import App

log = logging.getLogger("evbot.cli")


# -- run ------------------------------------------------------------------------------------


async def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    config = load_settings(args)
    adapters = build_adapters(config, out)
    store = store_for(args, config)
    app = build_app(config, store, adapters, leadership=build_leadership(store))
    ops_address = args.ops or os.environ.get("EVBOT_OPS_ADDRESS")
    ops = build_ops(app, ops_address) if ops_address else None  # checks the address before starting
    await app.start()
    if ops is not None:
        try:
            await ops.start()
        except OSError as exc:
            await app.stop()
            raise CliError(f"--ops {ops_address}: cannot listen: {exc.strerror or exc}") from exc
        print(f"ops listening on {ops.host}:{ops.port} (/healthz, /metrics)", file=out, flush=True)
        log.info("health and metrics on %s port %d (/healthz, /metrics)", ops.host, ops.port)
    try:
        return await _serve(app, adapters, config, out)
    finally:
        if ops is not None:
            await ops.stop()


async def _serve(app: App, adapters: dict[str, ChatAdapter], config: Config, out: TextIO) -> int:
    console = adapters.get("console")
    prompt = isinstance(console, ConsoleAdapter) and sys.stdin.isatty()
    print(
        f"evbot running: {', '.join(sorted(adapters))}; polling every {config.poll_seconds:g} s; "
        + ("type /ev-help for commands; " if prompt else "")
        + "Ctrl-C stops",
        file=out,
    )
    if prompt and isinstance(console, ConsoleAdapter):
        from bot.cli.ask import CONSOLE_CHANNEL, console_user
        from bot.commands.dispatch import run_text
        from bot.commands.types import Invocation

        ctx = await open_commands(app.store, config)
        who = Invocation(CONSOLE_CHANNEL, console_user(), can_manage=True, locale=config.locale)

        async def handle(text: str) -> Message:
            return (await run_text(ctx, who, text)).message

        task = asyncio.create_task(console.serve_commands(handle, app.stopping))
        await app.serve_forever()
        task.cancel()
    else:
        await app.serve_forever()
    return EXIT_OK
