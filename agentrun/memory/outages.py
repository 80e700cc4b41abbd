"""Short outages of the services runs keep their state in, retried with back-off.

The checkpoint database and a chroma server may restart, fail over or drop connections for a few
seconds; each operation on them is retried with exponential back-off and jitter (tenacity) for
up to `AGENTRUN_SERVICE_RETRY_S` seconds (30 by default). A longer outage fails the operation,
and so the run, with `ServiceUnavailableError` naming the service: the run is checkpointed and
can be resumed once the service is back.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from agentrun.errors import ServiceUnavailableError
from agentrun.logs import get_logger

R = TypeVar("R")
RETRY_ENV = "AGENTRUN_SERVICE_RETRY_S"
DEFAULT_RETRY_S = 30.0

log = get_logger("outages")


def retry_window_s() -> float:
    """How long an operation on a service is retried ($AGENTRUN_SERVICE_RETRY_S, else 30 s)."""
    raw = os.environ.get(RETRY_ENV)
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_RETRY_S
    except ValueError:
        return DEFAULT_RETRY_S


def _policy(what: str, retryable: tuple[type[BaseException], ...]) -> dict[str, object]:
    def note(state: object) -> None:
        outcome = getattr(state, "outcome", None)
        error = outcome.exception() if outcome is not None else None
        log.warning("service_retry", service=what, error=type(error).__name__)

    return {
        "retry": retry_if_exception_type(retryable),
        "wait": wait_exponential_jitter(multiplier=0.1, max=2.0, jitter=0.1),
        "stop": stop_after_delay(retry_window_s()),
        "reraise": True,
        "before_sleep": note,
    }


def unavailable(what: str, error: BaseException) -> ServiceUnavailableError:
    reason = " ".join(str(error).split())  # one line, whatever the driver's message
    return ServiceUnavailableError(
        f"{what} did not answer for {retry_window_s():g} s ({type(error).__name__}: {reason}); "
        f"the run is checkpointed: resume it once the service is back ({RETRY_ENV} sets the wait)"
    )


async def aretry(
    call: Callable[[], Awaitable[R]], what: str, retryable: tuple[type[BaseException], ...]
) -> R:
    """`await call()`, retried while it raises `retryable` within the window."""
    try:
        async for attempt in AsyncRetrying(**_policy(what, retryable)):  # type: ignore[arg-type]
            with attempt:
                return await call()
    except retryable as exc:
        raise unavailable(what, exc) from exc
    raise AssertionError("unreachable: tenacity reraises the last error")


def retry(call: Callable[[], R], what: str, retryable: tuple[type[BaseException], ...]) -> R:
    """`call()`, retried while it raises `retryable` within the window."""
    try:
        for attempt in Retrying(**_policy(what, retryable)):  # type: ignore[arg-type]
            with attempt:
                return call()
    except retryable as exc:
        raise unavailable(what, exc) from exc
    raise AssertionError("unreachable: tenacity reraises the last error")
