"""What the world routes (`state.py`) ask of the composition root: whole-world actions.

The composition root hands in an object of this shape (emulator/world_admin.py adapts
emulator/setup/world_control.py); the routes never see the store. Each action raises a
`refusals.ControlRefusal` for bad input and an unavailable database, with nothing changed.
"""

from __future__ import annotations

from typing import Any, Protocol


class WorldAdmin(Protocol):
    def health(self) -> dict[str, Any]:
        """{"ready", "version", "database", "endpoints", "world"}."""

    def reset(self) -> dict[str, Any]:
        """Back to the start scenario; a summary of the world now."""

    def export(self) -> str:
        """The whole world as a scenario file (TOML)."""

    def load(self, document: str) -> dict[str, Any]:
        """Replace the world by a scenario file's world; a summary of it."""

    def snapshots(self) -> list[dict[str, Any]]: ...

    def take_snapshot(self, name: str) -> dict[str, Any]: ...

    def restore(self, name: str) -> dict[str, Any]: ...

    def delete_snapshot(self, name: str) -> None: ...
