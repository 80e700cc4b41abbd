"""The gateway's retry policy, all of it tenacity's.

Retryable failures (429, timeouts, 5xx, connection errors) back off exponentially with jitter
and a cap, or wait exactly what a Retry-After header asks, up to a maximum beyond which the call
fails and says the delay. The first attempt of every call runs outside tenacity, so a success
costs nothing extra; tenacity then owns every wait and every further attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

from agentrun.agents import _litellm as lx
from agentrun.agents.config import RetryPolicy
from agentrun.logs import get_logger, redact_text

log = get_logger("gateway")


class RetryAfterTooLong(Exception):
    def __init__(self, delay_s: float, cause: BaseException) -> None:
        super().__init__(f"retry after {delay_s:g} s")
        self.delay_s = delay_s
        self.cause = cause


class WaitRetryAfter(wait_base):
    """Honour a Retry-After header; otherwise tenacity's exponential backoff with jitter and a cap.

    The model's first try runs outside tenacity, so tenacity's attempt k is the model's try
    k + 1: `after_first` is the wait before tenacity's first attempt, `__call__` the later ones.
    """

    def __init__(self, policy: RetryPolicy) -> None:
        self.first = wait_exponential_jitter(
            multiplier=policy.initial_backoff_s, max=policy.max_backoff_s, jitter=policy.jitter_s
        )
        self.later = wait_exponential_jitter(
            multiplier=2 * policy.initial_backoff_s,
            max=policy.max_backoff_s,
            jitter=policy.jitter_s,
        )

    @staticmethod
    def _retry_after(retry_state: RetryCallState) -> float | None:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        return lx.retry_after_seconds(error) if error is not None else None

    def after_first(self, error: BaseException, retry_state: RetryCallState) -> float:
        retry_after = lx.retry_after_seconds(error)
        return retry_after if retry_after is not None else float(self.first(retry_state))

    def __call__(self, retry_state: RetryCallState) -> float:
        retry_after = self._retry_after(retry_state)
        return retry_after if retry_after is not None else float(self.later(retry_state))


def sleep_before_first(
    error: BaseException, wait: Any, model: str
) -> Callable[[RetryCallState], Awaitable[None]]:
    """Tenacity `before` hook: the wait after the bare first attempt failed."""

    async def before(state: RetryCallState) -> None:
        if state.attempt_number == 1:
            delay = wait.after_first(error, state)
            log_retry(model, 1, delay, error)
            await asyncio.sleep(delay)

    return before


def log_retry(model: str, attempt: int, wait_s: float, error: BaseException | None) -> None:
    log.warning(
        "model_retry",
        model=model,
        attempt=attempt,
        wait_s=round(wait_s, 3),
        error=short(error) if error else None,
    )


def short(exc: BaseException | None, limit: int = 300) -> str:
    """The first line of an error, without LiteLLM's module prefixes nor the credentials a
    provider may echo in it."""
    if exc is None:
        return ""
    text = redact_text(str(exc)).replace("litellm.", "").strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first[:limit]


def template(model: str, policy: RetryPolicy) -> AsyncRetrying:
    """The tenacity policy for one model (built once, copied per call)."""

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log_retry(model, state.attempt_number + 1, state.upcoming_sleep, error)

    return AsyncRetrying(
        stop=stop_after_attempt(policy.max_attempts),
        wait=WaitRetryAfter(policy),
        retry=retry_if_exception(lx.is_retryable),
        before_sleep=before_sleep,
        reraise=True,
    )


def refuse_long_retry_after(error: BaseException | None, policy: RetryPolicy) -> None:
    """Raise `RetryAfterTooLong` when the provider asks to wait beyond the policy's maximum."""
    delay = lx.retry_after_seconds(error) if error is not None else None
    if error is not None and delay is not None and delay > policy.max_retry_after_s:
        raise RetryAfterTooLong(delay, error) from error
