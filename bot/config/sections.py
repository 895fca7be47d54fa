"""The sections of the configuration file checked beyond their types: the database, the locale,
the regions' nesting, groups, ladders and sources."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.config.reader import Reader, number_text
from bot.config.urls import URL_KEYS, read_fetch
from bot.domain.periods import Month, PeriodError
from bot.domain.records import POWERTRAINS, GroupMember, GroupSpec
from bot.domain.regions import RegionTree
from bot.domain.settings import (
    IEA_PARAMETERS,
    MAX_PRIORITY,
    MAX_WHOLE,
    SOURCE_FIELDS,
    SourceConfig,
)

SOURCE_KEYS = {
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
} | URL_KEYS


def check_database(r: Reader, database: str, written: bool) -> None:
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


def _check_database_file(r: Reader, database: str) -> None:
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


def check_locale(r: Reader, locale: str) -> None:
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(locale.replace("-", "_"))
    except (ValueError, UnknownLocaleError) as exc:
        raise r.fail(
            "locale", f"unknown locale {r.shown(locale)} (e.g. en, fr, de, en_GB)"
        ) from exc


def check_cycles(r: Reader, parents: Mapping[str, str]) -> None:
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


def read_group(r: Reader, data: Any, path: str) -> GroupSpec:
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


def read_ladder(r: Reader, name: str, spec: Any) -> str | tuple[int, ...]:
    path = f"ladders.{name}"
    if isinstance(spec, list):
        if not spec or not all(isinstance(v, int) and not isinstance(v, bool) for v in spec):
            raise r.fail(path, "a list ladder must hold whole numbers")
        if any(v <= 0 for v in spec):
            raise r.fail(path, "thresholds must be above 0")
        if any(v > MAX_WHOLE for v in spec):
            raise r.fail(path, f"thresholds must be at most {number_text(MAX_WHOLE)}")
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
        f'{r.shown(spec)} is not "default", "every:N" (N from 1 to {number_text(MAX_WHOLE)}) '
        "or a list of numbers",
    )


def read_source(r: Reader, name: str, data: Any, base: Path) -> SourceConfig:
    path = f"sources.{name}"
    s = r.table(data, path, SOURCE_KEYS)
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
    thousands = r.string(s, "thousands", f"{path}.thousands", "")
    if len(thousands) > 3 or any(c.isdigit() for c in thousands):
        raise r.fail(f"{path}.thousands", "must be a separator of at most 3 characters, not digits")
    powertrains = r.table(s.get("powertrains", {}), f"{path}.powertrains")
    fetch = read_fetch(r, path, s, fmt)
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
        fetch=fetch,
    )
