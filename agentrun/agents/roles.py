"""Agent roles for reading long documents: what each role is told, and how its reply is read.

Replies are plain text with a tiny grammar (bullet lines, or the word NONE) rather than JSON:
every model can follow it, including small local ones, whose answers get worse under a JSON
grammar. The parsers are lenient and never invent content.
"""

from __future__ import annotations

import re

from agentrun.agents.messages import Message

NONE = "NONE"

_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")
_QUOTES = "\"'“”‘’«»「」"
_FIRST_INT = re.compile(r"\d+")
_ANSWER_PREFIX = re.compile(r"^\s*(?:the\s+)?answer(?:\s+is)?\s*[:\-]?\s*", re.IGNORECASE)


def evidence_worker(query: str, previous: str, chunk: str, position: str) -> list[Message]:
    """Ask for the sentences of one chunk that help answer the query, copied word for word."""
    return [
        {"role": "system", "content": "You collect evidence from one part of a long document."},
        {
            "role": "user",
            "content": f"Evidence found so far:\n{previous or '(none)'}\n\n"
            f"Text ({position}):\n{chunk}\n\n"
            f"Question: {query}\n"
            "Copy the sentences of the text that help answer the question, word for word, one "
            f'per line, each starting with "- ". If no sentence helps, reply {NONE}.',
        },
    ]


def summary_worker(query: str | None, previous: str, chunk: str, position: str) -> list[Message]:
    """The paper's worker: one running summary of the chunk and the previous summary."""
    purpose = (
        f"Question: {query}\nWrite one summary of both that keeps every piece of evidence for "
        "the question; later agents will answer from it."
        if query
        else "Write one summary of both that keeps the important events and facts; later agents "
        "will summarize the whole document from it."
    )
    return [
        {"role": "system", "content": "You summarize one part of a long document at a time."},
        {
            "role": "user",
            "content": f"Source text ({position}):\n{chunk}\n\n"
            f"Summary of the previous source text:\n{previous or '(none)'}\n\n{purpose}",
        },
    ]


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


def summarizer(notes: str) -> list[Message]:
    return [
        {"role": "system", "content": "You write summaries of long documents from notes."},
        {
            "role": "user",
            "content": f"Notes on a long document:\n{notes}\n\nWrite a summary of the document.",
        },
    ]


def judge(query: str, candidates: list[str | None]) -> list[Message]:
    listed = "\n".join(f"{i}: {a if a else '(no answer)'}" for i, a in enumerate(candidates))
    return [
        {"role": "system", "content": "You pick the best answer among candidates."},
        {
            "role": "user",
            "content": f"Question: {query}\nCandidates:\n{listed}\n\n"
            "Reply with the number of the right candidate only.",
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


def parse_choice(reply: str, count: int) -> int | None:
    found = _FIRST_INT.search(reply)
    if found is None:
        return None
    choice = int(found.group())
    return choice if 0 <= choice < count else None
