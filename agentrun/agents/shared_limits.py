"""Per-model limits for a whole Ray cluster: one actor holds them, every worker's gateways ask it.

`RayLimiter` is a `Limiter` (`agentrun.agents.limits`) whose slots are leases granted by one
async Ray actor, so `max_concurrency`, `rpm` and `tpm` hold for all the calls of a batch however
many workers and machines make them (a limiter per worker would let each worker take them all).
A lease is returned when its request ends. A worker that restarts (after its process was killed
or its node lost) gives back every lease its previous process held (`forget`), and any lease is
taken back after its request's timeout (`RateLimits.hold_s`), so a lost worker cannot keep a
slot.
Each request costs two actor calls, about a millisecond each on one machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiolimiter import AsyncLimiter

from agentrun.agents.limits import RateLimits

#: Added to a request's timeout before its slot is taken back from a holder that vanished.
HOLD_GRACE_S = 5.0


@dataclass
class _Model:
    """One model's limits inside the actor."""

    limits: RateLimits
    rpm: AsyncLimiter | None = None
    tpm: AsyncLimiter | None = None
    #: Lease id -> when it is taken back (monotonic seconds; inf: never).
    leases: dict[str, float] = field(default_factory=dict)
    #: Lease id -> who holds it (a worker's name; "" for no one in particular).
    owners: dict[str, str] = field(default_factory=dict)
    #: Leases released before they were granted (their request was cancelled while waiting).
    dropped: set[str] = field(default_factory=set)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    peak: int = 0

    def __post_init__(self) -> None:
        if self.limits.rpm:
            self.rpm = AsyncLimiter(self.limits.rpm, 60)
        if self.limits.tpm:
            self.tpm = AsyncLimiter(self.limits.tpm, 60)

    def take_back_expired(self) -> None:
        now = time.monotonic()
        for lease in [lease for lease, until in self.leases.items() if until <= now]:
            self.give_back(lease)

    def give_back(self, lease: str) -> bool:
        self.owners.pop(lease, None)
        return self.leases.pop(lease, None) is not None

    def next_expiry(self) -> float | None:
        if not self.leases:
            return None
        return max(0.01, min(self.leases.values()) - time.monotonic())


class LimiterActor:
    """The state of every model's limits for a cluster (run as an async Ray actor)."""

    def __init__(self) -> None:
        self.models: dict[str, _Model] = {}

    def _model(self, key: str, limits: RateLimits) -> _Model:
        found = self.models.get(key)
        if found is None:
            found = self.models[key] = _Model(limits)
        return found

    async def acquire(
        self, key: str, limits: RateLimits, tokens: int, lease: str, owner: str = ""
    ) -> bool:
        """Wait until the model's rate limits let one request go and a slot is free; False if
        the lease was released (its request cancelled) meanwhile."""
        model = self._model(key, limits)
        if model.rpm is not None:
            await model.rpm.acquire(1)
        if model.tpm is not None and tokens > 0:
            await model.tpm.acquire(min(tokens, model.limits.tpm or tokens))
        hold = (limits.hold_s + HOLD_GRACE_S) if limits.hold_s else float("inf")
        async with model.changed:
            while True:
                if lease in model.dropped:
                    model.dropped.discard(lease)
                    return False
                model.take_back_expired()
                if len(model.leases) < model.limits.max_concurrency:
                    model.leases[lease] = time.monotonic() + hold
                    model.owners[lease] = owner
                    model.peak = max(model.peak, len(model.leases))
                    return True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(model.changed.wait(), model.next_expiry())

    async def release(self, key: str, lease: str) -> None:
        model = self.models.get(key)
        if model is None:
            return
        async with model.changed:
            if not model.give_back(lease):
                model.dropped.add(lease)
            model.changed.notify_all()

    async def forget(self, owner: str) -> int:
        """Give back every lease `owner` holds (its process is gone); returns how many."""
        count = 0
        for model in self.models.values():
            async with model.changed:
                for lease in [lease for lease, held in model.owners.items() if held == owner]:
                    count += model.give_back(lease)
                model.changed.notify_all()
        return count

    async def in_flight(self, key: str) -> int:
        """Slots held now (for tests and monitoring)."""
        model = self.models.get(key)
        return len(model.leases) if model is not None else 0

    async def peak(self, key: str) -> int:
        """The most slots ever held at once."""
        model = self.models.get(key)
        return model.peak if model is not None else 0


@functools.cache
def _remote_actor() -> Any:
    import ray

    # Restarted if it dies (its limits start afresh); calls to it are retried meanwhile.
    return ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(LimiterActor)


class _RaySlot:
    __slots__ = ("actor", "key", "lease", "limits", "owner", "tokens")

    def __init__(self, actor: Any, key: str, limits: RateLimits, tokens: int, owner: str) -> None:
        self.actor = actor
        self.key = key
        self.limits = limits
        self.tokens = tokens
        self.owner = owner
        self.lease = uuid.uuid4().hex

    async def __aenter__(self) -> None:
        try:
            await self.actor.acquire.remote(
                self.key, self.limits, self.tokens, self.lease, self.owner
            )
        except asyncio.CancelledError:
            self.actor.release.remote(self.key, self.lease)  # granted later: given back at once
            raise

    async def __aexit__(self, *exc: object) -> None:
        await self.actor.release.remote(self.key, self.lease)


@dataclass(frozen=True)
class RayModelSlots:
    """One model's cluster-wide limits, as a gateway uses them."""

    actor: Any
    key: str
    limits: RateLimits
    owner: str = ""

    @property
    def needs_token_estimate(self) -> bool:
        return self.limits.tpm is not None

    def slot(self, tokens: int = 0) -> _RaySlot:
        return _RaySlot(self.actor, self.key, self.limits, tokens, self.owner)


@dataclass(frozen=True)
class RayLimiter:
    """A `Limiter` kept by one Ray actor. `owner` names the worker whose requests hold its
    slots (a runner actor's id), so that its next process can give back what a lost one held."""

    actor: Any
    owner: str = ""

    @classmethod
    def start(cls, name: str) -> RayLimiter:
        """A new limiter actor named `name` on the connected cluster (it ends with the driver's
        job); workers find it with `named(name)`."""
        return cls(_remote_actor().options(name=name).remote())

    @classmethod
    def named(cls, name: str, owner: str = "") -> RayLimiter:
        """The limiter actor a driver started, from a worker of the same job."""
        import ray

        return cls(ray.get_actor(name), owner)

    async def forget_owner(self) -> int:
        """Give back the slots this limiter's owner held in an earlier process."""
        return int(await self.actor.forget.remote(self.owner)) if self.owner else 0

    def for_model(self, key: str, limits: RateLimits) -> RayModelSlots:
        return RayModelSlots(self.actor, key, limits, self.owner)

    def peak(self, key: str) -> int:
        """The most requests to `key` ever in flight at once, cluster-wide."""
        import ray

        return int(ray.get(self.actor.peak.remote(key)))


__all__ = ["HOLD_GRACE_S", "LimiterActor", "RayLimiter", "RayModelSlots"]
