"""Every platform this version can deliver to: its name and where its adapter lives.

Adding a platform is one package under `adapters/` and one line here. An entry names a factory
`module:attribute` that takes the platform's `[platforms.NAME]` configuration and returns the
adapter (`ChatAdapter`); it is imported only when the platform is enabled, so a deployment on
Slack never loads discord.py. The console is the adapter of last resort: `evbot run` uses it
when no platform is enabled, and it is not configured.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, cast

from bot.domain.settings import PlatformConfig
from bot.ports.chat import ChatAdapter

CONSOLE = "console"
FACTORIES: dict[str, str] = {
    "discord": "adapters.discord.adapter:DiscordAdapter",
    "slack": "adapters.slack.adapter:SlackAdapter.from_config",
    "webhook": "adapters.webhook:WebhookAdapter",
}
PLATFORMS: tuple[str, ...] = tuple(sorted((CONSOLE, *FACTORIES)))

Factory = Callable[[PlatformConfig], ChatAdapter]


def factory(name: str) -> Factory:
    """The adapter factory of platform `name`; KeyError for a platform not in the registry."""
    module, _, path = FACTORIES[name].partition(":")
    found: Any = importlib.import_module(module)
    for part in path.split("."):
        found = getattr(found, part)
    return cast(Factory, found)
