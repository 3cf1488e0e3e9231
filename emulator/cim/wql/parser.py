"""WQL tokens to the query tree: SELECT, ASSOCIATORS OF and REFERENCES OF."""

from __future__ import annotations

import math
from typing import Any, Final

from emulator.cim.wql.errors import WQLError
from emulator.cim.wql.lexer import IDENT_RE, RESERVED, Token, lex
from emulator.cim.wql.like import compile_like
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

# "5 < Prop" means "Prop > 5"; equality operators are their own mirror.
_MIRRORED: Final = {"=": "=", "<>": "<>", "<": ">", ">": "<", "<=": ">=", ">=": "<="}


def parse(text: str) -> Query:
    """Parse one WQL query. Raises WQLError, and only WQLError, for anything malformed."""
    if not isinstance(text, str):
        raise WQLError(f"query must be a string, not {type(text).__name__}")
    parser = _Parser(lex(text))
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
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    # -- token helpers

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.peek()
        if token.kind != "EOF":
            self.index += 1
        return token

    def expect_word(self, word: str) -> Token:
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
        if token.kind != "IDENT" or str(token.value).upper() in RESERVED:
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

    def nest(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
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
        if token.kind == "IDENT" and str(token.value).upper() not in RESERVED:
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
            compile_like(str(token.value))
        except WQLError as exc:
            raise WQLError(f"bad LIKE pattern: {exc.message}", token.pos) from None
        return Like(prop, str(token.value))

    def isa_class(self) -> str:
        token = self.peek()
        if token.kind in ("STRING", "IDENT"):
            value = str(token.value)
            if IDENT_RE.fullmatch(value) is not None and not (
                token.kind == "IDENT" and value.upper() in RESERVED
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


def _number_token(token: Token) -> int | float:
    value = token.value
    assert isinstance(value, int | float)  # the lexer only builds NUMBER tokens from numbers
    return value


def _literal(value: object) -> Literal:
    assert value is None or isinstance(value, str | int | float)  # built by _Parser.operand
    return value


def _describe(token: Token) -> str:
    if token.kind == "EOF":
        return "end of query"
    if token.kind == "STRING":
        return "a string literal"
    if token.kind == "BRACED":
        return "an object path in braces"
    return repr(str(token.value))
