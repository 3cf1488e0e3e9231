"""The preamble every method provider shares: find the target, pick the handler, answer refusals.

A provider lists one handler per method (names compared case-insensitively, as WMI's are) and
says how to find the object a call runs on; the dispatcher has already checked that the object
exists. A declared method without a handler is not routed here: the dispatcher answers it with
the method's own "Not Supported" (providers.unsupported). A `Refused` raised anywhere in a
handler becomes the method's return value, logged once here.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Mapping
from typing import ClassVar, Generic, TypeAlias, TypeVar

from pywbem import CIMInstanceName

from providers import world
from providers.base import (
    MethodCall,
    MethodProvider,
    MethodResult,
    ProviderContext,
    Refused,
    key_value,
)
from storage.models import Host

Target = TypeVar("Target")
Handler: TypeAlias = Callable[[ProviderContext, MethodCall, Target], MethodResult]


class MethodTable(MethodProvider, Generic[Target]):
    """Methods answered through a table of handlers, each given the object the call runs on."""

    log: ClassVar[logging.Logger] = logging.getLogger("hvsim.methods")

    def __init__(self, handlers: Mapping[str, Handler[Target]]) -> None:
        self._handlers = {name.lower(): handler for name, handler in handlers.items()}

    @abc.abstractmethod
    def target(self, ctx: ProviderContext, call: MethodCall) -> Target:
        """The stored object the call runs on (the dispatcher resolved its path already)."""

    @abc.abstractmethod
    def describe(self, target: Target) -> str:
        """How the log names the object, e.g. a host's name."""

    def handles(self, method: str) -> bool:
        return method.lower() in self._handlers

    def invoke(self, ctx: ProviderContext, call: MethodCall) -> MethodResult:
        handler = self._handlers.get(call.method.lower())
        if handler is None:
            raise LookupError(f"{type(self).__name__} has no handler for {call.method}; the "
                              "dispatcher answers such methods as not supported")
        target = self.target(ctx, call)
        try:
            return handler(ctx, call, target)
        except Refused as refusal:
            self.log.info("%s on %s returned %d: %s", call.method, self.describe(target),
                          refusal.code, refusal)
            return MethodResult(refusal.code, {})


class HostServiceMethods(MethodTable[Host]):
    """Methods of a service that one host runs; its SystemName key names the host."""

    def target(self, ctx: ProviderContext, call: MethodCall) -> Host:
        assert isinstance(call.target, CIMInstanceName)
        name = str(key_value(call.target.keybindings, "SystemName"))
        row = world.host_named(ctx, name)
        assert row is not None  # the dispatcher resolved the target instance
        host = ctx.uow.hosts.get(row.id)
        assert host is not None
        return host

    def describe(self, target: Host) -> str:
        return target.name
