"""Where failures leave the dispatcher: the one place that turns them into CIM errors.

CIM errors pass unchanged. Database failures become `ServiceUnavailable` after a bounded
number of quiet retries when running the work again is safe: a read always is; work that
writes only while it has committed nothing (its transaction was rolled back as a whole).
Anything else is a bug: logged once with its traceback and answered as an internal error.

Guarded calls nest (GetProperty runs GetInstance, a read runs job settling). The retry
happens at the outermost call that may still run again, so attempts never multiply.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from pywbem import CIM_ERR_FAILED, CIMError

from emulator.core.unavailable import ServiceUnavailable
from storage.db import CommitWatch, Store
from storage.errors import StaleWrite, StoreUnavailable, classify

log = logging.getLogger("hvsim.dispatch")
P = ParamSpec("P")
T = TypeVar("T")

# Pauses before the 2nd, 3rd and 4th attempt: together about as long as a PostgreSQL restart.
RETRY_DELAYS = (0.1, 0.3, 0.9)


@dataclass(slots=True)
class _Attempt:
    writes: bool
    watch: CommitWatch

    def may_run_again(self) -> bool:
        return not (self.writes and self.watch.changed)


_ATTEMPT: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "hvsim_guarded_attempt", default=None)


def may_retry(failure: StoreUnavailable, attempt: int, *, writes: bool,
              changed: bool) -> bool:
    """Whether attempt number `attempt` (1-based), which failed so, may be followed by another.

    Only transient failures (connection lost or refused, serialization failure, deadlock) are
    retried: a timeout has already waited its bound. Work that writes is retried only while
    nothing of it was committed, or may have been (a COMMIT whose answer was lost).
    """
    if not failure.transient or attempt > len(RETRY_DELAYS):
        return False
    return not (writes and (changed or failure.outcome_unknown))


def unavailable(failure: StoreUnavailable, attempts: int) -> ServiceUnavailable:
    """The CIM error a client gets: what happened, and that trying again later may work."""
    tried = f" ({attempts} attempts)" if attempts > 1 else ""
    return ServiceUnavailable(f"{failure.explanation()}{tried}; retry the operation",
                              timed_out=failure.timed_out)


def guarded(method: Callable[P, T]) -> Callable[P, T]:
    """For operations that only read (re-running them, job settling included, is safe)."""
    return _guard(method, writes=False)


def guarded_write(method: Callable[P, T]) -> Callable[P, T]:
    """For operations that commit changes a client asked for or depends on."""
    return _guard(method, writes=True)


def _guard(method: Callable[P, T], *, writes: bool) -> Callable[P, T]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        outer = _ATTEMPT.get()
        if outer is not None and outer.may_run_again():
            return method(*args, **kwargs)  # the enclosing call handles failures and retries
        return _run(method, args, kwargs, writes=writes, store=_store_of(args))
    return wrapper


def _store_of(args: tuple[Any, ...]) -> Store | None:
    # Guarded methods belong to objects that know their store (Dispatcher, Enumerations).
    return getattr(args[0], "store", None) if args else None


def _run(method: Callable[..., T], args: Any, kwargs: Any, *, writes: bool,
         store: Store | None) -> T:
    # Every attempt's lock waits share the request's one bound (unless a front end opened
    # the budget for the whole request already).
    with store.wait_budget() if store is not None else contextlib.nullcontext():
        return _attempts(method, args, kwargs, writes=writes, store=store)


def _attempts(method: Callable[..., T], args: Any, kwargs: Any, *, writes: bool,
              store: Store | None) -> T:
    attempt = 1
    while True:
        watch = CommitWatch()
        token = _ATTEMPT.set(_Attempt(writes, watch))
        try:
            return method(*args, **kwargs)
        except CIMError:
            raise
        except StaleWrite as error:
            raise CIMError(CIM_ERR_FAILED, "the object was changed by another request; "
                                           "retry the operation") from error
        except Exception as error:
            failure = store.failure(error) if store is not None else classify(error)
            if failure is None:
                log.exception("internal error in %s", method.__name__)
                raise CIMError(CIM_ERR_FAILED,
                               f"internal error: {type(error).__name__}") from error
            if not may_retry(failure, attempt, writes=writes, changed=watch.changed):
                log.debug("%s failed: %s", method.__name__, failure.explanation(),
                          exc_info=True)
                if failure.timed_out and store is not None:
                    store.health.waited_too_long(method.__name__, failure.explanation())
                raise unavailable(failure, attempt) from error
            # Expected while the database restarts; the health log says so once.
            log.debug("%s: attempt %d failed (%s); retrying", method.__name__, attempt,
                      failure.reason, exc_info=True)
        finally:
            _ATTEMPT.reset(token)
            watch.close()
        time.sleep(RETRY_DELAYS[attempt - 1])
        attempt += 1
