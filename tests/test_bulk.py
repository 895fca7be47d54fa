"""Pausing the cyclic garbage collector for bulk work: pauses nest, across threads and awaits."""

from __future__ import annotations

import asyncio
import gc

from bot.domain.bulk import gc_paused, without_gc


def test_pauses_nest_and_the_collector_resumes_with_the_last() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        assert without_gc(gc.isenabled) is False
        assert not gc.isenabled()  # the inner pause ended; the outer one holds
    assert gc.isenabled()


async def test_a_pause_spans_awaits_and_threads_ending_in_any_order() -> None:
    assert gc.isenabled()
    release = asyncio.Event()

    async def long_pause() -> None:
        with gc_paused():
            await release.wait()

    task = asyncio.create_task(long_pause())
    await asyncio.sleep(0)
    # a thread's pause ends while the task's still holds
    assert await asyncio.to_thread(without_gc, gc.isenabled) is False
    assert not gc.isenabled()
    release.set()
    await task
    assert gc.isenabled()


def test_an_error_inside_still_resumes_the_collector() -> None:
    try:
        with gc_paused():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()


class _Kept:
    """A tracked object, as the records a poll keeps are."""

    def __init__(self, n: int) -> None:
        self.n = n


def test_what_a_pause_kept_goes_to_the_oldest_generation_without_a_collection() -> None:
    # else the first collection after the pause walks all of it (0.19 s after a big poll)
    collections = sum(s["collections"] for s in gc.get_stats())
    with gc_paused():
        kept = [_Kept(i) for i in range(50_000)]
    assert gc.get_count()[0] < 1_000  # the young generation starts afresh
    assert sum(s["collections"] for s in gc.get_stats()) == collections  # none ran
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert all(id(o) in oldest for o in kept[::1000])
