"""What a request record says, read the way the rules need it: its WQL, the properties it
names, its namespace, and values that may be missing or malformed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from emulator.cim.wql import (
    And,
    Comparison,
    Expr,
    IsA,
    IsNull,
    Like,
    Not,
    Or,
    Query,
    SelectQuery,
    WQLError,
    parse,
)
from emulator.conformance.model import classname_of
from emulator.transport.request_log import RequestRecord


def as_int(value: Any) -> int:
    """The value as an integer; -1 when it is missing or not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def as_bool(value: Any) -> bool | None:
    """A CIM boolean's text as a bool; None when it is missing."""
    if value is None:
        return None
    return str(value).strip().lower() == "true"


def query_text(record: RequestRecord) -> str | None:
    params = record.params
    for name in ("Query", "FilterQuery", "Filter"):
        if params.get(name):
            return params[name]
    return record.query


def wql_of(record: RequestRecord) -> Query | None:
    text = query_text(record)
    if not text:
        return None
    language = (record.params.get("QueryLanguage") or record.params.get("FilterQueryLanguage")
                or "WQL")
    if "wql" not in language.lower():
        return None
    try:
        return parse(text)
    except WQLError:
        return None


def where_properties(expression: Expr | None) -> Iterator[tuple[str, Expr]]:
    """(property name, the comparison) for every property a WHERE clause reads."""
    if expression is None:
        return
    if isinstance(expression, And | Or):
        for operand in expression.operands:
            yield from where_properties(operand)
    elif isinstance(expression, Not):
        yield from where_properties(expression.operand)
    elif isinstance(expression, Comparison | Like | IsNull | IsA):
        yield expression.prop, expression


def normal_namespace(namespace: str | None) -> str:
    return (namespace or "").replace("\\", "/").strip("/").lower()


def list_param(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return [text]
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def named_properties(record: RequestRecord) -> tuple[str | None, list[str]]:
    """(class, property names) a request names itself: a PropertyList, or a SELECT's list
    and WHERE clause."""
    query = wql_of(record)
    if isinstance(query, SelectQuery):
        names = list(query.properties or ())
        names += [name for name, _ in where_properties(query.where)]
        return query.classname, names
    if "PropertyList" in record.params and record.operation in ("GetInstance",
                                                                "EnumerateInstances"):
        return classname_of(record), list_param(record.params.get("PropertyList"))
    return None, []
