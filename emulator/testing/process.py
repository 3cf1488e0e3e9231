"""One `hvsim serve` child process: started on free ports, ready when its endpoints answer,
stopped with its whole process group.

`hvsim serve --port 0 --endpoints-file F` writes F (host -> base URL) only once every listener
accepts connections, so the file's appearance is the readiness signal; the process's output
goes to a log file that every start error quotes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import emulator


def serve_command() -> list[str]:
    """`hvsim serve` with the interpreter and the hvsim code of this process."""
    return [sys.executable, "-m", "emulator", "serve"]


def child_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for the child: this process's hvsim code first on its path (a checkout
    run without installing imports the same code), unbuffered output so that a crash's last
    words reach the log."""
    env = dict(os.environ if base is None else base)
    code_root = str(Path(emulator.__file__).resolve().parent.parent)
    paths = [code_root, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONUNBUFFERED"] = "1"
    return env


class StartError(RuntimeError):
    """The server exited, or did not become ready in time; the message carries its log."""


class ServerProcess:
    """`argv` run in `cwd`, output to `log_path`; ready once `endpoints_file` lists hosts that
    accept connections."""

    def __init__(self, argv: Sequence[str], *, cwd: Path, endpoints_file: Path,
                 log_path: Path, env: Mapping[str, str], startup_timeout: float,
                 stop_timeout: float = 10.0) -> None:
        self.argv = list(argv)
        self.cwd = cwd
        self.endpoints_file = endpoints_file
        self.log_path = log_path
        self.env = dict(env)
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def returncode(self) -> int | None:
        """None while running (or never started); a negative signal number if killed."""
        return None if self._process is None else self._process.poll()

    def start(self) -> dict[str, str]:
        """Start the process and wait until it serves; its endpoints (host -> base URL)."""
        # A stale file from an earlier run in the same directory would look like readiness.
        self.endpoints_file.unlink(missing_ok=True)
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        try:
            self._process = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                stdout=self._log_file, stderr=subprocess.STDOUT,
                # Its own process group: stop() reaches anything it forks, and a Ctrl-C meant
                # for the caller does not kill the server before the caller can stop it.
                start_new_session=True)
        except OSError as error:
            self.stop()
            raise StartError(f"cannot run {' '.join(self.argv)}: {error}") from None
        try:
            return self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self) -> dict[str, str]:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            returncode = self._process.poll()
            if returncode is not None:
                raise self.start_error(f"hvsim serve exited with {returncode} before it was "
                                       "ready")
            endpoints = self._read_endpoints()
            # The file appears only once every listener is up; checking anyway turns a server
            # bug here into a clear start error rather than a flaky first request.
            if endpoints and all(_accepts_connections(url) for url in endpoints.values()):
                return endpoints
            if time.monotonic() > deadline:
                state = "present" if self.endpoints_file.exists() else "absent"
                raise self.start_error(f"hvsim serve not ready after {self.startup_timeout:g} s "
                                       f"(endpoints file {self.endpoints_file}: {state})")
            time.sleep(0.1)

    def start_error(self, reason: str) -> StartError:
        return StartError(f"{reason}\ncommand: {' '.join(self.argv)}\n"
                          f"--- server log ---\n{self.log_text()}")

    def _read_endpoints(self) -> dict[str, str] | None:
        try:
            data = json.loads(self.endpoints_file.read_text())
        except (OSError, ValueError):
            return None  # absent, or caught half-written: poll again
        if not isinstance(data, dict) or not data or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            return None
        return {host: url.rstrip("/") for host, url in data.items()}

    def stop(self) -> None:
        """SIGTERM, `stop_timeout` seconds of grace, then SIGKILL. Idempotent."""
        process = self._process
        if process is not None and process.returncode is None:
            self._signal_group(signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                process.wait(timeout=10)
        if process is not None:
            self._signal_group(signal.SIGKILL)  # anything it forked dies with it
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _signal_group(self, signum: int) -> None:
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signum)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def _accepts_connections(base_url: str) -> bool:
    parts = urlsplit(base_url)
    if not parts.hostname:
        return False
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=1):
            return True
    except OSError:
        return False
