"""The request log on disk: JSON lines, one record each, in a file bounded by rotation.

`JsonLinesLog` is the recorder's sink. Requests only queue a closure; one writer thread
builds the records (the front end's `describe`), serialises them and appends them in
batches, so the event loop never waits for the disk. When the file passes `max_bytes` it
becomes `<path>.1` (the previous `.1` is dropped) and a new file starts: the log never holds
more than about `max_bytes * (backups + 1)`. When the writer falls behind by `QUEUE_LIMIT`
requests, further records are dropped and counted rather than holding memory or the loop.

`read_records` and `follow` read a log back, old file first, for the control API and the
`hvsim log`, `replay` and `conformance` commands.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from emulator.transport.request_log import (
    REQUEST_LOG,
    RequestRecord,
    emit,
    from_json,
    to_json,
)

log = logging.getLogger("hvsim")
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_BACKUPS = 1
QUEUE_LIMIT = 20_000
BATCH = 512

Make = Callable[[], RequestRecord | None]


class JsonLinesLog:
    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES,
                 backups: int = DEFAULT_BACKUPS) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.dropped = 0
        self.written = 0
        self._size = 0
        self._queue: queue.Queue[Make | threading.Event | None] = queue.Queue(QUEUE_LIMIT)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = self._open()
        self._thread = threading.Thread(target=self._run, name="request-log", daemon=True)
        self._thread.start()

    def _open(self) -> IO[str]:
        # Line-buffered appends: a reader (hvsim log --follow) never sees half a batch for
        # long, and another process appending to the same file cannot split a line.
        handle = open(self.path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self._size = handle.tell()
        return handle

    def submit(self, make: Make) -> None:
        try:
            self._queue.put_nowait(make)
        except queue.Full:
            self.dropped += 1

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every request submitted so far is on disk; False after `timeout`."""
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)
        self._file.close()

    def _run(self) -> None:
        running = True
        while running:
            batch = [self._queue.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            lines: list[str] = []
            waiters: list[threading.Event] = []
            debug = REQUEST_LOG.isEnabledFor(logging.DEBUG)
            for item in batch:
                if item is None:
                    running = False
                elif isinstance(item, threading.Event):
                    waiters.append(item)
                else:
                    record = item()
                    if record is None:
                        continue
                    if debug:
                        emit(record)
                    lines.append(to_json(record) + "\n")
            try:
                self._write(lines)
            except OSError as error:
                log.warning("request log %s: cannot write %d records: %s", self.path,
                            len(lines), error)
            for waiter in waiters:
                waiter.set()

    def _write(self, lines: list[str]) -> None:
        for line in lines:
            self._file.write(line)
            self.written += 1
            self._size += len(line)  # characters: close enough to bytes for a bound
            if self._size >= self.max_bytes:
                self._rotate()

    def _rotate(self) -> None:
        self._file.close()
        for index in range(self.backups, 0, -1):
            older = rotated(self.path, index)
            newer = rotated(self.path, index - 1)
            if newer.exists():
                os.replace(newer, older)
        self._file = self._open()


def rotated(path: Path, index: int) -> Path:
    return path if index == 0 else path.with_name(f"{path.name}.{index}")


def log_files(path: Path, backups: int = DEFAULT_BACKUPS) -> list[Path]:
    """The log's files, oldest first."""
    return [p for p in (rotated(path, i) for i in range(backups, -1, -1)) if p.exists()]


def parse_lines(lines: Iterator[str] | list[str]) -> Iterator[RequestRecord]:
    """Records from lines; a line cut short (a crash mid-write) or foreign is skipped."""
    for line in lines:
        if not line.strip():
            continue
        try:
            yield from_json(line)
        except ValueError:
            continue


def read_records(path: Path, *, since: float | None = None, client: str | None = None,
                 limit: int | None = None) -> list[RequestRecord]:
    """The records of the log at `path` (rotated files first) that began at or after `since`
    and come from `client` (see `matches_client`); the last `limit` of them."""
    if limit:
        return _last_records(path, since, client, limit)
    found: list[RequestRecord] = []
    for file in log_files(path):
        try:
            with open(file, encoding="utf-8", errors="replace") as text:
                for record in parse_lines(text):
                    if since is not None and record.time < since:
                        continue
                    if client and not matches_client(record, client):
                        continue
                    found.append(record)
        except OSError:
            continue
    return found[-limit:] if limit else found


def _last_records(path: Path, since: float | None, client: str | None,
                  limit: int) -> list[RequestRecord]:
    """As read_records, reading from the end: the dashboard asks for the newest few every
    couple of seconds, and parsing a whole 32 MB log for them would cost the server a core."""
    found: list[RequestRecord] = []
    for file in reversed(log_files(path)):
        try:
            for record in parse_lines(reversed_lines(file)):
                if since is not None and record.time < since:
                    continue
                if client and not matches_client(record, client):
                    continue
                found.append(record)
                if len(found) == limit:
                    return found[::-1]
        except OSError:
            continue
    return found[::-1]


def reversed_lines(path: Path, block: int = 1 << 16) -> Iterator[str]:
    """The file's lines, last first (a last line without its newline included)."""
    with open(path, "rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        tail = b""
        while position > 0:
            step = min(block, position)
            position -= step
            handle.seek(position)
            lines = (handle.read(step) + tail).split(b"\n")
            tail = lines.pop(0)  # may be cut: completed by the next block read
            for line in reversed(lines):
                yield line.decode("utf-8", "replace")
        yield tail.decode("utf-8", "replace")


def parse_time(text: str) -> float:
    """Seconds since the epoch, from themselves or an ISO 8601 time (local when it names no
    zone). Raises ValueError."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        # A "+" in a URL query arrives as a space.
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ValueError(f"{text!r} is neither seconds since the epoch nor an ISO 8601 "
                         "time") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.timestamp()


def matches_client(record: RequestRecord, client: str) -> bool:
    """`client` is a user name, an address, `address:port`, or part of the User-Agent."""
    wanted = client.lower()
    exact = (record.user, record.address, record.client)
    if any(value is not None and value.lower() == wanted for value in exact):
        return True
    return record.user_agent is not None and wanted in record.user_agent.lower()


def follow(path: Path, *, poll_seconds: float = 0.5,
           stop: Callable[[], bool] = lambda: False) -> Iterator[RequestRecord]:
    """Records appended to the log from now on, like `tail -f`, across rotations."""
    handle: IO[str] | None = None
    inode: int | None = None
    from_end = True  # the file there at the start is history; a rotated-in one is news
    pending = ""
    try:
        while not stop():
            if handle is None:
                try:
                    handle = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
                except OSError:
                    from_end = False
                    time.sleep(poll_seconds)
                    continue
                inode = os.fstat(handle.fileno()).st_ino
                if from_end:
                    handle.seek(0, os.SEEK_END)
            chunk = handle.read()
            if chunk:
                pending += chunk
                *complete, pending = pending.split("\n")
                yield from parse_lines(complete)
                continue
            try:
                current: int | None = os.stat(path).st_ino
            except OSError:
                current = None
            if current != inode:
                # Rotated: what the writer added before renaming is still in the old file.
                pending += handle.read()
                *complete, pending = pending.split("\n")
                yield from parse_lines(complete)
                handle.close()
                handle, pending, from_end = None, "", False
                continue
            time.sleep(poll_seconds)
    finally:
        if handle is not None:
            handle.close()
