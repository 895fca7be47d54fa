"""The composition root: the only place the bot's object graph is built.

The store (SQLite or PostgreSQL, by the database's name), the detector, the command context and
its read model, the milestone charts, the delivery worker, the adapters (loaded by name from
`adapters/registry.py`), the replicas' leadership and rate share, the app and its ops endpoints.
The services and the app take what they use; the command line asks this module for it.

A builder imports what it builds when it builds it: every `evbot` command imports this module,
and `evbot total` must not pay for the scheduler, the charts, aiohttp or the command layer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TextIO

from adapters import registry
from bot.domain.settings import Config, ConfigError
from bot.ports.chat import ChatAdapter
from bot.ports.store import BotStore
from bot.store.postgres.base import is_postgres
from bot.store.postgres.sales import PgStore
from bot.store.sqlite.sales import SqliteStore

if TYPE_CHECKING:
    from bot.app.ops import Ops
    from bot.app.runtime import App
    from bot.commands.context import CommandContext
    from bot.delivery.worker import DeliveryWorker
    from bot.detection.detector import Detector
    from bot.store.postgres.leader import Leadership

Clock = Callable[[], float]


def open_store(database: str) -> SqliteStore | PgStore:
    """The store of `database` (not yet open): a postgresql:// URL selects PostgreSQL (whose
    database must exist; the schema is made), anything else names a SQLite file."""
    if is_postgres(database):
        return PgStore(database)
    return SqliteStore(database)


def build_leadership(store: BotStore) -> Leadership | None:
    """Replicas share PostgreSQL: one of them at a time leads (polls and runs the jobs)."""
    from bot.store.postgres.leader import Leadership

    return Leadership(store.dsn) if isinstance(store, PgStore) else None


def build_adapters(config: Config, out: TextIO) -> dict[str, ChatAdapter]:
    """Every enabled platform's adapter (from the registry); the console one when no platform
    is enabled."""
    adapters: dict[str, ChatAdapter] = {}
    for name, platform in config.platforms.items():
        if not platform.enabled:
            continue
        if name not in registry.FACTORIES:
            raise ConfigError(
                f"{config.path or 'configuration'}: platforms.{name}: the {name} adapter is not "
                "in this version yet; disable it (enabled = false)"
            )
        try:
            adapters[name] = registry.factory(name)(platform)
        except ConfigError as exc:  # the adapter's checks name the key, not the file
            raise ConfigError(f"{config.path or 'configuration'}: {exc}") from None
    if not adapters:
        adapters[registry.CONSOLE] = build_console(out)
    return adapters


def build_console(out: TextIO) -> ChatAdapter:
    """The console adapter, writing to `out`: the adapter of last resort, and the demo's."""
    from adapters.console import ConsoleAdapter

    return ConsoleAdapter(out)


def build_detector(store: BotStore, config: Config, clock: Clock = time.time) -> Detector:
    from bot.detection.detector import Detector

    return Detector(store, config, clock)


async def open_commands(
    store: BotStore, config: Config, clock: Clock = time.time
) -> CommandContext:
    """A command context over an open store, its read model loaded."""
    from bot.commands.context import CommandContext
    from bot.domain.hierarchy import Hierarchy
    from bot.domain.ladders import configured_ladders
    from bot.domain.subscriptions import ladder_objects
    from bot.reading.read_model import ReadModel

    model = ReadModel(store, config)
    await model.load()
    return CommandContext(
        store,
        config,
        model,
        hierarchy=Hierarchy.of(config, model.tree),
        ladders=configured_ladders(config),
        subscription_ladders=ladder_objects(config.ladders),
        holds=await store.holds(),
        clock=clock,
    )


def build_worker(
    store: BotStore, config: Config, adapters: Mapping[str, ChatAdapter], clock: Clock = time.time
) -> DeliveryWorker:
    """The delivery worker, with milestone charts, "now following" notices and retry warnings."""
    from bot.charts.service import StoreCharts
    from bot.delivery.following import following_now
    from bot.delivery.retry_warnings import RetryWarnings
    from bot.delivery.worker import DeliveryWorker
    from bot.domain.subscriptions import ladder_objects

    worker = DeliveryWorker(
        store,
        adapters,
        ladder_objects(config.ladders),
        clock=clock,
        charts=StoreCharts(store, config),
        following=lambda sub: following_now(store, config, sub.spec),
    )
    worker.retry_warnings = RetryWarnings(config.retry_warning_seconds)
    return worker


def build_app(
    config: Config,
    store: BotStore,
    adapters: Mapping[str, ChatAdapter],
    clock: Clock = time.time,
    leadership: Leadership | None = None,
) -> App:
    """The running bot: its detector, delivery worker and (replicas) rate share, over `store`."""
    from bot.app.runtime import App
    from bot.delivery.rate_share import RateShare, ReplicaRegistry

    serving = dict(adapters)  # one mapping, the app's and its worker's
    worker = build_worker(store, config, serving, clock)
    rate_share = None
    if leadership is not None and isinstance(store, ReplicaRegistry):
        rate_share = RateShare(store, worker.pacers, worker.wake)

    async def commands() -> CommandContext:
        return await open_commands(store, config, clock)

    return App(
        config,
        store,
        serving,
        detector=build_detector(store, config, clock),
        worker=worker,
        commands=commands,
        clock=clock,
        leadership=leadership,
        rate_share=rate_share,
    )


def build_ops(app: App, address: str) -> Ops:
    """The health and metrics endpoints of `app` (checks the address; binds on `start`)."""
    from bot.app.ops import Ops

    return Ops(app, address)
