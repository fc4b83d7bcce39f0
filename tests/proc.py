"""Start the project's commands as real processes in tests (see ``subnet.procs``) and pick free ports."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path

from subnet.procs import Child, command_path


def free_port() -> int:
    """A loopback port that was free a moment ago (for processes that must keep their port across restarts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc(Child):
    """A ``Child`` named after its command, with the READY address as ``endpoint``."""

    def __init__(self, argv: Sequence[str], *, env: dict[str, str] | None = None, log_path: Path | None = None,
                 cwd: Path | None = None) -> None:
        super().__init__(Path(argv[0]).name, argv, env=env, log_path=log_path, cwd=cwd)

    @property
    def endpoint(self) -> str:
        return self.address

    def output(self) -> str:
        return self.tail(60)


def command(name: str) -> str:
    return command_path(name)
