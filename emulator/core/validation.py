"""Checks an operation's arguments against the class model, one helper per check.

Each helper raises the `pywbem.CIMError` a Hyper-V host answers with when its check fails and
returns what it resolved otherwise. The parts of the core that run after a check state it in
their docstrings ("scope already validated", "path already checked") instead of checking again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pywbem import (
    CIM_ERR_INVALID_CLASS,
    CIM_ERR_INVALID_NAMESPACE,
    CIM_ERR_INVALID_PARAMETER,
    CIM_ERR_METHOD_NOT_FOUND,
    CIM_ERR_NOT_FOUND,
    CIMClass,
    CIMClassName,
    CIMError,
    CIMInstanceName,
    CIMMethod,
)

from emulator.cim.objectpath import ObjectPathError, parse_object_path
from emulator.core.catalog import Catalog
from providers.base import Scope


class Validation:
    def __init__(self, catalog: Catalog, dispatcher_token: int) -> None:
        self.catalog = catalog
        # Which dispatcher answers (Scope.dispatcher_token): keeps apart the cache keys of two
        # dispatchers in one process.
        self.dispatcher_token = dispatcher_token

    def scope(self, host: str, namespace: str | None) -> Scope:
        """The namespace as the catalog spells it, seen from `host`'s endpoint."""
        if not namespace:
            raise CIMError(CIM_ERR_INVALID_NAMESPACE, "no namespace was given")
        served = self.catalog.canonical_namespace(namespace)
        if served is None:
            raise CIMError(CIM_ERR_INVALID_NAMESPACE,
                           f"namespace {namespace!r} does not exist on {host}; served: "
                           f"{', '.join(self.catalog.namespaces)}")
        return Scope(served, host, self.dispatcher_token)

    def klass(self, scope: Scope, classname: str | None) -> CIMClass:
        """The class named by an operation's ClassName (or a path); scope already validated."""
        if not classname:
            raise CIMError(CIM_ERR_INVALID_PARAMETER, "a class name is required")
        if not self.catalog.has_class(scope.namespace, classname):
            raise CIMError(CIM_ERR_INVALID_CLASS,
                           f"class {classname!r} does not exist in namespace {scope.namespace}")
        return self.catalog.get_class(scope.namespace, classname)

    def class_to_get(self, scope: Scope, classname: str | None) -> CIMClass:
        """The class GetClass asks for; scope already validated. DSP0200 answers GetClass of a
        class the namespace lacks with CIM_ERR_NOT_FOUND (INVALID_CLASS is for operations on
        the instances of such a class)."""
        if classname and not self.catalog.has_class(scope.namespace, classname):
            raise CIMError(CIM_ERR_NOT_FOUND,
                           f"class {classname!r} does not exist in namespace {scope.namespace}")
        return self.klass(scope, classname)

    def instance_path(self, scope: Scope, path: CIMInstanceName) -> CIMClass:
        """An instance path's class exists and its key bindings are exactly the class's keys.

        Scope already validated. Returns the path's class.
        """
        klass = self.klass(scope, path.classname)
        keys = {k.lower() for k in self.catalog.key_names(scope.namespace, klass.classname)}
        given = {k.lower() for k in path.keybindings}
        if keys and given != keys:
            missing = sorted(keys - given)
            extra = sorted(given - keys)
            detail = "; ".join(filter(None, [
                f"missing key(s) {', '.join(missing)}" if missing else "",
                f"not key(s) of {klass.classname}: {', '.join(extra)}" if extra else ""]))
            raise CIMError(CIM_ERR_INVALID_PARAMETER,
                           f"invalid instance path for {klass.classname}: {detail}")
        return klass

    def named_class(self, scope: Scope, classname: str, parameter: str) -> None:
        """A class named by an association operation must exist. DSP0200 lists
        CIM_ERR_INVALID_PARAMETER (not CIM_ERR_INVALID_CLASS) for the source class, AssocClass
        and ResultClass of Associators, AssociatorNames, References and ReferenceNames."""
        if not self.catalog.has_class(scope.namespace, classname):
            raise CIMError(CIM_ERR_INVALID_PARAMETER,
                           f"{parameter} class {classname!r} does not exist in namespace "
                           f"{scope.namespace}")

    def method(self, scope: Scope, target: CIMInstanceName | CIMClassName, method: str,
               params: Mapping[str, Any]) -> tuple[CIMClass, CIMMethod]:
        """The target's class and the method's declaration, after checking that the method
        exists, every parameter given is an input of it, and the target fits it (an instance
        path with the class's keys, or a class path for a static method). Scope already
        validated; parameter values are typed later (emulator.core.method_params)."""
        klass = self.klass(scope, target.classname)
        if method not in klass.methods:
            raise CIMError(CIM_ERR_METHOD_NOT_FOUND,
                           f"class {klass.classname} has no method {method!r}")
        declaration = klass.methods[method]
        self._method_inputs(klass, declaration, params)
        if isinstance(target, CIMClassName):
            static = declaration.qualifiers.get("Static")
            if not (static and static.value):
                raise CIMError(CIM_ERR_INVALID_PARAMETER,
                               f"{klass.classname}.{declaration.name} is not static: invoke it "
                               "on an instance path")
        else:
            self.instance_path(scope, target)
        return klass, declaration

    @staticmethod
    def _method_inputs(klass: CIMClass, declaration: CIMMethod,
                       params: Mapping[str, Any]) -> None:
        for name in params:
            parameter = declaration.parameters.get(name)
            if parameter is None:
                raise CIMError(CIM_ERR_INVALID_PARAMETER,
                               f"method {klass.classname}.{declaration.name} has no parameter "
                               f"{name!r}")
            in_qualifier = parameter.qualifiers.get("In")
            if in_qualifier is not None and not in_qualifier.value:
                raise CIMError(CIM_ERR_INVALID_PARAMETER,
                               f"parameter {name!r} of {declaration.name} is an output only")

    def written_properties(self, klass: CIMClass, names: Iterable[str]) -> None:
        """Every property of an instance a client sent belongs to its class."""
        for name in names:
            if name not in klass.properties:
                raise CIMError(CIM_ERR_INVALID_PARAMETER,
                               f"class {klass.classname} has no property {name!r}")

    @staticmethod
    def parse_path(text: str, namespace: str) -> CIMInstanceName:
        """An instance path given as text (WMI or DSP0207 form)."""
        try:
            path = parse_object_path(text, default_namespace=namespace)
        except ObjectPathError as error:
            raise CIMError(CIM_ERR_INVALID_PARAMETER, f"invalid object path: {error}") from error
        if not isinstance(path, CIMInstanceName):
            raise CIMError(CIM_ERR_INVALID_PARAMETER, f"{text!r} names a class, not an instance")
        return path
