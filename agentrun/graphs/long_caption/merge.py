"""How captions are merged level by level, and how the description's length is shared out.

Items are captions (level 0) or merges (level 1 and up), each with its span and token count.
A level is grouped left to right: a group takes neighbours while it has fewer than `fan_in` and
their tokens fit `budget` (two always go together, so every level at least halves, bar a last
lone item, and merging ends). Merging stops once a level has at most `max_sections` items: each
becomes one section of the description, with a share of the target words proportional to the
time it covers, written from the finest level of captions under it that fits the notes budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict


class Item(TypedDict):
    """A caption or merge as the run's state knows it: where its text is, what it covers."""

    key: str
    start: float
    end: float
    tokens: int


def group_neighbours(tokens: Sequence[int], budget: int, fan_in: int) -> list[list[int]]:
    """Positions grouped left to right under `budget` tokens and at most `fan_in` a group."""
    groups: list[list[int]] = []
    current: list[int] = []
    used = 0
    for position, count in enumerate(tokens):
        full = len(current) >= fan_in or (len(current) >= 2 and used + count > budget)
        if current and full:
            groups.append(current)
            current, used = [], 0
        current.append(position)
        used += count
    if current:
        groups.append(current)
    return groups


def needs_merging(level: Sequence[Item], max_sections: int) -> bool:
    return len(level) > max_sections


def notes_for(levels: Sequence[Sequence[Item]], section: Item, budget: int) -> list[Item]:
    """The finest level's items inside the section's span whose tokens fit `budget` (the
    section's own item when nothing finer does)."""
    for level in levels:
        inside = [
            item
            for item in level
            if item["start"] >= section["start"] - 1e-6 and item["end"] <= section["end"] + 1e-6
        ]
        if inside and sum(item["tokens"] for item in inside) <= budget:
            return inside
    return [section]


def share_words(spans: Sequence[tuple[float, float]], total: int, minimum: int = 20) -> list[int]:
    """`total` words shared by the spans' durations (largest remainders; each at least
    `minimum`), so the sections add up to the target."""
    lengths = [max(end - start, 0.0) for start, end in spans]
    if not sum(lengths):
        lengths = [1.0] * len(lengths)
    exact = [total * length / sum(lengths) for length in lengths]
    shares = [int(value) for value in exact]
    order = sorted(range(len(exact)), key=lambda i: exact[i] - shares[i], reverse=True)
    for position in order[: total - sum(shares)]:
        shares[position] += 1
    return [max(minimum, share) for share in shares]
