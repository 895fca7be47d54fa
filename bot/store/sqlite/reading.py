"""The sales store on SQLite, read: sources, names, increments, the journal, groups."""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.domain.periods import Month
from bot.domain.records import (
    GroupSpec,
    IncRow,
    SourceInfo,
)
from bot.store.common import SOURCE_COLUMNS, source_info
from bot.store.reads import SalesReads
from bot.store.rows import inc_rows
from bot.store.sales_rows import groups_from_rows, member_rows
from bot.store.sqlite.fanout import SqliteFanOut


def makes_models(make_keys: Sequence[str]) -> tuple[str, list[str]]:
    """A FROM item `m` of the makes' (make_key, model_key): their models in the names table (an
    import writes a model's name with its first figures) and each make's own figures (model key
    ''), with its parameters. Joined to `cells` by the (make, model, month) key, each model's
    months are sought directly; by make alone the index was walked through every month of every
    model (a million entries for 1,000 makes' two months)."""
    marks = ", ".join("?" for _ in make_keys)
    return (
        f"(SELECT make_key, model_key FROM models WHERE make_key IN ({marks}) "
        "UNION ALL SELECT value, '' FROM json_each(?)) m",
        [*make_keys, json.dumps(list(make_keys))],
    )


class SqliteReading(SqliteFanOut, SalesReads):
    """What the store holds, read; the groups kept."""

    # -- reading ----------------------------------------------------------------------------

    async def sources(self) -> list[SourceInfo]:
        rows = await self._rows(
            f"SELECT {SOURCE_COLUMNS} FROM sources ORDER BY id",
            table="sources",
        )
        return [source_info(r) for r in rows]

    async def make_increments(self, make_keys: Sequence[str]) -> list[IncRow]:
        if not make_keys:
            return []
        marks = ", ".join("?" for _ in make_keys)
        rows = await self._rows(
            f"SELECT source_id, region, make_key, '', month, inc FROM make_cells "
            f"WHERE make_key IN ({marks}) ORDER BY month",
            list(make_keys),
            table="make_cells",
        )
        return inc_rows(rows)

    async def parts_between(
        self,
        make_keys: Sequence[str] | None,
        first: Month,
        last: Month,
        *,
        whole_makes: bool = False,
    ) -> list[IncRow]:
        if make_keys is not None and whole_makes:
            if not make_keys:
                return []
            marks = ", ".join("?" for _ in make_keys)
            rows = await self._rows(
                "SELECT source_id, region, make_key, '', month, inc FROM make_cells "
                f"WHERE make_key IN ({marks}) AND month BETWEEN ? AND ?",
                [*make_keys, str(first), str(last)],
                table="make_cells",
            )
            return inc_rows(rows)
        if make_keys is None:
            rows = await self._rows(
                "SELECT source_id, region, make_key, '', month, inc FROM make_cells "
                "WHERE month BETWEEN ? AND ?",
                (str(first), str(last)),
                table="make_cells",
            )
            return inc_rows(rows)
        if not make_keys:
            return []
        models, args = makes_models(make_keys)
        # in the key's order
        rows = await self._rows(
            "SELECT c.source_id, c.region, c.make_key, c.model_key, c.month, c.inc FROM "
            f"{models} CROSS JOIN cells c "
            "WHERE c.make_key = m.make_key AND c.model_key = m.model_key "
            "AND c.month BETWEEN ? AND ? "
            "ORDER BY c.make_key, c.model_key, c.month, c.source_id, c.region",
            [*args, str(first), str(last)],
            table="cells",
        )
        return inc_rows(rows)

    async def pairs_between(
        self, make_keys: Sequence[str] | None, first: Month, last: Month
    ) -> list[tuple[str, int, str, int]]:
        if make_keys is not None and not make_keys:
            return []
        where, args = "", [str(first), str(last)]
        if make_keys is not None:
            where = f" AND make_key IN ({', '.join('?' for _ in make_keys)})"
            args += make_keys
        rows = await self._rows(
            "SELECT DISTINCT make_key, CAST(substr(month, 1, 4) AS INTEGER), region, source_id "
            f"FROM make_cells WHERE month BETWEEN ? AND ?{where}",
            args,
            table="make_cells",
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    async def models_gone(
        self,
        make_keys: Sequence[str],
        before: Month,
        end: Month,
        before_pair: tuple[str, int],
        end_pair: tuple[str, int],
    ) -> list[tuple[str, str]]:
        if not make_keys:
            return []
        models, args = makes_models(make_keys)
        return await self._gone(models, args, before, end, before_pair, end_pair)

    async def models_gone_among(
        self,
        models: Sequence[tuple[str, str]],
        before: Month,
        end: Month,
        before_pair: tuple[str, int],
        end_pair: tuple[str, int],
    ) -> list[tuple[str, str]]:
        if not models:
            return []
        given = "(SELECT value ->> 0 AS make_key, value ->> 1 AS model_key FROM json_each(?)) m"
        return await self._gone(given, [json.dumps(models)], before, end, before_pair, end_pair)

    async def _gone(
        self,
        models: str,
        args: list[str],
        before: Month,
        end: Month,
        before_pair: tuple[str, int],
        end_pair: tuple[str, int],
    ) -> list[tuple[str, str]]:
        """`models_gone` of the (make_key, model_key) of the FROM item `models` (named `m`)."""
        rows = await self._rows(
            f"SELECT c.make_key, c.model_key FROM {models} CROSS JOIN cells c "
            "WHERE c.make_key = m.make_key AND c.model_key = m.model_key AND c.month = ? "
            "AND c.region = ? AND c.source_id = ? AND c.inc != 0 AND NOT EXISTS ("
            "SELECT 1 FROM cells d WHERE d.make_key = c.make_key "
            "AND d.model_key = c.model_key AND d.month = ? AND d.region = ? "
            "AND d.source_id = ? AND d.inc != 0)",
            [*args, str(before), *before_pair, str(end), *end_pair],
            table="cells",
        )
        return [(r[0], r[1]) for r in rows]

    async def journal_head(self) -> int:
        rows = await self._rows("SELECT COALESCE(MAX(seq), 0) FROM journal")
        return int(rows[0][0])

    async def sync_groups(self, groups: Sequence[GroupSpec]) -> None:
        async with self._writing():
            await self._run("BEGIN IMMEDIATE")
            try:
                await self._run("DELETE FROM group_members")
                await self._run("DELETE FROM group_aliases")
                await self._run("DELETE FROM groups")
                for position, group in enumerate(groups):
                    await self._run(
                        "INSERT INTO groups (name, position) VALUES (?, ?)", (group.name, position)
                    )
                    await self._many(
                        "INSERT INTO group_members (group_name, make_key, make, valid_from, "
                        "valid_to) VALUES (?, ?, ?, ?, ?)",
                        member_rows(group),
                    )
                    await self._many(
                        "INSERT INTO group_aliases (group_name, alias) VALUES (?, ?)",
                        [(group.name, a) for a in group.aliases],
                    )
                await self._run("COMMIT")
            except BaseException:
                await self._run("ROLLBACK")
                raise

    async def groups(self) -> list[GroupSpec]:
        names = [r[0] for r in await self._rows("SELECT name FROM groups ORDER BY position")]
        members = await self._rows(
            "SELECT group_name, make, valid_from, valid_to FROM group_members ORDER BY rowid"
        )
        aliases = await self._rows("SELECT group_name, alias FROM group_aliases ORDER BY rowid")
        return groups_from_rows(names, members, aliases)
