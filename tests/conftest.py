"""Shared fixtures and the suite's rules: hermetic tests, loopback only, PostgreSQL per worker.

- Hermetic: every `EVBOT_*` variable of the shell is removed before any test module is imported
  (modules that build a subprocess environment at import time see a clean one), and again around
  each test (the suite's own settings stay: `EVBOT_TEST_*` and `EVBOT_LONG_FUZZ`).
- Loopback only: each test may connect to 127.0.0.0/8, ::1, `localhost` and unix sockets; any
  other address is refused (`NetworkRefused`), and a refused attempt fails the test even when the
  code under test swallowed the error. Subprocesses (crash runners, replicas, the demo) are not
  patched: they talk to the fakes on 127.0.0.1 only by construction.
- PostgreSQL: `EVBOT_TEST_POSTGRES_DSN` names a database the tests may fill (`.ci/run` creates
  one when a server answers on 127.0.0.1:5432). Under pytest-xdist each worker makes a database
  of its own beside it (`<name>_gw0`, ...; advisory locks and NOTIFY channels are per database,
  so two workers' leader tests must not share one), dropped at the end. Each test gets a schema of
  its own in it, dropped afterwards, and a DSN whose `search_path` points there; without the
  variable, PostgreSQL tests skip.
- Built once per run: `built_once` makes what a module or session fixture builds at length (the
  demo, the wheel, the shared data's imports) once for the whole run, however many pytest-xdist
  workers ask for it: worksteal spreads a module's tests over workers, and each built its own.
- Markers (README "Tests"): `postgres` is put on every test that reaches `pg_dsn` (directly, or
  through a `make_store` parameter), `platform` on every test in a module that drives a fake
  chat platform server; `slow` is written on the tests themselves, and those run first.
"""

from __future__ import annotations

import asyncio
import compileall
import fcntl
import ipaddress
import os
import pickle
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest
from hypothesis import settings

from bot.app.bootstrap import open_commands
from bot.commands.context import CommandContext
from bot.domain.settings import default_config
from bot.ingest.importer import import_demo
from bot.store.postgres.sales import PgStore
from bot.store.sqlite.sales import SqliteStore
from tests.demo_once import DemoRun, run_once
from tests.fake_discord import FakeDiscord
from tests.fake_matrix import FakeMatrix
from tests.fake_slack import FakeSlack
from tests.fake_webhook import FakeWebhook

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ENV = "EVBOT_TEST_POSTGRES_DSN"
# the suite's own settings: the PostgreSQL DSN (`EVBOT_TEST_*`) and the hostile suite's long fuzz
KEPT = ("EVBOT_TEST_", "EVBOT_LONG_FUZZ")

Store = SqliteStore | PgStore
StoreFactory = Callable[[], Store]
T = TypeVar("T")


# Hypothesis's own 200 ms deadline per example measures the machine, not the code: with the suite
# in parallel workers on two cores an example may wait for a core that long. The tests that bound
# a time measure it themselves, with their own margins (and those with settings of their own keep
# them: a profile only sets the defaults).
settings.register_profile("evbot", deadline=None)
settings.load_profile("evbot")


# -- hermetic environment ---------------------------------------------------------------------


def _bot_variables() -> list[str]:
    return [v for v in os.environ if v.startswith("EVBOT_") and not v.startswith(KEPT)]


def pytest_configure(config: pytest.Config) -> None:
    """Clear the shell's `EVBOT_*` settings before any test module is imported: `EVBOT_DB` set in
    the shell would otherwise reach the subprocesses that modules start with `os.environ`.

    And write the tree's bytecode once, before any worker starts: the suite starts some hundreds
    of Python processes (`evbot run` and the CLI, crash runners, fakes, replicas), and where
    `PYTHONDONTWRITEBYTECODE` is set (or on a clean clone, before the first of them wrote it)
    each compiled the modules of `bot/` and `adapters/` it imports again, about a quarter of a
    second of CPU per process. Python checks each file's bytecode against its source as usual."""
    for var in _bot_variables():
        del os.environ[var]
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        for folder in ("bot", "adapters", "tests"):
            compileall.compile_dir(ROOT / folder, quiet=1)


@pytest.fixture(autouse=True)
def hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No `EVBOT_*` setting leaks into a test, from the shell or from an earlier test."""
    for var in _bot_variables():
        monkeypatch.delenv(var)


# -- loopback only ----------------------------------------------------------------------------


class NetworkRefused(RuntimeError):
    """A test tried to reach an address other than this machine's loopback."""


def _loopback(host: Any) -> bool:
    if host is None:  # getaddrinfo(None, port): the local wildcard
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host)
    if host in ("localhost", ""):
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False  # a name other than localhost: resolving it would already ask the network
    return address.is_loopback or address.is_unspecified


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse any connection that would leave this machine (a test that tries fails), and answer
    any name lookup but loopback's as unknown without asking a resolver."""
    refused: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            refused.append(repr(address))
            raise NetworkRefused(f"a test may only connect to loopback, not {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host):  # answered here, as a resolver that knows no such name would
            raise socket.gaierror(socket.EAI_NONAME, f"{host!r}: not resolved in tests")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield
    assert not refused, f"the test tried to reach the network: {', '.join(refused)}"


# -- PostgreSQL -------------------------------------------------------------------------------


def postgres_dsn() -> str | None:
    """The configured test database's DSN, or None when PostgreSQL tests should skip."""
    return os.environ.get(POSTGRES_ENV) or None


def with_search_path(dsn: str, schema: str) -> str:
    """The DSN with `search_path` set, which asyncpg passes on as a server setting."""
    return f"{dsn}{'&' if '?' in dsn else '?'}search_path={schema}"


def with_database(dsn: str, name: str) -> str:
    """The DSN naming another database on the same server (query and credentials kept)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _admin(dsn: str, statement: str) -> None:
    import asyncpg

    con = await asyncpg.connect(dsn)
    try:
        await con.execute(statement)
    finally:
        await con.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """This process's test database: the configured one, or under pytest-xdist a database of the
    worker's own made beside it (and dropped at the end); None without a configured one."""
    base = postgres_dsn()
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if base is None or not worker:
        yield base
        return
    parts = urlsplit(base)
    name = f"{parts.path.lstrip('/') or parts.username or 'postgres'}_{worker}"
    asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(base, name)
    finally:
        asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def pg_dsn(postgres_database: str | None) -> AsyncIterator[str]:
    """A DSN on a fresh, empty schema of the test database (skips without one)."""
    if postgres_database is None:
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL to test against")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    await _admin(postgres_database, f'CREATE SCHEMA "{schema}"')
    try:
        yield with_search_path(postgres_database, schema)
    finally:
        await _admin(postgres_database, f'DROP SCHEMA "{schema}" CASCADE')


# -- stores -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def new_store_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The file of a new SQLite store, made (migrated) once per worker: the fixtures' stores
    start from a copy, as the migrations cost more than most tests that use a store (what a
    new store writes is the same every time; the migrations' own tests open their own files)."""
    path = tmp_path_factory.mktemp("new-store") / "new.sqlite3"

    async def make() -> None:
        async with SqliteStore(path):
            pass

    asyncio.run(make())
    return path.read_bytes()


def new_store_at(path: Path, new_store_file: bytes) -> Path:
    """`path`, holding a new store's file (from `new_store_file`)."""
    path.write_bytes(new_store_file)
    return path


@pytest.fixture
async def store(tmp_path: Path, new_store_file: bytes) -> AsyncIterator[SqliteStore]:
    """An open, empty SQLite store (a module that needs more, or another backend, overrides it)."""
    async with SqliteStore(new_store_at(tmp_path / "evbot.sqlite3", new_store_file)) as opened:
        yield opened


@pytest.fixture(params=["sqlite", "postgres"])
def make_store(
    request: pytest.FixtureRequest, tmp_path: Path, new_store_file: bytes
) -> StoreFactory:
    """Unopened stores on one fresh database of each backend (two calls: two stores on the same
    database, as after a restart or beside a replica); PostgreSQL skips without a server."""
    if request.param == "sqlite":
        path = new_store_at(tmp_path / "backend.sqlite3", new_store_file)
        return lambda: SqliteStore(path)
    dsn = request.getfixturevalue("pg_dsn")
    return lambda: PgStore(dsn)


@pytest.fixture
async def any_store(make_store: StoreFactory) -> AsyncIterator[Store]:
    """An open, empty store of each backend."""
    opened = make_store()
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def grouped_store(any_store: Store) -> Store:
    """`any_store` with the default configuration's groups synced, as the bot starts."""
    await any_store.sync_groups(default_config().groups)
    return any_store


@pytest.fixture
async def demo_store(tmp_path: Path, new_store_file: bytes) -> AsyncIterator[SqliteStore]:
    """An open SQLite store with the default groups and the demo's figures (the Alliance)."""
    config = default_config()
    async with SqliteStore(new_store_at(tmp_path / "demo.sqlite3", new_store_file)) as opened:
        await opened.sync_groups(config.groups)
        await import_demo(opened, config)
        yield opened


# -- command contexts -------------------------------------------------------------------------


@pytest.fixture
async def ctx(store: SqliteStore) -> CommandContext:
    """A command context over the module's `store`, with the default configuration."""
    return await open_commands(store, default_config())


@pytest.fixture
async def demo_ctx(demo_store: SqliteStore) -> CommandContext:
    """A command context over the demo's figures."""
    return await open_commands(demo_store, default_config())


# -- the fake platforms -----------------------------------------------------------------------


@pytest.fixture
async def fake_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    """The fake Discord (REST and gateway on 127.0.0.1), discord.py pointed at it."""
    import discord
    import yarl

    async with FakeDiscord() as server:
        monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url)
        )
        yield server


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """The fake Slack Web API on 127.0.0.1."""
    async with FakeSlack() as server:
        yield server


@pytest.fixture
async def fake_matrix() -> AsyncIterator[FakeMatrix]:
    """The fake Matrix homeserver on 127.0.0.1."""
    async with FakeMatrix() as server:
        yield server


@pytest.fixture
async def fake_webhook() -> AsyncIterator[FakeWebhook]:
    """The fake webhook receiver on 127.0.0.1."""
    async with FakeWebhook() as server:
        yield server


# -- built once per run ----------------------------------------------------------------------


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], T]
) -> T:
    """`build(folder)`'s result, built once for the whole run: under pytest-xdist the first
    worker to ask builds it in a folder of the run's temporary directory, which all workers
    share, while the others wait on a lock and then read the result it left (pickled; what it
    names in the folder is shared too, so read it, never change it). A build that failed is
    tried again by the next to ask, in a folder of its own."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, above each worker's own
    result = base / f"{name}.pickle"
    with (base / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if result.exists():
            loaded: T = pickle.loads(result.read_bytes())
            return loaded
        folder = Path(tmp_path_factory.mktemp(name))
        built = build(folder)
        result.write_bytes(pickle.dumps(built))
        return built


# -- the demo ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_once(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo run once at full speed for the whole run (read it, never change it)."""
    return built_once(tmp_path_factory, "demo-once", run_once)


# -- markers ----------------------------------------------------------------------------------

FAKE_PLATFORMS = (
    "tests.fake_discord",
    "tests.fake_matrix",
    "tests.fake_slack",
    "tests.fake_webhook",
    "tests.fake_hooks",
)


def _drives_a_fake_platform(module: Any) -> bool:
    return any(
        getattr(value, "__module__", None) in FAKE_PLATFORMS
        or getattr(value, "__name__", None) in FAKE_PLATFORMS
        for value in vars(module).values()
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # the slow tests first (stable: otherwise in collection order), so that under xdist the
    # longest ones (the replicas: minutes of three processes) start at once and end no run late
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    platform_modules: dict[str, bool] = {}
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        callspec = getattr(item, "callspec", None)
        params = list(callspec.params.values()) if callspec is not None else []
        on_postgres = any(isinstance(p, str) and p == "postgres" for p in params)
        if "pg_dsn" in item.fixturenames or on_postgres:
            item.add_marker(pytest.mark.postgres)
        module = item.module
        if module is not None:
            name = module.__name__
            if name not in platform_modules:
                platform_modules[name] = _drives_a_fake_platform(module)
            if platform_modules[name]:
                item.add_marker(pytest.mark.platform)
