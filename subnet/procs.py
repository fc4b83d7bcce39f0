"""Child processes that announce readiness with a ``READY <role> <address>`` line on stdout.

Every long-running command of the project (``subnet-chain``, ``subnet-miner``, ``subnet-validator``,
``subnet-demo``) prints that line once it serves. ``Child`` starts one, copies its output to a log file in the
background (so a full pipe never blocks it), waits for the line, and stops it by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path


class ChildFailed(RuntimeError):
    """A child exited or did not become ready in time; the message ends with its last output lines."""


def command_path(name: str) -> str:
    """Path of one of the project's console scripts, next to the running Python."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


class Child:
    def __init__(self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None,
                 log_path: Path | None = None, cwd: Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.lines: list[str] = []
        self.ready_line = ""
        self._ready = threading.Event()
        self._log = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115 (closed in stop)
        child_env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", **(env or {})}
        # A session of its own, so a Ctrl-C in the terminal reaches only the parent, which stops children in order.
        self.popen = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      env=child_env, start_new_session=True, cwd=cwd)
        self._reader = threading.Thread(target=self._read, name=f"read-{name}", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def address(self) -> str:
        """The third field of the READY line: host:port or a URL."""
        parts = self.ready_line.split()
        return parts[2] if len(parts) > 2 else ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))
            del self.lines[:-200]  # keep the tail only
            if self._log:
                self._log.write(line)
                self._log.flush()
            if line.startswith("READY ") and not self._ready.is_set():
                self.ready_line = line.strip()
                self._ready.set()

    def wait_ready(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while not self._ready.wait(0.05):
            if self.popen.poll() is not None:
                raise ChildFailed(f"{self.name} exited with code {self.popen.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise ChildFailed(f"{self.name} not ready after {timeout_s:.0f}s:\n{self.tail()}")
        return self.ready_line

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.lines[-n:])

    def kill(self) -> None:
        """SIGKILL: a crash, no cleanup."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.popen.wait(10)
        self._reader.join(5)

    def terminate(self) -> None:
        """Send SIGTERM without waiting (``stop`` then waits)."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM, then SIGKILL if it is still running after ``timeout_s``. Returns the exit code."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(10)
        self._reader.join(5)
        if self._log:
            self._log.close()
            self._log = None
        return self.popen.returncode
