"""Lazy access to LiteLLM, and how its exceptions are classified.

Importing LiteLLM costs seconds, so nothing imports it until a model is actually used. The import
runs with the local price map forced (no network fetch) and then restores the caller's
environment exactly, so embedding agentrun changes no environment variable.
"""

from __future__ import annotations

import email.utils
import os
import threading
import time
from types import ModuleType
from typing import Any

_lock = threading.Lock()
_module: ModuleType | None = None


def litellm() -> ModuleType:
    """The imported `litellm` module (imported once, environment left as it was)."""
    global _module
    if _module is not None:
        return _module
    with _lock:
        if _module is None:
            saved = os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP")
            os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
            try:
                import litellm as imported
            finally:
                if saved is None:
                    os.environ.pop("LITELLM_LOCAL_MODEL_COST_MAP", None)
                else:
                    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = saved
            # LiteLLM prints a help banner to stdout on every exception unless told not to.
            imported.suppress_debug_info = True
            _module = imported
    return _module


class IncompleteStreamError(Exception):
    """A streamed reply ended before the provider said it had finished (no finish reason): the
    connection was closed early, or the body was not a stream. Retried like a 502, since its
    text would otherwise pass for a whole answer."""

    status_code = 502


def stream_finished(stream: Any) -> bool:
    """Whether the provider ended `stream` (LiteLLM's wrapper, consumed) with a finish reason;
    LiteLLM adds a final chunk saying "stop" even to a stream that was cut off."""
    seen = ("received_finish_reason", "intermittent_finish_reason")
    if not any(hasattr(stream, name) for name in seen):
        return True  # not LiteLLM's wrapper: nothing to tell
    return any(getattr(stream, name, None) is not None for name in seen)


def status_code(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    return code if isinstance(code, int) else None


def chain(exc: BaseException, limit: int = 10) -> list[BaseException]:
    """`exc` and what caused it, as a traceback shows them (`raise ... from None` ends it)."""
    found = [exc]
    while len(found) < limit:
        current = found[-1]
        cause = current.__cause__
        if cause is None and not current.__suppress_context__:
            cause = current.__context__
        if cause is None or cause in found:
            break
        found.append(cause)
    return found


def is_connection_error(exc: BaseException) -> bool:
    """LiteLLM reports refused connections as a 500 'Connection error.'; look through that."""
    names = {type(cause).__name__ for cause in chain(exc)}
    if names & {
        "APIConnectionError",
        "ConnectError",
        "ConnectionRefusedError",
        "ClientConnectorError",
    }:
        return True
    return "connection error" in str(exc).lower()


def is_timeout(exc: BaseException) -> bool:
    return type(exc).__name__ in {"Timeout", "APITimeoutError", "TimeoutError", "ReadTimeout"} or (
        status_code(exc) == 408
    )


def is_context_window_error(exc: BaseException) -> bool:
    return type(exc).__name__ == "ContextWindowExceededError" or any(
        type(base).__name__ == "ContextWindowExceededError" for base in type(exc).__mro__
    )


def is_retryable(exc: BaseException) -> bool:
    """429, timeouts, 5xx and connection errors are worth another try; 4xx never are."""
    if is_context_window_error(exc):
        return False
    if is_timeout(exc) or is_connection_error(exc):
        return True
    code = status_code(exc)
    if code is None:
        return type(exc).__name__ in {"APIConnectionError", "ServiceUnavailableError"}
    return code == 429 or code >= 500


def is_auth_error(exc: BaseException) -> bool:
    return status_code(exc) in {401, 403}


def retry_after_seconds(exc: BaseException) -> float | None:
    """The delay a Retry-After header on the error's response asks for, if any."""
    headers: Any = None
    response = getattr(exc, "response", None)
    if response is not None:
        headers = getattr(response, "headers", None)
    if not headers:
        headers = getattr(exc, "headers", None) or getattr(exc, "litellm_response_headers", None)
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_tz(str(value))
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())
