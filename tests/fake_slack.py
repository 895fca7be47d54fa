"""A fake Slack on 127.0.0.1: the Web API methods the bot uses, response URLs, file upload URLs
and a Socket Mode websocket, for real slack-bolt / slack_sdk code to talk to.

Web API (`POST /api/<method>`; parameters from the query, a form or JSON, as slack_sdk sends
them): auth.test, chat.postMessage, chat.update (the bot's own messages), conversations.history
(metadata only with include_all_metadata; thread replies are not in it, as in Slack),
conversations.replies (a thread: its parent, then its replies), users.info,
files.getUploadURLExternal (+ the upload URL it hands out; it keeps the file name and alt text),
files.completeUploadExternal (shares the files: into a thread with `thread_ts`, as a reply
carrying them in `files`, the way Slack shows an upload), apps.connections.open (+ the websocket
it points at) and oauth.v2.access. A bot token `xoxb-<team>-...` belongs to workspace `<team>`
(`xoxb-anything` else to T0001); `oauth.v2.access` with code `<team>-...` installs workspace
`<team>`.

Response URLs are `/respond/<n>` (`fake.response_url()`); like Slack's they take at most 5 uses.

Faults, per method and optionally per channel:

    fake.fail("chat.postMessage", "channel_not_found", channel="C2")   # until cleared
    fake.fail("chat.postMessage", "ratelimited", times=2, retry_after=1)  # HTTP 429
    fake.fail("chat.postMessage", "drop", times=1)  # posted, but the connection drops
    fake.clear()
    fake.slow["files.completeUploadExternal"] = 0.2  # done, then answered 0.2 s later

As its own process (the crash test): `python tests/fake_slack.py --port 0 --state state.json`
prints `listening on <port>`, serves `GET /_stats` and `GET /_charts` (the files in each
announcement's thread), and writes its state (every posted message with its delivery key, and
the files in its thread) to `--state` every half second and when stopped;
`--slow METHOD=SECONDS` answers a method late (after doing it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

DEFAULT_TEAM = "T0001"


@dataclass
class Posted:
    """One message as the fake holds it."""

    channel: str
    team: str
    ts: str
    text: str
    blocks: Any
    metadata: Any
    thread_ts: str | None = None
    at: float = 0.0
    edits: list[str] = field(default_factory=list)  # the texts it had before each chat.update
    files: list[dict[str, Any]] = field(default_factory=list)  # an upload's share: its files

    @property
    def key(self) -> str | None:
        if isinstance(self.metadata, dict):
            payload = self.metadata.get("event_payload") or {}
            found = payload.get("delivery")
            return str(found) if found is not None else None
        return None


@dataclass
class Fault:
    error: str
    channel: str | None = None
    times: int | None = None  # None: until cleared
    retry_after: int = 1


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str
    at: float
    status: int = 200
    error: str | None = None
    user_agent: str = ""


@dataclass
class FakeSlack:
    """The fake's state and its aiohttp application."""

    admins: set[str] = field(default_factory=set)  # user ids users.info calls admins
    owners: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    messages: list[Posted] = field(default_factory=list)
    responses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    upload_urls: dict[str, dict[str, Any]] = field(default_factory=dict)  # file id -> its ask
    completed: list[dict[str, Any]] = field(default_factory=list)
    shares: list[Posted] = field(default_factory=list)  # messages that share uploaded files
    slow: dict[str, float] = field(default_factory=dict)  # method -> seconds before answering
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    installed: dict[str, str] = field(default_factory=dict)  # team -> bot token from OAuth
    port: int = 0

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._ts = itertools.count(1)
        self._response_uses: Counter[str] = Counter()
        self.changed = asyncio.Condition()
        self.sm_sockets: list[web.WebSocketResponse] = []
        self.sm_acks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sm_connected = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_route("*", "/api/{method}", self._api)  # users.info is a GET
        self.app.router.add_post("/upload/{file_id}", self._upload)
        self.app.router.add_post("/respond/{n}", self._respond)
        self.app.router.add_get("/socket", self._socket)
        self.app.router.add_get("/_stats", self._stats)
        self.app.router.add_get("/_charts", self._charts)
        self._runner: web.AppRunner | None = None

    # -- life -------------------------------------------------------------------------------

    async def start(self, port: int = 0) -> FakeSlack:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        for ws in list(self.sm_sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self) -> str:
        return f"{self.base}/respond/{next(self._ids)}"

    # -- knobs and views --------------------------------------------------------------------

    def fail(
        self,
        method: str,
        error: str,
        *,
        channel: str | None = None,
        times: int | None = None,
        retry_after: int = 1,
    ) -> None:
        """Answer `method` with `error` (`ratelimited`: HTTP 429 with Retry-After)."""
        self.faults.setdefault(method, []).append(Fault(error, channel, times, retry_after))

    def clear(self) -> None:
        self.faults.clear()

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def in_channel(self, channel: str) -> list[Posted]:
        return [m for m in self.messages if m.channel == channel]

    def thread(self, channel: str, ts: str) -> list[Posted]:
        """The replies in the thread of message `ts` (messages and file shares), oldest first."""
        replies = [
            m
            for m in self.messages + self.shares
            if m.channel == channel and m.thread_ts == ts and m.ts != ts
        ]
        return sorted(replies, key=lambda m: float(m.ts))

    def files_in_thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Every file shared in the thread of message `ts`."""
        return [f for m in self.thread(channel, ts) for f in m.files]

    async def wait_for(self, predicate: Any, seconds: float = 10.0) -> None:
        """Until `predicate()` holds (re-checked whenever the fake's state changes)."""
        async with asyncio.timeout(seconds), self.changed:
            await self.changed.wait_for(predicate)

    async def _changed(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def state(self) -> dict[str, Any]:
        keys: dict[str, list[str]] = {}
        for m in self.messages:
            if m.key is not None:
                keys.setdefault(m.key, []).append(m.ts)
        # every thread's replies in one pass (as `thread` finds them): the state is read every
        # few milliseconds during a crash test, and a scan of every message per message made
        # this fake a core's worth of work beside the bot under test at 1,000 messages
        replies: dict[tuple[str, str], list[Posted]] = {}
        for m in self.messages + self.shares:
            if m.thread_ts is not None and m.ts != m.thread_ts:
                replies.setdefault((m.channel, m.thread_ts), []).append(m)
        charts = {
            m.key: [
                f
                for r in sorted(replies.get((m.channel, m.ts), []), key=lambda r: float(r.ts))
                for f in r.files
            ]
            for m in self.messages
            if m.key is not None
        }
        return {
            "requests": len(self.calls_to("chat.postMessage")),
            "messages": len(self.messages),
            "duplicates": sum(len(v) - 1 for v in keys.values()),
            "history_calls": len(self.calls_to("conversations.history")),
            "replies_calls": len(self.calls_to("conversations.replies")),
            "shared_files": sum(len(m.files) for m in self.shares),
            "keys": keys,
            "charts": charts,
        }

    # -- Socket Mode ------------------------------------------------------------------------

    async def send_envelope(self, type_: str, payload: dict[str, Any]) -> str:
        """Push an envelope (e.g. `slash_commands`) to the connected Socket Mode client."""
        eid = f"env-{next(self._ids)}"
        await self.sm_sockets[-1].send_json(
            {
                "envelope_id": eid,
                "type": type_,
                "payload": payload,
                "accepts_response_payload": type_ != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return eid

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sm_sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake", "approximate_connection_time": 3600},
                "connection_info": {"app_id": "A0001"},
            }
        )
        self.sm_connected.set()
        async for msg in ws:
            with contextlib.suppress(ValueError, TypeError):
                await self.sm_acks.put(json.loads(msg.data))
        self.sm_sockets.remove(ws)
        return ws

    # -- HTTP handlers ----------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            params.update({k: v for k, v in (await request.post()).items()})
        return params

    def _fault(self, method: str, channel: str | None) -> Fault | None:
        for fault in self.faults.get(method, []):
            if fault.channel is not None and fault.channel != channel:
                continue
            if fault.times is not None:
                if fault.times <= 0:
                    continue
                fault.times -= 1
            return fault
        return None

    def _team(self, token: str) -> str | None:
        if not token.startswith("xoxb-"):
            return None
        for team, known in self.installed.items():
            if token == known:
                return team
        part = token.split("-")[1] if token.count("-") >= 2 else ""
        return part if part.startswith("T") else DEFAULT_TEAM

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        call = Call(
            method, params, token, time.time(), user_agent=request.headers.get("User-Agent", "")
        )
        self.calls.append(call)
        try:
            fault = self._fault(method, params.get("channel") or params.get("channel_id"))
            if fault is not None and fault.error == "drop":
                # done, but the answer is lost: the connection closes before it is sent
                await self._answer(method, params, token, request)
                assert request.transport is not None
                request.transport.close()
                return web.Response(status=204)
            if fault is not None:
                call.error = fault.error
                if fault.error == "ratelimited":
                    call.status = 429
                    return web.json_response(
                        {"ok": False, "error": "ratelimited"},
                        status=429,
                        headers={"Retry-After": str(fault.retry_after)},
                    )
                return web.json_response({"ok": False, "error": fault.error})
            answer = await self._answer(method, params, token, request)
            call.error = None if answer.get("ok") else answer.get("error")
            if self.slow.get(method):
                await asyncio.sleep(self.slow[method])  # done; the answer comes late
            return web.json_response(answer)
        finally:
            await self._changed()

    async def _answer(
        self, method: str, p: dict[str, Any], token: str, request: web.Request
    ) -> dict[str, Any]:
        if method == "apps.connections.open":
            if not token.startswith("xapp-"):
                return {"ok": False, "error": "invalid_auth"}
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket?ticket=fake"}
        if method == "oauth.v2.access":
            code = str(p.get("code", ""))
            team = code.split("-")[0] if code.startswith("T") else "T0002"
            bot_token = f"xoxb-{team}-{code}"
            self.installed[team] = bot_token
            return {
                "ok": True,
                "access_token": bot_token,
                "token_type": "bot",
                "scope": "commands,chat:write,files:write,users:read",
                "bot_user_id": f"UB{team}",
                "app_id": "A0001",
                "team": {"id": team, "name": f"Workspace {team}"},
                "enterprise": None,
                "is_enterprise_install": False,
                "authed_user": {"id": "U0009", "scope": "", "access_token": None},
            }
        team = self._team(token)
        if team is None:
            return {"ok": False, "error": "not_authed"}
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://fake.slack.test/",
                "team": f"Workspace {team}",
                "user": "evbot",
                "team_id": team,
                "user_id": f"UB{team}",
                "bot_id": f"B{team}",
                "is_enterprise_install": False,
            }
        if method == "chat.postMessage":
            channel = p.get("channel")
            if not channel:
                return {"ok": False, "error": "channel_not_found"}
            blocks = p.get("blocks")
            if isinstance(blocks, str):
                blocks = json.loads(blocks)
            metadata = p.get("metadata")
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            ts = f"{1_700_000_000 + next(self._ts)}.000100"
            self.messages.append(
                Posted(
                    str(channel),
                    team,
                    ts,
                    str(p.get("text", "")),
                    blocks,
                    metadata,
                    p.get("thread_ts"),
                    time.time(),
                )
            )
            return {"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts}}
        if method == "chat.update":
            channel = str(p.get("channel") or "")
            ts = str(p.get("ts") or "")
            if not channel:
                return {"ok": False, "error": "channel_not_found"}
            blocks = p.get("blocks")
            if isinstance(blocks, str):
                blocks = json.loads(blocks)
            if not p.get("text") and not blocks:
                return {"ok": False, "error": "no_text"}
            found = next((m for m in self.in_channel(channel) if m.ts == ts), None)
            if found is None:
                return {"ok": False, "error": "message_not_found"}
            if found.team != team:
                return {"ok": False, "error": "cant_update_message"}
            found.edits.append(found.text)
            found.text = str(p.get("text", ""))
            found.blocks = blocks
            return {"ok": True, "channel": channel, "ts": ts, "text": found.text}
        if method == "conversations.history":
            channel = str(p.get("channel", ""))
            with_metadata = str(p.get("include_all_metadata", "")).lower() in ("1", "true")
            limit = int(p.get("limit") or 100)
            # a thread's replies are not in the channel's history (unless broadcast)
            newest_first = [
                m for m in reversed(self.in_channel(channel)) if m.thread_ts in (None, m.ts)
            ]
            start = int(p.get("cursor") or 0)
            page = newest_first[start : start + limit]
            out = []
            for m in page:
                item: dict[str, Any] = {"type": "message", "ts": m.ts, "text": m.text}
                if with_metadata and m.metadata is not None:
                    item["metadata"] = m.metadata
                out.append(item)
            more = start + limit < len(newest_first)
            return {
                "ok": True,
                "messages": out,
                "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""},
            }
        if method == "conversations.replies":
            channel = str(p.get("channel", ""))
            ts = str(p.get("ts", ""))
            parent = next((m for m in self.in_channel(channel) if m.ts == ts), None)
            if parent is None:
                return {"ok": False, "error": "thread_not_found"}
            limit = int(p.get("limit") or 100)
            thread = [parent, *self.thread(channel, ts)]
            start = int(p.get("cursor") or 0)
            page = thread[start : start + limit]
            out = []
            for m in page:
                item = {"type": "message", "ts": m.ts, "thread_ts": ts, "text": m.text}
                if m.files:
                    item["files"] = m.files
                out.append(item)
            more = start + limit < len(thread)
            return {
                "ok": True,
                "messages": out,
                "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""},
            }
        if method == "users.info":
            user = str(p.get("user", ""))
            return {
                "ok": True,
                "user": {
                    "id": user,
                    "team_id": team,
                    "is_admin": user in self.admins,
                    "is_owner": user in self.owners,
                },
            }
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ids):06d}"
            self.upload_urls[file_id] = {
                "name": str(p.get("filename") or ""),
                "alt_txt": p.get("alt_txt"),
                "length": int(p.get("length") or 0),
            }
            return {
                "ok": True,
                "file_id": file_id,
                "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}",
            }
        if method == "files.completeUploadExternal":
            files = json.loads(p["files"]) if isinstance(p.get("files"), str) else p["files"]
            if any(f["id"] not in self.uploads for f in files):
                return {"ok": False, "error": "file_not_found"}  # asked for, never uploaded
            self.completed.append({**p, "files": files})
            channel = str(p.get("channel_id") or "")
            if channel:
                thread_ts = p.get("thread_ts")
                if thread_ts and not any(m.ts == thread_ts for m in self.in_channel(channel)):
                    return {"ok": False, "error": "invalid_thread_ts"}
                shared = [
                    {
                        "id": f["id"],
                        "name": self.upload_urls.get(f["id"], {}).get("name", ""),
                        "title": f.get("title"),
                        "alt_txt": self.upload_urls.get(f["id"], {}).get("alt_txt"),
                    }
                    for f in files
                ]
                self.shares.append(
                    Posted(
                        channel,
                        team,
                        f"{1_700_000_000 + next(self._ts)}.000100",
                        str(p.get("initial_comment") or ""),
                        None,
                        None,
                        str(thread_ts) if thread_ts else None,
                        time.time(),
                        files=shared,
                    )
                )
            return {
                "ok": True,
                "files": [
                    {"id": f["id"], "title": f.get("title"), "size": len(self.uploads[f["id"]])}
                    for f in files
                ],
            }
        return {"ok": False, "error": "unknown_method"}

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        await self._changed()
        return web.Response(text="OK")

    async def _respond(self, request: web.Request) -> web.Response:
        self._response_uses[request.path] += 1
        if self._response_uses[request.path] > 5:  # Slack: 5 uses within 30 minutes
            return web.Response(status=404, text="used_url")
        self.responses.append((request.path, await request.json()))
        await self._changed()
        return web.Response(text="ok")

    async def _charts(self, request: web.Request) -> web.Response:
        return web.json_response(self.state()["charts"])

    async def _stats(self, request: web.Request) -> web.Response:
        stats = self.state()
        stats.pop("keys")
        stats.pop("charts")
        return web.json_response(stats)


def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends with a request: v0 HMAC-SHA256 over `v0:<timestamp>:<body>`."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def _serve(port: int, state: Path, slow: dict[str, float]) -> None:
    fake = await FakeSlack(slow=slow).start(port)
    print(f"listening on {fake.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def save() -> None:
        tmp = state.with_suffix(".tmp")
        tmp.write_text(json.dumps(fake.state()), encoding="utf-8")
        tmp.replace(state)

    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
        save()
    await fake.stop()
    save()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a fake Slack Web API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument(
        "--slow", action="append", default=[], metavar="METHOD=SECONDS", help="answer late"
    )
    args = parser.parse_args(argv)
    slow = {m: float(v) for m, _, v in (item.partition("=") for item in args.slow)}
    asyncio.run(_serve(args.port, args.state, slow))
    return 0


if __name__ == "__main__":
    sys.exit(main())
