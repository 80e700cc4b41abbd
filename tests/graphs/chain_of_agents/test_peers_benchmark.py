"""The peers benchmark compares like with like (`benchmarks/peers.py`): on a small document the
hand loop, bare LangGraph and agentrun make the same calls with the same prompts and all find
the answer, in both modes (summary workers, agentrun's default for models other than the
embedded one, and evidence workers), so its ratios measure only the machinery around the
calls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentrun.agents.tokens import count_cl100k
from agentrun.text.quotes import number_sentences
from benchmarks import peers


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    process, url = peers.start_server(0.0)
    yield url
    process.terminate()
    process.wait()


@pytest.mark.parametrize("cu_format", ["free", "evidence"])
async def test_every_strategy_makes_the_same_calls_and_finds_the_answer(
    server_url: str, tmp_path: Path, cu_format: peers.CuFormat
) -> None:
    document = peers.generated_document(20_000)
    bench = peers.Bench(server_url, document, count_cl100k(document), tmp_path)
    agentrun = "auto" if cu_format == "free" else cu_format  # the defaults: summary workers
    outcomes = [
        await peers.hand_loop(bench, cu_format),
        await peers.langgraph_loop(bench, cu_format),
        await peers.agentrun_defaults(bench, agentrun),
    ]
    assert {outcome.answer for outcome in outcomes} == {peers.ANSWER}
    assert len({outcome.calls for outcome in outcomes}) == 1
    assert outcomes[0].calls >= 3  # two chunks or more, then the manager
    shares = [outcome.prompt_tokens / bench.document_tokens for outcome in outcomes]
    assert max(shares) / min(shares) < 1.03


def test_hand_chunks_fit_the_chunk_size_as_the_worker_sees_them(tmp_path: Path) -> None:
    bench = peers.Bench("unused", peers.generated_document(20_000), 0, tmp_path)
    config = peers.mode_config("evidence")
    chunks = bench.hand_chunks(config)
    assert "".join(chunks).replace("\n", "").replace(" ", "") == bench.document.replace(
        "\n", ""
    ).replace(" ", "")
    assert max(count_cl100k(number_sentences(c).render()) for c in chunks) <= (
        bench.hand_chunk_tokens(config)
    )
