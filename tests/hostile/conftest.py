"""Fixtures of the hostile suite: an event loop per property test, secrets in the environment,
and a grep of every log record of the suite for those secrets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from tests.hostile.support import SECRET_VALUES, SECRETS


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    """One event loop for a whole property test: each example runs a coroutine on it, so a
    store opened once serves every example."""
    with asyncio.Runner() as r:
        yield r


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every platform secret set in the environment, with recognisable values."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return dict(SECRETS)


class _Everything(logging.Handler):
    """Keeps every record logged while the hostile suite runs, formatted with tracebacks."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.texts.append(self.format(record))
        except Exception:  # a record that cannot be formatted is still shown
            self.texts.append(repr(record.__dict__))


@pytest.fixture(scope="package", autouse=True)
def no_secret_in_any_log() -> Iterator[_Everything]:
    """Every log record of the hostile suite, at every level, is grepped for the secrets."""
    handler = _Everything()
    root, ours = logging.getLogger(), logging.getLogger("evbot")
    levels = root.level, ours.level
    root.addHandler(handler)
    # libraries at INFO (aiosqlite's DEBUG logs every statement, slowing every test); ours at all
    root.setLevel(logging.INFO)
    ours.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        ours.setLevel(levels[1])
    leaks = [(s, t) for t in handler.texts for s in SECRET_VALUES if s in t]
    assert not leaks, f"secrets in logs: {leaks[:3]}"
