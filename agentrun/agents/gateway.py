"""The model gateway: the one call path from agentrun to `litellm.acompletion`.

Around that single call the gateway owns, in this order: the response cache, fallbacks across
models, tenacity retries (LiteLLM's own retries are switched off), per-model limits, and the usage
ledger. Structured output, tool calls and token counting sit on top of the same path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, stop_after_attempt

from agentrun.agents import _litellm as lx
from agentrun.agents import retry, structured, tool_calls, tool_emulation
from agentrun.agents.cache import CachedReply, request_key, response_cache
from agentrun.agents.config import LOCAL_MODEL, GatewayConfig, ModelConfig, StructuredMode
from agentrun.agents.failures import own_failure_error, passed_through, public_error
from agentrun.agents.ledger import CallRecord, Ledger, current_node, current_run
from agentrun.agents.limits import Limiter, LocalLimiter, ModelSlots, RateLimits
from agentrun.agents.local import LocalServer, acquire, local_identity, release
from agentrun.agents.messages import Message, assistant, normalize_messages
from agentrun.agents.model_facts import ModelFacts
from agentrun.agents.portal import Portal
from agentrun.agents.tokens import LocalTokenizer
from agentrun.agents.tool_calls import ToolCall, ToolChoice, ToolLike
from agentrun.errors import (
    ConfigError,
    CostLimitError,
    MissingAPIKeyError,
    StructuredOutputError,
    UnknownModelError,
)
from agentrun.logs import get_logger, remember_secret

T = TypeVar("T", bound=BaseModel)

log = get_logger("gateway")

TextCallback = Callable[[str], None]


@dataclass(frozen=True)
class Completion:
    """A model's reply and what it cost.

    `tool_calls` holds the calls the model asked for (then `finish_reason` is "tool_calls"
    unless the reply was cut off); `message()` is the reply as the next request's history
    carries it.
    """

    text: str
    model: str
    requested_model: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    retries: int = 0
    cache_hit: bool = False
    fallbacks: int = 0
    attempts: int = 1
    tool_calls: tuple[ToolCall, ...] = ()
    #: The call's label in its workflow (`worker[3]`), for usage by node.
    node: str | None = None

    def message(self) -> Message:
        """The assistant message to append to the history (with its tool calls)."""
        return assistant(self.text, self.tool_calls)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Completion:
        """The inverse of `dataclasses.asdict` (checkpoints)."""
        calls = tuple(ToolCall.from_dict(call) for call in data.get("tool_calls") or ())
        return cls(**{**data, "tool_calls": calls})

    def record(self, run_id: str | None = None) -> CallRecord:
        """The usage ledger's record of this call."""
        return CallRecord(
            model=self.model, requested_model=self.requested_model, node=self.node,
            run_id=run_id, prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens, cost_usd=self.cost_usd,
            latency_s=self.latency_s, retries=self.retries, cache_hit=self.cache_hit,
            fallbacks=self.fallbacks, attempts=self.attempts, tool_calls=len(self.tool_calls),
        )  # fmt: skip


@dataclass
class _Tally:
    """What one call has spent so far, kept as it goes so that a failed call is recorded too.

    `attempts` counts requests sent to models, `retries` the repeats on one model, summed over
    the fallback chain; `model` is the last one tried.
    """

    model: str
    attempts: int = 0
    retries: int = 0
    fallbacks: int = 0
    started: float = field(default_factory=time.perf_counter)
    #: The last model tried got its tool calls emulated, and its text was not streamed.
    withheld_text: bool = False


@dataclass(frozen=True)
class CostLimit:
    """Stop sending once a run has spent `max_usd`: `spent_before_usd` (its earlier attempts,
    before a resume) plus what the ledger recorded after `ledger_start_usd`."""

    max_usd: float
    spent_before_usd: float = 0.0
    ledger_start_usd: float = 0.0

    def spent(self, ledger: Ledger) -> float:
        return self.spent_before_usd + ledger.cost_usd - self.ledger_start_usd

    def check(self, ledger: Ledger) -> None:
        spent = self.spent(ledger)
        if spent > self.max_usd:
            raise CostLimitError(
                f"the run has spent ${spent:.4f}, over its cost limit of ${self.max_usd:.4f}; "
                "resume it with a higher limit (--max-cost, max_cost_usd=, or limits.max_cost_usd "
                "in the spec)"
            )


class Gateway:
    """Calls any model LiteLLM can route, plus the embedded `local/smollm2`.

    Use it as an async context manager (or call `aclose()`), so that an embedded model server it
    started is stopped. Every method has a sync twin without the `a` prefix.
    """

    def __init__(
        self,
        config: GatewayConfig | None = None,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        cache: bool | None = None,
        ledger: Ledger | None = None,
        limiter: Limiter | None = None,
    ) -> None:
        self.config = config or GatewayConfig()
        if cache is not None:
            self.config = self.config.model_copy(
                update={"cache": self.config.cache.model_copy(update={"enabled": cache})}
            )
        self.ledger = ledger or Ledger()
        self.cache = response_cache(data_dir)
        self._resolved: dict[str, ModelConfig] = {}
        #: Where per-model limits are kept; gateways given the same limiter share them.
        self.limiter: Limiter = limiter or LocalLimiter()
        self._limits: dict[str, ModelSlots] = {}
        self._checked_keys: set[str] = set()
        #: Token counts, windows and prices of the models this gateway calls.
        self.facts = ModelFacts(self.config.local)
        self._retry_templates: dict[str, AsyncRetrying] = {}
        self._local: LocalServer | None = None
        self._local_identity: dict[str, object] | None = None
        self._portal = Portal()
        self._closed = False
        #: When set, calls that would go to a model are refused once the run spent its limit.
        self.cost_limit: CostLimit | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self._release_local)
        self._portal.close()

    def close(self) -> None:
        self._release_local()
        self._portal.close()

    def _release_local(self) -> None:
        if self._local is not None:
            server, self._local = self._local, None
            release(server)

    @property
    def local_server(self) -> LocalServer:
        """The embedded model server this gateway uses (started on first call)."""
        if self._local is None:
            self._local = acquire(self.config.local)
        return self._local

    # --- model resolution --------------------------------------------------------------------

    def resolve(self, name: str) -> ModelConfig:
        """The settings for a model alias or LiteLLM name; unknown names fail here, clearly."""
        resolved = self._resolved.get(name)
        if resolved is not None:
            return resolved
        if name in self.config.models:
            resolved = self.config.models[name]
            if resolved.model == LOCAL_MODEL and resolved.context_window is None:
                # an alias of the embedded model has its window, as the model itself does
                resolved = resolved.model_copy(update={"context_window": self.config.local.n_ctx})
        elif name == LOCAL_MODEL:
            local = self.config.local
            resolved = ModelConfig(
                model=LOCAL_MODEL,
                context_window=local.n_ctx,
                max_tokens=local.max_tokens,
                timeout_s=local.timeout_s,
                max_concurrency=local.max_concurrency,
            )
        else:
            resolved = ModelConfig(model=name)
        if resolved.model != LOCAL_MODEL:
            self._check_routable(name, resolved)
        self._resolved[name] = resolved
        return resolved

    def is_local(self, name: str) -> bool:
        """Whether a model name or alias is the embedded model (workflows size prompts for it)."""
        return self.resolve(name).model == LOCAL_MODEL

    def _check_routable(self, name: str, config: ModelConfig) -> None:
        try:
            lx.litellm().get_llm_provider(config.model, api_base=config.api_base)
        except Exception as exc:
            aliases = ", ".join(sorted(self.config.models)) or "none configured"
            raise UnknownModelError(
                name,
                "LiteLLM cannot route this name; use provider/model such as "
                f"openai/gpt-4o-mini, ollama/qwen2.5 or {LOCAL_MODEL} (aliases: {aliases})",
            ) from exc

    def _limits_for(self, config: ModelConfig) -> ModelSlots:
        key = f"{config.model}|{config.api_base}"
        limits = self._limits.get(key)
        if limits is None:
            wanted = RateLimits(config.max_concurrency, config.rpm, config.tpm, config.timeout_s)
            limits = self.limiter.for_model(key, wanted)
            self._limits[key] = limits
        return limits

    def _credentials(self, name: str, config: ModelConfig) -> dict[str, Any]:
        """api_key / api_base for the call; a missing key fails before any request."""
        if config.api_key is not None:
            secret = remember_secret(config.api_key.get_secret_value())
            return {"api_key": secret, "api_base": config.api_base}
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise MissingAPIKeyError(
                    name, f"environment variable {config.api_key_env} is not set; export it"
                )
            return {"api_key": remember_secret(key), "api_base": config.api_base}
        if config.api_base:
            # OpenAI-compatible servers usually need no key, but the client insists on one.
            needs_placeholder = config.model.startswith("openai/")
            return {
                "api_base": config.api_base,
                **({"api_key": "none"} if needs_placeholder else {}),
            }
        if name not in self._checked_keys and not self.facts.is_custom_provider(config):
            env = lx.litellm().validate_environment(config.model)
            missing = env.get("missing_keys") or []
            if missing:
                raise MissingAPIKeyError(
                    name, f"set {', '.join(missing)} in the environment (or api_key_env for it)"
                )
            self._checked_keys.add(name)
        return {}

    # --- token accounting --------------------------------------------------------------------

    def _tokenizer(self) -> LocalTokenizer:
        """The embedded model's tokenizer (shared by the process, loaded on first count)."""
        return self.facts.local_tokenizer()

    def input_price(self, model: str) -> float:
        """USD per prompt token by LiteLLM's prices (0 where it has none)."""
        return self.facts.input_price(self.resolve(model))

    def limit_cost(self, max_usd: float | None, *, spent_usd: float = 0.0) -> CostLimit | None:
        """Refuse model calls once `spent_usd` plus what this gateway spends from now passes
        `max_usd` (None: no limit). Cache hits are free and always served."""
        self.cost_limit = (
            None if max_usd is None else CostLimit(max_usd, spent_usd, self.ledger.cost_usd)
        )
        return self.cost_limit

    def context_window(self, model: str) -> int:
        """Input window in tokens: configured, the local server's n_ctx, or LiteLLM's info."""
        return self.facts.context_window(model, self.resolve(model))

    def count_tokens(self, model: str, messages: Sequence[Message] | str) -> int:
        """Prompt tokens the messages cost on `model` (an estimate where not exact)."""
        normalized = normalize_messages(messages)
        if self.tool_mode(model) == "emulated":
            normalized = tool_emulation.plain_messages(normalized)  # as the model will see them
        return self.facts.counter(model, self.resolve(model)).count_messages(normalized)

    def count_text(self, model: str, text: str) -> int:
        """Tokens of a bare text on `model` (for splitting documents)."""
        return self.facts.counter(model, self.resolve(model)).count_text(text)

    def count_texts(self, model: str, texts: Sequence[str]) -> list[int]:
        """`count_text` of each text, on every core where the tokenizer allows."""
        return self.facts.counter(model, self.resolve(model)).count_texts(texts)

    def text_counter(self, model: str) -> Callable[[str], int]:
        return lambda text: self.count_text(model, text)

    def texts_counter(self, model: str) -> Callable[[Sequence[str]], list[int]]:
        return lambda texts: self.count_texts(model, texts)

    # --- completion --------------------------------------------------------------------------

    async def acomplete(
        self,
        model: str,
        messages: Sequence[Message] | str,
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        timeout_s: float | None = None,
        cache: bool | None = None,
        node: str | None = None,
        stop: list[str] | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        response_format: dict[str, Any] | None = None,
        tools: Sequence[ToolLike] | None = None,
        tool_choice: ToolChoice | None = None,
        parallel_tool_calls: bool | None = None,
        on_text: TextCallback | None = None,
    ) -> Completion:
        """One chat completion through cache, fallbacks, retries and limits.

        `tools` (OpenAI function specs or agentrun `Tool`s) are offered to the model, natively
        or, for models without tool calls, through structured output; `tool_choice` is "auto",
        "none", "required" or a tool's name; `parallel_tool_calls=False` asks for one call at
        most (the default of emulated calls: small models otherwise call on and on). The calls
        come back as `Completion.tool_calls`.
        """
        config = self.resolve(model)
        request: dict[str, Any] = {
            "messages": normalize_messages(messages),
            "max_tokens": max_tokens or config.max_tokens,
            "temperature": temperature,
            **tool_calls.request_fields(tools, tool_choice, parallel_tool_calls),
        }
        for name, value in (
            ("stop", stop),
            ("top_p", top_p),
            ("seed", seed),
            ("response_format", response_format),
        ):
            if value is not None:
                request[name] = value
        node = node or current_node.get()
        use_cache = self._use_cache(cache, temperature, seed)
        key = ""
        if use_cache:
            key = self._cache_key(config, request)
            hit = self.cache.get(key)
            if hit is not None:
                return self._record_hit(model, hit, node, on_text)
        if self.cost_limit is not None:
            self.cost_limit.check(self.ledger)
        tally = _Tally(model)
        try:
            response = await self._with_fallbacks(model, request, timeout_s, on_text, tally)
        except Exception as exc:
            self._record_failure(model, tally, node, exc)
            raise
        completion = self._completion(model, response, tally, request)
        if tally.withheld_text and on_text is not None and completion.text:
            on_text(completion.text)
        completion = self._record(completion, node)
        if use_cache and completion.finish_reason != "error":
            self.cache.put(
                key,
                CachedReply(
                    text=completion.text,
                    model=completion.model,
                    finish_reason=completion.finish_reason,
                    prompt_tokens=completion.prompt_tokens,
                    completion_tokens=completion.completion_tokens,
                    cost_usd=completion.cost_usd,
                    tool_calls=[dataclasses.asdict(call) for call in completion.tool_calls],
                ),
            )
        return completion

    def complete(self, model: str, messages: Sequence[Message] | str, **options: Any) -> Completion:
        return self._portal.run(self.acomplete(model, messages, **options))

    def _cache_key(self, config: ModelConfig, request: dict[str, Any]) -> str:
        """The request's cache key; for the embedded model it names the model file and n_ctx."""
        identity: dict[str, object] | None = None
        if config.model == LOCAL_MODEL:
            if self._local_identity is None:
                self._local_identity = local_identity(self.config.local)
            identity = self._local_identity
        return request_key(
            {**request, "model": config.model, "api_base": config.api_base, "local": identity}
        )

    def _use_cache(self, per_call: bool | None, temperature: float, seed: int | None) -> bool:
        """Repeatable calls are cached: greedy ones, and sampled ones with a seed."""
        settings = self.config.cache
        if not settings.enabled or per_call is False:
            return False
        if temperature == 0 or seed is not None:
            return True
        return per_call is True or settings.sampled

    def _record_hit(
        self, model: str, hit: CachedReply, node: str | None, on_text: TextCallback | None
    ) -> Completion:
        completion = Completion(
            text=hit.text,
            model=hit.model,
            requested_model=model,
            finish_reason=hit.finish_reason,
            prompt_tokens=hit.prompt_tokens,
            completion_tokens=hit.completion_tokens,
            cost_usd=0.0,
            latency_s=0.0,
            cache_hit=True,
            attempts=0,
            tool_calls=tuple(ToolCall.from_dict(call) for call in hit.tool_calls),
        )
        if on_text is not None and hit.text:
            on_text(hit.text)
        completion = self._record(completion, node)
        return completion

    def _record(self, completion: Completion, node: str | None) -> Completion:
        """Label the completion with its node and keep it in the ledger."""
        completion = dataclasses.replace(completion, node=node)
        self.ledger.record(completion.record(current_run.get()))
        log.info(
            "model_call",
            model=completion.model,
            node=node,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_s=round(completion.latency_s, 3),
            cache_hit=completion.cache_hit,
            retries=completion.retries,
            tool_calls=len(completion.tool_calls),
        )
        return completion

    def _record_failure(
        self, model: str, tally: _Tally, node: str | None, error: BaseException
    ) -> None:
        """A call that raised still spent attempts and time: record it, with no tokens."""
        latency = time.perf_counter() - tally.started
        self.ledger.record(
            CallRecord(
                model=tally.model,
                requested_model=model,
                node=node,
                run_id=current_run.get(),
                prompt_tokens=0,
                completion_tokens=0,
                cost_usd=0.0,
                latency_s=latency,
                retries=tally.retries,
                cache_hit=False,
                fallbacks=tally.fallbacks,
                attempts=tally.attempts,
                error=type(error).__name__,
            )
        )
        log.warning(
            "model_call_failed",
            model=tally.model,
            node=node,
            error=type(error).__name__,
            attempts=tally.attempts,
            latency_s=round(latency, 3),
        )

    def _completion(
        self, requested: str, response: Any, tally: _Tally, request: dict[str, Any]
    ) -> Completion:
        choice = response.choices[0]
        usage = getattr(response, "usage", None)
        config = self.resolve(tally.model)
        text = choice.message.content or ""
        if self.tool_mode(tally.model) == "emulated":
            text, calls = tool_emulation.emulated_reply(text, request)
        else:
            calls = tool_calls.native_calls(choice.message, request)
        finish_reason = choice.finish_reason
        if calls and finish_reason in (None, "stop"):
            finish_reason = "tool_calls"  # some providers say "stop" with calls, others omit it
        return Completion(
            text=text,
            model=tally.model,
            requested_model=requested,
            finish_reason=finish_reason,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            cost_usd=self._cost(config, response),
            latency_s=time.perf_counter() - tally.started,
            retries=tally.retries,
            fallbacks=tally.fallbacks,
            attempts=tally.attempts,
            tool_calls=tuple(calls),
        )

    def _cost(self, config: ModelConfig, response: Any) -> float:
        if config.model == LOCAL_MODEL:
            return 0.0
        hidden = getattr(response, "_hidden_params", None) or {}
        cost = hidden.get("response_cost")
        if cost is None and self.facts.litellm_info(config):
            try:
                cost = lx.litellm().completion_cost(completion_response=response)
            except Exception:
                cost = None
        return float(cost or 0.0)

    # --- fallbacks and retries ---------------------------------------------------------------

    async def _with_fallbacks(
        self,
        model: str,
        request: dict[str, Any],
        timeout_s: float | None,
        on_text: TextCallback | None,
        tally: _Tally,
    ) -> Any:
        primary = self.resolve(model)
        chain = [model, *primary.fallbacks]
        last_error: BaseException | None = None
        last_name = model
        context_exceeded_at: int | None = None
        for position, name in enumerate(chain):
            config = self.resolve(name)
            if context_exceeded_at is not None and not self._window_larger(
                config, context_exceeded_at
            ):
                log.warning("model_fallback_skipped", model=name, reason="window not larger")
                continue
            if position > 0:
                log.warning(
                    "model_fallback",
                    from_model=last_name,
                    to_model=name,
                    reason=retry.short(last_error),
                )
            tally.model, tally.fallbacks = name, position
            sent, tally.withheld_text = self._request_for(name, request)
            streamed = None if tally.withheld_text else on_text
            try:
                return await self._with_retries(name, config, sent, timeout_s, streamed, tally)
            except retry.RetryAfterTooLong as exc:
                last_error, last_name = exc, name
            except Exception as exc:
                if lx.is_context_window_error(exc):
                    context_exceeded_at = self._window_or_zero(config)
                elif not lx.is_retryable(exc):
                    error = self._public_error(name, config, exc)
                    if error is exc:  # already public (a missing key, a script's own failure)
                        raise
                    raise error from exc
                last_error, last_name = exc, name
        assert last_error is not None
        raise self._public_error(last_name, self.resolve(last_name), last_error) from last_error

    def _window_or_zero(self, config: ModelConfig) -> int:
        try:
            return (
                self.context_window(config.model)
                if not config.context_window
                else config.context_window
            )
        except ConfigError:
            return 0

    def _window_larger(self, config: ModelConfig, than: int) -> bool:
        window = self._window_or_zero(config)
        return window == 0 or window > than

    async def _with_retries(
        self,
        name: str,
        config: ModelConfig,
        request: dict[str, Any],
        timeout_s: float | None,
        on_text: TextCallback | None,
        tally: _Tally,
    ) -> Any:
        policy = self.config.retry
        limits = self._limits_for(config)
        tokens = 0
        if limits.needs_token_estimate:
            tokens = self.count_tokens(name, request["messages"]) + int(request["max_tokens"])

        async def attempt() -> Any:
            async with limits.slot(tokens):
                return await self._send(name, config, request, timeout_s, on_text, tally)

        # The first attempt runs bare: a success (the common case) pays nothing for the retry
        # machinery. Every retry, and every wait before one, is tenacity's.
        try:
            return await attempt()
        except Exception as exc:
            if not lx.is_retryable(exc) or policy.max_attempts < 2:
                raise
            first_error = exc
        retry.refuse_long_retry_after(first_error, policy)
        template = self._retry_templates.get(name) or retry.template(name, policy)
        self._retry_templates[name] = template
        retrying = template.copy(
            stop=stop_after_attempt(policy.max_attempts - 1),
            before=retry.sleep_before_first(first_error, template.wait, name),
        )
        async for again in retrying:
            with again:
                tally.retries += 1
                return await attempt()
            outcome = again.retry_state.outcome
            if outcome is not None and outcome.failed:
                retry.refuse_long_retry_after(outcome.exception(), policy)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _send(
        self,
        name: str,
        config: ModelConfig,
        request: dict[str, Any],
        timeout_s: float | None,
        on_text: TextCallback | None,
        tally: _Tally,
    ) -> Any:
        """The one place that calls LiteLLM."""
        litellm = lx.litellm()
        params: dict[str, Any] = {
            **request,
            "timeout": timeout_s or config.timeout_s,
            "num_retries": 0,
            "max_retries": 0,
        }
        is_local = config.model == LOCAL_MODEL
        if not is_local:
            params["model"] = config.model
            params.update({k: v for k, v in self._credentials(name, config).items() if v})
        try:
            if is_local:
                params["api_base"] = await asyncio.to_thread(self.local_server.ensure_started)
                params["model"] = "openai/smollm2"
                params["api_key"] = "local"
            tally.attempts += 1
            if on_text is None:
                return await litellm.acompletion(**params)
            return await self._stream(litellm, params, on_text)
        except asyncio.CancelledError:
            if is_local:
                # llama.cpp keeps generating for a vanished client (and a server still starting
                # would come up unwanted): stop it, do not leave it busy.
                await asyncio.shield(asyncio.to_thread(self.local_server.stop))
            raise
        except Exception as exc:
            own = passed_through(exc)
            if own is not None:
                error = own_failure_error(name, own)
                raise error from (None if error is own else own)
            if is_local and lx.is_timeout(exc):
                await asyncio.to_thread(self.local_server.stop)
            raise

    async def _stream(self, litellm: Any, params: dict[str, Any], on_text: TextCallback) -> Any:
        stream = await litellm.acompletion(
            **params, stream=True, stream_options={"include_usage": True}
        )
        chunks = []
        async for chunk in stream:
            chunks.append(chunk)
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta:
                on_text(delta)
        if not lx.stream_finished(stream):
            raise lx.IncompleteStreamError(
                f"the stream ended after {len(chunks)} chunks without a finish reason"
            )
        return litellm.stream_chunk_builder(chunks, messages=params["messages"])

    def _public_error(self, name: str, config: ModelConfig, exc: BaseException) -> Exception:
        policy = self.config.retry
        return public_error(name, config, exc, policy.max_attempts, policy.max_retry_after_s)

    # --- tool calls --------------------------------------------------------------------------

    def tool_mode(self, model: str) -> Literal["native", "emulated"]:
        """How `model` gets tools: natively, or emulated through structured output."""
        config = self.resolve(model)
        if config.tool_calling != "auto":
            return config.tool_calling
        return "emulated" if config.model == LOCAL_MODEL else "native"

    def _request_for(self, name: str, request: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The request as model `name` takes tools, and whether its text must not be streamed
        (emulated calls reply in JSON; the answer in it is passed on once parsed)."""
        if not tool_calls.uses_tools(request):
            return request, False
        if self.tool_mode(name) == "native":
            return tool_calls.native_request(request), False
        mode = self.structured_mode(name)
        emulated = tool_emulation.emulated_request(request, mode, name)
        return emulated, tool_emulation.asks_for_json(request)

    # --- structured output -------------------------------------------------------------------

    def structured_mode(self, model: str) -> StructuredMode:
        config = self.resolve(model)
        if config.structured_output != "auto":
            return config.structured_output
        if config.model == LOCAL_MODEL:
            return "llama_cpp_schema"
        if self.facts.is_custom_provider(config) or config.api_base:
            return "prompt"
        try:
            if lx.litellm().supports_response_schema(config.model):
                return "json_schema"
        except Exception:
            pass
        return "prompt"

    async def astructured(
        self,
        model: str,
        messages: Sequence[Message] | str,
        output: type[T],
        *,
        max_reasks: int = 2,
        **options: Any,
    ) -> T:
        """A validated `output` instance; invalid replies are re-asked with the error."""
        mode = self.structured_mode(model)
        current = normalize_messages(messages)
        if mode != "json_schema":
            current = structured.with_instruction(current, output)
        fmt = structured.response_format(mode, output)
        error: ValidationError | None = None
        for _ in range(max_reasks + 1):
            completion = await self.acomplete(model, current, response_format=fmt, **options)
            try:
                return structured.parse(completion.text, output)
            except ValidationError as exc:
                error = exc
                log.warning(
                    "structured_reask",
                    model=model,
                    schema=output.__name__,
                    errors=exc.error_count(),
                )
                current = structured.reask_messages(current, completion.text, exc)
        assert error is not None
        first = error.errors()[0]
        raise StructuredOutputError(
            model,
            f"the reply did not match {output.__name__} after {max_reasks} re-asks "
            f"({'.'.join(str(p) for p in first['loc']) or '(root)'}: {first['msg']})",
        )

    def structured(
        self, model: str, messages: Sequence[Message] | str, output: type[T], **options: Any
    ) -> T:
        return self._portal.run(self.astructured(model, messages, output, **options))
