"""Per-model limits: a concurrency cap, and optional requests- and tokens-per-minute.

A gateway keeps its limits in a `Limiter`. Each gateway has its own `LocalLimiter` unless it is
given one; gateways given the same limiter share every model's limits (the gateways of a batch's
items, in one process). `agentrun.agents.shared_limits.RayLimiter` keeps them in one Ray actor
for a whole cluster.

asyncio primitives belong to one event loop, so each loop that uses a local limiter gets its own
set; the sync API always runs on the gateway's single background loop.
"""

from __future__ import annotations

import asyncio
import weakref
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from aiolimiter import AsyncLimiter


@dataclass(frozen=True)
class RateLimits:
    """What one model may take: calls at once, requests and tokens per minute (None: no limit)."""

    max_concurrency: int
    rpm: int | None = None
    tpm: int | None = None
    #: The longest one request holds its slot (the call's timeout): a shared limiter frees the
    #: slot of a holder that vanished (a killed worker) after this long.
    hold_s: float | None = None


class ModelSlots(Protocol):
    """The limits of one model, as a gateway uses them around each request it sends."""

    @property
    def needs_token_estimate(self) -> bool: ...

    def slot(self, tokens: int = 0) -> AbstractAsyncContextManager[None]:
        """`async with` it: one concurrency slot, after the rate limits let the request go."""
        ...


class Limiter(Protocol):
    """Where per-model limits live; every gateway given one limiter shares its limits."""

    def for_model(self, key: str, limits: RateLimits) -> ModelSlots:
        """The limits of the model `key` (its name and endpoint); the first caller's `limits`
        set them."""
        ...


@dataclass
class _Limits:
    concurrency: asyncio.Semaphore
    rpm: AsyncLimiter | None
    tpm: AsyncLimiter | None
    tpm_capacity: int


class _Slot:
    """A small class-based context manager: this sits on every call's hot path."""

    __slots__ = ("limits", "tokens")

    def __init__(self, limits: _Limits, tokens: int) -> None:
        self.limits = limits
        self.tokens = tokens

    async def __aenter__(self) -> None:
        limits = self.limits
        if limits.rpm is not None:
            await limits.rpm.acquire(1)
        if limits.tpm is not None and self.tokens > 0:
            # A request larger than a whole minute's budget waits for a full bucket, then goes.
            await limits.tpm.acquire(min(self.tokens, limits.tpm_capacity))
        await limits.concurrency.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.limits.concurrency.release()


class ModelLimits:
    """One model's limits in this process."""

    def __init__(self, max_concurrency: int, rpm: int | None, tpm: int | None) -> None:
        self.max_concurrency = max_concurrency
        self.rpm = rpm
        self.tpm = tpm
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Limits] = (
            weakref.WeakKeyDictionary()
        )

    def _limits(self) -> _Limits:
        loop = asyncio.get_running_loop()
        limits = self._per_loop.get(loop)
        if limits is None:
            limits = _Limits(
                concurrency=asyncio.Semaphore(self.max_concurrency),
                rpm=AsyncLimiter(self.rpm, 60) if self.rpm else None,
                tpm=AsyncLimiter(self.tpm, 60) if self.tpm else None,
                tpm_capacity=self.tpm or 0,
            )
            self._per_loop[loop] = limits
        return limits

    @property
    def needs_token_estimate(self) -> bool:
        return self.tpm is not None

    def slot(self, tokens: int = 0) -> _Slot:
        """`async with` it: one concurrency slot, after the rate limiters let the request go."""
        return _Slot(self._limits(), tokens)

    def in_flight(self) -> int:
        """Slots in use on the running loop (for tests and progress displays)."""
        limits = self._limits()
        return self.max_concurrency - limits.concurrency._value


class LocalLimiter:
    """Limits kept in this process, for the gateways that share this limiter."""

    def __init__(self) -> None:
        self._models: dict[str, ModelLimits] = {}

    def for_model(self, key: str, limits: RateLimits) -> ModelLimits:
        found = self._models.get(key)
        if found is None:
            found = ModelLimits(limits.max_concurrency, limits.rpm, limits.tpm)
            self._models[key] = found
        return found


__all__ = ["Limiter", "LocalLimiter", "ModelLimits", "ModelSlots", "RateLimits"]
