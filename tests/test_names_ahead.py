"""The name index is built ahead of the first keystroke (issue 18): `evbot run` builds it before
serving commands, and after a refresh a big catalog's index is rebuilt off the loop while the
previous one answers, so no keystroke waits for seconds of index building."""

from __future__ import annotations

from pathlib import Path

from bot.app.bootstrap import open_commands
from bot.commands.completion import NameIndex, autocomplete
from bot.commands.context import SMALL_CATALOG
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.series import WORLD
from bot.domain.settings import default_config
from bot.store.sqlite.sales import SqliteStore

MODELS = SMALL_CATALOG + 10  # big enough that a refresh's rebuild goes off the loop


def fleet(month: str, first: int, count: int) -> list[SalesRecord]:
    # Make00000's Model 0 sells most: size must rank it first among its make's models
    return [
        SalesRecord(month, WORLD, f"Make{i // 10:05d}", f"Model {i % 10}", 1000 - i % 10)
        for i in range(first, first + count)
    ]


async def test_prepared_index_ranks_as_one_built_on_the_spot(tmp_path: Path) -> None:
    config = default_config()
    async with SqliteStore(str(tmp_path / "s.db")) as store:
        await store.import_records([(SourceSpec("s"), fleet("2015-01", 0, 30))])
        ctx = await open_commands(store, config)
        ready = await ctx.prepare_names()
        assert ctx.names() is ready  # the current version's: nothing more to build
        on_the_spot = NameIndex.build(ctx.model.catalog, config, ctx.model.world_sales_of)
        assert ready.rank == on_the_spot.rank and ready.keys == on_the_spot.keys
        assert autocomplete(ctx, "make00000")[:2] == ["Make00000", "Make00000 Model 0"]


async def test_after_a_refresh_the_old_index_answers_until_the_new_one_lands(
    tmp_path: Path,
) -> None:
    config = default_config()
    async with SqliteStore(str(tmp_path / "s.db")) as store:
        await store.import_records([(SourceSpec("s"), fleet("2015-01", 0, MODELS))])
        ctx = await open_commands(store, config)
        first = await ctx.prepare_names()
        await store.import_records([(SourceSpec("s"), fleet("2015-02", MODELS, 10))])
        new_make = f"Make{MODELS // 10:05d}"

        await ctx.refresh()  # starts the rebuild off the loop
        assert ctx.names() is first  # a keystroke now is answered at once, by the old index
        assert new_make not in autocomplete(ctx, new_make)
        rebuilt = await ctx.prepare_names()  # the rebuild under way lands
        assert rebuilt is not first and ctx.names() is rebuilt
        assert autocomplete(ctx, new_make)[0] == new_make


async def test_a_small_catalog_is_never_stale(tmp_path: Path) -> None:
    config = default_config()
    async with SqliteStore(str(tmp_path / "s.db")) as store:
        await store.import_records([(SourceSpec("s"), fleet("2015-01", 0, 20))])
        ctx = await open_commands(store, config)
        await ctx.prepare_names()
        await store.import_records([(SourceSpec("s"), fleet("2015-02", 20, 10))])
        await ctx.refresh()
        assert autocomplete(ctx, "make00002")[0] == "Make00002"
