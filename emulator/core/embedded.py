"""Embedded instances inside method parameters: CIM-XML `<INSTANCE>` text or MOF text.

WMI clients serialise embedded instances with GetText_(1) (CIM-XML, DSP0201) and carry WMI's
system properties (`__PATH`, `__CLASS`, ...) along; pywbem sends CIM-XML too, and MOF text
(`instance of X { ... };`) is accepted as well. Parsing reuses pywbem: its tuple parser for
CIM-XML and its MOF compiler (against the served class model) for MOF.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pywbem import (
    CIM_ERR_NOT_FOUND,
    CIMClass,
    CIMError,
    CIMInstance,
    CIMQualifierDeclaration,
    MOFCompiler,
)
from pywbem import Error as PywbemError
from pywbem._mof_compiler import MOFWBEMConnection
from pywbem._tupleparse import TupleParser
from pywbem._tupletree import xml_to_tupletree_sax

from emulator.core.catalog import Catalog

# Same rule as for whole requests: no DTD, so no entity expansion.
_DOCTYPE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
MAX_EMBEDDED_CHARS = 1024 * 1024
# pywbem serialises an instance that has a path with one of the wrappers (which one depends on
# whether the path has a host and namespace); the path is ignored.
_INSTANCE_ELEMENTS = ("INSTANCE", "VALUE.INSTANCEWITHPATH", "VALUE.NAMEDINSTANCE",
                      "VALUE.OBJECTWITHLOCALPATH", "VALUE.OBJECTWITHPATH")


def is_embedded_object(qualifiers: Mapping[str, Any]) -> bool:
    """Whether WMI types the element as an embedded object (CIMTYPE "object[:<class>]").

    Such values (GetSummaryInformation's SummaryInformation[], a summary's AsynchronousTasks)
    are WMI objects, which WinRM writes as nested elements; a string that carries an
    EmbeddedInstance (GetErrorEx's Errors[]) is text in WMI and stays text on every protocol.
    """
    qualifier = qualifiers.get("CIMTYPE")
    value = getattr(qualifier, "value", qualifier)
    return isinstance(value, str) and value.lower().startswith("object")


class EmbeddedInstanceError(ValueError):
    """The text is not an instance in either accepted notation."""


def parse_embedded_instance(text: str, catalog: Catalog, namespace: str) -> CIMInstance:
    """The instance the text holds; WMI system properties (`__PATH`, ...) are dropped."""
    if len(text) > MAX_EMBEDDED_CHARS:
        raise EmbeddedInstanceError(f"embedded instance exceeds {MAX_EMBEDDED_CHARS} characters")
    stripped = text.lstrip()
    if stripped.startswith("<"):
        instance = _from_cim_xml(stripped)
    elif stripped[:11].lower() == "instance of":
        instance = _from_mof(stripped, catalog, namespace)
    else:
        raise EmbeddedInstanceError("expected CIM-XML (<INSTANCE ...>) or MOF "
                                    "(instance of ...) text")
    for name in [n for n in instance.properties if n.startswith("__")]:
        del instance.properties[name]
    return instance


def _from_cim_xml(text: str) -> CIMInstance:
    if _DOCTYPE.search(text):
        raise EmbeddedInstanceError("DTDs and entity declarations are not accepted")
    try:
        tree = xml_to_tupletree_sax(text, "embedded instance")
        if tree[0] not in _INSTANCE_ELEMENTS:
            raise EmbeddedInstanceError(f"expected an INSTANCE element, not {tree[0]}")
        instance = TupleParser().parse_any(tree)
        if isinstance(instance, tuple):
            # VALUE.OBJECTWITH(LOCAL)PATH parse to (name, attributes, object).
            instance = instance[2]
    except EmbeddedInstanceError:
        raise
    except (PywbemError, ValueError, TypeError, IndexError, AttributeError, LookupError) as error:
        raise EmbeddedInstanceError(f"malformed CIM-XML instance: {_first_line(error)}") \
            from None
    if not isinstance(instance, CIMInstance):
        raise EmbeddedInstanceError("expected an INSTANCE element")
    instance.path = None
    return instance


class _ClassModelRepository(MOFWBEMConnection):
    """A MOF compiler target that knows the served classes and keeps compiled instances."""

    def __init__(self, catalog: Catalog, namespace: str) -> None:
        super().__init__(conn=None)
        self.default_namespace = namespace
        self._catalog = catalog
        self._namespace = namespace

    def GetClass(self, *args: Any, **kwargs: Any) -> CIMClass:
        name = args[0] if args else kwargs["ClassName"]
        if not self._catalog.has_class(self._namespace, name):
            raise CIMError(CIM_ERR_NOT_FOUND, f"class {name} does not exist")
        return self._catalog.get_class(self._namespace, name)

    def GetQualifier(self, *args: Any, **kwargs: Any) -> CIMQualifierDeclaration:
        name = args[0] if args else kwargs["QualifierName"]
        declarations = self._catalog.qualifier_declarations(self._namespace)
        if name not in declarations:
            raise CIMError(CIM_ERR_NOT_FOUND, f"qualifier {name} does not exist")
        return declarations[name]


def _from_mof(text: str, catalog: Catalog, namespace: str) -> CIMInstance:
    repository = _ClassModelRepository(catalog, namespace)
    compiler = MOFCompiler(handle=repository, log_func=None)
    try:
        compiler.compile_string(text, namespace)
    except (PywbemError, ValueError, TypeError) as error:
        raise EmbeddedInstanceError(f"malformed MOF instance: {_first_line(error)}") from None
    instances = [i for batch in repository.instances.values() for i in batch]
    if len(instances) != 1:
        raise EmbeddedInstanceError(f"expected one MOF instance, found {len(instances)}")
    instance = instances[0]
    instance.path = None
    return instance


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
