"""PgStore: the store contract on a real PostgreSQL, plus what only it has (schema, replicas)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.cli.common import CliError, store_for
from bot.config.load import load_config
from bot.domain.deliveries import STATUSES
from bot.domain.records import ImportFailed, SalesRecord
from bot.domain.settings import ConfigError, default_config
from bot.domain.staging import StagedChunk, chunk_of
from bot.ports.store import BotStore
from bot.store.postgres.sales import PgStore
from bot.store.sqlite.sales import SqliteStore
from tests.store_contract import SALES, StoreContract, StoreFactory, rec


class TestPgStoreContract(StoreContract):
    @pytest.fixture
    def make_store(self, pg_dsn: str) -> StoreFactory:
        return lambda: PgStore(pg_dsn)


def test_the_database_setting_takes_a_postgresql_url_without_a_password(tmp_path: Path) -> None:
    config = tmp_path / "evbot.toml"
    config.write_text('database = "postgresql://evbot@db.internal:5432/evbot"\n', "utf-8")
    assert load_config(config).database == "postgresql://evbot@db.internal:5432/evbot"
    for url, why in (
        ("postgresql://evbot:s3cret@db/evbot", "PGPASSWORD"),
        ("postgresql://evbot@db/evbot?password=s3cret", "PGPASSWORD"),
        ("mysql://evbot@db/evbot", "postgresql://"),
    ):
        config.write_text(f'database = "{url}"\n', "utf-8")
        with pytest.raises(ConfigError, match=why) as info:
            load_config(config)
        assert "s3cret" not in str(info.value)


async def test_the_cli_chooses_the_store_from_the_url(pg_dsn: str, tmp_path: Path) -> None:
    from bot.cli.main import build_parser

    args = build_parser().parse_args(["deliveries", "--db", pg_dsn])
    store = store_for(args, default_config(), read=True)
    assert isinstance(store, PgStore)
    async with store:
        assert await store.delivery_counts() == dict.fromkeys(STATUSES, 0)
    args = build_parser().parse_args(["deliveries", "--db", str(tmp_path / "a.sqlite3")])
    with pytest.raises(CliError, match="no database at"):
        store_for(args, default_config(), read=True)


@pytest.fixture(params=["sqlite", "postgres"])
def either(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Any]:
    """Unopened stores of each backend (PostgreSQL skips without a server)."""
    if request.param == "sqlite":
        return lambda: SqliteStore(tmp_path / "either.sqlite3")
    dsn = request.getfixturevalue("pg_dsn")
    return lambda: PgStore(dsn)


def _line(record: SalesRecord, line: int) -> SalesRecord:
    return replace(record, line=line)


async def test_repeated_keys_in_one_import_are_judged_alike(either: Callable[[], Any]) -> None:
    async with either() as store:
        await _judge_repeats(store)


async def _judge_repeats(either: BotStore) -> None:
    same = [_line(rec("2014-01", 5), 2), _line(rec("2014-01", 5), 3), _line(rec("2014-02", 1), 4)]
    [summary] = await either.import_records([(SALES, same)], file="a.csv")
    assert (summary.records, summary.duplicates, summary.new) == (2, 1, 2)
    assert summary.notices == ["a.csv:3: duplicate of line 2, counted once"]
    before = await either.journal_head()
    clash = [_line(rec("2014-03", 5), 7), _line(rec("2014-03", 6), 9)]
    with pytest.raises(ImportFailed) as info:
        await either.import_records([(SALES, clash)], file="b.csv")
    assert info.value.problems == [
        "b.csv:9: conflicting duplicate of line 7: same period, region, make, model and "
        "powertrain with 6 units instead of 5"
    ]
    assert await either.journal_head() == before  # nothing was written

    async def chunks() -> AsyncIterator[StagedChunk | None]:
        yield chunk_of([("monthly", [_line(rec("2014-04", 5), 1)])])
        yield chunk_of([("monthly", [_line(rec("2014-04", 7), 2)])])

    [summed] = await either.import_stream(chunks(), {"monthly": SALES}.__getitem__, aggregate=True)
    assert summed.records == 1
    increments = await either.model_increments("nissan", "leaf")
    assert {str(r.month): r.inc for r in increments}["2014-04"] == 12
