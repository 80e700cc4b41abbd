"""One of several processes writing the same embedded store at once.

`python -m tests.memory.writer_child DATA_DIR NAME COUNT` writes COUNT indexed items under
("w", NAME) in batches of ten and prints how long it waited for the store.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from langgraph.store.base import PutOp

from agentrun.memory import FakeEmbedder, default_store

if __name__ == "__main__":
    data_dir, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    started = time.monotonic()
    with default_store(data_dir, embedder=FakeEmbedder()) as store:
        waited = time.monotonic() - started
        for start in range(0, count, 10):
            store.batch(
                [
                    PutOp(("w", name), f"{i:05d}", {"text": f"{name} writes item {i}", "i": i})
                    for i in range(start, min(start + 10, count))
                ]
            )
    print(f"waited {waited:.2f}", flush=True)
