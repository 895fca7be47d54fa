"""Which adapters a configuration asks for: the composition of platforms for `evbot run`."""

from __future__ import annotations

from typing import TextIO

from adapters import registry
from adapters.console import ConsoleAdapter
from bot.domain.settings import Config, ConfigError
from bot.ports.chat import ChatAdapter


def build_adapters(config: Config, out: TextIO) -> dict[str, ChatAdapter]:
    """Every enabled platform's adapter (from the registry); the console one when no platform
    is enabled."""
    adapters: dict[str, ChatAdapter] = {}
    for name, platform in config.platforms.items():
        if not platform.enabled:
            continue
        if name not in registry.FACTORIES:
            raise ConfigError(
                f"{config.path or 'configuration'}: platforms.{name}: the {name} adapter is not "
                "in this version yet; disable it (enabled = false)"
            )
        try:
            adapters[name] = registry.factory(name)(platform)
        except ConfigError as exc:  # the adapter's checks name the key, not the file
            raise ConfigError(f"{config.path or 'configuration'}: {exc}") from None
    if not adapters:
        adapters[registry.CONSOLE] = ConsoleAdapter(out)
    return adapters
