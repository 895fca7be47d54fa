"""Configuration: a TOML file validated into plain dataclasses, with secrets from the environment.

Every error names the file and the key: `config.toml: sources.us.columns.units: must be a string`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.periods import Month, PeriodError
from bot.records import GroupMember, GroupSpec

DEFAULT_DB = "evbot.sqlite3"
WORLD = "World"
SOURCE_FIELDS = ("period", "region", "make", "model", "units", "powertrain")


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
    thousands: str = ","
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


@dataclass(frozen=True)
class PlatformConfig:
    """One chat platform; secrets are named by environment variable, never written here."""

    name: str
    enabled: bool = False
    secrets: Mapping[str, str] = field(default_factory=dict)  # setting -> env var name
    secret_files: Mapping[str, str] = field(default_factory=dict)  # setting -> file path
    options: Mapping[str, Any] = field(default_factory=dict)

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
    region_aliases: Mapping[str, str] = field(default_factory=dict)
    ladders: Mapping[str, str | tuple[int, ...]] = field(default_factory=dict)
    milestones: MilestoneConfig = field(default_factory=MilestoneConfig)
    sources: Mapping[str, SourceConfig] = field(default_factory=dict)
    platforms: Mapping[str, PlatformConfig] = field(default_factory=dict)


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
    "webhook": {"signing_secret": "EVBOT_WEBHOOK_SECRET"},
}
# settings that are not secrets, with their types; anything else in [platforms.X] is refused
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


class _Reader:
    """Walks a parsed TOML table, refusing unknown keys and wrong types with the key's path."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, reason: str) -> ConfigError:
        return ConfigError(f"{self.file}: {key}: {reason}")

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

    def integer(self, data: Mapping[str, Any], key: str, path: str, default: int) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be a whole number, not {_kind(value)}")
        return value

    def number(self, data: Mapping[str, Any], key: str, path: str, default: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"must be a number, not {_kind(value)}")
        return float(value)

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
            raise self.fail(path, f"{value!r} is not one of {', '.join(options)}")
        return value


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
    return _apply(config, data, file, os.environ if environ is None else environ)


def _apply(config: Config, data: dict[str, Any], file: str, environ: Mapping[str, str]) -> Config:
    r = _Reader(file)
    r.table(data, "", _TOP)
    database = r.string(data, "database", "database", config.database)
    if not database:
        raise r.fail("database", "must not be empty")
    if "database" in data and "://" not in database and not Path(database).is_absolute():
        database = str(Path(file).parent / database)  # relative to the file, like sources
    _check_database(r, database)
    locale = r.string(data, "locale", "locale", config.locale)
    _check_locale(r, locale)
    schedule = r.table(data.get("schedule", {}), "schedule", {"poll_seconds"})
    poll = r.number(schedule, "poll_seconds", "schedule.poll_seconds", config.poll_seconds)
    if poll <= 0:
        raise r.fail("schedule.poll_seconds", "must be above 0")

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

    regions = r.table(data.get("regions", {}), "regions", {"aggregates", "parents", "aliases"})
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
        {"ladders", "share_band", "share_hysteresis", "min_months", "min_parent_total"},
    )
    chosen = r.strings(ms, "ladders", "milestones.ladders") or config.milestones.ladders
    for name in chosen:
        if name not in ladders:
            raise r.fail("milestones.ladders", f"no ladder named {name!r} in [ladders]")
    milestones = MilestoneConfig(
        ladders=chosen,
        share_band=r.number(ms, "share_band", "milestones.share_band", 5.0),
        share_hysteresis=r.number(ms, "share_hysteresis", "milestones.share_hysteresis", 2.0),
        min_months=r.integer(ms, "min_months", "milestones.min_months", 12),
        min_parent_total=r.integer(ms, "min_parent_total", "milestones.min_parent_total", 10_000),
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
        region_aliases=region_aliases,
        ladders=ladders,
        milestones=milestones,
        sources=sources,
        platforms=platforms,
    )


def _check_database(r: _Reader, database: str) -> None:
    """A file path, or a postgresql:// URL that carries no password (secrets stay out of
    files: PostgreSQL clients read PGPASSWORD or ~/.pgpass)."""
    if "://" not in database:
        return
    scheme = database.split("://", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise r.fail("database", f"{scheme}:// is not a database evbot knows (postgresql://)")
    userinfo = database.split("://", 1)[1].split("/", 1)[0].rpartition("@")[0]
    if ":" in userinfo or "password=" in database.partition("?")[2]:
        raise r.fail(
            "database",
            "the URL holds a password: leave it out and set PGPASSWORD (or ~/.pgpass) instead",
        )


def _check_locale(r: _Reader, locale: str) -> None:
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(locale.replace("-", "_"))
    except (ValueError, UnknownLocaleError) as exc:
        raise r.fail("locale", f"unknown locale {locale!r} (e.g. en, fr, de, en_GB)") from exc


def _check_cycles(r: _Reader, parents: Mapping[str, str]) -> None:
    for start in parents:
        seen = {start}
        region = parents[start]
        while region in parents:
            if region in seen:
                raise r.fail(f"regions.parents.{start}", "regions form a cycle")
            seen.add(region)
            region = parents[region]


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
            raise r.fail(mpath, f"from/to must be months YYYY-MM ({exc})") from exc
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
        return tuple(sorted(set(spec)))
    if not isinstance(spec, str):
        raise r.fail(path, 'must be "default", "every:N" or a list of numbers')
    if spec == "default":
        return spec
    if spec.startswith("every:") and spec[6:].isdigit() and int(spec[6:]) > 0:
        return spec
    raise r.fail(path, f'{spec!r} is not "default", "every:N" (N above 0) or a list of numbers')


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
        raise r.fail(f"{path}.encoding", f"unknown encoding {encoding!r}") from exc
    return SourceConfig(
        name=name,
        file=file,
        format=fmt,
        metric=r.choice(s, "metric", f"{path}.metric", ("sales", "stock"), "sales"),
        figures=r.choice(s, "figures", f"{path}.figures", ("period", "running"), "period"),
        priority=r.integer(s, "priority", f"{path}.priority", 100),
        aggregate=r.boolean(s, "aggregate", f"{path}.aggregate", False),
        columns=dict(columns),
        constants=dict(constants),
        include=include,
        period_format=r.string(s, "period_format", f"{path}.period_format"),
        granularity=granularity,
        thousands=r.string(s, "thousands", f"{path}.thousands", ","),
        encoding=encoding,
        attribution=r.string(s, "attribution", f"{path}.attribution"),
        coverage=r.choice(s, "coverage", f"{path}.coverage", ("full", "sample"), "full"),
        equivalent_to=r.string(s, "equivalent_to", f"{path}.equivalent_to"),
        parameter=r.choice(s, "parameter", f"{path}.parameter", ("", *IEA_PARAMETERS), ""),
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
    platform = PlatformConfig(name, enabled, secrets, files, options)
    if enabled:
        for needed in _REQUIRED_SECRETS[name](options):
            if platform.secret(needed, environ) is None:
                where = (
                    f"file {files[needed]} is missing or empty"
                    if needed in files
                    else f"environment variable {secrets[needed]} is not set"
                )
                raise r.fail(f"{path}.{needed}", f"missing secret: {where}")
    return platform


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


# greedy to the last "@": a password may hold one (over-redacting a query is harmless)
_DSN_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^\s'\"]*@")
_KV_PASSWORD = re.compile(r"(?P<head>\b(?:password|passwd|pwd|sslpassword)=)[^&\s'\"]*", re.I)
MIN_SECRET = 4  # shorter values would blank out ordinary words


def redact_secrets(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with the password of any URL (`postgresql://user:***@host/db`), any `password=`
    value, and the value of every platform secret set in the environment replaced by `***`.

    For the places a secret could slip through on its way out: check-config, error messages,
    crash output.
    """
    env = os.environ if environ is None else environ
    text = _DSN_PASSWORD.sub(r"\g<head>***@", text)
    text = _KV_PASSWORD.sub(r"\g<head>***", text)
    names = {var for secrets in PLATFORM_SECRETS.values() for var in secrets.values()}
    names.add("PGPASSWORD")  # the database password, which PostgreSQL clients read
    values = sorted({env[n] for n in names if len(env.get(n, "")) >= MIN_SECRET}, key=len)
    for value in reversed(values):  # longest first: one secret may contain another
        text = text.replace(value, "***")
    return text


def redacted(config: Config, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The effective settings as plain data, with every secret shown only as set or unset."""
    env = os.environ if environ is None else environ
    return {
        "config": config.path or "(defaults)",
        "database": redact_secrets(config.database, env),
        "locale": config.locale,
        "schedule": {"poll_seconds": config.poll_seconds},
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
