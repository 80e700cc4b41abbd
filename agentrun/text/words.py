"""Word counts the LongBench-Write way, lengths asked for in an instruction, and sentence cuts.

LongBench-Write counts every CJK character `[\\u4e00-\\u9fff]` as one word and every run of ASCII
letters `\\b[a-zA-Z]+\\b` as one word (digits and punctuation count for nothing), so one
function serves English and Chinese. Length control needs three more things from the same
definition: the length an instruction asks for, the LongBench-Write length score, and cutting a
text to a word budget at sentence boundaries.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_WORD = re.compile(r"\b[a-zA-Z]+\b")
_WORD = re.compile(r"[\u4e00-\u9fff]|\b[a-zA-Z]+\b")

Language = Literal["en", "zh"]


def count_words(text: str) -> int:
    """CJK characters plus English words: LongBench-Write's length measure."""
    return len(CJK_CHAR.findall(text)) + len(ENGLISH_WORD.findall(text))


def language_of(text: str) -> Language:
    """`zh` when CJK characters outnumber English words, else `en`."""
    return "zh" if len(CJK_CHAR.findall(text)) > len(ENGLISH_WORD.findall(text)) else "en"


def length_score(required: int, produced: int) -> float:
    """LongBench-Write's S_l in [0, 100]: over-length costs a third as fast as under-length."""
    if required <= 0:
        raise ValueError(f"required length must be positive, got {required}")
    if produced <= 0:
        return 0.0
    if produced > required:
        return 100.0 * max(0.0, 1.0 - (produced / required - 1.0) / 3.0)
    return 100.0 * max(0.0, 1.0 - (required / produced - 1.0) / 2.0)


# --- sentences ---------------------------------------------------------------------------------

# A sentence ends after . ! ? (plus closing quotes/brackets) before whitespace, after a Chinese
# full stop (no space follows those), or at a line break.
_BOUNDARY = re.compile(
    r"""[.!?…]+["'”’)\]]*(?=\s|$)\s*|[。！？；]+[”’」』）]*\s*|\n+\s*""",
)


def sentences(text: str) -> list[str]:
    """The text split into sentences; each piece keeps its trailing space so `"".join` is exact."""
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        if end > start:
            pieces.append(text[start:end])
            start = end
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _normalized(sentence: str) -> str:
    """Letters only: `Section 3: Tea` and `Section 4: Tea` are the same loop."""
    return " ".join(re.findall(r"[^\W\d_]+", sentence.lower()))


#: A sentence that shares a run of this many words with earlier text, or repeats one within
#: itself, is a loop (CJK characters count as words, so Chinese needs longer runs).
LOOP_RUN: dict[Language, int] = {"en": 8, "zh": 16}


class Repeats:
    """Drops what a looping model says again: sentences that repeat an earlier one word for word
    (numbers aside), and sentences that share a run of `LOOP_RUN` words with earlier text or
    repeat such a run within themselves (a loop across or inside sentences). Earlier text, such
    as the previous section, is given with `remember`."""

    def __init__(self, language: Language = "en") -> None:
        self.run = LOOP_RUN[language]
        self._sentences: set[str] = set()
        self._runs: set[tuple[str, ...]] = set()

    def _runs_of(self, sentence: str) -> list[tuple[str, ...]]:
        units = [match.group().lower() for match in _WORD.finditer(sentence)]
        return [tuple(units[i : i + self.run]) for i in range(len(units) - self.run + 1)]

    def drop(self, text: str) -> tuple[str, int]:
        """The text without its repeats (and remember what is kept); returns (text, dropped)."""
        kept: list[str] = []
        dropped = 0
        for sentence in sentences(text):
            key = _normalized(sentence)
            runs = self._runs_of(sentence)
            said = count_words(sentence) >= 4 and key in self._sentences
            looped = len(set(runs)) < len(runs) or any(run in self._runs for run in runs)
            if said or looped:
                dropped += 1
                continue
            self._sentences.add(key)
            self._runs.update(runs)
            kept.append(sentence)
        return "".join(kept), dropped

    def remember(self, text: str, *, runs: bool = True) -> None:
        """Count `text` as said before; with `runs=False` only its whole sentences (a prompt's
        request, which a model may echo but whose phrases it may well reuse)."""
        if runs:
            self.drop(text)
            return
        self._sentences.update(_normalized(sentence) for sentence in sentences(text))


def drop_unfinished_sentence(text: str) -> str:
    """The text without its last sentence when that one was cut off (a reply stopped by
    max_tokens); unchanged when nothing complete would remain."""
    pieces = sentences(text)
    if len(pieces) < 2 or _BOUNDARY.search(pieces[-1]):
        return text
    return "".join(pieces[:-1])


def cut_at_word(text: str, limit: int) -> str:
    """The prefix of `text` that holds its first `limit` words."""
    if limit <= 0:
        return ""
    for index, match in enumerate(_WORD.finditer(text), start=1):
        if index == limit:
            return text[: match.end()]
    return text


def trim_to_words(text: str, budget: int, tolerance: float = 0.0) -> str:
    """Cut `text` to about `budget` words, at a sentence boundary when one lands within
    `tolerance` below the budget; otherwise at the budget's last word (a last resort for
    texts without sentence ends)."""
    if count_words(text) <= budget:
        return text
    kept = ""
    total = 0
    for sentence in sentences(text):
        words = count_words(sentence)
        if total + words > budget:
            break
        kept += sentence
        total += words
    if total >= math.floor(budget * (1 - tolerance)) and total > 0:
        return kept.rstrip()
    return cut_at_word(text, budget).rstrip()


def tail_words(text: str, limit: int) -> str:
    """The last whole sentences of `text` that fit in `limit` words (for bounded context)."""
    if count_words(text) <= limit:
        return text
    kept: list[str] = []
    total = 0
    for sentence in reversed(sentences(text)):
        words = count_words(sentence)
        if total + words > limit:
            break
        kept.append(sentence)
        total += words
    if not kept:
        return ""
    return "".join(reversed(kept)).strip()


def join_text(left: str, right: str) -> str:
    """Append a continuation: no space between CJK text, one space or newline otherwise."""
    left, right = left.rstrip(), right.strip()
    if not left or not right:
        return left or right
    if CJK_CHAR.match(right[0]) or CJK_CHAR.match(left[-1]) or left[-1] in "。！？；”」":
        return left + right
    return f"{left} {right}"


# --- lengths asked for in an instruction -------------------------------------------------------

_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000}
_ZH_NUMBER = r"\d[\d,]*(?:\.\d+)?|[零一二两三四五六七八九十百千万]+"
_EN_NUMBER = r"\d[\d,]*(?:\.\d+)?"
_EN_LENGTH = re.compile(
    rf"(?:(?P<low>{_EN_NUMBER})\s*k?\s*(?:-|–|to)\s*)?(?P<n>{_EN_NUMBER})\s*(?P<k>k|thousand)?"
    r"\s*(?:-|\s)?\s*words?\b",
    re.IGNORECASE,
)
_ZH_RANGE = rf"(?:(?P<low>{_ZH_NUMBER})\s*(?:至|到|-|~|～)\s*)?(?P<n>{_ZH_NUMBER})\s*(?P<wan>万)?"
_ZH_LENGTH = re.compile(rf"{_ZH_RANGE}\s*[字词]")
#: `字数要求2000左右`, `字数1400左右`, `篇幅约3000`: the number after a length field, 字 or not.
_ZH_FIELD = re.compile(
    rf"(?:字数|篇幅)(?:要求|限制|控制)?\s*[:：]?\s*(?:在|为|是|约|大约|大概|不少于|至少)*\s*{_ZH_RANGE}"
)

# A length that describes text the model is given, not the text to write: `summarize this
# 5000-word report`, `将这篇5000字的报告总结为…`. Matched against the text just before the number.
_EN_SOURCE = re.compile(
    r"(?:\b(?:this|that|these|those|given|attached|following|above|provided|existing|original)"
    r"\s+(?:[a-z]+\s+)?|\b(?:summari[sz]e|condense|shorten|abridge|translate|paraphrase|"
    r"proofread|analy[sz]e)\s+(?:(?:the|a|an)\s+)?)$",
    re.IGNORECASE,
)
_ZH_SOURCE = re.compile(
    r"(?:这篇|这份|这段|(?<!应)该|(?<!因)此|以下|下面|上面|上述|原文|给定|所给|"
    r"(?:总结|概括|缩写|翻译|阅读)(?:一篇|这篇)?)"
    r"(?:的)?\s*(?:约|大约)?\s*$"
)

# Lengths per piece (`each 300 words`, `每篇400字`, `各写1000字`) times the number of pieces.
_EN_PIECES = (
    r"paragraph|section|part|chapter|essay|stor(?:y|ie)|poem|letter|post|entr(?:y|ie)|article|"
    r"email|description|scene|speech|review|diary entr(?:y|ie)|day"
)
_EN_EACH_BEFORE = re.compile(r"\beach\s+(?:of\s+)?(?:about\s+|around\s+|roughly\s+)?$", re.I)
_EN_EACH_AFTER = re.compile(rf"\s*(?:each\b|apiece\b|per\s+(?:{_EN_PIECES})\b)", re.I)
_EN_SMALL = {
    name: value
    for value, name in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve"]
    )
}  # fmt: skip
_EN_COUNT = re.compile(
    rf"\b(?P<c>\d+|{'|'.join(_EN_SMALL)})\s+(?:[a-z-]+\s+)?(?P<u>{_EN_PIECES})s?\b", re.I
)
_ZH_PIECES = "篇|章|节|部分|段|天|首|封|则|条"
_ZH_EACH = re.compile(rf"(?:每个?(?P<u>{_ZH_PIECES})|各)(?:写|约|大约|不少于)?\s*$")
_ZH_COUNT = re.compile(rf"(?P<c>[\d]+|[一二两三四五六七八九十]+)\s*个?(?P<u>{_ZH_PIECES})")


def chinese_number(text: str) -> int | None:
    """`两千` -> 2000, `一万五千` -> 15000, `八百` -> 800; None when it is not a number."""
    total, section, digit = 0, 0, 0
    seen = False
    for char in text:
        if char in _DIGITS:
            digit = _DIGITS[char]
            seen = True
        elif char in _UNITS:
            unit = _UNITS[char]
            if unit == 10_000:
                total += (section + digit) * unit
                section = 0
            else:
                section += (digit or 1) * unit
            digit = 0
            seen = True
        else:
            return None
    return total + section + digit if seen else None


def _number(text: str) -> float | None:
    if text[0].isdigit():
        return float(text.replace(",", ""))
    if text.lower() in _EN_SMALL:
        return float(_EN_SMALL[text.lower()])
    value = chinese_number(text)
    return float(value) if value is not None else None


@dataclass(frozen=True)
class LengthRequest:
    words: int
    quote: str


def _pieces(
    instruction: str, span: tuple[int, int], count: re.Pattern[str], unit: str | None
) -> tuple[int, str] | None:
    """The most pieces the instruction asks for (`five diary entries`, `五篇`, `两部分`), of
    `unit` when given; outside the length itself."""
    best: tuple[int, str] | None = None
    for match in count.finditer(instruction):
        if match.start() < span[1] and span[0] < match.end():
            continue
        if unit and match.group("u") != unit:
            continue
        value = _number(match.group("c"))
        if value and value > 1 and (best is None or value > best[0]):
            best = (int(value), match.group(0).strip())
    return best


def _lengths(instruction: str) -> list[LengthRequest]:
    """Every length the instruction asks for, except ones that describe text it gives."""
    found: list[LengthRequest] = []
    for zh, pattern in ((False, _EN_LENGTH), (True, _ZH_LENGTH), (True, _ZH_FIELD)):
        for match in pattern.finditer(instruction):
            before = instruction[max(0, match.start() - 40) : match.start()]
            if (_ZH_SOURCE if zh else _EN_SOURCE).search(before):
                continue
            value = _number(match.group("n"))
            if not value:
                continue
            groups = match.groupdict()
            if groups.get("wan"):
                value *= 10_000
            elif groups.get("k"):
                value *= 1000
            quote = match.group(0).strip()
            if zh and (each := _ZH_EACH.search(before)):
                pieces = _pieces(instruction, match.span(), _ZH_COUNT, each.group("u"))
            elif not zh and (
                _EN_EACH_BEFORE.search(before) or _EN_EACH_AFTER.match(instruction, match.end())
            ):
                pieces = _pieces(instruction, match.span(), _EN_COUNT, None)
            else:
                pieces = None
            if pieces is not None:
                value, quote = value * pieces[0], f"{pieces[1]} × {quote}"
            if value >= MIN_REQUESTED_WORDS:
                found.append(LengthRequest(int(value), quote))
    return found


def requested_length(instruction: str) -> LengthRequest | None:
    """The length an instruction asks for (`2000 words`, `2k words`, `100-word`, `5000字`,
    `两千字`, `1.5万字`, `字数要求2000左右`; of a range, the upper end; `five entries of 300
    words each`, `每篇400字`: times the pieces), or None when it names none. Lengths of text the
    instruction gives (`summarize this 5000-word report`) do not count."""
    found = _lengths(instruction)
    return max(found, key=lambda request: request.words) if found else None


# Lengths assumed for instructions that name none, by the kind of text they ask for (first
# match wins). English keywords match whole words (with a plural s).
_DEFAULT_LENGTHS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (5000, ("novel", "thesis", "dissertation", "book", "小说", "论文")),
    (
        1500,
        ("essay", "article", "report", "story", "paper", "文章", "报告", "故事", "作文", "综述"),
    ),
    (800, ("letter", "speech", "blog", "review", "proposal", "信件", "封信", "演讲", "博客")),
    (300, ("tweet", "poem", "email", "abstract", "summary", "推文", "诗", "邮件", "摘要")),
)
#: Numbers below this are not lengths (`十字路口` is a crossroads, not ten characters).
MIN_REQUESTED_WORDS = 20


def _mentions(text: str, keyword: str) -> bool:
    if keyword.isascii():
        return re.search(rf"\b{re.escape(keyword)}s?\b", text) is not None
    return keyword in text


def default_length(instruction: str, fallback: int) -> tuple[int, str]:
    """A length for an instruction that names none, and why it was chosen."""
    lowered = instruction.lower()
    for words, keywords in _DEFAULT_LENGTHS:
        for keyword in keywords:
            if _mentions(lowered, keyword):
                return words, f"the instruction asks for a {keyword!r}"
    return fallback, "the configured default length"
