"""Whether the database answers, as this process last saw it; the source of the outage log.

Every unit of work reports its outcome here: the first failure that makes the database
unreachable logs one WARNING, the first success after it one INFO with the outage's length,
and nothing is logged in between however many requests fail.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

log = logging.getLogger("hvsim.store")


@dataclass(frozen=True)
class HealthSnapshot:
    reachable: bool
    since: datetime  # when the current state (reachable or not) began
    last_error: str | None  # the short text of the latest failure, if any
    outages: int  # outages seen since the process started
    failed_requests: int  # failures during the current (or latest) outage


class StoreHealth:
    """Thread-safe up/down state of one store; cheap to call on every request when up."""

    def __init__(self, where: str) -> None:
        self.where = where
        self._lock = threading.Lock()
        self._down = False  # read without the lock on the hot path; written under it
        self._since = datetime.now(UTC)
        self._since_monotonic = time.monotonic()
        self._last_error: str | None = None
        self._outages = 0
        self._failed = 0

    def failed(self, reason: str) -> None:
        """The database could not be reached (or dropped the connection)."""
        with self._lock:
            self._last_error = reason
            self._failed += 1
            if self._down:
                return
            self._down = True
            self._outages += 1
            self._failed = 1
            self._since = datetime.now(UTC)
            self._since_monotonic = time.monotonic()
        log.warning("database %s is unavailable: %s; requests that need it fail until it is "
                    "back", self.where, reason)

    def succeeded(self) -> None:
        """A unit of work reached the database and finished."""
        if not self._down:
            return
        with self._lock:
            if not self._down:
                return
            self._down = False
            length = time.monotonic() - self._since_monotonic
            failed = self._failed
            self._since = datetime.now(UTC)
            self._since_monotonic = time.monotonic()
        log.info("database %s is reachable again after %.1f s (%d failed attempt%s)",
                 self.where, length, failed, "" if failed == 1 else "s")

    def waited_too_long(self, operation: str, explanation: str) -> None:
        """A bounded wait ran out: the database answers, but something held it up."""
        with self._lock:
            self._last_error = explanation
        log.warning("%s: %s", operation, explanation)

    def snapshot(self) -> HealthSnapshot:
        with self._lock:
            return HealthSnapshot(not self._down, self._since, self._last_error,
                                  self._outages, self._failed)
