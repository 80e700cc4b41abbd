"""What the gateway knows about a model besides calling it: how its tokens are counted, its
context window and its price per prompt token.

Each comes from the first source that has it: the model's own settings (a tokenizer file, a
tokens-per-cl100k estimate, a context window), the embedded server's tokenizer, a custom
LiteLLM provider's handler, then LiteLLM's model table (looked up once per model). A model none
of them knows is counted as cl100k tokens with a margin (`Cl100kEstimate`) and needs its window
set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentrun.agents import _litellm as lx
from agentrun.agents.config import LOCAL_MODEL, LocalModelConfig, ModelConfig
from agentrun.agents.messages import Message
from agentrun.agents.tokens import (
    Cl100kEstimate,
    LocalTokenizer,
    TokenCounter,
    local_tokenizer,
    tokenizer_file,
)
from agentrun.errors import ConfigError


class LiteLLMCounter:
    """LiteLLM's own count for a model it knows; the cl100k estimate where LiteLLM fails."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.fallback = Cl100kEstimate()

    def count_text(self, text: str) -> int:
        try:
            return int(lx.litellm().token_counter(model=self.model, text=text))
        except Exception:
            return self.fallback.count_text(text)

    def count_texts(self, texts: Sequence[str]) -> list[int]:
        return [self.count_text(text) for text in texts]

    def count_messages(self, messages: Sequence[Message]) -> int:
        try:
            return int(lx.litellm().token_counter(model=self.model, messages=list(messages)))
        except Exception:
            return self.fallback.count_messages(messages)


class ModelFacts:
    """Token counts, windows and prices of resolved models (`ModelConfig`s)."""

    def __init__(self, local: LocalModelConfig) -> None:
        self.local = local
        self._litellm_info: dict[str, dict[str, Any] | None] = {}

    def is_custom_provider(self, config: ModelConfig) -> bool:
        """Whether the model goes to a provider registered in LiteLLM's custom provider map."""
        provider = config.model.split("/", 1)[0]
        return provider in getattr(lx.litellm(), "_custom_providers", [])

    def litellm_info(self, config: ModelConfig) -> dict[str, Any] | None:
        """LiteLLM's model info, or None for models it does not know (looked up once)."""
        if config.model not in self._litellm_info:
            try:
                self._litellm_info[config.model] = lx.litellm().get_model_info(config.model)
            except Exception:
                self._litellm_info[config.model] = None
        return self._litellm_info[config.model]

    def handler_attribute(self, config: ModelConfig, attribute: str) -> Any:
        """An attribute of a custom provider's handler (such as `context_window`), if any."""
        if not self.is_custom_provider(config):
            return None
        provider = config.model.split("/", 1)[0]
        for item in lx.litellm().custom_provider_map:
            if item.get("provider") == provider:
                return getattr(item.get("custom_handler"), attribute, None)
        return None

    # --- tokens ----------------------------------------------------------------------------------

    def local_tokenizer(self) -> LocalTokenizer:
        """The embedded model's tokenizer (shared by the process, loaded on first count)."""
        from agentrun.agents.local import model_path

        return local_tokenizer(model_path(self.local))

    def counter(self, name: str, config: ModelConfig) -> TokenCounter:
        """How to count the model's tokens."""
        if config.tokenizer == "local":
            return self.local_tokenizer()
        if config.tokenizer is not None:
            try:
                return tokenizer_file(config.tokenizer)
            except ConfigError as exc:
                raise ConfigError(f"model {name!r}: {exc}") from None
        if config.tokens_per_cl100k is not None:
            return Cl100kEstimate(config.tokens_per_cl100k)
        if config.model == LOCAL_MODEL:
            return self.local_tokenizer()
        if not self.is_custom_provider(config) and self.litellm_info(config):
            return LiteLLMCounter(config.model)
        return Cl100kEstimate()

    # --- window and price ------------------------------------------------------------------------

    def context_window(self, name: str, config: ModelConfig) -> int:
        """Input window in tokens: configured, the custom handler's, or LiteLLM's info."""
        if config.context_window:
            return config.context_window
        handler_window = self.handler_attribute(config, "context_window")
        if isinstance(handler_window, int):
            return handler_window
        info = self.litellm_info(config)
        if info:
            window = info.get("max_input_tokens") or info.get("max_tokens")
            if isinstance(window, int):
                return window
        raise ConfigError(
            f"model {name!r}: its context window is unknown; set context_window for it "
            "(models.<alias>.context_window in a pipeline, or ModelConfig(context_window=...))"
        )

    def input_price(self, config: ModelConfig) -> float:
        """USD per prompt token by LiteLLM's prices; 0 for the embedded model, custom providers
        and models LiteLLM has no price for."""
        if config.model == LOCAL_MODEL or self.is_custom_provider(config):
            return 0.0
        info = self.litellm_info(config) or {}
        return float(info.get("input_cost_per_token") or 0.0)
