"""/_hvsim/clock: the world clock (run scaled or frozen, advance) and how new jobs progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from emulator.control.context import ControlContext
from emulator.core.clock_control import (
    MAX_SCALE,
    ClockConflict,
    ClockControl,
    ClockInputError,
    ClockState,
    ClockUnavailable,
)

router = APIRouter(tags=["clock"])
Progression = Literal["clock", "immediate", "polls"]
T = TypeVar("T")


class ClockChange(BaseModel):
    """What PUT /clock changes; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid", strict=True)
    mode: Literal["scaled", "frozen"] | None = Field(
        None, description="scaled: simulated time runs `scale` times as fast as real time; "
                          "frozen: it stands still until advanced")
    scale: float | None = Field(None, gt=0, le=MAX_SCALE)
    progression: Progression | dict[str, Progression] | None = Field(
        None, description="how jobs submitted from now on progress: clock, immediate or "
                          "polls; one for every job, or per job class (Msvm_MigrationJob, "
                          "Msvm_ConcreteJob, * for the others)")


class Advance(BaseModel):
    """Either `seconds` or `to`."""

    model_config = ConfigDict(extra="forbid", strict=True)
    seconds: float | None = Field(None, gt=0, description="simulated seconds to move on")
    to: Literal["next-change", "idle"] | None = Field(
        None, description="next-change: the next moment a job starts, ends or is removed; "
                          "idle: until no job in progress is due to end")


def _control(request: Request) -> ClockControl:
    context: ControlContext = request.app.state.control
    if context.clock is None:
        raise HTTPException(404, "this server has no world clock")
    return context.clock


def _answer(state: ClockState, **extra: Any) -> dict[str, Any]:
    return {"mode": state.mode, "scale": state.scale,
            "now": state.now.isoformat().replace("+00:00", "Z"),
            "progression": state.progression, **extra}


def _run(action: Callable[[], T]) -> T:
    """The one translation of the clock's refusals into HTTP errors."""
    try:
        return action()
    except ClockInputError as error:
        raise HTTPException(422, f"{error.where}: {error}") from None
    except ClockConflict as error:
        raise HTTPException(409, str(error)) from None
    except ClockUnavailable as error:
        raise HTTPException(503, str(error), headers={"Retry-After": "1"}) from None


@router.get("/clock", summary="The world clock: mode, scale, simulated now, job progression")
def get_clock(request: Request) -> dict[str, Any]:
    return _answer(_run(_control(request).state))


@router.put("/clock", summary="Run the clock scaled or freeze it; change its scale or how "
                              "new jobs progress")
def put_clock(request: Request, change: ClockChange) -> dict[str, Any]:
    control = _control(request)
    return _answer(_run(lambda: control.change(mode=change.mode, scale=change.scale,
                                               progression=change.progression)))


@router.post("/clock/advance", summary="Move a frozen clock on (409 when it is not frozen)")
def advance_clock(request: Request, advance: Advance) -> dict[str, Any]:
    control = _control(request)
    state, moved = _run(lambda: control.advance(seconds=advance.seconds, to=advance.to))
    return _answer(state, advanced_seconds=moved)
