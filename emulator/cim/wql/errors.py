"""The one exception every WQL problem raises, so callers map a single type to
``CIM_ERR_INVALID_QUERY`` / a WS-Man fault."""

from __future__ import annotations


class WQLError(ValueError):
    """A query is malformed or cannot be evaluated; ``position`` is a 0-based offset into the
    query text when the problem has one."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.message = message
        self.position = position
        super().__init__(message if position is None else f"{message} (at position {position})")
