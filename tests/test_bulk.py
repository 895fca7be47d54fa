"""Pausing the cyclic garbage collector for bulk work: pauses nest, across threads and awaits."""

from __future__ import annotations

import asyncio
import gc

from bot.bulk import gc_paused, without_gc


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
