"""Extrinsic method calls: checked against the declaration, typed, run by the class's method
provider in the process's write turn, and typed again for the wire."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pywbem import CIM_ERR_NOT_SUPPORTED, CIMClassName, CIMError, CIMInstanceName

from emulator.core.catalog import Catalog
from emulator.core.faults import FaultRules
from emulator.core.method_params import MethodOutcome, coerce_inputs, finish_call
from emulator.core.registry import ProviderRegistry
from emulator.core.results import not_found
from emulator.core.transactions import Transactions
from emulator.core.validation import Validation
from providers.base import MethodCall, MethodProvider, MethodResult, Scope
from storage.errors import StaleWrite


class MethodCalls:
    def __init__(self, catalog: Catalog, validation: Validation, registry: ProviderRegistry,
                 transactions: Transactions, unsupported: MethodProvider | None = None) -> None:
        self.catalog = catalog
        self.unsupported = unsupported
        self.validation = validation
        self.registry = registry
        self.transactions = transactions

    def invoke(self, scope: Scope, target: CIMInstanceName | CIMClassName, method: str,
               params: Mapping[str, Any]) -> MethodOutcome:
        """Scope already validated; everything else is checked here."""
        klass, declaration = self.validation.method(scope, target, method, params)
        typed = coerce_inputs(self.catalog, scope, declaration, params)
        provider = self.registry.method_provider(scope, klass.classname)
        if provider is None or not provider.handles(declaration.name):
            provider = self.unsupported
        if provider is None:
            raise CIMError(CIM_ERR_NOT_SUPPORTED,
                           f"{klass.classname}.{declaration.name} is not supported")
        forced = FaultRules.forced_return_code()
        if forced is not None:
            # A fault rule answers for the method: nothing runs, the code comes back at once.
            return finish_call(self.catalog, scope, declaration, scope.host,
                               MethodResult(forced, {}))
        call = MethodCall(scope, target, declaration.name, typed)
        # A write that lost a race with another process runs once more on the new state.
        for attempt in (1, 2):
            try:
                result = self._run(provider, scope, target, call)
                break
            except StaleWrite:
                if attempt == 2:
                    raise
        return finish_call(self.catalog, scope, declaration, scope.host, result)

    def _run(self, provider: MethodProvider, scope: Scope,
             target: CIMInstanceName | CIMClassName, call: MethodCall) -> MethodResult:
        with self.transactions.writing() as (uow, ctx):
            if isinstance(target, CIMInstanceName) and \
                    self.registry.resolve(ctx, scope, target) is None:
                raise not_found(target, scope)
            result = provider.invoke(ctx, call)
            uow.commit()
        return result
