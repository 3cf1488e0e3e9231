"""A query tree back to WQL text in one canonical spelling; ``parse(to_text(q)) == q``."""

from __future__ import annotations

import math

from emulator.cim.wql.errors import WQLError
from emulator.cim.wql.lexer import IDENT_RE, INT_LIMIT, RESERVED, scan_braced
from emulator.cim.wql.nodes import (
    MAX_DEPTH,
    And,
    AssociatorsQuery,
    Comparison,
    Expr,
    IsA,
    IsNull,
    Like,
    Literal,
    Not,
    Or,
    PropertyRef,
    Query,
    ReferencesQuery,
    SelectQuery,
)


def to_text(query: Query) -> str:
    """Canonical WQL for a parsed (or hand-built) query; ``parse(to_text(q)) == q``."""
    if isinstance(query, SelectQuery):
        if query.properties is None:
            columns = "*"
        else:
            if not query.properties:
                raise WQLError("a SELECT needs '*' or at least one property")
            columns = ", ".join(_text_name(name, dotted=True) for name in query.properties)
        text = f"SELECT {columns} FROM {_text_name(query.classname, dotted=False)}"
        if query.within is not None:
            text += f" WITHIN {_text_interval(query.within)}"
        if query.where is not None:
            text += f" WHERE {_text_expr(query.where, 0)}"
        return text
    if isinstance(query, AssociatorsQuery | ReferencesQuery):
        is_assoc = isinstance(query, AssociatorsQuery)
        source = query.source
        if not source or source != source.strip() or scan_braced(source + "}", 0) != len(source):
            raise WQLError(f"object path {source!r} cannot be written between braces")
        parts = [f"{'ASSOCIATORS' if is_assoc else 'REFERENCES'} OF {{{source}}}"]
        keywords: list[str] = []
        names = (
            ("AssocClass", "assoc_class"),
            ("ResultClass", "result_class"),
            ("Role", "role"),
            ("ResultRole", "result_role"),
            ("RequiredQualifier", "required_qualifier"),
            ("RequiredAssocQualifier", "required_assoc_qualifier"),
        )
        for keyword, field in names:
            value = getattr(query, field, None)
            if value is not None:
                keywords.append(f"{keyword} = {_text_keyword_value(value)}")
        for keyword, field in (
            ("ClassDefsOnly", "class_defs_only"),
            ("SchemaOnly", "schema_only"),
            ("KeysOnly", "keys_only"),
        ):
            if getattr(query, field):
                keywords.append(keyword)
        if query.class_defs_only and query.schema_only:
            raise WQLError("ClassDefsOnly and SchemaOnly cannot be combined")
        if keywords:
            parts.append("WHERE " + " ".join(keywords))
        return " ".join(parts)
    raise WQLError(f"not a WQL query: {type(query).__name__}")


def _text_name(name: str, *, dotted: bool) -> str:
    parts = name.split(".") if dotted and isinstance(name, str) else [name]
    for part in parts:
        if (
            not isinstance(part, str)
            or IDENT_RE.fullmatch(part) is None
            or part.upper() in RESERVED
        ):
            raise WQLError(f"{name!r} cannot be written as a WQL name")
    return name


def _text_keyword_value(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise WQLError(f"invalid keyword value {value!r}")
    return value if IDENT_RE.fullmatch(value) else _text_string(value)


def _text_interval(value: float) -> str:
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        raise WQLError(f"invalid WITHIN interval {value!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise WQLError(f"invalid WITHIN interval {value!r}")
    return str(int(seconds)) if seconds.is_integer() else _text_float(seconds)


def _text_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _text_float(value: float) -> str:
    if not math.isfinite(value):
        raise WQLError(f"{value!r} cannot be written in WQL")
    text = repr(abs(value))
    return f"-{text}" if math.copysign(1.0, value) < 0 else text


def _text_literal(value: Literal | PropertyRef) -> str:
    if isinstance(value, PropertyRef):
        return _text_name(value.name, dotted=True)
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        if abs(value) > INT_LIMIT:
            raise WQLError(f"integer literal out of range: {value}")
        return str(int(value))
    if isinstance(value, float):
        return _text_float(value)
    if isinstance(value, str):
        return _text_string(value)
    raise WQLError(f"unsupported literal {value!r}")


def _text_expr(expr: Expr, depth: int) -> str:
    if depth > MAX_DEPTH:
        raise WQLError("expression nested too deeply")
    if isinstance(expr, Comparison):
        return f"{_text_name(expr.prop, dotted=True)} {expr.op} {_text_literal(expr.value)}"
    if isinstance(expr, Like):
        return f"{_text_name(expr.prop, dotted=True)} LIKE {_text_string(expr.pattern)}"
    if isinstance(expr, IsNull):
        middle = "IS NOT NULL" if expr.negated else "IS NULL"
        return f"{_text_name(expr.prop, dotted=True)} {middle}"
    if isinstance(expr, IsA):
        classname = _text_name(expr.classname, dotted=False)
        return f"{_text_name(expr.prop, dotted=True)} ISA '{classname}'"
    if isinstance(expr, Not):
        return f"NOT {_text_operand(expr.operand, (And, Or), depth)}"
    if isinstance(expr, And):
        return " AND ".join(_text_operand(op, (And, Or), depth) for op in expr.operands)
    if isinstance(expr, Or):
        # AND binds tighter than OR, so only a nested OR needs parentheses to keep its shape.
        return " OR ".join(_text_operand(op, (Or,), depth) for op in expr.operands)
    raise WQLError(f"not a WQL expression: {type(expr).__name__}")


def _text_operand(expr: Expr, wrap: tuple[type, ...], depth: int) -> str:
    text = _text_expr(expr, depth + 1)
    return f"({text})" if isinstance(expr, wrap) else text
