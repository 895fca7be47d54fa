"""The console adapter: announcements as panels in a terminal, the bot's embedded default."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from adapters.render_text import clean_text
from bot.messages import Message

_STYLE = {
    "milestone": "green",
    "share": "cyan",
    "growth": "blue",
    "record": "magenta",
    "info": "white",
    "error": "red",
}


class ConsoleAdapter:
    """Prints messages as rich panels; text is passed as `Text`, so data is never markup."""

    platform = "console"

    def __init__(self, out: TextIO | None = None, width: int | None = None) -> None:
        self.console = Console(file=out, width=width, highlight=False, soft_wrap=False)

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

    async def post(self, message: Message) -> str:
        """Print one message; returns a local message id."""
        self.console.print(self.render(message))
        return f"console-{id(message)}"

    def say(self, text: str) -> None:
        """A plain status line (not an announcement)."""
        self.console.print(Text(clean_text(text)), style="dim")
