"""Configuration: a TOML file validated into plain dataclasses, with secrets from the environment.

Every error names the file and the key: `config.toml: sources.us.columns.units: must be a string`.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.domain.periods import Month, PeriodError
from bot.domain.records import POWERTRAINS, GroupMember, GroupSpec
from bot.domain.regions import RegionTree
from bot.domain.settings import (
    IEA_PARAMETERS,
    LOG_LEVELS,
    MAX_POLL_SECONDS,
    MAX_PRIORITY,
    MAX_RETRY_WARNING_SECONDS,
    MAX_WHOLE,
    PLATFORM_SECRETS,
    SOURCE_FIELDS,
    WORLD,
    Config,
    ConfigError,
    MilestoneConfig,
    PlatformConfig,
    SourceConfig,
    default_config,
)

PLATFORM_OPTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "discord": {
        "application_id": (str, int),
        "guilds": list,
        "shard_count": int,
        "shard_ids": list,
        "api_base": str,  # test-only: the local fake Discord's REST base
        "gateway_url": str,  # test-only: the local fake Discord's gateway
        "rate_per_second": (int, float),
        "channel_rate_per_second": (int, float),
        "timeout": (int, float),
    },
    "slack": {
        "mode": str,
        "host": str,
        "port": int,
        "api_base_url": str,
        "admins": list,
        "client_id": str,
        "rate_per_second": (int, float),
        "channel_rate_per_second": (int, float),
    },
    "webhook": {
        "rate_per_second": (int, float),
        "channel_rate_per_second": (int, float),
        "timeout": (int, float),
    },
}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# which secrets an enabled platform cannot start without (slack: depends on its mode)
_REQUIRED_SECRETS: dict[str, Callable[[Mapping[str, Any]], tuple[str, ...]]] = {
    "discord": lambda o: ("token",),
    # slack: HTTP mode with a client_id installs through OAuth (tokens come from the store)
    "slack": lambda o: (
        ("bot_token", "app_token")
        if o.get("mode", "socket") != "http"
        else ("signing_secret", "client_secret")
        if o.get("client_id")
        else ("bot_token", "signing_secret")
    ),
    "webhook": lambda o: (),
}


class _Reader:
    """Walks a parsed TOML table, refusing unknown keys and wrong types with the key's path.

    What the file said is quoted back only through `shown`/`fail`: secrets redacted first over
    the whole text, then cut, so neither a secret nor a 5 MB value reaches an error.
    """

    def __init__(self, file: str, environ: Mapping[str, str]) -> None:
        self.file = file
        self.environ = environ

    def fail(self, key: str, reason: str) -> ConfigError:
        return ConfigError(f"{self.file}: {self.shown(key, quote=False)}: {reason}")

    def shown(self, value: object, *, quote: bool = True) -> str:
        """`value` as it may appear in an error: redacted, then cut, then quoted."""
        if isinstance(value, bool) or not isinstance(value, str | int | float | Exception):
            return _kind(value)
        if isinstance(value, int | float):
            return _num(value)
        text = clip(redact_secrets(str(value), self.environ))
        return repr(text) if quote else text

    def table(self, data: Any, key: str, allowed: set[str] | None = None) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(key, f"must be a table, not {_kind(data)}")
        if allowed is not None:
            for k in data:
                if k not in allowed:
                    raise self.fail(
                        f"{key}.{k}" if key else k,
                        f"unknown key (expected one of: {', '.join(sorted(allowed))})",
                    )
        return data

    def string(self, data: Mapping[str, Any], key: str, path: str, default: str = "") -> str:
        value = data.get(key, default)
        if not isinstance(value, str):
            raise self.fail(path, f"must be a string, not {_kind(value)}")
        return value

    def integer(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        default: int,
        low: int | None = None,
        high: int | None = None,
    ) -> int:
        """A whole number, within `low`..`high` (inclusive) where given."""
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be a whole number, not {_kind(value)}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(path, f"must be a whole number {_range(low, high)}, not {_num(value)}")
        return value

    def number(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        default: float,
        low: float | None = None,
        high: float | None = None,
        *,
        above: bool = False,
    ) -> float:
        """A finite number (never nan or inf), within `low`..`high` where given; `above`: the
        low end itself is excluded."""
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"must be a number, not {_kind(value)}")
        try:
            number = float(value)
        except OverflowError:  # a whole number past any float: TOML has no limit
            number = math.inf
        if not math.isfinite(number) and low is None and high is None:
            raise self.fail(path, f"must be a finite number, not {_num(value)}")
        if (
            not math.isfinite(number)
            or (low is not None and (number <= low if above else number < low))
            or (high is not None and number > high)
        ):
            raise self.fail(
                path, f"must be a number {_range(low, high, above=above)}, not {_num(value)}"
            )
        return number

    def boolean(self, data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, not {_kind(value)}")
        return value

    def strings(self, data: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(path, "must be a list of strings")
        return tuple(value)

    def choice(
        self, data: Mapping[str, Any], key: str, path: str, options: tuple[str, ...], default: str
    ) -> str:
        value = self.string(data, key, path, default)
        if value not in options:
            raise self.fail(path, f"{self.shown(value)} is not one of {', '.join(options)}")
        return value


CLIP = 200  # characters of a value quoted back in an error, counted after redaction


def clip(text: str, limit: int = CLIP) -> str:
    """`text` cut to `limit` characters (with "…"); redact before cutting, never after."""
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _range(low: float | None, high: float | None, *, above: bool = False) -> str:
    if high is None:
        return f"{'above' if above else 'of at least'} {_num(low)}"
    if low is None:
        return f"of at most {_num(high)}"
    if above:
        return f"above {_num(low)} and at most {_num(high)}"
    return f"from {_num(low)} to {_num(high)}"


def _num(value: float | None) -> str:
    """A number as an error shows it: whole numbers without exponent, grouped past 9,999."""
    if isinstance(value, int) and abs(value) >= 10**30:  # str() past 4,300 digits raises
        return "a number of more than 30 digits"
    if isinstance(value, float) and value.is_integer() and abs(value) < 10**16:
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value)


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), "a list" if isinstance(value, list) else "a table"
    )


_TOP = {
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
_SOURCE_KEYS = {
    "file",
    "format",
    "metric",
    "figures",
    "priority",
    "aggregate",
    "columns",
    "constants",
    "include",
    "period_format",
    "granularity",
    "thousands",
    "encoding",
    "attribution",
    "coverage",
    "equivalent_to",
    "parameter",
    "regions",
    "powertrains",
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
    r = _Reader(file, environ)
    r.table(data, "", _TOP)
    database = r.string(data, "database", "database", config.database)
    if not database:
        raise r.fail("database", "must not be empty")
    if "database" in data and "://" not in database and not Path(database).is_absolute():
        database = str(Path(file).parent / database)  # relative to the file, like sources
    _check_database(r, database, "database" in data)
    locale = r.string(data, "locale", "locale", config.locale)
    _check_locale(r, locale)
    schedule = r.table(data.get("schedule", {}), "schedule", {"poll_seconds"})
    poll = r.number(
        schedule, "poll_seconds", "schedule.poll_seconds", config.poll_seconds, 1, MAX_POLL_SECONDS
    )

    groups = {g.name: g for g in config.groups}
    raw_groups = data.get("groups", [])
    if not isinstance(raw_groups, list):
        raise r.fail("groups", "must be an array of tables ([[groups]])")
    for i, g in enumerate(raw_groups):
        group = _group(r, g, f"groups[{i}]")
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
    _check_cycles(r, parents)
    residuals = frozenset(r.strings(regions, "residuals", "regions.residuals"))
    residuals = residuals if "residuals" in regions else config.region_residuals
    region_aliases = dict(config.region_aliases)
    for k, v in r.table(regions.get("aliases", {}), "regions.aliases").items():
        if not isinstance(v, str):
            raise r.fail(f"regions.aliases.{k}", "must be a region name")
        region_aliases[k] = v

    ladders: dict[str, str | tuple[int, ...]] = dict(config.ladders)
    for name, spec in r.table(data.get("ladders", {}), "ladders").items():
        ladders[name] = _ladder(r, name, spec)

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
        sources[name] = _source(r, name, raw_source, base)
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
        platforms[name] = _platform(r, name, raw_platform, base, environ)

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


def _check_database(r: _Reader, database: str, written: bool) -> None:
    """A file path in a folder that exists (`written`: the file named one), or a postgresql://
    URL that carries no password (secrets stay out of files: PostgreSQL clients read PGPASSWORD
    or ~/.pgpass)."""
    if "://" not in database:
        if written:
            _check_database_file(r, database)
        return
    scheme = database.split("://", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise r.fail(
            "database",
            f"{r.shown(scheme, quote=False)}:// is not a database evbot knows (postgresql://)",
        )
    userinfo = database.split("://", 1)[1].split("/", 1)[0].rpartition("@")[0]
    if ":" in userinfo or "password=" in database.partition("?")[2]:
        raise r.fail(
            "database",
            "the URL holds a password: leave it out and set PGPASSWORD (or ~/.pgpass) instead",
        )


def _check_database_file(r: _Reader, database: str) -> None:
    """The SQLite file's folder exists and the path is not itself a folder: both would only
    fail later, when the store opens."""
    path = Path(database)
    try:
        if "\x00" in database:  # pathlib answers False for it rather than refusing
            raise ValueError("a NUL character")
        is_folder, folder_exists = path.is_dir(), path.parent.is_dir()
    except (OSError, ValueError) as exc:  # a NUL character, a name too long for the system
        raise r.fail("database", f"{r.shown(database)} is not a usable file path") from exc
    if is_folder:
        raise r.fail("database", f"{r.shown(database)} is a folder, not a database file")
    if not folder_exists:
        raise r.fail(
            "database", f"the folder {r.shown(str(path.parent))} does not exist (create it)"
        )


def _check_locale(r: _Reader, locale: str) -> None:
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(locale.replace("-", "_"))
    except (ValueError, UnknownLocaleError) as exc:
        raise r.fail(
            "locale", f"unknown locale {r.shown(locale)} (e.g. en, fr, de, en_GB)"
        ) from exc


def _check_cycles(r: _Reader, parents: Mapping[str, str]) -> None:
    for start in parents:
        seen = {start}
        region = parents[start]
        while region in parents:
            if region in seen:
                raise r.fail(f"regions.parents.{start}", "regions form a cycle")
            seen.add(region)
            region = parents[region]
    tree = RegionTree(parents=parents)  # the shipped table's nesting counts too
    for start in parents:
        if cycle := tree.cycle(start):
            raise r.fail(f"regions.parents.{start}", f"regions form a cycle: {' > '.join(cycle)}")


def _group(r: _Reader, data: Any, path: str) -> GroupSpec:
    g = r.table(data, path, {"name", "aliases", "members"})
    name = r.string(g, "name", f"{path}.name").strip()
    if not name:
        raise r.fail(f"{path}.name", "is required")
    members_raw = g.get("members")
    if not isinstance(members_raw, list) or not members_raw:
        raise r.fail(f"{path}.members", "must be a non-empty list of makes")
    members = []
    for i, m in enumerate(members_raw):
        mpath = f"{path}.members[{i}]"
        if isinstance(m, str):
            members.append(GroupMember(m))
            continue
        m = r.table(m, mpath, {"make", "from", "to"})
        make = r.string(m, "make", f"{mpath}.make").strip()
        if not make:
            raise r.fail(f"{mpath}.make", "is required")
        try:
            start = Month.parse(m["from"]) if m.get("from") else None
            end = Month.parse(m["to"]) if m.get("to") else None
        except (PeriodError, AttributeError) as exc:
            raise r.fail(
                mpath, f"from/to must be months YYYY-MM ({r.shown(exc, quote=False)})"
            ) from exc
        if start and end and end < start:
            raise r.fail(mpath, f"'to' {end} is before 'from' {start}")
        members.append(GroupMember(make, start, end))
    return GroupSpec(name, tuple(members), r.strings(g, "aliases", f"{path}.aliases"))


def _ladder(r: _Reader, name: str, spec: Any) -> str | tuple[int, ...]:
    path = f"ladders.{name}"
    if isinstance(spec, list):
        if not spec or not all(isinstance(v, int) and not isinstance(v, bool) for v in spec):
            raise r.fail(path, "a list ladder must hold whole numbers")
        if any(v <= 0 for v in spec):
            raise r.fail(path, "thresholds must be above 0")
        if any(v > MAX_WHOLE for v in spec):
            raise r.fail(path, f"thresholds must be at most {_num(MAX_WHOLE)}")
        return tuple(sorted(set(spec)))
    if not isinstance(spec, str):
        raise r.fail(path, 'must be "default", "every:N" or a list of numbers')
    if spec == "default":
        return spec
    # ASCII digits only: str.isdigit() takes "²", which int() then refuses
    step = re.fullmatch(r"every:([0-9]{1,19})", spec)
    if step and 0 < int(step[1]) <= MAX_WHOLE:
        return spec
    raise r.fail(
        path,
        f'{r.shown(spec)} is not "default", "every:N" (N from 1 to {_num(MAX_WHOLE)}) '
        "or a list of numbers",
    )


def _source(r: _Reader, name: str, data: Any, base: Path) -> SourceConfig:
    path = f"sources.{name}"
    s = r.table(data, path, _SOURCE_KEYS)
    fmt = r.choice(s, "format", f"{path}.format", ("mapped", "canonical", "iea"), "mapped")
    columns = r.table(s.get("columns", {}), f"{path}.columns", set(SOURCE_FIELDS))
    constants = r.table(s.get("constants", {}), f"{path}.constants", set(SOURCE_FIELDS))
    for table, key in ((columns, "columns"), (constants, "constants")):
        for k, v in table.items():
            if not isinstance(v, str):
                raise r.fail(f"{path}.{key}.{k}", "must be a string")
    if fmt == "mapped":
        for needed in ("period", "units"):
            if needed not in columns and needed not in constants:
                raise r.fail(f"{path}.columns.{needed}", "is required (a column name)")
        if "region" not in columns and "region" not in constants:
            raise r.fail(f"{path}.columns.region", "is required (a column, or a constant)")
    include_raw = r.table(s.get("include", {}), f"{path}.include")
    include = {k: r.strings(include_raw, k, f"{path}.include.{k}") for k in include_raw}
    file = r.string(s, "file", f"{path}.file")
    if file and not Path(file).is_absolute():
        file = str(base / file)
    granularity = r.string(s, "granularity", f"{path}.granularity")
    if granularity not in ("", "year", "month", "day"):
        raise r.fail(f"{path}.granularity", "must be year, month or day")
    encoding = r.string(s, "encoding", f"{path}.encoding", "utf-8-sig")
    try:
        "".encode(encoding)
    except (LookupError, ValueError) as exc:  # ValueError: a NUL in the name
        raise r.fail(f"{path}.encoding", f"unknown encoding {r.shown(encoding)}") from exc
    thousands = r.string(s, "thousands", f"{path}.thousands", ",")
    if len(thousands) > 3 or any(c.isdigit() for c in thousands):
        raise r.fail(f"{path}.thousands", "must be a separator of at most 3 characters, not digits")
    powertrains = r.table(s.get("powertrains", {}), f"{path}.powertrains")
    return SourceConfig(
        name=name,
        file=file,
        format=fmt,
        metric=r.choice(s, "metric", f"{path}.metric", ("sales", "stock"), "sales"),
        figures=r.choice(s, "figures", f"{path}.figures", ("period", "running"), "period"),
        priority=r.integer(s, "priority", f"{path}.priority", 100, 0, MAX_PRIORITY),
        aggregate=r.boolean(s, "aggregate", f"{path}.aggregate", False),
        columns=dict(columns),
        constants=dict(constants),
        include=include,
        period_format=r.string(s, "period_format", f"{path}.period_format"),
        granularity=granularity,
        thousands=thousands,
        encoding=encoding,
        attribution=r.string(s, "attribution", f"{path}.attribution"),
        coverage=r.choice(s, "coverage", f"{path}.coverage", ("full", "sample"), "full"),
        equivalent_to=r.string(s, "equivalent_to", f"{path}.equivalent_to"),
        parameter=r.choice(s, "parameter", f"{path}.parameter", ("", *IEA_PARAMETERS), ""),
        regions=r.choice(s, "regions", f"{path}.regions", ("mixed", "countries"), "mixed"),
        powertrains={
            k: r.choice(powertrains, k, f"{path}.powertrains.{k}", POWERTRAINS, "")
            for k in powertrains
        },
    )


def _platform(
    r: _Reader, name: str, data: Any, base: Path, environ: Mapping[str, str]
) -> PlatformConfig:
    path = f"platforms.{name}"
    p = r.table(data, path)
    known = PLATFORM_SECRETS[name]
    secrets = dict(known)
    files: dict[str, str] = {}
    options: dict[str, Any] = {}
    enabled = r.boolean(p, "enabled", f"{path}.enabled", False)
    for key, value in p.items():
        if key == "enabled":
            continue
        secret = key.removesuffix("_env").removesuffix("_file")
        if secret in known and key == f"{secret}_env":
            var = r.string(p, key, f"{path}.{key}")
            if not _ENV_NAME.match(var):
                # never repeat the value: it may be the secret itself, pasted in the wrong place
                raise r.fail(
                    f"{path}.{key}",
                    "must be the NAME of an environment variable (letters, digits, _), "
                    "not its value",
                )
            secrets[secret] = var
        elif secret in known and key == f"{secret}_file":
            f = r.string(p, key, f"{path}.{key}")
            files[secret] = f if Path(f).is_absolute() else str(base / f)
        elif key in known:
            raise r.fail(
                f"{path}.{key}",
                f"secrets never go in the file: set {key}_env (an environment variable name) "
                f"or {key}_file",
            )
        elif key in PLATFORM_OPTIONS[name]:
            options[key] = _option(r, f"{path}.{key}", value, PLATFORM_OPTIONS[name][key])
        else:
            allowed = sorted(
                ["enabled", *PLATFORM_OPTIONS[name]]
                + [f"{k}_env" for k in known]
                + [f"{k}_file" for k in known]
            )
            raise r.fail(f"{path}.{key}", f"unknown key (expected one of: {', '.join(allowed)})")
    _check_options(r, path, options)
    platform = PlatformConfig(name, enabled, secrets, files, options)
    if enabled:
        for needed in _REQUIRED_SECRETS[name](options):
            if platform.secret(needed, environ) is None:
                where = (
                    f"file {r.shown(files[needed], quote=False)} is missing or empty"
                    if needed in files
                    else f"environment variable {r.shown(secrets[needed], quote=False)} is not set"
                )
                raise r.fail(f"{path}.{needed}", f"missing secret: {where}")
    return platform


# numeric platform options: (lowest, highest, lowest itself excluded)
_OPTION_RANGES: dict[str, tuple[float, float, bool]] = {
    "rate_per_second": (0, 1_000_000, True),
    "channel_rate_per_second": (0, 1_000_000, True),
    "timeout": (0, 600, True),
    "shard_count": (1, 100_000, False),
    "port": (0, 65535, False),  # 0: any free port (what the tests' servers use)
}
SLACK_MODES = ("socket", "http")


def _snowflake(value: Any) -> bool:
    """A Discord id: a positive 64-bit number, or its digits."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,20}", value.strip()):
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**64


def _check_options(r: _Reader, path: str, options: Mapping[str, Any]) -> None:
    """Ranges, enumerations and list items of a platform's options, whatever their order."""
    for key, value in options.items():
        where = f"{path}.{key}"
        if key in _OPTION_RANGES:
            low, high, above = _OPTION_RANGES[key]
            if key == "port":  # says what it is, in the words the Slack settings use
                if not low <= value <= high:
                    port = value if abs(value) < 10**9 else _num(value)  # no 5,000 digits
                    raise r.fail(where, f"{port} is not a TCP port (1-65535, or 0: any free one)")
            elif key == "shard_count":
                r.integer(options, key, where, 0, int(low), int(high))
            else:
                r.number(options, key, where, 0, low, high, above=above)
        elif key == "mode" and value not in SLACK_MODES:
            raise r.fail(where, f"{r.shown(value)} is not one of {', '.join(SLACK_MODES)}")
        elif key == "host" and not value.strip():
            raise r.fail(where, "must name an address to listen on, e.g. 0.0.0.0")
        elif key == "application_id" and not _snowflake(value):
            raise r.fail(where, f"must be a Discord id (digits), not {r.shown(value)}")
        elif key == "guilds":
            for i, guild in enumerate(value):
                if not _snowflake(guild):
                    raise r.fail(
                        f"{where}[{i}]", f"must be a Discord id (digits), not {r.shown(guild)}"
                    )
        elif key == "admins" and not all(isinstance(a, str) for a in value):
            raise r.fail(where, 'must be a list of user ids, e.g. ["U012AB"]')
    if "shard_ids" in options:
        count = options.get("shard_count")
        if count is None:
            raise r.fail(f"{path}.shard_ids", "needs shard_count as well")
        ids = options["shard_ids"]
        if not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < count for i in ids):
            raise r.fail(
                f"{path}.shard_ids", f"must be a list of shard numbers from 0 to {count - 1}"
            )
        if len(set(ids)) != len(ids):
            raise r.fail(f"{path}.shard_ids", "names a shard twice")


def _option(r: _Reader, path: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    if isinstance(value, bool) and kind is not bool:
        raise r.fail(path, "must not be true/false")
    if not isinstance(value, kind):
        names = {
            str: "a string",
            int: "a whole number",
            float: "a number",
            bool: "true or false",
            list: "a list",
        }
        wanted = " or ".join(
            names.get(k, k.__name__) for k in (kind if isinstance(kind, tuple) else (kind,))
        )
        raise r.fail(path, f"must be {wanted}, not {_kind(value)}")
    return value


# `scheme://user:` and the rest of the word. Every repeat is possessive and a scheme starts only
# where a run of scheme characters does, so no character is scanned twice: linear in the text
# (a backtracking pattern here took minutes over a 5 MB value). The password is then cut at the
# word's last "@" (a password may hold one; over-redacting a query is harmless).
_DSN_PASSWORD = re.compile(
    r"(?<![A-Za-z0-9+.-])(?P<head>[A-Za-z0-9+.-]++://[^:/@\s]*+:)(?P<rest>[^\s'\"]*+)"
)
_KV_PASSWORD = re.compile(r"(?P<head>\b(?:password|passwd|pwd|sslpassword)=)[^&\s'\"]*+", re.I)
MIN_SECRET = 4  # shorter values would blank out ordinary words


def redact_secrets(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with the password of any URL (`postgresql://user:***@host/db`), any `password=`
    value, and the value of every platform secret set in the environment replaced by `***`.

    For the places a secret could slip through on its way out: check-config, error messages,
    crash output.
    """
    env = os.environ if environ is None else environ
    if "://" in text:
        text = _DSN_PASSWORD.sub(_hide_dsn_password, text)
    if "=" in text:
        text = _KV_PASSWORD.sub(r"\g<head>***", text)
    names = {var for secrets in PLATFORM_SECRETS.values() for var in secrets.values()}
    names.add("PGPASSWORD")  # the database password, which PostgreSQL clients read
    values = sorted({env[n] for n in names if len(env.get(n, "")) >= MIN_SECRET}, key=len)
    for value in reversed(values):  # longest first: one secret may contain another
        text = text.replace(value, "***")
    return text


def _hide_dsn_password(match: re.Match[str]) -> str:
    rest = match["rest"]
    at = rest.rfind("@")
    return match[0] if at < 0 else f"{match['head']}***{rest[at:]}"


def redacted(config: Config, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The effective settings as plain data, with every secret shown only as set or unset."""
    env = os.environ if environ is None else environ
    return {
        "config": config.path or "(defaults)",
        "database": redact_secrets(config.database, env),
        "locale": config.locale,
        "schedule": {"poll_seconds": config.poll_seconds},
        "logging": {"level": config.log_level},
        "delivery": {"retry_warning_seconds": config.retry_warning_seconds},
        "groups": [
            {
                "name": g.name,
                "aliases": list(g.aliases),
                "members": [
                    {
                        "make": m.make,
                        **({"from": str(m.valid_from)} if m.valid_from else {}),
                        **({"to": str(m.valid_to)} if m.valid_to else {}),
                    }
                    for m in g.members
                ],
            }
            for g in config.groups
        ],
        "aliases": dict(config.aliases),
        "regions": {
            "aggregates": sorted(config.region_aggregates),
            "parents": dict(config.region_parents),
            "aliases": dict(config.region_aliases),
        },
        "ladders": {k: list(v) if isinstance(v, tuple) else v for k, v in config.ladders.items()},
        "milestones": {
            "ladders": list(config.milestones.ladders),
            "share_band": config.milestones.share_band,
            "share_hysteresis": config.milestones.share_hysteresis,
            "min_months": config.milestones.min_months,
            "min_parent_total": config.milestones.min_parent_total,
            "hold_factor": config.milestones.hold_factor,
            "hold_min_periods": config.milestones.hold_min_periods,
            "hold_ceiling": config.milestones.hold_ceiling,
        },
        "sources": {
            name: {
                "file": s.file,
                "format": s.format,
                "metric": s.metric,
                "figures": s.figures,
                "priority": s.priority,
            }
            for name, s in config.sources.items()
        },
        "platforms": {
            name: {
                "enabled": p.enabled,
                **{
                    k: ("set" if p.secret(k, env) else "unset")
                    + (f" (file {p.secret_files[k]})" if k in p.secret_files else f" (${v})")
                    for k, v in p.secrets.items()
                },
                **{k: v for k, v in p.options.items()},
            }
            for name, p in config.platforms.items()
        },
    }
