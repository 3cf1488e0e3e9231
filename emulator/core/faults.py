"""Fault rules at run time: which request or migration job a rule hits, and what it does.

The rules and their counters live in the store, so every process sharing it agrees. Front ends
ask `FaultRules.request` once per request, with the world version they read anyway: the rules
are loaded again only when that version moved (adding or removing a rule bumps it), so while
no rule exists a request pays one comparison. A rule whose filters match counts a match in the
store; it fires unless it is within its first `after` matches, spent (`count`), or its seeded
draw (`probability`) says no. Draws depend only on the rule's seed and the match number, so a
run repeats exactly.

Effects a front end carries out (latency, a dropped connection, an unreachable host, 401) come
back as an `InjectedFault`; a CIM error is raised by the front end into its own translation; a
return code is answered by the core for the method (`forced_return_code`); a failing migration
job is decided by the migration provider, which asks `ProviderContext.faults` (`job_failure`)
for the facts it alone knows (VM, migration type, phases of the plan).
"""

from __future__ import annotations

import contextlib
import contextvars
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pywbem import CIMError

from emulator.core.fault_spec import (
    JOB_EFFECT,
    MIGRATION_METHODS,
    REQUEST_EFFECTS,
    FaultRuleError,
    parse_rule,
)
from emulator.core.guard import guarded, guarded_write
from providers.base import Clock, JobFacts, JobFailure
from storage.db import Store
from storage.fault_rules import SqlFaultRules, StoredFaultRule

API, SCENARIO = "api", "scenario"


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What a front end knows of a request when it asks the rules."""

    protocol: str  # "cim-xml" or "wsman"
    host: str
    operations: tuple[str, ...]  # the operation's names, e.g. ("Invoke", "RequestStateChange")
    classname: str | None = None
    user: str | None = None


@dataclass
class InjectedFault:
    """What fired rules make of one request."""

    rules: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0
    drop: bool = False  # close the connection without an answer (drop, unreachable)
    unauthorized: bool = False
    cim_error: CIMError | None = None
    return_code: int | None = None

    @property
    def stops_request(self) -> bool:
        """Nothing runs: the client gets no answer, or a 401."""
        return self.drop or self.unauthorized


@dataclass
class FaultSlot:
    """Carries a request's InjectedFault from the worker thread back to the event loop."""

    fault: InjectedFault | None = None


@dataclass(frozen=True, slots=True)
class _Rule:
    id: int
    spec: dict[str, Any]
    expires_at: datetime | None

    def get(self, name: str, default: Any = None) -> Any:
        return self.spec.get(name, default)


# The request being answered on this thread: its facts (job rules may filter on protocol and
# user) and the decision made for it (a forced return code).
_CURRENT: contextvars.ContextVar[tuple[RequestFacts, InjectedFault | None] | None] = \
    contextvars.ContextVar("hvsim_fault_request", default=None)


class FaultRules:
    def __init__(self, store: Store, clock: Clock, known_errors: Iterable[str] = ()) -> None:
        self.store = store  # also what emulator.core.guard retries against
        self.clock = clock
        self.known_errors = frozenset(known_errors)
        self._snapshot: tuple[int, tuple[_Rule, ...]] | None = None

    # ---------------------------------------------------------------- control plane

    def validate(self, data: Any, where: str = "rule") -> dict[str, Any]:
        """The rule as it would be stored; raises FaultRuleError."""
        return parse_rule(data, self.known_errors, where)

    @guarded
    def rules(self) -> list[dict[str, Any]]:
        with self.store.unit_of_work() as uow:
            return [describe(rule) for rule in uow.faults.all()]

    def add(self, rules: Sequence[Any], origin: str = API,
            where: str = "rules") -> list[dict[str, Any]]:
        """Store every rule, or none of them when one is bad (FaultRuleError)."""
        specs = [self.validate(data, f"{where}[{index}]") for index, data in enumerate(rules)]
        return self._store(specs, origin)

    @guarded_write
    def _store(self, specs: list[dict[str, Any]], origin: str) -> list[dict[str, Any]]:
        now = self.clock.now()
        with self.store.unit_of_work() as uow:
            added = [uow.faults.add(spec, origin, now, _expiry(spec, now)) for spec in specs]
            uow.commit()
        return [describe(rule) for rule in added]

    @guarded_write
    def remove(self, rule_id: int) -> bool:
        with self.store.unit_of_work() as uow:
            removed = uow.faults.remove(rule_id)
            uow.commit()
        return removed

    @guarded_write
    def clear(self) -> int:
        with self.store.unit_of_work() as uow:
            removed = uow.faults.clear()
            uow.commit()
        return removed

    # ------------------------------------------------------------------ request path

    @contextlib.contextmanager
    def request(self, facts: RequestFacts, version: int) -> Iterator[InjectedFault | None]:
        """Decide the request's fault (None: no rule fired) and keep its facts current while
        it is answered, for the job rules and return codes decided deeper in the core."""
        rules = self._rules(version)
        fault = self._decide(facts, rules) if rules else None
        token = _CURRENT.set((facts, fault))
        try:
            yield fault
        finally:
            _CURRENT.reset(token)

    @staticmethod
    def forced_return_code() -> int | None:
        current = _CURRENT.get()
        fault = current[1] if current is not None else None
        return fault.return_code if fault is not None else None

    def _rules(self, version: int) -> tuple[_Rule, ...]:
        snapshot = self._snapshot
        if snapshot is None or snapshot[0] != version:
            snapshot = (version, self._load())
            self._snapshot = snapshot
        return snapshot[1]

    @guarded
    def _load(self) -> tuple[_Rule, ...]:
        with self.store.unit_of_work() as uow:
            return tuple(_Rule(r.id, r.spec, r.expires_at) for r in uow.faults.all()
                         if r.spec.get("effect") in REQUEST_EFFECTS)

    def _decide(self, facts: RequestFacts, rules: tuple[_Rule, ...]) -> InjectedFault | None:
        now = self.clock.now()
        candidates = [rule for rule in rules if _active(rule, now) and _matches(rule, facts)]
        return self._fire(candidates) if candidates else None

    @guarded_write
    def _fire(self, candidates: list[_Rule]) -> InjectedFault | None:
        fault: InjectedFault | None = None
        with self.store.unit_of_work() as uow:
            for rule in candidates:
                number = _fires(uow.faults, rule)
                if number is None:
                    continue
                fault = fault or InjectedFault()
                _apply(fault, rule, number)
            uow.commit()
        return fault

    # ----------------------------------------------------------------------- jobs

    def bound(self, faults: SqlFaultRules) -> BoundJobFaults:
        """The job rules as a provider sees them, inside the unit of work of its method."""
        return BoundJobFaults(faults, self.clock)


class BoundJobFaults:
    """providers.base.JobFaults over the rules in one unit of work: a job that a rule fails
    and the counting of it are committed together."""

    def __init__(self, faults: SqlFaultRules, clock: Clock) -> None:
        self.faults = faults
        self.clock = clock

    def job_failure(self, facts: JobFacts) -> JobFailure | None:
        current = _CURRENT.get()
        request = current[0] if current is not None else None
        now = self.clock.now()
        for stored in self.faults.all():
            rule = _Rule(stored.id, stored.spec, stored.expires_at)
            if rule.get("effect") != JOB_EFFECT or not _active(rule, now):
                continue
            if not _matches_job(rule, facts, request):
                continue
            if _fires(self.faults, rule) is not None:
                return JobFailure(rule.id, str(rule.get("error")), rule.get("at_percent"),
                                  rule.get("at_phase"))
        return None


# --------------------------------------------------------------------------- matching

def _active(rule: _Rule, now: datetime) -> bool:
    return rule.expires_at is None or now < rule.expires_at


def _same(wanted: str | None, value: str | None) -> bool:
    return wanted is None or (value is not None and wanted.lower() == value.lower())


def _matches(rule: _Rule, facts: RequestFacts) -> bool:
    operation = rule.get("operation")
    return (_same(rule.get("protocol"), facts.protocol) and _same(rule.get("host"), facts.host)
            and _same(rule.get("classname"), facts.classname)
            and _same(rule.get("user"), _account(facts.user))
            and (operation is None
                 or operation.lower() in (name.lower() for name in facts.operations)))


def _account(user: str | None) -> str | None:
    """DOMAIN\\user and user@domain name the same account as user."""
    return user.split("\\")[-1].split("@")[0] if user else user


def _matches_job(rule: _Rule, facts: JobFacts, request: RequestFacts | None) -> bool:
    operation = rule.get("operation")
    if operation is not None and operation.lower() != facts.method.lower():
        return False
    if facts.method.lower() not in (m.lower() for m in MIGRATION_METHODS):
        return False
    vm = rule.get("vm")
    if vm is not None and vm.lower() not in (facts.vm_name.lower(), facts.vm_guid.lower()):
        return False
    if rule.get("migration_type") not in (None, facts.migration_type):
        return False
    phase = rule.get("at_phase")
    if phase is not None and phase not in facts.phases:
        return False
    protocol = rule.get("protocol")
    if protocol is not None and (request is None or request.protocol != protocol):
        return False
    return _same(rule.get("host"), facts.host)


def _fires(faults: SqlFaultRules, rule: _Rule) -> int | None:
    """Count a match; the match number when the rule fires, else None."""
    number = faults.count_match(rule.id)
    if number is None or number <= int(rule.get("after", 0)):
        return None
    probability = float(rule.get("probability", 1.0))
    if probability < 1.0 and _draw(rule, number, "fire") >= probability:
        return None
    return number if faults.count_fire(rule.id, rule.get("count")) else None


def _draw(rule: _Rule, number: int, purpose: str) -> float:
    """A number in [0, 1) fixed by the rule's seed and the match number."""
    return random.Random(f"hvsim-fault:{rule.get('seed', 0)}:{number}:{purpose}").random()


def _apply(fault: InjectedFault, rule: _Rule, number: int) -> None:
    fault.rules.append(rule.id)
    effect = rule.get("effect")
    if effect == "latency":
        jitter = float(rule.get("jitter_ms", 0.0))
        spread = (2 * _draw(rule, number, "jitter") - 1) * jitter
        fault.delay_seconds += max(0.0, float(rule.get("latency_ms", 0.0)) + spread) / 1000
    elif effect in ("drop", "unreachable"):
        fault.drop = True
    elif effect == "unauthorized":
        fault.unauthorized = True
    elif effect == "cim-error" and fault.cim_error is None:
        code = int(rule.get("cim_error"))
        fault.cim_error = CIMError(code, rule.get("message") or
                                   f"injected by hvsim fault rule {rule.id}")
    elif effect == "return-code" and fault.return_code is None:
        fault.return_code = int(rule.get("return_code"))


def _expiry(spec: dict[str, Any], now: datetime) -> datetime | None:
    seconds = spec.get("duration_seconds")
    return now + timedelta(seconds=float(seconds)) if seconds is not None else None


def describe(rule: StoredFaultRule) -> dict[str, Any]:
    """A stored rule as the control API shows it."""
    return {"id": rule.id, **rule.spec, "origin": rule.origin,
            "created_at": rule.created_at.isoformat(),
            "expires_at": rule.expires_at.isoformat() if rule.expires_at else None,
            "matched": rule.matched, "fired": rule.fired}


__all__ = ["FaultRuleError", "FaultRules", "FaultSlot", "InjectedFault", "RequestFacts"]
