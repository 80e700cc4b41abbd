"""Turning what LiteLLM raised into one clear, public agentrun error."""

from __future__ import annotations

import contextlib

from agentrun.agents import _litellm as lx
from agentrun.agents.config import LOCAL_MODEL, ModelConfig
from agentrun.agents.retry import RetryAfterTooLong, short
from agentrun.errors import (
    AuthenticationFailedError,
    ContextLengthError,
    EndpointUnreachableError,
    ModelCallError,
    ModelError,
    RetryAfterTooLongError,
    ScriptedModelError,
    UnknownModelError,
)


def public_error(
    name: str, config: ModelConfig, exc: BaseException, attempts: int, max_retry_after_s: float
) -> Exception:
    """The error a caller sees for a failure that retries and fallbacks did not cure."""
    if isinstance(exc, ModelError | ModelCallError):
        return exc
    if isinstance(exc, RetryAfterTooLong):
        return RetryAfterTooLongError(name, exc.delay_s, max_retry_after_s)
    where = config.api_base or (
        "the embedded server" if config.model == LOCAL_MODEL else "the provider"
    )
    if lx.is_context_window_error(exc):
        return ContextLengthError(
            name,
            "the prompt does not fit the context window; shorten the input, use a "
            "chunking workflow (chain-of-agents), or add a fallback with a larger window "
            f"({short(exc, 200)})",
        )
    if lx.is_auth_error(exc):
        return AuthenticationFailedError(
            name, f"{where} rejected the credentials; check the API key ({short(exc, 200)})"
        )
    if lx.is_connection_error(exc):
        return EndpointUnreachableError(
            name,
            f"nothing answered at {where} after {attempts} attempts; "
            "start the server or fix api_base",
        )
    if lx.status_code(exc) == 404:
        return UnknownModelError(
            name,
            f"{where} does not serve this model; check its name and provider prefix "
            f"(`agentrun models check MODEL` tries one) ({short(exc, 200)})",
        )
    if lx.is_retryable(exc):
        return ModelCallError(name, f"gave up after {attempts} attempts: {short(exc)}")
    return ModelCallError(name, f"the request was rejected: {short(exc)}")


#: Set on an exception that a test double raised for its own reasons (its script ran out, a
#: reply function failed). LiteLLM wraps such errors as connection errors, which the gateway would
#: retry and report as an unreachable endpoint; the mark lets it re-raise them at once instead.
_PASS_THROUGH = "_agentrun_pass_through"


def mark_pass_through(exc: BaseException) -> BaseException:
    """Mark `exc` to reach the gateway's caller unchanged, neither retried nor mapped."""
    with contextlib.suppress(AttributeError):
        setattr(exc, _PASS_THROUGH, True)
    return exc


def passed_through(exc: BaseException) -> BaseException | None:
    """The marked exception in `exc`'s cause chain, if any."""
    return next((cause for cause in lx.chain(exc) if getattr(cause, _PASS_THROUGH, False)), None)


def own_failure_error(name: str, exc: BaseException) -> ScriptedModelError:
    """The error a caller sees for a test double's own failure (`exc` becomes its cause)."""
    if isinstance(exc, ScriptedModelError):
        return exc
    return ScriptedModelError(
        name,
        f"the scripted model's reply raised {type(exc).__name__}: {short(exc, 200)} (not "
        "retried: only errors with an HTTP status or of a retryable kind simulate a provider)",
    )


def is_provider_like(exc: BaseException) -> bool:
    """An HTTP status, a lost connection, or a failure the gateway retries: a simulated provider
    error."""
    return (
        isinstance(exc, ConnectionError) or lx.status_code(exc) is not None or lx.is_retryable(exc)
    )
