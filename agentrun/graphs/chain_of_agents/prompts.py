"""What chain-of-agents' roles are told: evidence and summary workers, the manager, the judge of
several paths; and how the judge's reply is read.

Replies are plain text with the tiny grammar of `agentrun.agents.roles` (bullet lines, or the
word NONE), which every model can follow, small local ones included.
"""

from __future__ import annotations

import re

from agentrun.agents import roles
from agentrun.agents.config import LOCAL_MODEL
from agentrun.agents.messages import Message
from agentrun.graphs.chain_of_agents.models import ChainOfAgentsConfig
from agentrun.text.quotes import number_sentences

_FIRST_INT = re.compile(r"\d+")


def evidence_worker(query: str, previous: str, chunk: str, position: str) -> list[Message]:
    """Ask for the sentences of one chunk that help answer the query, by their numbers: the
    sentence cited is then the source text itself, whatever the model would have retyped."""
    return [
        {"role": "system", "content": "You collect evidence from one part of a long document."},
        {
            "role": "user",
            "content": f"Evidence found so far:\n{previous or '(none)'}\n\n"
            f"Text ({position}), one numbered sentence per line:\n"
            f"{number_sentences(chunk).render()}\n\n"
            f"Question: {query}\n"
            "Reply with the numbers of the sentences of the text that help answer the question, "
            f"each in brackets like [n]. If no sentence helps, reply {roles.NONE}.",
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


def parse_choice(reply: str, count: int) -> int | None:
    """The candidate the judge named, or None when it named none of them."""
    found = _FIRST_INT.search(reply)
    if found is None:
        return None
    choice = int(found.group())
    return choice if 0 <= choice < count else None


# --- which prompt a run uses -------------------------------------------------------------------


def uses_evidence(config: ChainOfAgentsConfig, query: str | None) -> bool:
    """Whether workers cite evidence (a config still `auto` is read by its model's name)."""
    if query is None:
        return False
    if config.cu_format == "auto":
        return config.model == LOCAL_MODEL
    return config.cu_format == "evidence"


def worker_messages(
    config: ChainOfAgentsConfig, query: str | None, previous: str, chunk: str, position: str
) -> list[Message]:
    if uses_evidence(config, query):
        assert query is not None
        return evidence_worker(query, previous, chunk, position)
    return summary_worker(query, previous, chunk, position)


def manager_messages(query: str | None, unit: str, *, citing: bool = False) -> list[Message]:
    """The manager's prompt; `citing`: `unit` is numbered facts, and the answer cites them."""
    if not query:
        return summarizer(unit)
    return roles.citing_answerer(query, unit) if citing else roles.answerer(query, unit)
