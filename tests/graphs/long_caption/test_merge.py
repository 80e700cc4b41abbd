"""Merging plans: groups under the token budget and fan-in, notes from the finest level that
fits, the target shared by time."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agentrun.graphs.long_caption import LongCaptionConfig
from agentrun.graphs.long_caption.merge import Item, group_neighbours, notes_for, share_words


def test_groups_take_neighbours_within_the_budget_and_the_fan_in() -> None:
    assert group_neighbours([100] * 7, budget=1000, fan_in=3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert group_neighbours([400, 400, 400, 100, 100], budget=900, fan_in=4) == [
        [0, 1],
        [2, 3, 4],
    ]


def test_two_always_go_together_so_every_level_shrinks() -> None:
    groups = group_neighbours([900, 900, 900, 900, 900], budget=1000, fan_in=4)
    assert groups == [[0, 1], [2, 3], [4]]
    count, level = 0, [500] * 37
    while len(level) > 1:
        level = [500] * len(group_neighbours(level, budget=600, fan_in=2))
        count += 1
    assert count == 6  # 37 -> 19 -> 10 -> 5 -> 3 -> 2 -> 1


def test_a_section_is_written_from_the_finest_captions_that_fit() -> None:
    def item(key: str, start: float, end: float, tokens: int) -> Item:
        return Item(key=key, start=start, end=end, tokens=tokens)

    captions = [item(f"c{n}", 10.0 * n, 10.0 * (n + 1), 300) for n in range(4)]
    merges = [item("m0", 0, 20, 200), item("m1", 20, 40, 200)]
    top = [item("t0", 0, 40, 150)]
    levels = [captions, merges, top]
    assert [i["key"] for i in notes_for(levels, merges[1], 600)] == ["c2", "c3"]
    assert [i["key"] for i in notes_for(levels, top[0], 600)] == ["m0", "m1"]
    assert [i["key"] for i in notes_for(levels, top[0], 100)] == ["t0"]


def test_the_target_is_shared_by_time_and_adds_up() -> None:
    assert share_words([(0, 40), (40, 60)], 300) == [200, 100]
    shares = share_words([(0, 7), (7, 19), (19, 20.5)], 1000)
    assert sum(shares) == 1000 and shares[1] > shares[0] > shares[2]
    assert share_words([(0, 0), (0, 0)], 90) == [45, 45]


def test_a_merge_budget_that_cannot_hold_two_captions_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"merge_input_tokens .* must hold two captions"):
        LongCaptionConfig(merge_input_tokens=300, caption_words=120)
