"""How a pipeline run was started, beyond its spec and inputs, kept so that a resume runs alike.

A run's record stores its `RunOptions` (in `meta.json`); `agentrun resume` and
`Pipeline.resume` start from them, and an option given explicitly to the resume overrides (and
is stored for later resumes). A new run option is one more field here, with its default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunOptions:
    #: Reuse cached replies of identical calls (None: the gateway's own setting).
    cache: bool | None = None
    #: Stream model text as it arrives.
    stream_text: bool = False
    #: Refuse inputs estimated over this many tokens (None: the spec's limit, else the default).
    max_input_tokens: int | None = None
    #: Refuse, and stop, a run over this cost in USD (None: the spec's limit, else the default).
    max_cost_usd: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RunOptions:
        """Options as stored; names this version does not know are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})

    def overridden(self, **given: Any) -> RunOptions:
        """These options with every value given (not None) in place of the stored one."""
        return dataclasses.replace(self, **{k: v for k, v in given.items() if v is not None})
