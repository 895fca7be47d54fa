"""Bulk work on many small objects: run it with the cyclic garbage collector paused."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_lock = threading.Lock()
_pausers = 0
# once a process holds a big settled model, a full collection runs after this many collections
# of the middle generation, not Python's 10 (`settle_long_lived`)
FULL_COLLECTION_AFTER = 100


def without_gc(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call `fn` with the cyclic collector paused.

    Parsing a million rows allocates millions of acyclic tuples and records; each allocation
    burst triggers a collection that walks every live container, which made a large import about
    a third slower. The objects hold no cycles, so pausing loses nothing; reference counting
    still frees them. Pauses from several threads nest, and the collector resumes with the last.
    """
    with gc_paused():
        return fn(*args, **kwargs)


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic collector paused for a block, which may span awaits (a poll of thousands of
    series, say, whose rows are decoded on the event loop's side as well as in threads). Other
    tasks run meanwhile with it paused too: for a second, cycles wait to be collected."""
    global _pausers
    with _lock:
        _pausers += 1
        gc.disable()
    try:
        yield
    finally:
        with _lock:
            _pausers -= 1
            if _pausers == 0:
                # What the block allocated and kept would be walked by the first collection
                # after the pause (0.19 s, on the event loop, after a poll of 11,000 series).
                # It is the long-lived kind: move it straight to the oldest generation, as
                # collections would in the end. freeze() also zeroes the young generation's
                # count; unfreeze() hands everything back to the oldest generation.
                gc.freeze()
                gc.unfreeze()
                gc.enable()


def settle_long_lived() -> None:
    """Exempt what exists now (a big loaded model, mostly) from garbage collection passes, and
    let full collections run ten times less often than Python's default.

    A big model holds millions of objects for the life of the process; left in the collected
    generations, every full collection walks them all (a second or more on a busy machine, in
    the middle of some command). Their memory is still freed by reference counting when a
    reload drops them; only garbage cycles among what is frozen would stay.

    The answers the commands keep from a big model live as long as its figures and are many
    (hundreds of thousands of small objects at ten thousand models), and they make no garbage
    cycles while they are kept. With Python's thresholds a full collection walked them all each
    time a quarter more were kept (0.1-0.2 s on the event loop, some 8 us a command at 200 in
    flight).
    """
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)
