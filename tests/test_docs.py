"""The README, the docs and config.example.toml agree with the code: every default the example
states is the code's, no test is a forgotten `xfail`, and every `evbot --help` line says what the
option does and its default."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

from adapters.discord.settings import DiscordSettings
from adapters.slack.settings import SlackSettings
from adapters.webhook import DEFAULT_CHANNEL_RATE, DEFAULT_RATE, DEFAULT_TIMEOUT
from bot.domain.settings import PLATFORM_SECRETS, default_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"
SETTING = re.compile(r"^(#\s*)?([A-Za-z_][\w-]*)\s*=\s*(.+)$")
HEADER = re.compile(r"^\[\[?([^\]]+)\]\]?\s*(#.*)?$")
# sections whose values are examples of what may be written, not defaults
EXAMPLE_SECTIONS = ("groups", "aliases", "regions", "sources.")
# keys whose values in the example are illustrations (an id, a guild), not defaults
ILLUSTRATIONS = {
    "platforms.discord.application_id",
    "platforms.discord.guilds",
    "platforms.discord.shard_count",
    "platforms.discord.shard_ids",
    "platforms.slack.client_id",
    "platforms.slack.admins",
    "ladders.round-hundred-thousands",
    "ladders.headline",
}


def example_settings() -> dict[str, Any]:
    """Every `key = value` of the example, those commented out (`# key = value`) too, by the
    key's full path."""
    found: dict[str, Any] = {}
    section = ""
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if header := HEADER.match(line):
            section = header.group(1).strip()
            continue
        setting = SETTING.match(line)
        if setting is None or section.startswith(EXAMPLE_SECTIONS):
            continue
        _, key, value = setting.groups()
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            continue  # prose that happens to hold "="
        found[f"{section}.{key}" if section else key] = parsed
    return found


def field_defaults(cls: type) -> dict[str, Any]:
    """A settings dataclass's defaults, without building one (Slack's needs a token)."""
    return {f.name: f.default for f in dataclasses.fields(cls)}


def code_defaults() -> dict[str, Any]:
    config = default_config()
    ms = config.milestones
    slack, discord = field_defaults(SlackSettings), field_defaults(DiscordSettings)
    defaults: dict[str, Any] = {
        "database": config.database,
        "locale": config.locale,
        "schedule.poll_seconds": config.poll_seconds,
        "logging.level": config.log_level,
        "delivery.retry_warning_seconds": config.retry_warning_seconds,
        "ladders.default": config.ladders["default"],
        "milestones.ladders": list(ms.ladders),
        "milestones.share_band": ms.share_band,
        "milestones.share_hysteresis": ms.share_hysteresis,
        "milestones.min_months": ms.min_months,
        "milestones.min_parent_total": ms.min_parent_total,
        "milestones.hold_factor": ms.hold_factor,
        "milestones.hold_min_periods": ms.hold_min_periods,
        "milestones.hold_ceiling": ms.hold_ceiling,
        "platforms.discord.rate_per_second": discord["rate_per_second"],
        "platforms.discord.channel_rate_per_second": discord["channel_rate_per_second"],
        "platforms.discord.timeout": discord["timeout"],
        "platforms.slack.mode": slack["mode"],
        "platforms.slack.host": slack["host"],
        "platforms.slack.port": slack["port"],
        "platforms.slack.api_base_url": slack["api_base_url"],
        "platforms.slack.rate_per_second": slack["rate_per_second"],
        "platforms.slack.channel_rate_per_second": slack["channel_rate_per_second"],
        "platforms.webhook.rate_per_second": DEFAULT_RATE,
        "platforms.webhook.channel_rate_per_second": DEFAULT_CHANNEL_RATE,
        "platforms.webhook.timeout": DEFAULT_TIMEOUT,
    }
    for platform, secrets in PLATFORM_SECRETS.items():
        defaults[f"platforms.{platform}.enabled"] = config.platforms[platform].enabled
        for secret, variable in secrets.items():
            defaults[f"platforms.{platform}.{secret}_env"] = variable
    return defaults


def test_every_default_the_example_states_is_the_codes() -> None:
    stated, defaults = example_settings(), code_defaults()
    unchecked = set(stated) - set(defaults) - ILLUSTRATIONS
    assert not unchecked, f"settings in the example no test checks: {sorted(unchecked)}"
    wrong = {
        key: (value, defaults[key])
        for key, value in stated.items()
        if key in defaults and value != defaults[key]
    }
    assert not wrong, f"example value, code default: {wrong}"
    # the example states the defaults that matter most, not only some of them
    assert {k for k in defaults if not k.startswith("platforms.")} <= set(stated)


def test_the_example_defaults_are_read_as_the_code_reads_them() -> None:
    """The example's active settings, loaded, give the defaults the test compares against."""
    stated = example_settings()
    assert stated["platforms.slack.rate_per_second"] == 10  # the stale 1
    assert stated["platforms.discord.timeout"] == field_defaults(DiscordSettings)["timeout"]


def test_no_test_is_marked_xfail_unless_the_readme_names_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    marked = [
        f"{path.relative_to(ROOT)}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path.name != Path(__file__).name and "pytest.mark.xfail" in path.read_text("utf-8")
    ]
    assert all(name in readme for name in marked), marked


def test_the_docs_cite_only_files_that_exist_or_the_shared_design_document() -> None:
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for cited in re.findall(r"`([\w./-]*DESIGN\.md)`", text):
            assert cited == "../shared/DESIGN.md", (page.name, cited)
            assert "shared design document" in text, page.name
