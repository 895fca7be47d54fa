"""Commands typed in Matrix rooms, answered by the real matrix-nio sync loop against the fake
homeserver: `!ev-help` and `!ev-total`, power levels for `!ev-subscribe`, hostile text, rooms
left or banned from (told by /sync, with who and why), invitations, encrypted rooms."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.matrix.adapter import MatrixAdapter
from adapters.matrix.commands import command_text
from bot.commands.context import CommandContext
from bot.domain.channels import MISSING_ACCESS, Channel, DeliveryFailure
from bot.domain.messages import Message
from bot.domain.settings import ConfigError
from tests.fake_matrix import ADMIN, BOT, FakeMatrix
from tests.test_matrix_delivery import settings

USER = "@ana:fake.local"


class Served:
    """The adapter's sync loop running against the fake, and ways to talk to it."""

    def __init__(self, fake: FakeMatrix, adapter: MatrixAdapter) -> None:
        self.fake = fake
        self.adapter = adapter

    async def ask(self, room: str, text: str, user: str = USER) -> dict[str, Any]:
        """Type `text` in `room`; the bot's answer (its content), which replies to it."""
        asked = self.fake.say(room, user, text)
        await self.fake.wait_for(lambda: self.reply_to(room, asked) is not None)
        found = self.reply_to(room, asked)
        assert found is not None
        return found

    def reply_to(self, room: str, event_id: str) -> dict[str, Any] | None:
        for event in self.fake.messages_of(room):
            relates = event["content"].get("m.relates_to") or {}
            if (relates.get("m.in_reply_to") or {}).get("event_id") == event_id:
                content: dict[str, Any] = event["content"]
                return content
        return None


@pytest.fixture
async def served(fake_matrix: FakeMatrix, demo_ctx: CommandContext) -> AsyncIterator[Served]:
    adapter = MatrixAdapter(settings(fake_matrix, sync_timeout=5.0))
    stopping = asyncio.Event()
    task = asyncio.create_task(adapter.serve(demo_ctx, stopping))
    try:
        await asyncio.wait_for(adapter.server.synced.wait(), 20)
        yield Served(fake_matrix, adapter)
    finally:
        stopping.set()
        await asyncio.wait_for(task, 20)
        await adapter.close()


@pytest.fixture
def room(fake_matrix: FakeMatrix) -> str:
    made = fake_matrix.room("evs")
    fake_matrix.join(made, USER)
    return made


async def test_commands_typed_in_a_room_are_answered_there(
    fake_matrix: FakeMatrix, room: str, served: Served
) -> None:
    help_ = await served.ask(room, "!ev-help")
    assert help_["msgtype"] == "m.notice" and help_["m.mentions"] == {}
    assert "!ev-total" in help_["body"] and "!ev-subscribe" in help_["body"]
    assert "/ev-" not in help_["body"] and "/ev-" not in help_["formatted_body"]
    total = await served.ask(room, "!ev-total nissan leaf")
    assert "Nissan Leaf" in total["body"] and "Nissan Leaf" in total["formatted_body"]
    unknown = await served.ask(room, "!ev-totl nissan leaf")
    assert "!ev-total" in unknown["body"]  # did you mean, as typed here
    fake_matrix.say(room, USER, "just chatting about !ev-total")  # not a command: no answer
    await served.ask(room, "!ev-help")
    assert len(fake_matrix.messages_of(room)) == 4


async def test_what_was_typed_before_the_bot_started_is_not_answered(
    fake_matrix: FakeMatrix, room: str, demo_ctx: CommandContext
) -> None:
    before = fake_matrix.say(room, USER, "!ev-help")
    adapter = MatrixAdapter(settings(fake_matrix, sync_timeout=5.0))
    stopping = asyncio.Event()
    task = asyncio.create_task(adapter.serve(demo_ctx, stopping))
    try:
        await asyncio.wait_for(adapter.server.synced.wait(), 20)
        served = Served(fake_matrix, adapter)
        await served.ask(room, "!ev-help")
        assert served.reply_to(room, before) is None
    finally:
        stopping.set()
        await asyncio.wait_for(task, 20)
        await adapter.close()


async def test_subscribing_needs_power_level_50_in_the_room(
    fake_matrix: FakeMatrix, room: str, served: Served, demo_ctx: CommandContext
) -> None:
    refused = await served.ask(room, "!ev-subscribe nissan leaf")
    assert "power level 50" in refused["body"]
    assert not await demo_ctx.store.subscriptions()
    fake_matrix.set_level(room, USER, 50)
    done = await served.ask(room, "!ev-subscribe nissan leaf")
    assert "power level" not in done["body"]
    (sub,) = await demo_ctx.store.subscriptions()
    assert sub.spec.channel == Channel("matrix", "default", room)
    fake_matrix.set_level(room, USER, 49)
    again = await served.ask(room, "!ev-unsubscribe nissan leaf")
    assert "power level 50" in again["body"]
    assert len(await demo_ctx.store.subscriptions()) == 1


async def test_hostile_text_in_a_command_comes_back_inert(room: str, served: Served) -> None:
    answer = await served.ask(
        room, '!ev-total @room <a href="https://matrix.to/#/@admin:fake.local">x</a> <b>hi</b>'
    )
    for text in (answer["body"], answer["formatted_body"]):
        assert "@room" not in text and "@admin" not in text
    assert "<a " not in answer["formatted_body"] and "<b>" not in answer["formatted_body"]
    assert answer["m.mentions"] == {}


async def test_a_room_the_bot_is_removed_from_pauses_deliveries_with_who_and_why(
    fake_matrix: FakeMatrix, room: str, served: Served
) -> None:
    fake_matrix.ban(room, by=ADMIN, reason="too chatty")
    said = f"the bot was banned from the room by {ADMIN} (reason: too chatty)"
    await fake_matrix.wait_for(lambda: served.adapter.gone.get(room) is not None)
    assert served.adapter.gone[room] == said
    with pytest.raises(DeliveryFailure) as caught:
        await served.adapter.post(
            Channel("matrix", "default", room), Message(title="t", body="b"), "evbot-delivery-1"
        )
    assert (caught.value.reason, caught.value.detail) == (MISSING_ACCESS, said)


async def test_invitations_are_accepted_and_encrypted_rooms_are_told_once(
    fake_matrix: FakeMatrix, served: Served
) -> None:
    invited = fake_matrix.room("invited", bot="invite")
    await fake_matrix.wait_for(lambda: fake_matrix.rooms[invited].membership(BOT) == "join")
    fake_matrix.join(invited, USER)
    assert "Nissan Leaf" in (await served.ask(invited, "!ev-total nissan leaf"))["body"]

    secret = fake_matrix.room("secret", encrypted=True)
    fake_matrix.join(secret, USER)
    await asyncio.sleep(0)  # the sync sees the room and its encryption first

    def notices() -> list[dict[str, Any]]:
        return fake_matrix.messages_of(secret)

    fake_matrix.say_encrypted(secret, USER)
    await fake_matrix.wait_for(lambda: len(notices()) == 1)
    assert "end-to-end encrypted" in notices()[0]["content"]["body"]
    fake_matrix.say_encrypted(secret, USER)
    await served.ask(invited, "!ev-help")  # the sync went past the second one
    assert len(notices()) == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("!ev-total nissan leaf", "/ev-total nissan leaf"),
        ("  !EV-help\nsecond line", "/EV-help"),
        ("> <@x:y> !ev-total\n\nthanks", None),
        ("ev-total", None),
        ("hello !ev-total", None),
    ],
)
def test_a_command_is_a_text_message_that_starts_with_bang_ev(
    body: str, expected: str | None
) -> None:
    event = {"type": "m.room.message", "content": {"msgtype": "m.text", "body": body}}
    assert command_text(event) == expected
    notice = {"type": "m.room.message", "content": {"msgtype": "m.notice", "body": body}}
    assert command_text(notice) is None
    edit: dict[str, Any] = {
        "type": "m.room.message",
        "content": {"msgtype": "m.text", "body": body, "m.relates_to": {"rel_type": "m.replace"}},
    }
    assert command_text(edit) is None


async def test_a_chart_is_uploaded_and_sent_after_its_answer_even_when_rate_limited(
    fake_matrix: FakeMatrix, room: str, served: Served
) -> None:
    fake_matrix.limit(1, retry_after_ms=100)  # the answer is held once: sent after the wait
    answer = await served.ask(room, "!ev-chart nissan leaf")
    assert fake_matrix.limited == 1
    await fake_matrix.wait_for(lambda: len(fake_matrix.messages_of(room)) == 2)
    image = fake_matrix.messages_of(room)[-1]["content"]
    assert answer["msgtype"] == "m.notice" and image["msgtype"] == "m.image"
    assert "Nissan Leaf" in image["body"]  # the alt text
    assert fake_matrix.media[image["url"].removeprefix("mxc://fake.local/")].startswith(b"\x89PNG")


async def test_a_token_the_homeserver_refuses_stops_the_command_loop_saying_so(
    fake_matrix: FakeMatrix, demo_ctx: CommandContext
) -> None:
    adapter = MatrixAdapter(settings(fake_matrix, access_token="syt_revoked"))
    try:
        with pytest.raises(ConfigError, match=r"access_token: the homeserver refused it .*TOKEN"):
            await asyncio.wait_for(adapter.serve(demo_ctx, asyncio.Event()), 20)
    finally:
        await adapter.close()
