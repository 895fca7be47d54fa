"""The `[platforms.teams]` options and the shape of a Teams Workflows webhook URL (the adapter
owns its settings schema; its channels are `[webhooks.NAME]` with kind = "teams")."""

from __future__ import annotations

import re
from collections.abc import Mapping

from adapters.named_webhook import HookSettings, UrlShape, hook_settings
from bot.domain.settings import PlatformConfig

KIND = "teams"
# Power Automate throttles a flow's HTTP trigger; a channel takes a few messages a second at most
DEFAULTS: Mapping[str, float] = {
    "rate_per_second": 4.0,
    "channel_rate_per_second": 0.5,
    "timeout": 15.0,
}
SHAPE = UrlShape(
    re.compile(
        r"^(/[A-Za-z0-9._-]+)*/workflows/[A-Za-z0-9-]{1,64}/triggers/[A-Za-z0-9_-]{1,64}/paths/invoke/?$"
    ),
    "https://….logic.azure.com:443/workflows/…/triggers/manual/paths/invoke?…&sig=…",
)


def settings(config: PlatformConfig, environ: Mapping[str, str] | None = None) -> HookSettings:
    """The checked settings, every channel's URL read and shaped like teams's."""
    return hook_settings(config, DEFAULTS, SHAPE, environ, charts=True)
