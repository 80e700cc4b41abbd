"""Public error types.

Every error a user can cause carries a one-line message that names the thing at fault and the fix,
and the process exit code the CLI uses for it, so SDK users can catch precise types and the CLI
never needs a traceback to explain itself.
"""

from __future__ import annotations

from typing import Self

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
#: The run stopped at a question and waits, checkpointed, for `agentrun resume --answer`.
EXIT_WAITING = 4
EXIT_INTERRUPTED = 130


class AgentrunError(Exception):
    """Base of every error agentrun raises on purpose."""

    exit_code: int = EXIT_RUN_FAILED
    #: The run this error stopped, when it stopped one: resume it with this id.
    thread_id: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def at(self, where: str) -> Self:
        """This error, its message prefixed with where it happened (e.g. `node read`)."""
        self.message = f"{where}: {self.message}"
        self.args = (self.message,)
        return self


# --- configuration and models (exit code 3) -------------------------------------------------


class ConfigError(AgentrunError):
    """A setting is missing or contradicts another one."""

    exit_code = EXIT_CONFIG


class ModelError(ConfigError):
    """A model cannot be used as configured; `model` names it."""

    def __init__(self, model: str, message: str) -> None:
        super().__init__(f"model {model!r}: {message}")
        self.model = model


class UnknownModelError(ModelError):
    """LiteLLM does not know how to route the model name."""


class MissingAPIKeyError(ModelError):
    """The provider needs a key that is not in the environment."""


class EndpointUnreachableError(ModelError):
    """Nothing answered at the model's endpoint after every retry."""


class LocalModelStartError(ModelError):
    """The embedded llama.cpp server did not become healthy."""


class ContextLengthError(ModelError):
    """A prompt does not fit the model's context window."""


class AuthenticationFailedError(ModelError):
    """The provider rejected the credentials (401/403)."""


class ModelCallError(AgentrunError):
    """A model call failed for a reason that retrying and falling back did not cure."""

    def __init__(self, model: str, message: str) -> None:
        super().__init__(f"model {model!r}: {message}")
        self.model = model


class RetryAfterTooLongError(ModelCallError):
    """The provider asked to wait longer than the configured maximum."""

    def __init__(self, model: str, delay_s: float, limit_s: float) -> None:
        super().__init__(
            model,
            f"the provider asked to retry after {delay_s:g} s, over the {limit_s:g} s maximum; "
            "wait and run again, or raise retry.max_retry_after_s",
        )
        self.delay_s = delay_s
        self.limit_s = limit_s


class StructuredOutputError(ModelCallError):
    """The model's reply did not validate against the requested schema, even after re-asking."""


class ScriptedModelError(ModelCallError):
    """A scripted (fake) model failed for its own reasons: its script ran out, or a reply raised.

    Never retried nor fallen back from; the exception the script raised is the `__cause__`.
    """


# --- specs, input and usage (exit code 2) ---------------------------------------------------


class UsageError(AgentrunError):
    """Bad command-line usage or bad input to an SDK call."""

    exit_code = EXIT_USAGE


class InputFileError(UsageError):
    """An input file is missing, empty, binary, too large or not decodable."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class AnswerError(UsageError):
    """An answer to a waiting run's question was refused (or missing, or not expected); the run
    is left as it was, still waiting."""


class SpecError(UsageError):
    """A pipeline spec is invalid; the message lists every problem with file:line:column."""


class BudgetError(UsageError):
    """A run's inputs are estimated over its token or cost limit; nothing was sent."""


class FileOutsideRootsError(UsageError):
    """A file tool was given a path that is absolute or leads outside the folders it may read."""

    def __init__(self, path: str, roots: tuple[str, ...], reason: str) -> None:
        shown = path if len(path) <= 200 else path[:200] + "..."
        super().__init__(
            f"path {shown!r} {reason}; file tools read only paths relative to and inside "
            f"{', '.join(roots)}; allow another folder with `files: {{roots: [DIR]}}` in the "
            "spec or `agentrun run --allow-dir DIR`"
        )
        self.path = path
        self.roots = roots


# --- runs (exit code 1) ----------------------------------------------------------------------


class RunFailedError(AgentrunError):
    """A run stopped part way; its checkpoint can be resumed (`thread_id` names it)."""

    def __init__(self, message: str, thread_id: str | None = None) -> None:
        super().__init__(message)
        self.thread_id = thread_id


class CostLimitError(RunFailedError):
    """A run spent its cost limit; it stopped before the next model call and can be resumed
    with a higher limit."""


# --- tools (exit code 1, or 3 for a server that cannot be used) -----------------------------


class ToolError(AgentrunError):
    """A tool could not do what was asked; `tool` names it. An agent loop sends the message
    back to the model as the tool's result, so it says what to change."""

    def __init__(self, tool: str, message: str) -> None:
        super().__init__(f"tool {tool!r}: {message}")
        self.tool = tool


class ToolArgumentsError(ToolError):
    """The arguments do not match the tool's schema; `problems` lists each field and what is
    wrong with it."""

    def __init__(self, tool: str, problems: list[str]) -> None:
        super().__init__(tool, "invalid arguments: " + "; ".join(problems))
        self.problems = problems


class ToolCallError(ToolError):
    """The tool ran and failed: it reported an error, timed out, or its server went away."""


class McpServerError(ConfigError):
    """An MCP server did not start, did not answer its handshake, or cannot be reached;
    `server` names it."""

    def __init__(self, server: str, message: str) -> None:
        super().__init__(f"MCP server {server!r}: {message}")
        self.server = server


class ServiceUnavailableError(AgentrunError):
    """A service runs keep their state in (the checkpoint database, a chroma server) did not
    answer for longer than the retry window; the run can be resumed once it is back."""


class MemoryStoreError(AgentrunError):
    """The memory store refused an operation (scope, embedder mismatch, lock timeout)."""

    exit_code = EXIT_CONFIG


__all__ = [
    "EXIT_CONFIG",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_RUN_FAILED",
    "EXIT_USAGE",
    "EXIT_WAITING",
    "AgentrunError",
    "AnswerError",
    "AuthenticationFailedError",
    "BudgetError",
    "ConfigError",
    "ContextLengthError",
    "CostLimitError",
    "EndpointUnreachableError",
    "FileOutsideRootsError",
    "InputFileError",
    "LocalModelStartError",
    "McpServerError",
    "MemoryStoreError",
    "MissingAPIKeyError",
    "ModelCallError",
    "ModelError",
    "RetryAfterTooLongError",
    "RunFailedError",
    "ScriptedModelError",
    "ServiceUnavailableError",
    "SpecError",
    "StructuredOutputError",
    "ToolArgumentsError",
    "ToolCallError",
    "ToolError",
    "UnknownModelError",
    "UsageError",
]
