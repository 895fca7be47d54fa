"""Announcements in the reader's language: every catalog complete and in step with the code,
every kind of event told in each language through each renderer, the place phrases each
language writes its own way, and `evbot replay --locale`."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from adapters.discord.render import render_embed
from adapters.slack.render import render_blocks
from adapters.text import render_text
from adapters.webhook import payload
from bot.charts.data import CumulativeData, Frame
from bot.charts.render import font_families
from bot.charts.render import render as draw_chart
from bot.cli.main import main
from bot.domain.announcer import announce, announce_digest, announce_group, following_message
from bot.domain.channels import Channel
from bot.domain.events import (
    CorrectionEvent,
    Event,
    GrowthEvent,
    Leader,
    MilestoneEvent,
    RecordEvent,
    ShareEvent,
    Subject,
)
from bot.domain.headlines_corrections import chart_alt, corrected, correction_marker
from bot.domain.i18n import (
    ERROR_KEYWORDS,
    LANGUAGES,
    LocalizedError,
    catalog_path,
    language_of,
    t,
    translations,
)
from bot.domain.messages import Message as ChatMessage
from bot.domain.periods import Month
from bot.domain.places import in_place, where_in
from bot.domain.rungs import listed_range

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {
    "t": (2,),
    "tn": (2, 3),
    "tp": ((2, "c"), 3),
    "N_": ((1, "c"), 2),
    **{name: (1,) for name in ERROR_KEYWORDS},
}
TRANSLATED = [lang for lang in LANGUAGES if lang != "en"]


def catalog(lang: str) -> Catalog:
    with catalog_path(lang).open("rb") as f:
        return read_po(f, locale=lang)


def fields(text: str) -> set[str]:
    """The placeholders of a message, as `str.format` reads them."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def entries(cat: Catalog) -> Iterator[Message]:
    return (m for m in cat if m.id)


def key(m: Message) -> tuple[str | None, str]:
    return (m.context, m.id[0] if isinstance(m.id, tuple) else m.id)


# -- the catalogs --------------------------------------------------------------------------


def every_error_class() -> set[str]:
    """The names of every `LocalizedError` class in the bot, once all its modules are imported."""
    for info in pkgutil.walk_packages([str(ROOT / "bot")], prefix="bot."):
        if not info.name.endswith("__main__"):  # running it would start the CLI
            importlib.import_module(info.name)
    found: set[str] = set()
    todo = [LocalizedError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_is_an_extraction_keyword() -> None:
    """An error class missing from `ERROR_KEYWORDS` would have its messages left untranslated."""
    assert every_error_class() <= set(ERROR_KEYWORDS)


def test_an_error_is_told_in_the_reader_s_language() -> None:
    class Refused(LocalizedError):
        pass

    error = Refused("Cannot do that")
    assert str(error) == "Cannot do that"
    assert error.text("de") == t("de", "Cannot do that") != "Cannot do that"


def test_the_template_holds_every_message_the_code_asks_for() -> None:
    """`bot/locales/evbot.pot` is what `pybabel extract` makes of the code today."""
    found: set[tuple[str | None, str]] = set()
    for package in ("bot", "adapters"):  # as babel.cfg reads them: adapters tell errors too
        for _, _, message, _, context in extract_from_dir(
            str(ROOT / package),
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,  # type: ignore[arg-type]
        ):
            found.add((context, message[0] if isinstance(message, tuple) else message))
    with (ROOT / "bot" / "locales" / "evbot.pot").open("rb") as f:
        template = {key(m) for m in entries(read_po(f))}
    assert found - template == set(), "run pybabel extract (README 'Translations')"
    assert template - found == set(), "the template holds messages the code no longer asks"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_catalog_is_complete_and_keeps_every_placeholder(lang: str) -> None:
    with (ROOT / "bot" / "locales" / "evbot.pot").open("rb") as f:
        template = {key(m) for m in entries(read_po(f))}
    cat = catalog(lang)
    assert {key(m) for m in entries(cat)} == template
    for m in entries(cat):
        where = f"{lang}: {m.id!r}"
        assert not m.fuzzy, f"{where} is fuzzy"
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        assert all(s for s in strings), f"{where} is untranslated"
        if isinstance(m.id, tuple):
            assert len(strings) == cat.num_plurals, f"{where}: {len(strings)} plural forms"
        wanted = set().union(*(fields(i) for i in ids))
        for text in strings:
            assert fields(text) == wanted, f"{where}: placeholders {fields(text)} != {wanted}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_correction_starts_with_the_marker_in_its_language(lang: str) -> None:
    """`corrected` finds an earlier note by the marker: every correction sentence has it."""
    marker = correction_marker(lang)
    assert marker != "Correction: "
    for m in entries(catalog(lang)):
        if isinstance(m.id, str) and m.id.startswith("Correction: ") and m.context is None:
            assert isinstance(m.string, str) and m.string.startswith(marker), m.string


def test_a_locale_reads_its_language_and_english_without_a_catalog() -> None:
    assert [language_of(x) for x in ("nb_NO", "no", "nn", "de-AT", "fr_CA", "ja_JP")] == [
        "nb",
        "nb",
        "nb",
        "de",
        "fr",
        "ja",
    ]
    assert language_of("sv") == language_of("en_GB") == "en"
    # a message a catalog lacks reads as written
    assert t("nb", "Not in any catalog: {x}", x=1) == "Not in any catalog: 1"
    assert translations("nb") is translations("nb")  # compiled once


# -- every event, every language, every renderer ------------------------------------------

ALLIANCE = Subject("group", "group:renault-nissan-alliance", "Renault-Nissan Alliance")
NISSAN = Subject("make", "make:nissan", "Nissan")
LEAF = Subject("model", "model:nissan/leaf", "Nissan Leaf")
ALL = Subject("all", "all", "all EVs")
JUNE = Month(2015, 6)


def events() -> list[Event]:
    """One event of each kind and wording: subject kinds, metrics, directions, years."""
    out: list[Event] = []
    for subject in (ALL, LEAF, NISSAN):
        for metric in ("sales", "stock"):
            out.append(
                MilestoneEvent(
                    subject,
                    "Norway",
                    metric,  # type: ignore[arg-type]
                    listed_range([10_000, 25_000, 50_000, 100_000, 250_000]),
                    JUNE,
                    251_100,
                    source="OFV",
                    leader=Leader("Nissan Leaf", 180_400, 0.7184),
                    next_threshold=300_000,
                    projected=Month(2016, 1),
                    told_as=ALLIANCE if subject is NISSAN else None,
                )
            )
            for previous, value in ((0, 10), (100, 100), (100, 150), (100, 50)):
                for granularity in ("month", "year"):
                    out.append(
                        GrowthEvent(
                            subject,
                            "USA",
                            metric,  # type: ignore[arg-type]
                            JUNE,
                            value,
                            previous,
                            granularity=granularity,  # type: ignore[arg-type]
                        )
                    )
            for granularity in ("month", "year"):
                out.append(
                    RecordEvent(
                        subject,
                        "World",
                        metric,  # type: ignore[arg-type]
                        JUNE,
                        4_000,
                        3_000,
                        Month(2015, 3),
                        granularity=granularity,  # type: ignore[arg-type]
                    )
                )
            for reason in ("moved", "fell_below", "restored"):
                out.append(
                    CorrectionEvent(
                        subject,
                        "World",
                        metric,  # type: ignore[arg-type]
                        250_000,
                        reason,  # type: ignore[arg-type]
                        JUNE,
                        249_000,
                        Month(2015, 5),
                        250_100,
                        new_period=Month(2015, 7) if reason != "fell_below" else None,
                        covers=("USA", "Norway"),
                    )
                )
    for parent in (ALL, NISSAN):
        for metric in ("sales", "stock"):
            for direction, share in (("up", 0.52), ("down", 0.48)):
                out.append(
                    ShareEvent(
                        LEAF,
                        parent,
                        "Netherlands",
                        metric,  # type: ignore[arg-type]
                        direction,  # type: ignore[arg-type]
                        0.5,
                        share,
                        480,
                        1_000,
                        JUNE,
                    )
                )
    return out


EVENTS = events()
CHANNEL = Channel("webhook", "local", "news")
RENDERERS: dict[str, Callable[[ChatMessage], Any]] = {
    "console": render_text,
    "discord": render_embed,
    "slack": render_blocks,
    "webhook": lambda m: payload(CHANNEL, m, "k1"),
}


def texts(message: ChatMessage) -> list[str]:
    return [
        message.title,
        message.body,
        message.footer,
        *(f.name for f in message.fields),
        *(f.value for f in message.fields),
    ]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_event_kind_is_told_in_each_language_through_each_renderer(lang: str) -> None:
    seen: set[str] = set()
    for event in EVENTS:
        message = announce(event, lang)
        english = announce(event, "en")
        for text in texts(message):
            assert "{" not in text and "}" not in text, (lang, text)
        if lang != "en":
            assert message.title != english.title, (lang, message.title)
            assert message.body != english.body, (lang, message.body)
        for name, render in RENDERERS.items():
            rendered = repr(render(message))
            assert rendered, (lang, name)
        seen.add(event.kind)
    assert seen == {"milestone", "share", "growth", "record", "correction"}

    def others(loc: str) -> list[ChatMessage]:
        return [
            announce_group(EVENTS[:6], loc),
            announce_digest(EVENTS, loc, ""),
            following_message("Nissan Leaf", 185_000, JUNE, 200_000, Month(2015, 9), loc),
        ]

    for message, english in zip(others(lang), others("en"), strict=True):
        for name, render in RENDERERS.items():
            assert render(message), (lang, name)
        if lang != "en":
            assert message.body != english.body, (lang, message.kind)
    milestone = EVENTS[0]
    assert isinstance(milestone, MilestoneEvent)
    assert "{" not in chart_alt(milestone, lang)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_a_corrected_announcement_keeps_its_marker_and_replaces_an_earlier_note(
    lang: str,
) -> None:
    original = announce(EVENTS[0], lang)
    moved = [e for e in EVENTS if isinstance(e, CorrectionEvent) and e.reason == "moved"]
    once = corrected(original, moved[:1], lang)
    twice = corrected(once, moved[1:2], lang)
    assert once.title == twice.title != original.title
    assert twice.body.count(correction_marker(lang)) == 1
    assert twice.body.startswith(original.body)


def test_the_prose_reads_as_each_newsroom_writes_it() -> None:
    milestone = MilestoneEvent(
        ALLIANCE, "World", "sales", listed_range([250_000]), JUNE, 251_100, source="EV Volumes"
    )
    assert announce(milestone, "nb").body == (
        "Renault-Nissan Alliance har passert 250\xa0000 solgte elbiler"
        " (251\xa0100 til og med juni 2015)."
    )
    assert announce(milestone, "de").title == (
        "Renault-Nissan Alliance überschreitet 250.000 verkaufte Elektroautos"
    )
    assert announce(milestone, "fr").footer == "Source : EV Volumes · données jusqu’à juin 2015"
    assert (
        announce(milestone, "ja").title == "Renault-Nissan Alliance、電気自動車販売250,000台を突破"
    )
    group = announce_group(EVENTS[:4], "nl")
    assert "Verder nog 3 berichten:" in group.body


def test_place_phrases_take_each_language_s_preposition() -> None:
    assert in_place("USA", "en") == " in the USA"
    assert in_place("USA", "fr") == " aux États-Unis"
    assert in_place("Norway", "fr") == " en Norvège"
    assert in_place("Japan", "fr") == " au Japon"
    assert in_place("USA", "de") == " in den USA"
    assert in_place("Norway", "de") == " in Norwegen"
    assert in_place("Netherlands", "nl") == " in Nederland"
    assert in_place("Norway", "ja") == "ノルウェーで"
    assert in_place("Europe", "es") == " en Europa"
    assert in_place("Atlantis", "de") == " in Atlantis"  # a name Babel does not know: as written
    assert where_in("World", ("USA", "Norway"), "nb") == " i USA og Norge"
    assert where_in("Europe", ("Norway",), "fr") == " en Europe (Norvège uniquement)"


# -- the command line ------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "words"), [("nb", "har passert"), ("ja", "突破")])
def test_replay_prints_the_demo_s_announcements_in_the_language_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lang: str, words: str
) -> None:
    db = str(tmp_path / "demo.sqlite3")
    assert main(["import", "--demo", "--db", db]) == 0
    capsys.readouterr()
    assert (
        main(["replay", "--kinds", "milestone", "--to", "2012", "--locale", lang, "--db", db]) == 0
    )
    out = capsys.readouterr().out
    assert words in out and "has passed" not in out
    assert main(["replay", "--locale", "xx-nowhere", "--db", db]) != 0
    assert "--locale" in capsys.readouterr().err


# -- charts ----------------------------------------------------------------------------------


def cumulative_chart(locale: str) -> CumulativeData:
    points = tuple((Month(2014, m), 20_000 * m) for m in range(1, 13))
    return CumulativeData(
        frame=Frame(
            subject="Nissan Leaf",
            region="Norway",
            locale=locale,
            source="OFV",
            as_of=Month(2014, 12),
        ),
        points=points,
        milestones=((100_000, Month(2014, 5), 100_000),),
        next_threshold=250_000,
        projected=Month(2015, 3),
    )


def test_a_chart_s_words_are_in_its_language() -> None:
    english = draw_chart(cumulative_chart("en")).plotted.texts
    assert "Electric vehicles sold in Norway, running total, with the milestones it passed" in (
        english
    )
    german = draw_chart(cumulative_chart("de")).plotted.texts
    assert "Verkaufte Elektroautos in Norwegen, kumuliert, mit den erreichten Meilensteinen" in (
        german
    )
    assert "Quelle: OFV · Daten bis Dezember 2014 · EV Milestone Bot" in german
    japanese = draw_chart(cumulative_chart("ja")).plotted.texts
    assert "Nissan Leaf：販売240,000台" in japanese


def test_japanese_charts_are_drawn_in_a_cjk_font_and_the_next_chart_is_not() -> None:
    # looked for, not imported: importing matplotlib_fontja sets every chart's font in the
    # process, and the charts of the tests that run after this one in it would change
    if importlib.util.find_spec("matplotlib_fontja") is None:
        pytest.skip("matplotlib-fontja is not installed")
    assert font_families() == ("DejaVu Sans", "IPAexGothic")
    before = draw_chart(cumulative_chart("en")).png
    japanese = draw_chart(cumulative_chart("ja")).png
    after = draw_chart(cumulative_chart("en")).png
    assert before == after != japanese  # no font left over from the Japanese chart


def test_the_rest_of_the_world_is_a_place_of_its_own_in_each_language() -> None:
    """The IEA's "Rest of the world" is not a name to put after "in": each language says it."""
    assert in_place("Rest of the world", "en") == " in the rest of the world"
    assert in_place("RoW", "de") == " im Rest der Welt"
    assert in_place("Rest of the world", "fr") == " dans le reste du monde"
    for lang in TRANSLATED:
        assert "Rest of" not in in_place("Rest of the world", lang)
