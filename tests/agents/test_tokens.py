"""Token counting and context windows per kind of model."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from agentrun.agents import Gateway, GatewayConfig, ModelConfig
from agentrun.agents.local import LocalServer, default_model_path
from agentrun.agents.testing import scripted_model
from agentrun.agents.tokens import cl100k, count_cl100k, count_cl100k_many
from agentrun.errors import ConfigError
from agentrun.graphs.chain_of_agents import ChainOfAgentsConfig, plan_chunk_tokens
from agentrun.text.splitter import split_text

TEXT = "Retrieval first, then reasoning: quote the evidence, verify it, and only then answer."


def test_cl100k_loads_offline_without_touching_the_environment() -> None:
    before = dict(os.environ)
    assert cl100k().encode("hello world") == [15339, 1917]
    assert dict(os.environ) == before


def test_litellm_known_models_use_litellm_counter_and_window(data_dir: Path) -> None:
    gateway = Gateway(data_dir=data_dir)
    messages = [{"role": "user", "content": TEXT}]
    import litellm

    assert gateway.count_tokens("openai/gpt-4o-mini", messages) == litellm.token_counter(
        model="openai/gpt-4o-mini", messages=messages
    )
    assert gateway.context_window("openai/gpt-4o-mini") == 128_000


def test_unknown_models_count_cl100k_with_margin_and_need_a_window(data_dir: Path) -> None:
    config = GatewayConfig(
        models={
            "mine": ModelConfig(model="openai/my-model", api_base="http://127.0.0.1:9/v1"),
            "sized": ModelConfig(
                model="openai/other", api_base="http://127.0.0.1:9/v1", context_window=32_768
            ),
        }
    )
    gateway = Gateway(config, data_dir=data_dir)
    assert gateway.count_text("mine", TEXT) == math.ceil(count_cl100k(TEXT) * 1.2)
    assert gateway.count_tokens("mine", TEXT) > gateway.count_text("mine", TEXT)
    with pytest.raises(ConfigError, match="context_window"):
        gateway.context_window("mine")
    assert gateway.context_window("sized") == 32_768


def test_custom_providers_may_declare_their_window(data_dir: Path) -> None:
    with scripted_model([], context_window=2048):
        assert Gateway(data_dir=data_dir).context_window("fake/x") == 2048


def test_local_model_counts_with_its_own_tokenizer(data_dir: Path) -> None:
    gateway = Gateway(data_dir=data_dir)
    llama = gateway._tokenizer()._load()
    expected = len(llama.tokenize(TEXT.encode(), add_bos=False, special=True))
    assert gateway.count_text("local/smollm2", TEXT) == expected
    mixed = "東京は日本の首都です。Größenordnung naïve café"
    assert gateway.count_text("local/smollm2", mixed) != count_cl100k(mixed)
    assert gateway.context_window("local/smollm2") == 8192


def test_an_alias_of_the_embedded_model_has_its_window(data_dir: Path) -> None:
    from agentrun.agents import LocalModelConfig

    config = GatewayConfig(
        models={"default": ModelConfig(model="local/smollm2")}, local=LocalModelConfig(n_ctx=4096)
    )
    gateway = Gateway(config, data_dir=data_dir)
    assert gateway.context_window("default") == 4096 == gateway.context_window("local/smollm2")
    assert gateway.is_local("default")


def test_counting_for_the_embedded_model_never_starts_its_server(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_server(self: LocalServer) -> None:
        raise AssertionError("token counting started the llama.cpp server")

    monkeypatch.setattr(LocalServer, "_start", no_server)
    gateway = Gateway(GatewayConfig(models={"m": ModelConfig(model="local/smollm2")}))
    assert gateway.count_text("m", TEXT) > 0
    assert gateway.count_tokens("m", [{"role": "user", "content": TEXT}]) > 0
    assert gateway.context_window("m") == 8192
    plan_chunk_tokens(gateway, ChainOfAgentsConfig(model="m"), "Who built the bridge?")
    assert gateway._local is None


def test_the_embedded_tokenizer_is_loaded_once_per_process(data_dir: Path) -> None:
    first, second = Gateway(data_dir=data_dir), Gateway(data_dir=data_dir)
    assert first._tokenizer() is second._tokenizer()


def _unknown(**counting: object) -> ModelConfig:
    return ModelConfig(
        model="openai/my-model", api_base="http://127.0.0.1:9/v1", context_window=1024,
        **counting,  # type: ignore[arg-type]
    )  # fmt: skip


def test_tokens_per_cl100k_sets_the_estimate_and_so_the_chunks(data_dir: Path) -> None:
    document = (Path(__file__).parents[2] / "agentrun/data/demo/harbor_town.md").read_text()
    gateway = Gateway(
        GatewayConfig(
            models={
                "default": _unknown(),
                "measured": _unknown(tokens_per_cl100k=1.0),
                "bigger": _unknown(tokens_per_cl100k=1.5),
            }
        ),
        data_dir=data_dir,
    )
    assert gateway.count_text("measured", TEXT) == count_cl100k(TEXT)
    assert gateway.count_text("bigger", TEXT) == math.ceil(count_cl100k(TEXT) * 1.5)
    chunks = {}
    for alias in ("default", "measured", "bigger"):
        budget = plan_chunk_tokens(gateway, ChainOfAgentsConfig(model=alias, cu_tokens=128), None)
        chunks[alias] = len(split_text(document, budget, gateway.text_counter(alias)))
    assert chunks["measured"] < chunks["default"] < chunks["bigger"]


def test_a_tokenizer_file_counts_exactly(data_dir: Path) -> None:
    from tokenizers import Tokenizer

    from agentrun.memory.minilm import model_dir

    wordpiece = model_dir() / "tokenizer.json"
    gateway = Gateway(
        GatewayConfig(
            models={
                "gguf": _unknown(tokenizer=default_model_path()),
                "served": _unknown(tokenizer="local"),
                "hf": _unknown(tokenizer=str(wordpiece)),
            }
        ),
        data_dir=data_dir,
    )
    local = gateway.count_text("local/smollm2", TEXT)
    assert gateway.count_text("gguf", TEXT) == gateway.count_text("served", TEXT) == local
    messages = [{"role": "user", "content": TEXT}]
    assert gateway.count_tokens("gguf", messages) == gateway.count_tokens("local/smollm2", messages)
    plain = Tokenizer.from_file(str(wordpiece))
    plain.no_padding()  # the file pads every input to 128 pieces
    expected = len(plain.encode(TEXT, add_special_tokens=False).ids)
    assert gateway.count_text("hf", TEXT) == expected < 128
    long_text = TEXT * 40  # longer than the 256 pieces MiniLM truncates its inputs to
    assert gateway.count_text("hf", long_text) > 256
    texts = [TEXT, long_text, "", "東京は日本の首都です。"]
    for name in ("gguf", "hf"):  # a batch counts as one text after another does
        assert gateway.count_texts(name, texts) == [gateway.count_text(name, t) for t in texts]


def test_a_batch_of_texts_counts_as_each_text_alone(data_dir: Path) -> None:
    texts = [TEXT, "", "a <|endoftext|> b", "\ud800 a lone surrogate", "東京は日本の首都です。" * 9]
    texts = texts * 7  # enough to be shared out among threads
    assert count_cl100k_many(texts) == [count_cl100k(text) for text in texts]
    gateway = Gateway(
        GatewayConfig(models={"estimate": _unknown(tokens_per_cl100k=1.3)}), data_dir=data_dir
    )
    for name in ("estimate", "gpt-4o-mini"):  # cl100k scaled, and LiteLLM's own counter
        expected = [gateway.count_text(name, text) for text in texts]
        assert gateway.count_texts(name, texts) == gateway.texts_counter(name)(texts) == expected


def test_tokenizer_settings_are_checked(tmp_path: Path, data_dir: Path) -> None:
    with pytest.raises(ValidationError, match="not both"):
        _unknown(tokenizer="local", tokens_per_cl100k=1.0)
    missing = tmp_path / "nowhere.gguf"
    gateway = Gateway(GatewayConfig(models={"m": _unknown(tokenizer=str(missing))}))
    with pytest.raises(ConfigError, match=r"model 'm': tokenizer '.*nowhere\.gguf': no such file"):
        gateway.count_text("m", TEXT)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf")
    gateway = Gateway(GatewayConfig(models={"m": _unknown(tokenizer=str(broken))}))
    with pytest.raises(ConfigError, match=r"broken\.gguf.*vocabulary cannot be read"):
        gateway.count_text("m", TEXT)
