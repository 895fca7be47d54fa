"""Slash commands through the core's table: good and bad arguments, names, permissions, preview."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.app.bootstrap import open_commands
from bot.commands.completion import autocomplete
from bot.commands.context import REFRESH_SECONDS, CommandContext
from bot.commands.dispatch import run_command, run_text
from bot.commands.table import COMMANDS
from bot.commands.types import Invocation, Reply
from bot.detection.detector import Detector
from bot.domain.channels import MISSING_ACCESS, Channel
from bot.domain.events import MilestoneEvent, Subject
from bot.domain.periods import Month
from bot.domain.records import DetectionWrite, ModelName, SalesRecord, SourceSpec
from bot.domain.rungs import listed_range
from bot.domain.series import WORLD
from bot.domain.settings import Config, default_config
from bot.domain.subjects import Catalog
from bot.domain.subscriptions import PlannedDelivery
from bot.ingest.importer import import_demo
from bot.store.sqlite.sales import SqliteStore

HERE = Channel("discord", "guild", "general")
MANAGER = Invocation(HERE, "alice", can_manage=True)
MEMBER = Invocation(HERE, "bob", can_manage=False)


@pytest.fixture
def ctx(demo_ctx: CommandContext) -> CommandContext:
    return demo_ctx


async def ask(ctx: CommandContext, text: str, who: Invocation = MANAGER) -> Reply:
    return await run_text(ctx, who, text)


def error(reply: Reply) -> str:
    assert not reply.ok, reply.message.body
    assert reply.ephemeral
    return reply.message.body


# -- /ev-total ------------------------------------------------------------------------------


async def test_total_of_the_alliance_with_period_and_shares(ctx: CommandContext) -> None:
    reply = await ask(ctx, "/ev-total alliance")
    assert reply.ok and not reply.ephemeral
    body = reply.message.body
    assert "377,700" in body and "December 2016" in body
    assert "Nissan Leaf leads with 253,991, 67%" in body
    assert reply.data is not None and reply.data["total"] == 377_700
    fields = {f.name: f.value for f in reply.message.fields}
    assert fields["Nissan Leaf"] == "253,991 (67%)"


async def test_total_without_subject_is_the_world(ctx: CommandContext) -> None:
    reply = await ask(ctx, "/ev-total")
    assert reply.data is not None
    assert reply.data["kind"] == "all" and reply.data["region"] == WORLD
    assert reply.data["total"] == 377_700


@pytest.mark.parametrize("period", ["2015-06", "june 2015", "juin 2015", '"June 2015"'])
async def test_total_as_of(ctx: CommandContext, period: str) -> None:
    reply = await ask(ctx, f"/ev-total nissan leaf as-of:{period}")
    assert reply.ok, reply.message.body
    assert reply.data is not None and reply.data["as_of"] == "2015-06"
    assert "through June 2015" in reply.message.body


async def test_total_as_of_a_year_and_typed_options(ctx: CommandContext) -> None:
    reply = await run_command(ctx, MEMBER, "ev-total", {"subject": "Leaf", "as-of": "2014"})
    assert reply.data is not None and reply.data["as_of"] == "2014-12"


async def test_total_before_any_figures(ctx: CommandContext) -> None:
    reply = await ask(ctx, "/ev-total leaf as-of:2005")
    assert reply.ok and "No figures" in reply.message.body


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/ev-total leaf as-of:2015-13", "not between 1 and 12"),
        (
            "/ev-total leaf as-of:someday",
            "expected 2015, 2015-06, june 2015, 2015-Q2, ytd, 2019..2021 or all",
        ),
        ("/ev-total leaf region:Narnia", "region: no figures for 'Narnia'"),
        ("/ev-total leaf colour:red", "has no option colour: (its options: subject:, region:"),
        ("/ev-total " + "x" * 600, "under 500"),
        ("/ev-tota leaf", "Did you mean /ev-total?"),
        ("/ev-help me", "/ev-help takes no subject"),
    ],
)
async def test_bad_arguments_get_a_short_ephemeral_error(
    ctx: CommandContext, text: str, expected: str
) -> None:
    assert expected in error(await ask(ctx, text))


# -- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "total"),
    [
        ("alliance", 377_700),
        ("Renault-Nissan", 377_700),
        ("RENAULT NISSAN", 377_700),
        ("renault zoé", 60_285),
        ("ZOE", 60_285),
        ("Renault Zoe", 60_285),
        ("leaf", 253_991),
        ("everything", 377_700),
    ],
)
async def test_aliases_case_and_accents(ctx: CommandContext, name: str, total: int) -> None:
    reply = await ask(ctx, f"/ev-total {name}")
    assert reply.data is not None and reply.data["total"] == total


async def test_configured_alias(tmp_path: Path) -> None:
    config = replace(default_config(), aliases={"the leaf": "nissan leaf"})
    async with SqliteStore(tmp_path / "a.sqlite3") as store:
        await store.sync_groups(config.groups)
        await import_demo(store, config)
        ctx = await open_commands(store, config)
        reply = await ask(ctx, "/ev-total the leaf")
    assert reply.data is not None and reply.data["subject"] == "Nissan Leaf"


async def test_did_you_mean(ctx: CommandContext) -> None:
    body = error(await ask(ctx, "/ev-total nisan leaf"))
    assert "No subject called 'nisan leaf'" in body
    assert "Did you mean 'Nissan Leaf'" in body


async def test_autocomplete_prefix_first_then_fuzzy(ctx: CommandContext) -> None:
    names = autocomplete(ctx, "nis")
    assert names[0] == "Nissan"
    assert names[:3] == ["Nissan", "Nissan Leaf", "Nissan e-NV200"]
    # a model's bare name completes to its full name, once
    assert autocomplete(ctx, "leaf") == ["Nissan Leaf"]
    assert "Renault Zoe" in autocomplete(ctx, "zoe")
    # misspelt: fuzzy
    assert "Nissan" in autocomplete(ctx, "nisan")
    # a group's alias completes to the group's name
    assert autocomplete(ctx, "renault-n")[0] == "Renault-Nissan Alliance"
    # nothing typed: the broad subjects
    assert autocomplete(ctx, "")[:2] == ["all", "Renault-Nissan Alliance"]
    assert autocomplete(ctx, "qqqqqq") == []


def test_autocomplete_is_fast_and_bounded_on_a_big_catalog() -> None:
    config = default_config()
    models = [
        ModelName(f"make{i // 10}", f"model{i}", f"Make{i // 10}", f"Model {i}")
        for i in range(20_000)
    ]
    catalog = Catalog(models=models, makes={f"make{i}": f"Make{i}" for i in range(2_000)})
    ctx = CommandContext.__new__(CommandContext)
    ctx.config = config
    ctx.model = SimpleNamespace(  # type: ignore[assignment]
        catalog=catalog, version=1, world_sales_of=lambda subject: 0
    )
    ctx._names = None
    ctx._names_version = -1
    assert len(autocomplete(ctx, "m")) == 25
    assert autocomplete(ctx, "make12 model 12")[0] == "Make12 Model 120"
    # (how fast: bench/commands.py; tests assert no time)
    for prefix in ["m", "ma", "mak", "make1", "model 5", "Make12 Mo", "zz", "mdoel 77"]:
        assert len(autocomplete(ctx, prefix)) <= 25


# -- /ev-share and /ev-milestones -----------------------------------------------------------


async def test_share_all_time_year_and_ytd(ctx: CommandContext) -> None:
    reply = await ask(ctx, "/ev-share alliance")
    assert reply.data is not None
    assert reply.data["shares"][0]["model"] == "Nissan Leaf"
    assert reply.data["total"] == 377_700
    year = await ask(ctx, "/ev-share renault period:2014")
    assert year.data is not None and year.data["first"] == "2014-01"
    assert year.data["shares"][0]["model"] == "Renault Zoe"
    assert sum(s["units"] for s in year.data["shares"]) == year.data["total"]
    ytd = await ask(ctx, "/ev-share alliance period:ytd")
    assert ytd.data is not None and (ytd.data["first"], ytd.data["last"]) == ("2016-01", "2016-12")
    assert "Model shares of Renault-Nissan Alliance, year to date" in ytd.message.title


async def test_share_refuses_a_model_and_bad_periods(ctx: CommandContext) -> None:
    assert "is a model" in error(await ask(ctx, "/ev-share nissan leaf"))
    assert "not a period" in error(await ask(ctx, "/ev-share alliance period:soon"))
    assert "needs subject" in error(await ask(ctx, "/ev-share"))


async def test_milestones_recent_next_and_projection(ctx: CommandContext) -> None:
    reply = await ask(ctx, "/ev-milestones nissan leaf")
    assert reply.data is not None
    assert reply.data["milestones"][0] == {
        "threshold": 250_000,
        "month": "2016-12",
        "value": 253_991,
    }
    assert reply.data["next"] == 300_000 and reply.data["projected"] is not None
    assert "250,000: December 2016" in reply.message.body
    world = await ask(ctx, "/ev-milestones")
    assert world.data is not None and world.data["total"] == 377_700


async def test_help_lists_every_command_with_an_example(ctx: CommandContext) -> None:
    reply = await ask(ctx, "/ev-help", MEMBER)
    assert reply.ephemeral
    names = [f.name.split()[0] for f in reply.message.fields]
    assert names == [f"/{n}" for n in COMMANDS]
    for command in COMMANDS.values():
        assert command.example.startswith(f"/{command.name}")
        assert (await ask(ctx, command.example)).ok, command.example


# -- subscriptions and permissions ----------------------------------------------------------


async def test_subscribing_needs_the_manage_capability(ctx: CommandContext) -> None:
    for text in ["/ev-subscribe alliance", "/ev-unsubscribe all"]:
        body = error(await ask(ctx, text, MEMBER))
        assert "needs permission to manage this channel" in body
    assert await ctx.store.subscriptions(HERE) == []
    # reading commands are open to all
    assert (await ask(ctx, "/ev-subscriptions", MEMBER)).ok


async def test_subscribing_puts_one_message_in_the_channel(ctx: CommandContext) -> None:
    """The channel hears the outbox's "now following" message; the command's answer goes to
    the caller alone, and a repeated subscribe posts nothing."""

    async def following() -> int:
        return len([d for d in await ctx.store.deliveries(limit=100) if d.kind == "following"])

    first = await ask(ctx, "/ev-subscribe alliance")
    assert first.ok and first.ephemeral
    assert "now follows Renault-Nissan Alliance" in first.message.body
    assert first.data is not None and (first.data["created"], first.data["unchanged"]) == (
        True,
        False,
    )
    assert await following() == 1
    again = await ask(ctx, "/ev-subscribe Renault-Nissan")  # the same, under another name
    assert again.ok and again.ephemeral
    assert "already follows Renault-Nissan Alliance with these settings" in again.message.body
    assert "nothing is posted" in again.message.body
    assert again.data is not None and again.data["unchanged"] is True
    assert await following() == 1  # no second "now following"
    changed = await ask(ctx, "/ev-subscribe alliance ladder:default kinds:milestone")
    assert changed.ephemeral and "its settings are updated" in changed.message.body
    assert await following() == 2  # new settings: one status message under them
    assert [s.spec.kinds for s in await ctx.store.subscriptions(HERE)] == [("milestone",)]


async def test_subscribe_overlap_list_and_unsubscribe(ctx: CommandContext) -> None:
    first = await ask(ctx, "/ev-subscribe alliance kinds:milestone,share")
    assert first.ok and "now follows Renault-Nissan Alliance" in first.message.body
    second = await ask(ctx, "/ev-subscribe nissan leaf mode:daily locale:fr")
    assert "also follows Renault-Nissan Alliance" in second.message.body
    subs = await ctx.store.subscriptions(HERE)
    assert [(s.spec.subject.name, s.spec.mode, s.spec.locale, s.spec.created_by) for s in subs] == [
        ("Renault-Nissan Alliance", "instant", "en", "alice"),
        ("Nissan Leaf", "daily", "fr", "alice"),
    ]
    listed = await ask(ctx, "/ev-subscriptions", MEMBER)
    assert "Renault-Nissan Alliance" in listed.message.body and listed.ephemeral
    assert (await ask(ctx, "/ev-unsubscribe leaf")).data == {"removed": 1}
    assert "does not follow Nissan Leaf" in error(await ask(ctx, "/ev-unsubscribe leaf"))
    assert (await ask(ctx, "/ev-unsubscribe all")).data == {"removed": 1}
    assert "follows nothing" in (await ask(ctx, "/ev-subscriptions")).message.body


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/ev-subscribe alliance kinds:gossip", "kinds: 'gossip' is not one of"),
        ("/ev-subscribe alliance ladder:huge", "ladder: no ladder named 'huge'"),
        ("/ev-subscribe alliance mode:hourly", "mode: 'hourly' is not one of"),
        ("/ev-subscribe alliance locale:xx-yy", "locale:"),
        ("/ev-subscribe", "needs subject"),
        ("/ev-subscribe alliansse", "Did you mean"),
    ],
)
async def test_bad_subscriptions(ctx: CommandContext, text: str, expected: str) -> None:
    assert expected in error(await ask(ctx, text))
    assert await ctx.store.subscriptions(HERE) == []


# -- /ev-preview ----------------------------------------------------------------------------


def leaf(months: range, units: int, year: int = 2014) -> list[SalesRecord]:
    out = []
    for i in months:
        month = f"{year + i // 12}-{i % 12 + 1:02d}"
        out.append(SalesRecord(month, WORLD, "Nissan", "Leaf", units))
        out.append(SalesRecord(month, WORLD, "Nissan", "e-NV200", 500))
    return out


async def post_everything(store: SqliteStore, fail: set[Channel]) -> None:
    while rows := await store.claim_due(time.time() + 10, 100):
        for row in rows:
            if row.channel in fail:
                await store.mark_failed(row, MISSING_ACCESS, "403")
            else:
                await store.mark_posted(row.id, f"m{row.id}", time.time())


async def test_preview_explains_each_channel(tmp_path: Path) -> None:
    config: Config = replace(default_config(), ladders={"default": "default", "big": "1000000"})
    channels = {n: Channel("discord", "guild", n) for n in "ABCDE"}
    async with SqliteStore(tmp_path / "p.sqlite3") as store:
        await store.sync_groups(config.groups)
        source = SourceSpec("monthly")
        await store.import_records([(source, leaf(range(24), 4_000))])  # history: 96,000
        await Detector(store, config).poll()
        ctx = await open_commands(store, config)
        settings = {
            "A": "",
            "B": " kinds:share",
            "C": " ladder:big",
            "D": "",
        }
        for name, extra in settings.items():
            inv = Invocation(channels[name], "alice", can_manage=True)
            assert (await run_text(ctx, inv, f"/ev-subscribe nissan leaf{extra}")).ok
        await post_everything(store, fail={channels["D"]})  # D's channel is gone: paused
        await store.import_records(
            [(source, [SalesRecord("2016-01", WORLD, "Nissan", "Leaf", 5_000)])]
        )
        events = await Detector(store, config).poll()
        assert {e.event.kind for e in events} >= {"milestone", "record"}
        await post_everything(store, fail=set())
        await ctx.refresh()

        async def reasons(name: str) -> dict[str, str]:
            inv = Invocation(channels[name], "bob", can_manage=False)
            reply = await run_text(ctx, inv, "/ev-preview nissan leaf")
            assert reply.ok and reply.ephemeral, reply.message.body
            assert reply.data is not None
            return {e["kind"]: e["reason"] for e in reply.data["events"]}

        a = await reasons("A")
        assert a["milestone"] == "already announced here"
        assert a["record"] == "held for the weekly digest"
        assert (await reasons("B"))["milestone"].startswith("outside the subscription's kinds")
        assert (await reasons("C"))["milestone"].startswith("below the ladder: 100,000")
        assert (await reasons("D"))["milestone"].startswith("the channel is paused")
        assert (await reasons("E"))["milestone"] == "no subscription in this channel covers it"
        body = (
            await run_text(ctx, Invocation(channels["A"], "bob"), "/ev-preview leaf")
        ).message.body
        assert "Next: Nissan Leaf passing 125,000" not in body  # default ladder: 150,000 next
        assert "passing 150,000 on the 'default' ladder" in body
        assert "Share of Nissan: 89%. No share news until it reaches 90% or falls below 83%." in (
            body
        )
        none = await run_text(ctx, Invocation(channels["E"], "bob"), "/ev-preview leaf")
        assert "follows nothing that covers Nissan Leaf" in none.message.body


async def test_preview_reads_do_not_grow_with_unrelated_events(tmp_path: Path) -> None:
    """/ev-preview reads the subject's events and the channel's deliveries through indexes:
    thousands of events about other subjects, delivered to another channel, change neither its
    statements, nor the rows it reads, nor (beyond B-tree depth) SQLite's own work."""
    config = default_config()
    here, elsewhere = Channel("discord", "guild", "here"), Channel("discord", "guild", "there")
    async with SqliteStore(tmp_path / "p.sqlite3") as store:
        await store.sync_groups(config.groups)
        source = SourceSpec("monthly")
        await store.import_records([(source, leaf(range(24), 4_000))])
        await Detector(store, config).poll()
        ctx = await open_commands(store, config, clock=lambda: 0.0)  # refreshed only when told
        inv = Invocation(here, "alice", can_manage=True)
        assert (await run_text(ctx, inv, "/ev-subscribe nissan leaf")).ok
        await store.import_records(
            [(source, [SalesRecord("2016-01", WORLD, "Nissan", "Leaf", 5_000)])]
        )
        assert await Detector(store, config).poll()
        await post_everything(store, fail=set())
        await ctx.refresh()
        steps = 0

        def step() -> int:
            nonlocal steps
            steps += 1
            return 0  # 0: carry on

        assert store._reader is not None
        for db in (store.db, store._reader):  # reads go to the reader, writes to the writer
            await db.set_progress_handler(step, 100)

        async def preview() -> tuple[int, dict[str, int], int, Reply]:
            nonlocal steps
            statements, rows, steps = store.stats.statements, dict(store.stats.rows_read), 0
            reply = await run_text(ctx, inv, "/ev-preview nissan leaf")
            read = {t: n - rows.get(t, 0) for t, n in store.stats.rows_read.items()}
            return store.stats.statements - statements, read, steps, reply

        small = await preview()
        assert small[3].ok and small[3].data is not None
        assert "already announced here" in [e["reason"] for e in small[3].data["events"]]

        others = [
            MilestoneEvent(
                Subject("model", f"model:make{i}/model", f"Make{i} Model"),
                WORLD,
                "sales",
                listed_range([1_000]),
                Month(2015, 1),
                1_000,
            )
            for i in range(3_000)
        ]
        stored = await store.save_detection(
            "unrelated", await store.watermark("unrelated"), 1, DetectionWrite(events=others)
        )
        assert len(stored) == 3_000
        await store.enqueue(
            [PlannedDelivery(elsewhere, "instant", (s.id,), (1,), "en") for s in stored], 0.0
        )
        big = await preview()
        assert big[3] == small[3]  # the same answer
        assert big[0] == small[0], "statements"
        assert big[1] == small[1], "rows read per table"
        assert big[2] <= small[2] + 5, f"SQLite VM steps (x100): {small[2]} -> {big[2]}"


async def test_a_new_import_is_visible_once_the_model_is_stale(tmp_path: Path) -> None:
    """Answers are never kept past the read model: an import shows in totals, milestones and
    names within REFRESH_SECONDS, and a name unknown before resolves after."""
    config = default_config()
    now = [1_000.0]
    async with SqliteStore(tmp_path / "f.sqlite3") as store:
        await store.sync_groups(config.groups)
        source = SourceSpec("monthly")
        await store.import_records([(source, leaf(range(12), 4_000))])
        ctx = await open_commands(store, config, clock=lambda: now[0])

        async def total(text: str) -> int:
            reply = await ask(ctx, text)
            assert reply.ok and reply.data is not None, reply.message.body
            return int(reply.data["total"])

        assert await total("/ev-total nissan leaf") == 48_000
        milestones = (await ask(ctx, "/ev-milestones nissan leaf")).message.body
        assert "No subject called 'kia soul'" in error(await ask(ctx, "/ev-total kia soul"))
        await store.import_records(
            [
                (
                    source,
                    [
                        SalesRecord("2015-01", WORLD, "Nissan", "Leaf", 60_000),
                        SalesRecord("2015-01", WORLD, "Kia", "Soul", 700),
                    ],
                )
            ]
        )
        now[0] += REFRESH_SECONDS
        assert await total("/ev-total nissan leaf") == 108_000
        assert (await ask(ctx, "/ev-milestones nissan leaf")).message.body != milestones
        assert await total("/ev-total kia soul") == 700
        assert await total("/ev-total nissan") == 108_000 + 12 * 500


@pytest.mark.parametrize("seed", range(20))
def test_milestone_facts_match_crossings_over_the_whole_series(seed: int) -> None:
    """The command's recent crossings and projection equal first_crossings and project over the
    whole series, for rising series and for series that fall back (stock, revisions)."""
    import random

    from bot.commands.reading import _milestone_facts
    from bot.domain.ladders import configured_ladders, union_next_above
    from bot.domain.milestones import first_crossings
    from bot.domain.projection import project
    from bot.reading.read_model import Series

    rng = random.Random(seed)
    months = sorted(rng.sample(range(200), rng.randrange(0, 80)))
    falls = seed % 3 == 0
    monthly = {
        Month(2000, 1).plus(m): rng.randrange(-30_000 if falls else 0, 60_000) for m in months
    }
    series = Series.of(monthly)

    ctx = SimpleNamespace(ladders=configured_ladders(default_config()), milestone_memo={})
    recent, latest, upcoming, projected = _milestone_facts(ctx, series)  # type: ignore[arg-type]
    points = series.points()
    peak = max(series.cum, default=0)
    every = sorted({t for ladder in ctx.ladders for t in ladder.up_to(peak)})
    crossed = first_crossings(points, every)
    assert recent == sorted(crossed.items(), reverse=True)[:5]
    assert latest == (series.cum[-1] if series.cum else 0)
    assert upcoming == union_next_above(ctx.ladders, latest)
    assert projected == (project(points, upcoming) if upcoming and points else None)
