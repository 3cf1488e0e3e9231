"""`Keyboards` in SQL: the bounded record of what was typed on each VM and the keys held down."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import KeyboardInput, KeyboardKeyDown

DETAIL_CHARS = 512


class SqlKeyboards:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(self, vm_id: int, *, at: datetime, method: str, detail: str, typed: str,
               keep: int) -> None:
        self._session.add(KeyboardInput(vm_id=vm_id, at=at, method=method,
                                        detail=detail[:DETAIL_CHARS],
                                        typed=typed[-DETAIL_CHARS:]))
        self._session.flush()
        oldest_kept = self._session.scalar(
            select(KeyboardInput.id).where(KeyboardInput.vm_id == vm_id)
            .order_by(KeyboardInput.id.desc()).offset(keep - 1).limit(1))
        if oldest_kept is not None:
            self._session.execute(delete(KeyboardInput).where(
                KeyboardInput.vm_id == vm_id, KeyboardInput.id < oldest_kept))

    def recent(self, vm_id: int, limit: int) -> list[KeyboardInput]:
        newest = list(self._session.scalars(
            select(KeyboardInput).where(KeyboardInput.vm_id == vm_id)
            .order_by(KeyboardInput.id.desc()).limit(limit)))
        return newest[::-1]

    def keys_down(self, vm_id: int, *, since: datetime) -> set[int]:
        return set(self._session.scalars(
            select(KeyboardKeyDown.key_code).where(KeyboardKeyDown.vm_id == vm_id,
                                                   KeyboardKeyDown.pressed_at >= since)))

    def press(self, vm_id: int, key_code: int, *, at: datetime) -> None:
        held = self._session.get(KeyboardKeyDown, (vm_id, key_code))
        if held is None:
            self._session.add(KeyboardKeyDown(vm_id=vm_id, key_code=key_code, pressed_at=at))
            self._session.flush()
        else:
            held.pressed_at = at

    def release(self, vm_id: int, key_code: int) -> None:
        self._session.execute(delete(KeyboardKeyDown).where(
            KeyboardKeyDown.vm_id == vm_id, KeyboardKeyDown.key_code == key_code))
