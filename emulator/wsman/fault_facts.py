"""What fault rules may match in a WS-Management request (see emulator.core.faults)."""

from __future__ import annotations

from emulator.core.faults import RequestFacts
from emulator.wsman.envelope import Request


def request_facts(host: str, request: Request, user: str | None) -> RequestFacts:
    """What fault rules may match in a WS-Management request: the action's name, and for
    Invoke the method's; the class is the resource URI's last segment."""
    action = request.action.rpartition("/")[2]
    names = (action,) if action.lower() in _ACTION_NAMES else ("Invoke", action)
    uri = (request.resource_uri or "").split("?", 1)[0]
    classname = uri.rpartition("/")[2] or None if uri else None
    return RequestFacts("wsman", host, names, classname, user)


_ACTION_NAMES = frozenset({"get", "put", "create", "delete", "enumerate", "pull", "release",
                           "getstatus", "renew", "subscribe", "unsubscribe"})
