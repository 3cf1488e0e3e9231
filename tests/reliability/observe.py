"""What the hostile-input tests watch while they attack a server: its memory, and how long a
well-behaved client (a bystander polling GetInstance) waits meanwhile."""

from __future__ import annotations

import statistics
import subprocess
import threading
import time
from functools import cache
from types import TracebackType

import psutil

from tests.support.server import PROJECT_ROOT, SERVE_COMMAND, wbem_connection

WEB01 = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"
MB = 1024 * 1024


def rss_bytes(pid: int) -> int:
    """Resident memory of a server process and anything it forked."""
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


@cache
def serve_supports(flag: str) -> bool:
    """Whether this tree's `hvsim serve` knows a flag (for limits that came after a test)."""
    result = subprocess.run([*SERVE_COMMAND, "--help"], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, timeout=60, check=False)
    return flag in result.stdout


class Bystander:
    """A client polling GetInstance of one VM every `pause` seconds in a thread; records the
    latency of each call from the moment it was sent."""

    def __init__(self, base_url: str, pause: float = 0.01) -> None:
        import pywbem

        self.conn = wbem_connection(base_url, timeout=60)
        self.path = pywbem.CIMInstanceName(
            "Msvm_ComputerSystem", {"CreationClassName": "Msvm_ComputerSystem", "Name": WEB01},
            namespace="root/virtualization/v2")
        self.pause = pause
        self.samples: list[tuple[float, float]] = []  # (sent at, seconds taken)
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bystander", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            sent = time.monotonic()
            try:
                self.conn.GetInstance(self.path)
            except Exception as error:
                self.errors.append(f"{type(error).__name__}: {error}")
            self.samples.append((sent, time.monotonic() - sent))
            self._stop.wait(self.pause)

    def __enter__(self) -> Bystander:
        self._thread.start()
        deadline = time.monotonic() + 10
        while len(self.samples) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=120)

    def since(self, moment: float) -> list[float]:
        """Latencies of the calls running at or sent after `moment`, once at least one call
        sent after now has finished (so a quick attack still gets a sample)."""
        now = time.monotonic()
        deadline = now + 120
        while not any(sent >= now for sent, _took in list(self.samples)):
            if time.monotonic() > deadline or not self._thread.is_alive():
                break
            time.sleep(0.005)
        return [took for sent, took in list(self.samples) if sent + took >= moment]

    @staticmethod
    def describe(latencies: list[float]) -> str:
        if not latencies:
            return "no samples"
        return (f"{len(latencies)} calls, median {statistics.median(latencies) * 1000:.1f} ms, "
                f"max {max(latencies) * 1000:.1f} ms")
