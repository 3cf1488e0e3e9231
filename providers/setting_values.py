"""Typed values read from an embedded setting a client sent, refused when they are not.

Each refusal is a `Refused` with the DMTF "Invalid Parameter" code of the management-service
methods (§0.3 Family A); `what` names the parameter for its message.
"""

from __future__ import annotations

from pywbem import CIMInstance

from providers.base import Refused, property_value
from providers.return_codes import DmtfReturnCode

INVALID = DmtfReturnCode.INVALID_PARAMETER


def first_value(setting: CIMInstance, name: str) -> str:
    """The first element of an array property (only [0] is used, §12.3) as text; "" if none.
    A client that sends a scalar where the class has an array is taken at its word."""
    value = property_value(setting, name)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return "" if value is None else str(value)


def int_value(setting: CIMInstance, name: str, default: int, what: str) -> int:
    value = optional_int(setting, name, what)
    return int(default) if value is None else value


def optional_int(setting: CIMInstance | None, name: str, what: str) -> int | None:
    value = property_value(setting, name) if setting is not None else None
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Refused(INVALID, f"{what}.{name} {value!r} is not a number") from None
    if number < 0:
        raise Refused(INVALID, f"{what}.{name} {number} is negative")
    return number


def bool_value(setting: CIMInstance, name: str, default: bool) -> bool:
    value = property_value(setting, name)
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(default) if value is None else bool(value)

