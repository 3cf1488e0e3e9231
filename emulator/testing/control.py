"""The harness's side of the control API (/_hvsim/ on a host endpoint): the world clock, fault
rules, reset, state and snapshots, each one documented HTTP call.

A refusal raises `ControlError` with the server's `where` and `detail`, e.g.
"http://127.0.0.1:41234/_hvsim/snapshots/x/restore: HTTP 404: name: no snapshot named 'x'".
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from emulator.control.client import ControlError, basic_header, call, send

ClockMode = Literal["scaled", "frozen"]
Progression = Literal["clock", "immediate", "polls"]

__all__ = ["Clock", "ClockMode", "ControlClient", "ControlError", "Faults", "Progression"]


class ControlClient:
    """JSON calls to one endpoint's control API, with Basic credentials (which a strict-mode
    server asks for and a sandbox ignores)."""

    def __init__(self, url: str, user: str, password: str, timeout: float = 60.0) -> None:
        self.url = url
        self.headers = basic_header(user, password)
        self.timeout = timeout

    def json(self, method: str, path: str, payload: Any = None) -> Any:
        return call(self.url, method, path, self.headers, payload, timeout=self.timeout)

    def text(self, method: str, path: str, body: str | None = None,
             content_type: str | None = None) -> str:
        _, answer = send(self.url, method, path, self.headers,
                         None if body is None else body.encode(), content_type,
                         timeout=self.timeout)
        return answer.decode("utf-8")


class Clock:
    """The world clock (GET|PUT /_hvsim/clock, POST /_hvsim/clock/advance)."""

    def __init__(self, control: ControlClient) -> None:
        self._control = control

    def state(self) -> dict[str, Any]:
        """`{"mode", "scale", "now", "progression"}` as the server reports them."""
        return dict(self._control.json("GET", "/clock"))

    @property
    def now(self) -> datetime:
        """Simulated now (UTC)."""
        return datetime.fromisoformat(self.state()["now"].replace("Z", "+00:00"))

    def set(self, *, mode: ClockMode | None = None, scale: float | None = None,
            progression: Progression | Mapping[str, Progression] | None = None
            ) -> dict[str, Any]:
        """Change what is given, keep the rest (PUT /_hvsim/clock)."""
        change: dict[str, Any] = {"mode": mode, "scale": scale,
                                  "progression": None if progression is None
                                  else progression if isinstance(progression, str)
                                  else dict(progression)}
        return dict(self._control.json("PUT", "/clock",
                                       {k: v for k, v in change.items() if v is not None}))

    def freeze(self) -> dict[str, Any]:
        """Time stands still until `advance`."""
        return self.set(mode="frozen")

    def run(self, scale: float | None = None) -> dict[str, Any]:
        """Time runs again from where it stood, `scale` times as fast as real time if given."""
        return self.set(mode="scaled", scale=scale)

    def advance(self, seconds: float | None = None, *,
                to: Literal["next-change", "idle"] | None = None) -> dict[str, Any]:
        """Move a frozen clock on by `seconds`, or `to` the next change or until no job is due
        to end; the answer carries `advanced_seconds`. ControlError (409) when not frozen."""
        if (seconds is None) == (to is None):
            raise ValueError("give either seconds or to='next-change'|'idle'")
        payload: dict[str, Any] = {"to": to} if seconds is None else {"seconds": float(seconds)}
        return dict(self._control.json("POST", "/clock/advance", payload))


class Faults:
    """Fault rules (GET|POST|DELETE /_hvsim/faults); fields as in the README's "Fault rules"."""

    def __init__(self, control: ControlClient) -> None:
        self._control = control

    def add(self, rule: Mapping[str, Any] | None = None, /, **fields: Any) -> dict[str, Any]:
        """Add one rule, given as a mapping or as keywords; the stored rule, with its `id`."""
        (added,) = self.add_many([{**(rule or {}), **fields}])
        return added

    def add_many(self, rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Add several rules at once: all of them or, on a refusal, none."""
        answer = self._control.json("POST", "/faults", [dict(rule) for rule in rules])
        return [dict(rule) for rule in answer["rules"]]

    def list(self) -> list[dict[str, Any]]:
        """The rules, each with `id`, `origin`, `matched` and `fired`."""
        return [dict(rule) for rule in self._control.json("GET", "/faults")["rules"]]

    def remove(self, rule_id: int) -> None:
        self._control.json("DELETE", f"/faults/{int(rule_id)}")

    def clear(self) -> int:
        """Remove every rule (the scenario's too, until the next reset); how many there were."""
        return int(self._control.json("DELETE", "/faults")["removed"])


def snapshot_path(name: str) -> str:
    return f"/snapshots/{urllib.parse.quote(name, safe='')}"
