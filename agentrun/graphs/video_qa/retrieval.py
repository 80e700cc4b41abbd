"""Which segments answer a question: those at the times it names and those holding the text it
quotes, with their neighbours (a question about what came after something needs the next
segment too); then the `top_k` best by meaning and by rare words together (reciprocal rank
fusion of the store's search and a keyword ranking), with theirs; at most `max_segments`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from langgraph.store.base import SearchItem

from agentrun.graphs.video_qa.models import Reason, SegmentIndex
from agentrun.media.source import Window
from agentrun.text.quotes import content_words, words

_CLOCK = re.compile(r"(?<![\d:])(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?:\.(\d+))?(?![\d:])")
_MINUTE = re.compile(r"\bminute\s+(\d+)\b", re.IGNORECASE)
_QUOTED = re.compile(r"\"([^\"]+)\"|\u201c([^\u201d]+)\u201d")


def mentioned_times(question: str) -> list[float]:
    """Times the question names: 01:05, 00:01:05(.5), or "minute 2" (its start, 02:00)."""
    times = []
    for match in _CLOCK.finditer(question):
        hours, minutes, seconds, fraction = match.groups()
        value = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
        times.append(value + (float(f"0.{fraction}") if fraction else 0.0))
    times += [60.0 * int(m.group(1)) for m in _MINUTE.finditer(question)]
    return times


def quoted(question: str) -> list[str]:
    """Phrases the question quotes ("RIVER 42"), which the segment's text should hold."""
    return [a or b for a, b in _QUOTED.findall(question) if (a or b).strip()]


def holds(text: str, phrase: str) -> bool:
    """Whether `text` holds `phrase` as words (case, punctuation and spacing aside)."""
    wanted = words(phrase)
    found = words(text)
    size = len(wanted)
    return bool(wanted) and any(found[i : i + size] == wanted for i in range(len(found)))


def windows_at(times: Sequence[float], windows: Sequence[Window]) -> list[int]:
    """The windows that contain the times (the last one also takes its end)."""
    found = []
    for time in times:
        for window in windows:
            last = window.index == windows[-1].index
            if window.start <= time < window.end or (last and time == window.end):
                found.append(window.index)
    return found


def keyword_rank(question: str, records: Sequence[SegmentIndex]) -> list[int]:
    """Segments holding the question's content words, best first, each word weighted by how
    rare it is in the video (a colour named in one segment outweighs "shape", named in all)."""
    asked = content_words(question)
    held = {record.segment: content_words(record.text) for record in records}
    count = len(held) or 1
    weight = {
        word: math.log((count + 1) / (sum(word in words for words in held.values()) + 0.5))
        for word in asked
    }
    scores = {segment: sum(weight[w] for w in asked & words) for segment, words in held.items()}
    return [s for s in sorted(scores, key=lambda s: (-scores[s], s)) if scores[s] > 0]


def fused(rankings: Sequence[Sequence[int]], limit: int, k: int = 60) -> list[int]:
    """Reciprocal rank fusion: a segment ranked well by either ranking comes first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for place, segment in enumerate(ranking, start=1):
            scores[segment] = scores.get(segment, 0.0) + 1.0 / (k + place)
    return sorted(scores, key=lambda s: (-scores[s], s))[:limit]


def ranked(hits: Sequence[SearchItem]) -> list[int] | None:
    """Segments of a search by meaning, best first; None when the store did not rank them."""
    if not hits or any(hit.score is None for hit in hits):
        return None
    return [int(hit.value["segment"]) for hit in hits]


def choose(
    anchors: Sequence[tuple[int, Reason]],
    hits: Sequence[int],
    neighbours: int,
    windows: Sequence[Window],
    max_segments: int,
) -> list[tuple[int, Reason]]:
    """The segments to send, in time order: those the question points at (times, quotes) and
    their neighbours first, then the search hits and theirs, at most `max_segments`."""
    chosen: dict[int, Reason] = {}
    indexes = {window.index for window in windows}
    for group in (list(anchors), [(hit, "search") for hit in hits]):
        for segment, reason in group:
            chosen.setdefault(segment, reason)
        for distance in range(1, neighbours + 1):
            for segment in dict.fromkeys(s for s, _ in group):
                for near in (segment + distance, segment - distance):
                    if near in indexes:
                        chosen.setdefault(near, "neighbour")
    return sorted(list(chosen.items())[:max_segments])
