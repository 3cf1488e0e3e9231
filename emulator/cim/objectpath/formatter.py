"""Object paths written back in WMI's own form."""

from __future__ import annotations

import math
from collections.abc import Mapping

from pywbem import CIMClassName, CIMDateTime, CIMInstanceName

from emulator.cim.objectpath.syntax import (
    IDENT_RE,
    INT_LIMIT,
    MAX_NESTING,
    ObjectPathError,
    normalise_namespace,
    quote,
)


def format_wmi_path(path: CIMInstanceName | CIMClassName, *, relative: bool = False) -> str:
    """Write a path in WMI's own form (``\\\\HOST\\ns\\ns:Class.K="v"``).

    Keys keep the order of ``path.keybindings``. A host without a namespace cannot be
    expressed in WMI syntax and is left out. ``relative=True`` gives ``Class.K="v"`` only
    (WMI's ``__RELPATH``).
    """
    if isinstance(path, CIMClassName):
        model = _checked_ident(path.classname, "class name")
    elif isinstance(path, CIMInstanceName):
        model = _format_model(path, 0)
    else:
        raise ObjectPathError(f"cannot format {type(path).__name__} as an object path")
    return model if relative else _with_prefix(path, model)


def _checked_ident(name: object, what: str) -> str:
    if not isinstance(name, str) or IDENT_RE.fullmatch(name) is None:
        raise ObjectPathError(f"invalid {what} {name!r}")
    return name


def _checked_host(host: str) -> str:
    if not host or any(ch.isspace() or ch in "\"'=\\/," for ch in host):
        raise ObjectPathError(f"invalid host name {host!r}")
    return host


def _with_prefix(path: CIMInstanceName | CIMClassName, model: str) -> str:
    if not path.namespace:
        return model
    namespace = normalise_namespace(path.namespace, 0, "namespace").replace("/", "\\")
    if path.host:
        return f"\\\\{_checked_host(path.host)}\\{namespace}:{model}"
    return f"{namespace}:{model}"


def _format_model(path: CIMInstanceName, depth: int) -> str:
    if depth > MAX_NESTING:
        raise ObjectPathError("references nested too deeply")
    classname = _checked_ident(path.classname, "class name")
    keybindings: Mapping[str, object] = path.keybindings
    if not keybindings:
        return f"{classname}=@"
    parts = [
        f"{_checked_ident(name, 'key name')}={_format_value(name, value, depth)}"
        for name, value in keybindings.items()
    ]
    return f"{classname}.{','.join(parts)}"


def _format_value(name: str, value: object, depth: int) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        if abs(value) > INT_LIMIT:
            raise ObjectPathError(f"key {name!r} is out of range for a CIM integer")
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ObjectPathError(f"key {name!r} has a non-finite value")
        mantissa, marker, exponent = repr(float(value)).partition("e")
        # The parser's number syntax needs a point with digits on both sides ("1e+16" would
        # not read back as a number).
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}{marker}{exponent}"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, CIMDateTime):
        return quote(str(value))
    if isinstance(value, CIMInstanceName):
        return quote(_with_prefix(value, _format_model(value, depth + 1)))
    raise ObjectPathError(f"key {name!r} has an unsupported value type {type(value).__name__}")
