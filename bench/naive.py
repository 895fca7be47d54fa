"""The naive bot a user would otherwise write, the commands bench's baseline: each command is
one aiosqlite query over the store's kept cells (one shared connection, as a small bot has),
and its reply a line made from the row that query returns."""

from __future__ import annotations

import aiosqlite

WORLD = "World"
# the Alliance's members in the bench's store (its first two makes)
ALLIANCE = ("renault", "nissan")


def _words(text: str) -> tuple[list[str], dict[str, str]]:
    """A command's words and its `name:value` options."""
    words, options = [], {}
    for word in text.split()[1:]:
        name, colon, value = word.partition(":")
        if colon and name in ("as-of", "period"):
            options[name] = value
        else:
            words.append(word)
    return words, options


def _month_end(text: str) -> str:
    """The last month a year or month stands for, as the store's month text."""
    return f"{text}-12" if len(text) == 4 else text


async def answer(db: aiosqlite.Connection, text: str) -> str:
    """One command's reply, from one query."""
    words, options = _words(text)
    command = text.split(maxsplit=1)[0]
    as_of = _month_end(options.get("as-of", "9999-12"))
    if command == "/ev-milestones":
        subject = "model:" + ":".join(w.lower() for w in (words[0], " ".join(words[1:])))
        sql = (
            "SELECT period, value FROM milestones WHERE subject_key = ? AND region = ? "
            "ORDER BY period DESC LIMIT 10"
        )
        async with db.execute(sql, (subject, WORLD)) as cursor:
            rows = list(await cursor.fetchall())
        return f"{' '.join(words)}: {len(rows)} milestones " + ", ".join(
            f"{p} {v:,}" for p, v in rows
        )
    if command == "/ev-share":
        year = options["period"]
        sql = (
            "SELECT (SELECT COALESCE(SUM(inc), 0) FROM make_cells WHERE make_key = ? AND "
            "region = ? AND month BETWEEN ? AND ?), (SELECT COALESCE(SUM(inc), 0) FROM "
            "all_cells WHERE region = ? AND month BETWEEN ? AND ?)"
        )
        first, last = f"{year}-01", f"{year}-12"
        args = (words[0].lower(), WORLD, first, last, WORLD, first, last)
        async with db.execute(sql, args) as cursor:
            row = await cursor.fetchone()
        part, whole = (row[0], row[1]) if row else (0, 0)
        share = part / whole if whole else 0.0
        return f"{words[0]} in {year}: {part:,} of {whole:,} EVs, {share:.1%}"
    if not words:
        sql = "SELECT COALESCE(SUM(inc), 0) FROM all_cells WHERE region = ? AND month <= ?"
        args_: tuple[str, ...] = (WORLD, as_of)
        what = "All EVs"
    elif len(words) == 1 and words[0].lower() == "alliance":
        sql = (
            "SELECT COALESCE(SUM(inc), 0) FROM make_cells WHERE make_key IN (?, ?) "
            "AND region = ? AND month <= ?"
        )
        args_ = (*ALLIANCE, WORLD, as_of)
        what = "Alliance"
    elif len(words) == 1:
        sql = (
            "SELECT COALESCE(SUM(inc), 0) FROM make_cells WHERE make_key = ? AND region = ? "
            "AND month <= ?"
        )
        args_ = (words[0].lower(), WORLD, as_of)
        what = words[0]
    else:
        sql = (
            "SELECT COALESCE(SUM(inc), 0) FROM cells WHERE make_key = ? AND model_key = ? "
            "AND region = ? AND month <= ?"
        )
        args_ = (words[0].lower(), " ".join(words[1:]).lower(), WORLD, as_of)
        what = " ".join(words)
    async with db.execute(sql, args_) as cursor:
        row = await cursor.fetchone()
    units = row[0] if row else 0
    return f"{what}: {units:,} EVs sold in {WORLD}"
