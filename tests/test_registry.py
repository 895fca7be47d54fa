"""The adapter registry: one line per platform, loaded only when enabled."""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import replace

import pytest

from adapters import registry
from adapters.console import ConsoleAdapter
from adapters.webhook import WebhookAdapter
from bot.app.bootstrap import build_adapters
from bot.domain.settings import PLATFORM_SECRETS, ConfigError, PlatformConfig, default_config


def test_every_configurable_platform_has_an_adapter_and_every_factory_loads() -> None:
    assert set(PLATFORM_SECRETS) <= set(registry.FACTORIES)
    assert tuple(sorted({registry.CONSOLE, *registry.FACTORIES})) == registry.PLATFORMS
    for name in registry.FACTORIES:
        assert callable(registry.factory(name)), name
    with pytest.raises(KeyError):
        registry.factory("irc")


def test_enabled_platforms_are_built_from_the_registry_and_the_console_is_the_last_resort() -> None:
    config = default_config()
    assert list(build_adapters(config, io.StringIO())) == ["console"]
    assert isinstance(build_adapters(config, io.StringIO())["console"], ConsoleAdapter)

    platforms = dict(config.platforms)
    platforms["webhook"] = PlatformConfig("webhook", enabled=True)
    built = build_adapters(replace(config, platforms=platforms), io.StringIO())
    assert list(built) == ["webhook"] and isinstance(built["webhook"], WebhookAdapter)

    platforms["irc"] = PlatformConfig("irc", enabled=True)
    with pytest.raises(ConfigError, match=r"platforms\.irc: the irc adapter is not in this"):
        build_adapters(replace(config, platforms=platforms), io.StringIO())


def test_a_platform_not_enabled_is_never_imported() -> None:
    code = (
        "import io, sys; from bot.app.bootstrap import build_adapters; "
        "from bot.domain.settings import default_config; "
        "build_adapters(default_config(), io.StringIO()); "
        "print(sorted(m for m in ('discord', 'slack_bolt', 'adapters.discord.adapter') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
