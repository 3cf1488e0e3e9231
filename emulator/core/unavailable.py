"""The one CIM error that means "the server cannot serve this now; retrying later may work".

Raised by the dispatcher when the state store is unreachable or a database wait passed its
bound; each front end translates it once, in its own terms (CIM-XML: CIM_ERR_FAILED with this
description; WS-Management: the fault WinRM gives for a provider that cannot answer, or
w:TimedOut when the wait ran out).
"""

from __future__ import annotations

from pywbem import CIM_ERR_FAILED, CIMError


class ServiceUnavailable(CIMError):
    """`timed_out` is set when a bounded wait (lock, statement, connect) expired."""

    def __init__(self, description: str, *, timed_out: bool = False) -> None:
        super().__init__(CIM_ERR_FAILED, description)
        self.timed_out = timed_out
