"""Token counting and context windows per kind of model."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from agentrun.agents import Gateway, GatewayConfig, ModelConfig
from agentrun.agents.testing import scripted_model
from agentrun.agents.tokens import cl100k, count_cl100k
from agentrun.errors import ConfigError

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
