"""Nothing from data or users can ping or carry markup on any platform: fuzzed messages through
every renderer (Discord embed and content, Slack blocks and fallback, Matrix plain and HTML
bodies, console text)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.domain.messages import Field, Message
from tests.hostile.inert import check_all, check_discord, check_matrix, check_slack, check_text
from tests.hostile.support import ATTACKS, FUZZ

_piece = st.one_of(st.sampled_from(ATTACKS), st.text(max_size=30))
_text = st.lists(_piece, max_size=8).map("".join)
_long = st.one_of(_text, st.sampled_from(ATTACKS).map(lambda a: (a + " ") * 700))


@st.composite
def messages(draw: st.DrawFn) -> Message:
    fields = draw(
        st.lists(st.builds(Field, name=_text, value=_text, inline=st.booleans()), max_size=30)
    )
    return Message(
        title=draw(_long),
        body=draw(_long),
        fields=tuple(fields),
        footer=draw(_text),
        accent=draw(st.sampled_from(["milestone", "share", "growth", "record", "info", "error"])),
    )


@pytest.mark.parametrize("attack", ATTACKS)
def test_every_known_attack_is_inert_everywhere(attack: str) -> None:
    msg = Message(
        title=attack,
        body=f"before {attack} after\n{attack}",
        fields=(Field(attack, attack), Field("x", attack)),
        footer=attack,
    )
    check_all(msg)


@FUZZ
@given(msg=messages())
@example(msg=Message(title="@" * 300, body="<" * 5000, footer="@" * 3000))
@example(msg=Message(title="x", body=("\\" * 4095) + "@everyone"))
@example(msg=Message(title="x", body="&" * 4000, fields=(Field("&" * 400, "<" * 3000),)))
@example(
    msg=Message(title="", body="", fields=(Field("<", ""), Field("<", "x"), Field("@", "here")))
)
def test_fuzzed_messages_are_inert_everywhere(msg: Message) -> None:
    check_all(msg)


@FUZZ
@given(text=_long)
@example(text="#- item\n+ item\n* item\n1. item")
def test_cuts_never_leave_half_an_escape(text: str) -> None:
    """Truncation at a limit lands on every possible index over many examples: a cut must never
    separate `@`/`<` from its zero-width space, a backslash from what it escapes, or split an
    entity (each would re-arm a mention or markup)."""
    msg = Message(title=text, body=text * 3, fields=(Field(text, text * 2),), footer=text)
    check_discord(msg)
    check_slack(msg)
    check_matrix(msg)
    check_text(msg)
