"""The names a kept detector keeps between polls: reused while the stored names are the same,
rebuilt at the next poll after any rename, whichever process made it."""

from __future__ import annotations

import dataclasses

from bot.detection.detector import Detector
from bot.detection.touched import KeptNames, NameRows
from bot.domain.events import MilestoneEvent
from bot.domain.records import ModelName, SalesRecord, SourceSpec, StoredEvent
from bot.domain.settings import Config, MilestoneConfig, default_config
from tests.conftest import StoreFactory

SOURCE = SourceSpec("feed")


def small_config() -> Config:
    return dataclasses.replace(
        default_config(),
        ladders={"small": (100, 200, 500)},
        milestones=MilestoneConfig(ladders=("small",)),
    )


def rec(period: str, units: int, make: str, model: str) -> SalesRecord:
    return SalesRecord(period, "World", make, model, units)


def test_kept_names_are_reused_until_a_row_differs() -> None:
    kept = KeptNames()
    rows = ([("nissan", "NISSAN")], [("nissan", "leaf", "LEAF"), ("tesla", "y", "Model Y")])
    kept.update(rows)
    first = kept.models
    assert first[("nissan", "leaf")] == ModelName("nissan", "leaf", "NISSAN", "LEAF")
    assert first[("tesla", "y")] == ModelName("tesla", "y", "tesla", "Model Y")  # no make row
    kept.update(([("nissan", "NISSAN")], [("nissan", "leaf", "LEAF"), ("tesla", "y", "Model Y")]))
    assert kept.models is first  # equal rows: nothing rebuilt
    kept.update(([("nissan", "Nissan")], [("nissan", "leaf", "LEAF"), ("tesla", "y", "Model Y")]))
    assert kept.makes == {"nissan": "Nissan"}
    assert kept.models[("nissan", "leaf")].make == "Nissan"
    kept.update(([("nissan", "Nissan")], [("nissan", "leaf", "Leaf")]))
    assert kept.models == {("nissan", "leaf"): ModelName("nissan", "leaf", "Nissan", "Leaf")}


def test_kept_names_are_current_only_at_the_version_they_were_read_at() -> None:
    kept = KeptNames()
    assert not kept.current(0)  # nothing kept yet
    rows = ([("nissan", "Nissan")], [("nissan", "leaf", "Leaf")])
    kept.update(rows, 7)
    assert kept.current(7)
    assert not kept.current(8)
    assert not kept.current(None)  # a store without a version: its rows are compared
    kept.update(rows, None)
    assert not kept.current(7)


def named_subjects(events: list[StoredEvent]) -> dict[str, str]:
    return {
        e.event.subject.key: e.event.subject.name
        for e in events
        if isinstance(e.event, MilestoneEvent) and e.event.subject.kind in ("make", "model")
    }


async def test_a_rename_by_another_store_is_told_at_the_next_poll(
    make_store: StoreFactory,
) -> None:
    config = small_config()
    async with make_store() as store:
        await store.sync_groups(config.groups)
        detector = Detector(store, config)
        await store.import_records(
            [(SOURCE, [rec("2020-01", 60, "NISSAN", "LEAF"), rec("2020-02", 60, "NISSAN", "LEAF")])]
        )
        assert await detector.poll() == []  # history; the shouted names are kept
        assert detector.names.models[("nissan", "leaf")].model == "LEAF"
        # another process (`evbot import` beside the bot) renames and brings news
        async with make_store() as other:
            await other.import_records([(SOURCE, [rec("2020-03", 90, "Nissan", "Leaf")])])
        named = named_subjects(await detector.poll())
        assert named == {"make:nissan": "Nissan", "model:nissan/leaf": "Nissan Leaf"}


async def test_a_model_added_by_another_store_is_told_by_its_name(
    make_store: StoreFactory,
) -> None:
    config = small_config()
    async with make_store() as store:
        await store.sync_groups(config.groups)
        detector = Detector(store, config)
        await store.import_records([(SOURCE, [rec("2020-01", 60, "Nissan", "Leaf")])])
        await detector.poll()
        async with make_store() as other:
            await other.import_records([(SOURCE, [rec("2020-02", 150, "Nissan", "Ariya")])])
        named = named_subjects(await detector.poll())
        assert named["model:nissan/ariya"] == "Nissan Ariya"


async def test_the_names_are_read_only_after_a_change_to_them(make_store: StoreFactory) -> None:
    config = small_config()
    async with make_store() as store:
        await store.sync_groups(config.groups)
        detector = Detector(store, config)
        reads = 0
        name_rows = store.name_rows

        async def counted() -> NameRows:
            nonlocal reads
            reads += 1
            return await name_rows()

        store.name_rows = counted  # type: ignore[method-assign]
        await store.import_records([(SOURCE, [rec("2020-01", 60, "NISSAN", "LEAF")])])
        await detector.poll()
        assert reads == 1  # nothing kept yet
        before = await store.names_version()
        await store.import_records([(SOURCE, [rec("2020-02", 60, "NISSAN", "LEAF")])])
        assert await store.names_version() == before  # the same names: nothing written to them
        await detector.poll()
        assert reads == 1
        async with make_store() as other:  # a rename elsewhere moves the version
            await other.import_records([(SOURCE, [rec("2020-03", 1, "Nissan", "Leaf")])])
        assert await store.names_version() != before
        await detector.poll()
        assert reads == 2
        assert detector.names.models[("nissan", "leaf")] == ModelName(
            "nissan", "leaf", "Nissan", "Leaf"
        )
