"""A real ``snp serve`` process for tests: started on a free 127.0.0.1 port with
its own ``SNP_*`` environment, stopped (or SIGKILLed) as a whole process group.

uvicorn's workers are children of the master; killing the master alone would
leave them serving. The server runs in its own session so that a stop or a
kill reaches every process it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SNP = Path(sys.executable).parent / "snp"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    database_url: str
    log_path: Path
    workers: int = 2
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        """Start ``snp serve`` and wait until /healthz answers 200 (bounded)."""
        assert self.process is None, "already running"
        env = os.environ | self.env | {"SNP_DATABASE_URL": self.database_url}
        # Append: one log across restarts, read by the tests for tracebacks.
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [str(SNP), "serve", "--port", str(self.port), "--workers", str(self.workers)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"snp serve exited with {self.process.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"snp serve did not answer within {timeout}s: {self.log()}")
            time.sleep(0.1)

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """SIGKILL the master and every worker at once (a crash, not a shutdown)."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=15)
        self._wait_group_gone()
        self.process = None

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM (graceful), then SIGKILL whatever is left after ``grace`` seconds."""
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace)
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=15)
        self._wait_group_gone()
        self.process = None

    def _wait_group_gone(self, timeout: float = 10.0) -> None:
        """Workers may outlive the master by a moment: wait until the group is empty."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        self._signal_group(signal.SIGKILL)

    def log(self, tail: int = 4000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-tail:]

    def unexpected_errors(self) -> list[str]:
        """Lines of the log reporting a 500 (``api.problems``) or an uncaught traceback."""
        if not self.log_path.exists():
            return []
        return [
            line
            for line in self.log_path.read_text(errors="replace").splitlines()
            if "unexpected error" in line or line.startswith("Traceback (most recent call last)")
        ]
