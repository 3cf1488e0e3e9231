"""A WHERE expression applied to one object, with WMI's comparison and NULL rules."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from pywbem import CIMClassName, CIMDateTime, CIMInstanceName

from emulator.cim.objectpath import ObjectPathError, format_wmi_path, parse_object_path, paths_equal
from emulator.cim.wql.errors import WQLError
from emulator.cim.wql.like import like_match
from emulator.cim.wql.nodes import (
    MAX_DEPTH,
    And,
    Comparison,
    Expr,
    IsA,
    IsNull,
    Like,
    Not,
    Or,
    PropertyRef,
)


class RowView(Protocol):
    """One object as the WHERE clause sees it. Name lookups must be case-insensitive."""

    def get(self, name: str) -> tuple[object, str | None, bool]:
        """(value, CIM type name or "reference", is_array); KeyError if no such property."""
        ...

    def classname(self) -> str: ...

    def is_a(self, classname: str) -> bool: ...

    def embedded(self, name: str) -> RowView | None:
        """The embedded object held by property ``name`` (None when NULL); KeyError if no
        such property."""
        ...


_NUMERIC_TYPES: Final = frozenset(
    {"uint8", "uint16", "uint32", "uint64", "sint8", "sint16", "sint32", "sint64",
     "real32", "real64"}
)  # fmt: skip
_STRING_TYPES: Final = frozenset({"string", "char16"})
_DECIMAL_RE: Final = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX_RE: Final = re.compile(r"[+-]?0[xX][0-9A-Fa-f]+")
_ORDERING: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class _Value:
    value: object
    kind: str  # numeric boolean string datetime reference null


def evaluate(expr: Expr, row: RowView) -> bool:
    """Apply a WHERE expression to one object with WMI's comparison rules.

    Both sides of AND/OR are always evaluated so that a bad property name fails the query
    on every row, not only on rows where the other side happens to be true.
    """
    return _evaluate(expr, row, 0)


def _evaluate(expr: Expr, row: RowView, depth: int) -> bool:
    if depth > MAX_DEPTH:
        raise WQLError("expression nested too deeply")
    if isinstance(expr, Comparison):
        return _evaluate_comparison(expr, row)
    if isinstance(expr, Like):
        value = _property(row, expr.prop)
        if value.kind == "null":
            return False
        return like_match(expr.pattern, _as_text(value))
    if isinstance(expr, IsNull):
        is_null = _property(row, expr.prop, allow_array=True).kind == "null"
        return is_null != expr.negated
    if isinstance(expr, IsA):
        target = _embedded_object(row, expr.prop)
        return target is not None and bool(target.is_a(expr.classname))
    if isinstance(expr, Not):
        return not _evaluate(expr.operand, row, depth + 1)
    if isinstance(expr, And):
        results = [_evaluate(op, row, depth + 1) for op in expr.operands]
        return all(results)
    if isinstance(expr, Or):
        results = [_evaluate(op, row, depth + 1) for op in expr.operands]
        return any(results)
    raise WQLError(f"not a WQL expression: {type(expr).__name__}")


def _resolve(row: RowView, name: str) -> tuple[RowView | None, str]:
    """Follow 'TargetInstance.X' through embedded objects; returns (owner, last name) with
    owner None when an embedded object on the way is NULL."""
    if not isinstance(name, str) or not name:
        raise WQLError(f"invalid property name {name!r}")
    *path, last = name.split(".")
    current: RowView | None = row
    for step in path:
        if current is None:
            break
        try:
            current = current.embedded(step)
        except KeyError:
            raise WQLError(f"unknown property {name!r}") from None
    return current, last


def _embedded_object(row: RowView, name: str) -> RowView | None:
    if name.lower() == "__this":
        return row
    owner, last = _resolve(row, name)
    if owner is None:
        return None
    try:
        return owner.embedded(last)
    except KeyError:
        raise WQLError(f"unknown property {name!r}") from None


def _property(row: RowView, name: str, *, allow_array: bool = False) -> _Value:
    owner, last = _resolve(row, name)
    if owner is None:
        return _Value(None, "null")
    try:
        value, cim_type, is_array = owner.get(last)
    except KeyError:
        raise WQLError(f"unknown property {name!r}") from None
    if (is_array or isinstance(value, list | tuple)) and not allow_array:
        raise WQLError(f"array properties cannot be used in WHERE ({name!r})")
    if value is None:
        return _Value(None, "null")
    return _Value(value, _kind(name, value, cim_type))


def _kind(name: str, value: object, cim_type: str | None) -> str:
    if cim_type is not None:
        lowered = str(cim_type).lower()
        if lowered in _NUMERIC_TYPES:
            return "numeric"
        if lowered in _STRING_TYPES:
            return "string"
        if lowered in ("boolean", "datetime", "reference"):
            return lowered
        raise WQLError(f"property {name!r} of type {cim_type} cannot be used in WHERE")
    # Without a declared type (system properties, loose test rows) the Python type decides.
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "numeric"
    if isinstance(value, str):
        return "string"
    if isinstance(value, CIMDateTime):
        return "datetime"
    if isinstance(value, CIMInstanceName | CIMClassName):
        return "reference"
    raise WQLError(f"property {name!r} holds a value that cannot be used in WHERE")


def _evaluate_comparison(expr: Comparison, row: RowView) -> bool:
    left = _property(row, expr.prop)
    op = expr.op
    if isinstance(expr.value, PropertyRef):
        right = _property(row, expr.value.name)
        if left.kind == "null" or right.kind == "null":
            # Symmetric so that "A <> B" and "B <> A" agree: two NULLs are equal, one NULL
            # differs from any value, and NULLs have no order.
            if op == "=":
                return left.kind == right.kind
            return op == "<>" and left.kind != right.kind
        other = right.value
    else:
        if expr.value is None:
            # WMI reads "= NULL" as IS NULL and "<> NULL" as IS NOT NULL.
            if op == "=":
                return left.kind == "null"
            return op == "<>" and left.kind != "null"
        if left.kind == "null":
            return False
        other = expr.value
    kind = left.kind
    a = _coerce(left.value, kind, expr.prop)
    b = _coerce(other, kind, expr.prop)
    if kind == "reference":
        if op not in ("=", "<>"):
            raise WQLError(f"reference property {expr.prop!r} only supports = and <>")
        assert isinstance(a, CIMInstanceName | CIMClassName)
        assert isinstance(b, CIMInstanceName | CIMClassName)
        equal = paths_equal(a, b)
        return equal if op == "=" else not equal
    if op == "=":
        return a == b
    if op == "<>":
        return a != b
    return _ORDERING[op](a, b)


def _coerce(value: object, kind: str, name: str) -> object:
    """Bring either side of a comparison into the property's domain (WMI converts the
    literal to the property's type, e.g. PyMI's MigrationType = '32770')."""
    if kind == "numeric":
        number = _to_number(value)
        if number is None:
            raise WQLError(f"{_show(value)} is not a number (property {name!r} is numeric)")
        return number
    if kind == "boolean":
        flag = _to_bool(value)
        if flag is None:
            raise WQLError(f"{_show(value)} is not a boolean (property {name!r} is boolean)")
        return flag
    if kind == "reference":
        if isinstance(value, CIMInstanceName | CIMClassName):
            return value
        if isinstance(value, str):
            try:
                return parse_object_path(value)
            except ObjectPathError as exc:
                raise WQLError(f"{_show(value)} is not an object path: {exc}") from None
        raise WQLError(f"{_show(value)} is not an object path (property {name!r})")
    if kind == "datetime":
        return _text_of(value)
    return _text_of(value).lower()


def _text_of(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, CIMInstanceName | CIMClassName):
        try:
            return format_wmi_path(value)
        except ObjectPathError as exc:
            raise WQLError(f"cannot use object path in WHERE: {exc}") from None
    return str(value)


def _as_text(value: _Value) -> str:
    return _text_of(value.value)


def _show(value: object) -> str:
    return repr(value) if not isinstance(value, str) else f"'{value}'"


def _to_number(value: object) -> int | float | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 400:
            return None
        if _DECIMAL_RE.fullmatch(text):
            return int(text)
        if _HEX_RE.fullmatch(text):
            return int(text, 16)
        if _FLOAT_RE.fullmatch(text):
            number = float(text)
            return number if math.isfinite(number) else None
    return None


def _to_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().upper()
        if lowered in ("TRUE", "1"):
            return True
        if lowered in ("FALSE", "0"):
            return False
    return None
