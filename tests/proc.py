"""Start the project's commands as real processes in tests, wait for their READY line, and stop them by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A loopback port that was free a moment ago (for processes that must keep their port across restarts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process whose output is collected in the background (so a full pipe never blocks it)."""

    def __init__(self, argv: Sequence[str], *, env: dict[str, str] | None = None, log_path: Path | None = None) -> None:
        full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
        self.argv = list(argv)
        self.lines: list[str] = []
        self._ready = threading.Event()
        self.ready_line = ""
        self._log = open(log_path, "a") if log_path else None  # noqa: SIM115 (closed in stop)
        self.popen = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      env=full_env, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))
            if self._log:
                self._log.write(line)
                self._log.flush()
            if line.startswith("READY ") and not self._ready.is_set():
                self.ready_line = line.strip()
                self._ready.set()

    def wait_ready(self, timeout_s: float = 60.0) -> str:
        deadline = time.monotonic() + timeout_s
        while not self._ready.wait(0.05):
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {self.popen.returncode}:\n" + self.output())
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.argv[0]} not ready after {timeout_s}s:\n" + self.output())
        return self.ready_line

    @property
    def endpoint(self) -> str:
        """The host:port of the READY line (``READY <role> host:port ...``)."""
        return self.ready_line.split()[2]

    def output(self) -> str:
        return "\n".join(self.lines[-60:])

    def kill(self) -> None:
        """SIGKILL, no cleanup: a crash."""
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.popen.wait(10)
        self._reader.join(5)

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM and wait; SIGKILL if it does not exit in time. Returns the exit code."""
        if self.popen.poll() is None:
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


def command(name: str) -> str:
    """Path of one of the project's console scripts in this venv."""
    return str(BIN / name)
