"""WQL as WMI accepts it from Hyper-V clients (reference §0.4, §15.4).

Three query shapes exist: ``SELECT``, ``ASSOCIATORS OF {path}`` and ``REFERENCES OF {path}``.
``parse`` turns text into frozen dataclasses, ``to_text`` writes them back in a canonical
spelling, and ``evaluate`` applies a ``WHERE`` expression to one object seen through a
``RowView``. Every malformed input raises ``WQLError`` and nothing else, because the caller
maps that one exception to ``CIM_ERR_INVALID_QUERY`` / a WS-Man fault.

Text flows lexer -> parser -> nodes; ``canonical_text`` writes nodes back, ``evaluator``
applies them and ``like`` matches LIKE patterns. Import from this package, not the modules.
"""

from __future__ import annotations

from emulator.cim.wql.canonical_text import to_text
from emulator.cim.wql.errors import WQLError
from emulator.cim.wql.evaluator import RowView, evaluate
from emulator.cim.wql.like import like_match
from emulator.cim.wql.nodes import (
    COMPARISON_OPERATORS,
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
from emulator.cim.wql.parser import parse

__all__ = [
    "COMPARISON_OPERATORS",
    "And",
    "AssociatorsQuery",
    "Comparison",
    "Expr",
    "IsA",
    "IsNull",
    "Like",
    "Literal",
    "Not",
    "Or",
    "PropertyRef",
    "Query",
    "ReferencesQuery",
    "RowView",
    "SelectQuery",
    "WQLError",
    "evaluate",
    "like_match",
    "parse",
    "to_text",
]
