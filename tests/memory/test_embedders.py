"""Embedders: the offline MiniLM default, LiteLLM embeddings, and the deterministic fake."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from agentrun.errors import ModelCallError
from agentrun.memory import (
    ChromaStore,
    Embedder,
    FakeEmbedder,
    LiteLLMEmbedder,
    MiniLMEmbedder,
    in_memory_store,
)


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_minilm_gives_semantic_unit_vectors() -> None:
    embedder = MiniLMEmbedder()
    texts = [
        "The cat sat on the mat.",
        "A kitten is resting on a rug.",
        "Quarterly revenue rose by ten percent.",
        "How tall is the lighthouse?",
        "The lighthouse is a round tower 28 metres high.",
        "Interest rates were cut by the central bank.",
    ]
    vectors = embedder.embed(texts)
    assert len(vectors) == 6 and all(len(v) == 384 for v in vectors)
    assert all(abs(np.linalg.norm(v) - 1) < 1e-5 for v in vectors)
    assert cosine(vectors[0], vectors[1]) > 0.5 > cosine(vectors[0], vectors[2])
    assert cosine(vectors[3], vectors[4]) > max(cosine(vectors[3], v) for v in vectors[:3])
    assert cosine(vectors[2], vectors[5]) > cosine(vectors[2], vectors[0])
    # Batching and padding change nothing: each text embeds the same alone.
    alone = embedder.embed([texts[4]])[0]
    assert np.allclose(alone, vectors[4], atol=1e-5)


def test_minilm_truncates_like_sentence_transformers_and_counts_word_pieces() -> None:
    embedder = MiniLMEmbedder()
    words = " ".join(f"w{i}" for i in range(400))
    assert embedder.count_tokens(words) > 256
    pieces = embedder.count_tokens("lighthouse keepers")
    assert 2 <= pieces <= 4
    from agentrun.memory.minilm import shared_model

    ids = shared_model().tokenizer.encode(words).ids
    assert len(ids) == 256  # [CLS] + 254 + [SEP]
    head = shared_model().tokenizer.decode(ids[1:-1])
    full, cut = embedder.embed([words, head])
    assert cosine(full, cut) > 0.999


def test_default_store_embeds_without_torch_or_litellm(tmp_path: Any) -> None:
    code = (
        "import sys; from agentrun.memory import default_store\n"
        f"with default_store({str(tmp_path)!r}) as s:\n"
        "    s.put(('d',), 'a', {'text': 'the harbour wall is granite'})\n"
        "    s.put(('d',), 'b', {'text': 'tax rates went up'})\n"
        "    found = s.search(('d',), query='what stone is the pier made of', limit=1)\n"
        "    assert found[0].key == 'a'\n"
        "banned = {'torch', 'sentence_transformers', 'litellm', 'onnxruntime'} & set(sys.modules)\n"
        "assert not banned, banned\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_fake_embedder_is_deterministic_and_word_based() -> None:
    fake = FakeEmbedder(32)
    a, b, c = fake.embed(["red apples and pears", "pears and red apples", "stone wall"])
    assert a == b  # a bag of words: order does not matter
    assert cosine(a, fake.vector("red apples")) > cosine(a, c)
    assert fake.embed(["red apples and pears"])[0] == a
    assert fake.name == "fake-bag-of-words-32" and isinstance(fake, Embedder)
    code = "from agentrun.memory import FakeEmbedder; print(FakeEmbedder(32).vector('red apples'))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == str(fake.vector("red apples"))


@pytest.fixture
def embeddings_server() -> Iterator[dict[str, Any]]:
    """An OpenAI-style /v1/embeddings endpoint answering with FakeEmbedder vectors."""
    import asyncio
    import threading

    from agentrun.agents.local import free_port

    fake = FakeEmbedder(16)
    seen: dict[str, Any] = {"requests": [], "fail": False}

    async def embeddings(request: web.Request) -> web.Response:
        body = await request.json()
        seen["requests"].append(body)
        if seen["fail"]:
            return web.json_response({"error": {"message": "boom"}}, status=400)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": fake.vector(t)}
                for i, t in enumerate(inputs)]  # fmt: skip
        usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
        return web.json_response({"object": "list", "data": data, "model": body["model"],
                                  "usage": usage})  # fmt: skip

    loop = asyncio.new_event_loop()
    port = free_port()
    app = web.Application()
    app.router.add_post("/v1/embeddings", embeddings)
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    seen["url"] = f"http://127.0.0.1:{port}/v1"
    yield seen
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


async def test_litellm_embedder_through_a_provider_endpoint(
    embeddings_server: dict[str, Any], tmp_path: Any
) -> None:
    embedder = LiteLLMEmbedder(
        "openai/text-embed-fake", api_base=embeddings_server["url"], api_key="none", batch_size=3
    )
    assert embedder.dimensions == 16  # probed with one call
    texts = ["granite harbour wall", "red apples", "stone wall", "tax rates", "pears"]
    vectors = await embedder.aembed(texts)
    assert vectors == embedder.embed(texts)
    assert np.allclose(vectors[0], FakeEmbedder(16).vector(texts[0]))
    assert all(len(r["input"]) <= 3 for r in embeddings_server["requests"])
    with ChromaStore.persistent(tmp_path, embedder) as store:
        for i, text in enumerate(texts):
            await store.aput(("e",), str(i), {"text": text})
        found = await store.asearch(("e",), query="harbour wall", limit=1)
        assert found[0].key == "0"
    embeddings_server["fail"] = True
    with pytest.raises(ModelCallError, match=r"text-embed-fake.*embedding failed"):
        await embedder.aembed(["x"])


def test_in_memory_store_takes_any_embedder() -> None:
    store = in_memory_store(FakeEmbedder(8))
    store.put(("x",), "k", {"text": "granite wall"})
    assert store.search(("x",), query="granite", limit=1)[0].score is not None
