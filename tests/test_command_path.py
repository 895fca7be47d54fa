"""The command hot path keeps its answers: what it keeps between commands gives the same text
as made anew, and what it keeps costs the garbage collector nothing."""

from __future__ import annotations

import gc
from collections.abc import Mapping
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.app.bootstrap import open_commands
from bot.commands.arguments import ArgumentError
from bot.commands.context import CommandContext
from bot.commands.dispatch import _checked, _parsed, _Refused, _text_call, _text_checked, run_text
from bot.commands.running_total import kept_told
from bot.commands.table import COMMANDS
from bot.commands.types import Invocation, Reply
from bot.domain.channels import Channel
from bot.domain.coverage import covers, told, widened
from bot.domain.formatting import format_month, format_period, format_year
from bot.domain.messages import Message
from bot.domain.periods import Month
from bot.domain.plausibility import Hold
from bot.domain.records import SalesRecord, SourceSpec
from bot.domain.series import WORLD
from bot.domain.settings import default_config
from bot.store.sqlite.sales import SqliteStore

REGIONS = ("World", "USA", "Norway")


def widened_as_written(
    basis: dict[int, set[tuple[str, int]]], region: str, year: int
) -> tuple[int, tuple[str, ...]] | None:
    """`widened` as first written, without the shortcut for a region's own figures."""
    years = sorted(y for y in basis if y <= year and basis[y])
    if not years or year not in basis or covers(basis[year], region):
        return None
    earlier = [y for y in years if covers(basis[y], region)]
    if not earlier:
        return None
    since = min(y for y in years if y > max(earlier))
    return since, tuple(sorted({r for y in earlier for r in covers(basis[y], region)}))


bases = st.dictionaries(
    st.integers(2010, 2016),
    st.sets(st.tuples(st.sampled_from(REGIONS), st.integers(1, 2)), max_size=3),
    max_size=6,
)


@given(bases, st.sampled_from(REGIONS), st.integers(2010, 2016))
def test_widened_says_what_it_said_before_its_shortcut(
    basis: dict[int, set[tuple[str, int]]], region: str, year: int
) -> None:
    try:
        expected = widened_as_written(basis, region, year)
    except ValueError:  # an empty year asked with every earlier one narrower: as before
        return
    assert widened(basis, region, year) == expected


def test_widened_names_the_narrower_years_before_the_regions_own() -> None:
    basis = {2014: {("USA", 1)}, 2015: {("World", 1), ("USA", 1)}, 2016: {("World", 2)}}
    assert widened(basis, "World", 2016) == (2015, ("USA",))
    assert widened({y: {("World", 1)} for y in (2014, 2015)}, "World", 2015) is None


def test_month_and_year_texts_are_kept_alike_for_every_locale() -> None:
    for locale in ("en", "fr", "de", "ja", "nb"):
        first = format_month(Month(2015, 6), locale)
        assert format_month(Month(2015, 6), locale) == first
        assert format_period(Month(2015, 6), "month", locale) == first
        assert format_period(Month(2015, 12), "year", locale) == format_year(2015, locale)
    assert format_month(Month(2015, 6), "fr") == "juin 2015"
    assert format_period(Month(2015, 12), "year", "de") == "2015"


def test_a_parsed_command_is_the_callers_own_and_kept_untracked() -> None:
    text = "/ev-total nissan leaf region:Norway as-of:2015-06"
    name, args = _text_call(text)
    assert name == "ev-total"
    assert args == {"region": "Norway", "as-of": "2015-06", "subject": "nissan leaf"}
    assert isinstance(args, dict)  # the caller's own: changing it leaves the next parse alone
    args["region"] = "changed"
    assert _text_call(text)[1]["region"] == "Norway"


def test_parsed_commands_kept_add_nothing_for_a_full_collection_to_walk() -> None:
    # kept dicts of arguments (three objects a text) were walked by every full collection
    gc.collect()
    before = len(gc.get_objects())
    for i in range(500):
        _text_call(f"/ev-total make{i} model {i} region:R{i} as-of:2015")
    gc.collect()  # a tuple is let go once what it holds was: the pairs, then what holds them
    gc.collect()
    assert len(gc.get_objects()) - before < 100


async def test_a_total_tells_the_sources_of_the_figures_after_a_refresh(tmp_path: Path) -> None:
    """The facts of the sources are kept per read model version: a source that arrives with a
    refresh is told at once (here: a year it gives whole is told as the year)."""
    config = default_config()
    inv = Invocation(Channel("console", "local", "test"), "alice")
    async with SqliteStore(tmp_path / "f.sqlite3") as store:
        await store.sync_groups(config.groups)
        months = [
            SalesRecord(f"2015-{m:02d}", WORLD, "Nissan", "Leaf", 1_000) for m in range(1, 13)
        ]
        await store.import_records([(SourceSpec("monthly"), months)])
        ctx = await open_commands(store, config)
        before = await run_text(ctx, inv, "/ev-total nissan leaf")
        assert before.message.footer == "Source: monthly · data through December 2015"
        year = [SalesRecord("2016", WORLD, "Nissan", "Leaf", 20_000)]
        await store.import_records([(SourceSpec("annual"), year)])
        await ctx.refresh()
        after = await run_text(ctx, inv, "/ev-total nissan leaf")
        assert after.message.footer == "Source: annual · data through 2016"
        assert "32,000" in after.message.title


async def kept_and_fresh(ctx: CommandContext, inv: Invocation, text: str) -> tuple[Reply, Reply]:
    """The answer to `text` as kept words give it, and as told anew (nothing kept)."""
    kept = await run_text(ctx, inv, text)
    ctx.total_memo.clear()
    fresh = await run_text(ctx, inv, text)
    await run_text(ctx, inv, text)  # kept again, for the next question
    return kept, fresh


async def test_a_totals_kept_words_are_of_the_readers_locale(tmp_path: Path) -> None:
    config = default_config()
    channel = Channel("console", "local", "test")
    english, german = Invocation(channel, "alice"), Invocation(channel, "bob", locale="de")
    async with SqliteStore(tmp_path / "f.sqlite3") as store:
        await store.sync_groups(config.groups)
        rows = [
            SalesRecord(f"2015-{m:02d}", WORLD, "Nissan", model, 1_000 * m)
            for m in range(1, 13)
            for model in ("Leaf", "e-NV200")
        ]
        await store.import_records([(SourceSpec("monthly"), rows)])
        ctx = await open_commands(store, config)
        for text in ("/ev-total nissan", "/ev-total nissan leaf", "/ev-total", "/ev-total tesla"):
            first = await run_text(ctx, english, text)
            kept, fresh = await kept_and_fresh(ctx, german, text)
            assert kept == fresh
            assert kept.message.title != first.message.title
            again, fresh = await kept_and_fresh(ctx, english, text)
            assert again == fresh == first
        reply = await run_text(ctx, german, "/ev-total nissan")
        assert reply.message.footer == "Quelle: monthly · Daten bis Dezember 2015"


async def test_a_totals_kept_words_follow_the_figures_and_the_holds(tmp_path: Path) -> None:
    config = default_config()
    inv = Invocation(Channel("console", "local", "test"), "alice")
    async with SqliteStore(tmp_path / "f.sqlite3") as store:
        await store.sync_groups(config.groups)
        first = [SalesRecord(f"2015-{m:02d}", WORLD, "Nissan", "Leaf", 1_000) for m in (1, 2)]
        await store.import_records([(SourceSpec("monthly"), first)])
        ctx = await open_commands(store, config)
        before, fresh = await kept_and_fresh(ctx, inv, "/ev-total nissan leaf")
        assert before == fresh and before.message.title == "Nissan Leaf: 2,000"
        later = [SalesRecord("2015-03", WORLD, "Nissan", "Leaf", 500)]
        await store.import_records([(SourceSpec("monthly"), later)])
        await ctx.refresh()
        after, fresh = await kept_and_fresh(ctx, inv, "/ev-total nissan leaf")
        assert after == fresh and after.message.title == "Nissan Leaf: 2,500"
        assert after.message.footer == "Source: monthly · data through March 2015"
        # a hold changes the answer without changing the figures (or the model's version)
        ctx.holds = [
            Hold(7, "monthly", "nissan", "leaf", WORLD, "2015-03", "2015-03", "sales", 500, "", "")
        ]
        held, fresh = await kept_and_fresh(ctx, inv, "/ev-total nissan leaf")
        assert held == fresh and held.message.title == "Nissan Leaf: 2,500 (unconfirmed)"
        assert "(hold 7)" in held.message.body and held.data and held.data["unconfirmed"]
        ctx.holds = []
        assert await run_text(ctx, inv, "/ev-total nissan leaf") == after


def test_checked_calls_kept_add_nothing_for_a_full_collection_to_walk() -> None:
    _checked("ev-total", (("subject", "first"), ("region", "R")), "de")  # what a first call loads
    gc.collect()
    before = len(gc.get_objects())
    for i in range(2000):
        found = _checked("ev-total", (("subject", f"make{i}"), ("region", f"R{i}")), "de")
        assert found == ("ev-total", "de", (("subject", f"make{i}"), ("region", f"R{i}")))
        found = _text_checked(f"/ev-total make{i} region:R{i}", "de")
        assert found == ("ev-total", "de", (("region", f"R{i}"), ("subject", f"make{i}")))
    gc.collect()
    gc.collect()
    # a kept result holding a tracked object would add thousands; first-time things remain
    assert len(gc.get_objects()) - before < 500


def checked_outcome(check: object, *args: object) -> tuple[object, ...]:
    """What a check of a call gives: its checked call, or the refusal's text and locale."""
    try:
        return ("checked", check(*args))  # type: ignore[operator]
    except _Refused as refused:
        return ("refused", refused.text, refused.locale)
    except ArgumentError as exc:
        return ("not a call", str(exc))


def checked_in_full(text: str, locale: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    return _checked.__wrapped__(*_parsed.__wrapped__(text), locale)  # type: ignore[attr-defined,no-any-return]


TOKENS = (
    "nissan",
    "leaf",
    '"nissan leaf"',
    "x" * 501,
    "region:US",
    "Region:Norway",
    "region:" + "y" * 501,
    "as-of:2015-06",
    "as_of:june 2015",
    "locale:fr",
    "locale:xx",
    "metric:stock",
    "metric:bogus",
    "subject:tesla",
    'subject:"tesla  model 3"',
    "Subject:leaf",
    "explain:yes",
    "bogus:1",
    "period:2015",
    "powertrain:bev",
    "ladder:default",
)
NAMES = ("ev-total", "Total", "ev-share", "ev-milestones", "ev-subscribe", "ev-help", "ev-bogus")


@given(
    st.sampled_from(NAMES),
    st.lists(st.sampled_from(TOKENS), max_size=5),
    st.sampled_from(("en", "de")),
)
def test_a_text_checked_from_its_calls_kept_check_is_checked_as_in_full(
    name: str, tokens: list[str], locale: str
) -> None:
    # a text's subject is checked apart from the rest of the call, kept for any subject
    text = f"/{name} {' '.join(tokens)}"
    expected = checked_outcome(checked_in_full, text, locale)
    assert checked_outcome(_text_checked.__wrapped__, text, locale) == expected


async def test_a_checked_call_is_the_callers_own_and_of_its_locale(tmp_path: Path) -> None:
    config = default_config()
    channel = Channel("console", "local", "test")
    english, german = Invocation(channel, "alice"), Invocation(channel, "bob", locale="de")
    async with SqliteStore(tmp_path / "f.sqlite3") as store:
        ctx = await open_commands(store, config)
        seen: list[dict[str, str]] = []

        async def handler(_: CommandContext, inv: Invocation, args: Mapping[str, str]) -> Reply:
            assert isinstance(args, dict)
            seen.append(dict(args))
            args["subject"] = "changed"  # the handler's own: the next call's is as typed
            return Reply(Message(title=inv.locale, body=""))

        total = COMMANDS["ev-total"]
        original = total.handler
        object.__setattr__(total, "handler", handler)
        try:
            for inv, text, locale in (
                (english, "/ev-total nissan leaf", "en"),
                (german, "/ev-total nissan leaf", "de"),
                (english, "/ev-total nissan leaf", "en"),
                (english, "/ev-total nissan leaf locale:fr", "fr"),
                (german, "/ev-total nissan leaf locale:fr", "fr"),
            ):
                assert (await run_text(ctx, inv, text)).message.title == locale
        finally:
            object.__setattr__(total, "handler", original)
        assert seen == [{"subject": "nissan leaf"}] * 5
        # refusals are not kept, and told in the language asked, else the caller's
        refused = await run_text(ctx, german, "/ev-total nissan bogus:1")
        assert refused.message.locale == "de" and "bogus" in refused.message.body
        refused = await run_text(ctx, german, "/ev-total nissan bogus:1 locale:fr")
        assert refused.message.locale == "fr"


async def milestones_kept_and_fresh(
    ctx: CommandContext, inv: Invocation, text: str
) -> tuple[Reply, Reply]:
    """/ev-milestones as its kept message gives it, and as told anew (nothing kept)."""
    kept = await run_text(ctx, inv, text)
    ctx.milestone_words.clear()
    fresh = await run_text(ctx, inv, text)
    await run_text(ctx, inv, text)  # kept again, for the next question
    return kept, fresh


async def test_kept_milestones_follow_the_locale_the_region_and_the_figures(
    tmp_path: Path,
) -> None:
    config = default_config()
    channel = Channel("console", "local", "test")
    english, german = Invocation(channel, "alice"), Invocation(channel, "bob", locale="de")
    async with SqliteStore(tmp_path / "f.sqlite3") as store:
        await store.sync_groups(config.groups)
        rows = [SalesRecord(f"2015-{m:02d}", WORLD, "Nissan", "Leaf", 1_000) for m in range(1, 13)]
        rows += [SalesRecord("2015-01", "Norway", "Nissan", "Leaf", 10)]
        await store.import_records([(SourceSpec("monthly"), rows)])
        ctx = await open_commands(store, config)
        seen = set()
        for text in (
            "/ev-milestones nissan leaf",
            "/ev-milestones nissan leaf region:Norway",
            "/ev-milestones nissan leaf region:USA",  # no figures: the empty series
            "/ev-milestones nissan leaf metric:stock",  # the same empty series
        ):
            for inv in (english, german, english):
                kept, fresh = await milestones_kept_and_fresh(ctx, inv, text)
                assert kept == fresh
                seen.add((kept.message.title, kept.message.body))
        assert len(seen) == 8  # each text in each language its own words
        before = await run_text(ctx, english, "/ev-milestones nissan leaf")
        assert "10,000: October 2015" in before.message.body
        await store.import_records(
            [(SourceSpec("monthly"), [SalesRecord("2016-01", WORLD, "Nissan", "Leaf", 20_000)])]
        )
        await ctx.refresh()
        after, fresh = await milestones_kept_and_fresh(ctx, english, "/ev-milestones nissan leaf")
        assert after == fresh and "25,000: January 2016" in after.message.body
        assert after.message.footer == "Data through January 2016"


async def test_kept_told_is_told_for_each_basis_region_month_year_asked_and_locale(
    tmp_path: Path,
) -> None:
    config = default_config()
    async with SqliteStore(tmp_path / "f.sqlite3") as store:
        await store.sync_groups(config.groups)
        months = [SalesRecord(f"2015-{m:02d}", WORLD, "Nissan", "Leaf", 1_000) for m in (3, 12)]
        months += [SalesRecord("2014-05", "USA", "Nissan", "e-NV200", 10)]
        months += [SalesRecord("2015-05", WORLD, "Nissan", "e-NV200", 10)]
        year = [SalesRecord("2016", WORLD, "Nissan", "Leaf", 20_000)]
        await store.import_records([(SourceSpec("monthly"), months)])
        await store.import_records([(SourceSpec("annual"), year)])
        ctx = await open_commands(store, config)
        subjects = [ctx.model.catalog.resolve(name).subject for name in ("leaf", "e-nv200")]
        bases = [ctx.model.series(subject).basis for subject in subjects]
        assert bases[0] is not bases[1]
        lasts = (None, Month(2015, 3), Month(2015, 12), Month(2016, 12))
        asks = (None, Month(2015, 6), Month(2015, 12), Month(2016, 6), Month(2016, 12))
        told_notes = set()
        for _ in range(2):  # the second time round, all kept
            for basis in bases:
                for region in (WORLD, "USA"):
                    for last in lasts:
                        for asked in asks:
                            for loc in ("en", "de"):
                                how = kept_told(ctx, basis, region, last, asked, loc)
                                facts = ctx.facts()
                                assert how == told(basis, region, last, asked, facts, loc)
                                told_notes.add(how.note)
        assert len(told_notes) > 4  # the notes differ by what is kept apart
        # a source's facts change with a refresh (its source now gives 2014 whole, for another
        # model), not the basis: what was kept under the old facts is not told
        before = kept_told(ctx, bases[1], "USA", Month(2014, 5), Month(2014, 6), "en")
        assert before.note == ""
        zoe = [SalesRecord("2014", WORLD, "Renault", "Zoe", 700)]
        await store.import_records([(SourceSpec("monthly"), zoe)])
        await ctx.refresh()
        assert ctx.model.series(subjects[1]).basis is bases[1]
        after = kept_told(ctx, bases[1], "USA", Month(2014, 5), Month(2014, 6), "en")
        assert after == told(bases[1], "USA", Month(2014, 5), Month(2014, 6), ctx.facts(), "en")
        assert after.note.startswith("2014 is known only as a whole year")
