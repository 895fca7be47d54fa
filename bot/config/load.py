"""Configuration: a TOML file validated into plain dataclasses, with secrets from the environment.

Every error names the file and the key: `config.toml: sources.us.columns.units: must be a string`.
The walk is `reader.py`; the sections' own checks `sections.py` and `platforms.py`; redaction
`secrets.py`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from bot.config.platforms import read_platform
from bot.config.reader import Reader, clip
from bot.config.sections import (
    check_cycles,
    check_database,
    check_locale,
    read_group,
    read_ladder,
    read_source,
)
from bot.config.urls import read_ops
from bot.config.webhooks import attach_webhooks, read_webhooks
from bot.domain.records import GroupSpec
from bot.domain.settings import (
    LOG_FORMATS,
    LOG_LEVELS,
    MAX_POLL_SECONDS,
    MAX_RETRY_WARNING_SECONDS,
    MAX_STOP_GRACE_SECONDS,
    MAX_WHOLE,
    PLATFORM_SECRETS,
    WORLD,
    Config,
    ConfigError,
    MilestoneConfig,
    PlatformConfig,
    SourceConfig,
    default_config,
)

T = TypeVar("T")

TOP_KEYS = {
    "database",
    "locale",
    "schedule",
    "groups",
    "aliases",
    "regions",
    "ladders",
    "milestones",
    "sources",
    "platforms",
    "logging",
    "delivery",
    "ops",
    "webhooks",
}


def load_config(path: str | Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a TOML file over the defaults; None means the defaults alone. Every
    problem found is in the one ConfigError raised, one `FILE: key: reason` a line."""
    config = default_config()
    if path is None:
        return config
    data, file = _parse(path)
    problems = Problems()
    config = _apply(config, data, file, os.environ if environ is None else environ, problems)
    if problems.found:
        raise ConfigError("\n".join(problems.found))
    return config


def _parse(path: str | Path) -> tuple[dict[str, Any], str]:
    file = str(path)
    try:
        raw = Path(file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from exc
    try:
        return tomllib.loads(raw.decode("utf-8")), file
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    except RecursionError as exc:  # tomllib recurses once per level of nested arrays or tables
        raise ConfigError(f"{file}: not valid TOML: arrays or tables nested too deeply") from exc
    except ValueError as exc:  # int() of a whole number past 4,300 digits
        reason = "a number with too many digits" if "digits" in str(exc) else clip(str(exc))
        raise ConfigError(f"{file}: not valid TOML: {reason}") from exc


class Problems:
    """The errors found so far: each section (and each group, ladder, source and platform) is
    checked whole, so one bad key does not hide the next; a section in error keeps its
    default so the rest can still be checked against it."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def attempt(self, fallback: T, step: Callable[..., T], *args: Any) -> T:
        """`step(*args)`, or `fallback` with its error kept."""
        try:
            return step(*args)
        except ConfigError as exc:
            self.found.append(str(exc))
            return fallback


def config_problems(
    path: str | Path, environ: Mapping[str, str] | None = None
) -> tuple[Config | None, list[str]]:
    """Every problem of a configuration file, each `FILE: key: reason`, and the configuration
    (None when there is a problem); a configured source's file must exist too."""
    try:
        data, file = _parse(path)
    except ConfigError as exc:
        return None, [str(exc)]
    problems = Problems()
    config = _apply(
        default_config(), data, file, os.environ if environ is None else environ, problems
    )
    for name, source in config.sources.items():
        if source.file and not Path(source.file).is_file():
            problems.found.append(missing_file(file, name, source.file))
    return (None if problems.found else config), problems.found


SHARED_DATA = ("shared", "data")


def missing_file(file: str, name: str, path: str) -> str:
    """The error for a configured source whose file is not there, with a hint for the public
    files the example configuration reads from `../shared/data`."""
    reason = f"no file at {path}"
    parts = Path(path).parts
    if any(parts[i : i + 2] == SHARED_DATA for i in range(len(parts) - 1)):
        reason += (
            " (the example's ../shared/data files are public data sets that are not part of a "
            'fresh clone: see the README, "Data files", for where to get them, or remove '
            "the source)"
        )
    return f"{file}: sources.{name}.file: {reason}"


def _apply(
    config: Config, data: dict[str, Any], file: str, environ: Mapping[str, str], found: Problems
) -> Config:
    """`data` over `config`; each problem goes to `found` and its section keeps its default."""
    r = Reader(file, environ)
    empty: dict[str, Any] = {}
    for key in data:
        if key not in TOP_KEYS:  # each unknown key, not only the first
            found.attempt(empty, r.table, {key: 0}, "", TOP_KEYS)
    database = found.attempt(config.database, _database, r, data, file, config.database)
    locale = found.attempt(config.locale, _locale, r, data, config.locale)
    poll = found.attempt(config.poll_seconds, _poll, r, data, config.poll_seconds)

    groups = {g.name: g for g in config.groups}
    raw_groups = data.get("groups", [])
    if not isinstance(raw_groups, list):
        found.found.append(str(r.fail("groups", "must be an array of tables ([[groups]])")))
        raw_groups = []
    for i, g in enumerate(raw_groups):
        group: GroupSpec | None = found.attempt(None, read_group, r, g, f"groups[{i}]")
        if group is not None:
            groups[group.name] = group

    aliases = found.attempt(empty, _aliases, r, data)
    defaults: Regions = (
        config.region_aggregates,
        dict(config.region_parents),
        config.region_residuals,
        dict(config.region_aliases),
    )
    regions = found.attempt(defaults, _regions, r, data, config)

    ladders: dict[str, str | tuple[int, ...]] = dict(config.ladders)
    raw_ladders = found.attempt(empty, r.table, data.get("ladders", {}), "ladders")
    for name, spec in raw_ladders.items():
        ladder: str | tuple[int, ...] | None = found.attempt(None, read_ladder, r, name, spec)
        if ladder is not None:
            ladders[name] = ladder
    milestones = found.attempt(config.milestones, _milestones, r, data, config, ladders)

    base = Path(file).parent
    sources = dict(config.sources)
    raw_sources = found.attempt(empty, r.table, data.get("sources", {}), "sources")
    for name, raw_source in raw_sources.items():
        source: SourceConfig | None = found.attempt(None, read_source, r, name, raw_source, base)
        if source is not None:
            sources[name] = source
    for name, source_ in sources.items():
        if source_.equivalent_to and source_.equivalent_to not in sources and name in raw_sources:
            known = ", ".join(sorted(sources))
            reason = f"{source_.equivalent_to!r} is not a configured source ({known})"
            found.found.append(str(r.fail(f"sources.{name}.equivalent_to", reason)))

    log_level, log_format = found.attempt(
        (config.log_level, config.log_format), _logging, r, data, config
    )
    retry_warning, stop_grace = found.attempt(
        (config.retry_warning_seconds, config.stop_grace_seconds), _delivery, r, data, config
    )

    ops = found.attempt(config.ops, read_ops, r, data, ("console", *PLATFORM_SECRETS))

    platforms = dict(config.platforms)
    raw_platforms = found.attempt(
        empty, r.table, data.get("platforms", {}), "platforms", set(PLATFORM_SECRETS)
    )
    for name, raw_platform in raw_platforms.items():
        platform: PlatformConfig | None = found.attempt(
            None, read_platform, r, name, raw_platform, base, environ
        )
        if platform is not None:
            platforms[name] = platform
    webhooks = found.attempt(empty, read_webhooks, r, data.get("webhooks", {}), base)
    platforms, missing = attach_webhooks(r, platforms, webhooks, environ)
    found.found.extend(missing)

    aggregates, parents, residuals, region_aliases = regions
    return replace(
        config,
        path=file,
        database=database,
        locale=locale,
        poll_seconds=poll,
        groups=tuple(groups.values()),
        aliases={str(k): str(v) for k, v in aliases.items()},
        region_aggregates=aggregates,
        region_parents=parents,
        region_residuals=residuals,
        region_aliases=region_aliases,
        ladders=ladders,
        milestones=milestones,
        sources=sources,
        platforms=platforms,
        log_level=log_level,
        log_format=log_format,
        retry_warning_seconds=retry_warning,
        ops=ops,
        stop_grace_seconds=stop_grace,
    )


# -- the sections, each checked whole (its first problem is its error) ---------------------


def _database(r: Reader, data: dict[str, Any], file: str, default: str) -> str:
    database = r.string(data, "database", "database", default)
    if not database:
        raise r.fail("database", "must not be empty")
    if "database" in data and "://" not in database and not Path(database).is_absolute():
        database = str(Path(file).parent / database)  # relative to the file, like sources
    check_database(r, database, "database" in data)
    return database


def _locale(r: Reader, data: dict[str, Any], default: str) -> str:
    locale = r.string(data, "locale", "locale", default)
    check_locale(r, locale)
    return locale


def _poll(r: Reader, data: dict[str, Any], default: float) -> float:
    schedule = r.table(data.get("schedule", {}), "schedule", {"poll_seconds"})
    return r.number(schedule, "poll_seconds", "schedule.poll_seconds", default, 1, MAX_POLL_SECONDS)


def _aliases(r: Reader, data: dict[str, Any]) -> dict[str, Any]:
    aliases = r.table(data.get("aliases", {}), "aliases")
    for k, v in aliases.items():
        if not isinstance(v, str) or not v.strip():
            raise r.fail(f"aliases.{k}", "must name a subject (a non-empty string)")
    return aliases


Regions = tuple[frozenset[str], dict[str, str], frozenset[str], dict[str, str]]


def _regions(r: Reader, data: dict[str, Any], config: Config) -> Regions:
    regions = r.table(
        data.get("regions", {}), "regions", {"aggregates", "parents", "aliases", "residuals"}
    )
    aggregates = frozenset(r.strings(regions, "aggregates", "regions.aggregates")) | {WORLD}
    if "aggregates" not in regions:
        aggregates = config.region_aggregates
    parents = dict(r.table(regions.get("parents", {}), "regions.parents"))
    for k, v in parents.items():
        if not isinstance(v, str):
            raise r.fail(f"regions.parents.{k}", "must be a region name")
        if k == WORLD:
            raise r.fail(f"regions.parents.{k}", "the world has no parent region")
    check_cycles(r, parents)
    residuals = frozenset(r.strings(regions, "residuals", "regions.residuals"))
    residuals = residuals if "residuals" in regions else config.region_residuals
    region_aliases = dict(config.region_aliases)
    for k, v in r.table(regions.get("aliases", {}), "regions.aliases").items():
        if not isinstance(v, str):
            raise r.fail(f"regions.aliases.{k}", "must be a region name")
        region_aliases[k] = v
    return aggregates, parents, residuals, region_aliases


MILESTONE_KEYS = {
    "ladders",
    "share_band",
    "share_hysteresis",
    "min_months",
    "min_parent_total",
    "hold_factor",
    "hold_min_periods",
    "hold_ceiling",
}


def _milestones(
    r: Reader, data: dict[str, Any], config: Config, ladders: Mapping[str, object]
) -> MilestoneConfig:
    ms = r.table(data.get("milestones", {}), "milestones", MILESTONE_KEYS)
    chosen = r.strings(ms, "ladders", "milestones.ladders") or config.milestones.ladders
    for name in chosen:
        if name not in ladders:
            raise r.fail("milestones.ladders", f"no ladder named {r.shown(name)} in [ladders]")
    d = config.milestones
    milestones = MilestoneConfig(
        ladders=chosen,
        share_band=r.number(ms, "share_band", "milestones.share_band", d.share_band),
        share_hysteresis=r.number(
            ms, "share_hysteresis", "milestones.share_hysteresis", d.share_hysteresis
        ),
        min_months=r.integer(ms, "min_months", "milestones.min_months", d.min_months, 0, 1200),
        min_parent_total=r.integer(
            ms, "min_parent_total", "milestones.min_parent_total", d.min_parent_total, 0, MAX_WHOLE
        ),
        hold_factor=r.number(ms, "hold_factor", "milestones.hold_factor", d.hold_factor, 1.0, 1e6),
        hold_min_periods=r.integer(
            ms, "hold_min_periods", "milestones.hold_min_periods", d.hold_min_periods, 1, 1200
        ),
        hold_ceiling=r.integer(
            ms, "hold_ceiling", "milestones.hold_ceiling", d.hold_ceiling, 1, MAX_WHOLE
        ),
    )
    if not 0 < milestones.share_band <= 50:
        raise r.fail("milestones.share_band", "must be between 0 and 50 percentage points")
    if not 0 <= milestones.share_hysteresis < milestones.share_band:
        raise r.fail("milestones.share_hysteresis", "must be at least 0 and below share_band")
    return milestones


def _logging(r: Reader, data: dict[str, Any], config: Config) -> tuple[str, str]:
    logging_ = r.table(data.get("logging", {}), "logging", {"level", "format"})
    level = r.choice(logging_, "level", "logging.level", LOG_LEVELS, config.log_level)
    form = r.choice(logging_, "format", "logging.format", LOG_FORMATS, config.log_format)
    return level, form


def _delivery(r: Reader, data: dict[str, Any], config: Config) -> tuple[float, float]:
    keys = {"retry_warning_seconds", "stop_grace_seconds"}
    delivery = r.table(data.get("delivery", {}), "delivery", keys)
    retry_warning = r.number(
        delivery,
        "retry_warning_seconds",
        "delivery.retry_warning_seconds",
        config.retry_warning_seconds,
        0,
        MAX_RETRY_WARNING_SECONDS,
        above=True,
    )
    stop_grace = r.number(
        delivery,
        "stop_grace_seconds",
        "delivery.stop_grace_seconds",
        config.stop_grace_seconds,
        0,
        MAX_STOP_GRACE_SECONDS,
        above=True,
    )
    return retry_warning, stop_grace
