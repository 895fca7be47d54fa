"""The console adapter: panels, the command prompt, and a closed terminal."""

from __future__ import annotations

import asyncio
import io

from adapters.console import CONSOLE_CHANNEL, ConsoleAdapter
from bot.app.bootstrap import open_commands
from bot.commands.dispatch import run_text
from bot.commands.types import Invocation
from bot.domain.messages import Message
from bot.domain.settings import default_config
from bot.ingest.importer import import_demo
from bot.store.sqlite.sales import SqliteStore


async def test_the_prompt_answers_slash_commands_until_the_input_ends(tmp_path) -> None:
    config = default_config()
    out = io.StringIO()
    adapter = ConsoleAdapter(out, width=100)
    async with SqliteStore(tmp_path / "demo.sqlite3") as store:
        await store.sync_groups(config.groups)
        await import_demo(store, config)
        ctx = await open_commands(store, config)
        who = Invocation(CONSOLE_CHANNEL, "tester", can_manage=True, locale="en")

        async def handle(text: str) -> Message:
            return (await run_text(ctx, who, text)).message

        lines = io.StringIO("/ev-total alliance as-of:2015-06\n\n/ev-total leef\n")
        ended = await asyncio.wait_for(adapter.serve_commands(handle, asyncio.Event(), lines), 10)
    assert ended is True  # the input ended (not a stop): `evbot run` says so and runs on
    shown = out.getvalue()
    assert "256,132" in shown and "June 2015" in shown and "72%" in shown
    assert "Did you mean 'Nissan Leaf'?" in shown


async def test_the_prompt_stops_when_the_bot_stops() -> None:
    adapter = ConsoleAdapter(io.StringIO())
    stop = asyncio.Event()

    class Endless(io.StringIO):
        def __iter__(self):  # a terminal nobody types in
            while True:
                yield from ()
                import time

                time.sleep(0.05)

    async def handle(text: str) -> Message:
        return Message("x", text)

    task = asyncio.create_task(adapter.serve_commands(handle, stop, Endless()))
    await asyncio.sleep(0.05)
    stop.set()
    assert await asyncio.wait_for(task, 2) is False


async def test_data_cannot_recolour_or_ping_the_terminal() -> None:
    out = io.StringIO()
    adapter = ConsoleAdapter(out, width=100)
    await adapter.post(
        CONSOLE_CHANNEL,
        Message("\x1b[31m@everyone [bold]x[/bold]", "body \x1b]0;title\x07 <!channel>"),
        "k1",
    )
    shown = out.getvalue()
    assert "\x1b[31m" not in shown and "\x1b]0;" not in shown
    assert "[bold]x[/bold]" in shown  # printed as text, not taken as rich markup
