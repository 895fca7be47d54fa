from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.discord.render import (
    ALLOWED_MENTIONS_NONE,
    COLOURS,
    MAX_DESCRIPTION,
    MAX_EMBED_TOTAL,
    MAX_FIELD_NAME,
    MAX_FIELD_VALUE,
    MAX_FIELDS,
    MAX_FOOTER,
    MAX_TITLE,
    escape_discord,
    image_filename,
    render_embed,
    split_content,
)
from adapters.slack.render import (
    MAX_BLOCKS,
    MAX_FALLBACK,
    MAX_FIELD_TEXT,
    MAX_FIELDS_PER_SECTION,
    MAX_HEADER,
    MAX_TEXT,
    escape_mrkdwn,
    render_blocks,
)
from adapters.text import clean_text, render_text, utf16_len
from bot.domain.announcer import announce
from bot.domain.events import Leader, MilestoneEvent, Subject
from bot.domain.messages import ACCENTS, Field, Message
from bot.domain.periods import Month
from bot.domain.rungs import listed_range

ROOT = Path(__file__).resolve().parents[1]
ZWSP = "\u200b"
EVIL_MODEL = "@everyone <!channel> <@&123> **x** [link](http://x)"
EVIL_SUBJECT = "Leaf @here <@123> <#1> <!here> <!subteam^S1> ```rm -rf``` \x1b[31mred\x1b[0m"
MENTIONS = ("@everyone", "@here", "<@", "<!", "<#")
MARKUP = ("**x**", "[link](", "```")
OKABE_ITO = {0xE69F00, 0x56B4E9, 0x009E73, 0xF0E442, 0x0072B2, 0xD55E00, 0xCC79A7, 0x000000}


def evil_message() -> Message:
    """A realistic path: hostile names in imported data, announced as usual."""
    event = MilestoneEvent(
        subject=Subject("model", "model:evil", EVIL_MODEL),
        region="World",
        metric="sales",
        thresholds=listed_range([250_000]),
        period=Month(2015, 6),
        value=251_100,
        source=EVIL_SUBJECT,
        leader=Leader(EVIL_SUBJECT, 180_400, 0.72),
        next_threshold=300_000,
    )
    msg = announce(event)
    return Message(
        title=msg.title,
        body=f"{msg.body}\n{EVIL_SUBJECT}",
        fields=(*msg.fields, Field(EVIL_SUBJECT, EVIL_MODEL)),
        footer=msg.footer,
        accent=msg.accent,
    )


def strings(obj: object) -> list[str]:
    """Every string inside a JSON-like structure."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for value in obj.values() for s in strings(value)]
    if isinstance(obj, list | tuple):
        return [s for value in obj for s in strings(value)]
    return []


def discord_visible(text: str) -> str:
    """What a Discord user sees: escapes consumed, zero-width spaces invisible."""
    return re.sub(r"\\(.)", r"\1", text.replace(ZWSP, ""), flags=re.DOTALL)


LOOKALIKES_BACK = str.maketrans({"\u2217": "*", "\u02cd": "_", "\u223c": "~", "\u02cb": "`"})


def slack_visible(text: str) -> str:
    """What a Slack user reads: entities decoded, look-alikes read as the characters they mimic."""
    text = text.replace(ZWSP, "").translate(LOOKALIKES_BACK)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def assert_no_mentions(texts: list[str]) -> None:
    for text in texts:
        for bad in MENTIONS:
            assert bad not in text, (bad, text)


def mrkdwn_texts(blocks: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []

    def walk(obj: object) -> None:
        if isinstance(obj, dict):
            if obj.get("type") == "mrkdwn":
                out.append(obj["text"])
            for value in obj.values():
                walk(value)
        elif isinstance(obj, list):
            for value in obj:
                walk(value)

    walk(blocks)
    return out


# --- escaping -------------------------------------------------------------------------------


def test_escape_discord_neutralises_mentions_and_markdown() -> None:
    out = escape_discord(EVIL_MODEL)
    assert_no_mentions([out])
    for bad in MARKUP:
        assert bad not in out
    assert "@\u200beveryone" in out
    assert discord_visible(out) == EVIL_MODEL


def test_escape_discord_line_start_markers() -> None:
    out = escape_discord("# Heading\n- item\n1. first\n> quote\n-# subtext")
    assert out == "\\# Heading\n\\- item\n1\\. first\n\\> quote\n\\-\\# subtext"


def test_escape_discord_without_markdown_keeps_text_literal() -> None:
    assert escape_discord("a_b **c** <@1>", markdown=False) == "a_b **c** <\u200b@\u200b1>"


def test_escape_mrkdwn() -> None:
    out = escape_mrkdwn("<!channel> <!here> <@U123> <!subteam^S1> a & b <http://x|click>")
    assert out == (
        "&lt;!channel&gt; &lt;!here&gt; &lt;@\u200bU123&gt; &lt;!subteam^S1&gt; a &amp; b"
        " &lt;http://x|click&gt;"
    )
    assert escape_mrkdwn("*b* _i_ ~s~ `c`") == "∗b∗ ˍiˍ ∼s∼ ˋcˋ"
    assert escape_mrkdwn("> quote\nok > not") == "\u200b&gt; quote\nok &gt; not"
    assert escape_mrkdwn("@everyone @here") == "@\u200beveryone @\u200bhere"


def test_clean_text_strips_terminal_escapes() -> None:
    assert clean_text("\x1b[31mred\x1b[0m") == "red"
    assert clean_text("\x1b]0;pwned\x07title") == "title"
    assert clean_text("\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\") == "click"
    assert clean_text("\x9b2Jx\x1bcy") == "xy"
    assert clean_text("a\u202eb\u2066c") == "abc"
    assert clean_text("a\rb\x00c\x07d\x7fe") == "abcde"
    assert clean_text("one\ntwo\tthree", keep_newlines=False) == "one two three"


# --- each renderer with hostile data ---------------------------------------------------------


def test_text_renderer_is_inert() -> None:
    out = render_text(evil_message())
    assert "\x1b" not in out
    assert "[31m" not in out
    assert_no_mentions([out])
    visible = out.replace(ZWSP, "")
    assert EVIL_MODEL in visible
    assert "```rm -rf``` red" in visible


def test_text_renderer_layout() -> None:
    msg = Message("Title", "Body line", (Field("Total", "1"), Field("Period", "June 2015")), "Foot")
    assert render_text(msg) == "Title\n=====\n\nBody line\n\nTotal: 1\nPeriod: June 2015\n\nFoot\n"


def test_discord_renderer_is_inert() -> None:
    msg = evil_message()
    embed = render_embed(msg)
    marked = [embed["title"], embed["description"]]
    marked += [s for f in embed["fields"] for s in (f["name"], f["value"])]
    assert_no_mentions([*marked, embed["footer"]["text"]])
    for text in marked:
        for bad in (*MARKUP, "\x1b"):
            assert bad not in text, (bad, text)
    assert discord_visible(embed["title"]) == msg.title
    assert EVIL_MODEL in discord_visible(embed["description"])
    assert "red" in embed["description"] and "[31m" not in embed["description"]
    assert "\x1b" not in embed["footer"]["text"]
    for chunk in split_content(msg.body):
        assert_no_mentions([chunk])
        assert "**x**" not in chunk


def test_discord_embed_shape() -> None:
    msg = Message(
        "Title",
        "Body",
        (Field("Total", "251,100"), Field("Period", "June 2015", inline=False)),
        "Source: X",
        accent="record",
        image=b"\x89PNG",
        image_name="chart.png",
    )
    assert render_embed(msg) == {
        "type": "rich",
        "color": 0xE69F00,
        "title": "Title",
        "description": "Body",
        "fields": [
            {"name": "Total", "value": "251,100", "inline": True},
            {"name": "Period", "value": "June 2015", "inline": False},
        ],
        "footer": {"text": "Source: X"},
        "image": {"url": "attachment://chart.png"},
    }
    assert image_filename(msg) == "chart.png"
    hostile = Message("t", "b", image=b"x", image_name="../../<@1>.png")
    assert image_filename(hostile) == "1_.png"


def test_discord_colours_are_okabe_ito() -> None:
    assert set(COLOURS) == ACCENTS
    assert set(COLOURS.values()) <= OKABE_ITO
    assert len(set(COLOURS.values())) == len(COLOURS)


def test_allowed_mentions_none() -> None:
    assert ALLOWED_MENTIONS_NONE == {"parse": [], "users": [], "roles": [], "replied_user": False}


def test_slack_renderer_is_inert() -> None:
    msg = evil_message()
    blocks, fallback = render_blocks(msg)
    assert_no_mentions([*strings(blocks), fallback])
    for text in [*mrkdwn_texts(blocks), fallback]:
        # Slack mrkdwn has no [text](url) links; its links are <url|text>, made inert by &lt;.
        for bad in ("**x**", "```", "`", "<http", "\x1b"):
            assert bad not in text, (bad, text)
    header = blocks[0]["text"]["text"]
    assert header.replace(ZWSP, "") == msg.title
    assert EVIL_MODEL in slack_visible(blocks[1]["text"]["text"])
    assert slack_visible(fallback).startswith(msg.title + "\n")


def test_slack_blocks_shape() -> None:
    msg = Message("Title", "Body", (Field("Total", "251,100"),), "Source: X")
    blocks, fallback = render_blocks(msg)
    assert blocks == [
        {"type": "header", "text": {"type": "plain_text", "text": "Title"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "Body", "verbatim": True}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": "*Total*\n251,100", "verbatim": True}],
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "Source: X", "verbatim": True}],
        },
    ]
    assert fallback == "Title\nBody"


# --- limits -------------------------------------------------------------------------------


def absurd_message(unit: str = "A") -> Message:
    fields = tuple(Field(f"{unit}name{i}" * 50, f"@everyone {unit}" * 500) for i in range(10_000))
    return Message(
        title=unit * 100_000,
        body=("@everyone **bold** " + unit * 50 + "\n") * 5_000,
        fields=fields,
        footer=unit * 100_000,
    )


def check_embed_limits(embed: dict[str, Any]) -> None:
    total = 0
    assert utf16_len(embed.get("title", "")) <= MAX_TITLE
    assert utf16_len(embed.get("description", "")) <= MAX_DESCRIPTION
    assert utf16_len(embed.get("footer", {}).get("text", "")) <= MAX_FOOTER
    fields = embed.get("fields", [])
    assert len(fields) <= MAX_FIELDS
    for field in fields:
        assert 1 <= utf16_len(field["name"]) <= MAX_FIELD_NAME
        assert 1 <= utf16_len(field["value"]) <= MAX_FIELD_VALUE
        total += utf16_len(field["name"]) + utf16_len(field["value"])
    total += utf16_len(embed.get("title", "")) + utf16_len(embed.get("description", ""))
    total += utf16_len(embed.get("footer", {}).get("text", ""))
    assert total <= MAX_EMBED_TOTAL


def check_slack_limits(blocks: list[dict[str, Any]], fallback: str) -> None:
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        if block["type"] == "header":
            assert 1 <= utf16_len(block["text"]["text"]) <= MAX_HEADER
        elif block["type"] == "section" and "fields" in block:
            assert 1 <= len(block["fields"]) <= MAX_FIELDS_PER_SECTION
            for field in block["fields"]:
                assert 1 <= utf16_len(field["text"]) <= MAX_FIELD_TEXT
        elif block["type"] == "section":
            assert 1 <= utf16_len(block["text"]["text"]) <= MAX_TEXT
        else:
            assert block["type"] == "context"
            for element in block["elements"]:
                assert 1 <= utf16_len(element["text"]) <= MAX_TEXT
    assert utf16_len(fallback) <= MAX_FALLBACK


@pytest.mark.parametrize("unit", ["A", "😀", "&", "@", "*", "\\"])
def test_absurd_inputs_fit_discord(unit: str) -> None:
    embed = render_embed(absurd_message(unit))
    check_embed_limits(embed)
    assert embed["title"].endswith("…")
    assert embed["footer"]["text"].endswith("…")
    assert_no_mentions(strings(embed))


@pytest.mark.parametrize("unit", ["A", "😀", "&", "@", "*", "\\"])
@pytest.mark.slow
def test_absurd_inputs_fit_slack(unit: str) -> None:
    blocks, fallback = render_blocks(absurd_message(unit))
    check_slack_limits(blocks, fallback)
    assert blocks[0]["text"]["text"].endswith("…")
    assert blocks[-1]["type"] == "context"
    assert_no_mentions([*strings(blocks), fallback])


def test_absurd_inputs_fit_text() -> None:
    out = render_text(absurd_message())
    title = out.split("\n", 1)[0]
    assert len(title) <= 256 and title.endswith("…")
    assert "… and 9975 more" in out
    assert_no_mentions([out])


def test_many_fields_keep_a_count_of_the_rest() -> None:
    fields = tuple(Field(f"F{i}", str(i)) for i in range(100))
    embed = render_embed(Message("t", "b", fields))
    assert len(embed["fields"]) == MAX_FIELDS
    assert embed["fields"][-1]["value"] == "76 more"
    blocks, _ = render_blocks(Message("t", "b", fields))
    texts = [f["text"] for b in blocks if "fields" in b for f in b["fields"]]
    assert len(texts) == 100


def test_split_content() -> None:
    assert split_content("") == []
    assert split_content("hello") == ["hello"]
    parts = split_content("line one\nline two\nline three", limit=18)
    assert parts == ["line one\nline two\n", "line three"]
    parts = split_content("a" * 4_500)
    assert [len(p) for p in parts] == [2_000, 2_000, 500]
    with pytest.raises(ValueError):
        split_content("x", limit=1)


def test_split_content_never_splits_an_escape() -> None:
    parts = split_content("*" * 101, limit=10)
    for part in parts:
        assert len(part) <= 10
        assert re.fullmatch(r"(\\\*)+", part), part


# --- fuzz -------------------------------------------------------------------------------------

TRICKY = st.sampled_from(
    [
        "@everyone",
        "@here",
        "@",
        "<",
        ">",
        "<@",
        "<!",
        "<#",
        "<@&1>",
        "&",
        "&amp;",
        "&lt;",
        "\\",
        "*",
        "_",
        "~",
        "`",
        "|",
        "#",
        "-",
        "1.",
        "[x](http://y)",
        "\x1b[31m",
        "\x1b]",
        "\x00",
        "\r",
        "\n",
        " ",
        "\u200b",
        "\u202e",
        "😀",
        "a",
        "everyone",
        "here",
    ]
)
TEXT = st.one_of(
    st.text(),
    st.lists(TRICKY, max_size=40).map("".join),
    st.tuples(st.lists(TRICKY, min_size=1, max_size=8).map("".join), st.integers(1, 800)).map(
        lambda pair: pair[0] * pair[1]
    ),
)
MESSAGES = st.builds(
    Message,
    title=TEXT,
    body=TEXT,
    fields=st.lists(st.builds(Field, TEXT, TEXT, st.booleans()), max_size=40).map(tuple),
    footer=TEXT,
    accent=st.sampled_from(sorted(ACCENTS)),
)
DISCORD_ESCAPED = re.compile(r"(?:[^\\]|\\[\\*_~`|>\[\]()#+.\-])*", re.DOTALL)
SLACK_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


@settings(max_examples=300, deadline=None)
@given(MESSAGES)
@pytest.mark.slow
def test_fuzz_text(msg: Message) -> None:
    out = render_text(msg)
    assert_no_mentions([out])
    assert "\x1b" not in out and "\x9b" not in out
    assert all(ch in "\n" or ord(ch) >= 0x20 for ch in out)


@settings(max_examples=300, deadline=None)
@given(MESSAGES)
def test_fuzz_discord(msg: Message) -> None:
    embed = render_embed(msg)
    check_embed_limits(embed)
    texts = strings(embed)
    assert_no_mentions(texts)
    marked = [embed.get("title", ""), embed.get("description", "")]
    marked += [s for f in embed.get("fields", []) for s in (f["name"], f["value"])]
    for text in marked:
        assert DISCORD_ESCAPED.fullmatch(text), text


@settings(max_examples=300, deadline=None)
@given(TEXT, st.integers(2, 300))
def test_fuzz_split_content(text: str, limit: int) -> None:
    parts = split_content(text, limit)
    for part in parts:
        assert 1 <= utf16_len(part) <= limit
        assert part.strip()
        assert DISCORD_ESCAPED.fullmatch(part), part
    assert_no_mentions(parts)
    joined = "".join("".join(parts).split())
    assert joined == "".join(escape_discord(text).split())


@settings(max_examples=300, deadline=None)
@given(MESSAGES)
@pytest.mark.slow
def test_fuzz_slack(msg: Message) -> None:
    blocks, fallback = render_blocks(msg)
    check_slack_limits(blocks, fallback)
    assert_no_mentions([*strings(blocks), fallback])
    for text in [*mrkdwn_texts(blocks), fallback]:
        assert not SLACK_ENTITY.search(text), text
        assert "`" not in text and "~" not in text and "_" not in text


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_fuzz_escapers_round_trip(text: str) -> None:
    cleaned = clean_text(text).replace(ZWSP, "")
    assert discord_visible(escape_discord(text)) == cleaned
    assert slack_visible(escape_mrkdwn(text)) == cleaned.translate(LOOKALIKES_BACK)


# --- layering ---------------------------------------------------------------------------------

FORBIDDEN = {"discord", "slack_bolt", "slack_sdk"}
PURE_FILES = [
    "bot/domain/messages.py",
    "bot/domain/formatting.py",
    "bot/domain/announcer.py",
    "bot/domain/headlines.py",
    "bot/domain/news_words.py",
    "adapters/text.py",
    "adapters/discord/render.py",
    "adapters/slack/render.py",
]


@pytest.mark.parametrize("path", PURE_FILES)
def test_renderers_and_core_do_not_import_platform_libraries(path: str) -> None:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN


RENDERERS: list[Callable[[Message], object]] = [render_text, render_embed, render_blocks]


@pytest.mark.parametrize("render", RENDERERS)
def test_empty_message_renders(render: Callable[[Message], object]) -> None:
    render(Message("", ""))
