"""WMI's LIKE: pattern compilation (cached for short patterns) and a linear matcher."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final, TypeAlias

from emulator.cim.wql.errors import WQLError


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


def compile_like(pattern: object) -> tuple[tuple[str, _LikeElement], ...]:
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
    elements = compile_like(pattern)
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
