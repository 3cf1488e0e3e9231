"""The parsed form of a WQL query: frozen dataclasses that ``parse`` builds, ``to_text``
writes back and ``evaluate`` applies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypeAlias

from emulator.cim.wql.errors import WQLError
from emulator.cim.wql.like import compile_like

# Parentheses and NOT recurse; a bound keeps hostile input from exhausting the Python stack.
MAX_DEPTH: Final = 100

Literal: TypeAlias = str | int | float | bool | None

COMPARISON_OPERATORS: Final = ("=", "<>", "<", ">", "<=", ">=")


@dataclass(frozen=True)
class PropertyRef:
    """The right-hand side of a property-to-property comparison."""

    name: str


@dataclass(frozen=True)
class Comparison:
    """``prop op value``; ``op`` is one of COMPARISON_OPERATORS (``!=`` is stored as
    ``<>``) and ``value`` None means the NULL literal."""

    prop: str
    op: str
    value: Literal | PropertyRef

    def __post_init__(self) -> None:
        if self.op not in COMPARISON_OPERATORS:
            raise WQLError(f"unknown comparison operator {self.op!r}")


@dataclass(frozen=True)
class Like:
    prop: str
    pattern: str

    def __post_init__(self) -> None:
        compile_like(self.pattern)  # reject bad patterns when the AST is built


@dataclass(frozen=True)
class IsNull:
    """``prop IS NULL``, or ``prop IS NOT NULL`` when ``negated``."""

    prop: str
    negated: bool = False


@dataclass(frozen=True)
class IsA:
    """``prop ISA 'Class'``; ``prop`` names an embedded object (``TargetInstance``)."""

    prop: str
    classname: str


@dataclass(frozen=True)
class And:
    """Operands of one un-parenthesised ``a AND b AND c`` chain; at least two."""

    operands: tuple[Expr, ...]

    def __post_init__(self) -> None:
        if len(self.operands) < 2:
            raise WQLError("AND needs at least two operands")


@dataclass(frozen=True)
class Or:
    operands: tuple[Expr, ...]

    def __post_init__(self) -> None:
        if len(self.operands) < 2:
            raise WQLError("OR needs at least two operands")


@dataclass(frozen=True)
class Not:
    operand: Expr


Expr: TypeAlias = Comparison | Like | IsNull | IsA | And | Or | Not


@dataclass(frozen=True)
class SelectQuery:
    properties: tuple[str, ...] | None  # None means '*'
    classname: str
    where: Expr | None = None
    within: float | None = None  # event queries: polling interval in seconds


@dataclass(frozen=True)
class AssociatorsQuery:
    source: str  # raw object path text from between the braces
    assoc_class: str | None = None
    result_class: str | None = None
    role: str | None = None
    result_role: str | None = None
    required_qualifier: str | None = None
    required_assoc_qualifier: str | None = None
    class_defs_only: bool = False
    schema_only: bool = False
    keys_only: bool = False


@dataclass(frozen=True)
class ReferencesQuery:
    source: str
    result_class: str | None = None
    role: str | None = None
    required_qualifier: str | None = None
    class_defs_only: bool = False
    schema_only: bool = False
    keys_only: bool = False


Query: TypeAlias = SelectQuery | AssociatorsQuery | ReferencesQuery
