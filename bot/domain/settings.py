"""The bot's settings as plain dataclasses, and their defaults (the configuration file is read
into these by `bot.config.load`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.domain.channels import Channel
from bot.domain.fetching import UrlSettings
from bot.domain.periods import Month
from bot.domain.records import GroupMember, GroupSpec

DEFAULT_DB = "evbot.sqlite3"
MAX_POLL_SECONDS = 30 * 24 * 3600  # a longer wait between polls is a typo
MAX_WHOLE = 10**18  # thresholds and totals: within the store's 64-bit integers
MAX_PRIORITY = 1_000_000
WORLD = "World"
SOURCE_FIELDS = ("period", "region", "make", "model", "units", "powertrain")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
STOP_GRACE_SECONDS = 10.0  # `evbot run`'s whole stop on SIGTERM, posts under way included
MAX_STOP_GRACE_SECONDS = 600.0
RETRY_WARNING_SECONDS = 900.0  # a delivery still retrying after this long is logged as a warning
MAX_RETRY_WARNING_SECONDS = 7 * 24 * 3600.0


class ConfigError(ValueError):
    """A configuration problem, worded `FILE: key: reason`."""


# what the IEA Global EV Data Explorer's `parameter` column holds, as a source may import it
IEA_PARAMETERS = ("EV sales", "EV stock")


@dataclass(frozen=True)
class SourceConfig:
    """How to read one kind of CSV people really have into sales records."""

    name: str
    file: str = ""
    format: str = "mapped"  # mapped (columns below), canonical or iea
    metric: str = "sales"  # sales, or stock (registered vehicles): never added together
    figures: str = "period"  # period figures, or running totals
    priority: int = 100  # lower wins where sources overlap
    aggregate: bool = False  # sum rows that share a key (per-vehicle or per-county files)
    columns: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    include: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    period_format: str = ""  # strptime format; empty: YYYY, YYYY-MM or YYYY-MM-DD
    granularity: str = ""  # year, month or day: truncate parsed periods to it
    thousands: str = ""  # what groups the digits of units ("." in 1.234): never guessed
    encoding: str = "utf-8-sig"
    # who published the figures, as messages and charts cite them ("IEA (2024), Global EV Data
    # Explorer, CC BY 4.0"); the source's name when empty
    attribution: str = ""
    # "full": the figures are the region's; "sample": a sample of it, good for shares only,
    # never for a regional total
    coverage: str = "full"
    equivalent_to: str = ""  # another source whose figures compare with these like for like
    parameter: str = ""  # iea format: "EV sales" (default) or "EV stock"

    @property
    def cited(self) -> str:
        """How messages and charts name this source."""
        return self.attribution or self.name

    regions: str = "mixed"  # or "countries": its two-letter regions are country codes (FR)
    powertrains: Mapping[str, str] = field(default_factory=dict)  # their value -> BEV/PHEV/FCEV
    fetch: UrlSettings | None = None  # a source fetched from a URL (`url = ...`) on a schedule


@dataclass(frozen=True)
class WebhookTarget:
    """One `[webhooks.NAME]`: a channel reached by a webhook URL of a platform (`kind`). The URL
    is a credential, so only where to read it is kept: an environment variable or a file.
    Subscriptions and deliveries name the channel by `name`, never by its URL."""

    name: str
    kind: str  # discord_webhook, slack_webhook or teams
    url_env: str = ""
    url_file: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)  # thread_id, username, avatar_url

    def url(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The URL from its file or environment variable, or None when unset or empty."""
        env = os.environ if environ is None else environ
        if self.url_file:
            try:
                return Path(self.url_file).read_text(encoding="utf-8").strip() or None
            except OSError:
                return None
        return (env.get(self.url_env) or "").strip() or None if self.url_env else None

    def __repr__(self) -> str:  # where the URL is read from is fine; the URL itself never
        where = f"file {self.url_file}" if self.url_file else f"${self.url_env}"
        return f"WebhookTarget({self.name!r}, {self.kind}, url from {where})"


@dataclass(frozen=True)
class PlatformConfig:
    """One chat platform; secrets are named by environment variable, never written here."""

    name: str
    enabled: bool = False
    secrets: Mapping[str, str] = field(default_factory=dict)  # setting -> env var name
    secret_files: Mapping[str, str] = field(default_factory=dict)  # setting -> file path
    options: Mapping[str, Any] = field(default_factory=dict)
    # a webhook platform's channels, by name (`[webhooks.NAME]` of this kind)
    webhooks: Mapping[str, WebhookTarget] = field(default_factory=dict)

    def secret(self, key: str, environ: Mapping[str, str] | None = None) -> str | None:
        """The secret's value from its file or environment variable, or None when unset."""
        env = os.environ if environ is None else environ
        path = self.secret_files.get(key)
        if path:
            try:
                return Path(path).read_text(encoding="utf-8").strip() or None
            except OSError:
                return None
        var = self.secrets.get(key)
        return (env.get(var) or None) if var else None


@dataclass(frozen=True)
class MilestoneConfig:
    ladders: tuple[str, ...] = ("default",)
    share_band: float = 5.0
    share_hysteresis: float = 2.0
    min_months: int = 12
    min_parent_total: int = 10_000
    # the hold rule (bot.domain.plausibility): a figure above hold_factor times the largest of at
    # least
    # hold_min_periods earlier figures of its series, or above hold_ceiling units, is held
    hold_factor: float = 20.0
    hold_min_periods: int = 6
    hold_ceiling: int = 1_000_000_000


@dataclass(frozen=True)
class OpsConfig:
    """`[ops]`: where the bot tells its operators of a failing URL source, and when."""

    channel: Channel | None = None  # `[ops] channel = "PLATFORM:CHANNEL"`; None: logs only
    alert_after: int = 3  # consecutive failed fetches before the one message


@dataclass(frozen=True)
class Config:
    """The effective settings of one run."""

    path: str = ""
    database: str = DEFAULT_DB
    locale: str = "en"
    poll_seconds: float = 300.0
    groups: tuple[GroupSpec, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    region_aggregates: frozenset[str] = frozenset()
    region_parents: Mapping[str, str] = field(default_factory=dict)
    region_residuals: frozenset[str] = frozenset()  # more names of "the rest" (bot.domain.regions)
    region_aliases: Mapping[str, str] = field(default_factory=dict)
    ladders: Mapping[str, str | tuple[int, ...]] = field(default_factory=dict)
    milestones: MilestoneConfig = field(default_factory=MilestoneConfig)
    sources: Mapping[str, SourceConfig] = field(default_factory=dict)
    platforms: Mapping[str, PlatformConfig] = field(default_factory=dict)
    log_level: str = "info"  # [logging] level; `evbot --log-level` wins
    retry_warning_seconds: float = RETRY_WARNING_SECONDS  # [delivery] retry_warning_seconds
    ops: OpsConfig = field(default_factory=OpsConfig)  # [ops]
    stop_grace_seconds: float = STOP_GRACE_SECONDS  # [delivery] stop_grace_seconds
    log_format: str = "text"  # [logging] format; `evbot --log-format` wins

    @property
    def served_platforms(self) -> tuple[str, ...]:
        """The platforms `evbot run` delivers to: the enabled ones, or the console alone when
        none is enabled (as `bot.app.bootstrap.build_adapters` builds them)."""
        enabled = tuple(name for name, p in self.platforms.items() if p.enabled)
        return enabled or ("console",)


ALLIANCE = GroupSpec(
    name="Renault-Nissan Alliance",
    members=(
        GroupMember("Renault"),
        GroupMember("Nissan"),
        GroupMember("Mitsubishi", valid_from=Month(2016, 10)),
    ),
    aliases=("alliance", "renault-nissan", "renault nissan", "renault-nissan-mitsubishi"),
)
DEFAULT_AGGREGATES = frozenset({WORLD, "Europe", "EU27", "Other Europe"})
DEFAULT_REGION_ALIASES = {
    "US": "USA",
    "United States": "USA",
    "UK": "United Kingdom",
    "world": WORLD,
    "global": WORLD,
}
PLATFORM_SECRETS: dict[str, dict[str, str]] = {
    "discord": {"token": "DISCORD_TOKEN"},
    "slack": {
        "bot_token": "SLACK_BOT_TOKEN",
        "app_token": "SLACK_APP_TOKEN",
        "signing_secret": "SLACK_SIGNING_SECRET",
        "client_secret": "SLACK_CLIENT_SECRET",
    },
    "matrix": {"access_token": "MATRIX_ACCESS_TOKEN"},
    "webhook": {"signing_secret": "EVBOT_WEBHOOK_SECRET"},
    # the platforms' own webhooks: each channel's URL is its secret, in `[webhooks.NAME]`
    "discord_webhook": {},
    "slack_webhook": {},
    "teams": {},
}
WEBHOOK_KINDS = ("discord_webhook", "slack_webhook", "teams")
# settings that are not secrets, with their types; anything else in [platforms.X] is refused


def default_config() -> Config:
    """The settings with no file: the Alliance group, the common region rules, SQLite."""
    return Config(
        groups=(ALLIANCE,),
        region_aggregates=DEFAULT_AGGREGATES,
        region_aliases=dict(DEFAULT_REGION_ALIASES),
        ladders={"default": "default"},
        platforms={
            name: PlatformConfig(name, secrets=dict(secrets))
            for name, secrets in PLATFORM_SECRETS.items()
        },
    )
