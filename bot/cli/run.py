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
from bot.cli.logs import json_logs, say
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
    if args.exit_on_eof and not isinstance(adapters.get("console"), ConsoleAdapter):
        raise CliError(
            "--exit-on-eof: commands are read from standard input by the console, which runs "
            f"only when no platform is enabled (enabled: {', '.join(sorted(adapters))})"
        )
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
        if not json_logs():  # a JSON log has the line below only
            print(
                f"ops listening on {ops.host}:{ops.port} (/healthz, /metrics)", file=out, flush=True
            )
        log.info("health and metrics on %s port %d (/healthz, /metrics)", ops.host, ops.port)
    try:
        return await _serve(app, adapters, config, out, exit_on_eof=args.exit_on_eof)
    finally:
        if ops is not None:
            await ops.stop()


def _command_input() -> TextIO | None:
    """Standard input, where commands can be read from it (a terminal or a pipe): a service
    may run with none, or with it closed."""
    stdin = sys.stdin
    if stdin is None or stdin.closed:
        return None
    try:
        stdin.fileno()
    except (OSError, ValueError):
        return None
    return stdin


async def _serve(
    app: App,
    adapters: dict[str, ChatAdapter],
    config: Config,
    out: TextIO,
    *,
    exit_on_eof: bool = False,
) -> int:
    console = adapters.get("console")
    source = _command_input() if isinstance(console, ConsoleAdapter) else None
    typed = source is not None and source.isatty()
    reading = (
        "type /ev-help for commands; "
        if typed
        else "reading slash commands from standard input; "
        if source is not None
        else ""
    )
    app.catch_signals()
    say(
        out,
        f"evbot running: {', '.join(sorted(adapters))}; polling every {config.poll_seconds:g} s; "
        + reading
        + "Ctrl-C stops",
    )
    if source is not None and isinstance(console, ConsoleAdapter):
        from bot.cli.ask import CONSOLE_CHANNEL, console_user
        from bot.commands.dispatch import run_text
        from bot.commands.types import Invocation

        ctx = await open_commands(app.store, config)
        who = Invocation(CONSOLE_CHANNEL, console_user(), can_manage=True, locale=config.locale)

        async def handle(text: str) -> Message:
            return (await run_text(ctx, who, text)).message

        async def read_commands() -> None:
            ended = await console.serve_commands(handle, app.stopping, source)
            if not ended:
                return
            if exit_on_eof:
                say(out, "end of input: stopping (--exit-on-eof)")
                app.stopping.set()
            else:
                say(out, "end of input: no more commands are read; the bot runs on (Ctrl-C stops)")

        task = asyncio.create_task(read_commands())
        await app.serve_forever()
        task.cancel()
    else:
        await app.serve_forever()
    return EXIT_OK
