"""The names a kept detector keeps between polls: reused while the stored names are the same,
rebuilt at the next poll after any rename, whichever process made it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bot.detection.detector import Detector
from bot.detection.touched import KeptNames
from bot.domain.events import MilestoneEvent
from bot.domain.records import ModelName, SalesRecord, SourceSpec
from bot.domain.settings import Config, MilestoneConfig, default_config
from bot.store.sqlite.sales import SqliteStore

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


async def test_a_rename_by_another_store_is_told_at_the_next_poll(tmp_path: Path) -> None:
    config = small_config()
    path = tmp_path / "s.db"
    async with SqliteStore(path) as store:
        await store.sync_groups(config.groups)
        detector = Detector(store, config)
        await store.import_records(
            [(SOURCE, [rec("2020-01", 60, "NISSAN", "LEAF"), rec("2020-02", 60, "NISSAN", "LEAF")])]
        )
        assert await detector.poll() == []  # history; the shouted names are kept
        assert detector.names.models[("nissan", "leaf")].model == "LEAF"
        # another process (`evbot import` beside the bot) renames and brings news
        async with SqliteStore(path) as other:
            await other.import_records([(SOURCE, [rec("2020-03", 90, "Nissan", "Leaf")])])
        events = [e.event for e in await detector.poll()]
        named = {
            e.subject.key: e.subject.name
            for e in events
            if isinstance(e, MilestoneEvent) and e.subject.kind in ("make", "model")
        }
        assert named == {"make:nissan": "Nissan", "model:nissan/leaf": "Nissan Leaf"}
