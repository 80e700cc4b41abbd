"""Structured events that stay silent until the host application asks for them.

Loggers are structlog loggers wrapped around the standard-library logger `agentrun.<name>`, so
importing agentrun configures nothing: an application sees the events only if it configures
logging for `agentrun` (the CLI does, for `--verbose`). Secrets are redacted before any handler
sees an event.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = re.compile(r"(api[_-]?key|authorization|token|secret|password|bearer)", re.I)
_SECRET_VALUES = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,}|Bearer\s+[A-Za-z0-9._\-]{8,})")
_COUNT_KEYS = {"prompt_tokens", "completion_tokens", "total_tokens", "max_tokens", "tokens"}
REDACTED = "[redacted]"

# The standard library's advice for libraries: a NullHandler, so that without the host's own
# configuration no event reaches the last-resort handler on stderr.
logging.getLogger("agentrun").addHandler(logging.NullHandler())


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return _SECRET_VALUES.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: (REDACTED if _is_secret_key(k) else _redact_value(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    return value


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and key not in _COUNT_KEYS and bool(_SECRET_KEYS.search(key))


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask API keys, bearer tokens and anything named like a secret."""
    for key in list(event_dict):
        event_dict[key] = REDACTED if _is_secret_key(key) else _redact_value(event_dict[key])
    return event_dict


def get_logger(name: str) -> Any:
    """A structlog logger over `logging.getLogger("agentrun.<name>")`."""
    return structlog.wrap_logger(
        logging.getLogger(f"agentrun.{name}"),
        processors=[
            structlog.stdlib.filter_by_level,
            redact_secrets,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
    )


def configure_cli_logging(verbose: int) -> None:
    """Render agentrun events to stderr (only the CLI calls this)."""
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=structlog.dev.ConsoleRenderer(colors=False),
            foreign_pre_chain=[structlog.stdlib.add_log_level],
        )
    )
    root = logging.getLogger("agentrun")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
