"""What a chain-of-agents run writes where: memory only for what later runs use, its own prompts,
chunks and units in the run's records (no memory write per model call), and a default memory
store that is not even opened when nothing needs it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.base import Op, PutOp, Result
from langgraph.store.memory import InMemoryStore

from agentrun.agents import Gateway
from agentrun.agents.testing import scripted_model
from agentrun.graphs.chain_of_agents import ChainOfAgents
from agentrun.graphs.run_records import RunRecords, records_path
from agentrun.memory import STORE_DIR
from tests.graphs.chain_of_agents.test_chain_of_agents import (
    QUESTION,
    config,
    document,
    worker_or_manager,
)


class CountingStore(InMemoryStore):
    """An in-memory store that keeps every write it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.puts: list[PutOp] = []

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        self.puts += [op for op in ops if isinstance(op, PutOp)]
        return await super().abatch(ops)


async def test_model_calls_write_nothing_to_memory_and_the_run_records_keep_it(
    data_dir: Path,
) -> None:
    store = CountingStore()
    with scripted_model(worker_or_manager, context_window=1024) as fake:
        async with Gateway(data_dir=data_dir, cache=False) as gateway:
            flow = ChainOfAgents(
                config(), gateway=gateway, store=store, checkpointer=InMemorySaver()
            )
            result = await flow.arun(document(), QUESTION, thread_id="t1")
    assert result.answer == "4471" and result.chunk_count > 3
    assert len(fake.calls) == result.chunk_count + 1
    assert store.puts == []  # not a prompt, a unit or a non-indexed chunk
    records = RunRecords(records_path(data_dir, "t1"))
    assert len(records.values("prompt")) == len(fake.calls) == len(result.prompts)
    assert len(records.values("chunk")) == result.chunk_count
    assert [u["text"] for u in records.values("unit")] == result.communication_units


async def test_indexed_chunks_still_go_to_memory_in_one_write(data_dir: Path) -> None:
    store = CountingStore()
    with scripted_model(worker_or_manager, context_window=1024):
        async with Gateway(data_dir=data_dir, cache=False) as gateway:
            flow = ChainOfAgents(
                config(index_chunks=True), gateway=gateway, store=store,
                checkpointer=InMemorySaver(),
            )  # fmt: skip
            result = await flow.arun(document(), QUESTION)
    assert len(store.puts) == result.chunk_count  # the chunks, which later runs search
    assert {op.key.split("-")[0] for op in store.puts} == {result.doc_id}


async def test_a_default_run_that_needs_no_memory_never_opens_the_store(data_dir: Path) -> None:
    with scripted_model(worker_or_manager, context_window=1024):
        async with Gateway(data_dir=data_dir, cache=False) as gateway:
            flow = ChainOfAgents(config(), gateway=gateway, data_dir=data_dir)
            result = await flow.arun(document(), QUESTION)
    assert result.answer == "4471"
    assert not (data_dir / STORE_DIR).exists()


def test_run_records_keep_the_last_write_of_a_key_and_skip_a_cut_line(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "r" / "records.jsonl"
    first = RunRecords(path)
    first.put("unit", "00-000001", {"text": "b"})
    first.put_many("unit", [("00-000000", {"text": "a"}), ("00-000001", {"text": "B"})])
    first.close()
    with path.open("a", encoding="utf-8") as cut:  # a process killed mid-line
        cut.write('{"kind": "unit", "key": "00-0000')
    again = RunRecords(path)  # a resumed run's
    assert again.values("unit") == [{"text": "a"}, {"text": "B"}]
    assert again.get("unit", "00-000000") == {"text": "a"} and again.values("prompt") == []
    again.put("unit", "00-000002", {"text": "c"})  # appended on a line of its own
    again.close()
    assert RunRecords(path).values("unit")[-1] == {"text": "c"}
    assert path.stat().st_mode & 0o077 == 0
