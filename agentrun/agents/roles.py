"""Answering from long documents, shared by the workflows that read them: what the answerer is
told, and how quotes and answers are read from replies (each workflow keeps its other prompts).

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
_ANSWER_PREFIX = re.compile(r"^\s*(?:the\s+)?answer(?:\s+is)?\s*[:\-]?\s*", re.IGNORECASE)


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
