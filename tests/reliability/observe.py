"""What the hostile-input tests watch while they attack a server: its memory, and how long a
well-behaved client (a bystander polling GetInstance) waits meanwhile."""

from __future__ import annotations

import multiprocessing
import statistics
import subprocess
import time
from functools import cache
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as ProcessEvent
from queue import Empty
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


def _poll(base_url: str, pause: float, samples: Queue[tuple[float, float]], errors: Queue[str],
          stop: ProcessEvent) -> None:
    """The bystander's loop, in a process of its own (see Bystander)."""
    import pywbem

    conn = wbem_connection(base_url, timeout=60)
    path = pywbem.CIMInstanceName(
        "Msvm_ComputerSystem", {"CreationClassName": "Msvm_ComputerSystem", "Name": WEB01},
        namespace="root/virtualization/v2")
    while not stop.is_set():
        sent = time.monotonic()
        try:
            conn.GetInstance(path)
        except Exception as error:
            errors.put(f"{type(error).__name__}: {error}")
        samples.put((sent, time.monotonic() - sent))
        stop.wait(pause)


class Bystander:
    """A client polling GetInstance of one VM every `pause` seconds; records the latency of each
    call from the moment it was sent.

    It runs in a process of its own: as a thread of the test process it would also measure the
    test's own work (building and sending multi-megabyte bodies holds this interpreter's lock),
    not only the server's. time.monotonic() is one clock for every process on Linux.
    """

    def __init__(self, base_url: str, pause: float = 0.01) -> None:
        context = multiprocessing.get_context("spawn")
        self._samples = context.Queue()
        self._errors = context.Queue()
        self._stop = context.Event()
        self._process = context.Process(
            target=_poll, args=(base_url, pause, self._samples, self._errors, self._stop),
            name="bystander", daemon=True)
        self.samples: list[tuple[float, float]] = []  # (sent at, seconds taken)
        self.errors: list[str] = []

    def _drain(self) -> None:
        for queue, into in ((self._samples, self.samples), (self._errors, self.errors)):
            while True:
                try:
                    into.append(queue.get_nowait())
                except Empty:
                    break

    def __enter__(self) -> Bystander:
        self._process.start()
        deadline = time.monotonic() + 60
        while len(self.samples) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
            self._drain()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._process.join(timeout=120)
        self._drain()

    def since(self, moment: float) -> list[float]:
        """Latencies of the calls running at or sent after `moment`, once at least one call
        sent after now has finished (so a quick attack still gets a sample)."""
        now = time.monotonic()
        deadline = now + 120
        self._drain()
        while not any(sent >= now for sent, _took in self.samples):
            if time.monotonic() > deadline or not self._process.is_alive():
                break
            time.sleep(0.005)
            self._drain()
        return [took for sent, took in self.samples if sent + took >= moment]

    @staticmethod
    def describe(latencies: list[float]) -> str:
        if not latencies:
            return "no samples"
        return (f"{len(latencies)} calls, median {statistics.median(latencies) * 1000:.1f} ms, "
                f"max {max(latencies) * 1000:.1f} ms")
