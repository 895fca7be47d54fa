"""Parsing a large file in a process of its own, streaming its chunks back over a pipe.

In a thread, the parser and the store's SQLite calls take turns at Python's one lock (every SQLite
statement lets go of it and must wait to get it back), so a million rows took as long as parsing
and writing one after the other. A process parses on the other core meanwhile. Frames on the pipe
are a 4-byte length and a pickle of one message:

    ("chunk", StagedChunk) | ("restart", None) | ("progress", bytes read)
    ("done", Parsed) | ("failed", [problems]) | ("crash", traceback text)

Only this package's own child writes the pipe the parent unpickles.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import sys
import traceback
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from bot.domain.bulk import without_gc
from bot.domain.records import ImportFailed
from bot.domain.settings import SourceConfig
from bot.domain.staging import ChunkSink, StagedChunk
from bot.ingest.lines import Progress
from bot.ingest.parse import parse_file
from bot.ingest.table import Parsed

_LENGTH = 4


@dataclass(frozen=True)
class Job:
    """What the child parses."""

    kind: str
    path: str
    name: str
    configured: SourceConfig | None
    chunk_rows: int
    thousands: str | None = None


def _send(out: BinaryIO, kind: str, payload: Any) -> None:
    data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
    out.write(len(data).to_bytes(_LENGTH, "big"))
    out.write(data)
    out.flush()


def main() -> int:
    """The child: read a pickled `Job` from stdin, parse, write frames to stdout."""
    job: Job = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not land in the frames
    sink = ChunkSink(
        lambda chunk: _send(out, "chunk" if chunk else "restart", chunk), job.chunk_rows
    )
    try:
        parsed = without_gc(
            parse_file,
            job.kind,
            job.path,
            job.name,
            job.configured,
            lambda done: _send(out, "progress", done),
            sink,
            job.thousands,
        )
        sink.flush()
        _send(out, "done", parsed)
    except ImportFailed as exc:
        _send(out, "failed", exc.problems)
    except BrokenPipeError:
        return 1  # the parent stopped reading: nobody is left to tell
    except BaseException:
        _send(out, "crash", traceback.format_exc())
        return 1
    return 0


class ProcessFeed:
    """The parent's side: start the child, and read its chunks as an async iterator. A task reads
    the pipe ahead of the store, a few chunks at most, so that the child is not held up by the
    pipe's small buffer while the store writes."""

    def __init__(self, job: Job, progress: Progress | None) -> None:
        self.job = job
        self.progress = progress
        self.parsed: Parsed | None = None
        self.sent = 0
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def chunks(self) -> AsyncIterator[StagedChunk | None]:
        """Every chunk and restart (None) the child sends; then `parsed` holds the result."""
        self._process = process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.ingest.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdin is not None
        process.stdin.write(pickle.dumps(self.job))
        await process.stdin.drain()
        process.stdin.close()
        frames: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize=2)
        self._reader = asyncio.create_task(self._read(process, frames))
        while True:
            kind, payload = await frames.get()
            if kind == "chunk":
                self.sent += len(payload)
                yield payload
            elif kind == "restart":
                self.sent = 0
                yield None
            elif kind == "done":
                self.parsed = payload
                return
            elif kind == "failed":
                raise ImportFailed(payload)
            else:
                raise RuntimeError(f"the parser process failed:\n{payload}")

    async def _read(
        self, process: asyncio.subprocess.Process, frames: asyncio.Queue[tuple[str, Any]]
    ) -> None:
        assert process.stdout is not None
        while True:
            try:
                length = int.from_bytes(await process.stdout.readexactly(_LENGTH), "big")
                data = await process.stdout.readexactly(length)
            except asyncio.IncompleteReadError:
                await process.wait()
                err = b"" if process.stderr is None else await process.stderr.read()
                detail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
                problem = f"{self.job.path}: the parser process ended early ({detail[0]})"
                await frames.put(("failed", [problem]))
                return
            kind, payload = await asyncio.to_thread(pickle.loads, data)
            if kind == "progress":
                if self.progress is not None:
                    self.progress(payload)
                continue
            await frames.put((kind, payload))
            if kind in ("done", "failed", "crash"):
                await process.wait()
                return

    async def close(self) -> None:
        """Stop the child if it still runs (the store stopped reading), and its reader."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        process = self._process
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()


if __name__ == "__main__":
    sys.exit(main())
