"""Scripted models for tests, shipped so users can test their pipelines the same way.

`ScriptedModel` is a LiteLLM custom provider: calls to `fake/<anything>` go through LiteLLM's
own dispatch, response building and streaming code, and the gateway cannot tell it from a real
provider. `scripted_model(...)` registers it only inside a `with` block and restores LiteLLM's
provider map afterwards, so nothing leaks into other code.

A reply may be a string, or `ScriptedToolCalls([...])` for a reply that calls tools (the gateway
parses it as it parses any provider's calls, streamed or not).

A scripted exception with an HTTP status or of a retryable kind (`litellm.RateLimitError`,
`ConnectionError`, `TimeoutError`, `httpx.ConnectError`) simulates the provider failing, and the
gateway retries or falls back as it would for a real one. Any other exception (the script
running out, a reply function raising `ValueError`) is the test's own failure: the gateway
raises it at once as a `ScriptedModelError` (the exception as its cause), without retrying or
falling back.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from agentrun.agents import _litellm as lx
from agentrun.agents.failures import is_provider_like, mark_pass_through
from agentrun.agents.messages import Message, image_count, text_of
from agentrun.agents.tokens import TOKENS_PER_IMAGE, count_cl100k
from agentrun.agents.tool_calls import ToolCall, as_tool_calls
from agentrun.errors import ScriptedModelError

lx.litellm()  # imported through agentrun's guard (no price-map fetch, environment untouched)
from litellm.llms.custom_llm import CustomLLM  # noqa: E402


@dataclass(frozen=True)
class ScriptedToolCalls:
    """A scripted reply that calls tools: `ToolCall`s or `{"name", "arguments", "id"?}` dicts
    (`arguments` a dict, or a JSON text sent as it is, malformed or not), and optional text."""

    calls: Sequence[ToolCall | Mapping[str, Any]]
    text: str = ""
    finish_reason: str = "tool_calls"

    def __post_init__(self) -> None:
        self.tool_calls()  # a call without a name fails here, in the test, not in the provider

    def tool_calls(self) -> list[ToolCall]:
        return as_tool_calls(self.calls)


Answer = str | ScriptedToolCalls
#: What a script entry may be: a reply, an exception to raise, or a function of the messages.
Reply = Answer | BaseException | Callable[[list[Message]], "Answer | BaseException"]
Script = Sequence[Reply] | Callable[[list[Message]], "Answer | BaseException"]

FAKE_PROVIDER = "fake"
_PROVIDER_MAP = "custom_provider_map"


@dataclass
class ScriptedCall:
    model: str
    messages: list[Message]
    params: dict[str, Any]
    started: float
    ended: float = 0.0


class ScriptExhaustedError(ScriptedModelError, AssertionError):
    """The code under test made more calls than the script has replies."""


class _ScriptCore:
    """The script and the call log, independent of LiteLLM's base class."""

    def __init__(
        self,
        replies: Script,
        *,
        context_window: int = 8192,
        delay_s: float = 0.0,
        repeat_last: bool = False,
    ) -> None:
        self._function = replies if callable(replies) else None
        self._wants_model = self._function is not None and "model" in _parameters(self._function)
        self._replies = list(replies) if not callable(replies) else []
        self._position = 0
        self.context_window = context_window
        self.delay_s = delay_s
        self.repeat_last = repeat_last
        self.calls: list[ScriptedCall] = []
        self.provider = FAKE_PROVIDER
        self._lock = threading.Lock()

    def _next(self, messages: list[Message], model: str = "") -> Answer:
        with self._lock:
            if self._function is not None:
                reply: Reply = self._function
            elif self._position < len(self._replies):
                reply = self._replies[self._position]
                self._position += 1
            elif self.repeat_last and self._replies:
                reply = self._replies[-1]
            else:
                count = len(self._replies)
                raise mark_pass_through(
                    ScriptExhaustedError(
                        f"{self.provider}/{model}",
                        f"the scripted model has no reply for call {len(self.calls)} (its script "
                        f"has {count} repl{'y' if count == 1 else 'ies'}); add replies or pass "
                        "repeat_last=True",
                    )
                )
        if callable(reply) and not isinstance(reply, BaseException):
            wants_model = reply is self._function and self._wants_model
            try:
                reply = reply(messages, model=model) if wants_model else reply(messages)  # type: ignore[call-arg]
            except Exception as exc:
                _mark_own_failure(exc)
                raise
        if isinstance(reply, BaseException):
            raise _mark_own_failure(reply)
        return reply

    @property
    def remaining(self) -> int:
        """Scripted replies not used yet."""
        return max(0, len(self._replies) - self._position)


def _mark_own_failure(exc: BaseException) -> BaseException:
    """Let the gateway re-raise `exc` at once unless it simulates a provider failure."""
    return exc if is_provider_like(exc) else mark_pass_through(exc)


def _parameters(function: Callable[..., Any]) -> set[str]:
    try:
        return set(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return set()


def _usage(messages: list[Message], answer: Answer) -> dict[str, int]:
    """Tokens as a provider would bill them: the text, and each image at the usual estimate."""
    prompt = count_cl100k(text_of(messages)) + 4 * len(messages)
    prompt += TOKENS_PER_IMAGE * image_count(messages)
    if isinstance(answer, str):
        completion = count_cl100k(answer)
    else:
        calls = [call.to_openai() for call in answer.tool_calls()]
        completion = count_cl100k(text_of([{"content": answer.text, "tool_calls": calls}]))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _response(model_response: Any, model: str, messages: list[Message], answer: Answer) -> Any:
    from litellm.types.utils import ChatCompletionMessageToolCall, Function, Usage

    choice = model_response.choices[0]
    if isinstance(answer, str):
        choice.message.content = answer
        choice.finish_reason = "stop"
    else:
        choice.message.content = answer.text or None
        choice.message.tool_calls = [
            ChatCompletionMessageToolCall(
                id=call.id,
                type="function",
                function=Function(name=call.name, arguments=call.raw_arguments),
            )
            for call in answer.tool_calls()
        ]
        choice.finish_reason = answer.finish_reason
    model_response.model = model
    usage = _usage(messages, answer)
    model_response.usage = Usage(
        prompt_tokens=usage["prompt_tokens"],
        completion_tokens=usage["completion_tokens"],
        total_tokens=usage["total_tokens"],
    )
    return model_response


def _stream_chunks(messages: list[Message], answer: Answer) -> list[dict[str, Any]]:
    """LiteLLM's generic streaming chunks for a reply: the text word by word, then each tool
    call in two pieces (the arguments split), as providers stream them."""
    text = answer if isinstance(answer, str) else answer.text
    chunks: list[dict[str, Any]] = []
    if text or isinstance(answer, str):
        words = text.split(" ")
        chunks = [{"text": word + " "} for word in words[:-1]] + [{"text": words[-1]}]
    if isinstance(answer, ScriptedToolCalls):
        for index, call in enumerate(answer.tool_calls()):
            half = len(call.raw_arguments) // 2
            first, rest = call.raw_arguments[:half], call.raw_arguments[half:]
            function = {"name": call.name, "arguments": first}
            chunks.append({"text": "", "tool_use": _tool_chunk(index, call.id, function)})
            more = {"name": None, "arguments": rest}
            chunks.append({"text": "", "tool_use": _tool_chunk(index, None, more)})
    finish = "stop" if isinstance(answer, str) else answer.finish_reason
    for chunk in chunks:
        chunk.update(is_finished=False, finish_reason="", index=0, usage=None)
        chunk.setdefault("tool_use", None)
    chunks[-1].update(is_finished=True, finish_reason=finish, usage=_usage(messages, answer))
    return chunks


def _tool_chunk(index: int, call_id: str | None, function: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": function, "index": index}


class ScriptedModel(_ScriptCore, CustomLLM):
    """A LiteLLM custom provider that answers from a script and logs every call."""

    def __init__(self, replies: Script, **options: Any) -> None:
        _ScriptCore.__init__(self, replies, **options)
        CustomLLM.__init__(self)

    def _begin(self, model: str, messages: list[Message], params: dict[str, Any]) -> ScriptedCall:
        call = ScriptedCall(model, [dict(m) for m in messages], dict(params), time.monotonic())
        with self._lock:
            self.calls.append(call)
        return call

    def completion(self, model: str, messages: list[Message], *args: Any, **kw: Any) -> Any:
        call = self._begin(model, messages, kw.get("optional_params") or {})
        if self.delay_s:
            time.sleep(self.delay_s)
        try:
            return _response(kw["model_response"], model, messages, self._next(messages, model))
        finally:
            call.ended = time.monotonic()

    async def acompletion(self, model: str, messages: list[Message], *args: Any, **kw: Any) -> Any:
        call = self._begin(model, messages, kw.get("optional_params") or {})
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        try:
            return _response(kw["model_response"], model, messages, self._next(messages, model))
        finally:
            call.ended = time.monotonic()

    async def astreaming(  # type: ignore[override]
        self, model: str, messages: list[Message], *args: Any, **kw: Any
    ) -> AsyncIterator[dict[str, Any]]:
        call = self._begin(model, messages, kw.get("optional_params") or {})
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        for chunk in _stream_chunks(messages, self._next(messages, model)):
            yield chunk
        call.ended = time.monotonic()


@contextmanager
def registered_provider(handler: Any, provider: str = FAKE_PROVIDER) -> Iterator[Any]:
    """Register a LiteLLM custom provider for the duration of a `with` block."""
    litellm = lx.litellm()
    saved_map = list(litellm.custom_provider_map)
    saved_providers = list(litellm.provider_list)
    saved_custom = list(litellm._custom_providers)
    replaced = [entry for entry in saved_map if entry.get("provider") != provider]
    setattr(litellm, _PROVIDER_MAP, [*replaced, {"provider": provider, "custom_handler": handler}])
    litellm.utils.custom_llm_setup()
    try:
        yield handler
    finally:
        setattr(litellm, _PROVIDER_MAP, saved_map)
        litellm.provider_list[:] = saved_providers
        litellm._custom_providers[:] = saved_custom


@contextmanager
def scripted_model(
    replies: Script,
    *,
    provider: str = FAKE_PROVIDER,
    context_window: int = 8192,
    delay_s: float = 0.0,
    repeat_last: bool = False,
) -> Iterator[Any]:
    """A scripted model reachable as `<provider>/<any name>` inside the block.

    `replies` is a list (each entry a reply string, an exception to raise, or a function of the
    messages) or one function of the messages used for every call.
    """
    model = ScriptedModel(
        replies, context_window=context_window, delay_s=delay_s, repeat_last=repeat_last
    )
    model.provider = provider
    with registered_provider(model, provider):
        yield model


@dataclass
class Echo:
    """A reply function: echoes the last user message, prefixed; handy as a default script."""

    prefix: str = "echo: "
    counter: Iterator[int] = field(default_factory=itertools.count)

    def __call__(self, messages: list[Message]) -> str:
        next(self.counter)
        last = next((m for m in reversed(messages) if m.get("role") == "user"), None)
        return self.prefix + (text_of([last]) if last else "")
