"""Every platform this version can deliver to: its name and where its adapter lives.

Adding a platform is one package under `adapters/` and one line here. An entry names a factory
`module:attribute` that takes the platform's `[platforms.NAME]` configuration and returns the
adapter (`ChatAdapter`); it is imported only when the platform is enabled, so a deployment on
Slack never loads discord.py. The console is the adapter of last resort: `evbot run` uses it
when no platform is enabled, and it is not configured.

A platform may add commands of its own to `evbot` (`evbot discord sync`): `COMMANDS` names a
function `module:attribute` that adds them to the parser, given what every command shares
(`CommandLine`); its module imports the platform's library only when one of them runs.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any, Protocol, TypeAlias, cast

from bot.domain.settings import Config, PlatformConfig
from bot.ports.chat import ChatAdapter

CONSOLE = "console"
FACTORIES: dict[str, str] = {
    "discord": "adapters.discord.adapter:DiscordAdapter",
    "matrix": "adapters.matrix.adapter:MatrixAdapter.from_config",
    "slack": "adapters.slack.adapter:SlackAdapter.from_config",
    "webhook": "adapters.webhook:WebhookAdapter",
    "discord_webhook": "adapters.discord_webhook.adapter:DiscordWebhookAdapter",
    "slack_webhook": "adapters.slack_webhook.adapter:SlackWebhookAdapter",
    "teams": "adapters.teams.adapter:TeamsAdapter",
}
PLATFORMS: tuple[str, ...] = tuple(sorted((CONSOLE, *FACTORIES)))
COMMANDS: dict[str, str] = {
    "discord": "adapters.discord.cli:add_commands",
    "slack": "adapters.slack.cli:add_commands",
}

Factory = Callable[[PlatformConfig], ChatAdapter]
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CommandLine(Protocol):
    """What a platform's commands share with every `evbot` command."""

    def add_common(self, parser: argparse.ArgumentParser) -> None:
        """--db, --config and --log-level."""

    def settings(self, args: argparse.Namespace) -> Config:
        """The configuration the command was given (its [logging] level applied)."""

    def database(self, args: argparse.Namespace, config: Config) -> str:
        """The database the command was given."""

    def error(self, message: str) -> Exception:
        """A failure `evbot` reports in one line, with exit status 1."""


def factory(name: str) -> Factory:
    """The adapter factory of platform `name`; KeyError for a platform not in the registry."""
    return cast(Factory, _load(FACTORIES[name]))


def add_commands(sub: Subcommands, cli: CommandLine) -> None:
    """Every platform's own commands, added to the `evbot` parser."""
    for spec in COMMANDS.values():
        _load(spec)(sub, cli)


def _load(spec: str) -> Any:
    module, _, path = spec.partition(":")
    found: Any = importlib.import_module(module)
    for part in path.split("."):
        found = getattr(found, part)
    return found
