"""Who is calling: bearer tokens, each naming a client whose runs and memory are its own.

A token is compared with every known token in constant time (their SHA-256 digests, so neither
their length nor the first differing byte shows in the time taken), and is never logged nor
stored beyond the server's settings. Each client's memory lives under a namespace that starts
with its name (`[alice, ...]`), which no other client's runs or requests can reach; its runs
are listed and opened for it alone. Pages send the token as an HttpOnly cookie set by the login
form, never in a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agentrun.errors import UsageError
from agentrun.memory.namespaces import namespace_problem

#: The environment variable holding the token of a server with one client, named `default`.
TOKEN_ENV = "AGENTRUN_SERVER_TOKEN"
SINGLE_CLIENT = "default"
#: The client of a server started with `--no-auth` (loopback only).
LOCAL_CLIENT = "local"
COOKIE = "agentrun_token"
MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class Caller:
    """An authenticated client: its name is the first label of its memory namespace."""

    name: str

    def namespace(self, *labels: str) -> tuple[str, ...]:
        """The store namespace `labels` mean for this client (inside its own)."""
        return (self.name, *labels)


class Authenticator:
    """Maps a presented token to its client, or to nobody."""

    def __init__(self, tokens: Mapping[str, str], *, required: bool = True) -> None:
        self.required = required
        self._digests = {name: _digest(token) for name, token in tokens.items()}

    def caller(self, presented: str | None) -> Caller | None:
        if not self.required:
            return Caller(LOCAL_CLIENT)
        if not presented:
            return None
        digest = _digest(presented)
        found = None
        for name, known in self._digests.items():  # no early exit: every token is compared
            if hmac.compare_digest(digest, known):
                found = name
        return Caller(found) if found is not None else None


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def check_client_name(name: str, where: str) -> str:
    problem = namespace_problem([name])
    if problem or "/" in name:
        why = problem or "it contains /"
        raise UsageError(
            f"{where}: client name {name!r} cannot name a namespace ({why}); use letters, "
            "digits and dashes"
        )
    return name


def check_token(token: str, where: str) -> str:
    if len(token) < MIN_TOKEN_CHARS or any(char.isspace() for char in token):
        raise UsageError(f"{where}: a token needs at least {MIN_TOKEN_CHARS} characters and no "
                         "spaces; make one with `python -c 'import secrets; "
                         "print(secrets.token_urlsafe(32))'`")  # fmt: skip
    return token


def read_tokens_file(path: Path) -> dict[str, str]:
    """`NAME TOKEN` per line (`#` comments); the file must be readable by its owner only."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the tokens file: {exc}") from None
    if stat.S_IMODE(mode) & 0o077:
        raise UsageError(f"{path}: the tokens file is readable by others; chmod 600 {path}")
    tokens: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise UsageError(f"{path}:{number}: expected `NAME TOKEN`")
        name = check_client_name(parts[0], f"{path}:{number}")
        if name in tokens:
            raise UsageError(f"{path}:{number}: client {name!r} is listed twice")
        tokens[name] = check_token(parts[1], f"{path}:{number}")
    if len(set(tokens.values())) != len(tokens):
        raise UsageError(f"{path}: two clients share a token; give each its own")
    return tokens


def env_tokens() -> dict[str, str]:
    """The one client `AGENTRUN_SERVER_TOKEN` defines, if set."""
    token = os.environ.get(TOKEN_ENV)
    return {SINGLE_CLIENT: check_token(token, TOKEN_ENV)} if token else {}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


__all__ = [
    "COOKIE",
    "LOCAL_CLIENT",
    "TOKEN_ENV",
    "Authenticator",
    "Caller",
    "bearer",
    "env_tokens",
    "is_loopback",
    "read_tokens_file",
]
