"""Answering from long documents, shared by the workflows that read them: what the answerer is
told, and how quotes and answers are read from replies (each workflow keeps its other prompts).

Replies are plain text with a tiny grammar (bullet lines, or the word NONE) rather than JSON:
every model can follow it, including small local ones, whose answers get worse under a JSON
grammar. The parsers are lenient and never invent content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agentrun.agents.messages import Message

NONE = "NONE"

_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")
_QUOTES = "\"'“”‘’«»「」"
_ANSWER_PREFIX = re.compile(
    r"^\s*(?:the\s+)?answer(?:\s+to\s+the\s+question)?(?:\s+is)?\s*[:\-]?\s*", re.IGNORECASE
)
_DASH = re.compile(r"^\s*[-*•]\s*")
#: The prompt's own example citation, which small models copy: never part of an answer.
_PLACEHOLDER = re.compile(r"\[n\]")
_REFERENCE = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
#: A line that is only sentence numbers: "3", "3, 7", "Sentences 3 and 7."
_ONLY_NUMBERS = re.compile(
    r"^\s*(?:sentences?\s*)?(\d+(?:\s*(?:,|;|and|&)\s*\d+)*)\s*\.?\s*$", re.IGNORECASE
)


def answerer(query: str, context: str, *, context_name: str = "Evidence") -> list[Message]:
    """Answer from the given context only, briefly, or say NONE."""
    return [
        {"role": "system", "content": "You answer questions from the text you are given, only."},
        {
            "role": "user",
            "content": f"{context_name}:\n{context or '(none)'}\n\n"
            f"Question: {query}\n"
            f"Answer with a few words from the {context_name.lower()}. If it does not answer "
            f"the question, reply {NONE}.",
        },
    ]


def citing_answerer(query: str, facts: str) -> list[Message]:
    """Answer from numbered facts (`[id] text` lines) and cite the ones used, or say NONE: the
    citation is what the answer is checked against."""
    return [
        {"role": "system", "content": "You answer questions from the facts you are given, only."},
        {
            "role": "user",
            "content": f"Facts:\n{facts or '(none)'}\n\nQuestion: {query}\n"
            "Answer with a few words from the facts, then the number of each fact you used, in "
            f"brackets like [n]. If no fact answers the question, reply {NONE} and say why.",
        },
    ]


# --- reading replies ---------------------------------------------------------------------------


def is_none(reply: str) -> bool:
    return reply.strip().strip(_QUOTES + ".").upper().startswith(NONE)


def parse_quotes(reply: str) -> list[str]:
    """Candidate quotes from a reply: its bullet lines, else its non-empty lines."""
    if is_none(reply):
        return []
    lines = [line for line in reply.splitlines() if line.strip()]
    bullets = [line for line in lines if _BULLET.match(line)]
    chosen = bullets or lines
    quotes = [_BULLET.sub("", line).strip().strip(_QUOTES).strip() for line in chosen]
    return [quote for quote in quotes if quote and not is_none(quote)]


def parse_answer(reply: str) -> str | None:
    """The answer in a reply, or None when the model abstained (or said nothing)."""
    text = reply.strip()
    if not text or is_none(text):
        return None
    first = next(line for line in text.splitlines() if line.strip())
    answer = _ANSWER_PREFIX.sub("", _BULLET.sub("", first)).strip().strip(_QUOTES).strip()
    return None if not answer or is_none(answer) else answer


@dataclass(frozen=True)
class References:
    """What a reply citing numbered sentences named: the ids, in order and each once, and the
    lines that carried no id (text the model wrote instead, to be checked as quotes)."""

    ids: list[int]
    quotes: list[str]


def _bracketed(text: str) -> list[int]:
    """The ids cited in brackets: `[3]`, `[3, 7]`."""
    return [int(n) for group in _REFERENCE.findall(text) for n in re.findall(r"\d+", group)]


def parse_references(reply: str) -> References:
    """Sentence ids from a reply: `[3]`, `[3, 7]` anywhere in a line (text after an id, such as
    the sentence copied or a reason, is ignored), or a line of bare numbers ("3, 7"). A line
    with no id is kept as a quote."""
    if is_none(reply):
        return References([], [])
    ids: list[int] = []
    quotes: list[str] = []
    for line in reply.splitlines():
        found = _bracketed(line)
        if not found and (bare := _ONLY_NUMBERS.match(_DASH.sub("", line))):
            found = [int(n) for n in re.findall(r"\d+", bare.group(1))]
        if found:
            ids += [n for n in found if n not in ids]
        else:
            quotes += parse_quotes(line)
    return References(ids, quotes)


@dataclass(frozen=True)
class CitedAnswer:
    """An answer and the ids it cites (None: it cited none), or no answer and why."""

    answer: str | None
    cited: list[int] | None
    reason: str = ""


def parse_cited_answer(reply: str) -> CitedAnswer:
    """The answer of a `citing_answerer` reply: its first line without the `[id]` citations,
    which are read from the whole reply. NONE (and what follows it) is an abstention."""
    text = reply.strip()
    if not text or is_none(text):
        why = text[len(NONE) :].strip(" .:-\n") if text else ""
        return CitedAnswer(None, None, why or "the answerer found no fact that answers it")
    ids = list(dict.fromkeys(_bracketed(text)))  # a bare number is an answer, not a citation
    first = next(line for line in text.splitlines() if line.strip())
    uncited = _PLACEHOLDER.sub("", _REFERENCE.sub("", first))
    answer = parse_answer(uncited.strip().strip(".").strip())
    return CitedAnswer(answer, ids or None)
