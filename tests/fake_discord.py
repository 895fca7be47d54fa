"""A fake Discord on 127.0.0.1: REST v10 and the gateway websocket, for driving the real discord.py.

It speaks what the bot uses (see ../shared/notes/platform-facts.md, section 2):

- REST under `/api/v10`: `users/@me`, `oauth2/applications/@me`, `gateway(/bot)`, application
  commands bulk overwrite (global and per guild), channels (`GET`), channel messages (create, JSON
  or multipart with `payload_json` + `files[n]`; history with `before`/`after`, as Discord: no
  nonce in it unless `echo_nonce` is on),
  interaction callbacks (`?with_response=1` answered with a JSON body), and the interaction
  webhooks (followups, `@original` edit and delete). Every JSON answer has `Content-Type:
  application/json` exactly, as discord.py requires.
- Message creates honour `nonce` + `enforce_nonce`: a second create with a known nonce from the
  same author in the same channel within `nonce_window` seconds returns the first message (and
  counts a duplicate); later, it creates a new message. Discord says "the past few minutes";
  the fake's default is five, tests set a second or two. Discord shows a nonce only to the
  sender, at once (the create answer, MESSAGE_CREATE), never in the history; `echo_nonce` turns
  on the fake's old, unrealistic echo.
- Message ids are snowflakes of their creation time (ms since Discord's epoch << 22), so
  `history(after=datetime)` works as on Discord.
- Permissions: the bot's own member is in each GUILD_CREATE, and `deny(channel, bits)` adds a
  member overwrite to a channel (e.g. Read Message History), so discord.py's
  `permissions_for(guild.me)` sees it; a history read without Read Message History answers an
  empty list, as Discord does.
- The gateway: HELLO, heartbeats and ACKs, IDENTIFY (with shards: each shard gets the guilds
  whose id maps to it) -> READY + GUILD_CREATE, RESUME -> RESUMED (replaying what was missed)
  or INVALID_SESSION when `resume_ok` is off, and INTERACTION_CREATE (commands and autocomplete)
  pushed by `send_interaction`.
- Interaction rules: an initial response after `ack_deadline` seconds is 10062 Unknown
  interaction; a second one is 40060.
- Fault switches: `fail(429, channel, retry_after=0.3)` (with `Via`, JSON body, optionally
  `global_=True`), `fail(403, channel, code=50013)`, `fail(404, channel, code=10003)`,
  `fail(500, ...)`, `fail("slow", channel, delay=2)` (the message is created, the answer comes
  late), each `times=N` or until `clear()`; `hold()` creates messages but answers no create
  until `release()` (posts accepted, their answers never seen by a bot killed meanwhile);
  `drop_gateway()` cuts every websocket.

Every request is recorded (`requests`, `messages`, `callbacks`), so tests assert on the exact
JSON Discord would get.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = 100000000000000001
BOT_ID = APP_ID
GUILD_ID = 200000000000000001
CHANNEL_ID = 300000000000000001
USER_ID = 400000000000000001
TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.ZmFrZQ.fake-token-for-tests-only"

BOT_USER = {
    "id": str(BOT_ID),
    "username": "evbot",
    "discriminator": "0",
    "global_name": None,
    "avatar": None,
    "bot": True,
    "flags": 0,
    "mfa_enabled": False,
    "verified": True,
}
HUMAN = {
    "id": str(USER_ID),
    "username": "alice",
    "discriminator": "0",
    "global_name": "Alice",
    "avatar": None,
}
ALL_PERMISSIONS = "2251799813685247"
MANAGE_CHANNELS = str(1 << 4)
NO_PERMISSIONS = "0"
READ_MESSAGE_HISTORY = 1 << 16
DISCORD_EPOCH = 1420070400000  # ms
NONCE_WINDOW = 300.0  # seconds a nonce is remembered (Discord: "the past few minutes")


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime())


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None):
    """discord.py parses a body only when Content-Type is exactly `application/json`."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


@dataclass
class Recorded:
    """One REST request as the fake saw it."""

    at: float
    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[dict[str, Any]] = field(default_factory=list)
    status: int = 0
    authorization: str = ""
    user_agent: str = ""


@dataclass
class Fault:
    kind: int | str
    times: int | None = None  # None: until cleared
    retry_after: float = 0.25
    global_: bool = False
    code: int = 0
    delay: float = 0.0


@dataclass
class Posted:
    """A message in a channel."""

    payload: dict[str, Any]
    body: dict[str, Any]
    files: list[dict[str, Any]]
    at: float
    edits: list[dict[str, Any]] = field(default_factory=list)  # each PATCH body, in order


class Shard:
    """One gateway connection."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.request = request
        self.shard: tuple[int, int] = (0, 1)
        self.session: str | None = None
        self.identified = False


class Session:
    """What the fake remembers of a gateway session, for RESUME."""

    def __init__(self, session_id: str, shard: tuple[int, int]) -> None:
        self.id = session_id
        self.shard = shard
        self.seq = 0
        self.sent: list[dict[str, Any]] = []  # dispatches, for replay after a resume
        self.live: Shard | None = None


class FakeDiscord:
    """Start with `async with FakeDiscord() as fake:`; point discord.py at `fake.api_base` and
    `fake.gateway_url`."""

    def __init__(
        self,
        *,
        guilds: dict[int, list[int]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.host = host
        self.port = port
        self.guilds = guilds or {GUILD_ID: [CHANNEL_ID]}
        self.requests: list[Recorded] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}  # scope -> registered commands
        self.command_puts: list[tuple[str, list[dict[str, Any]]]] = []
        self.channel_messages: dict[str, list[Posted]] = {}
        self.duplicates: Counter[str] = Counter()  # nonce -> creates answered with the first
        self.callbacks: asyncio.Queue[tuple[str, str, dict[str, Any]]] = asyncio.Queue()
        self.interactions: dict[str, dict[str, Any]] = {}  # token -> state
        self.faults: dict[str | None, Fault] = {}  # by channel id; None: every channel
        self.rate_limited = 0
        self.ack_deadline = 3.0
        self.resume_ok = True
        # real Discord echoes a nonce only to the sender (the create answer, MESSAGE_CREATE),
        # never in the history; on, the history shows it (unlike Discord)
        self.echo_nonce = False
        self.nonce_window = NONCE_WINDOW
        self.denied: dict[str, int] = {}  # channel id -> permission bits denied to the bot
        self._held: asyncio.Event | None = None  # set: create answers go out
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.shards: list[Shard] = []
        self.sessions: dict[str, Session] = {}
        self.connected = asyncio.Condition()
        self.created = asyncio.Condition()  # notified on every message created
        self._last_id = 0
        self._waiting = 0
        self._runner: web.AppRunner | None = None

    # -- control --------------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    def snowflake(self) -> str:
        """A new id: the time now as Discord encodes it, unique and increasing."""
        now = (int(time.time() * 1000) - DISCORD_EPOCH) << 22
        self._last_id = max(self._last_id + 1, now)
        return str(self._last_id)

    def deny(self, channel: int | str, bits: int) -> None:
        """Deny the bot these permissions in a channel (a member overwrite), from the next
        GUILD_CREATE on."""
        self.denied[str(channel)] = self.denied.get(str(channel), 0) | bits

    def hold(self) -> None:
        """From now on, messages are created but no create is answered until `release()`."""
        if self._held is None or self._held.is_set():
            self._held = asyncio.Event()

    def release(self) -> None:
        """Answer the held creates (and the next ones at once)."""
        if self._held is not None:
            self._held.set()

    def held(self) -> int:
        """Create requests waiting for their answer."""
        return self._waiting

    def fail(
        self,
        kind: int | str,
        channel: int | str | None = None,
        *,
        times: int | None = None,
        retry_after: float = 0.25,
        global_: bool = False,
        code: int = 0,
        delay: float = 0.0,
    ) -> None:
        """Answer message creates in `channel` (None: every channel) with `kind`."""
        key = str(channel) if channel is not None else None
        self.faults[key] = Fault(kind, times, retry_after, global_, code, delay)

    def clear(self, channel: int | str | None = None) -> None:
        if channel is None:
            self.faults.clear()
        else:
            self.faults.pop(str(channel), None)

    async def say(
        self,
        channel: int | str,
        content: str = "",
        *,
        embeds: list[dict[str, Any]] | None = None,
        author: dict[str, Any] = HUMAN,
    ) -> Posted:
        """Someone (a member, by default) posts a message in a channel."""
        body = {"content": content, "embeds": embeds or []}
        payload = self._message(str(channel), body, []) | {"author": author}
        posted = Posted(payload, body, [], time.monotonic())
        async with self.created:
            self.channel_messages.setdefault(str(channel), []).append(posted)
            self.created.notify_all()
        return posted

    def messages(self, channel: int | str | None = None) -> list[Posted]:
        """The messages created (each once), in one channel or all, in order."""
        if channel is not None:
            return list(self.channel_messages.get(str(channel), []))
        return sorted((m for ms in self.channel_messages.values() for m in ms), key=lambda m: m.at)

    def requests_to(self, method: str, suffix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    def shard_of(self, guild_id: int, count: int) -> int:
        return (guild_id >> 22) % count

    async def wait_identified(self, count: int = 1, within: float = 20.0) -> None:
        """Until `count` gateway connections have identified or resumed in all."""
        async with self.connected:
            await asyncio.wait_for(
                self.connected.wait_for(
                    lambda: sum(1 for s in self.shards if s.identified) >= count
                ),
                within,
            )

    async def wait_messages(
        self, count: int = 1, channel: int | str | None = None, within: float = 20.0
    ) -> list[Posted]:
        """Until at least `count` messages were created (in `channel`, or anywhere)."""
        async with self.created:
            await asyncio.wait_for(
                self.created.wait_for(lambda: len(self.messages(channel)) >= count), within
            )
        return self.messages(channel)

    async def drop_gateway(self) -> int:
        """Cut every gateway connection without a close frame; returns how many."""
        dropped = 0
        for shard in list(self.shards):
            transport = shard.request.transport
            if transport is not None:
                transport.abort()
                dropped += 1
            shard.identified = False
        self.shards.clear()
        return dropped

    async def send_interaction(
        self,
        name: str,
        options: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (),
        *,
        itype: int = 2,
        permissions: str = ALL_PERMISSIONS,
        guild_id: int = GUILD_ID,
        channel_id: int = CHANNEL_ID,
        scope: str | None = None,
        locale: str = "en-US",
        guild_locale: str = "en-US",
    ) -> str:
        """Push an INTERACTION_CREATE (2: slash command, 4: autocomplete) on the connection
        of the guild's shard; returns the interaction token."""
        iid, token = self.snowflake(), f"tok-{self.snowflake()}"
        self.interactions[token] = {"created": time.monotonic(), "acked": False, "id": iid}
        scope = scope or (str(guild_id) if str(guild_id) in self.commands else "global")
        command = next(c for c in self.commands[scope] if c["name"] == name)
        data: dict[str, Any] = {
            "id": command["id"],
            "name": name,
            "type": 1,
            "options": list(options),
        }
        if scope != "global":
            data["guild_id"] = str(guild_id)
        channel = self._channel_json(guild_id, channel_id)
        payload = {
            "id": iid,
            "application_id": str(APP_ID),
            "type": itype,
            "token": token,
            "version": 1,
            "data": data,
            "guild_id": str(guild_id),
            "guild_locale": guild_locale,
            "locale": locale,
            "channel_id": str(channel_id),
            "channel": channel,
            "member": {
                "user": HUMAN,
                "roles": [],
                "joined_at": now_iso(),
                "deaf": False,
                "mute": False,
                "flags": 0,
                "pending": False,
                "permissions": permissions,
            },
            "app_permissions": ALL_PERMISSIONS,
            "attachment_size_limit": 8 * 1024 * 1024,
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
        }
        await self.dispatch("INTERACTION_CREATE", payload, guild_id=guild_id)
        return token

    async def next_callback(self, within: float = 20.0) -> tuple[str, str, dict[str, Any]]:
        """The next interaction answer: (kind, token, body); kind is callback, followup,
        edit_original or delete_original."""
        return await asyncio.wait_for(self.callbacks.get(), within)

    # -- serving --------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        r = app.router
        api = "/api/v10"
        r.add_get(f"{api}/users/@me", self._users_me)
        r.add_get(f"{api}/oauth2/applications/@me", self._app_info)
        r.add_get(f"{api}/gateway", self._gateway_info)
        r.add_get(f"{api}/gateway/bot", self._gateway_info)
        r.add_put(f"{api}/applications/{{app}}/commands", self._put_commands)
        r.add_put(f"{api}/applications/{{app}}/guilds/{{guild}}/commands", self._put_commands)
        r.add_post(f"{api}/interactions/{{iid}}/{{token}}/callback", self._callback)
        r.add_post(f"{api}/webhooks/{{app}}/{{token}}", self._followup)
        r.add_patch(f"{api}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._edit_original)
        r.add_delete(f"{api}/webhooks/{{app}}/{{token}}/messages/{{mid}}", self._delete_original)
        r.add_get(f"{api}/channels/{{cid}}", self._get_channel)
        r.add_get(f"{api}/channels/{{cid}}/messages", self._history)
        r.add_post(f"{api}/channels/{{cid}}/messages", self._create_message)
        r.add_patch(f"{api}/channels/{{cid}}/messages/{{mid}}", self._edit_message)
        r.add_get("/gateway", self._gateway)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    async def stop(self) -> None:
        self.release()  # held answers go out (to a bot that may be gone)
        for shard in list(self.shards):
            if not shard.ws.closed:
                await shard.ws.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- helpers --------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> tuple[Any, list[dict[str, Any]]]:
        """JSON, or multipart (payload_json + files[n]) as discord.py sends attachments."""
        if request.content_type.startswith("multipart/"):
            out: Any = {}
            files: list[dict[str, Any]] = []
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":  # type: ignore[union-attr]
                    out = json.loads(await part.text())  # type: ignore[union-attr]
                else:
                    files.append(
                        {
                            "field": part.name,
                            "filename": part.filename,  # type: ignore[union-attr]
                            "data": await part.read(),  # type: ignore[union-attr]
                        }
                    )
            return out, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), []

    async def _record(self, request: web.Request) -> Recorded:
        body, files = await self._body(request)
        seen = Recorded(
            at=time.monotonic(),
            method=request.method,
            path=request.path,
            query=dict(request.query),
            json=body,
            files=files,
            authorization=request.headers.get("Authorization", ""),
            user_agent=request.headers.get("User-Agent", ""),
        )
        self.requests.append(seen)
        return seen

    def _answer(self, seen: Recorded, data: Any, status: int = 200, **headers: str):
        seen.status = status
        return json_response(data, status, headers or None)

    def _unauthorized(self, seen: Recorded) -> web.Response | None:
        if seen.authorization != f"Bot {TOKEN}":
            return self._answer(seen, {"message": "401: Unauthorized", "code": 0}, 401)
        return None

    def _channel_json(self, guild_id: int, channel_id: int | str) -> dict[str, Any]:
        return {
            "id": str(channel_id),
            "type": 0,
            "name": f"channel-{channel_id}",
            "guild_id": str(guild_id),
            "position": 0,
            "permission_overwrites": (
                [{"id": str(BOT_ID), "type": 1, "allow": "0", "deny": str(denied)}]
                if (denied := self.denied.get(str(channel_id), 0))
                else []
            ),
            "nsfw": False,
        }

    def _guild_of(self, channel_id: str) -> int | None:
        for guild, channels in self.guilds.items():
            if int(channel_id) in channels:
                return guild
        return None

    def _message(
        self, channel_id: str, body: dict[str, Any], attachments: list[dict[str, Any]]
    ) -> dict[str, Any]:
        message = {
            "id": self.snowflake(),
            "channel_id": str(channel_id),
            "type": 0,
            "author": BOT_USER,
            "content": body.get("content") or "",
            "embeds": body.get("embeds") or [],
            "attachments": attachments,
            "components": body.get("components") or [],
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "flags": body.get("flags", 0),
        }
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        return message

    def _attachments(self, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "id": self.snowflake(),
                "filename": f["filename"],
                "size": len(f["data"]),
                "url": f"http://{self.host}/attachments/{f['filename']}",
                "proxy_url": f"http://{self.host}/attachments/{f['filename']}",
            }
            for f in files
        ]

    def _rl_headers(self, remaining: int = 4) -> dict[str, str]:
        return {
            "X-RateLimit-Bucket": "fake-bucket",
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset-After": "1.0",
            "X-RateLimit-Reset": str(time.time() + 1),
        }

    def _fault_for(self, channel: str) -> Fault | None:
        for where in (channel, None):
            fault = self.faults.get(where)
            if fault is None:
                continue
            if fault.times is not None:
                if fault.times <= 0:
                    continue
                fault.times -= 1
            return fault
        return None

    # -- REST -----------------------------------------------------------------------------

    async def _users_me(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        return self._unauthorized(seen) or self._answer(seen, BOT_USER)

    async def _app_info(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        return self._unauthorized(seen) or self._answer(
            seen,
            {
                "id": str(APP_ID),
                "name": "evbot",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": HUMAN,
                "verify_key": "00" * 32,
                "flags": 0,
                "team": None,
                "summary": "",
                "interactions_endpoint_url": None,
            },
        )

    async def _gateway_info(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        return self._answer(
            seen,
            {
                "url": f"ws://{request.host}/gateway",
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            },
        )

    async def _put_commands(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        refused = self._unauthorized(seen)
        if refused:
            return refused
        scope = request.match_info.get("guild", "global")
        out = []
        for command in seen.json:
            registered = dict(
                command, id=self.snowflake(), application_id=str(APP_ID), version=self.snowflake()
            )
            if scope != "global":
                registered["guild_id"] = scope
            out.append(registered)
        self.commands[scope] = out
        self.command_puts.append((scope, seen.json))
        return self._answer(seen, out)

    async def _callback(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        token = request.match_info["token"]
        state = self.interactions.get(token)
        if state is None or time.monotonic() - state["created"] > self.ack_deadline:
            return self._answer(seen, {"message": "Unknown interaction", "code": 10062}, 404)
        if state["acked"]:
            return self._answer(
                seen,
                {"message": "Interaction has already been acknowledged.", "code": 40060},
                400,
            )
        state["acked"] = True
        body = seen.json or {}
        state["type"] = body.get("type")
        await self.callbacks.put(("callback", token, body | {"_files": seen.files}))
        data = body.get("data") or {}
        answer: dict[str, Any] = {
            "interaction": {
                "id": request.match_info["iid"],
                "type": 2,
                "response_message_id": None,
                "response_message_loading": body.get("type") == 5,
                "response_message_ephemeral": bool(data.get("flags", 0) & 64),
            }
        }
        if body.get("type") == 4:
            message = self._message(str(CHANNEL_ID), data, self._attachments(seen.files))
            answer["interaction"]["response_message_id"] = message["id"]
            answer["resource"] = {"type": 4, "message": message}
        return self._answer(seen, answer)

    async def _followup(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        token = request.match_info["token"]
        if token not in self.interactions:
            return self._answer(seen, {"message": "Invalid Webhook Token", "code": 50027}, 401)
        body = seen.json or {}
        await self.callbacks.put(("followup", token, body | {"_files": seen.files}))
        return self._answer(
            seen, self._message(str(CHANNEL_ID), body, self._attachments(seen.files))
        )

    async def _edit_original(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        body = seen.json or {}
        await self.callbacks.put(
            ("edit_original", request.match_info["token"], body | {"_files": seen.files})
        )
        return self._answer(
            seen, self._message(str(CHANNEL_ID), body, self._attachments(seen.files))
        )

    async def _delete_original(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        await self.callbacks.put(("delete_original", request.match_info["token"], {}))
        seen.status = 204
        return web.Response(status=204)

    async def _get_channel(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        cid = request.match_info["cid"]
        guild = self._guild_of(cid)
        if guild is None:
            return self._answer(seen, {"message": "Unknown Channel", "code": 10003}, 404)
        return self._answer(seen, self._channel_json(guild, cid))

    async def _history(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        cid = request.match_info["cid"]
        if self._guild_of(cid) is None:
            return self._answer(seen, {"message": "Unknown Channel", "code": 10003}, 404)
        limit = min(int(request.query.get("limit", "50")), 100)
        if self.denied.get(cid, 0) & READ_MESSAGE_HISTORY:
            return self._answer(seen, [])  # Discord: no messages, not an error
        before = request.query.get("before")
        after = request.query.get("after")
        newest_first = [m.payload for m in reversed(self.channel_messages.get(cid, []))]
        if not self.echo_nonce:
            newest_first = [{k: v for k, v in m.items() if k != "nonce"} for m in newest_first]
        if after is not None:
            # the `limit` messages right after `after`, newest first (as discord.py expects)
            later = [m for m in newest_first if int(m["id"]) > int(after)]
            return self._answer(seen, later[-limit:])
        if before is not None:
            newest_first = [m for m in newest_first if int(m["id"]) < int(before)]
        return self._answer(seen, newest_first[:limit])

    async def _create_message(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        refused = self._unauthorized(seen)
        if refused:
            return refused
        cid = request.match_info["cid"]
        fault = self._fault_for(cid)
        if fault is not None and fault.kind != "slow":
            return self._fault_answer(seen, fault)
        if self._guild_of(cid) is None:
            return self._answer(seen, {"message": "Unknown Channel", "code": 10003}, 404)
        body = seen.json or {}
        nonce = body.get("nonce")
        first = None
        if nonce is not None and body.get("enforce_nonce"):
            since = time.monotonic() - self.nonce_window
            first = next(
                (
                    m
                    for m in self.channel_messages.get(cid, [])
                    if m.body.get("nonce") == nonce and m.at >= since
                ),
                None,
            )
        if first is not None:
            self.duplicates[str(nonce)] += 1
            payload = first.payload
        else:
            payload = self._message(cid, body, self._attachments(seen.files))
            posted = Posted(payload, body, seen.files, time.monotonic())
            async with self.created:
                self.channel_messages.setdefault(cid, []).append(posted)
                self.created.notify_all()
        if fault is not None and fault.delay > 0:  # "slow": created, but answered late
            await asyncio.sleep(fault.delay)
        held = self._held
        if held is not None and not held.is_set():
            self._waiting += 1
            try:
                await held.wait()
            finally:
                self._waiting -= 1
        return self._answer(seen, payload, 200, **self._rl_headers())

    async def _edit_message(self, request: web.Request) -> web.Response:
        """PATCH a message: only the bot's own, in a known channel; content, embeds and
        allowed mentions may change, the rest (nonce, attachments unless given) stays."""
        seen = await self._record(request)
        refused = self._unauthorized(seen)
        if refused:
            return refused
        cid, mid = request.match_info["cid"], request.match_info["mid"]
        fault = self._fault_for(cid)
        if fault is not None and fault.kind != "slow":
            return self._fault_answer(seen, fault)
        if self._guild_of(cid) is None:
            return self._answer(seen, {"message": "Unknown Channel", "code": 10003}, 404)
        found = next(
            (m for m in self.channel_messages.get(cid, []) if m.payload["id"] == mid), None
        )
        if found is None:
            return self._answer(seen, {"message": "Unknown Message", "code": 10008}, 404)
        if found.payload["author"]["id"] != BOT_USER["id"]:
            body = {"message": "Cannot edit a message authored by another user", "code": 50005}
            return self._answer(seen, body, 403)
        body = seen.json or {}
        # what an edit may carry (discord.py also sends `tts`, which Discord ignores on an edit)
        allowed = {
            "content",
            "embeds",
            "allowed_mentions",
            "flags",
            "components",
            "attachments",
            "tts",
        }
        unknown = sorted(set(body) - allowed)
        if unknown:
            return self._answer(
                seen, {"message": "Invalid Form Body", "code": 50035, "errors": unknown}, 400
            )
        found.edits.append(body)
        for name in ("content", "embeds", "components", "flags"):
            if name in body:
                found.payload[name] = body[name]
        found.payload["edited_timestamp"] = now_iso()
        return self._answer(seen, found.payload, 200, **self._rl_headers())

    def _fault_answer(self, seen: Recorded, fault: Fault) -> web.Response:
        status = int(fault.kind)
        if status == 429:
            self.rate_limited += 1
            body = {
                "message": "You are being rate limited.",
                "retry_after": fault.retry_after,
                "global": fault.global_,
            }
            # discord.py treats a 429 without `Via` (or with a non-JSON body) as a
            # Cloudflare ban and gives up at once
            headers = {
                **self._rl_headers(remaining=0),
                "Via": "1.1 google",
                "Retry-After": str(fault.retry_after),
                "X-RateLimit-Scope": "shared" if not fault.global_ else "global",
            }
            if fault.global_:
                headers["X-RateLimit-Global"] = "true"
            return self._answer(seen, body, 429, **headers)
        messages = {
            403: "Missing Permissions",
            404: "Unknown Channel",
            400: "Invalid Form Body",
            401: "401: Unauthorized",
        }
        body = {"message": messages.get(status, f"fake {status}"), "code": fault.code}
        return self._answer(seen, body, status)

    # -- gateway --------------------------------------------------------------------------

    async def _send(self, shard: Shard, op: int, d: Any = None, t: str | None = None) -> None:
        payload: dict[str, Any] = {"op": op, "d": d, "s": None, "t": t}
        session = self.sessions.get(shard.session or "")
        if op == 0 and session is not None:
            session.seq += 1
            payload["s"] = session.seq
            session.sent.append(payload)
        # TEXT frames: discord.py then skips zlib/zstd decompression
        await shard.ws.send_str(json.dumps(payload))

    async def dispatch(self, event: str, data: Any, *, guild_id: int = GUILD_ID) -> None:
        """Send a dispatch on the session of the guild's shard; a session whose connection is
        down gets it on RESUME."""
        for session in self.sessions.values():
            index, count = session.shard
            if self.shard_of(guild_id, count) != index:
                continue
            live = session.live
            if live is not None and not live.ws.closed:
                await self._send(live, 0, data, event)
            else:
                session.seq += 1
                session.sent.append({"op": 0, "d": data, "s": session.seq, "t": event})
            return
        raise AssertionError(f"no gateway session serves guild {guild_id}")

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        shard = Shard(ws, request)
        self.shards.append(shard)
        await self._send(shard, 10, {"heartbeat_interval": 41250})  # HELLO
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                op = data.get("op")
                if op == 1:  # HEARTBEAT -> ACK
                    await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
                elif op == 2:
                    await self._identify(shard, data["d"], request)
                elif op == 6:
                    await self._resume(shard, data["d"])
        finally:
            if shard in self.shards:
                self.shards.remove(shard)
            shard.identified = False
        return ws

    async def _identify(self, shard: Shard, d: dict[str, Any], request: web.Request) -> None:
        self.identifies.append(d)
        if d.get("token") != TOKEN:
            await shard.ws.close(code=4004, message=b"Authentication failed.")
            return
        index, count = d.get("shard") or [0, 1]
        shard.shard = (index, count)
        session = Session(f"session-{self.snowflake()}", shard.shard)
        self.sessions = {k: v for k, v in self.sessions.items() if v.shard != shard.shard}
        self.sessions[session.id] = session
        session.live = shard
        shard.session = session.id
        mine = [g for g in self.guilds if self.shard_of(g, count) == index]
        await self._send(
            shard,
            0,
            {
                "v": 10,
                "user": BOT_USER,
                "guilds": [{"id": str(g), "unavailable": True} for g in mine],
                "session_id": session.id,
                "resume_gateway_url": f"ws://{request.host}/gateway",
                "application": {"id": str(APP_ID), "flags": 0},
                "shard": [index, count],
            },
            "READY",
        )
        for guild in mine:
            await self._send(shard, 0, self._guild_create(guild), "GUILD_CREATE")
        await self._connected(shard)

    async def _resume(self, shard: Shard, d: dict[str, Any]) -> None:
        self.resumes.append(d)
        session = self.sessions.get(d.get("session_id") or "")
        if not self.resume_ok or session is None or d.get("token") != TOKEN:
            await self._send(shard, 9, False)  # INVALID_SESSION: identify afresh
            return
        session.live = shard
        shard.session = session.id
        shard.shard = session.shard
        seq = int(d.get("seq") or 0)
        for missed in [p for p in session.sent if p["s"] > seq]:
            await shard.ws.send_str(json.dumps(missed))
        await self._send(shard, 0, {}, "RESUMED")
        await self._connected(shard)

    async def _connected(self, shard: Shard) -> None:
        async with self.connected:
            shard.identified = True
            self.connected.notify_all()

    def _guild_create(self, guild_id: int) -> dict[str, Any]:
        return {
            "id": str(guild_id),
            "name": f"EV Fans {guild_id}",
            "unavailable": False,
            "member_count": 2,
            "owner_id": str(USER_ID),
            "features": [],
            "roles": [
                {
                    "id": str(guild_id),
                    "name": "@everyone",
                    "permissions": "1071698660929",
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                }
            ],
            "channels": [self._channel_json(guild_id, c) for c in self.guilds[guild_id]],
            # Discord sends the bot's own member even without the members intent
            "members": [
                {
                    "user": BOT_USER,
                    "roles": [],
                    "joined_at": now_iso(),
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "large": False,
            "joined_at": now_iso(),
            "system_channel_flags": 0,
            "premium_tier": 0,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "preferred_locale": "en-US",
        }
