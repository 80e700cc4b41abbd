"""Real services for tests, on loopback, each stopped afterwards: a throw-away PostgreSQL server,
`chroma run`, and a local Ray cluster of two nodes (separate `ray start` processes)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from agentrun.agents.local import free_port

ROOT = Path(__file__).resolve().parents[1]


def binary(name: str) -> str | None:
    """A PostgreSQL program: on PATH, else in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def postgres_missing() -> str | None:
    """Why PostgreSQL cannot be started here (None: it can)."""
    try:
        import langgraph.checkpoint.postgres  # noqa: F401
    except ImportError:
        return "langgraph-checkpoint-postgres is not installed"
    if binary("initdb") is None or binary("postgres") is None:
        return "PostgreSQL is not installed (initdb/postgres not found)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser to start PostgreSQL"
    return None


def _stop(process: subprocess.Popen[bytes], group: bool = False) -> None:
    """SIGTERM (to its process group when it has its own), then SIGKILL."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL) if group else process.kill()
        process.wait()


@dataclass
class PostgresServer:
    """A throw-away PostgreSQL server (trust auth, fsync off); `stop()` and `start()` again on
    the same port and data simulate an outage."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="agentrun-pg-")))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://agentrun@127.0.0.1:{self.port}/postgres"

    def _as_user(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def init(self) -> PostgresServer:
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.folder, "postgres")
        initdb = binary("initdb")
        assert initdb is not None
        subprocess.run([*self._as_user(), initdb, "-D", str(self.folder / "data"), "-U",
                        "agentrun", "--auth=trust"], check=True, capture_output=True,
                       timeout=120)  # fmt: skip
        return self.start()

    def start(self) -> PostgresServer:
        postgres = binary("postgres")
        assert postgres is not None
        self.process = subprocess.Popen(
            [*self._as_user(), postgres, "-D", str(self.folder / "data"), "-p", str(self.port),
             "-k", str(self.folder), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=1).close()
                return self
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server at once (PostgreSQL's fast shutdown: SIGINT to the postmaster, which
        disconnects its clients) and wait until it is gone, so that it can start again."""
        pid_file = self.folder / "data" / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
        if self.process is not None:
            _stop(self.process)  # runuser ends with the postmaster
            self.process = None
        deadline = time.monotonic() + 20
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[PostgresServer]:
    """A new PostgreSQL server, removed afterwards; the test is skipped where none can start."""
    import pytest

    why = postgres_missing()
    if why is not None:
        pytest.skip(why)
    server = PostgresServer().init()
    try:
        yield server
    finally:
        server.remove()


def chroma_executable() -> str | None:
    beside = Path(sys.executable).with_name("chroma")
    return str(beside) if beside.exists() else shutil.which("chroma")


@dataclass
class ChromaServer:
    """`chroma run` on a free loopback port; `stop()` and `start()` again keep its data."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ChromaServer:
        executable = chroma_executable()
        assert executable is not None
        log = (self.folder / "server.log").open("ab")
        self.process = subprocess.Popen(
            [executable, "run", "--path", str(self.folder / "db"), "--host", "127.0.0.1",
             "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chroma run did not start; see {self.folder / 'server.log'}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
            self.process = None


def ray_executable() -> str | None:
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.exists() else shutil.which("ray")


@dataclass
class RayCluster:
    """A head and a second node, each a `ray start --block` process in its own process group
        (so that stopping or killing one takes its raylet and workers with it), sized small: one
        CPU and a 80 MB object store each, no dashboard. Workers import agentrun from this tree, and
    read model keys from the nodes' environment, as on a real cluster."""

    folder: Path
    #: Variables the nodes (and so the workers) get besides this process's environment.
    env: dict[str, str] = field(default_factory=dict)
    #: CPUs each node offers Ray (runners take none; they only need a place).
    cpus: int = 1
    port: int = field(default_factory=free_port)
    head: subprocess.Popen[bytes] | None = None
    second: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).strip(":")
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        return env

    def _start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        executable = ray_executable()
        assert executable is not None
        log = (self.folder / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [executable, "start", "--block", f"--num-cpus={self.cpus}",
             "--object-store-memory=80000000",
             "--node-ip-address=127.0.0.1", "--disable-usage-stats", *args],
            stdout=log, stderr=subprocess.STDOUT, env=self._env(), start_new_session=True,
        )  # fmt: skip
        log.close()
        return process

    def start(self, nodes: int = 2) -> RayCluster:
        # Nodes lost are noticed within seconds (the defaults take about half a minute).
        config = '{"health_check_period_ms": 500, "health_check_failure_threshold": 4}'
        self.head = self._start("head", [
            "--head", f"--port={self.port}", "--include-dashboard=false",
            f"--temp-dir={self.folder / 'ray'}", f"--system-config={config}",
        ])  # fmt: skip
        self._wait_for_nodes(1)
        if nodes > 1:
            self.start_second()
        return self

    def start_second(self) -> None:
        self.second = self._start("second", [f"--address={self.address}"])
        self._wait_for_nodes(2)

    def kill_second(self) -> None:
        """Kill the second node outright, raylet and workers (which run in process groups of
        their own), as a lost machine."""
        assert self.second is not None
        doomed = descendants(self.second.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.second.pid, signal.SIGKILL)
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.second.wait()

    def _wait_for_nodes(self, count: int) -> None:
        script = (
            "import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR', "
            "log_to_driver=False); print(sum(1 for n in ray.nodes() if n['Alive']))"
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            found = subprocess.run([sys.executable, "-c", script, self.address],
                                   capture_output=True, text=True, timeout=60,
                                   env=self._env())  # fmt: skip
            if found.returncode == 0 and found.stdout.strip().splitlines()[-1:] == [str(count)]:
                return
            time.sleep(1)
        raise RuntimeError(f"the Ray cluster did not reach {count} nodes; see {self.folder}")

    def stop(self) -> None:
        """SIGTERM each node's process group, and after a few seconds SIGKILL whatever of it
        is left, workers (in groups of their own) included."""
        nodes = [p for p in (self.second, self.head) if p is not None and p.poll() is None]
        spawned = [child for node in nodes for child in descendants(node.pid)]
        for node in nodes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGTERM)
        for node in nodes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.wait(timeout=5)
        for node in nodes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGKILL)
            node.wait()
        for pid in spawned:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def processes(self, title: str) -> list[int]:
        """Ids of this cluster's processes whose title starts with `title` (`ray::Runner`)."""
        ours = [p.pid for p in (self.head, self.second) if p is not None and p.poll() is None]
        found = []
        for pid in [child for node in ours for child in descendants(node)]:
            with contextlib.suppress(OSError):
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
                if command.startswith(title):
                    found.append(pid)
        return found


def descendants(root: int) -> list[int]:
    """The processes `root` started, and theirs, whatever their process group."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
