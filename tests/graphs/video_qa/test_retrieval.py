"""What a question points at: times, quoted text; and which segments go with it."""

from __future__ import annotations

from agentrun.graphs.video_qa.retrieval import (
    choose,
    holds,
    mentioned_times,
    quoted,
    windows_at,
)
from agentrun.media.source import windows


def test_times_and_quotes_are_read_from_the_question() -> None:
    assert mentioned_times("What was said at 00:01:05?") == [65.0]
    assert mentioned_times("at 1:05 or 02:00:03.5, not 12:3") == [65.0, 7203.5]
    assert mentioned_times("What happens in minute 2?") == [120.0]
    assert quoted('right after "RIVER 42" or \u201cGARDEN 7\u201d') == ["RIVER 42", "GARDEN 7"]
    assert holds("The sign read river, 42 then.", "RIVER 42")
    assert not holds("RIVER 421", "RIVER 42")


def test_a_time_falls_in_its_window_and_the_end_in_the_last() -> None:
    spans = windows(25.0, 10.0)
    assert [(w.start, w.end) for w in spans] == [(0, 10), (10, 20), (20, 25)]
    assert windows_at([0.0, 10.0, 19.9, 25.0, 99.0], spans) == [0, 1, 1, 2]


def test_what_the_question_points_at_and_its_neighbours_come_before_search_hits() -> None:
    spans = windows(100.0, 10.0)
    chosen = choose([(4, "quote")], [8, 1], neighbours=1, windows=spans, max_segments=3)
    assert chosen == [(3, "neighbour"), (4, "quote"), (5, "neighbour")]
    chosen = choose([], [8, 1], neighbours=1, windows=spans, max_segments=4)
    assert chosen == [(1, "search"), (7, "neighbour"), (8, "search"), (9, "neighbour")]
    edge = choose([(9, "time")], [], neighbours=2, windows=spans, max_segments=9)
    assert edge == [(7, "neighbour"), (8, "neighbour"), (9, "time")]
