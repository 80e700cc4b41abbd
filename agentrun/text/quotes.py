"""Finding a model's quote in its source, so no workflow reasons over text that is not there.

A quote is located by, in order: exact match; match under Unicode compatibility normalization
(NFKC-equivalent), case folding and whitespace collapsing; then fuzzy alignment above a
threshold. Every match is mapped back to the original text: `source[span.start:span.end]` is the
kept quote, which may differ from what the model wrote. A match never cuts a character or a word:
it is widened to whole grapheme clusters (a letter with its combining marks, an emoji with its
ZWJ sequence, variation selector or skin tone, a flag's pair of regional indicators) and, in
scripts written with spaces, to whole words ("founded in 17" keeps "founded in 1761"); it is
never widened across characters of scripts written without spaces (Han, kana, Thai...), where
any character boundary may be a word boundary. Among several exact or normalized occurrences the
first one that needs no widening wins. A match that is not exact and whose negation differs from
the quote ("was not" found as "was", "was" widened to "wasn't") is a `paraphrase`, never a near
copy: the source it keeps says the opposite of what the model wrote. `match_sentence` goes one
step further for models that cannot copy at all: it maps a restatement to the source sentence it
restates. `unsupported_words` checks an answer against the text it claims to come from, word by
word.

Models that cannot copy at all can cite instead: `number_sentences` shows a text with its
sentences numbered (`[3] The keeper ...`), and a sentence id maps back to its exact span, so
evidence cited by reference is verbatim by construction. `names` reads the names a question or
a sentence mentions, so evidence can be kept to what the question is about.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz
from rapidfuzz.distance import Indel

MatchKind = Literal["exact", "normalized", "fuzzy", "paraphrase"]

#: Quotes shorter than this many characters are too ambiguous to verify fuzzily.
MIN_FUZZY_LENGTH = 12


@dataclass(frozen=True)
class QuoteSpan:
    """A located quote: `source[start:end] == text`. `match` is `exact` when `text` is the quote
    as written, `normalized` when it was found after normalization or widened to whole words or
    characters, `fuzzy` when the model's words differ from the source in spelling only, and
    `paraphrase` when they differ in more: a restatement, or a negation the source lacks (or
    a negation of the source left out)."""

    start: int
    end: int
    text: str
    match: MatchKind
    score: float


def _fold_char(char: str) -> str:
    """Compatibility-decomposed, case-folded form of one character."""
    return unicodedata.normalize("NFKD", char).casefold()


def _folded(text: str) -> tuple[str, list[int]]:
    """Normalized text and, for each of its characters, the index of the source character.

    Whitespace runs become one space; leading and trailing whitespace is dropped.
    """
    chars: list[str] = []
    origin: list[int] = []
    in_space = False
    for index, char in enumerate(text):
        if char.isspace():
            if chars and not in_space:
                chars.append(" ")
                origin.append(index)
            in_space = True
            continue
        in_space = False
        for piece in _fold_char(char):
            chars.append(piece)
            origin.append(index)
    while chars and chars[-1] == " ":
        chars.pop()
        origin.pop()
    return "".join(chars), origin


# --- grapheme clusters and words ----------------------------------------------------------------

_ZWJ = "\u200d"
#: Hangul jamo classes for the cluster rules of UAX #29 (decomposed Korean).
_L, _V, _T, _LV, _LVT = "L", "V", "T", "LV", "LVT"
#: Scripts written without spaces between words: a boundary between two of their characters may
#: be a word boundary, so matches are never widened across them.
_UNSPACED = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3005, 0x3007),  # 々〆〇
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)


def _extends(char: str) -> bool:
    """Whether `char` attaches to the character before it (Extend / SpacingMark / ZWJ)."""
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Me", "Mc")
        or char == _ZWJ
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF  # emoji skin tones
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences
    )


def _hangul(char: str) -> str | None:
    code = ord(char)
    if 0x1100 <= code <= 0x115F or 0xA960 <= code <= 0xA97C:
        return _L
    if 0x1160 <= code <= 0x11A7 or 0xD7B0 <= code <= 0xD7C6:
        return _V
    if 0x11A8 <= code <= 0x11FF or 0xD7CB <= code <= 0xD7FB:
        return _T
    if 0xAC00 <= code <= 0xD7A3:
        return _LV if (code - 0xAC00) % 28 == 0 else _LVT
    return None


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _is_boundary(text: str, index: int) -> bool:
    """Whether `text` may be cut at `index` without splitting a grapheme cluster."""
    if index <= 0 or index >= len(text):
        return True
    before, char = text[index - 1], text[index]
    if before == "\r" and char == "\n":
        return False
    if before in "\r\n" or char in "\r\n":
        return True
    if _extends(char) or before == _ZWJ:
        return False
    if _regional(before) and _regional(char):
        run = 0  # regional indicators pair up from the start of their run
        while index - run - 1 >= 0 and _regional(text[index - run - 1]):
            run += 1
        return run % 2 == 0
    left, right = _hangul(before), _hangul(char)
    return not (
        (left == _L and right in (_L, _V, _LV, _LVT))
        or (left in (_LV, _V) and right in (_V, _T))
        or (left in (_LVT, _T) and right == _T)
    )


def grapheme_boundaries(text: str) -> list[int]:
    """Offsets where `text` may be cut without splitting a user-perceived character (0 and
    len(text) included): the cluster rules of UAX #29 that matter for quoting."""
    return [index for index in range(len(text) + 1) if _is_boundary(text, index)]


def _unspaced(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _UNSPACED)


#: Apostrophes that join the letters either side into one word ("wasn't", "keeper's").
_APOSTROPHES = "'\u2019\u02bc"


def _inside_word(source: str, index: int) -> bool:
    """Whether a cut at `index` (a cluster boundary) would split a word of a script written
    with spaces; judged on the base characters of the clusters either side. An apostrophe
    between letters is inside the word (UAX #29), so "was" is never kept out of "wasn't"."""
    if index <= 0 or index >= len(source):
        return False
    base = index - 1
    while base > 0 and _extends(source[base]):
        base -= 1
    left, right = source[base], source[index]
    if _unspaced(left) or _unspaced(right):
        return False
    if right in _APOSTROPHES:
        return left.isalpha() and index + 1 < len(source) and source[index + 1].isalpha()
    if left in _APOSTROPHES:
        return right.isalpha() and base > 0 and source[base - 1].isalpha()
    return left.isalnum() and right.isalnum()


def word_boundaries(text: str) -> list[int]:
    """Grapheme boundaries that do not split a word of a script written with spaces (between
    any two characters of Han, kana, Thai... text, which has no spaces)."""
    return [i for i in grapheme_boundaries(text) if not _inside_word(text, i)]


def _widen(source: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) grown to whole grapheme clusters and, where words are spaced, whole words."""
    while start > 0 and not (_is_boundary(source, start) and not _inside_word(source, start)):
        start -= 1
    while end < len(source) and not (_is_boundary(source, end) and not _inside_word(source, end)):
        end += 1
    return start, end


def _span(origin: list[int], start: int, end: int) -> tuple[int, int]:
    """Original [start, end) of normalized [start, end) (whole source characters)."""
    return origin[start], origin[end - 1] + 1


def _occurrences(haystack: str, needle: str, limit: int = 1000) -> list[int]:
    found: list[int] = []
    position = haystack.find(needle)
    while position != -1 and len(found) < limit:
        found.append(position)
        position = haystack.find(needle, position + 1)
    return found


def _best_span(spans: list[tuple[int, int]], source: str) -> tuple[int, int, bool]:
    """The first span that cuts nothing, else the first one widened; and whether it was."""
    for start, end in spans:
        if _widen(source, start, end) == (start, end):
            return start, end, False
    return (*_widen(source, *spans[0]), True)


def _aligned(quote: str, source: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) of `source` less the characters at either end that no best alignment with
    the quote needs: the fuzzy window is as long as the quote, so a quote with words the source
    lacks would otherwise take in the neighbouring text (". The keeper ... Holt. E")."""

    def cost(first: int, last: int) -> int:
        return int(Indel.distance(quote, source[first:last]))

    while end > start and cost(start, end - 1) < cost(start, end):
        end -= 1
    while end > start and cost(start + 1, end) < cost(start, end):
        start += 1
    return start, end


def _located(
    source: str, quote: str, start: int, end: int, kind: MatchKind, score: float
) -> QuoteSpan:
    """The span kept for `quote`; a `paraphrase` when it is not the quote as written and its
    negation differs (see `negations`)."""
    text = source[start:end]
    if kind != "exact" and negations(text) != negations(quote):
        kind = "paraphrase"
    return QuoteSpan(start, end, text, kind, score)


def locate(source: str, quote: str, *, fuzzy_threshold: float = 90.0) -> QuoteSpan | None:
    """Where `quote` is in `source`, or None when it cannot be found well enough."""
    needle = quote.strip()
    if not needle or not source:
        return None
    exact = _occurrences(source, needle)
    if exact:
        start, end, widened = _best_span([(i, i + len(needle)) for i in exact], source)
        return _located(source, needle, start, end, "normalized" if widened else "exact", 100.0)
    folded_source, origin = _folded(source)
    folded_quote, _ = _folded(needle)
    if not folded_quote:
        return None
    positions = _occurrences(folded_source, folded_quote)
    if positions:
        spans = [_span(origin, i, i + len(folded_quote)) for i in positions]
        start, end, _ = _best_span(spans, source)
        return _located(source, needle, start, end, "normalized", 100.0)
    if len(folded_quote) < MIN_FUZZY_LENGTH or len(folded_quote) > len(folded_source):
        return None
    alignment = fuzz.partial_ratio_alignment(folded_quote, folded_source)
    if alignment is None or alignment.score < fuzzy_threshold:
        return None
    start, end = _aligned(folded_quote, folded_source, alignment.dest_start, alignment.dest_end)
    if end <= start:
        return None
    start, end = _widen(source, *_span(origin, start, end))
    return _located(source, needle, start, end, "fuzzy", float(alignment.score))


_SENTENCE = re.compile(r"[^.!?。！？\n]+(?:[.!?。！？]+[\"'”’)\]]*|$)")
_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an the of in on at to for from by with and or but is was were be been are it its this "
        "that these those as which who whom what when where why how did do does has have had not",
    )
)


def content_words(text: str) -> set[str]:
    """Lower-cased words of a text without the commonest function words."""
    return {w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOPWORDS}


def sentences(source: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `source`, without surrounding whitespace."""
    spans = []
    for match in _SENTENCE.finditer(source):
        start, end = match.start(), match.end()
        while start < end and source[start].isspace():
            start += 1
        while end > start and source[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def match_sentence(
    source: str, text: str, *, min_overlap: float = 0.5, min_words: int = 3
) -> QuoteSpan | None:
    """The sentence of `source` that `text` restates, judged by shared content words.

    For models that cannot copy: their restatement of a sentence is mapped back to the sentence
    itself, which is then the evidence kept (verbatim, with offsets). Words are weighted by how
    rare they are among the source's sentences, so a shared name that occurs everywhere counts
    for less than a shared rare word.
    """
    wanted = content_words(text)
    if len(wanted) < min_words:
        return None
    spans = sentences(source)
    words_of = [content_words(source[start:end]) for start, end in spans]
    frequency: Counter[str] = Counter(w for words in words_of for w in words & wanted)
    weight = {w: math.log((1 + len(spans)) / (1 + frequency[w])) + 1.0 for w in wanted}
    total = sum(weight.values())
    best: tuple[float, int, int] | None = None
    for (start, end), words in zip(spans, words_of, strict=True):
        shared = wanted & words
        score = sum(weight[w] for w in shared) / total
        if len(shared) >= min_words and score >= min_overlap and (best is None or score > best[0]):
            best = (score, start, end)
    if best is None:
        return None
    score, start, end = best
    return QuoteSpan(start, end, source[start:end], "paraphrase", round(100 * score, 1))


# --- words: negation and answer support ----------------------------------------------------------

#: Words that negate what follows; "n't" is read as "not" and "cannot" as "can not" first.
NEGATIONS = frozenset(
    ("not", "no", "never", "none", "nor", "neither", "without", "nobody", "nothing", "nowhere")
)
#: Words an answer may use that no fact has to hold: the function words of `content_words`
#: (negations excepted: "not Maren Holt" is a claim), pronouns, and the clitics left when an
#: apostrophe splits a word ("Holt's" -> holt, s).
FUNCTION_WORDS = (_STOPWORDS - NEGATIONS) | frozenset(
    re.findall(
        r"\w+",
        "he she they him her them his hers their theirs we us our you your i me my there than so "
        "also s d ll m re ve",
    )
)
_STRAIGHT = str.maketrans(dict.fromkeys(_APOSTROPHES, "'"))
_NOT = re.compile(r"(?<=\w)n't\b")
_CANNOT = re.compile(r"\bcannot\b")
#: A number (a comma between groups of three digits separates thousands; a decimal point is
#: kept) or a run of word characters.
_TOKEN = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w,])|\d+(?:\.\d+)?(?!\w)|\w+")


def words(text: str) -> list[str]:
    """The words of `text` as compared: NFKC, case-folded, curly apostrophes made straight,
    "n't" read as "not" and "cannot" as "can not"; punctuation dropped; a number's thousands
    commas removed ("1,890" is 1890, "3.5" one word)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = folded.translate(_STRAIGHT)
    folded = _CANNOT.sub("can not", _NOT.sub(" not", folded))
    return [token.replace(",", "") for token in _TOKEN.findall(folded)]


def negations(text: str) -> Counter[str]:
    """The negating words of `text` (see `NEGATIONS`), counted."""
    return Counter(word for word in words(text) if word in NEGATIONS)


def unsupported_words(answer: str, support: Iterable[str]) -> list[str]:
    """The words of `answer` (see `words`) that `support` does not hold, in order, each once.

    A word is held when it is a whole word of some text of `support`; words of scripts written
    without spaces (Han, kana, Thai...) are held when they occur inside one. `FUNCTION_WORDS`
    need no support; numbers must be written as digits the way the support writes them (only
    thousands commas are ignored).
    """
    held = {word for text in support for word in words(text)}
    missing: list[str] = []
    for word in words(answer):
        if word in FUNCTION_WORDS or word in held or word in missing:
            continue
        if any(_unspaced(char) for char in word) and any(word in other for other in held):
            continue
        missing.append(word)
    return missing


# --- sentences by reference ----------------------------------------------------------------------


@dataclass(frozen=True)
class NumberedText:
    """A text whose sentences are numbered from 1, for a model to cite by id: `render()` shows
    `[id] sentence` lines, `span(id)` is the sentence's exact (start, end) in `text`."""

    text: str
    spans: tuple[tuple[int, int], ...]

    def render(self) -> str:
        return "\n".join(f"[{i}] {self.text[s:e]}" for i, (s, e) in enumerate(self.spans, 1))

    def span(self, sentence_id: int) -> tuple[int, int] | None:
        """(start, end) of sentence `sentence_id`, or None when the text has no such sentence."""
        return self.spans[sentence_id - 1] if 1 <= sentence_id <= len(self.spans) else None

    def sentence(self, sentence_id: int) -> str | None:
        span = self.span(sentence_id)
        return None if span is None else self.text[span[0] : span[1]]


def number_sentences(text: str) -> NumberedText:
    """`text` with its sentences (see `sentences`) numbered for citing by id."""
    return NumberedText(text, tuple(sentences(text)))


# --- names ---------------------------------------------------------------------------------------

#: Capitalized words that open questions and commands rather than name anything.
_NOT_NAMES = FUNCTION_WORDS | frozenset(
    re.findall(r"\w+", "whose name list give tell describe explain please according")
)


def names(text: str) -> set[str]:
    """The names `text` mentions: its capitalized words (case-folded, as `words` reads them),
    except function words and the first word of each sentence, whose capital says nothing."""
    found: set[str] = set()
    for start, end in sentences(text):
        tokens = _WORD.findall(text[start:end])
        for token in tokens[1:]:
            if token[:1].isupper() and not token[:1].isdigit():
                word = words(token)
                if word and word[0] not in _NOT_NAMES:
                    found.add(word[0])
    return found


def mentioned(names_: Iterable[str], text: str) -> set[str]:
    """Which of `names_` (as `names` returns them) occur in `text` as whole words."""
    held = set(words(text))
    return {name for name in names_ if name in held}
