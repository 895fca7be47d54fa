"""Copies of a SQLite store: a backup taken while the bot runs, and a restore while it does not.

A backup opens the store read-only (`mode=ro`: no WAL set-up, no migration, so a newer evbot
never upgrades the store it is asked to copy) and copies it with SQLite's online backup API in
one step: a page-stepped copy restarts on every write of the running bot and may never end. The
copy is a new file of mode 0600 (the store holds Slack installation tokens).

A restore refuses while any connection holds the store (a running bot), and never leaves the
copy beside an old `-wal` file, which SQLite would replay into it.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from bot.ports.store import StoreError
from bot.store.sqlite.base import SQLITE_MAGIC
from bot.store.sqlite.migrations import MIGRATIONS

PRIVATE = 0o600
LOCKED_WAIT = 0.5  # seconds a restore waits for a lock before it says a bot holds the store


@dataclass(frozen=True)
class Copied:
    """What a backup or a restore copied."""

    source: str
    target: str
    schema_version: int
    pages: int


async def backup_store(source: str, target: str) -> Copied:
    """Copy the SQLite store at `source` to the new file `target` (mode 0600), consistent even
    while a bot writes to it."""
    return await asyncio.to_thread(_backup, source, target)


async def restore_store(backup: str, target: str) -> Copied:
    """Put the backup at `backup` in place of the store at `target`, which no bot may hold."""
    return await asyncio.to_thread(_restore, backup, target)


def _read_only(path: str) -> sqlite3.Connection:
    if not Path(path).is_file():
        raise StoreError(f"{path}: no such file")
    with open(path, "rb") as handle:
        if not handle.read(len(SQLITE_MAGIC)).startswith(SQLITE_MAGIC):
            raise StoreError(f"{path}: not an EV bot database (not an SQLite file)")
    uri = f"file:{quote(os.path.abspath(path))}?mode=ro"
    try:
        return sqlite3.connect(uri, uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open read-only: {exc}") from exc


def _version(db: sqlite3.Connection, path: str) -> int:
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version == 0:
        raise StoreError(f"{path}: not an EV bot database (no evbot schema version)")
    return version


def _new_private_file(target: str) -> None:
    """Create `target` empty with mode 0600; refuse an existing file."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    except FileExistsError as exc:
        raise StoreError(f"{target}: already exists; give a new file name") from exc
    except OSError as exc:
        raise StoreError(f"{target}: cannot create: {exc.strerror or exc}") from exc
    os.close(fd)


def _copy(source: sqlite3.Connection, target: str) -> int:
    """The online backup of `source` into the new file `target`, in one step; its pages."""
    _new_private_file(target)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy, pages=-1)  # one step: a running bot's writes cannot restart it
        # one self-contained file, no write-ahead log beside it (the store's runs in WAL mode)
        copy.execute("PRAGMA journal_mode = DELETE").fetchone()
        (check,) = copy.execute("PRAGMA quick_check").fetchone()
        if check != "ok":
            raise StoreError(f"{target}: the copy does not check out ({check})")
        return int(copy.execute("PRAGMA page_count").fetchone()[0])
    except BaseException:
        copy.close()
        Path(target).unlink(missing_ok=True)
        raise
    finally:
        copy.close()


def _backup(source: str, target: str) -> Copied:
    if Path(source).resolve() == Path(target).resolve():
        raise StoreError(f"{target}: is the store itself; give a new file name")
    db = _read_only(source)
    try:
        version = _version(db, source)
        pages = _copy(db, target)
    except sqlite3.Error as exc:
        raise StoreError(f"{source}: backup failed: {exc}") from exc
    finally:
        db.close()
    return Copied(source, target, version, pages)


def _restore(backup: str, target: str) -> Copied:
    src = _read_only(backup)
    try:
        version = _version(src, backup)
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{backup}: schema version {version} is newer than this evbot knows "
                f"({len(MIGRATIONS)}); restore it with the evbot that wrote it"
            )
        staged = f"{target}.restoring"
        Path(staged).unlink(missing_ok=True)
        held = _hold(target) if Path(target).exists() else None
        try:
            pages = _copy(src, staged)  # in rollback-journal mode: no log of its own
            for suffix in ("-wal", "-shm"):  # an old log would be replayed into the copy
                Path(target + suffix).unlink(missing_ok=True)
            os.replace(staged, target)
        except BaseException:
            Path(staged).unlink(missing_ok=True)
            raise
        finally:
            if held is not None:
                held.close()
    except sqlite3.Error as exc:
        raise StoreError(f"{target}: restore failed: {exc}") from exc
    finally:
        src.close()
    return Copied(backup, target, version, pages)


def _hold(target: str) -> sqlite3.Connection:
    """An exclusive hold on the store being replaced, or a StoreError when anyone else has it
    open: leaving WAL mode needs every other connection gone."""
    db = sqlite3.connect(target, timeout=LOCKED_WAIT)
    try:
        db.execute("PRAGMA locking_mode = EXCLUSIVE")
        db.execute("PRAGMA journal_mode = DELETE").fetchone()
        db.execute("BEGIN EXCLUSIVE")
    except sqlite3.OperationalError as exc:
        db.close()
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreError(
                f"{target}: a running bot holds the store; stop it (systemctl stop evbot) and "
                "restore again"
            ) from exc
        raise StoreError(f"{target}: cannot be replaced: {exc}") from exc
    return db
