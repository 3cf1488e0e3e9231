"""`Keyboards` in memory, for the fake world (storage/keyboards.py is the SQL one)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime

from storage.models import KeyboardInput

DETAIL_CHARS = 512


class FakeKeyboardState:
    """What the fake world keeps: each VM's inputs, oldest first, and its keys down."""

    def __init__(self) -> None:
        self.inputs: dict[int, list[KeyboardInput]] = defaultdict(list)
        self.down: dict[int, dict[int, datetime]] = defaultdict(dict)
        self.ids = itertools.count(1)

    def forget(self, vm_id: int) -> None:
        """A destroyed VM's keyboard goes with it (the store cascades the delete)."""
        self.inputs.pop(vm_id, None)
        self.down.pop(vm_id, None)


class FakeKeyboards:
    def __init__(self, state: FakeKeyboardState) -> None:
        self._state = state

    def record(self, vm_id: int, *, at: datetime, method: str, detail: str, typed: str,
               keep: int) -> None:
        entries = self._state.inputs[vm_id]
        entries.append(KeyboardInput(id=next(self._state.ids), vm_id=vm_id, at=at,
                                     method=method, detail=detail[:DETAIL_CHARS],
                                     typed=typed[-DETAIL_CHARS:]))
        del entries[:-keep]

    def recent(self, vm_id: int, limit: int) -> list[KeyboardInput]:
        return list(self._state.inputs.get(vm_id, [])[-limit:])

    def keys_down(self, vm_id: int, *, since: datetime) -> set[int]:
        return {code for code, at in self._state.down.get(vm_id, {}).items() if at >= since}

    def press(self, vm_id: int, key_code: int, *, at: datetime) -> None:
        self._state.down[vm_id][key_code] = at

    def release(self, vm_id: int, key_code: int) -> None:
        self._state.down[vm_id].pop(key_code, None)
