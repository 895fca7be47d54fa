"""A fake publisher of figures on 127.0.0.1 (aiohttp) for the URL source tests: each path answers
with a handler the test sets (a CSV with an ETag, a status, a sequence of answers), and every
request is kept; `configure` writes a configuration with one URL source `news` pointing at it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.config.load import load_config
from bot.domain.settings import Config

HEADER = "period,region,make,model,units\n"
MONTHS = [f"2020-{m:02d},USA,Nissan,Leaf,15000\n" for m in range(1, 7)]
JULY = "2020-07,USA,Nissan,Leaf,15000\n"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Site:
    """The publisher: each path answers with the handler set for it; every request is kept."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[web.Request] = []
        self.server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        handler = self.routes.get(request.path)
        if handler is None:
            raise web.HTTPNotFound()
        return await handler(request)

    def url(self, path: str) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}{path}"

    def csv(self, path: str, text: str, etag: str | None = None, **headers: str) -> None:
        """Serve `text` as CSV, with an ETag honoured by a 304 when given."""

        async def answer(request: web.Request) -> web.StreamResponse:
            if etag is not None and request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            extra = {"ETag": etag} if etag else {}
            return web.Response(
                body=text.encode(), content_type="text/csv", headers={**extra, **headers}
            )

        self.routes[path] = answer

    def sequence(self, path: str, *answers: Handler) -> None:
        """Answer each request with the next handler (the last one from then on)."""
        queue = list(answers)

        async def answer(request: web.Request) -> web.StreamResponse:
            handler = queue.pop(0) if len(queue) > 1 else queue[0]
            return await handler(request)

        self.routes[path] = answer


def status(code: int, **headers: str) -> Handler:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(status=code, text="no", headers=headers)

    return answer


def body(text: str, content_type: str = "text/csv") -> Handler:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(body=text.encode(), content_type=content_type)

    return answer


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[Site]:
    """A publisher listening on 127.0.0.1 until the iterator is closed."""
    s = Site()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", s.handle)
    s.server = TestServer(app, host="127.0.0.1")
    await s.server.start_server()
    try:
        yield s
    finally:
        await s.server.close()


def configure(tmp_path: Path, url: str, **keys: Any) -> Config:
    """A configuration with one URL source `news` (canonical CSV), reachable on 127.0.0.1."""
    settings = {
        "url": url,
        "format": "canonical",
        "allow_http": True,
        "allow_private": True,
        "retries": 0,
        "backoff": 0.0,
        **keys,
    }
    lines = ["[sources.news]"]
    for key, value in settings.items():
        lines.append(f"{key} = {toml_value(value)}")
    path = tmp_path / "evbot.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_config(path)


def toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


class Sleeps:
    """The fetcher's waits, recorded rather than slept (no test waits for a back-off)."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
