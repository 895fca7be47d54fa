"""A fake Matrix homeserver on 127.0.0.1: the client-server API the bot uses, in the wire format
real matrix-nio speaks, strictly.

- Token auth, login-free: `Authorization: Bearer <token>` on every request (401 `M_MISSING_TOKEN`
  without, `M_UNKNOWN_TOKEN` for a token it does not know; an `access_token` in the query is
  refused: nio moves it to the header). `GET /account/whoami`.
- `GET /sync` with `since`/`timeout`/`full_state`: `next_batch` tokens, the rooms the bot is in
  (`join`: state and timeline since the token), invited to (`invite`) and has left or been banned
  from (`leave`, with its membership event); long-polls until something happens or `timeout`.
- `PUT /rooms/{room}/send/{type}/{txnId}`: idempotent per token and transaction id within a
  window (`txn_window` seconds), forgotten by `restart()`, as a homeserver may forget them; 403
  `M_FORBIDDEN` when the sender is not in the room or below the room's power level to send.
- `POST /_matrix/media/v3/upload`: the media repository, an `mxc://` URI back.
- `GET /rooms/{room}/messages` with `dir`/`from`/`limit`/`filter` (`types`, `senders`):
  newest first backwards, `end` only while more remain.
- `GET /rooms/{room}/state/{type}/{key}`: power levels, encryption, membership (a user who left
  reads the state as of leaving, as Synapse lets them). `POST /join/{room}`.
- Faults: `fake.limit(times, retry_after_ms)` answers 429 `M_LIMIT_EXCEEDED`; `fake.slow_send`
  answers sends late (after doing them).

Test knobs: `room()`, `say()` (a user types in a room), `leave()`/`ban()`/`invite()`,
`set_level()`, `encrypt()`, `announcements()`. As its own process (the crash test):
`python tests/fake_matrix.py --port 0 --state state.json --rooms 20` prints `listening on <port>`,
serves `GET /_stats` and `POST /_restart`, and writes its state when stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

SERVER = "fake.local"
BOT = f"@evbot:{SERVER}"
BOT_TOKEN = "syt_evbot_fake_token"
ADMIN = f"@admin:{SERVER}"
API = "/_matrix/client/v3"
KEY_FIELD = "org.evbot.delivery"
PART_FIELD = "org.evbot.part"
MAX_SYNC_WAIT = 30.0
USER = web.RequestKey("user", str)
TOKEN = web.RequestKey("token", str)


@dataclass
class Room:
    room_id: str
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # user -> member content
    state: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # -> event
    left_at: dict[str, int] = field(default_factory=dict)  # user -> stream position of leaving

    def membership(self, user: str) -> str:
        return str(self.members.get(user, {}).get("membership") or "none")

    def level(self, user: str) -> int:
        levels = self.state.get(("m.room.power_levels", ""), {}).get("content", {})
        return int((levels.get("users") or {}).get(user, levels.get("users_default", 0)))

    def send_level(self, event_type: str) -> int:
        levels = self.state.get(("m.room.power_levels", ""), {}).get("content", {})
        return int((levels.get("events") or {}).get(event_type, levels.get("events_default", 0)))


@dataclass
class FakeMatrix:
    """The fake homeserver's state and its aiohttp application."""

    tokens: dict[str, str] = field(default_factory=lambda: {BOT_TOKEN: BOT})
    txn_window: float = 300.0
    slow_send: float = 0.0
    port: int = 0

    def __post_init__(self) -> None:
        self.rooms: dict[str, Room] = {}
        self.events: list[tuple[int, str, dict[str, Any]]] = []  # (position, room, event)
        self.media: dict[str, bytes] = {}
        self.txns: dict[tuple[str, str, str], tuple[str, float]] = {}  # (token, room, txn)
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.sends = 0  # PUT /send requests answered 200
        self.limited = 0  # requests answered 429
        self._limits: list[int] = []  # retry_after_ms of the next 429s
        self._position = itertools.count(1)
        self._ids = itertools.count(1)
        self._waiters: list[asyncio.Event] = []  # long-polling syncs, woken by any event
        self._runner: web.AppRunner | None = None
        self._closing = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, port: int = 0) -> FakeMatrix:
        app = web.Application(middlewares=[self._strict])
        app.router.add_get(f"{API}/account/whoami", self._whoami)
        app.router.add_get(f"{API}/sync", self._sync)
        app.router.add_put(f"{API}/rooms/{{room}}/send/{{type}}/{{txn}}", self._send)
        app.router.add_get(f"{API}/rooms/{{room}}/messages", self._messages)
        app.router.add_get(f"{API}/rooms/{{room}}/state/{{type}}/{{key:.*}}", self._state)
        app.router.add_get(f"{API}/rooms/{{room}}/state/{{type}}", self._state)  # key ""
        app.router.add_post(f"{API}/join/{{room}}", self._join)
        app.router.add_post("/_matrix/media/v3/upload", self._upload)
        app.router.add_get("/_stats", self._stats)
        app.router.add_post("/_restart", self._restart)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        self._closing = True
        self._notify()  # long polls answer now, not at their timeout
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeMatrix:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- knobs and views ---------------------------------------------------------------------

    def room(self, name: str, *, bot: str = "join", encrypted: bool = False) -> str:
        """A room made by the admin (power level 100), the bot a member (`bot`: join, invite
        or none); returns its id."""
        room_id = f"!{name}:{SERVER}"
        self.rooms[room_id] = Room(room_id)
        self._state_event(room_id, ADMIN, "m.room.create", "", {"creator": ADMIN})
        self._member(room_id, ADMIN, ADMIN, "join")
        self._state_event(
            room_id,
            ADMIN,
            "m.room.power_levels",
            "",
            {"users": {ADMIN: 100}, "users_default": 0, "events_default": 0, "state_default": 50},
        )
        if bot != "none":
            self._member(room_id, ADMIN if bot == "invite" else BOT, BOT, bot)
        if encrypted:
            self.encrypt(room_id)
        return room_id

    def join(self, room_id: str, user: str, level: int | None = None) -> None:
        """`user` joins (with power level `level`, if given)."""
        self._member(room_id, user, user, "join")
        if level is not None:
            self.set_level(room_id, user, level)

    def set_level(self, room_id: str, user: str, level: int) -> None:
        content = json.loads(
            json.dumps(self.rooms[room_id].state[("m.room.power_levels", "")]["content"])
        )
        content["users"][user] = level
        self._state_event(room_id, ADMIN, "m.room.power_levels", "", content)

    def set_send_level(self, room_id: str, level: int) -> None:
        """The power level a user needs to send messages (`events_default`)."""
        content = json.loads(
            json.dumps(self.rooms[room_id].state[("m.room.power_levels", "")]["content"])
        )
        content["events_default"] = level
        self._state_event(room_id, ADMIN, "m.room.power_levels", "", content)

    def encrypt(self, room_id: str) -> None:
        self._state_event(
            room_id, ADMIN, "m.room.encryption", "", {"algorithm": "m.megolm.v1.aes-sha2"}
        )

    def invite(self, room_id: str) -> None:
        self._member(room_id, ADMIN, BOT, "invite")

    def leave(self, room_id: str, *, by: str = BOT, reason: str = "") -> None:
        """The bot leaves (or is kicked `by` someone, with `reason`)."""
        self._member(room_id, by, BOT, "leave", reason)

    def ban(self, room_id: str, *, by: str = ADMIN, reason: str = "") -> None:
        self._member(room_id, by, BOT, "ban", reason)

    def say(self, room_id: str, user: str, body: str, msgtype: str = "m.text") -> str:
        """`user` types `body` in the room; returns the event id."""
        assert self.rooms[room_id].membership(user) == "join", f"{user} is not in {room_id}"
        return self._append(
            room_id,
            {
                "type": "m.room.message",
                "sender": user,
                "content": {"msgtype": msgtype, "body": body},
            },
        )

    def say_encrypted(self, room_id: str, user: str) -> str:
        """`user` sends an end-to-end encrypted message (which the bot cannot read)."""
        return self._append(
            room_id,
            {
                "type": "m.room.encrypted",
                "sender": user,
                "content": {
                    "algorithm": "m.megolm.v1.aes-sha2",
                    "ciphertext": "AwgAEnAc...",
                    "sender_key": "fakekey",
                    "session_id": "fakesession",
                    "device_id": "USERDEVICE",
                },
            },
        )

    async def wait_for(self, check: Any, seconds: float = 20.0) -> None:
        """Wait (bounded) until `check()` holds; re-checked after every event."""
        deadline = time.monotonic() + seconds
        while not check():
            assert time.monotonic() < deadline, "the fake homeserver saw nothing of it in time"
            waiter = asyncio.Event()
            self._waiters.append(waiter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), min(0.5, deadline - time.monotonic()))

    def limit(self, times: int, retry_after_ms: int = 500) -> None:
        """Answer the next `times` sends and uploads 429 `M_LIMIT_EXCEEDED`."""
        self._limits.extend([retry_after_ms] * times)

    def restart(self) -> None:
        """The homeserver restarts: it forgets every transaction id it had."""
        self.txns.clear()

    def timeline(self, room_id: str) -> list[dict[str, Any]]:
        """Every event of a room, oldest first."""
        return [e for _, r, e in self.events if r == room_id]

    def messages_of(self, room_id: str, sender: str = BOT) -> list[dict[str, Any]]:
        """The `m.room.message` events `sender` sent to a room, oldest first."""
        return [
            e
            for e in self.timeline(room_id)
            if e["type"] == "m.room.message" and e["sender"] == sender
        ]

    def announcements(self) -> dict[str, list[str]]:
        """Every delivery key the bot's announcements carry, with the rooms they went to."""
        found: dict[str, list[str]] = {}
        for _, room, event in self.events:
            content = event.get("content") or {}
            if event["sender"] == BOT and KEY_FIELD in content and PART_FIELD not in content:
                found.setdefault(str(content[KEY_FIELD]), []).append(room)
        return found

    def state(self) -> dict[str, Any]:
        announcements = self.announcements()
        return {
            "sends": self.sends,
            "limited": self.limited,
            "messages": sum(len(rooms) for rooms in announcements.values()),
            "duplicates": sum(len(rooms) - 1 for rooms in announcements.values()),
            "history_calls": sum(1 for _, path in self.requests if path.endswith("/messages")),
            "keys": announcements,
            "rooms": {
                room: sum(1 for rooms in announcements.values() for r in rooms if r == room)
                for room in self.rooms
            },
        }

    # -- the event graph, simplified: one stream ---------------------------------------------

    def _append(self, room_id: str, event: dict[str, Any]) -> str:
        position = next(self._position)
        event = {
            **event,
            "event_id": f"$ev{next(self._ids)}",
            "origin_server_ts": int(time.time() * 1000),
            "room_id": room_id,
            "unsigned": {},
        }
        self.events.append((position, room_id, event))
        if "state_key" in event:
            self.rooms[room_id].state[(event["type"], event["state_key"])] = event
        self._notify()
        return str(event["event_id"])

    def _state_event(
        self, room_id: str, sender: str, kind: str, key: str, content: dict[str, Any]
    ) -> str:
        return self._append(
            room_id, {"type": kind, "state_key": key, "sender": sender, "content": content}
        )

    def _member(
        self, room_id: str, sender: str, user: str, membership: str, reason: str = ""
    ) -> None:
        content: dict[str, Any] = {"membership": membership}
        if reason:
            content["reason"] = reason
        room = self.rooms[room_id]
        room.members[user] = content
        self._state_event(room_id, sender, "m.room.member", user, content)
        if membership in ("leave", "ban"):
            room.left_at[user] = self.events[-1][0]
        else:
            room.left_at.pop(user, None)

    def _notify(self) -> None:
        for waiter in self._waiters:
            waiter.set()
        self._waiters.clear()

    # -- the API -----------------------------------------------------------------------------

    @web.middleware
    async def _strict(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if request.path.startswith("/_stats") or request.path.startswith("/_restart"):
            return await handler(request)
        if "access_token" in request.query:
            return _error(400, "M_UNKNOWN", "the token goes in the Authorization header")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _error(401, "M_MISSING_TOKEN", "Missing access token")
        user = self.tokens.get(auth.removeprefix("Bearer "))
        if user is None:
            return _error(401, "M_UNKNOWN_TOKEN", "Unknown access token")
        request[USER] = user
        request[TOKEN] = auth.removeprefix("Bearer ")
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return _error(404, "M_UNRECOGNIZED", "Unrecognized request")
        except web.HTTPMethodNotAllowed:
            return _error(405, "M_UNRECOGNIZED", "Unrecognized request")

    def _rate_limited(self) -> web.Response | None:
        if not self._limits:
            return None
        self.limited += 1
        wait = self._limits.pop(0)
        return web.json_response(
            {"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": wait},
            status=429,
        )

    async def _whoami(self, request: web.Request) -> web.Response:
        return web.json_response({"user_id": request[USER], "device_id": "FAKEDEVICE"})

    async def _sync(self, request: web.Request) -> web.Response:
        user = request[USER]
        since = request.query.get("since")
        try:
            wait = min(int(request.query.get("timeout", "0")) / 1000, MAX_SYNC_WAIT)
            after = int(since.removeprefix("s")) if since else 0
        except ValueError:
            return _error(400, "M_INVALID_PARAM", "timeout and since must be what we gave")
        if since and not since.startswith("s"):
            return _error(400, "M_INVALID_PARAM", f"unknown since token {since!r}")
        deadline = time.monotonic() + wait
        while (
            since
            and not self._closing
            and not self._news(user, after)
            and time.monotonic() < deadline
        ):
            waiter = asyncio.Event()
            self._waiters.append(waiter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), deadline - time.monotonic())
        last = self.events[-1][0] if self.events else 0
        join: dict[str, Any] = {}
        invite: dict[str, Any] = {}
        leave: dict[str, Any] = {}
        for room_id, room in self.rooms.items():
            membership = room.membership(user)
            fresh = [e for p, r, e in self.events if r == room_id and p > after]
            if membership == "join":
                state = list(room.state.values()) if not since else []
                timeline = fresh[-20:] if not since else fresh
                if since and not timeline:
                    continue
                join[room_id] = {
                    "state": {"events": state},
                    "timeline": {"events": timeline, "limited": False, "prev_batch": f"t{after}"},
                    "ephemeral": {"events": []},
                    "account_data": {"events": []},
                }
            elif membership == "invite" and (not since or fresh):
                invite[room_id] = {
                    "invite_state": {
                        "events": [
                            _stripped(e)
                            for e in room.state.values()
                            if e["type"] in ("m.room.create", "m.room.encryption", "m.room.member")
                        ]
                    }
                }
            elif membership in ("leave", "ban") and since and room.left_at.get(user, 0) > after:
                mine = [e for e in fresh if e.get("state_key") == user]
                leave[room_id] = {"timeline": {"events": mine[-1:]}, "state": {"events": []}}
        return web.json_response(
            {
                "next_batch": f"s{last}",
                "rooms": {"join": join, "invite": invite, "leave": leave},
                "presence": {"events": []},
                "account_data": {"events": []},
                "to_device": {"events": []},
                "device_lists": {"changed": [], "left": []},
                "device_one_time_keys_count": {},
            }
        )

    def _news(self, user: str, after: int) -> bool:
        return any(
            p > after
            and (self.rooms[r].membership(user) in ("join", "invite") or e.get("state_key") == user)
            for p, r, e in self.events
        )

    async def _send(self, request: web.Request) -> web.Response:
        room_id, kind, txn = (request.match_info[k] for k in ("room", "type", "txn"))
        if request.content_type != "application/json":
            return _error(400, "M_NOT_JSON", "Content not JSON.")
        try:
            content = await request.json()
        except ValueError:
            return _error(400, "M_NOT_JSON", "Content not JSON.")
        if not isinstance(content, dict):
            return _error(400, "M_BAD_JSON", "Content must be a JSON object.")
        if kind == "m.room.message" and not (
            isinstance(content.get("msgtype"), str) and isinstance(content.get("body"), str)
        ):
            return _error(400, "M_BAD_JSON", "m.room.message needs a string msgtype and body")
        if len(json.dumps(content).encode()) > 65_000:
            return _error(413, "M_TOO_LARGE", "event too large")
        if limited := self._rate_limited():
            return limited
        user = request[USER]
        room = self.rooms.get(room_id)
        if room is None or room.membership(user) != "join":
            return _error(403, "M_FORBIDDEN", f"User {user} not in room {room_id}")
        if room.level(user) < room.send_level(kind):
            return _error(
                403,
                "M_FORBIDDEN",
                "You don't have permission to post that to the room. "
                f"user_level ({room.level(user)}) < send_level ({room.send_level(kind)})",
            )
        seen = self.txns.get((request[TOKEN], room_id, txn))
        now = time.monotonic()
        if seen is not None and now - seen[1] <= self.txn_window:
            event_id = seen[0]
        else:
            event_id = self._append(room_id, {"type": kind, "sender": user, "content": content})
            self.txns[(request[TOKEN], room_id, txn)] = (event_id, now)
        self.sends += 1
        if self.slow_send:
            await asyncio.sleep(self.slow_send)
        return web.json_response({"event_id": event_id})

    async def _messages(self, request: web.Request) -> web.Response:
        room_id = request.match_info["room"]
        room = self.rooms.get(room_id)
        if room is None or room.membership(request[USER]) != "join":
            return _error(403, "M_FORBIDDEN", f"User {request[USER]} not in room {room_id}")
        direction = request.query.get("dir")
        if direction not in ("b", "f"):
            return _error(400, "M_INVALID_PARAM", "dir must be b or f")
        try:
            limit = min(int(request.query.get("limit", "10")), 1000)
            start = request.query.get("from")
            position = int(start.removeprefix("t")) if start else None
            wanted = json.loads(request.query.get("filter", "{}"))
        except ValueError:
            return _error(400, "M_INVALID_PARAM", "bad limit, from or filter")
        types, senders = wanted.get("types"), wanted.get("senders")
        events = [(p, e) for p, r, e in self.events if r == room_id]
        if direction == "b":
            top = position if position is not None else (events[-1][0] + 1 if events else 0)
            scan = [(p, e) for p, e in reversed(events) if p < top]
        else:
            bottom = position if position is not None else 0
            scan = [(p, e) for p, e in events if p >= bottom]
        kept = [
            (p, e)
            for p, e in scan
            if (types is None or e["type"] in types) and (senders is None or e["sender"] in senders)
        ]
        chunk = kept[:limit]
        body: dict[str, Any] = {
            "chunk": [e for _, e in chunk],
            "start": start or f"t{(events[-1][0] + 1) if events else 0}",
        }
        if len(kept) > limit:
            last = chunk[-1][0]
            body["end"] = f"t{last}" if direction == "b" else f"t{last + 1}"
        return web.json_response(body)

    async def _state(self, request: web.Request) -> web.Response:
        room_id, kind = request.match_info["room"], request.match_info["type"]
        key = request.match_info.get("key", "")
        room = self.rooms.get(room_id)
        user = request[USER]
        if room is None:
            return _error(403, "M_FORBIDDEN", "You don't have permission to access that room.")
        if room.membership(user) != "join":
            left = room.left_at.get(user)
            if left is None:
                return _error(403, "M_FORBIDDEN", "You aren't a member of the room.")
            # as of leaving: the events up to the leave
            found = None
            for p, r, e in self.events:
                if r == room_id and p <= left and e["type"] == kind and e.get("state_key") == key:
                    found = e
        else:
            found = room.state.get((kind, key))
        if found is None:
            return _error(404, "M_NOT_FOUND", "Event not found.")
        return web.json_response(found["content"])

    async def _join(self, request: web.Request) -> web.Response:
        room_id, user = request.match_info["room"], request[USER]
        room = self.rooms.get(room_id)
        if room is None or room.membership(user) not in ("invite", "join"):
            return _error(403, "M_FORBIDDEN", "You are not invited to this room.")
        if room.membership(user) != "join":
            self._member(room_id, user, user, "join")
        return web.json_response({"room_id": room_id})

    async def _upload(self, request: web.Request) -> web.Response:
        if not request.headers.get("Content-Type"):
            return _error(400, "M_MISSING_PARAM", "Content-Type is required")
        data = await request.read()
        if not data:
            return _error(400, "M_BAD_JSON", "empty upload")
        if limited := self._rate_limited():
            return limited
        media = f"media{next(self._ids)}"
        self.media[media] = data
        return web.json_response({"content_uri": f"mxc://{SERVER}/{media}"})

    async def _stats(self, request: web.Request) -> web.Response:
        stats = self.state()
        stats.pop("keys")
        return web.json_response(stats)

    async def _restart(self, request: web.Request) -> web.Response:
        self.restart()
        return web.json_response({})


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"errcode": code, "error": message}, status=status)


def _stripped(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event[k] for k in ("type", "state_key", "sender", "content")}


async def _serve(port: int, rooms: int, slow: float, window: float) -> dict[str, Any]:
    fake = FakeMatrix(slow_send=slow, txn_window=window)
    for i in range(rooms):
        fake.room(f"room{i:03d}")
    await fake.start(port)
    print(f"listening on {fake.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fake.stop()
    return fake.state()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a fake Matrix homeserver on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--rooms", type=int, default=0, help="rooms the bot is in")
    parser.add_argument("--slow-send", type=float, default=0.0, help="answer sends late")
    parser.add_argument("--txn-window", type=float, default=300.0, help="seconds txnIds are kept")
    args = parser.parse_args(argv)
    state = asyncio.run(_serve(args.port, args.rooms, args.slow_send, args.txn_window))
    args.state.write_text(json.dumps(state), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
