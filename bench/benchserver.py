"""The `hvsim serve` process a benchmark measures, and its CPU time per operation.

Imported by the bench scripts, which run with bench/ first on sys.path.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def has_request_log_flag(root: Path) -> bool:
    """Whether the hvsim at `root` has `serve --request-log` (an older checkout may not)."""
    help_text = subprocess.run([sys.executable, "-m", "emulator", "serve", "--help"], cwd=root,
                               capture_output=True, text=True, check=False).stdout
    return "--request-log" in help_text


class BenchServer:
    """One server with a fresh SQLite database in `workdir` (or the given `database` URL);
    `options` are extra CLI flags. `root` is the checkout whose code runs (default: this one),
    so a benchmark can measure an older version of hvsim from another worktree."""

    def __init__(self, workdir: Path, options: list[str], *, startup_seconds: float,
                 database: str | None = None, root: Path = ROOT,
                 log_level: str = "warning") -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.endpoints_file = workdir / "endpoints.json"
        self.log_path = workdir / "server.log"
        self.log = self.log_path.open("w")
        # Benchmarks measure serving, not the request log (on by default in hvsim serve).
        quiet = ["--request-log", "off"] if has_request_log_flag(root) else []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "emulator", "serve", *options, *quiet,
             "--database", database or f"sqlite:///{workdir / 'bench.db'}", "--port", "0",
             "--endpoints-file", str(self.endpoints_file), "--log-level", log_level],
            # `python -m` puts the working directory first on sys.path: root's code runs.
            cwd=root, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + startup_seconds
        while not self.endpoints_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start; see {workdir / 'server.log'}")
            time.sleep(0.1)
        self.urls: dict[str, str] = json.loads(self.endpoints_file.read_text())
        self.url = self.urls["HV-01"]
        self.port = int(self.url.rsplit(":", 1)[1])
        self.ps = psutil.Process(self.process.pid)

    def cpu_seconds(self) -> float:
        """User + system time of the server's process tree so far."""
        total = 0.0
        for proc in [self.ps, *self.ps.children(recursive=True)]:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def rss_bytes(self) -> int:
        """Resident memory of the server's process tree."""
        total = 0
        for proc in [self.ps, *self.ps.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def measure(server: BenchServer, operations: int, run: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, server CPU ms per operation) of run()."""
    cpu = server.cpu_seconds()
    start = time.perf_counter()
    run()
    wall = time.perf_counter() - start
    return wall, (server.cpu_seconds() - cpu) * 1000 / operations
