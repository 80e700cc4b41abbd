"""Pieces every long-document workflow shares: documents split into chunks, answers, and votes.

A document is split once per run for its model and chunk size. Chunks indexed for search go to
the memory store in the namespace's `chunks` (`agentrun.memory.namespaces.chunks_ns`), keyed by
document id, split and index, so later runs and other workflows find them; chunks a run only
reads in order are the run's own records (`agentrun.graphs.run_records`), which cost one file
append instead of a memory write and keep the memory for what later runs use. Either way graph
state carries only the document id and the chunk count. Document ids and stored documents are
the memory store's (`agentrun.memory.documents`); they are named here too, for the workflows.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import string
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from langgraph.store.base import BaseStore, PutOp
from pydantic import BaseModel, ConfigDict, Field

from agentrun.agents.gateway import Gateway
from agentrun.errors import UsageError
from agentrun.graphs.run_records import RunRecords
from agentrun.memory.documents import StoredDocument, document_id, load_text
from agentrun.memory.namespaces import chunks_ns
from agentrun.memory.records import DocumentChunk, chunk_key
from agentrun.text.quotes import mentioned, names, number_sentences, unsupported_words, words
from agentrun.text.splitter import (
    CHUNK_BATCH,
    BatchCounter,
    TextChunk,
    TokenCounter,
    iter_chunks,
)


class Answer(BaseModel):
    """A short answer, or null to abstain when the text does not contain it."""

    model_config = ConfigDict(extra="ignore")

    answer: str | None = Field(description="A short answer, or null if it is not in the text.")


Document = str | StoredDocument


@dataclass(frozen=True)
class PreparedDocument:
    doc_id: str
    split: str
    chunk_count: int
    tokens: int
    source: str
    #: Whether the chunks are in the memory store (indexed) or the run's records.
    in_store: bool = True


def model_slug(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", model).strip("_").lower()


async def prepare_document(
    gateway: Gateway,
    store: BaseStore,
    namespace: tuple[str, ...],
    document: Document,
    *,
    model: str,
    chunk_tokens: int,
    source: str = "document",
    index: bool = False,
    records: RunRecords | None = None,
    numbered: bool = False,
) -> PreparedDocument:
    """Split the document for `model` and keep its chunks: in the memory store when `index`
    (or no `records` are given; once: re-runs find them), else in the run's `records`.

    In the store, chunk 0 is written last and marks the split complete: a run killed while
    writing leaves no chunk 0, so the next run writes every chunk again (same keys) instead of
    taking the chunks it finds for the whole document.

    `numbered`: chunks are sized so that each fits `chunk_tokens` when shown with its sentences
    numbered (`agentrun.text.quotes.number_sentences`), as a model citing sentences by id sees
    it; the recorded token counts are still those of the plain text."""
    text = document if isinstance(document, str) else await load_text(store, namespace, document)
    if not text.strip():
        raise UsageError(f"{source}: the document is empty; pass a text with content")
    doc_id = document_id(text)
    split = f"{model_slug(model)}{'_numbered' if numbered else ''}-{chunk_tokens}"
    if records is not None and not index:
        chunk_count = tokens = 0

        def kept(chunks: Iterator[TextChunk]) -> Iterator[tuple[str, dict[str, Any]]]:
            nonlocal chunk_count, tokens
            for chunk in chunks:  # written as they are made: the document is never held twice
                chunk_count, tokens = chunk_count + 1, tokens + chunk.tokens
                yield chunk_key(doc_id, split, chunk.index), _record(chunk, source, doc_id, split)

        records.put_many("chunk", kept(_split(text, chunk_tokens, gateway, model, numbered)))
        return PreparedDocument(doc_id, split, chunk_count, tokens, source, in_store=False)
    first = await store.aget(chunks_ns(namespace), chunk_key(doc_id, split, 0))
    if first is not None:
        existing = await store.asearch(
            chunks_ns(namespace), filter={"doc_id": doc_id, "split": split}, limit=1_000_000
        )
        tokens = sum(int(item.value["tokens"]) for item in existing)
        return PreparedDocument(doc_id, split, len(existing), tokens, source)
    chunks = list(_split(text, chunk_tokens, gateway, model, numbered))
    puts = [
        PutOp(
            chunks_ns(namespace),
            chunk_key(doc_id, split, chunk.index),
            _record(chunk, source, doc_id, split),
            index=["text"] if index else False,
        )
        for chunk in [*chunks[1:], *chunks[:1]]  # chunk 0 last: it marks the split complete
    ]
    await store.abatch(puts)  # one write for the whole document, not one per chunk
    return PreparedDocument(doc_id, split, len(chunks), sum(c.tokens for c in chunks), source)


def _split(
    text: str, chunk_tokens: int, gateway: Gateway, model: str, numbered: bool
) -> Iterator[TextChunk]:
    """The document's chunks, as they are made; numbered ones are sized as shown numbered,
    counted as plain."""
    count, count_many = gateway.text_counter(model), gateway.texts_counter(model)
    if not numbered:
        return iter_chunks(text, chunk_tokens, count, count_many=count_many)
    chunks = iter_chunks(
        text, chunk_tokens, numbered_counter(count), count_many=numbered_batch(count_many)
    )
    return _recounted(chunks, count_many)


def _recounted(chunks: Iterator[TextChunk], count_many: BatchCounter) -> Iterator[TextChunk]:
    """The chunks with their plain counts, counted a batch at a time."""
    while batch := list(itertools.islice(chunks, CHUNK_BATCH)):
        counts = count_many([chunk.text for chunk in batch])
        yield from (dataclasses.replace(c, tokens=n) for c, n in zip(batch, counts, strict=True))


def numbered_counter(count: TokenCounter) -> TokenCounter:
    """Counts a text as a model citing sentences by id sees it: numbered."""
    return lambda text: count(number_sentences(text).render())


def numbered_batch(count_many: BatchCounter) -> BatchCounter:
    """`numbered_counter` for a batch of texts."""
    return lambda texts: count_many([number_sentences(text).render() for text in texts])


def _record(chunk: TextChunk, source: str, doc_id: str, split: str) -> dict[str, Any]:
    return DocumentChunk(
        text=chunk.text, source=source, doc_id=doc_id, split=split,
        index=chunk.index, start=chunk.start, end=chunk.end, tokens=chunk.tokens,
    ).to_value()  # fmt: skip


async def load_chunk(
    store: BaseStore,
    namespace: tuple[str, ...],
    doc: PreparedDocument | dict[str, Any],
    index: int,
    records: RunRecords | None = None,
) -> DocumentChunk:
    """Chunk `index` of a prepared document, from wherever `prepare_document` kept it."""
    if isinstance(doc, dict):
        doc = PreparedDocument(**doc)
    key = chunk_key(doc.doc_id, doc.split, index)
    if not doc.in_store and records is not None:
        value = records.get("chunk", key)
    else:
        item = await store.aget(chunks_ns(namespace), key)
        value = None if item is None else item.value
    if value is None:
        kept = "the memory store" if doc.in_store else "the run's records"
        raise UsageError(
            f"chunk {index} of document {doc.doc_id} is missing from {kept}; a resumed run "
            "needs the data directory and store it started with"
        )
    return DocumentChunk.from_value(value)


# --- answers ---------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.IGNORECASE)
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD-style normalization: lower case, no punctuation, articles or extra spaces."""
    lowered = _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION))
    return " ".join(lowered.split())


def vote(answers: list[str | None]) -> int:
    """Index of the majority answer (abstentions count only if nothing else was said)."""
    said = [normalize_answer(a) for a in answers if a]
    if not said:
        return 0
    winner, _ = Counter(said).most_common(1)[0]
    return next(i for i, a in enumerate(answers) if a and normalize_answer(a) == winner)


# --- what the evidence is about, and whether it holds the answer --------------------------------


class Citable(Protocol):
    """A piece of verified evidence an answer can cite by id."""

    @property
    def id(self) -> int: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Evidence:
    """Evidence numbered for citing: `id` is what an answer cites."""

    id: int
    text: str


def render_facts(facts: Sequence[Citable]) -> str:
    """Facts as a citing answerer sees them: `[id] text` lines."""
    return "\n".join(f"[{fact.id}] {fact.text}" for fact in facts)


@dataclass(frozen=True)
class Focus:
    """Which evidence is about the question (indexes, in order), and the names it was judged by
    (empty: the question names nothing, and all evidence is kept)."""

    kept: list[int]
    names: set[str]


def focus(query: str, evidence: Sequence[str]) -> Focus:
    """The evidence about what `query` names (`agentrun.text.quotes.names`).

    Kept: the texts that mention the most of the question's names, and the texts that mention a
    name of those (the second hop: "X works in Dorrowick." brings in "The harbour of Dorrowick
    is named Kellport."). Same-shaped evidence about other people and places is left out, so an
    answerer cannot read another entity's value into the one asked about; when no text mentions
    a name of the question, nothing is kept. A question that names nothing keeps everything.
    """
    asked = names(query)
    if not asked:
        return Focus(list(range(len(evidence))), asked)
    counts = [len(mentioned(asked, text)) for text in evidence]
    best = max(counts, default=0)
    if best == 0:
        return Focus([], asked)
    anchors = [i for i, count in enumerate(counts) if count == best]
    linked = set().union(*(names(evidence[i]) for i in anchors)) - asked
    kept = [i for i, text in enumerate(evidence) if counts[i] == best or mentioned(linked, text)]
    return Focus(kept, asked)


#: A bare yes or no judges the facts instead of repeating them: its citations are its support.
JUDGEMENTS = (["yes"], ["no"])


@dataclasses.dataclass(frozen=True)
class Grounding:
    """The answer kept (None: abstained), why, and the ids of the facts that support it."""

    answer: str | None
    reason: str
    cited: list[int]


def _ids(ids: list[int]) -> str:
    return ("fact " if len(ids) == 1 else "facts ") + ", ".join(map(str, ids))


def ground_answer(
    answer: str, cited: list[int] | None, facts: Sequence[Citable], reason: str
) -> Grounding:
    """Keep `answer` only if the verified facts it cites hold it, else abstain saying why.

    Held: every word of the answer but function words occurs as a whole word in the cited
    facts (`agentrun.text.quotes.unsupported_words`); a bare yes/no needs its citations only.
    `cited` None means the reasoner gave no ids (plain-text prompting): the answer is checked
    against all `facts`, and cites those that hold at least one of its words.
    """
    needed = unsupported_words(answer, [])
    if not needed:
        return Grounding(None, f"the answer {answer!r} has no word the facts could support", [])
    judgement = words(answer) in JUDGEMENTS
    if cited is None:
        support, named = facts, "the facts"
    else:
        unknown = sorted({i for i in cited if i not in {f.id for f in facts}})
        if unknown:
            exist = "does not exist" if len(unknown) == 1 else "do not exist"
            return Grounding(
                None,
                f"the answer {answer!r} cites {_ids(unknown)}, which {exist} (facts: "
                f"{', '.join(str(f.id) for f in facts)})",
                [],
            )
        support = [f for f in facts if f.id in cited]
        if not support:
            return Grounding(None, f"the answer {answer!r} cites no fact", [])
        named = f"the cited {_ids([f.id for f in support])}"
    missing = [] if judgement else unsupported_words(answer, [f.text for f in support])
    if missing:
        listed = ", ".join(repr(word) for word in missing)
        verb = "does" if len(missing) == 1 else "do"
        where = "it" if len(support) == 1 else "them"
        return Grounding(
            None, f"the answer {answer!r} is not supported by {named}: {listed} {verb} not "
            f"occur in {where}", [],
        )  # fmt: skip
    if cited is not None:  # a fact cited for a step of the reasoning need not hold a word
        return Grounding(answer, reason, list(dict.fromkeys(cited)))
    holding = [
        f.id for f in facts if judgement or len(unsupported_words(answer, [f.text])) < len(needed)
    ]
    return Grounding(answer, reason, holding)


__all__ = [
    "Answer",
    "Citable",
    "Document",
    "Evidence",
    "Focus",
    "Grounding",
    "PreparedDocument",
    "StoredDocument",
    "document_id",
    "focus",
    "ground_answer",
    "load_chunk",
    "load_text",
    "model_slug",
    "normalize_answer",
    "prepare_document",
    "render_facts",
    "vote",
]
