"""What every intrinsic CIM-XML handler shares: the call it answers, and the checks of its
IPARAMVALUEs (names and types, DSP0200 §5.3.2) that raise CIM_ERR_INVALID_PARAMETER."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from nocasedict import NocaseDict
from pywbem import (
    CIM_ERR_INVALID_PARAMETER,
    CIMClassName,
    CIMError,
    CIMInstance,
    CIMInstanceName,
)

from emulator.cimxml.request import CimRequest
from emulator.core.dispatch import Dispatcher
from emulator.core.enumerations import Enumerations

Body = Iterable[str] | None
OutParams = dict[str, tuple[str, str]]


@dataclass
class Call:
    dispatcher: Dispatcher
    enumerations: Enumerations
    host: str
    request: CimRequest

    @property
    def namespace(self) -> str:
        return self.request.namespace


def _as_bool(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value if isinstance(value, bool) else None


def _as_uint32(value: Any) -> int | None:
    return int(value.strip()) if isinstance(value, str) and value.strip().isdigit() else None


# IPARAMVALUE kinds: each converts the parsed value, or gives None when it has the wrong type.
KINDS: dict[str, Callable[[Any], Any]] = {
    "bool": _as_bool,
    "uint32": _as_uint32,
    "string": lambda v: v if isinstance(v, str) else None,
    "classname": lambda v: v.classname if isinstance(v, CIMClassName) else None,
    "instancename": lambda v: v if isinstance(v, CIMInstanceName) else None,
    "objectname": lambda v: v if isinstance(v, CIMInstanceName | CIMClassName) else None,
    "stringlist": lambda v: v if isinstance(v, list) and all(isinstance(i, str) for i in v)
    else None,
    "instance": lambda v: v if isinstance(v, CIMInstance) else None,
}


def param(params: NocaseDict, name: str, kind: str, default: Any = None,
         *, required: bool = False) -> Any:
    if name not in params or params[name] is None:
        if required:
            raise CIMError(CIM_ERR_INVALID_PARAMETER, f"parameter {name} is required")
        return default
    converted = KINDS[kind](params[name])
    if converted is None:
        raise CIMError(CIM_ERR_INVALID_PARAMETER,
                       f"parameter {name} has the wrong type for {kind}: "
                       f"{type(params[name]).__name__}")
    return converted


def accept(params: NocaseDict, allowed: tuple[str, ...], operation: str) -> None:
    allowed_lower = {a.lower() for a in allowed}
    for name in params:
        # nocasedict types keys as Optional; the request parser only ever stores names.
        if name.lower() not in allowed_lower:  # type: ignore[union-attr]
            raise CIMError(CIM_ERR_INVALID_PARAMETER,
                           f"{operation} has no parameter {name!r}")


def local_path(path: CIMInstanceName, namespace: str) -> CIMInstanceName:
    return CIMInstanceName(path.classname, keybindings=path.keybindings,
                           namespace=path.namespace or namespace)


ASSOCIATOR_FILTERS = ("AssocClass", "ResultClass", "Role", "ResultRole")
REFERENCE_FILTERS = ("ResultClass", "Role")


def association_filters(p: NocaseDict, names: tuple[str, ...]) -> dict[str, Any]:
    keys = {"AssocClass": "assoc_class", "ResultClass": "result_class", "Role": "role",
            "ResultRole": "result_role"}
    result: dict[str, Any] = {}
    for name in names:
        kind = "classname" if name.endswith("Class") else "string"
        result[keys[name]] = param(p, name, kind)
    return result
