"""The WS-Management operations: an explicit table from action URI to handler.

Each handler reads the request's body, calls the dispatcher and returns the reply's action and
body. CIM errors travel up as `pywbem.CIMError` and are translated by the endpoint, in one place.
"""

from __future__ import annotations

from collections.abc import Callable

from emulator.wsman import xmlns
from emulator.wsman.call import (
    MAX_ENVELOPE_BYTES,
    MAX_ENVELOPE_KB,
    Call,
    Reply,
    check_limits,
    resource_of,
)
from emulator.wsman.enumerating import enumerate_, pull, release
from emulator.wsman.faults import ACTION_NOT_SUPPORTED, WsmanFault
from emulator.wsman.invoking import invoke
from emulator.wsman.transfer import create, delete, get, identify, put

__all__ = ["MAX_ENVELOPE_BYTES", "MAX_ENVELOPE_KB", "OPERATIONS", "Call", "Reply", "check_limits",
           "identify", "run"]


OPERATIONS: dict[str, Callable[[Call], Reply]] = {
    xmlns.GET: get,
    xmlns.PUT: put,
    xmlns.CREATE: create,
    xmlns.DELETE: delete,
    xmlns.ENUMERATE: enumerate_,
    xmlns.PULL: pull,
    xmlns.RELEASE: release,
}
# WS-Transfer and WS-Enumeration actions that exist but that this service does not offer.
UNSUPPORTED = frozenset({xmlns.RENEW, xmlns.GET_STATUS,
                         "http://schemas.xmlsoap.org/ws/2004/08/eventing/Subscribe"})


def run(call: Call) -> Reply:
    action = call.request.action
    handler = OPERATIONS.get(action)
    if handler is not None:
        return handler(call)
    if action in UNSUPPORTED or action.startswith((xmlns.TRANSFER, xmlns.ENUMERATION)):
        resource_of(call)
        raise WsmanFault(ACTION_NOT_SUPPORTED, f"{ACTION_NOT_SUPPORTED.message} ({action})")
    # Anything else is an extrinsic method (or a shell action, refused by the resource URI).
    return invoke(call)

