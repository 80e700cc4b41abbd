"""The items of a batch: one JSON object per line of an inputs file, each named by a key.

An item's key is the value of its `--key` field, or a hash of the whole item. Its thread id is
the key and a digest of the pipeline as run (spec text and `--set` overrides), so running the
same batch again finds each item's run (finished, or checkpointed part way) and running a changed
pipeline starts its items afresh. Every item is checked against the pipeline's inputs before any
runs: a bad line stops the batch with one error naming the file and line.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentrun.errors import UsageError

if TYPE_CHECKING:
    from agentrun.pipeline.run import Pipeline

#: Keys used as they are in thread ids; any other key is hashed.
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class BatchItem:
    """One item: where it came from (`line`, 1-based), its key, its run's thread id, and the
    pipeline inputs it holds."""

    line: int
    key: str
    thread_id: str
    inputs: dict[str, Any]


def read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object is an
    error naming the file and line."""
    from agentrun.text.files import json_objects, read_text_file

    return list(json_objects(path, read_text_file(path)))


def pipeline_digest(pipeline: Pipeline, overrides: Mapping[str, str] | None) -> str:
    """What names the pipeline as run: its spec text and overrides."""
    blob = json.dumps([pipeline.text, sorted((overrides or {}).items())], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


def item_key(row: Mapping[str, Any], key_field: str | None, where: str) -> str:
    """The item's key: its `key_field` value, or a hash of the whole item."""
    if key_field is None:
        blob = json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
    value = row.get(key_field)
    if value is None or value == "" or isinstance(value, dict | list):
        raise UsageError(f"{where}: no {key_field!r} to key the item by (--key {key_field}); "
                         "give every item one, a string or number")  # fmt: skip
    return str(value)


def thread_for(key: str, digest: str) -> str:
    """A thread id for the item `key` of the pipeline `digest`: the key itself when it is short
    and plain, else its hash."""
    plain = key if _PLAIN_KEY.match(key) else "k" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{plain}-{digest}"


def plan(
    pipeline: Pipeline,
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    *,
    source: str,
    key_field: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> list[BatchItem]:
    """The batch's items, each checked against the pipeline's inputs; keys must be unique.

    The key field is not passed to the pipeline unless the pipeline declares an input of that
    name."""
    digest = pipeline_digest(pipeline, overrides)
    seen: dict[str, int] = {}
    items = []
    for line, row in rows:
        where = f"{source}:{line}"
        key = item_key(row, key_field, where)
        if key in seen:
            what = f"key {key!r} is also on" if key_field else "the same item as"
            raise UsageError(f"{where}: {what} line {seen[key]}; every item needs its own key "
                             "(--key FIELD names the field that holds it)")  # fmt: skip
        seen[key] = line
        given = {
            name: value
            for name, value in row.items()
            if name != key_field or name in pipeline.spec.inputs
        }
        try:
            inputs = pipeline.coerce_inputs(given, missing="add {name!r} to the item")
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from None
        items.append(BatchItem(line, key, thread_for(key, digest), inputs))
    return items


__all__ = ["BatchItem", "item_key", "pipeline_digest", "plan", "read_jsonl", "thread_for"]
