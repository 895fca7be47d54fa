"""What a command is and what it answers: the option specs, who runs it (`Invocation`), the
answer (`Reply`, `error_reply`), a `Command` of the table, and `CommandHost`, the adapter that
serves commands from its platform. Argument errors are `bot.commands.arguments.ArgumentError`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bot.commands.context import CommandContext
from bot.domain.channels import Channel
from bot.domain.i18n import t
from bot.domain.messages import Message

# the context of the descriptions in the catalogs: the table writes it as a literal, "help",
# as extraction reads only literals
HELP = "help"


def N_(context: str, message: str) -> str:
    """Marks a description of the table for the catalogs (pybabel's `N_:1c,2`) and returns it
    as written: platforms register the English, /ev-help reads it with `tp(loc, HELP, text)`."""
    return message


@dataclass(frozen=True)
class OptionSpec:
    """One option of a command; `kind` is string, subject (autocompleted), region, period, or
    locale: the language of this one answer (read by the dispatcher, not by the handler).
    `description` is English, marked with `N_("help", ...)`, so /ev-help can tell it in the
    reader's language."""

    name: str
    description: str
    kind: str = "string"
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Invocation:
    """Who runs a command, where: the adapter says whether the user can manage the channel."""

    channel: Channel
    user: str
    can_manage: bool = False
    locale: str = "en"  # the caller's: one-off answers
    # the language the platform gives the channel's community (Discord's guild_locale), "" if
    # none: a subscription made without `locale:` takes it before the configuration's
    channel_locale: str = ""


@dataclass(frozen=True)
class Reply:
    """The answer: a message, shown only to the caller when `ephemeral`; `data` for --json."""

    message: Message
    ephemeral: bool = False
    data: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.message.kind != "error"


Handler = Callable[[CommandContext, Invocation, Mapping[str, str]], Awaitable[Reply]]


@dataclass(frozen=True)
class Command:
    name: str
    description: str
    options: list[OptionSpec]
    handler: Handler
    manages_channel: bool
    example: str

    def option(self, name: str) -> OptionSpec | None:
        for option in self.options:  # a loop: asked of every argument of every command
            if option.name == name:
                return option
        return None


def error_reply(text: str, locale: str = "en") -> Reply:
    """An error answered to the caller only; `text` is already in the language of `locale`."""
    title = t(locale, "Cannot do that")
    return Reply(
        Message(title=title, body=text, accent="error", locale=locale, kind="error"),
        ephemeral=True,
    )


@runtime_checkable
class CommandHost(Protocol):
    """An adapter that also takes slash commands from its platform (Discord, Slack).

    `serve` connects, answers commands through `commands` until `stopping` is set, then returns;
    the app runs it as a task beside the delivery worker.
    """

    async def serve(self, commands: CommandContext, stopping: asyncio.Event) -> None: ...
