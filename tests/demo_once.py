"""One in-process demo at full speed (speed 0), shared by the test modules that read what it
posted: a demo draws a few dozen charts, and each run costs seconds."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from pathlib import Path

from bot.cli.demo import run_demo
from bot.domain.channels import Channel, Limits
from bot.domain.messages import Message
from bot.domain.settings import default_config


class CollectingAdapter:
    """A chat platform that keeps what it is sent."""

    platform = "console"
    limits = Limits(global_per_second=1000.0, channel_per_second=1000.0)

    def __init__(self) -> None:
        self.posts: list[tuple[Channel, Message, str]] = []

    async def post(self, channel: Channel, message: Message, key: str) -> str:
        self.posts.append((channel, message, key))
        return f"fake-{len(self.posts)}"

    async def find_posted(
        self, channel: Channel, key: str, since: float | None = None
    ) -> str | None:
        return next((f"fake-{i}" for i, p in enumerate(self.posts, 1) if p[2] == key), None)


@dataclass(frozen=True)
class DemoRun:
    """What one demo posted (channel, message, delivery key), printed, and stored."""

    posts: tuple[tuple[Channel, Message, str], ...]
    out: str
    db: Path


def run_once(folder: Path) -> DemoRun:
    db = folder / "demo.sqlite3"
    adapter = CollectingAdapter()
    out = io.StringIO()
    status = asyncio.run(run_demo(default_config(), out, speed=0, db=str(db), adapter=adapter))
    assert status == 0, out.getvalue()
    return DemoRun(tuple(adapter.posts), out.getvalue(), db)
