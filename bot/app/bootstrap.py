"""Which adapters a configuration asks for: the composition of platforms for `evbot run`."""

from __future__ import annotations

from typing import TextIO

from bot.domain.settings import Config, ConfigError
from bot.ports import ChatAdapter


def build_adapters(config: Config, out: TextIO) -> dict[str, ChatAdapter]:
    """Every enabled platform's adapter; the console one when no platform is enabled."""
    adapters: dict[str, ChatAdapter] = {}
    for name, platform in config.platforms.items():
        if not platform.enabled:
            continue
        if name == "webhook":
            from adapters.webhook import WebhookAdapter

            adapters[name] = WebhookAdapter(platform)
        elif name == "discord":
            from adapters.discord.adapter import DiscordAdapter

            try:
                adapters[name] = DiscordAdapter(platform)
            except ConfigError as exc:  # the adapter's checks name the key, not the file
                raise ConfigError(f"{config.path or 'configuration'}: {exc}") from None
        elif name == "slack":
            from adapters.slack.adapter import SlackAdapter

            try:
                adapters[name] = SlackAdapter.from_config(platform)
            except ConfigError as exc:  # the adapter's checks name the key, not the file
                raise ConfigError(f"{config.path or 'configuration'}: {exc}") from None
        else:
            raise ConfigError(
                f"{config.path or 'configuration'}: platforms.{name}: the {name} adapter is not "
                "in this version yet; disable it (enabled = false)"
            )
    if not adapters:
        from adapters.console import ConsoleAdapter

        adapters["console"] = ConsoleAdapter(out)
    return adapters
