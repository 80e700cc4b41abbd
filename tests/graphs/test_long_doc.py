"""Documents split into the store (a split cut short by a crash is not taken for the whole) or
into a run's records (as they are made)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from langgraph.store.base import Op, PutOp, Result
from langgraph.store.memory import InMemoryStore

from agentrun.agents import Gateway, GatewayConfig, ModelConfig
from agentrun.graphs.long_doc import prepare_document
from agentrun.graphs.run_records import RunRecords
from agentrun.memory.records import chunk_key

TEXT = "\n\n".join(f"Paragraph {i} tells of keeper {i} and tower {i * 3}." * 6 for i in range(30))


class CrashingStore(InMemoryStore):
    """Stops after the first `after - 1` puts of a batch, as a process killed while writing
    chunks would."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        puts = [op for op in ops if isinstance(op, PutOp)]
        if puts and self.after:
            await super().abatch(puts[: self.after - 1])
            raise KeyboardInterrupt("killed while writing chunks")
        return await super().abatch(ops)


async def test_a_split_interrupted_while_writing_is_written_again_whole() -> None:
    gateway = Gateway(
        GatewayConfig(models={"m": ModelConfig(model="openai/x", context_window=4096)})
    )
    store = CrashingStore(after=4)
    options: dict[str, Any] = {"model": "m", "chunk_tokens": 64}
    with pytest.raises(KeyboardInterrupt):
        await prepare_document(gateway, store, ("ns",), TEXT, **options)
    store.after = 0  # the resumed run writes on
    again = await prepare_document(gateway, store, ("ns",), TEXT, **options)
    whole = await prepare_document(gateway, InMemoryStore(), ("ns",), TEXT, **options)
    assert whole.chunk_count > 4
    assert again.chunk_count == whole.chunk_count
    assert again.tokens == whole.tokens


async def test_a_run_keeps_its_chunks_on_disk_as_they_are_made(tmp_path: Path) -> None:
    """Splitting a long document into a run's records never holds the document a second time."""
    model = ModelConfig(model="openai/x", context_window=8192, tokens_per_cl100k=1.0)
    gateway = Gateway(GatewayConfig(models={"m": model}))
    text = "\n\n".join(
        f"Keeper {i} lit the lamp at dusk. The tide came in." * 3 for i in range(8_000)
    )
    gateway.count_texts("m", ["load the tokenizer first", "and its threads"] * 4)
    records = RunRecords(tmp_path / "records.jsonl")
    tracemalloc.start()
    try:
        doc = await prepare_document(
            gateway, InMemoryStore(), ("ns",), text, model="m", chunk_tokens=2000,
            records=records, numbered=True,
        )  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < len(text) / 3
    chunks = [
        records.get("chunk", chunk_key(doc.doc_id, doc.split, i)) for i in range(doc.chunk_count)
    ]
    assert "".join(chunk["text"] for chunk in chunks) == text
    assert [chunk["tokens"] for chunk in chunks] == gateway.count_texts(
        "m", [c["text"] for c in chunks]
    )
    assert doc.tokens == sum(chunk["tokens"] for chunk in chunks)
    records.close()
