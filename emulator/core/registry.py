"""Which provider serves which class: the tables, checked against the class model at start-up,
and the two questions every instance operation asks them (one instance, all instances)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from pywbem import CIMInstanceName

from emulator.core.catalog import Catalog
from emulator.core.results import noted
from providers.base import (
    AssociationProvider,
    InstanceProvider,
    MethodProvider,
    ProviderContext,
    Record,
    Scope,
    scan_references,
)

P = TypeVar("P", InstanceProvider, MethodProvider)


class ProviderRegistry:
    """Providers by (namespace, class), both lower-cased; the namespace as the catalog spells
    it. Lookups take a `Scope` and class names already validated against the catalog."""

    def __init__(self, catalog: Catalog, providers: Iterable[InstanceProvider],
                 methods: Iterable[MethodProvider]) -> None:
        self.catalog = catalog
        self._instances: dict[tuple[str, str], InstanceProvider] = self._table(providers)
        self._methods: dict[tuple[str, str], MethodProvider] = self._table(methods)

    def _table(self, providers: Iterable[P]) -> dict[tuple[str, str], P]:
        """Refuses a provider for a class or namespace the class model lacks: such a provider
        would answer for something no client can name."""
        table: dict[tuple[str, str], P] = {}
        for provider in providers:
            for namespace in provider.namespaces:
                for classname in provider.classnames:
                    served = self.catalog.canonical_namespace(namespace)
                    if served is None or not self.catalog.has_class(served, classname):
                        raise RuntimeError(f"{type(provider).__name__} serves {classname} in "
                                           f"{namespace}, which the class model lacks")
                    table[(served.lower(), classname.lower())] = provider
        return table

    def instance_provider(self, scope: Scope, classname: str) -> InstanceProvider | None:
        return self._instances.get((scope.namespace.lower(), classname.lower()))

    def method_provider(self, scope: Scope, classname: str) -> MethodProvider | None:
        return self._methods.get((scope.namespace.lower(), classname.lower()))

    def concrete_classes(self, scope: Scope, classname: str) -> list[str]:
        """Classes with a provider that are classname or derive from it."""
        names = [classname, *self.catalog.subclasses(scope.namespace, classname, deep=True)]
        return [n for n in names if (scope.namespace.lower(), n.lower()) in self._instances]

    def association_classes(self, scope: Scope, candidates: Iterable[str]) -> list[str]:
        """The candidates that are associations with a provider (of any kind)."""
        return [n for n in candidates
                if self.catalog.is_association(scope.namespace, n)
                and self.instance_provider(scope, n) is not None]

    def links(self, ctx: ProviderContext, scope: Scope, classname: str,
              source: CIMInstanceName) -> Iterator[Record]:
        """Instances of an association class association_classes returned that reference
        source. An association class may be served by a plain instance provider (a handful of
        fixed links, as in root/interop); scanning it finds its links just the same."""
        provider = self.instance_provider(scope, classname)
        assert provider is not None
        if isinstance(provider, AssociationProvider):
            return provider.references(ctx, scope, classname, source)
        return scan_references(provider, ctx, scope, classname, source)

    def resolve(self, ctx: ProviderContext, scope: Scope,
                path: CIMInstanceName) -> Record | None:
        """The instance at `path` (keys already checked against its class), None if none."""
        provider = self.instance_provider(scope, path.classname)
        if provider is None:
            return None
        record = provider.get(ctx, scope, path.classname, path.keybindings)
        if record is None or record.classname.lower() != path.classname.lower():
            return None
        return next(noted([record]))

    def enumerate(self, ctx: ProviderContext, scope: Scope, classname: str) -> Iterator[Record]:
        """Every instance of `classname` (known to the catalog) and of its subclasses."""
        for name in self.concrete_classes(scope, classname):
            provider = self.instance_provider(scope, name)
            assert provider is not None
            yield from noted(provider.enumerate(ctx, scope, name))
