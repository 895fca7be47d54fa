"""One fact, one line (issue 15, point 5): the same crossing over the same figures is told once
per channel and once by `evbot replay`, under the most specific subject, from small data.

The same fact: the same kind, metric, threshold and period over the same contributing figures
(the world that is only the USA, a make with one model, a group with one member); equal numbers
over other figures are two facts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.detection.replay import replay
from bot.domain.event_codec import event_from_dict, event_to_dict
from bot.domain.events import Event, GrowthEvent, MilestoneEvent, ShareEvent, Subject
from bot.domain.facts import candidate_groups, figures_key, may_share
from bot.domain.periods import Month
from bot.domain.records import SalesRecord
from tests.test_subscriptions import C1, C2, C3, Bot, bullets, rec, start_bot

LEAF = Subject("model", "model:nissan/leaf", "Nissan Leaf")
NISSAN = Subject("make", "make:nissan", "Nissan")


@pytest.fixture
async def shared_history_bot(tmp_path: Path) -> AsyncIterator[Bot]:
    """The Leaf, the e-NV200 and the Zoe (tests.test_subscriptions' history)."""
    b = await start_bot(tmp_path)
    try:
        yield b
    finally:
        await b.store.close()


def milestones(events: Sequence[Event]) -> list[tuple[str, str, int]]:
    return [(e.subject.name, e.region, e.headline) for e in events if isinstance(e, MilestoneEvent)]


# -- the world that is only one region ----------------------------------------------------------

USA_ONLY = [
    rec("2020-01", "Nissan", "Leaf", 95_000, "USA"),
    rec("2020-01", "Tesla", "Model 3", 300_000, "USA"),
]
LEAF_PASSES_100K = [rec("2020-02", "Nissan", "Leaf", 6_000, "USA")]


async def test_the_world_that_is_only_the_usa_is_told_once_under_the_usa(tmp_path: Path) -> None:
    bot = await start_bot(tmp_path, USA_ONLY)
    try:
        await bot.follow("nissan leaf", channel=C1)
        await bot.follow("nissan leaf", channel=C1, region="USA")
        await bot.follow("nissan leaf", channel=C2)  # the world only
        await bot.drain()
        events = await bot.feed(LEAF_PASSES_100K)
        # detection keeps every event: the Leaf in the USA and in the world
        assert ("Nissan Leaf", "USA", 100_000) in milestones([s.event for s in events])
        assert ("Nissan Leaf", "World", 100_000) in milestones([s.event for s in events])
        posts = dict(await bot.drain())
        # C1 follows both: the fact once, under the more specific region
        assert posts[C1].title == "Nissan Leaf passes 100,000 sales in the USA"
        assert "Also" not in posts[C1].body
        # C2 follows the world: it hears the world's event, named as what it covers
        assert posts[C2].title == "Nissan Leaf passes 100,000 sales in the USA"
        # replay: once, "in USA", never also without a region
        told = milestones(await replay(bot.store, bot.config))
        assert told.count(("Nissan Leaf", "USA", 100_000)) == 1
        assert ("Nissan Leaf", "World", 100_000) not in told
    finally:
        await bot.store.close()


# -- a make with one model, a group with one member ----------------------------------------------

LEAF_ALONE = [
    rec("2020-01", "Nissan", "Leaf", 95_000),
    rec("2020-01", "Tesla", "Model 3", 300_000),
]


async def test_a_make_with_one_model_is_told_once_naming_the_subscribed_subject(
    tmp_path: Path,
) -> None:
    bot = await start_bot(tmp_path, LEAF_ALONE)
    try:
        await bot.follow("nissan", channel=C1)
        await bot.follow("alliance", channel=C2)
        await bot.follow("nissan", channel=C2)
        await bot.follow("all", channel=C3)
        await bot.drain()
        events = await bot.feed(LEAF_PASSES_100K_WORLD)
        names = {e.event.subject.name for e in events if e.event.kind == "milestone"}
        assert {"Nissan Leaf", "Nissan", "Renault-Nissan Alliance"} <= names
        posts = dict(await bot.drain())
        leaf_as_nissan = "Nissan Leaf, all of Nissan's EVs so far, passes 100,000 sales"
        assert posts[C1].title == leaf_as_nissan
        assert posts[C1].body.startswith(
            "The Nissan Leaf, all of Nissan's EVs so far, has passed 100,000 sales"
        )
        assert "Also" not in posts[C1].body
        # the Alliance and Nissan both cover it: once, under the more specific (Nissan)
        assert posts[C2].title == leaf_as_nissan
        assert "Also" not in posts[C2].body
        # all EVs passing 400,000 is another fact (the Model 3 is in it); the Leaf is not all EVs
        assert posts[C3].title == "400,000 electric cars sold worldwide"
        assert bullets(posts[C3]) == ["• Nissan Leaf passes 100,000 sales"]
        told = milestones(await replay(bot.store, bot.config))
        assert [t for t in told if t[2] == 100_000] == [("Nissan Leaf", "World", 100_000)]
    finally:
        await bot.store.close()


LEAF_PASSES_100K_WORLD = [rec("2020-02", "Nissan", "Leaf", 6_000)]


async def test_the_alliance_subscription_names_itself_when_the_leaf_is_all_of_it(
    tmp_path: Path,
) -> None:
    bot = await start_bot(tmp_path, LEAF_ALONE)
    try:
        await bot.follow("alliance")
        await bot.drain()
        await bot.feed(LEAF_PASSES_100K_WORLD)
        [(_, message)] = await bot.drain()
        assert message.title == (
            "Nissan Leaf, all of the Renault-Nissan Alliance's EVs so far, passes 100,000 sales"
        )
    finally:
        await bot.store.close()


NISSAN_ONLY = [
    rec("2020-01", "Nissan", "Leaf", 95_000),
    rec("2020-01", "Nissan", "e-NV200", 30_000),
    rec("2020-01", "Tesla", "Model 3", 300_000),
]
# e-NV200 60,000 (50,000), Nissan 155,000 (150,000), the Alliance (only Nissan) 155,000
ENV200_JUMP = [rec("2020-02", "Nissan", "e-NV200", 30_000)]


async def test_a_group_with_one_member_is_told_once(tmp_path: Path) -> None:
    bot = await start_bot(tmp_path, NISSAN_ONLY)
    try:
        await bot.follow("alliance")
        await bot.drain()
        events = await bot.feed(ENV200_JUMP)
        assert ("Renault-Nissan Alliance", "World", 150_000) in milestones(
            [s.event for s in events]
        )
        [(_, message)] = await bot.drain()
        assert message.title == (
            "Nissan, all of the Renault-Nissan Alliance's EVs so far,"
            " passes 150,000 electric cars sold"
        )
        assert bullets(message) == ["• Nissan e-NV200 passes 50,000 sales"]
        told = milestones(await replay(bot.store, bot.config))
        assert [t for t in told if t[2] == 150_000] == [("Nissan", "World", 150_000)]
        # the Leaf with the e-NV200 is not one model: Nissan's 100,000 was Nissan's own fact
        assert ("Nissan", "World", 100_000) in told
    finally:
        await bot.store.close()


# -- kinds before specificity --------------------------------------------------------------------


async def test_a_leaf_share_subscription_leaves_leaf_milestones_to_the_alliance(
    shared_history_bot: Bot,
) -> None:
    bot = shared_history_bot
    # before: the Leaf subscription, most specific, was chosen first and then filtered the
    # milestone out by its kinds, so the Alliance subscription that wants it never heard it
    alliance = (await bot.follow("alliance")).subscription
    await bot.follow("nissan leaf", kinds=("share",))
    await bot.drain()
    await bot.feed([rec("2020-02", "Nissan", "Leaf", 6_000)])
    [delivery] = await bot.rows("pending")
    assert delivery.subscription_ids == (alliance.id,)
    [(_, message)] = await bot.drain()
    assert message.title == "Nissan Leaf passes 100,000 sales"


# -- equal numbers over other figures are two facts ----------------------------------------------


async def test_equal_numbers_from_other_figures_are_not_merged(tmp_path: Path) -> None:
    # the world's figure is its own row (a publisher's World total), the USA's is the Leaf's:
    # both pass 1,000 in the same month at 1,000, but they are not made of the same figures
    history: list[SalesRecord] = [
        rec("2020-01", "", "", 1_000, "World"),
        rec("2020-01", "Nissan", "Leaf", 1_000, "USA"),
    ]
    bot = await start_bot(tmp_path, history)
    try:
        told = milestones(await replay(bot.store, bot.config))
        assert ("all EVs", "World", 1_000) in told
        assert ("Nissan Leaf", "USA", 1_000) in told
        # the Leaf in the USA is all the USA's EVs, and all the world's Leafs: one line
        assert sorted(t for t in told if t[2] == 1_000) == [
            ("Nissan Leaf", "USA", 1_000),
            ("all EVs", "World", 1_000),
        ]
    finally:
        await bot.store.close()


# -- the basis travels with the event ------------------------------------------------------------


def test_basis_and_same_as_survive_storage_and_old_events_have_none() -> None:
    event = MilestoneEvent(
        LEAF,
        "USA",
        "sales",
        (100_000,),
        Month(2020, 2),
        101_000,
        basis="0123456789abcdef",
        same_as=((NISSAN, "USA"), (LEAF, "World")),
    )
    assert event_from_dict(event_to_dict(event)) == event
    old = event_to_dict(MilestoneEvent(LEAF, "USA", "sales", (100_000,), Month(2020, 2), 1))
    assert "basis" not in old
    assert event_from_dict(old).basis == ""
    assert event_from_dict(old).same_as == ()


SUBJECTS = (
    LEAF,
    Subject("model", "model:nissan/e-nv200", "Nissan e-NV200"),
    Subject("model", "model:renault/zoe", "Renault Zoe"),
    NISSAN,
    Subject("make", "make:renault", "Renault"),
    Subject("group", "group:alliance", "Alliance"),
    Subject("all", "all", "all EVs"),
    Subject("region", "region:europe", "Europe"),
)
REGIONS = ("World", "Europe", "NO", "US")


def some_event(subject: int, region: int, share: bool, value: int) -> Event:
    who, where = SUBJECTS[subject], REGIONS[region]
    if share:
        return ShareEvent(who, NISSAN, where, "sales", "up", 0.7, 0.71, value, 2 * value, MAY)
    return GrowthEvent(who, where, "sales", MAY, value, value - 1)


MAY = Month(2020, 5)


@given(
    st.lists(
        st.tuples(
            st.integers(0, len(SUBJECTS) - 1),
            st.integers(0, len(REGIONS) - 1),
            st.booleans(),
            st.integers(1, 3),
        ),
        max_size=30,
    )
)
@settings(max_examples=300, deadline=None)
def test_candidate_groups_are_every_pair_that_may_share(
    drawn: list[tuple[int, int, bool, int]],
) -> None:
    """The groups asked only of a make's own and the wide subjects' pairs are those every pair
    of like figures gives (a poll's thousand like growth events were pairwise before)."""
    events = [some_event(*d) for d in drawn]

    def related(a: str, b: str) -> bool:
        return a == b or "World" in (a, b) or {a, b} == {"Europe", "NO"}

    expected = []
    by_figures: dict[object, list[int]] = {}
    for i, event in enumerate(events):
        by_figures.setdefault(figures_key(event), []).append(i)
    for indices in by_figures.values():
        kept = [
            i
            for i in indices
            if any(j != i and may_share(events[i], events[j], related) for j in indices)
        ]
        if len(kept) > 1:
            expected.append(kept)
    assert candidate_groups(events, related) == expected
