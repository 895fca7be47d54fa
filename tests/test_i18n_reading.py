"""The reading commands in the reader's language (issue 23): /ev-total (a running total, a
period, a powertrain, as-of, a region, the fuel-cell hint), /ev-share (a region's share and a
make's models), /ev-chart's text and `evbot total --locale fr`, each checked against the
sentence as the catalog writes it, with no English sentence of the answer left; and one refusal
per command in another language."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.app.bootstrap import open_commands
from bot.cli.main import main
from bot.commands.context import CommandContext
from bot.commands.dispatch import run_text
from bot.commands.types import Invocation, Reply
from bot.domain.channels import Channel
from bot.domain.formatting import format_month, format_percent, format_units, format_year
from bot.domain.periods import Month
from bot.domain.places import in_place
from bot.domain.records import SourceSpec
from bot.domain.settings import default_config
from bot.ingest.importer import import_file
from bot.store.sqlite.sales import SqliteStore
from tests.test_market_share import ROWS, iea_config, write
from tests.test_powertrain_split import world

ROOT = Path(__file__).resolve().parent.parent
HERE = Channel("discord", "guild", "general")
LANGS = ("de", "ja", "nb")
JUNE = Month(2023, 6)


@lru_cache(maxsize=8)
def _catalog(lang: str) -> Catalog:
    with (ROOT / "bot" / "locales" / lang / "LC_MESSAGES" / "evbot.po").open("rb") as f:
        return read_po(f, locale=lang)


def said(lang: str, msgid: str, context: str | None = None, **values: object) -> str:
    """A message as the catalog of `lang` writes it, filled in; read from the .po itself."""
    entry = _catalog(lang).get(msgid, context=context)
    assert entry is not None and isinstance(entry.string, str) and entry.string, msgid
    return entry.string.format(**values)


def english(msgid: str, **values: object) -> str:
    return msgid.format(**values)


def text_of(reply: Reply) -> str:
    m = reply.message
    fields = " ".join(f"{f.name} {f.value}" for f in m.fields)
    return " ".join((m.title, m.body, fields, m.footer))


# words of the English answers that no translated answer keeps
ENGLISH_WORDS = (" sold", "through", "Through", "Source:", "No figures", "leads with", "Note:")


def no_english(reply: Reply) -> None:
    shown = text_of(reply)
    left = [w for w in ENGLISH_WORDS if w in shown]
    assert not left, (left, shown)


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[CommandContext]:
    """`tests.test_powertrain_split`'s figures (a Leaf BEV, a Prius PHEV, a Mirai FCEV…, and
    Norway's total) with the IEA file's market shares of `tests.test_market_share`."""
    config = iea_config()
    async with SqliteStore(tmp_path / "i18n.sqlite3") as store:
        await store.sync_groups(config.groups)
        await store.import_records([(SourceSpec("press", "sales", 1), world())])
        await import_file(store, config, write(tmp_path / "iea.csv", ROWS), source="iea")
        yield await open_commands(store, config)


async def ask(ctx: CommandContext, text: str, lang: str) -> Reply:
    return await run_text(ctx, Invocation(HERE, "alice", locale=lang), text)


# -- /ev-total --------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_a_running_total_in_the_readers_language(ctx: CommandContext, lang: str) -> None:
    reply = await ask(ctx, "/ev-total leaf", lang)
    assert reply.ok
    v = {"subject": "Nissan Leaf", "where": "", "total": format_units(6_000, lang)}
    sentence = "{subject}{where}: {total} electric vehicles sold through {when}."
    assert reply.message.body == said(lang, sentence, "total", **v, when=format_month(JUNE, lang))
    names = [f.name for f in reply.message.fields]
    assert names == [said(lang, "Total", "field"), said(lang, "Through", "field")]
    assert reply.message.footer == said(
        lang,
        "Source: {source} · data through {when}",
        source="press",
        when=format_month(JUNE, lang),
    )
    no_english(reply)


@pytest.mark.parametrize("lang", LANGS)
async def test_a_period_against_a_year_earlier(ctx: CommandContext, lang: str) -> None:
    reply = await ask(ctx, "/ev-total leaf period:2023", lang)
    assert reply.ok
    body = reply.message.body
    so_far = said(
        lang,
        "{period} so far (through {when})",
        period=format_year(2023, lang),
        when=format_month(JUNE, lang),
    )
    v = {"subject": "Nissan Leaf", "where": "", "total": format_units(6_000, lang)}
    sentence = "{subject}{where}: {total} electric vehicles sold in {period}."
    assert body.startswith(said(lang, sentence, "period", **v, period=so_far))
    why = said(lang, "no figures for {before} to compare with", before=2022)
    assert why in body
    no_english(reply)
    assert "No comparison" not in body and "so far" not in body


@pytest.mark.parametrize("lang", LANGS)
async def test_a_powertrain_is_named_in_its_own_sentence(ctx: CommandContext, lang: str) -> None:
    reply = await ask(ctx, "/ev-total toyota powertrain:phev", lang)
    assert reply.ok
    v = {"subject": "Toyota", "where": "", "total": format_units(3_000, lang)}
    sentence = "{subject}{where}: {total} plug-in hybrids sold through {when}."
    body = reply.message.body
    assert body.startswith(said(lang, sentence, "total", **v, when=format_month(JUNE, lang)))
    leads = said(
        lang,
        " The {leader} leads with {units}, {share}.",
        "answer",
        leader="Toyota Prius",
        units=format_units(3_000, lang),
        share=format_percent(1.0, lang, 0),
    )
    assert body.endswith(leads)
    assert reply.message.title.endswith(said(lang, " (plug-in hybrids)", "counted"))
    no_english(reply)


@pytest.mark.parametrize("lang", LANGS)
async def test_as_of_a_month(ctx: CommandContext, lang: str) -> None:
    reply = await ask(ctx, "/ev-total leaf as-of:2023-03", lang)
    v = {"subject": "Nissan Leaf", "where": "", "total": format_units(3_000, lang)}
    sentence = "{subject}{where}: {total} electric vehicles sold through {when}."
    march = format_month(Month(2023, 3), lang)
    assert reply.message.body == said(lang, sentence, "total", **v, when=march)
    no_english(reply)


@pytest.mark.parametrize("lang", LANGS)
async def test_a_region_is_named_by_the_place_messages(ctx: CommandContext, lang: str) -> None:
    reply = await ask(ctx, "/ev-total leaf region:Norway", lang)
    where = in_place("Norway", lang)
    assert where != " in Norway"  # the catalog's phrase, never "in" and the name
    sentence = "No figures for {subject}{where} yet."
    assert reply.message.body == said(
        lang, sentence, "no figures", subject="Nissan Leaf", where=where
    )
    no_english(reply)


@pytest.mark.parametrize("lang", LANGS)
async def test_the_fuel_cell_hint_and_explain(ctx: CommandContext, lang: str) -> None:
    hint = (await ask(ctx, "/ev-total mirai", lang)).message.body
    example = "/ev-total Toyota Mirai powertrain:fcev"
    message = "Fuel-cell cars are counted apart from electric cars (BEV + PHEV): {example}"
    assert hint.endswith(said(lang, message, example=example))
    explained = await ask(ctx, "/ev-total leaf explain:yes", lang)
    metric = "Metric: sales only (units sold); sales and stock are never added together."
    assert f"• {said(lang, metric)}" in explained.message.body
    assert "Metric:" not in explained.message.body and "Where several" not in text_of(explained)


@pytest.mark.parametrize("lang", ("fr", "es", "nl"))
async def test_a_refused_total_is_told_in_the_readers_language(
    ctx: CommandContext, lang: str
) -> None:
    reply = await ask(ctx, "/ev-total leaf period:2023 as-of:2023", lang)
    assert not reply.ok
    message = (
        "Give period: (what was sold in a period) or as-of: (the running total up to a date), "
        "not both. Example: {example}"
    )
    assert reply.message.body == said(lang, message, example="/ev-total leaf period:2023")


# -- /ev-share --------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_a_regions_share_in_the_readers_language(ctx: CommandContext, lang: str) -> None:
    reply = await ask(ctx, "/ev-share norway", lang)
    assert reply.ok
    v = {"where": in_place("Norway", lang), "year": 2023, "percent": format_percent(0.93, lang, 0)}
    sentence = (
        "{percent} of new cars sold{where} in {year} were electric (battery-electric and "
        "plug-in hybrid)."
    )
    assert reply.message.body == said(lang, sentence, **v)
    assert reply.message.title == said(lang, "EV share of new cars{where}, {year}: {percent}", **v)
    names = [f.name for f in reply.message.fields]
    assert names == [said(lang, n, "field") for n in ("Share", "Year", "Earlier", "Covers")]
    assert "Source:" not in reply.message.footer and "of new cars" not in text_of(reply)


@pytest.mark.parametrize("lang", LANGS)
async def test_a_makes_models_table_in_the_readers_language(ctx: CommandContext, lang: str) -> None:
    reply = await ask(ctx, "/ev-share toyota", lang)
    assert reply.ok
    period = said(lang, "all time", "period")
    title = "Model shares of {subject}{where}, {period}"
    assert reply.message.title == said(lang, title, subject="Toyota", where="", period=period)
    assert reply.message.body.startswith("• Toyota Prius:")
    assert [f.value for f in reply.message.fields][1] == period
    no_english(reply)


@pytest.mark.parametrize("lang", ("fr", "es", "nl"))
async def test_a_refused_share_is_told_in_the_readers_language(
    ctx: CommandContext, lang: str
) -> None:
    reply = await ask(ctx, "/ev-share norway period:2015", lang)
    assert not reply.ok
    held = said(lang, "{first} to {last}", "period", first=2021, last=2023)
    message = "period: no share for {region} in {year}; the years held are {held}."
    assert reply.message.body == said(lang, message, region="Norway", year=2015, held=held)


# -- /ev-chart --------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_a_charts_text_in_the_readers_language(ctx: CommandContext, lang: str) -> None:
    reply = await ask(ctx, "/ev-chart toyota", lang)
    assert reply.ok and reply.message.image is not None
    v = {"subject": "Toyota", "where": "", "total": format_units(3_000, lang)}
    sold = said(
        lang, "{subject}{where}: {total} sold through {when}.", **v, when=format_month(JUNE, lang)
    )
    passed = said(
        lang,
        " Passed {threshold} {in_when}.",
        threshold=format_units(2_500, lang),
        in_when=said(lang, "in {month}", month=format_month(Month(2023, 5), lang)),
    )
    assert reply.message.body.startswith(sold + passed)
    pace = " {next} {around_when} at the recent pace."
    around = said(lang, "around {month}", month=format_month(Month(2023, 10), lang))
    assert reply.message.body.endswith(
        said(lang, pace, next=format_units(5_000, lang), around_when=around)
    )
    title = said(lang, "{subject}{where}: cumulative chart", subject="Toyota", where="")
    assert reply.message.title == title
    no_english(reply)
    assert "chart" not in reply.message.title and "pace" not in reply.message.body


@pytest.mark.parametrize("lang", ("fr", "es", "nl"))
async def test_a_refused_chart_is_told_in_the_readers_language(
    ctx: CommandContext, lang: str
) -> None:
    reply = await ask(ctx, "/ev-chart leaf kind:shares", lang)
    assert not reply.ok
    message = (
        "kind: shares shows the models of a make or a group; {subject} is a model. Ask it of a "
        "make or group, e.g. {example}"
    )
    assert reply.message.body == said(lang, message, subject="Nissan Leaf", example="alliance")


# -- evbot total --locale ---------------------------------------------------------------------


async def _imported(db: str) -> None:
    async with SqliteStore(db) as store:
        await store.sync_groups(default_config().groups)
        await store.import_records([(SourceSpec("press", "sales", 1), world())])


def test_evbot_total_in_french(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.sqlite3")
    asyncio.run(_imported(db))
    out = io.StringIO()
    assert main(["total", "leaf", "--locale", "fr", "--db", db], out=out) == 0
    line = "{subject}{where}: {total} electric vehicles sold through {when}"
    v = {"subject": "Nissan Leaf", "where": "", "total": format_units(6_000, "fr")}
    first = said("fr", line, "cli total", **v, when=format_month(JUNE, "fr"))
    source = said("fr", "Source: {source}", "chart", source="press")
    assert out.getvalue().splitlines() == [first, source]
    period = io.StringIO()
    assert (
        main(["total", "leaf", "--period", "2023", "--locale", "fr", "--db", db], out=period) == 0
    )
    assert "véhicules électriques vendus" in period.getvalue() and " sold " not in period.getvalue()
    assert "sold" not in out.getvalue() and "Source:" not in out.getvalue()


@pytest.mark.parametrize("lang", LANGS)
async def test_all_evs_is_named_in_the_readers_language(ctx: CommandContext, lang: str) -> None:
    """A total of everything names it as the reader's newsroom does, not "all EVs"."""
    reply = await ask(ctx, "/ev-total region:norway", lang)
    assert reply.ok, reply.message.body
    name = said(lang, "all EVs", "subject")
    assert reply.message.body.startswith(name), reply.message.body
    assert "all EVs" not in text_of(reply)
