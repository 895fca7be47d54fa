"""The slash commands as a discord.py command tree, built from the core's table, and the record
of what was last synced.

Commands (the `CommandHost` port): `serve` logs in, syncs the command tree when its definitions
changed since the last sync (their hash is kept in a small file beside the database; Discord
allows 200 command creates a day per guild), connects to the gateway and answers interactions
through the core's `run_command` until told to stop. Every command of the core's table is
registered with its options, choices and subject autocomplete; commands that change what a
channel receives carry `default_permissions(manage_channels)` (a hint Discord shows) and the
enforcing check is the core's, fed with `Invocation.can_manage` from the member's permissions in
the channel (Manage Channels or Administrator).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import keyword
from collections.abc import Awaitable, Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import discord
from discord import app_commands

from bot.commands.table import COMMANDS
from bot.commands.types import HELP, Command
from bot.domain.i18n import language_of, t, tp

MAX_DESCRIPTION = 100  # characters in a command or option description
# Manage Channels (1 << 4) or Administrator (1 << 3): who may change what a channel receives
MANAGE_CHANNELS = 1 << 4
ADMINISTRATOR = 1 << 3
# what the bot needs where it posts: View Channel, Send Messages, Embed Links, Attach Files, and
# Read Message History for reconciliation
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)
INVITE_SCOPES = ("bot", "applications.commands")
HASH_SUFFIX = ".discord-commands.json"


def can_manage(permissions: int) -> bool:
    """Whether a member with these permissions (in the channel) may change what it receives."""
    return bool(permissions & (MANAGE_CHANNELS | ADMINISTRATOR))


def locale_of(interaction: discord.Interaction[Any]) -> str:
    """The caller's Discord locale (`en-US`, `nb`, `ja`…): the language of their answers."""
    return str(interaction.locale.value)


def failure_text(
    interaction: discord.Interaction[Any], error: app_commands.AppCommandError | None = None
) -> str:
    """What the caller is told, in their language, when the core could not answer: the bot is
    still starting (no error), the command is unknown to this version, or a failure (logged)."""
    loc = locale_of(interaction)
    if error is None:
        return t(loc, "The bot is still starting; try again in a moment.")
    if isinstance(error, app_commands.CommandNotFound):
        return t(loc, "This command is not known to this bot version; the list is being updated.")
    return t(loc, "Something went wrong answering that; it has been logged.")


def invite_url(application_id: int) -> str:
    """The OAuth2 URL that adds the bot to a server with the scopes and permissions it needs."""
    return discord.utils.oauth_url(
        application_id, permissions=INVITE_PERMISSIONS, scopes=INVITE_SCOPES
    )


def _fit(text: str, limit: int = MAX_DESCRIPTION) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _py_name(option: str) -> str:
    """The option as a Python parameter name (renamed back for Discord): `as-of` as `as_of`,
    a keyword such as `for` (of /ev-mute) as `for_`."""
    name = option.replace("-", "_")
    return name + "_" if keyword.iskeyword(name) else name


# -- descriptions in the member's language -----------------------------------------------------


@lru_cache(maxsize=512)
def _localized(text: str) -> tuple[tuple[str, str], ...]:
    found = []
    for locale in discord.Locale:
        language = language_of(locale.value)
        translated = tp(language, HELP, text)
        if language != "en" and translated != text:
            found.append((locale.value, _fit(translated)))
    return tuple(found)


def description_localizations(text: str) -> dict[str, str]:
    """A description of the table (`text`, as written) in each Discord locale whose language
    the catalogs write (`nb` for `no`, `de`, `fr`, `ja`…), fitted to Discord's 100 characters."""
    return dict(_localized(text))


class DescriptionTranslator(app_commands.Translator):
    """Gives Discord the table's descriptions in each member's language from the catalogs.
    Command and option names, and choices, are never translated: they are typed as written."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        if context.location not in (
            app_commands.TranslationContextLocation.command_description,
            app_commands.TranslationContextLocation.parameter_description,
        ):
            return None
        original = str(string.extras.get("original", string.message))
        return description_localizations(original).get(locale.value)


def _described(text: str) -> app_commands.locale_str:
    """A description as Discord shows it (fitted), keeping the table's text for the catalogs."""
    return app_commands.locale_str(_fit(text), original=text)


# -- the command tree ------------------------------------------------------------------------

Runner = Callable[[discord.Interaction[Any], Command, dict[str, str]], Awaitable[None]]
Completer = Callable[[str], list[str]]


ErrorHandler = Callable[[discord.Interaction[Any], app_commands.AppCommandError], Awaitable[None]]


class _Tree(app_commands.CommandTree[Any]):
    """A command tree whose errors go to the adapter, synced with its descriptions in every
    language the bot writes (`DescriptionTranslator`)."""

    def __init__(self, client: discord.Client, on_error: ErrorHandler) -> None:
        super().__init__(client)
        self._handle_error = on_error
        self._translator = DescriptionTranslator()

    @property
    def translator(self) -> app_commands.Translator:
        return self._translator

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError, /
    ) -> None:
        await self._handle_error(interaction, error)


def build_tree(
    client: discord.Client,
    run: Runner,
    complete: Completer,
    on_error: ErrorHandler,
    commands: Mapping[str, Command] = COMMANDS,
) -> app_commands.CommandTree[Any]:
    """A command tree with every command of the core's table, built from the table itself."""
    tree = _Tree(client, on_error)
    for command in commands.values():
        tree.add_command(app_command(command, run, complete))
    return tree


def app_command(
    command: Command, run: Runner, complete: Completer
) -> app_commands.Command[Any, ..., None]:
    """One core command as a discord.py app command: a callback whose signature is the
    command's options (typed, with descriptions, renames, choices and autocomplete)."""

    async def callback(interaction: discord.Interaction[Any], **values: str | None) -> None:
        args = {
            option.name: value
            for option in command.options
            if (value := values.get(_py_name(option.name))) is not None
        }
        await run(interaction, command, args)

    async def subjects(
        interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        names = complete(current)
        return [app_commands.Choice(name=_fit(n), value=n[:100]) for n in names[:25]]

    parameters = [
        inspect.Parameter(
            "interaction",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=discord.Interaction,
        )
    ]
    descriptions: dict[str, app_commands.locale_str] = {}
    renames: dict[str, str] = {}
    choices: dict[str, list[app_commands.Choice[str]]] = {}
    completers: dict[str, Any] = {}
    for option in command.options:
        name = _py_name(option.name)
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=str if option.required else Optional[str],  # noqa: UP045 (discord.py reads it)
                default=inspect.Parameter.empty if option.required else None,
            )
        )
        descriptions[name] = _described(option.description)
        if name != option.name:
            renames[name] = option.name
        if option.choices and len(option.choices) <= 25:
            choices[name] = [app_commands.Choice(name=c, value=c) for c in option.choices]
        elif option.kind == "subject":
            completers[name] = subjects
    # discord.py reads the options from the callback's signature: give it the table's
    setattr(callback, "__signature__", inspect.Signature(parameters))  # noqa: B010
    callback.__qualname__ = callback.__name__ = command.name.replace("-", "_")
    decorated: Any = callback
    if descriptions:
        decorated = app_commands.describe(**descriptions)(decorated)
    if renames:
        decorated = app_commands.rename(**renames)(decorated)
    if choices:
        decorated = app_commands.choices(**choices)(decorated)
    if completers:
        decorated = app_commands.autocomplete(**completers)(decorated)
    if command.manages_channel:
        # a hint: Discord hides the command from members without the permission, but server
        # admins can override it; the core enforces it on every call (Invocation.can_manage)
        decorated = app_commands.default_permissions(manage_channels=True)(decorated)
        decorated = app_commands.guild_only()(decorated)
    return app_commands.Command(
        name=command.name, description=_described(command.description), callback=decorated
    )


def definitions(tree: app_commands.CommandTree[Any]) -> list[dict[str, Any]]:
    """The JSON a sync sends, with the localized descriptions of the table's commands: what the
    definitions hash covers (so a changed translation is synced too)."""
    found = []
    for command in tree.get_commands():
        data = command.to_dict(tree)
        spec = COMMANDS.get(data["name"])
        if spec is not None:
            data["description_localizations"] = description_localizations(spec.description)
            for option in data.get("options", []):
                if (option_spec := spec.option(option["name"])) is not None:
                    localized = description_localizations(option_spec.description)
                    option["description_localizations"] = localized
        found.append(data)
    return found


def definitions_hash(tree: app_commands.CommandTree[Any], application_id: int, scope: str) -> str:
    """A hash of the command definitions for one application and scope (global or a guild)."""
    text = json.dumps(
        {"application": application_id, "scope": scope, "commands": definitions(tree)},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode()).hexdigest()


class SyncRecord:
    """The definitions hash of the last sync, per scope, in a small JSON file (or in memory)."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self._memory: dict[str, str] = {}

    @classmethod
    def beside(cls, database: str) -> SyncRecord:
        """The record kept next to a database file (in memory for `:memory:`)."""
        return cls(None if database == ":memory:" or "://" in database else database + HASH_SUFFIX)

    def _read(self) -> dict[str, str]:
        if self.path is None:
            return dict(self._memory)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # missing or unreadable: sync again, which is always safe
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    async def get(self, scope: str) -> str | None:
        """The hash recorded for a scope."""
        return (await asyncio.to_thread(self._read)).get(scope)

    async def put(self, scope: str, digest: str) -> None:
        """Record a scope's hash after a successful sync."""
        if self.path is None:
            self._memory[scope] = digest
            return
        path = self.path

        def write() -> None:
            data = self._read()
            data[scope] = digest
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
            tmp.replace(path)

        await asyncio.to_thread(write)
