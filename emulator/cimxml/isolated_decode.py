"""Large CIM-XML requests are decoded in a child process.

Decoding runs pywbem's SAX parser: expat holds the interpreter lock for a whole start tag or
attribute, so a 15 MB attribute or a tag with 300,000 attributes would stall every thread of
the server for up to a second. In a child process it costs other clients nothing but a share
of the CPU; the result comes back pickled (pywbem's objects pickle). Real clients' requests
are far below the threshold, so the hop is paid only by unusual ones.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from emulator.cimxml.request import CimRequest, CimXmlHttpError, decode

log = logging.getLogger("hvsim.cimxml")
# Bodies above this are decoded in the child; below it, the work is a few milliseconds.
ISOLATED_REQUEST_BYTES = 16 * 1024
# A child is replaced after this many requests, so what its allocator keeps stays bounded.
TASKS_PER_CHILD = 64

# CIM-XML attributes hold names, types and message IDs; a longer value is an attack, and would
# be echoed back (in errors) at a cost every other client pays for.
MAX_ATTRIBUTE_BYTES = 64 * 1024
# Inside a tag (after "<", before any ">"), a quoted value of that length; element content
# cannot match, as it follows a ">".
_LONG_ATTRIBUTE = re.compile(rb"""<[^>]*?=\s*(?:"[^"<]{%d}|'[^'<]{%d})""" % (
    MAX_ATTRIBUTE_BYTES, MAX_ATTRIBUTE_BYTES))

Refusal = tuple[int, str, str]


def decode_or_refusal(body: bytes, method: str, cim_object: str) -> CimRequest | Refusal:
    """Runs in the child: a refusal travels as a tuple (the exception's own pickling would
    lose its status and CIMError header)."""
    if _LONG_ATTRIBUTE.search(body):
        return (400, "request-not-valid",
                f"an XML attribute value is longer than {MAX_ATTRIBUTE_BYTES} bytes")
    try:
        return decode(body, method, cim_object)
    except CimXmlHttpError as error:
        return error.status, error.cim_error, error.detail


def exit_with_parent(parent: int) -> None:
    """Runs in the child at start: a worker whose server is gone (even killed) exits too;
    the pool's own queues would keep it waiting."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class IsolatedDecoder:
    def __init__(self, workers: int = 1) -> None:
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()  # both heavy workers may ask for the pool at once

    def pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # "spawn": the server has threads, which a forked child must not inherit.
                self._pool = ProcessPoolExecutor(
                    self._workers, mp_context=multiprocessing.get_context("spawn"),
                    max_tasks_per_child=TASKS_PER_CHILD, initializer=exit_with_parent,
                    initargs=(os.getpid(),))
            return self._pool

    def decode(self, body: bytes, method: str, cim_object: str) -> CimRequest:
        """Blocking (call it from a worker thread); raises CimXmlHttpError as `decode` does."""
        try:
            outcome = self.pool().submit(decode_or_refusal, body, method, cim_object).result()
        except BrokenProcessPool:
            # The child died on this request (memory, a crash in the parser): a new pool
            # serves the next one.
            log.warning("the CIM-XML decoding process died on a %d-byte request; restarted",
                        len(body))
            self.shutdown()
            raise CimXmlHttpError(400, "request-not-valid",
                                  "the request could not be decoded") from None
        if isinstance(outcome, tuple):
            raise CimXmlHttpError(*outcome)
        return outcome

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
