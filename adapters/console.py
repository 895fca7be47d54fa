"""The console adapter: announcements as panels in a terminal, the bot's embedded default."""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import TextIO

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from adapters.text import clean_text
from bot.domain.channels import CHANNEL_GONE, Channel, DeliveryFailure, Limits
from bot.domain.messages import Message
from bot.ports.chat import ImageMode

CONSOLE_CHANNEL = Channel("console", "local", "terminal")
_STYLE = {
    "milestone": "green",
    "share": "cyan",
    "growth": "blue",
    "record": "magenta",
    "info": "white",
    "error": "red",
}


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # rich would raise SystemExit inside the delivery worker; let the post fail instead
        raise BrokenPipeError("the terminal's output was closed")


class ConsoleAdapter:
    """Prints messages as rich panels; text is passed as `Text`, so data is never markup."""

    platform = "console"
    images: ImageMode = "none"  # a terminal shows no image
    limits = Limits(global_per_second=1000.0, channel_per_second=1000.0)

    def __init__(self, out: TextIO | None = None, width: int | None = None) -> None:
        self.console = _Console(file=out, width=width, highlight=False, soft_wrap=False)
        self._ids = itertools.count(1)
        self.posted: dict[str, str] = {}  # key -> id, for this process's lifetime

    def render(self, message: Message) -> Panel:
        """The panel for a message: title, body, fields as `name: value` lines, footer."""
        body = Text(clean_text(message.body))
        if message.fields:
            body.append("\n")
            for field in message.fields:
                body.append("\n")
                body.append(clean_text(field.name, keep_newlines=False), style="bold")
                body.append(": " + clean_text(field.value, keep_newlines=False))
        return Panel(
            body,
            title=Text(clean_text(message.title, keep_newlines=False), style="bold"),
            subtitle=Text(clean_text(message.footer, keep_newlines=False), style="dim")
            if message.footer
            else None,
            border_style=_STYLE.get(message.accent, "white"),
            title_align="left",
            subtitle_align="right",
        )

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        """Print one message; a key printed before in this process is not printed again."""
        if key in self.posted:
            return self.posted[key]
        try:
            self.console.print(self.render(message))
        except BrokenPipeError as exc:
            raise DeliveryFailure(CHANNEL_GONE, permanent=True, detail=str(exc)) from exc
        message_id = f"console-{next(self._ids)}"
        self.posted[key] = message_id
        return message_id

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        """A terminal keeps no history to look in: only this process's own posts are known."""
        return self.posted.get(key)

    async def serve_commands(
        self,
        handle: Callable[[str], Awaitable[Message]],
        stop: asyncio.Event,
        lines: TextIO | None = None,
    ) -> bool:
        """Read slash commands, typed at a terminal or piped in, and print each reply, until
        `stop` or the end of input; returns whether the input ended. A daemon thread reads, so
        a pending read never holds up the exit."""
        source = lines if lines is not None else sys.stdin
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def read() -> None:
            try:
                for line in source:
                    loop.call_soon_threadsafe(queue.put_nowait, line)
                loop.call_soon_threadsafe(queue.put_nowait, None)
            except RuntimeError:  # the loop closed while we waited for a line
                return

        threading.Thread(target=read, name="evbot-console-input", daemon=True).start()
        while not stop.is_set():
            line_task = asyncio.ensure_future(queue.get())
            stop_task = asyncio.ensure_future(stop.wait())
            await asyncio.wait({line_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
            stop_task.cancel()
            if not line_task.done():
                line_task.cancel()
                return False
            line = line_task.result()
            if line is None:
                return True
            if line.strip():
                self.console.print(self.render(await handle(line.strip())))
        return False

    def say(self, text: str) -> None:
        """A plain status line (not an announcement)."""
        self.console.print(Text(clean_text(text)), style="dim")
