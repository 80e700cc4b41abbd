"""On-disk response cache, keyed on the normalized request.

Keys never include credentials or headers; entries are files readable by the owner only. A hit
returns the recorded reply without any model call.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentrun.settings import cache_dir, write_private

#: Request fields that decide the reply. Anything else (keys, headers, timeouts) is left out.
KEY_FIELDS = (
    "model",
    "api_base",
    "messages",
    "temperature",
    "max_tokens",
    "top_p",
    "stop",
    "seed",
    "response_format",
)


@dataclass(frozen=True)
class CachedReply:
    text: str
    model: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    #: The reply's tool calls, as `dataclasses.asdict(ToolCall)` dicts.
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


#: Fields that join the key only when set, so keys of requests without them stay as they were.
#: `local`: what identifies the embedded model (its file and n_ctx), which the name does not.
OPTIONAL_KEY_FIELDS = ("local", "tools", "tool_choice", "parallel_tool_calls")


def request_key(request: dict[str, Any]) -> str:
    normalized = {name: request.get(name) for name in KEY_FIELDS}
    normalized.update({name: request[name] for name in OPTIONAL_KEY_FIELDS if request.get(name)})
    blob = json.dumps(normalized, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedReply | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            return CachedReply(**data)
        except (OSError, ValueError, TypeError):
            return None

    def put(self, key: str, reply: CachedReply) -> None:
        write_private(self._path(key), json.dumps(asdict(reply), ensure_ascii=False))

    def clear(self) -> int:
        """Delete every entry; returns how many there were."""
        if not self.root.exists():
            return 0
        count = sum(1 for _ in self.root.rglob("*.json"))
        shutil.rmtree(self.root)
        return count

    def __len__(self) -> int:
        with contextlib.suppress(FileNotFoundError):
            return sum(1 for _ in self.root.rglob("*.json"))
        return 0


def response_cache(data_dir: str | os.PathLike[str] | None = None) -> ResponseCache:
    """The cache under the data directory, as the gateway and `agentrun cache clear` see it."""
    return ResponseCache(cache_dir(data_dir) / "responses")
