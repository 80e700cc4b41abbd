"""AgentWrite's pure parts: LongBench-Write word counts, requested lengths, sentence cuts, plans."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentrun.graphs.agent_write.calibration import CallSample, CallSize, call_size
from agentrun.graphs.agent_write.plan import (
    OutlineDraft,
    SectionBounds,
    SectionDraft,
    allocate,
    fallback_plan,
    outline_problems,
    parse_point_lines,
    plan_from_draft,
)
from agentrun.graphs.agent_write.section import strip_heading
from agentrun.text import words as w

BOUNDS = SectionBounds(min_words=200, max_words=1000, preferred_words=500)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, world!", 2),
        ("It's 2024 and e-mail works.", 6),  # It, s, and, e, mail, works; digits count for nothing
        ("灯塔照亮了大海。", 7),
        ("我爱 Python 和 AI！", 5),
        ("全角，标点。不算", 6),
        ("", 0),
    ],
)
def test_words_are_counted_the_longbench_write_way(text: str, expected: int) -> None:
    assert w.count_words(text) == expected


def test_language_follows_the_majority_of_words() -> None:
    assert w.language_of("请写一篇关于AI的文章") == "zh"
    assert w.language_of("Write about 北京 in English please") == "en"


@pytest.mark.parametrize(
    ("instruction", "words"),
    [
        ("Write a 100-word blog post", 100),
        ("an essay of at least 6,000 words long", 6000),
        ("Write 10000-word essay", 10000),
        ("请写一篇不少于2000字的心得", 2000),
        ("字数要求100至200字", 200),
        ("扩写为两千字", 2000),
        ("写一篇八百字的作文", 800),
        ("一篇1.5万字的报告", 15000),
        ("写一篇300词的英语作文", 300),
        ("Summarize this 5000-word report in a 200-word abstract", 200),
        ("Summarize the attached 5000-word report.", None),  # the given text's length
        ("Expand the following 300-word draft into a 1,200-word story", 1200),
        ("Write a review of 300 words", 300),
        ("Write about 1,500 words on tides", 1500),
        ("a 2k word essay", 2000),
        ("an essay of 1.5k words", 1500),
        ("Write five diary entries of about 300 words each", 1500),
        ("Write 4 poems, each about 100 words", 400),
        ("将这篇5000字的报告总结为200字的摘要", 200),
        ("字数要求：2000左右", 2000),
        ("讲稿字数1400左右。", 1400),
        ("创作五篇日记，每天一篇，每篇400字左右。", 2000),
        ("分两部分写，各写1000字", 2000),
        ("共四个部分，每个部分500字", 2000),
        ("文章应该2000字左右", 2000),
        ("走到十字路口", None),
        ("Write a poem about the sea", None),
    ],
)
def test_requested_lengths_are_read_from_instructions(instruction: str, words: int | None) -> None:
    found = w.requested_length(instruction)
    assert (found.words if found else None) == words


def test_default_lengths_follow_the_kind_of_text() -> None:
    assert w.default_length("Write a story about a fox", 1000)[0] == 1500
    assert w.default_length("Write a poem about history", 1000)[0] == 300
    assert w.default_length("Describe Facebook", 1000) == (1000, "the configured default length")
    assert w.default_length("写一部小说", 1000)[0] == 5000


def test_length_score_matches_the_formula() -> None:
    assert w.length_score(1000, 1000) == 100
    assert w.length_score(1000, 0) == 0
    assert w.length_score(1000, 500) == pytest.approx(50.0)  # 1 - (2 - 1) / 2
    assert w.length_score(1000, 250) == 0  # 1 - (4 - 1) / 2 < 0
    assert w.length_score(1000, 2500) == pytest.approx(50.0)  # 1 - (2.5 - 1) / 3
    assert w.length_score(1000, 4000) == 0
    assert w.length_score(300, 330) == pytest.approx(100 * (1 - 0.1 / 3))
    with pytest.raises(ValueError, match="positive"):
        w.length_score(0, 10)


def test_sentences_split_english_and_chinese_exactly() -> None:
    text = 'He said "go." Then left! 第三句。第四句？\nLast one without an end'
    pieces = w.sentences(text)
    assert "".join(pieces) == text
    assert pieces == [
        'He said "go." ',
        "Then left! ",
        "第三句。",
        "第四句？\n",
        "Last one without an end",
    ]


def test_trimming_cuts_at_sentence_ends_within_tolerance() -> None:
    text = "One two three four. Five six seven eight. Nine ten eleven twelve."
    assert w.trim_to_words(text, 9, 0.2) == "One two three four. Five six seven eight."
    assert w.trim_to_words(text, 20, 0.2) == text
    # no sentence end near the budget: cut at the budget's last word
    assert w.trim_to_words("a b c d e f g h i j k l", 5, 0.2) == "a b c d e"


def test_repeated_sentences_are_dropped_and_cut_sentences_too() -> None:
    looping = (
        "The sea was calm that day. The sea was calm that day. Boats came in. The sea was calm"
    )
    text, dropped = w.Repeats().drop(looping)
    assert dropped == 1 and text == "The sea was calm that day. Boats came in. The sea was calm"
    assert w.drop_unfinished_sentence(text) == "The sea was calm that day. Boats came in. "
    headings = "## Part 3: The old lamps\n## Part 4: The old lamps\nThe end came."
    assert w.Repeats().drop(headings) == ("## Part 3: The old lamps\nThe end came.", 1)


def test_loops_within_and_across_sentences_are_cut() -> None:
    repeats = w.Repeats()
    opening = "At dawn the keeper climbed the narrow stairs of the old tower to trim the wick. "
    # the same eight-word run again, in a sentence that is otherwise new
    echo = "Later the keeper climbed the narrow stairs of the old tower once more. "
    # one sentence that loops on itself until max_tokens
    spiral = "The waves rolled in and " + "the light swept over the water and " * 4 + "on. "
    fresh = "Ships passed safely all winter. "
    text, dropped = repeats.drop(opening + echo + spiral + fresh)
    assert dropped == 2 and text == opening + fresh
    # text remembered from before (the previous section) counts as said
    later, again = repeats.drop("Then the keeper climbed the narrow stairs of the old tower.")
    assert (later, again) == ("", 1)


def test_a_request_echoed_back_is_dropped_but_its_phrases_stay_free() -> None:
    repeats = w.Repeats()
    repeats.remember("Write about the history of lighthouses on the northern coast.", runs=False)
    echoed = "Write about the history of lighthouses on the northern coast. "
    reused = "The history of lighthouses on the northern coast begins with fire. "
    assert repeats.drop(echoed + reused) == (reused, 1)


def test_chinese_loops_need_longer_runs() -> None:
    line = "灯塔的光照亮了远处的海面和归来的渔船。"
    text, dropped = w.Repeats("zh").drop(line + "夜里灯塔的光照亮了远处的海面和归来的渔船。")
    assert dropped == 1 and text == line
    short = "灯塔很高。海面很静。灯塔很亮。"
    assert w.Repeats("zh").drop(short) == (short, 0)


BODY = "Keepers polished them daily."


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("## Fresnel lenses\n" + BODY, BODY),
        ("# Section 2: Anything at all\n" + BODY, BODY),
        ("**A heading in bold**\n" + BODY, BODY),
        ("Fresnel lenses\n" + BODY, BODY),
        ("Section 2: Fresnel Lenses:\n" + BODY, BODY),
        # body text that starts with the title stays whole
        ("Fresnel lenses changed everything for the keepers.\n" + BODY, None),
        ("Fresnel lenses\u2014light, thin and bright\n" + BODY, None),
        ("#3 was the busiest lamp on the coast.\n" + BODY, None),
        ("## Fresnel lenses", None),  # nothing after it: left for the empty check
    ],
)
def test_only_a_real_heading_line_is_stripped(text: str, kept: str | None) -> None:
    assert strip_heading(text, "Fresnel lenses") == (text if kept is None else kept)


def test_a_chinese_title_line_is_stripped_but_not_a_sentence_starting_with_it() -> None:
    body = "看守人每天擦拭它们。"
    assert strip_heading("第二部分：菲涅耳透镜\n" + body, "菲涅耳透镜") == body
    assert strip_heading("菲涅耳透镜改变了灯塔。\n" + body, "菲涅耳透镜").startswith("菲涅耳")


def test_continuations_join_without_spaces_in_chinese() -> None:
    assert w.join_text("灯塔亮了。", "大海很静。") == "灯塔亮了。大海很静。"
    assert (
        w.join_text("The lamp was lit.", "The sea was calm.")
        == "The lamp was lit. The sea was calm."
    )


@given(
    st.lists(st.integers(min_value=-50, max_value=5000), min_size=2, max_size=30),
    st.integers(min_value=400, max_value=20000),
)
def test_budgets_always_sum_to_the_target(weights: list[int], target: int) -> None:
    budgets = allocate([float(x) for x in weights], target, 200, 1000)
    assert sum(budgets) == target
    if len(weights) * 200 <= target <= len(weights) * 1000:
        assert all(199 <= b <= 1001 for b in budgets)


def test_outline_problems_name_what_is_wrong() -> None:
    draft = OutlineDraft(
        sections=[
            SectionDraft(point="What the section covers, in one or two sentences.", words=500),
            SectionDraft(point="Point", words=500),
            SectionDraft(point="The keepers of the northern coast", words=500),
            SectionDraft(point="The keepers of the northern coast!", words=500),
        ]
    )
    problems = outline_problems(draft, "Write 2000 words on lighthouses.", 2000, BOUNDS)
    assert problems == [
        "section 1 copies the instructions instead of a main point",
        "section 2 has no real main point ('Point')",
        "sections 3 and 4 have the same main point",
    ]
    too_few = OutlineDraft(sections=[SectionDraft(point="All about the keepers here", words=9)])
    assert outline_problems(too_few, "x", 5000, BOUNDS) == [
        "it has 1 sections; a 5000-word piece needs 5 to 25"
    ]
    plan = plan_from_draft(too_few, 900, BOUNDS)
    assert [s.words for s in plan.sections] == [900]


def test_titles_copied_from_the_outline_schema_are_dropped() -> None:
    # seen on the embedded model under the JSON-schema grammar: the class description as a title
    copied = [
        "One section as the planner proposes it (checked and normed)",
        "A short heading for the section.",
    ]
    kept = ["People", "One", "One section of the harbour"]
    draft = OutlineDraft(
        sections=[
            SectionDraft(title=title, point=f"The harbour town, part {n} of the story", words=300)
            for n, title in enumerate([*copied, *kept])
        ]
    )
    plan = plan_from_draft(draft, 1500, BOUNDS)
    assert [s.title for s in plan.sections] == ["", "", *kept]


def test_point_lines_are_parsed_from_plain_lists() -> None:
    reply = (
        "1. Section 1: Introduction to the history of tea\n"
        "- The first section: tea in ancient China and its rituals\n"
        "2. The origins of tea in China\n"
        "Point\n"
        "第三部分：茶叶传入欧洲的过程\n"
    )
    pairs = parse_point_lines(reply, "Write about tea.")
    assert pairs == [
        ("", "Introduction to the history of tea"),
        ("", "tea in ancient China and its rituals"),
        ("", "The origins of tea in China"),
        ("", "茶叶传入欧洲的过程"),
    ]
    plan = fallback_plan(2500, 5, "en", pairs[:2])
    assert [s.point for s in plan.sections][:2] == [p for _, p in pairs[:2]]
    assert plan.sections[-1].point.startswith("Closing")
    assert sum(s.words for s in plan.sections) == 2500


def sample(asked: int, written: int, finish: str = "stop") -> CallSample:
    return CallSample(asked=asked, written=written, finish_reason=finish)


def test_call_size_follows_what_calls_really_write() -> None:
    assert call_size([sample(500, 250)], 0.2) is None  # one sample is not a measurement
    assert call_size([sample(500, 250)], 0.2, words=300) == CallSize(300)
    # a model that writes half of what it is asked: calls of 250, asked for twice that
    assert call_size([sample(500, 250), sample(500, 240), sample(500, 260)], 0.2) == CallSize(
        250, 2.0
    )
    # calls that met their request (or ran into max_tokens) show only a lower bound: grow it
    met = call_size([sample(200, 200), sample(200, 190), sample(300, 120, "length")], 0.2)
    assert met == CallSize(228, 1.0)
    # a model that writes next to nothing: asked for at most three times, calls of at least 60
    assert call_size([sample(500, 20), sample(500, 30)], 0.2) == CallSize(60, 3.0)
