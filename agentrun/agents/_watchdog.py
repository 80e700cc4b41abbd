"""Run a command as a child and stop it when this process's parent goes away.

The embedded llama.cpp server keeps computing for clients that are gone; if the Python process
that started it is killed outright (SIGKILL, no atexit), nothing would ever stop it. This small
supervisor sits between the two: it stops the server when its parent dies or when it is itself
asked to stop.

    python -m agentrun.agents._watchdog PARENT_PID COMMAND...
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType

POLL_S = 0.5


def main(argv: list[str]) -> int:
    parent, command = int(argv[0]), argv[1:]
    child = subprocess.Popen(command)

    def stop(signum: int, frame: FrameType | None) -> None:
        child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while child.poll() is None:
        if os.getppid() != parent:
            child.terminate()
            break
        time.sleep(POLL_S)
    try:
        return child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
