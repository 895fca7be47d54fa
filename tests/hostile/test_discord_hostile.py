"""Hostile interactions through the Discord adapter (real discord.py, the fake Discord gateway
and REST API): a member without Manage Channels tries every subscription path, and what users
type comes back in answers that cannot ping anyone."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import bot.delivery.worker
from bot.commands.context import CommandContext
from bot.delivery.worker import DeliveryWorker
from bot.domain.channels import Channel
from tests.fake_discord import (
    CHANNEL_ID,
    GUILD_ID,
    MANAGE_CHANNELS,
    NO_PERMISSIONS,
    FakeDiscord,
)
from tests.hostile.inert import _guarded
from tests.test_discord import (
    HERE,
    LADDERS,
    adapter,
    answer,
    embed_of,
    fake,
    fan_out,
    fresh_store,
    serving,
    store,
)

__all__ = ["fake", "store"]  # fixtures, used by name (`ctx`, over this store: conftest)

SUBJECT = 3  # the option type of a string


def _opt(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "type": SUBJECT, "value": value}


def _data(got: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    kind, body = got[-1]
    return dict(body["data"]) if kind == "callback" else body


async def test_a_member_without_manage_channels_tries_every_subscription_path(
    fake: FakeDiscord, ctx: CommandContext
) -> None:
    async with serving(fake, ctx, adapter()):
        for subject in ("alliance", "nissan leaf"):
            token = await fake.send_interaction(
                "ev-subscribe", [_opt("subject", subject)], permissions=MANAGE_CHANNELS
            )
            await answer(fake, token)
        before = [(s.id, s.spec) for s in await ctx.store.subscriptions(HERE)]
        assert len(before) == 2
        attempts: list[tuple[str, list[dict[str, Any]]]] = [
            ("ev-subscribe", [_opt("subject", "alliance")]),
            ("ev-subscribe", [_opt("subject", "renault"), _opt("mode", "daily")]),
            ("ev-subscribe", [_opt("subject", "nissan leaf"), _opt("kinds", "milestone")]),
            ("ev-subscribe", [_opt("subject", "all")]),
            ("ev-unsubscribe", [_opt("subject", "alliance")]),
            ("ev-unsubscribe", [_opt("subject", "nissan leaf")]),
            ("ev-unsubscribe", [_opt("subject", "all")]),
            ("ev-unsubscribe", [_opt("subject", "ALL")]),
        ]
        for name, options in attempts:
            token = await fake.send_interaction(name, options, permissions=NO_PERMISSIONS)
            data = _data(await answer(fake, token))
            assert data["flags"] & 64, (name, options)  # ephemeral
            text = embed_of(data)["description"]
            assert "needs permission to manage this channel" in text, (name, options, text)
    assert [(s.id, s.spec) for s in await ctx.store.subscriptions(HERE)] == before


async def test_what_users_type_comes_back_inert(fake: FakeDiscord, ctx: CommandContext) -> None:
    attacks = ["@everyone", "<@&123456>", "@here **bold** [x](https://evil.example)", "<#1>"]
    async with serving(fake, ctx, adapter()):
        for text in attacks:
            for name, options in (
                ("ev-total", [_opt("subject", text)]),
                ("ev-total", [_opt("subject", "nissan leaf"), _opt("region", text)]),
                ("ev-subscribe", [_opt("subject", text)]),
            ):
                token = await fake.send_interaction(name, options, permissions=MANAGE_CHANNELS)
                data = _data(await answer(fake, token))
                mentions = data.get("allowed_mentions")
                assert mentions is not None and mentions.get("parse") == [], data
                embed = embed_of(data)
                for where in ("title", "description"):
                    _guarded(embed.get(where, ""), "@<", f"discord {name} {where}")
                for field in embed.get("fields", []):
                    _guarded(field["name"] + field["value"], "@<", f"discord {name} field")
                _guarded(data.get("content") or "", "@<", f"discord {name} content")
    assert await ctx.store.subscriptions(HERE) == []


async def test_fault_mix_during_a_discord_fan_out_while_interactions_arrive(
    fake: FakeDiscord, ctx: CommandContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Global 429s, 503 bursts, creates answered past the client's timeout, and the gateway
    dropped, while a fan-out to ten channels runs and interactions keep arriving: every
    interaction is answered, every delivery is one message in its channel."""
    monkeypatch.setattr(bot.delivery.worker, "BACKOFF_BASE", 0.05)
    ids = [CHANNEL_ID + i for i in range(10)]
    fake.guilds[GUILD_ID] = ids
    channels = [Channel("discord", str(GUILD_ID), str(c)) for c in ids]
    out = await fresh_store(tmp_path)
    poster = adapter(timeout=0.5, channel_rate_per_second=100.0)
    answered = 0

    async def ask() -> None:
        nonlocal answered
        await fake.wait_identified(1)
        token = await fake.send_interaction("ev-total", [_opt("subject", "nissan leaf")])
        assert "Nissan Leaf" in embed_of(_data(await answer(fake, token)))["title"]
        answered += 1

    try:
        async with serving(fake, ctx, adapter()):
            feed = await fan_out(out, channels, rounds=1)
            worker = DeliveryWorker(out, {"discord": poster}, LADDERS)
            stop = asyncio.Event()
            delivering = asyncio.create_task(worker.run(stop))
            fake.fail(429, None, times=6, retry_after=0.2, global_=True)
            await ask()
            await feed.news()
            worker.wake()
            fake.fail(503, None, times=6)
            await ask()
            fake.fail("slow", None, times=3, delay=1.0)
            await ask()
            assert await fake.drop_gateway() == 1
            await ask()
            await feed.news()
            worker.wake()
            await ask()
            for _ in range(600):
                counts = await out.delivery_counts()
                if counts["pending"] == 0 and counts["inflight"] == 0:
                    break
                await asyncio.sleep(0.1)
            stop.set()
            await delivering
        counts = await out.delivery_counts()
    finally:
        await poster.close()
        await out.close()
    assert answered == 5
    assert counts["posted"] == 3 * len(channels), counts
    for c in ids:
        nonces = [m.body.get("nonce") for m in fake.messages(c)]
        assert len(nonces) == 3 and len(set(nonces)) == 3, (c, nonces)
    # a create answered too late is found again, by the nonce (a retry Discord deduplicates) or
    # by the worker looking before it posts again
    found_again = sum(fake.duplicates.values()) + worker.stats.reconciled
    assert fake.rate_limited >= 1 and found_again >= 1, "the faults did not happen"
