"""WQL as WMI accepts it from Hyper-V clients (reference §0.4, §15.4).

Three query shapes exist: ``SELECT``, ``ASSOCIATORS OF {path}`` and ``REFERENCES OF {path}``.
``parse`` turns text into frozen dataclasses, ``to_text`` writes them back in a canonical
spelling, and ``evaluate`` applies a ``WHERE`` expression to one object seen through a
``RowView``. Every malformed input raises ``WQLError`` and nothing else, because the caller
maps that one exception to ``CIM_ERR_INVALID_QUERY`` / a WS-Man fault.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Protocol, TypeAlias

from pywbem import CIMClassName, CIMDateTime, CIMInstanceName

from emulator.cim.objectpath import (
    ObjectPathError,
    format_wmi_path,
    parse_object_path,
    paths_equal,
    unescape_pair,
)

__all__ = [
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


class WQLError(ValueError):
    """A query is malformed or cannot be evaluated; ``position`` is a 0-based offset into the
    query text when the problem has one."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.message = message
        self.position = position
        super().__init__(message if position is None else f"{message} (at position {position})")


# --------------------------------------------------------------------------------------------
# AST

Literal: TypeAlias = str | int | float | bool | None

COMPARISON_OPERATORS: Final = ("=", "<>", "<", ">", "<=", ">=")
# "5 < Prop" means "Prop > 5"; equality operators are their own mirror.
_MIRRORED: Final = {"=": "=", "<>": "<>", "<": ">", ">": "<", "<=": ">=", ">=": "<="}


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
        _compile_like(self.pattern)  # reject bad patterns when the AST is built


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


# --------------------------------------------------------------------------------------------
# lexer

_IDENT_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_RE: Final = re.compile(r"0[xX][0-9A-Fa-f]+|[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?")
_OPERATORS: Final = ("<>", "!=", "<=", ">=", "=", "<", ">")
_PUNCTUATION: Final = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA", "*": "STAR", ".": "DOT"}
# Words that can never be a property name in a SELECT; ASSOCIATORS/REFERENCES keywords
# (ResultClass, Role, ...) are only special inside their own WHERE clause.
_RESERVED: Final = frozenset(
    {"SELECT", "FROM", "WHERE", "WITHIN", "AND", "OR", "NOT", "LIKE", "IS", "ISA", "NULL",
     "TRUE", "FALSE"}
)  # fmt: skip
# Every CIM integer type fits in 64 bits; anything larger is a typo or an attack, and
# refusing it early also keeps clear of Python's int/str conversion limit.
_INT_LIMIT: Final = 2**64
# Parentheses and NOT recurse; a bound keeps hostile input from exhausting the Python stack.
_MAX_DEPTH: Final = 100


@dataclass(frozen=True)
class _Token:
    kind: str  # IDENT STRING NUMBER OP LPAREN RPAREN COMMA STAR DOT SIGN BRACED EOF
    value: object
    pos: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "IDENT" and str(self.value).upper() in words


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    length = len(text)
    while True:
        while pos < length and text[pos].isspace():
            pos += 1
        if pos >= length:
            tokens.append(_Token("EOF", None, pos))
            return tokens
        char = text[pos]
        if char in "'\"":
            value, end = _lex_string(text, pos)
            tokens.append(_Token("STRING", value, pos))
            pos = end
        elif char == "{":
            value, end = _lex_braced(text, pos)
            tokens.append(_Token("BRACED", value, pos))
            pos = end
        elif char.isascii() and (char.isalpha() or char == "_"):
            match = _IDENT_RE.match(text, pos)
            assert match is not None  # the first character already qualifies
            tokens.append(_Token("IDENT", match.group(), pos))
            pos = match.end()
        elif char.isascii() and char.isdigit():
            number, end = _lex_number(text, pos)
            tokens.append(_Token("NUMBER", number, pos))
            pos = end
        elif char in "-+":
            tokens.append(_Token("SIGN", char, pos))
            pos += 1
        elif char in _PUNCTUATION:
            tokens.append(_Token(_PUNCTUATION[char], char, pos))
            pos += 1
        else:
            for op in _OPERATORS:
                if text.startswith(op, pos):
                    tokens.append(_Token("OP", "<>" if op == "!=" else op, pos))
                    pos += len(op)
                    break
            else:
                raise WQLError(f"unexpected character {char!r}", pos)


def _lex_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    pos = start + 1
    length = len(text)
    while pos < length:
        char = text[pos]
        if char == "\\" and pos + 1 < length:
            out.append(unescape_pair(text[pos + 1]))
            pos += 2
        elif char == quote:
            if pos + 1 < length and text[pos + 1] == quote:
                # os-win escapes "'" as "''" (SQL style) rather than with a backslash.
                out.append(quote)
                pos += 2
            else:
                return "".join(out), pos + 1
        else:
            out.append(char)
            pos += 1
    raise WQLError("unterminated string literal", start)


def _lex_number(text: str, start: int) -> tuple[int | float, int]:
    match = _NUMBER_RE.match(text, start)
    assert match is not None  # called on a digit
    end = match.end()
    if end < len(text) and (text[end].isalnum() or text[end] in "_."):
        raise WQLError("malformed number", start)
    literal = match.group()
    if literal[:2] in ("0x", "0X"):
        number: int | float = int(literal, 16) if len(literal) <= 40 else _INT_LIMIT + 1
    elif "." in literal or "e" in literal or "E" in literal:
        number = float(literal)
        if not math.isfinite(number):
            raise WQLError("number out of range", start)
        return number, end
    else:
        number = int(literal) if len(literal) <= 40 else _INT_LIMIT + 1
    if number > _INT_LIMIT:
        raise WQLError("integer out of range", start)
    return number, end


def _lex_braced(text: str, start: int) -> tuple[str, int]:
    """The raw object path of ASSOCIATORS/REFERENCES OF {...}; a '}' inside a quoted key
    value does not end it."""
    end = _scan_braced(text, start + 1)
    if end < 0:
        raise WQLError("unterminated '{' (object path; a '{' or '}' in it must be quoted)", start)
    return text[start + 1 : end].strip(), end + 1


def _scan_braced(text: str, pos: int) -> int:
    """Index of the closing '}' at or after ``pos``, or -1."""
    quote: str | None = None
    length = len(text)
    while pos < length:
        char = text[pos]
        if quote is not None:
            if char == "\\":
                pos += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "}":
            return pos
        elif char == "{":
            # Object paths never contain an unquoted '{'; refusing it keeps the raw text
            # writable between braces again by to_text.
            return -1
        pos += 1
    return -1


# --------------------------------------------------------------------------------------------
# parser


def parse(text: str) -> Query:
    """Parse one WQL query. Raises WQLError, and only WQLError, for anything malformed."""
    if not isinstance(text, str):
        raise WQLError(f"query must be a string, not {type(text).__name__}")
    parser = _Parser(_lex(text))
    first = parser.peek()
    if first.is_word("SELECT"):
        return parser.select()
    if first.is_word("ASSOCIATORS"):
        return parser.associators()
    if first.is_word("REFERENCES"):
        return parser.references()
    if first.kind == "EOF":
        raise WQLError("empty query", first.pos)
    raise WQLError("expected SELECT, ASSOCIATORS OF or REFERENCES OF", first.pos)


_ASSOC_VALUE_KEYWORDS: Final = {
    "ASSOCCLASS": "assoc_class",
    "RESULTCLASS": "result_class",
    "ROLE": "role",
    "RESULTROLE": "result_role",
    "REQUIREDQUALIFIER": "required_qualifier",
    "REQUIREDASSOCQUALIFIER": "required_assoc_qualifier",
}
_ASSOC_FLAG_KEYWORDS: Final = {
    "CLASSDEFSONLY": "class_defs_only",
    "SCHEMAONLY": "schema_only",
    "KEYSONLY": "keys_only",
}
_REFERENCES_ONLY_ALLOWS: Final = frozenset(
    {"RESULTCLASS", "ROLE", "REQUIREDQUALIFIER", "CLASSDEFSONLY", "SCHEMAONLY", "KEYSONLY"}
)


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    # -- token helpers

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.peek()
        if token.kind != "EOF":
            self.index += 1
        return token

    def expect_word(self, word: str) -> _Token:
        token = self.peek()
        if not token.is_word(word):
            raise WQLError(f"expected {word}, found {_describe(token)}", token.pos)
        return self.advance()

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind != "EOF":
            raise WQLError(f"unexpected {_describe(token)} after the end of the query", token.pos)

    def name(self, what: str) -> str:
        token = self.peek()
        if token.kind != "IDENT" or str(token.value).upper() in _RESERVED:
            raise WQLError(f"expected {what}, found {_describe(token)}", token.pos)
        self.advance()
        return str(token.value)

    def dotted_name(self, what: str) -> str:
        parts = [self.name(what)]
        while self.peek().kind == "DOT":
            self.advance()
            parts.append(self.name("a property name after '.'"))
        return ".".join(parts)

    # -- SELECT

    def select(self) -> SelectQuery:
        self.expect_word("SELECT")
        properties: tuple[str, ...] | None
        if self.peek().kind == "STAR":
            self.advance()
            properties = None
        else:
            names = [self.dotted_name("'*' or a property name")]
            while self.peek().kind == "COMMA":
                self.advance()
                names.append(self.dotted_name("a property name"))
            properties = tuple(names)
        self.expect_word("FROM")
        classname = self.name("a class name")
        within: float | None = None
        if self.peek().is_word("WITHIN"):
            self.advance()
            within = self.interval()
        where: Expr | None = None
        if self.peek().is_word("WHERE"):
            self.advance()
            if self.peek().kind == "EOF":
                raise WQLError("WHERE needs a condition", self.peek().pos)
            where = self.or_expr()
        token = self.peek()
        if token.is_word("GROUP", "HAVING", "BY"):
            raise WQLError(f"{str(token.value).upper()} is not supported", token.pos)
        if token.is_word("WITHIN"):
            raise WQLError("WITHIN must come before WHERE", token.pos)
        if token.kind == "RPAREN":
            raise WQLError("unbalanced ')'", token.pos)
        self.expect_end()
        return SelectQuery(properties, classname, where, within)

    def interval(self) -> float:
        token = self.peek()
        if token.kind != "NUMBER":
            raise WQLError("WITHIN needs a number of seconds", token.pos)
        self.advance()
        value = float(_number_token(token))  # the lexer bounds integers, so no overflow
        if not (math.isfinite(value) and value > 0):
            raise WQLError("WITHIN interval must be a positive number", token.pos)
        return value

    # -- WHERE expressions

    def nest(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise WQLError("expression nested too deeply", token.pos)

    def or_expr(self) -> Expr:
        operands = [self.and_expr()]
        while self.peek().is_word("OR"):
            self.advance()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_expr(self) -> Expr:
        operands = [self.not_expr()]
        while self.peek().is_word("AND"):
            self.advance()
            operands.append(self.not_expr())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def not_expr(self) -> Expr:
        token = self.peek()
        if token.is_word("NOT"):
            self.advance()
            self.nest(token)
            operand = self.not_expr()
            self.depth -= 1
            return Not(operand)
        if token.kind == "LPAREN":
            self.advance()
            self.nest(token)
            inner = self.or_expr()
            self.depth -= 1
            closing = self.peek()
            if closing.kind != "RPAREN":
                raise WQLError(f"expected ')', found {_describe(closing)}", closing.pos)
            self.advance()
            return inner
        return self.predicate()

    def operand(self) -> tuple[str, object, int]:
        """('prop', name, pos) or ('literal', value, pos)."""
        token = self.peek()
        if token.kind == "STRING":
            self.advance()
            return "literal", token.value, token.pos
        if token.kind == "NUMBER":
            self.advance()
            return "literal", token.value, token.pos
        if token.kind == "SIGN":
            self.advance()
            number = self.peek()
            if number.kind != "NUMBER":
                raise WQLError(f"expected a number after {token.value!r}", number.pos)
            self.advance()
            value = _number_token(number)
            return "literal", (-value if token.value == "-" else value), token.pos
        if token.is_word("TRUE", "FALSE"):
            self.advance()
            return "literal", str(token.value).upper() == "TRUE", token.pos
        if token.is_word("NULL"):
            self.advance()
            return "literal", None, token.pos
        if token.kind == "IDENT" and str(token.value).upper() not in _RESERVED:
            return "prop", self.dotted_name("a property name"), token.pos
        raise WQLError(f"expected a property name or a value, found {_describe(token)}", token.pos)

    def predicate(self) -> Expr:
        kind, left, left_pos = self.operand()
        token = self.peek()
        if kind == "prop":
            prop = str(left)
            if token.is_word("IS"):
                self.advance()
                negated = False
                if self.peek().is_word("NOT"):
                    self.advance()
                    negated = True
                self.expect_word("NULL")
                return IsNull(prop, negated)
            if token.is_word("ISA"):
                self.advance()
                return IsA(prop, self.isa_class())
            if token.is_word("NOT") and self.peek(1).is_word("LIKE"):
                self.advance()
                return Not(self.like(prop))
            if token.is_word("LIKE"):
                return self.like(prop)
        if token.kind != "OP":
            raise WQLError(f"expected a comparison operator, found {_describe(token)}", token.pos)
        self.advance()
        op = str(token.value)
        right_kind, right, _ = self.operand()
        if kind == "prop":
            if right_kind == "prop":
                return Comparison(str(left), op, PropertyRef(str(right)))
            return Comparison(str(left), op, _literal(right))
        if right_kind == "prop":
            return Comparison(str(right), _MIRRORED[op], _literal(left))
        raise WQLError("a comparison needs a property name on at least one side", left_pos)

    def like(self, prop: str) -> Like:
        self.expect_word("LIKE")
        token = self.peek()
        if token.kind != "STRING":
            raise WQLError("LIKE needs a quoted pattern", token.pos)
        self.advance()
        try:
            _compile_like(str(token.value))
        except WQLError as exc:
            raise WQLError(f"bad LIKE pattern: {exc.message}", token.pos) from None
        return Like(prop, str(token.value))

    def isa_class(self) -> str:
        token = self.peek()
        if token.kind in ("STRING", "IDENT"):
            value = str(token.value)
            if _IDENT_RE.fullmatch(value) is not None and not (
                token.kind == "IDENT" and value.upper() in _RESERVED
            ):
                self.advance()
                return value
        raise WQLError("ISA needs a class name", token.pos)

    # -- ASSOCIATORS OF / REFERENCES OF

    def associators(self) -> AssociatorsQuery:
        self.expect_word("ASSOCIATORS")
        source, fields = self.of_clause("ASSOCIATORS OF", allowed=None)
        return AssociatorsQuery(source, **fields)

    def references(self) -> ReferencesQuery:
        self.expect_word("REFERENCES")
        source, fields = self.of_clause("REFERENCES OF", allowed=_REFERENCES_ONLY_ALLOWS)
        return ReferencesQuery(source, **fields)

    def of_clause(self, what: str, allowed: frozenset[str] | None) -> tuple[str, dict[str, Any]]:
        self.expect_word("OF")
        token = self.peek()
        if token.kind != "BRACED":
            raise WQLError(f"{what} needs an object path in braces", token.pos)
        self.advance()
        source = str(token.value)
        if not source:
            raise WQLError("empty object path in braces", token.pos)
        fields: dict[str, str | bool] = {}
        if self.peek().is_word("WHERE"):
            self.advance()
            if self.peek().kind == "EOF":
                raise WQLError("WHERE needs at least one keyword", self.peek().pos)
            while self.peek().kind != "EOF":
                self.of_keyword(what, allowed, fields)
        self.expect_end()
        return source, fields

    def of_keyword(
        self, what: str, allowed: frozenset[str] | None, fields: dict[str, str | bool]
    ) -> None:
        token = self.peek()
        word = str(token.value).upper() if token.kind == "IDENT" else ""
        known = word in _ASSOC_VALUE_KEYWORDS or word in _ASSOC_FLAG_KEYWORDS
        if not known or (allowed is not None and word not in allowed):
            hint = " (keywords are separated by spaces, not AND)" if word == "AND" else ""
            raise WQLError(
                f"unexpected {_describe(token)} in the WHERE clause of {what}{hint}", token.pos
            )
        self.advance()
        field = _ASSOC_VALUE_KEYWORDS.get(word) or _ASSOC_FLAG_KEYWORDS[word]
        if field in fields:
            raise WQLError(f"{token.value} given twice", token.pos)
        if word in _ASSOC_FLAG_KEYWORDS:
            fields[field] = True
            if fields.get("class_defs_only") and fields.get("schema_only"):
                raise WQLError("ClassDefsOnly and SchemaOnly cannot be combined", token.pos)
            return
        equals = self.peek()
        if equals.kind != "OP" or equals.value != "=":
            raise WQLError(f"expected '=' after {token.value}", equals.pos)
        self.advance()
        value = self.peek()
        if value.kind not in ("IDENT", "STRING") or not str(value.value):
            raise WQLError(f"expected a name after {token.value} =", value.pos)
        self.advance()
        fields[field] = str(value.value)


def _number_token(token: _Token) -> int | float:
    value = token.value
    assert isinstance(value, int | float)  # the lexer only builds NUMBER tokens from numbers
    return value


def _literal(value: object) -> Literal:
    assert value is None or isinstance(value, str | int | float)  # built by _Parser.operand
    return value


def _describe(token: _Token) -> str:
    if token.kind == "EOF":
        return "end of query"
    if token.kind == "STRING":
        return "a string literal"
    if token.kind == "BRACED":
        return "an object path in braces"
    return repr(str(token.value))


# --------------------------------------------------------------------------------------------
# canonical text


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
        if not source or source != source.strip() or _scan_braced(source + "}", 0) != len(source):
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
            or _IDENT_RE.fullmatch(part) is None
            or part.upper() in _RESERVED
        ):
            raise WQLError(f"{name!r} cannot be written as a WQL name")
    return name


def _text_keyword_value(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise WQLError(f"invalid keyword value {value!r}")
    return value if _IDENT_RE.fullmatch(value) else _text_string(value)


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
        if abs(value) > _INT_LIMIT:
            raise WQLError(f"integer literal out of range: {value}")
        return str(int(value))
    if isinstance(value, float):
        return _text_float(value)
    if isinstance(value, str):
        return _text_string(value)
    raise WQLError(f"unsupported literal {value!r}")


def _text_expr(expr: Expr, depth: int) -> str:
    if depth > _MAX_DEPTH:
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


# --------------------------------------------------------------------------------------------
# LIKE


@dataclass(frozen=True)
class _CharSet:
    negated: bool
    singles: frozenset[str]
    ranges: tuple[tuple[str, str], ...]

    def matches(self, char: str) -> bool:
        found = any(
            candidate in self.singles or any(lo <= candidate <= hi for lo, hi in self.ranges)
            for candidate in _case_variants(char)
        )
        return found != self.negated


_ANY_SEQUENCE: Final = "%"
_ANY_CHAR: Final = "_"
_LikeElement: TypeAlias = str | _CharSet  # '%', '_' or a _CharSet; literals are 1-char strs


def _case_variants(char: str) -> tuple[str, ...]:
    # Only one-character case mappings count: 'ß'.upper() == 'SS' cannot match one character.
    variants = [char]
    for mapped in (char.lower(), char.upper()):
        if len(mapped) == 1 and mapped not in variants:
            variants.append(mapped)
    return tuple(variants)


def _compile_like(pattern: object) -> tuple[tuple[str, _LikeElement], ...]:
    if not isinstance(pattern, str):
        raise WQLError("LIKE pattern must be a string")
    if len(pattern) > MAX_CACHED_LIKE_PATTERN:
        return _compile_like_text.__wrapped__(pattern)
    return _compile_like_text(pattern)


# Patterns come from clients: only short ones are cached, so the cache stays small.
MAX_CACHED_LIKE_PATTERN = 256


@lru_cache(maxsize=512)
def _compile_like_text(pattern: str) -> tuple[tuple[str, _LikeElement], ...]:
    """Split a LIKE pattern into ('any', '%'), ('one', '_'), ('set', _CharSet) and
    ('lit', char) elements."""
    elements: list[tuple[str, _LikeElement]] = []
    pos = 0
    length = len(pattern)
    while pos < length:
        char = pattern[pos]
        if char == "%":
            # Consecutive '%' are one wildcard; collapsing keeps the matcher linear.
            if not elements or elements[-1][0] != "any":
                elements.append(("any", _ANY_SEQUENCE))
            pos += 1
        elif char == "_":
            elements.append(("one", _ANY_CHAR))
            pos += 1
        elif char == "[":
            charset, pos = _compile_charset(pattern, pos)
            elements.append(("set", charset))
        else:
            elements.append(("lit", char))
            pos += 1
    return tuple(elements)


def _compile_charset(pattern: str, start: int) -> tuple[_CharSet, int]:
    close = pattern.find("]", start + 1)
    if close < 0:
        raise WQLError("unterminated '[' in LIKE pattern", start)
    body = pattern[start + 1 : close]
    negated = body.startswith("^")
    if negated:
        body = body[1:]
    if not body:
        raise WQLError("empty character set in LIKE pattern", start)
    singles: set[str] = set()
    ranges: list[tuple[str, str]] = []
    index = 0
    while index < len(body):
        # WMI's documentation writes ranges as [a=f]; clients also use the usual [a-f].
        if index + 2 < len(body) and body[index + 1] in "-=":
            low, high = body[index], body[index + 2]
            if low > high:
                raise WQLError(
                    f"reversed range {low}{body[index + 1]}{high} in LIKE pattern", start
                )
            ranges.append((low, high))
            index += 3
        else:
            singles.add(body[index])
            index += 1
    return _CharSet(negated, frozenset(singles), tuple(ranges)), close + 1


def like_match(pattern: str, text: str) -> bool:
    """WMI LIKE: ``%`` any run, ``_`` one character, ``[abc]``, ``[a-z]`` / ``[a=z]``,
    ``[^a]``; case-insensitive, whole string."""
    elements = _compile_like(pattern)
    # Classic single-backtrack wildcard matching: every element except '%' consumes exactly
    # one character, so remembering only the most recent '%' is enough.
    p_index = t_index = 0
    star_index = -1
    star_text = 0
    while t_index < len(text):
        if p_index < len(elements) and elements[p_index][0] != "any":
            if _element_matches(elements[p_index], text[t_index]):
                p_index += 1
                t_index += 1
                continue
        elif p_index < len(elements):
            star_index = p_index
            star_text = t_index
            p_index += 1
            continue
        if star_index < 0:
            return False
        star_text += 1
        t_index = star_text
        p_index = star_index + 1
    while p_index < len(elements) and elements[p_index][0] == "any":
        p_index += 1
    return p_index == len(elements)


def _element_matches(element: tuple[str, _LikeElement], char: str) -> bool:
    kind, value = element
    if kind == "one":
        return True
    if kind == "set":
        assert isinstance(value, _CharSet)
        return value.matches(char)
    assert isinstance(value, str)
    return value == char or _fold(value) == _fold(char)


def _fold(char: str) -> str:
    lower = char.lower()
    return lower if len(lower) == 1 else char


# --------------------------------------------------------------------------------------------
# evaluation

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
    if depth > _MAX_DEPTH:
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
