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

# Key names are compared as lower-case words ("apiKey", "x-api-key" -> "api_key", "x_api_key").
# A credential is named by one of these words or pairs, or ends in the singular word "token"
# (access_token, refresh_token, id_token, token); counts such as prompt_tokens or
# tokens_per_minute say "tokens" and stay visible.
_SECRET_WORDS = re.compile(
    r"(^|_)(api_?key|authorization|password|passwd|passphrase|secret|bearer|cookie"
    r"|credentials?|(access|secret|private)_key)(_|$)"
    r"|(^|_)token$"
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^a-z0-9]+")
_SECRET_VALUES = re.compile(
    r"\b(sk-[A-Za-z0-9_\-]{8,}|(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]{8,})", re.I
)
REDACTED = "[redacted]"
#: Credential values this process was given (API keys, MCP headers and environment read from
#: `${NAME}`): masked by value wherever agentrun writes text, whatever their shape.
_KNOWN_SECRETS: set[str] = set()
#: Shorter values are not masked: they would blank out ordinary words.
MIN_SECRET_CHARS = 8

# The standard library's advice for libraries: a NullHandler, so that without the host's own
# configuration no event reaches the last-resort handler on stderr.
logging.getLogger("agentrun").addHandler(logging.NullHandler())


def remember_secret(value: str) -> str:
    """Mask `value` from now on in logs and in the errors agentrun reports; returns it."""
    if len(value) >= MIN_SECRET_CHARS:
        _KNOWN_SECRETS.add(value)
    return value


def redact_text(text: str) -> str:
    """`text` with the credentials it holds masked: known values, and key-shaped words."""
    for secret in _KNOWN_SECRETS:
        text = text.replace(secret, REDACTED)
    return _SECRET_VALUES.sub(REDACTED, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: (REDACTED if _is_secret_key(k) else _redact_value(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    return value


def _is_secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    words = _SEPARATORS.sub("_", _CAMEL.sub("_", key).lower()).strip("_")
    return bool(_SECRET_WORDS.search(words))


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask credentials by key name (at any depth) and by their shape."""
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
    from agentrun.cli._common import visible

    class VisibleFormatter(structlog.stdlib.ProcessorFormatter):
        """Events may quote model or provider text: its control characters are shown."""

        def format(self, record: logging.LogRecord) -> str:
            return visible(super().format(record))

    handler = logging.StreamHandler()
    handler.setFormatter(
        VisibleFormatter(
            processor=structlog.dev.ConsoleRenderer(colors=False),
            foreign_pre_chain=[structlog.stdlib.add_log_level],
        )
    )
    root = logging.getLogger("agentrun")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
