"""A private event loop on a daemon thread, so the gateway's sync API works anywhere."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import TypeVar

R = TypeVar("R")


class Portal:
    """A private event loop on a daemon thread, so the sync API works anywhere.

    The loop starts on the first `run()` and ends on `close()` (a later `run()` starts a new one).
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self, coro: Awaitable[R]) -> R:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=_serve, args=(loop,), name="agentrun-gateway", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            loop = self._loop
        future = asyncio.run_coroutine_threadsafe(_awaited(coro), loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise

    def close(self) -> None:
        """Stop the loop and wait for its thread (not from inside the loop: it cannot wait)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None or thread is threading.current_thread():
                return
            self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        # Tasks LiteLLM left on the loop (its logging worker) are cancelled and awaited, not
        # destroyed pending when the loop closes.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _awaited(awaitable: Awaitable[R]) -> R:
    return await awaitable
