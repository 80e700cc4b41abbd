"""A run's records stay on disk: memory holds where they are, not what they say."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from agentrun.graphs.run_records import RunRecords


def test_records_are_read_back_from_the_file_not_kept_in_memory(tmp_path: Path) -> None:
    records = RunRecords(tmp_path / "records.jsonl")
    texts = [f"{i} " + "東京 harbour ledger " * 5_000 for i in range(40)]  # about 4 MB
    tracemalloc.start()
    try:  # each value is made as it is written, as a split document's chunks are
        records.put_many(
            "chunk", ((f"c{i:03d}", {"text": t[:1] + t[1:]}) for i, t in enumerate(texts))
        )
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < sum(map(len, texts)) / 20
    assert records.get("chunk", "c007") == {"text": texts[7]}  # multi-byte text, exact offsets
    assert [v["text"] for v in records.values("chunk")] == texts
    records.close()


def test_a_resumed_run_finds_each_key_at_its_last_record(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    first = RunRecords(path)
    first.put_many("unit", [("b", {"text": "é" * 3}), ("a", {"text": "first"})])
    first.put("prompt", "p", {"text": "東京"})
    first.put("unit", "a", {"text": "again"})
    first.close()
    again = RunRecords(path)
    assert again.values("unit") == [{"text": "again"}, {"text": "ééé"}]
    again.put("unit", "c", {"text": "late"})
    assert again.get("unit", "c") == {"text": "late"} and again.get("prompt", "p") == {
        "text": "東京"
    }
    assert again.get("unit", "missing") is None and again.values("nothing") == []
    again.close()
