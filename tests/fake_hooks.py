"""Fake Discord channel webhooks, Slack incoming webhooks and Teams Workflows triggers on 127.0.0.1,
each speaking its platform's wire format strictly, for the tests of `adapters/discord_webhook`,
`adapters/slack_webhook` and `adapters/teams`.

- Discord: `POST /api/webhooks/ID/TOKEN[?wait=true][&thread_id=N]`, JSON or multipart
  (`payload_json` + `files[n]`); the embed limits (400, code 50035, over any), every
  `attachment://` the embeds name must be an uploaded file; without `wait=true` an empty 204,
  with it the message (`Content-Type: application/json` exactly); `GET` and `PATCH
  .../messages/ID`. A deleted webhook: 404 code 10015; a wrong token: 401 code 50027; 429 with
  `retry_after` in the body, Retry-After and Via.
- Slack: `POST /services/T/B/X`, JSON with `text` or `blocks` (at most 50; header 150, text
  3,000); plain-text answers: `ok`, `invalid_payload` (400), `invalid_blocks` (400),
  `channel_is_archived` (410), `no_service` (404), `action_prohibited` (403) ...
- Teams: `POST .../workflows/ID/triggers/manual/paths/invoke?...&sig=S`: a `message` with one
  Adaptive Card attachment, at most 28 KB, else 413; no `sig`: 401; a deleted flow: 404
  `WorkflowNotFound`; accepted: 202, empty.

A channel is the last distinctive part of its URL (Discord's ID, `discord_id(name)`; Slack's X;
the flow's ID).
`fake.fail(kind, channel, status, times=, retry_after=, text=)` answers with a fault;
`fake.gone(kind, channel)` deletes a webhook; `fake.delay` answers every accepted request that
many seconds late (the message is in before the answer leaves). As its own process (the crash
test): `python tests/fake_hooks.py --port 0 --state state.json [--delay 0.05]` prints
`listening on <port>`, serves `GET /_stats`, and writes its state when stopped (SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import signal
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

DISCORD, SLACK, TEAMS = "discord_webhook", "slack_webhook", "teams"
TEAMS_MAX = 28 * 1024
TOKEN = "fake-webhook-token-s3cr3t"  # what the tests' Discord URLs carry
SIG = "fake-teams-sig-s3cr3t"


def discord_id(name: str) -> str:
    """The webhook id (a snowflake) the fake gives channel `name` in its Discord URL."""
    if name.isdigit():
        return name
    return str(int(hashlib.sha256(name.encode()).hexdigest()[:15], 16))


def _channel(kind: str, name: str | None) -> str | None:
    return discord_id(name) if kind == DISCORD and name is not None else name


@dataclass
class Posted:
    """One accepted message, as the fake platform would show it."""

    kind: str
    channel: str
    id: str
    body: dict[str, Any]
    files: list[tuple[str, bytes]] = field(default_factory=list)
    thread: str | None = None
    edits: int = 0


@dataclass
class Fault:
    status: int
    times: int | None
    retry_after: str | None
    text: str


class FakeHooks:
    """The three platforms' webhook endpoints in one server."""

    def __init__(self, port: int = 0, delay: float = 0.0) -> None:
        self.port = port
        self.delay = delay
        self.requests: Counter[str] = Counter()  # by kind
        self.statuses: Counter[int] = Counter()
        self.posted: list[Posted] = []
        self.faults: dict[tuple[str, str | None], Fault] = {}
        self.deleted: set[tuple[str, str]] = set()
        self._ids = 1_000_000_000_000_000_000
        self._runner: web.AppRunner | None = None

    # -- control --------------------------------------------------------------------------

    def discord_url(self, channel: str) -> str:
        return f"http://127.0.0.1:{self.port}/api/webhooks/{discord_id(channel)}/{TOKEN}"

    def slack_url(self, channel: str) -> str:
        return f"http://127.0.0.1:{self.port}/services/T0001/B0001/{channel}"

    def teams_url(self, channel: str) -> str:
        return (
            f"http://127.0.0.1:{self.port}/workflows/{channel}/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
        )

    def url(self, kind: str, channel: str) -> str:
        return {DISCORD: self.discord_url, SLACK: self.slack_url, TEAMS: self.teams_url}[kind](
            channel
        )

    def fail(
        self,
        kind: str,
        channel: str | None,
        status: int,
        *,
        times: int | None = None,
        retry_after: str | None = None,
        text: str = "",
    ) -> None:
        """Answer `kind`'s requests to `channel` (None: every one) with `status`; `text` is
        Slack's error string, or Teams' error code."""
        self.faults[(kind, _channel(kind, channel))] = Fault(status, times, retry_after, text)

    def gone(self, kind: str, channel: str) -> None:
        """The webhook (or flow) was deleted."""
        self.deleted.add((kind, discord_id(channel) if kind == DISCORD else channel))

    def messages(self, kind: str, channel: str | None = None) -> list[Posted]:
        """The messages of `kind`, of one channel (by its name) or all."""
        wanted = _channel(kind, channel)
        return [p for p in self.posted if p.kind == kind and wanted in (None, p.channel)]

    def stats(self) -> dict[str, Any]:
        counts: Counter[str] = Counter(f"{p.kind}/{p.channel}" for p in self.posted)
        return {
            "requests": dict(self.requests),
            "messages": len(self.posted),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "per_channel": dict(counts),
        }

    # -- serving --------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        hook = "/api/webhooks/{channel}/{token}"
        app.router.add_post(hook, self._discord)
        app.router.add_get(hook + "/messages/{mid}", self._discord_message)
        app.router.add_patch(hook + "/messages/{mid}", self._discord_message)
        app.router.add_post("/services/{team}/{bot}/{channel}", self._slack)
        app.router.add_post("/workflows/{channel}/triggers/{trigger}/paths/invoke", self._teams)
        app.router.add_get("/_stats", self._stats)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeHooks:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    def _fault(self, kind: str, channel: str) -> Fault | None:
        for key in ((kind, channel), (kind, None)):
            fault = self.faults.get(key)
            if fault is None or fault.times == 0:
                continue
            if fault.times is not None:
                fault.times -= 1
            return fault
        return None

    def _accept(self, posted: Posted) -> None:
        self.posted.append(posted)

    async def _late(self, response: web.Response) -> web.Response:
        self.statuses[response.status] += 1
        if self.delay > 0:
            await asyncio.sleep(self.delay)  # the message is in; the answer comes late
        return response

    # -- Discord --------------------------------------------------------------------------

    def _discord_json(self, data: Any, status: int = 200, **headers: str) -> web.Response:
        self.statuses[status] += 1
        body = json.dumps(data).encode()
        return web.Response(
            body=body, status=status, headers={"Content-Type": "application/json", **headers}
        )

    def _discord_refusal(self, channel: str, token: str) -> web.Response | None:
        if (DISCORD, channel) in self.deleted:
            return self._discord_json({"message": "Unknown Webhook", "code": 10015}, 404)
        if token != TOKEN:
            return self._discord_json({"message": "Invalid Webhook Token", "code": 50027}, 401)
        fault = self._fault(DISCORD, channel)
        if fault is None:
            return None
        if fault.status == 429:
            wait = float(fault.retry_after or "0.05")
            return self._discord_json(
                {"message": "You are being rate limited.", "retry_after": wait, "global": False},
                429,
                **{"Retry-After": str(max(1, round(wait))), "Via": "1.1 google"},
            )
        return self._discord_json({"message": "fault", "code": 0}, fault.status)

    async def _discord(self, request: web.Request) -> web.Response:
        self.requests[DISCORD] += 1
        channel, token = request.match_info["channel"], request.match_info["token"]
        refused = self._discord_refusal(channel, token)
        if refused is not None:
            return refused
        files: list[tuple[str, bytes]] = []
        if request.content_type == "multipart/form-data":
            data: Any = None
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    data = json.loads(await part.text())
                elif part.name is not None and part.name.startswith("files["):
                    files.append((part.filename or "", bytes(await part.read())))
        elif request.content_type == "application/json":
            data = await request.json()
        else:
            return self._discord_json({"message": "Cannot send an empty message"}, 400)
        problem = discord_problem(data, [name for name, _ in files])
        if problem:
            return self._discord_json(
                {"message": "Invalid Form Body", "code": 50035, "errors": problem}, 400
            )
        self._ids += 1
        thread = request.query.get("thread_id")
        posted = Posted(DISCORD, channel, str(self._ids), data, files, thread)
        self._accept(posted)
        if request.query.get("wait") != "true":
            return await self._late(web.Response(status=204))
        return await self._late(self._discord_message_json(posted))

    def _discord_message_json(self, posted: Posted) -> web.Response:
        return self._discord_json(
            {
                "id": posted.id,
                "type": 0,
                "channel_id": posted.thread or "555",
                "webhook_id": posted.channel,
                "content": posted.body.get("content", ""),
                "embeds": posted.body.get("embeds", []),
                "attachments": [
                    {"id": str(i), "filename": n} for i, (n, _) in enumerate(posted.files)
                ],
            }
        )

    async def _discord_message(self, request: web.Request) -> web.Response:
        channel, token = request.match_info["channel"], request.match_info["token"]
        refused = self._discord_refusal(channel, token)
        if refused is not None:
            return refused
        found = [p for p in self.messages(DISCORD, channel) if p.id == request.match_info["mid"]]
        if not found:
            return self._discord_json({"message": "Unknown Message", "code": 10008}, 404)
        posted = found[0]
        if request.method == "PATCH":
            data = await request.json()
            problem = discord_problem(data, [name for name, _ in posted.files])
            if problem:
                return self._discord_json({"message": "Invalid Form Body", "code": 50035}, 400)
            posted.body = posted.body | data
            posted.edits += 1
        return self._discord_message_json(posted)

    # -- Slack ----------------------------------------------------------------------------

    async def _slack(self, request: web.Request) -> web.Response:
        self.requests[SLACK] += 1
        channel = request.match_info["channel"]

        def answer(text: str, status: int, **headers: str) -> web.Response:
            self.statuses[status] += 1
            return web.Response(text=text, status=status, headers=headers)

        if (SLACK, channel) in self.deleted:
            return answer("no_service", 404)
        fault = self._fault(SLACK, channel)
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return answer(fault.text or "rollup_error", fault.status, **headers)
        try:
            data = await request.json()
        except ValueError:
            return answer("invalid_payload", 400)
        if request.content_type != "application/json" or not isinstance(data, dict):
            return answer("invalid_payload", 400)
        problem = slack_problem(data)
        if problem:
            return answer(problem, 400)
        self._ids += 1
        self._accept(Posted(SLACK, channel, str(self._ids), data))
        return await self._late(web.Response(text="ok", status=200))

    # -- Teams ----------------------------------------------------------------------------

    async def _teams(self, request: web.Request) -> web.Response:
        self.requests[TEAMS] += 1
        channel = request.match_info["channel"]

        def error(code: str, status: int, **headers: str) -> web.Response:
            self.statuses[status] += 1
            return web.json_response(
                {"error": {"code": code, "message": f"fake {code}"}}, status=status, headers=headers
            )

        if request.query.get("sig") != SIG:
            return error("DirectApiAuthorizationRequired", 401)
        if (TEAMS, channel) in self.deleted:
            return error("WorkflowNotFound", 404)
        fault = self._fault(TEAMS, channel)
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return error(fault.text or "Fault", fault.status, **headers)
        raw = await request.read()
        if len(raw) > TEAMS_MAX:
            return error("MessageTooLarge", 413)
        try:
            data = json.loads(raw)
        except ValueError:
            return error("InvalidRequestContent", 400)
        problem = teams_problem(data)
        if problem:
            return error(problem, 400)
        self._ids += 1
        self._accept(Posted(TEAMS, channel, str(self._ids), data))
        return await self._late(web.Response(status=202))


# -- the platforms' rules -------------------------------------------------------------------


def _len(text: Any) -> int:
    return len(str(text).encode("utf-16-le")) // 2


def discord_problem(data: Any, files: list[str]) -> str:
    """What Discord would refuse in an execute's JSON ("" when nothing)."""
    if not isinstance(data, dict):
        return "body: not an object"
    embeds = data.get("embeds", [])
    if not data.get("content") and not embeds and not files:
        return "body: empty message"
    if not isinstance(embeds, list) or len(embeds) > 10:
        return "embeds: at most 10"
    total = 0
    for embed in embeds:
        title = embed.get("title", "")
        description = embed.get("description", "")
        fields = embed.get("fields", [])
        footer = embed.get("footer", {}).get("text", "")
        if _len(title) > 256 or _len(description) > 4096 or len(fields) > 25:
            return "embeds: over a limit"
        if _len(footer) > 2048:
            return "embeds.footer: over 2048"
        for f in fields:
            if _len(f["name"]) > 256 or _len(f["value"]) > 1024 or not f["value"]:
                return "embeds.fields: over a limit"
        total += _len(title) + _len(description) + _len(footer)
        total += sum(_len(f["name"]) + _len(f["value"]) for f in fields)
        image = embed.get("image", {}).get("url", "")
        if image.startswith("attachment://") and image.removeprefix("attachment://") not in files:
            return "embeds.image: names no uploaded file"
    if total > 6000:
        return "embeds: over 6000 in all"
    if len(str(data.get("content", ""))) > 2000:
        return "content: over 2000"
    return ""


def slack_problem(data: dict[str, Any]) -> str:
    """What an incoming webhook would refuse ("" when nothing)."""
    blocks = data.get("blocks")
    if not data.get("text") and not blocks:
        return "no_text"
    if blocks is None:
        return ""
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        kind = block.get("type")
        if kind == "header" and _len(block["text"]["text"]) > 150:
            return "invalid_blocks"
        if kind == "section":
            texts = [block["text"]] if "text" in block else block.get("fields", [])
            if any(_len(t["text"]) > 3000 for t in texts) or len(texts) > 10:
                return "invalid_blocks"
        if kind == "image" and not str(block.get("image_url", "")).startswith("https://"):
            return "invalid_blocks"
    return ""


def teams_problem(data: Any) -> str:
    """What a Workflows trigger posting a card would refuse ("" when nothing)."""
    if not isinstance(data, dict) or data.get("type") != "message":
        return "InvalidRequestContent"
    attachments = data.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return "InvalidRequestContent"
    card = attachments[0]
    if card.get("contentType") != "application/vnd.microsoft.card.adaptive":
        return "InvalidRequestContent"
    content = card.get("content", {})
    if content.get("type") != "AdaptiveCard" or not content.get("version"):
        return "InvalidRequestContent"
    if not isinstance(content.get("body"), list):
        return "InvalidRequestContent"
    return ""


def card_texts(posted: Posted) -> list[tuple[str, str]]:
    """Every text in a Teams card: (the element type holding it, the text)."""
    found: list[tuple[str, str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "text" in node and isinstance(node["text"], str):
                found.append((str(node.get("type")), node["text"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(posted.body)
    return found


# -- as its own process ---------------------------------------------------------------------


def _write(path: Path, fake: FakeHooks) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(fake.stats()), encoding="utf-8")
    tmp.replace(path)


async def serve(args: argparse.Namespace) -> None:
    fake = FakeHooks(port=args.port, delay=args.delay)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await fake.start()
    print(f"listening on {fake.port}", flush=True)
    try:
        await stop.wait()
    finally:
        await fake.stop()
        if args.state:
            _write(Path(args.state), fake)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="fake platform webhooks on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--state", help="write what was received to this JSON file")
    parser.add_argument("--delay", type=float, default=0.0, help="answer accepted posts late")
    asyncio.run(serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
