"""Configuration: a TOML file validated into plain dataclasses, with secrets from the environment.

Every error names the file and the key: `config.toml: sources.us.columns.units: must be a string`.
The walk is `reader.py`; the sections' own checks `sections.py` and `platforms.py`; redaction
`secrets.py`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

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
from bot.domain.settings import (
    LOG_LEVELS,
    MAX_POLL_SECONDS,
    MAX_RETRY_WARNING_SECONDS,
    MAX_WHOLE,
    PLATFORM_SECRETS,
    WORLD,
    Config,
    ConfigError,
    MilestoneConfig,
    default_config,
)

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
}


def load_config(path: str | Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a TOML file over the defaults; None means the defaults alone."""
    config = default_config()
    if path is None:
        return config
    file = str(path)
    try:
        raw = Path(file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    except RecursionError as exc:  # tomllib recurses once per level of nested arrays or tables
        raise ConfigError(f"{file}: not valid TOML: arrays or tables nested too deeply") from exc
    except ValueError as exc:  # int() of a whole number past 4,300 digits
        reason = "a number with too many digits" if "digits" in str(exc) else clip(str(exc))
        raise ConfigError(f"{file}: not valid TOML: {reason}") from exc
    return _apply(config, data, file, os.environ if environ is None else environ)


def _apply(config: Config, data: dict[str, Any], file: str, environ: Mapping[str, str]) -> Config:
    r = Reader(file, environ)
    r.table(data, "", TOP_KEYS)
    database = r.string(data, "database", "database", config.database)
    if not database:
        raise r.fail("database", "must not be empty")
    if "database" in data and "://" not in database and not Path(database).is_absolute():
        database = str(Path(file).parent / database)  # relative to the file, like sources
    check_database(r, database, "database" in data)
    locale = r.string(data, "locale", "locale", config.locale)
    check_locale(r, locale)
    schedule = r.table(data.get("schedule", {}), "schedule", {"poll_seconds"})
    poll = r.number(
        schedule, "poll_seconds", "schedule.poll_seconds", config.poll_seconds, 1, MAX_POLL_SECONDS
    )

    groups = {g.name: g for g in config.groups}
    raw_groups = data.get("groups", [])
    if not isinstance(raw_groups, list):
        raise r.fail("groups", "must be an array of tables ([[groups]])")
    for i, g in enumerate(raw_groups):
        group = read_group(r, g, f"groups[{i}]")
        groups[group.name] = group

    aliases = r.table(data.get("aliases", {}), "aliases")
    for k, v in aliases.items():
        if not isinstance(v, str) or not v.strip():
            raise r.fail(f"aliases.{k}", "must name a subject (a non-empty string)")

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

    ladders: dict[str, str | tuple[int, ...]] = dict(config.ladders)
    for name, spec in r.table(data.get("ladders", {}), "ladders").items():
        ladders[name] = read_ladder(r, name, spec)

    ms = r.table(
        data.get("milestones", {}),
        "milestones",
        {
            "ladders",
            "share_band",
            "share_hysteresis",
            "min_months",
            "min_parent_total",
            "hold_factor",
            "hold_min_periods",
            "hold_ceiling",
        },
    )
    chosen = r.strings(ms, "ladders", "milestones.ladders") or config.milestones.ladders
    for name in chosen:
        if name not in ladders:
            raise r.fail("milestones.ladders", f"no ladder named {r.shown(name)} in [ladders]")
    milestones = MilestoneConfig(
        ladders=chosen,
        share_band=r.number(ms, "share_band", "milestones.share_band", 5.0),
        share_hysteresis=r.number(ms, "share_hysteresis", "milestones.share_hysteresis", 2.0),
        min_months=r.integer(ms, "min_months", "milestones.min_months", 12, 0, 1200),
        min_parent_total=r.integer(
            ms, "min_parent_total", "milestones.min_parent_total", 10_000, 0, MAX_WHOLE
        ),
        hold_factor=r.number(ms, "hold_factor", "milestones.hold_factor", 20.0, 1.0, 1e6),
        hold_min_periods=r.integer(
            ms, "hold_min_periods", "milestones.hold_min_periods", 6, 1, 1200
        ),
        hold_ceiling=r.integer(
            ms, "hold_ceiling", "milestones.hold_ceiling", 1_000_000_000, 1, MAX_WHOLE
        ),
    )
    if not 0 < milestones.share_band <= 50:
        raise r.fail("milestones.share_band", "must be between 0 and 50 percentage points")
    if not 0 <= milestones.share_hysteresis < milestones.share_band:
        raise r.fail("milestones.share_hysteresis", "must be at least 0 and below share_band")

    base = Path(file).parent
    sources = dict(config.sources)
    for name, raw_source in r.table(data.get("sources", {}), "sources").items():
        sources[name] = read_source(r, name, raw_source, base)
    for name, source in sources.items():
        if source.equivalent_to and source.equivalent_to not in sources:
            known = ", ".join(sorted(sources))
            raise r.fail(
                f"sources.{name}.equivalent_to",
                f"{source.equivalent_to!r} is not a configured source ({known})",
            )

    logging_ = r.table(data.get("logging", {}), "logging", {"level"})
    log_level = r.choice(logging_, "level", "logging.level", LOG_LEVELS, config.log_level)
    delivery = r.table(data.get("delivery", {}), "delivery", {"retry_warning_seconds"})
    retry_warning = r.number(
        delivery,
        "retry_warning_seconds",
        "delivery.retry_warning_seconds",
        config.retry_warning_seconds,
        0,
        MAX_RETRY_WARNING_SECONDS,
        above=True,
    )

    platforms = dict(config.platforms)
    for name, raw_platform in r.table(
        data.get("platforms", {}), "platforms", set(PLATFORM_SECRETS)
    ).items():
        platforms[name] = read_platform(r, name, raw_platform, base, environ)

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
        retry_warning_seconds=retry_warning,
    )
