"""/ev-help: the command table read aloud in the reader's language. Given the table rather than
importing it (the table imports the commands, this one among them): every command with what it
does, its options and an example, or one command's options, each with what it does."""

from __future__ import annotations

from collections.abc import Mapping

from bot.commands.arguments import ArgumentError
from bot.commands.types import HELP, Command, Reply
from bot.domain.i18n import LANGUAGES, t, tp
from bot.domain.messages import Field, Message


def help_reply(commands: Mapping[str, Command], loc: str, command: str = "") -> Reply:
    """The answer of /ev-help in the language of `loc`: every command, or with `command` (as
    typed: `ev-total`, `/ev-total` or `total`) that command's options."""
    if command.strip():
        return _options_reply(_named(commands, command), loc)
    fields = tuple(
        Field(
            t(loc, "/{command} (channel managers)", command=c.name)
            if c.manages_channel
            else f"/{c.name}",
            summary(c, loc),
            inline=False,
        )
        for c in commands.values()
    )
    return Reply(
        Message(
            title=t(loc, "EV Milestone Bot commands"),
            body=t(
                loc,
                "The subject is free words (a model, make, group, region or all); options are "
                "name:value. Periods: 2015, 2015-06, june 2015, 2015-Q2, ytd, 2019..2021 or all. "
                "A reading command answers in another language with locale: ({languages}), "
                "e.g. {example}. One command's options: {help}.",
                languages=", ".join(LANGUAGES),
                example="/ev-total nissan leaf locale:nb",
                help="/ev-help command:ev-total",
            ),
            fields=fields,
            accent="info",
            locale=loc,
        ),
        ephemeral=True,
        data={"commands": [{"name": c.name, "example": c.example} for c in commands.values()]},
    )


def summary(command: Command, loc: str) -> str:
    """What a command does, the names of its options and an example, in the language of `loc`."""
    description = tp(loc, HELP, command.description)
    if not command.options:
        return t(
            loc,
            "{description}. Example: {example}",
            description=description,
            example=command.example,
        )
    return t(
        loc,
        "{description}. Options: {options}. Example: {example}",
        description=description,
        options=" ".join(f"{o.name}:" for o in command.options),
        example=command.example,
    )


def _named(commands: Mapping[str, Command], text: str) -> Command:
    key = text.strip().lstrip("/").lower()
    command = commands.get(key) or commands.get(f"ev-{key}")
    if command is None:
        raise ArgumentError(
            "command: there is no command {name}; /ev-help lists them all.", name=repr(text)
        )
    return command


def _options_reply(command: Command, loc: str) -> Reply:
    fields = tuple(
        Field(
            t(loc, "{option} (required)", option=o.name) if o.required else o.name,
            tp(loc, HELP, o.description),
            inline=False,
        )
        for o in command.options
    )
    body = summary(command, loc)
    if command.manages_channel:
        body = t(loc, "{summary} For channel managers only.", summary=body)
    return Reply(
        Message(title=f"/{command.name}", body=body, fields=fields, accent="info", locale=loc),
        ephemeral=True,
        data={
            "command": command.name,
            "options": [o.name for o in command.options],
            "example": command.example,
        },
    )
