"""The `[platforms.discord]` options, checked (the adapter owns its settings schema).

`api_base` and `gateway_url` point discord.py at another server. They exist for tests against the
local fake Discord (`tests/fake_discord.py`): discord.py keeps both as class attributes, so they
apply to the whole process.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import discord
import yarl

from bot.domain.settings import ConfigError

TOKEN = "token"  # the PlatformConfig secret
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
DEFAULT_RATE = 40.0  # requests a second in all; Discord allows 50 per bot
DEFAULT_CHANNEL_RATE = 1.0  # message creates a second in one channel
DEFAULT_TIMEOUT = 15.0  # seconds for one post, retries of discord.py's own included


@dataclass(frozen=True)
class DiscordSettings:
    """The `[platforms.discord]` options, checked."""

    application_id: int | None = None
    guilds: tuple[int, ...] = ()  # development guilds: sync there (instantly) instead of globally
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    api_base: str | None = None  # test-only: another REST base, e.g. the local fake's
    gateway_url: str | None = None  # test-only: another gateway websocket URL
    rate_per_second: float = DEFAULT_RATE
    channel_rate_per_second: float = DEFAULT_CHANNEL_RATE
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> DiscordSettings:
        """Check and convert the options; errors name the key."""

        def where(key: str) -> str:
            return f"platforms.discord.{key}"

        def snowflake(key: str, value: Any) -> int:
            text = str(value).strip()
            if isinstance(value, bool) or not text.isdigit() or int(text) <= 0:
                raise ConfigError(f"{where(key)}: must be a Discord id (digits), not {value!r}")
            return int(text)

        def number(key: str, default: float) -> float:
            value = options.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{where(key)}: must be a number, not {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{where(key)}: must be a number above 0, not {value!r}")
            return float(value)

        def url(key: str, schemes: tuple[str, ...]) -> str | None:
            value = options.get(key)
            if value is None:
                return None
            parsed = yarl.URL(str(value))
            if parsed.scheme not in schemes or not parsed.host:
                raise ConfigError(
                    f"{where(key)}: must be a {' or '.join(schemes)} URL, not {value!r}"
                )
            return str(value).rstrip("/")

        app = options.get("application_id")
        guilds = options.get("guilds", [])
        if not isinstance(guilds, list):
            raise ConfigError(f"{where('guilds')}: must be a list of guild ids")
        shard_count = options.get("shard_count")
        if shard_count is not None and (
            isinstance(shard_count, bool) or not isinstance(shard_count, int) or shard_count < 1
        ):
            raise ConfigError(f"{where('shard_count')}: must be a whole number of 1 or more")
        raw_ids = options.get("shard_ids")
        shard_ids: tuple[int, ...] | None = None
        if raw_ids is not None:
            if shard_count is None:
                raise ConfigError(f"{where('shard_ids')}: needs shard_count as well")
            if not isinstance(raw_ids, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) and 0 <= i < shard_count
                for i in raw_ids
            ):
                raise ConfigError(
                    f"{where('shard_ids')}: must be a list of shard numbers from 0 to "
                    f"{shard_count - 1}"
                )
            shard_ids = tuple(raw_ids)
        return cls(
            application_id=snowflake("application_id", app) if app is not None else None,
            guilds=tuple(snowflake(f"guilds[{i}]", g) for i, g in enumerate(guilds)),
            shard_count=shard_count,
            shard_ids=shard_ids,
            api_base=url("api_base", ("http", "https")),
            gateway_url=url("gateway_url", ("ws", "wss")),
            rate_per_second=number("rate_per_second", DEFAULT_RATE),
            channel_rate_per_second=number("channel_rate_per_second", DEFAULT_CHANNEL_RATE),
            timeout=number("timeout", DEFAULT_TIMEOUT),
        )


def point_at(api_base: str | None, gateway_url: str | None) -> None:
    """Send discord.py's REST calls and gateway connection to other URLs (the local fake).

    Both are class attributes in discord.py (`Route.BASE`, `DiscordWebSocket.DEFAULT_GATEWAY`),
    read on every request and connection; there is no per-client seam.
    """
    if api_base:
        discord.http.Route.BASE = api_base
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
