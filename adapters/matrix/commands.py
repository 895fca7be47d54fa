"""Commands typed in Matrix rooms: a `/sync` loop that answers `!ev-total nissan leaf` and every
other command of the core's table (`!ev-help` lists them), in the rooms the bot has joined.

The first sync only finds where the bot is: what was typed before the bot started is not
answered. An answer is an `m.notice` replying to the command (Matrix has no private replies, so
errors are answered in the room too), a chart an `m.image` after it. Commands that change what
a room receives (`!ev-subscribe`, ...) need power level 50 or more in the room
(`m.room.power_levels`). Invitations are accepted (`join_on_invite`). A room the bot leaves or
is banned from is remembered with who and why, for the deliveries that then fail; a command
typed in an end-to-end encrypted room cannot be read, and the room is told so once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from typing import Any

from nio import ErrorResponse

from adapters.matrix.client import MatrixApi, failure, membership_text, network_failures
from adapters.matrix.render import bang_commands, encrypted_notice, image_content, render_content
from bot.commands.arguments import ArgumentError, parse_command
from bot.commands.context import CommandContext
from bot.commands.dispatch import find_command, run_text
from bot.commands.types import Invocation, Reply, error_reply
from bot.domain.channels import MISSING_ACCESS, DeliveryFailure
from bot.domain.i18n import t
from bot.domain.messages import Field, Message
from bot.domain.settings import ConfigError

log = logging.getLogger("evbot.matrix")

PREFIX = "!ev-"
MANAGE_LEVEL = 50  # the power level a room's moderators have by default
SEND_TRIES = 3
BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)


class MatrixCommands:
    """Answers the commands typed in the rooms of one Matrix account (`api`)."""

    def __init__(self, api: MatrixApi) -> None:
        self.api = api
        self.synced = asyncio.Event()  # set after the first sync: commands are answered now
        self._tasks: set[asyncio.Task[None]] = set()
        self._told_encrypted: set[str] = set()

    async def serve(self, ctx: CommandContext, stopping: asyncio.Event) -> None:
        """Sync until `stopping` is set, answering each command typed after the first sync.
        The homeserver out of reach is retried with back-off; a refused token stops it
        (`ConfigError`)."""
        token: str | None = None
        failures = 0
        try:
            while not stopping.is_set():
                timeout = 0 if token is None else int(self.api.settings.sync_timeout * 1000)
                try:
                    if not self.api.user_id:
                        await _until(stopping, self.api.me())
                        continue
                    resp = await _until(stopping, self._sync(token, timeout))
                except DeliveryFailure as exc:
                    if exc.reason == MISSING_ACCESS:  # the token: nothing will work
                        raise refused(exc) from None
                    failures += 1
                    wait = exc.retry_after or BACKOFF[min(failures, len(BACKOFF)) - 1]
                    log.warning("Matrix sync failed (%s); again in %.0f s", exc, wait)
                    await _until(stopping, asyncio.sleep(wait))
                    continue
                if resp is None:
                    break
                failures = 0
                await self.handle_sync(ctx, resp, first=token is None)
                token = str(resp.next_batch)
                self.synced.set()
        finally:
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _sync(self, since: str | None, wait_ms: int) -> Any:
        # matrix-nio sets no HTTP timeout on a full-state sync: bound every sync here
        bound = self.api.settings.timeout + wait_ms / 1000 + 30
        with network_failures():
            async with asyncio.timeout(bound):
                resp = await self.api.client.sync(
                    timeout=wait_ms, since=since, full_state=since is None
                )
        if isinstance(resp, ErrorResponse):
            raise failure(resp)
        return resp

    async def handle_sync(self, ctx: CommandContext, resp: Any, *, first: bool) -> None:
        """Joins, leaves and (after the first sync) the commands of one sync response."""
        me = await self.api.me()
        for room, info in resp.rooms.leave.items():
            for event in info.timeline.events:
                source = dict(getattr(event, "source", {}) or {})
                if source.get("type") == "m.room.member" and source.get("state_key") == me:
                    why = membership_text(dict(source.get("content") or {}), source["sender"], me)
                    self.api.gone[room] = why
                    log.warning("Matrix room %s: %s", room, why)
        for room, info in resp.rooms.join.items():
            self.api.gone.pop(room, None)
            for event in [*info.state, *info.timeline.events]:
                source = dict(getattr(event, "source", {}) or {})
                if source.get("type") == "m.room.encryption":
                    self.api.mark_encrypted(room)
                elif not first and source.get("sender") != me and _addressed(source):
                    self._spawn(self.answer(ctx, room, source))
        if self.api.settings.join_on_invite:
            for room in resp.rooms.invite:
                await self._join(room)

    async def _join(self, room: str) -> None:
        """Accept an invitation; a failure is logged (the invitation stays)."""
        try:
            with network_failures():
                joined = await self.api.client.join(room)
        except DeliveryFailure as exc:
            log.warning("Matrix: cannot join %s: %s", room, exc)
            return
        if isinstance(joined, ErrorResponse):
            log.warning("Matrix: cannot join %s: %s", room, joined)
        else:
            log.info("Matrix: joined %s on invitation", room)

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def answer(self, ctx: CommandContext, room: str, event: dict[str, Any]) -> None:
        """Answer one event if it is a command (else nothing); failures are logged."""
        try:
            if event.get("type") == "m.room.encrypted":
                if room not in self._told_encrypted:
                    self._told_encrypted.add(room)
                    loc = ctx.config.locale
                    await self.send(room, _notice(encrypted_notice(loc), loc), event)
                return
            text = command_text(event)
            if text is None:
                return
            reply = await self.run(ctx, room, str(event.get("sender") or ""), text)
            await self.send(room, reply.message, event)
            if reply.ok and not reply.ephemeral and reply.message.image is not None:
                await self.send_image(room, reply.message)
        except DeliveryFailure as exc:
            log.warning("Matrix room %s: no answer sent (%s)", room, exc)
        except Exception:  # one bad command must not stop the sync loop
            log.exception("Matrix room %s: command failed", room)

    async def run(self, ctx: CommandContext, room: str, user: str, text: str) -> Reply:
        """Run a typed command (`/ev-total ...`) as `user` in `room`."""
        channel = self.api.channel(room)
        try:
            command = find_command(parse_command(text).name)
        except ArgumentError as exc:
            return error_reply(exc.text(ctx.config.locale), ctx.config.locale)
        can_manage = False
        if command is not None and command.manages_channel:
            can_manage = await self.api.power_level(room, user) >= MANAGE_LEVEL
            if not can_manage:
                loc = ctx.config.locale
                return error_reply(
                    t(
                        loc,
                        "!{command} changes what this room receives, so it needs power level "
                        "{level} or more here (a moderator's), which you do not have. Ask a "
                        "moderator, or use !ev-subscriptions and !ev-preview to see what it "
                        "follows.",
                        command=command.name,
                        level=MANAGE_LEVEL,
                    ),
                    loc,
                )
        invocation = Invocation(channel, user, can_manage=can_manage, locale=ctx.config.locale)
        return await run_text(ctx, invocation, text)

    async def send(self, room: str, message: Message, to: dict[str, Any]) -> str:
        """Send `message` as an `m.notice` replying to event `to`; retried when rate limited."""
        content = render_content(_bang(message), "m.notice")
        if to.get("event_id"):
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": str(to["event_id"])}}
        return await self._send(room, content)

    async def send_image(self, room: str, message: Message) -> str:
        """Upload a command's chart and send it as `m.image`."""
        assert message.image is not None
        image = message.image
        with network_failures():
            uploaded, _ = await self.api.client.upload(
                lambda _limited, _timeouts: image,
                content_type="image/png",
                filename=message.image_name or "chart.png",
                filesize=len(image),
            )
        if isinstance(uploaded, ErrorResponse):
            raise failure(uploaded)
        return await self._send(room, image_content(message, str(uploaded.content_uri), len(image)))

    async def _send(self, room: str, content: dict[str, Any]) -> str:
        for attempt in range(SEND_TRIES):
            with network_failures():
                resp = await self.api.client.room_send(room, "m.room.message", content)
            if not isinstance(resp, ErrorResponse):
                return str(resp.event_id)
            exc = failure(resp)
            if exc.retry_after is None or attempt == SEND_TRIES - 1:
                raise exc
            await asyncio.sleep(exc.retry_after)
        raise AssertionError("unreachable")


def refused(exc: DeliveryFailure) -> ConfigError:
    """The error that stops the command loop when the homeserver refuses the token."""
    return ConfigError(f"platforms.matrix.access_token: the homeserver refused it ({exc.detail})")


def command_text(event: dict[str, Any]) -> str | None:
    """The command an event types (`/ev-total nissan leaf`), or None: a plain `m.text` message
    whose first line starts with `!ev-` (not an edit, not a notice from a bot)."""
    if event.get("type") != "m.room.message":
        return None
    content = event.get("content")
    if not isinstance(content, dict) or content.get("msgtype") != "m.text":
        return None
    relates = content.get("m.relates_to")
    if isinstance(relates, dict) and relates.get("rel_type") == "m.replace":
        return None
    body = content.get("body")
    if not isinstance(body, str):
        return None
    line = body.strip().split("\n", 1)[0].strip()
    if not line.lower().startswith(PREFIX):
        return None
    return "/" + line[1:]


def _addressed(event: dict[str, Any]) -> bool:
    """A command, or a message the bot cannot read (encrypted), which it answers once."""
    return event.get("type") == "m.room.encrypted" or command_text(event) is not None


def _bang(message: Message) -> Message:
    """The message with the commands it names as typed on Matrix (`!ev-help`)."""
    return replace(
        message,
        title=bang_commands(message.title),
        body=bang_commands(message.body),
        fields=tuple(
            Field(bang_commands(f.name), bang_commands(f.value), f.inline) for f in message.fields
        ),
        footer=bang_commands(message.footer),
    )


def _notice(text: str, locale: str) -> Message:
    return Message(title="", body=text, accent="info", locale=locale)


async def _until(stopping: asyncio.Event, work: Any) -> Any:
    """`work`'s result, or None once `stopping` is set first (the work is cancelled)."""
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not task.done():
            task.cancel()
        for waited in (stop, task):
            with contextlib.suppress(asyncio.CancelledError):
                await waited
    return None if task.cancelled() else task.result()
