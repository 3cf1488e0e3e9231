"""WQL text to tokens; the lexical limits (names, integers, reserved words) the parser and
the canonical writer share live here too."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

from emulator.cim.objectpath import unescape_pair
from emulator.cim.wql.errors import WQLError

IDENT_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_RE: Final = re.compile(r"0[xX][0-9A-Fa-f]+|[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?")
_OPERATORS: Final = ("<>", "!=", "<=", ">=", "=", "<", ">")
_PUNCTUATION: Final = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA", "*": "STAR", ".": "DOT"}
# Words that can never be a property name in a SELECT; ASSOCIATORS/REFERENCES keywords
# (ResultClass, Role, ...) are only special inside their own WHERE clause.
RESERVED: Final = frozenset(
    {"SELECT", "FROM", "WHERE", "WITHIN", "AND", "OR", "NOT", "LIKE", "IS", "ISA", "NULL",
     "TRUE", "FALSE"}
)  # fmt: skip
# Every CIM integer type fits in 64 bits; anything larger is a typo or an attack, and
# refusing it early also keeps clear of Python's int/str conversion limit.
INT_LIMIT: Final = 2**64


@dataclass(frozen=True)
class Token:
    kind: str  # IDENT STRING NUMBER OP LPAREN RPAREN COMMA STAR DOT SIGN BRACED EOF
    value: object
    pos: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "IDENT" and str(self.value).upper() in words


def lex(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    length = len(text)
    while True:
        while pos < length and text[pos].isspace():
            pos += 1
        if pos >= length:
            tokens.append(Token("EOF", None, pos))
            return tokens
        char = text[pos]
        if char in "'\"":
            value, end = _lex_string(text, pos)
            tokens.append(Token("STRING", value, pos))
            pos = end
        elif char == "{":
            value, end = _lex_braced(text, pos)
            tokens.append(Token("BRACED", value, pos))
            pos = end
        elif char.isascii() and (char.isalpha() or char == "_"):
            match = IDENT_RE.match(text, pos)
            assert match is not None  # the first character already qualifies
            tokens.append(Token("IDENT", match.group(), pos))
            pos = match.end()
        elif char.isascii() and char.isdigit():
            number, end = _lex_number(text, pos)
            tokens.append(Token("NUMBER", number, pos))
            pos = end
        elif char in "-+":
            tokens.append(Token("SIGN", char, pos))
            pos += 1
        elif char in _PUNCTUATION:
            tokens.append(Token(_PUNCTUATION[char], char, pos))
            pos += 1
        else:
            for op in _OPERATORS:
                if text.startswith(op, pos):
                    tokens.append(Token("OP", "<>" if op == "!=" else op, pos))
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
        number: int | float = int(literal, 16) if len(literal) <= 40 else INT_LIMIT + 1
    elif "." in literal or "e" in literal or "E" in literal:
        number = float(literal)
        if not math.isfinite(number):
            raise WQLError("number out of range", start)
        return number, end
    else:
        number = int(literal) if len(literal) <= 40 else INT_LIMIT + 1
    if number > INT_LIMIT:
        raise WQLError("integer out of range", start)
    return number, end


def _lex_braced(text: str, start: int) -> tuple[str, int]:
    """The raw object path of ASSOCIATORS/REFERENCES OF {...}; a '}' inside a quoted key
    value does not end it."""
    end = scan_braced(text, start + 1)
    if end < 0:
        raise WQLError("unterminated '{' (object path; a '{' or '}' in it must be quoted)", start)
    return text[start + 1 : end].strip(), end + 1


def scan_braced(text: str, pos: int) -> int:
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
