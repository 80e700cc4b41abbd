"""One of several processes writing the same embedded store at once.

`python -m tests.memory.writer_child DATA_DIR NAME COUNT START_AT HOLD_S` waits until the wall
clock reaches START_AT (so the writers really start together), opens the store, writes COUNT
indexed items under ("w", NAME) in batches of ten, keeps the store HOLD_S seconds more, and
prints as JSON when it asked for the store and the interval in which it held it.

With WRITER_CHILD_NO_LOCK=1 the store's lock does nothing, which the tests use to show that
their check does see writers overlap.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from langgraph.store.base import PutOp

from agentrun.memory import FakeEmbedder, default_store
from agentrun.memory.lock import StoreLock


def no_lock(self: StoreLock) -> None:
    """Stand-in for `StoreLock.acquire` and `release`."""


if __name__ == "__main__":
    data_dir, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    start_at, hold_s = float(sys.argv[4]), float(sys.argv[5])
    if os.environ.get("WRITER_CHILD_NO_LOCK") == "1":
        StoreLock.acquire = no_lock  # type: ignore[method-assign]
        StoreLock.release = no_lock  # type: ignore[method-assign]
    time.sleep(max(0.0, start_at - time.time()))
    asked = time.time()
    with default_store(data_dir, embedder=FakeEmbedder(), lock_timeout_s=60) as store:
        held_from = time.time()
        for start in range(0, count, 10):
            store.batch(
                [
                    PutOp(("w", name), f"{i:05d}", {"text": f"{name} writes item {i}", "i": i})
                    for i in range(start, min(start + 10, count))
                ]
            )
        time.sleep(hold_s)
        held_to = time.time()
    report = {"name": name, "asked": asked, "held_from": held_from, "held_to": held_to}
    print(json.dumps(report), flush=True)
