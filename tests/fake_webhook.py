"""A fake webhook receiver on 127.0.0.1 for the outbox's tests and benchmarks.

It speaks the contract in `adapters/webhook.py`: JSON POSTs to `/hook/<name>`, deduplicated by
`Idempotency-Key` (a second POST with a known key answers 200 with the first id and counts a
duplicate, never a second message). It records every request (headers and JSON) for assertions,
and can be told to misbehave, per channel or for everyone:

    fake.fail(429, "c1", retry_after="1")          # rate limited, Retry-After 1 s
    fake.fail(429, retry_after="1", global_=True)  # the whole bot is rate limited
    fake.fail(500, "c1", times=2)                  # two server errors, then fine
    fake.fail("slow", "c1", delay=1.0, times=1)    # accepted, but the answer comes late
    fake.fail(403, "c1")                           # also 401, 404, 410, 400, 413, 422 ...
    fake.clear("c1")

With `rate` set it enforces a token bucket (`rate` a second, burst `burst`, default `rate`):
a request over the limit gets a global 429 with Retry-After, and is counted in `rate_limited`.

In a test: `async with FakeWebhook() as fake: url = fake.url("c1")`. As its own process (the
crash test and the fan-out bench):

    python tests/fake_webhook.py --port 0 --state state.json [--rate 500]

prints `listening on <port>` once it accepts requests, serves `GET /_stats` (counts) and
`GET /_state` (counts and every accepted key), and writes the state to `--state` every half
second and when it stops (SIGTERM or SIGINT).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import math
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

SIGNATURE_PREFIX = "sha256="


@dataclass
class Received:
    """One request as the fake saw it."""

    at: float
    path: str
    key: str | None
    headers: dict[str, str]
    body: bytes
    json: Any
    status: int = 0
    duplicate: bool = False
    message_id: str | None = None
    signature_ok: bool | None = None  # None: the fake has no secret to check with

    @property
    def name(self) -> str:
        return self.path.removeprefix("/hook/")


@dataclass
class Fault:
    """What to answer instead of accepting: a status code, or "slow" (accept, answer late)."""

    kind: int | str
    times: int | None = None  # None: until cleared
    retry_after: str | None = None
    global_: bool = False
    delay: float = 0.0
    body: dict[str, Any] = field(default_factory=dict)


class Bucket:
    """The fake platform's limit: `rate` a second with a burst of `burst`."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> float:
        """0 when a token was taken, else the seconds until one is free."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def _path(name_or_path: str) -> str:
    return name_or_path if name_or_path.startswith("/") else f"/hook/{name_or_path}"


class FakeWebhook:
    """The receiver; start it with `async with` (or `start()` / `stop()`)."""

    def __init__(
        self,
        *,
        secret: str | None = None,
        rate: float | None = None,
        burst: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.secret = secret
        self.host = host
        self.port = port
        self.bucket = Bucket(rate, burst or rate) if rate else None
        self.requests: list[Received] = []
        self.messages: dict[str, Received] = {}  # the first accepted request of each key
        self.duplicate_keys: Counter[str] = Counter()
        self.corrected: dict[str, list[str]] = {}  # original key -> the keys correcting it
        self.statuses: Counter[int] = Counter()
        self.rate_limited = 0
        self.faults: dict[str | None, Fault] = {}  # by path; None: every path
        self._ids = 0
        self._runner: web.AppRunner | None = None
        self.first_at: float | None = None
        self.last_at: float | None = None

    # -- control --------------------------------------------------------------------------

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self.port}/hook/{name}"

    def fail(
        self,
        kind: int | str,
        name: str | None = None,
        *,
        times: int | None = None,
        retry_after: str | None = None,
        global_: bool = False,
        delay: float = 0.0,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer requests to `name` (a channel name or path; None: all) with `kind`."""
        self.faults[_path(name) if name else None] = Fault(
            kind, times, retry_after, global_, delay, dict(body or {})
        )

    def clear(self, name: str | None = None) -> None:
        """Stop failing `name` (None: stop every fault)."""
        if name is None:
            self.faults.clear()
        else:
            self.faults.pop(_path(name), None)

    @property
    def duplicates(self) -> int:
        return sum(self.duplicate_keys.values())

    def received(self, name: str) -> list[Received]:
        """Every request to one channel, in arrival order."""
        path = _path(name)
        return [r for r in self.requests if r.path == path]

    def accepted(self, name: str | None = None) -> list[Received]:
        """The messages (first of each key), of one channel or all, in arrival order."""
        found = sorted(self.messages.values(), key=lambda r: r.at)
        return found if name is None else [r for r in found if r.path == _path(name)]

    def stats(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "requests": len(self.requests),
            "messages": len(self.messages),
            "duplicates": self.duplicates,
            "rate_limited": self.rate_limited,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "first_at": self.first_at,
            "last_at": self.last_at,
        }

    def state(self) -> dict[str, Any]:
        return self.stats() | {
            "keys": {k: {"id": r.message_id, "path": r.path} for k, r in self.messages.items()},
            "duplicate_keys": dict(self.duplicate_keys),
        }

    # -- serving --------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook/{name}", self._hook)
        app.router.add_get("/_stats", self._stats)
        app.router.add_get("/_state", self._state)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeWebhook:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    def _fault_for(self, path: str) -> Fault | None:
        for where in (path, None):
            fault = self.faults.get(where)
            if fault is None:
                continue
            if fault.times is not None:
                if fault.times <= 0:
                    continue
                fault.times -= 1
            return fault
        return None

    def _check(self, request: web.Request, body: bytes) -> bool | None:
        if self.secret is None:
            return None
        stamp = request.headers.get("X-Evbot-Timestamp", "")
        given = request.headers.get("X-Evbot-Signature", "")
        try:
            fresh = abs(time.time() - float(stamp)) <= 300
        except ValueError:
            return False
        mac = hmac.new(self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        return fresh and hmac.compare_digest(SIGNATURE_PREFIX + mac.hexdigest(), given)

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        seen = Received(
            at=time.time(),
            path=request.path,
            key=request.headers.get("Idempotency-Key"),
            headers=dict(request.headers),
            body=body,
            json=data,
            signature_ok=self._check(request, body),
        )
        self.requests.append(seen)
        response, delay = self._answer(seen)
        seen.status = response.status
        self.statuses[response.status] += 1
        if delay > 0:  # "slow": the message is in, but the answer comes late
            await asyncio.sleep(delay)
        return response

    def _answer(self, seen: Received) -> tuple[web.Response, float]:
        if self.bucket is not None:
            wait = self.bucket.take()
            if wait > 0:
                self.rate_limited += 1
                return web.json_response(
                    {"message": "You are being rate limited.", "retry_after": wait, "global": True},
                    status=429,
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                ), 0.0
        fault = self._fault_for(seen.path)
        if fault is not None and fault.kind != "slow":
            status = int(fault.kind)
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            body = {"message": f"fake {status}"} | fault.body
            if status == 429:
                body |= {"global": fault.global_}
            return web.json_response(body, status=status, headers=headers), 0.0
        if seen.key is None or seen.signature_ok is False or not isinstance(seen.json, dict):
            return web.json_response({"message": "bad request"}, status=400), 0.0
        corrects = seen.json.get("corrects", [])
        if not isinstance(corrects, list) or any(k not in self.messages for k in corrects):
            # a correction must name deliveries this receiver has
            return web.json_response({"message": "corrects an unknown delivery"}, status=400), 0.0
        first = self.messages.get(seen.key)
        if first is not None:
            seen.duplicate = True
            seen.message_id = first.message_id
            self.duplicate_keys[seen.key] += 1
        else:
            self._ids += 1
            seen.message_id = f"m{self._ids}"
            self.messages[seen.key] = seen
            for original in corrects:
                self.corrected.setdefault(original, []).append(seen.key)
            self.first_at = self.first_at or seen.at
            self.last_at = seen.at
        delay = fault.delay if fault is not None else 0.0
        return web.json_response({"id": seen.message_id}, status=200), delay


# -- as its own process ---------------------------------------------------------------------


def _write(path: Path, fake: FakeWebhook) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(fake.state()), encoding="utf-8")
    tmp.replace(path)


async def serve(args: argparse.Namespace) -> None:
    fake = FakeWebhook(rate=args.rate, burst=args.burst, port=args.port, secret=args.secret)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await fake.start()
    print(f"listening on {fake.port}", flush=True)
    state = Path(args.state) if args.state else None
    written = -1
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            if state is not None and len(fake.requests) != written:
                written = len(fake.requests)
                _write(state, fake)
    finally:
        await fake.stop()
        if state is not None:
            _write(state, fake)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--state", help="write what was received to this JSON file")
    parser.add_argument("--rate", type=float, help="enforce this many requests a second")
    parser.add_argument("--burst", type=float, help="the limit's burst (default: --rate)")
    parser.add_argument("--secret", help="check X-Evbot-Signature with this secret")
    asyncio.run(serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
