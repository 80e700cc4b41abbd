"""Documents split into the store: a split cut short by a crash is not taken for the whole."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from langgraph.store.base import Op, PutOp, Result
from langgraph.store.memory import InMemoryStore

from agentrun.agents import Gateway, GatewayConfig, ModelConfig
from agentrun.graphs.long_doc import prepare_document

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
