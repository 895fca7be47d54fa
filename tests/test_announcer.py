from __future__ import annotations

import pytest

from bot.domain.announcer import (
    MAX_LINES,
    announce,
    announce_digest,
    announce_group,
    following_message,
)
from bot.domain.events import (
    Event,
    GrowthEvent,
    Leader,
    MilestoneEvent,
    RecordEvent,
    ShareEvent,
    Subject,
)
from bot.domain.ladders import DEFAULT_LADDER
from bot.domain.messages import Field, Message
from bot.domain.periods import Month
from bot.domain.rungs import ladder_rungs, listed_range

ALLIANCE = Subject("group", "group:renault-nissan-alliance", "Renault-Nissan Alliance")
NISSAN = Subject("make", "make:nissan", "Nissan")
LEAF = Subject("model", "model:nissan/leaf", "Nissan Leaf")
ALL = Subject("all", "all", "all EVs")
JUNE_2015 = Month(2015, 6)
MAY_2015 = Month(2015, 5)


def alliance_250k(**changes: object) -> MilestoneEvent:
    args: dict[str, object] = {
        "subject": ALLIANCE,
        "region": "World",
        "metric": "sales",
        "thresholds": listed_range([250_000]),
        "period": JUNE_2015,
        "value": 251_100,
        "source": "EV Volumes",
        "leader": Leader("Nissan Leaf", 180_400, 0.7184),
    }
    args.update(changes)
    return MilestoneEvent(**args)  # type: ignore[arg-type]


def test_group_milestone_with_leader() -> None:
    msg = announce(alliance_250k())
    assert msg.title == "Renault-Nissan Alliance passes 250,000 electric cars sold"
    assert msg.body == (
        "The Renault-Nissan Alliance has passed 250,000 electric cars sold"
        " (251,100 through June 2015)."
        " The Nissan Leaf leads with 180,400, 72% of the total."
    )
    assert msg.footer == "Source: EV Volumes · data through June 2015"
    assert msg.fields == (
        Field("Total", "251,100"),
        Field("Period", "June 2015"),
        Field("Leader", "Nissan Leaf (72%)"),
    )
    assert (msg.accent, msg.kind, msg.locale) == ("milestone", "milestone", "en")


def test_several_thresholds_are_mentioned_and_the_highest_headlined() -> None:
    msg = announce(alliance_250k(thresholds=listed_range([200_000, 250_000]), leader=None))
    assert msg.title == "Renault-Nissan Alliance passes 250,000 electric cars sold"
    assert msg.body == (
        "The Renault-Nissan Alliance has passed 200,000 and 250,000 electric cars sold"
        " (251,100 through June 2015)."
    )
    three = announce(
        alliance_250k(thresholds=listed_range([150_000, 200_000, 250_000]), leader=None)
    )
    assert "has passed 150,000, 200,000 and 250,000 electric cars sold" in three.body


def test_a_long_run_of_thresholds_is_summarised() -> None:
    rungs = listed_range([10_000, 25_000, 50_000, 100_000, 150_000, 200_000, 250_000])
    msg = announce(alliance_250k(thresholds=rungs, leader=None))
    assert (
        "has passed 10,000, 25,000, 50,000 and 4 more up to 250,000 electric cars sold" in msg.body
    )
    assert msg.title == "Renault-Nissan Alliance passes 250,000 electric cars sold"
    four = announce(alliance_250k(thresholds=listed_range(rungs.rungs(4)), leader=None))
    assert "has passed 10,000, 25,000, 50,000 and 100,000 electric cars sold" in four.body


def test_a_run_of_a_million_thresholds_names_a_few_and_counts_the_rest() -> None:
    crossed = ladder_rungs(DEFAULT_LADDER).crossed(0, 10**12)
    assert crossed is not None and crossed.count > 1_000_000
    msg = announce(alliance_250k(thresholds=crossed, value=10**12, leader=None))
    assert msg.title == "Renault-Nissan Alliance passes 1,000,000,000,000 electric cars sold"
    more = f"{crossed.count - 3:,}"
    assert f"has passed 1,000, 2,500, 5,000 and {more} more up to 1,000,000,000,000" in msg.body


def test_projection_is_appended() -> None:
    msg = announce(alliance_250k(next_threshold=300_000, projected=Month(2015, 12)))
    assert msg.body.endswith("72% of the total. At this pace, 300,000 around December 2015.")
    assert Field("Next milestone", "300,000 (around December 2015)") in msg.fields


def test_next_threshold_without_projection_is_a_field_only() -> None:
    msg = announce(alliance_250k(next_threshold=300_000))
    assert "At this pace" not in msg.body
    assert Field("Next milestone", "300,000") in msg.fields


def test_model_milestone_in_a_region() -> None:
    event = MilestoneEvent(LEAF, "US", "sales", listed_range([50_000]), JUNE_2015, 50_400)
    msg = announce(event)
    assert msg.title == "Nissan Leaf passes 50,000 sales in the US"
    assert msg.body == (
        "The Nissan Leaf has passed 50,000 sales in the US (50,400 through June 2015)."
    )
    assert msg.footer == "Data through June 2015"
    assert Field("Region", "US") in msg.fields


def test_make_milestone_takes_no_article() -> None:
    event = MilestoneEvent(NISSAN, "World", "sales", listed_range([200_000]), JUNE_2015, 201_000)
    assert announce(event).body.startswith("Nissan has passed 200,000 electric cars sold")


def test_stock_is_worded_as_registered() -> None:
    everything = MilestoneEvent(ALL, "WA", "stock", listed_range([50_000]), JUNE_2015, 51_234)
    msg = announce(everything)
    assert msg.title == "50,000 electric vehicles registered in WA"
    assert msg.body == (
        "Electric vehicles registered in WA have passed 50,000 (51,234 as of June 2015)."
    )
    make = announce(
        MilestoneEvent(NISSAN, "WA", "stock", listed_range([10_000]), JUNE_2015, 10_100)
    )
    assert make.title == "Nissan passes 10,000 electric vehicles registered in WA"
    model = announce(MilestoneEvent(LEAF, "WA", "stock", listed_range([10_000]), JUNE_2015, 10_100))
    assert model.title == "Nissan Leaf passes 10,000 on the road in WA"
    assert all("sold" not in m.title + m.body for m in (msg, make, model))


def test_all_evs_worldwide() -> None:
    msg = announce(
        MilestoneEvent(ALL, "World", "sales", listed_range([1_000_000]), JUNE_2015, 1_002_000)
    )
    assert msg.title == "1,000,000 electric cars sold worldwide"
    assert msg.body == "Electric car sales have passed 1,000,000 (1,002,000 through June 2015)."


def test_brand_like_group_names_take_no_article() -> None:
    stellantis = Subject("group", "group:stellantis", "Stellantis")
    msg = announce(
        MilestoneEvent(stellantis, "World", "sales", listed_range([100_000]), JUNE_2015, 100_500)
    )
    assert msg.body.startswith("Stellantis has passed")


def share_event(direction: str, boundary: float, share: float) -> ShareEvent:
    return ShareEvent(
        subject=LEAF,
        parent=ALLIANCE,
        region="World",
        metric="sales",
        direction=direction,  # type: ignore[arg-type]
        boundary=boundary,
        share=share,
        units=180_400,
        parent_units=240_500,
        period=JUNE_2015,
        source="EV Volumes",
    )


def test_share_up() -> None:
    msg = announce(share_event("up", 0.75, 0.7501))
    assert msg.title == "Nissan Leaf passes 75% of Renault-Nissan Alliance electric car sales"
    assert msg.body == (
        "The Nissan Leaf is now 75% of the Renault-Nissan Alliance's electric car sales"
        " (180,400 of 240,500 through June 2015)."
    )
    assert msg.fields[0] == Field("Share", "75%")
    assert msg.accent == "share"


def test_share_down() -> None:
    msg = announce(share_event("down", 0.70, 0.68))
    assert msg.title == "Nissan Leaf falls below 70% of Renault-Nissan Alliance electric car sales"
    assert msg.body == (
        "The Nissan Leaf has fallen below 70% of the Renault-Nissan Alliance's electric car"
        " sales: now 68% (180,400 of 240,500 through June 2015)."
    )


def test_share_down_never_rounds_up_to_the_boundary() -> None:
    assert "now 69.6%" in announce(share_event("down", 0.70, 0.6961)).body
    assert "now 69.9%" in announce(share_event("down", 0.70, 0.69996)).body


def growth_event(value: int, previous: int, end: Month = MAY_2015) -> GrowthEvent:
    return GrowthEvent(LEAF, "World", "sales", end, value, previous, source="EV Volumes")


def test_growth_up() -> None:
    msg = announce(growth_event(31_700, 27_590))
    assert msg.title == "Nissan Leaf sales up 14.9% on last year"
    assert msg.body == (
        "Sales of the Nissan Leaf reached 31,700 from January to May 2015,"
        " up 14.9% on last year's 27,590."
    )
    assert Field("Change", "+14.9%") in msg.fields
    assert Field("Period", "January to May 2015") in msg.fields
    assert msg.accent == "growth"


def test_growth_down_and_single_month() -> None:
    msg = announce(growth_event(9_000, 10_000, Month(2015, 1)))
    assert msg.title == "Nissan Leaf sales down 10.0% on last year"
    assert msg.body == (
        "Sales of the Nissan Leaf reached 9,000 in January 2015, down 10.0% on last year's 10,000."
    )


def test_growth_from_nothing() -> None:
    event = GrowthEvent(ALLIANCE, "Norway", "sales", Month(2015, 3), 3_170, 0)
    msg = announce(event)
    assert msg.title == "Renault-Nissan Alliance sales in Norway reach 3,170 in 2015 so far"
    assert msg.body == (
        "Sales of the Renault-Nissan Alliance's electric cars in Norway reached 3,170"
        " from January to March 2015, with none in the same months last year."
    )


def test_record() -> None:
    event = RecordEvent(LEAF, "World", "sales", Month(2014, 12), 9_400, 8_100, Month(2014, 3))
    msg = announce(event)
    assert msg.title == "Nissan Leaf sets a monthly record: 9,400 in December 2014"
    assert msg.body == (
        "The Nissan Leaf had its best month yet: 9,400 in December 2014"
        " (previous best 8,100 in March 2014)."
    )
    assert Field("Previous best", "8,100 (March 2014)") in msg.fields
    assert msg.accent == "record"


def test_first_record_in_a_region() -> None:
    msg = announce(RecordEvent(NISSAN, "US", "sales", Month(2014, 12), 9_400, 0, None))
    assert msg.title == "Nissan sets a monthly record in the US: 9,400 in December 2014"
    assert msg.body == "Nissan had its best month yet in the US: 9,400 in December 2014."


def test_french_locale_formats_numbers_and_months() -> None:
    msg = announce(alliance_250k(), "fr")
    assert "250\u202f000" in msg.title
    assert "(251\u202f100 jusqu’à juin 2015)" in msg.body
    assert "72\xa0%" in msg.body
    assert msg.locale == "fr"


def test_unknown_locale() -> None:
    with pytest.raises(ValueError, match="unknown locale 'xx'"):
        announce(alliance_250k(), "xx")


def test_group_of_milestones_headlines_the_biggest_first() -> None:
    events: list[Event] = [
        MilestoneEvent(LEAF, "US", "sales", listed_range([50_000]), JUNE_2015, 50_400),
        alliance_250k(),
        MilestoneEvent(
            NISSAN, "World", "sales", listed_range([200_000]), JUNE_2015, 201_000, source="Other"
        ),
    ]
    msg = announce_group(events)
    # the headline event's whole message, then one line per other event with its figures
    headline = announce(alliance_250k())
    assert msg.title == headline.title
    assert msg.fields == headline.fields
    assert msg.body.splitlines() == [
        headline.body,
        "",
        "Also 2 more milestones:",
        "• Nissan passes 200,000 electric cars sold (201,000 through June 2015)",
        "• Nissan Leaf passes 50,000 sales in the US (50,400 through June 2015)",
    ]
    assert msg.footer == "Source: EV Volumes; Other · data through June 2015"
    assert (msg.kind, msg.accent) == ("group", "milestone")


def test_group_of_mixed_kinds() -> None:
    record = RecordEvent(LEAF, "World", "sales", Month(2015, 6), 9_400, 8_100, Month(2014, 3))
    msg = announce_group([growth_event(31_700, 27_590), record, alliance_250k()])
    assert msg.title == "Renault-Nissan Alliance passes 250,000 electric cars sold"
    assert msg.body.splitlines()[2:] == [
        "Also 2 more updates:",
        "• Nissan Leaf sets a monthly record: 9,400 in June 2015"
        " (previous best 8,100 in March 2014)",
        "• Nissan Leaf sales up 14.9% on last year"
        " (31,700 from January to May 2015, against 27,590)",
    ]
    assert msg.accent == "info"


def test_grouped_lines_keep_figures_period_leader_and_share() -> None:
    # issue 15: four of the demo's five Alliance milestones came as bare bullets ("• Renault-
    # Nissan Alliance passes 250,000 electric cars sold"), with no total, month or leader
    leaf_75k = MilestoneEvent(LEAF, "World", "sales", (75_000,), JUNE_2015, 75_200)
    share = ShareEvent(
        LEAF, ALLIANCE, "World", "sales", "up", 0.70, 0.7184, 180_400, 251_100, JUNE_2015
    )
    msg = announce_group([leaf_75k, share, alliance_250k(next_threshold=300_000)])
    assert msg.body.startswith(
        "The Renault-Nissan Alliance has passed 250,000 electric cars sold"
        " (251,100 through June 2015). The Nissan Leaf leads with 180,400, 72% of the total."
    )
    assert msg.body.splitlines()[2:] == [
        "Also 2 more updates:",
        "• Nissan Leaf passes 75,000 sales (75,200 through June 2015)",
        "• Nissan Leaf passes 70% of Renault-Nissan Alliance electric car sales"
        " (72%: 180,400 of 251,100 through June 2015)",
    ]
    nissan = MilestoneEvent(
        NISSAN,
        "World",
        "sales",
        (200_000,),
        MAY_2015,
        200_700,
        leader=Leader("Nissan Leaf", 180_000, 0.897),
    )
    digest = announce_digest([nissan, alliance_250k()], "en", "June 2015")
    assert "• Nissan passes 200,000 electric cars sold (200,700 through May 2015;" in digest.body
    assert "the Nissan Leaf leads with 90%)" in digest.body


def test_group_of_one_is_the_full_message() -> None:
    assert announce_group([alliance_250k()]) == announce(alliance_250k())


def test_empty_group_is_an_error() -> None:
    with pytest.raises(ValueError):
        announce_group([])


def test_big_group_is_capped() -> None:
    events = [
        MilestoneEvent(LEAF, f"R{i}", "sales", listed_range([1_000 + i]), JUNE_2015, 2_000)
        for i in range(100)
    ]
    msg = announce_group(events)
    assert msg.title == "Nissan Leaf passes 1,099 sales in R99"
    lines = msg.body.splitlines()[3:]
    assert len(lines) == MAX_LINES + 1
    assert lines[-1] == "…and 79 more"
    assert lines[0] == "• Nissan Leaf passes 1,098 sales in R98 (2,000 through June 2015)"


def test_digest() -> None:
    record = RecordEvent(LEAF, "World", "sales", Month(2015, 6), 9_400, 8_100, Month(2014, 3))
    msg = announce_digest(
        [growth_event(31_700, 27_590), record, alliance_250k()], "en", "week to 14 June 2015"
    )
    assert msg.title == "EV digest: week to 14 June 2015"
    assert msg.body == (
        "Milestones\n• Renault-Nissan Alliance passes 250,000 electric cars sold"
        " (251,100 through June 2015; the Nissan Leaf leads with 72%)\n\n"
        "Records\n• Nissan Leaf sets a monthly record: 9,400 in June 2015"
        " (previous best 8,100 in March 2014)\n\n"
        "Growth\n• Nissan Leaf sales up 14.9% on last year"
        " (31,700 from January to May 2015, against 27,590)"
    )
    assert msg.fields == (Field("Milestones", "1"), Field("Records", "1"), Field("Growth", "1"))
    assert msg.kind == "digest"


def test_empty_digest() -> None:
    msg = announce_digest([], "en", "June 2015")
    assert msg.body == "Nothing new this time."


def test_following_message() -> None:
    msg = following_message("Nissan Leaf", 185_000, JUNE_2015, 200_000, None, "en")
    assert msg.title == "Now following Nissan Leaf"
    assert msg.body == (
        "Now following Nissan Leaf: 185,000 so far (through June 2015); next milestone 200,000."
    )
    assert msg.kind == "following"
    projected = following_message("Nissan Leaf", 185_000, JUNE_2015, 200_000, Month(2016, 3))
    assert projected.body.endswith("next milestone 200,000, around March 2016.")
    nothing = following_message("Nissan Leaf", 0, None, None, None)
    assert nothing.body == "Now following Nissan Leaf: 0 so far."


def test_message_rejects_unknown_accent() -> None:
    with pytest.raises(ValueError, match="accent"):
        Message("t", "b", accent="purple")
    with pytest.raises(ValueError, match="image_name"):
        Message("t", "b", image=b"png")
