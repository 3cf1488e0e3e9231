"""What a fault rule says, checked completely before it is stored (control API and scenario).

A rule matches requests or migration jobs (operation or method name, protocol, host, VM,
migration type, class, user), has a trigger (`probability` with its `seed`, `count`, `after`,
`duration_seconds`) and one effect. A bad rule is refused as a whole with a `FaultRuleError`
naming the field ("where") and what is wrong with it, as the scenario validator does.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

import pywbem
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# Effects that decide a whole request at the front end, and those decided deeper in.
TRANSPORT_EFFECTS = frozenset({"latency", "drop", "unreachable", "unauthorized"})
REQUEST_EFFECTS = TRANSPORT_EFFECTS | {"cim-error", "return-code"}
JOB_EFFECT = "fail-job"
# The methods that submit a migration job a fail-job rule can fail.
MIGRATION_METHODS = ("MigrateVirtualSystemToHost", "MigrateVirtualSystemToSystem")
# Where in a migration's progress a job may be failed (the phases of reference §16.2-16.3).
PHASES = ("setup", "storage", "memory", "blackout", "resume", "finish")
MIGRATION_TYPES = {"virtualsystem": 32768, "live": 32768, "storage": 32769,
                   "staged": 32770, "virtualsystemandstorage": 32771,
                   "shared-nothing": 32771}
PROTOCOLS = ("cim-xml", "wsman")
CIM_ERRORS = {name: getattr(pywbem, name) for name in dir(pywbem)
              if name.startswith("CIM_ERR_") and isinstance(getattr(pywbem, name), int)}
# Fields only one kind of effect uses: given with another effect the rule is refused.
EFFECT_FIELDS = {
    "fail-job": {"error", "at_percent", "at_phase"},
    "return-code": {"return_code"},
    "cim-error": {"cim_error", "message"},
    "latency": {"latency_ms", "jitter_ms"},
}
JOB_ONLY_FIELDS = {"vm", "migration_type"}


class FaultRuleError(ValueError):
    """A rule that cannot be stored: `where` names the field, the message says why."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.reason = message


class FaultRuleSpec(BaseModel):
    """One rule as clients send it (JSON or a scenario's [[faults]] table)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    effect: Literal["fail-job", "return-code", "cim-error", "latency", "drop", "unreachable",
                    "unauthorized"]
    # What it matches; a field left out matches anything.
    operation: str | None = Field(None, min_length=1,
                                  description="CIM operation, WS-Man action or method name")
    protocol: Literal["cim-xml", "wsman"] | None = None
    host: str | None = Field(None, min_length=1, description="the host whose endpoint serves "
                                                             "the request (a job's source)")
    vm: str | None = Field(None, min_length=1, description="a VM's ElementName or GUID")
    migration_type: int | str | None = None
    classname: str | None = Field(None, min_length=1)
    user: str | None = Field(None, min_length=1)
    # When it fires.
    probability: float = Field(1.0, ge=0.0, le=1.0)
    seed: int = 0
    count: int | None = Field(None, ge=1, description="fire at most this many times")
    after: int = Field(0, ge=0, description="let the first N matches pass")
    duration_seconds: float | None = Field(None, gt=0, description="the rule ends after this")
    # What it does.
    error: str | None = None
    at_percent: int | None = Field(None, ge=0, le=99)
    at_phase: Literal["setup", "storage", "memory", "blackout", "resume", "finish"] | None = None
    return_code: int | None = Field(None, ge=0, le=0xFFFFFFFF)
    cim_error: int | str | None = None
    message: str | None = None
    latency_ms: float | None = Field(None, ge=0, le=600_000)
    jitter_ms: float = Field(0.0, ge=0, le=600_000)

    @model_validator(mode="after")
    def _consistent(self) -> FaultRuleSpec:
        given = {name for name in self.model_fields_set}
        for effect, fields in EFFECT_FIELDS.items():
            if effect != self.effect:
                for name in sorted(given & fields):
                    raise _field_error(name, f"only used with effect {effect!r}, not "
                                             f"{self.effect!r}")
        if self.effect != JOB_EFFECT:
            for name in sorted(given & JOB_ONLY_FIELDS):
                raise _field_error(name, "only fail-job rules see the VM and migration type; "
                                         f"a {self.effect!r} rule would never match it")
        if self.effect == JOB_EFFECT:
            if self.error is None:
                raise _field_error("error", "fail-job needs a named error")
            if (self.at_percent is None) == (self.at_phase is None):
                raise _field_error("at_percent", "fail-job needs exactly one of at_percent "
                                                 "and at_phase")
            if self.user is not None or self.classname is not None:
                raise _field_error("user" if self.user is not None else "classname",
                                   "fail-job rules match migration methods, not users or "
                                   "classes")
            if self.operation is not None and self.operation.lower() not in {
                    m.lower() for m in MIGRATION_METHODS}:
                raise _field_error("operation", f"a fail-job rule matches only "
                                                f"{' or '.join(MIGRATION_METHODS)}")
        if self.effect == "return-code" and self.return_code is None:
            raise _field_error("return_code", "return-code needs the code to return")
        if self.effect == "cim-error" and self.cim_error is None:
            raise _field_error("cim_error", "cim-error needs a CIM status (name or number)")
        if self.effect == "latency" and self.latency_ms is None:
            raise _field_error("latency_ms", "latency needs latency_ms")
        if self.effect == "unreachable" and self.host is None:
            raise _field_error("host", "unreachable needs the host that stops answering")
        if self.effect == "unauthorized" and self.user is None:
            raise _field_error("user", "unauthorized needs the user to refuse")
        return self


class _FieldProblem(ValueError):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where


def _field_error(where: str, message: str) -> _FieldProblem:
    return _FieldProblem(where, message)


def parse_rule(data: Any, known_errors: Collection[str], where: str = "rule"
               ) -> dict[str, Any]:
    """The rule as stored (JSON-ready, names normalised); raises FaultRuleError."""
    if not isinstance(data, Mapping):
        raise FaultRuleError(where, f"a rule is an object of fields, not {type(data).__name__}")
    try:
        spec = FaultRuleSpec.model_validate(dict(data))
    except ValidationError as error:
        first = error.errors()[0]
        problem = first.get("ctx", {}).get("error")
        if isinstance(problem, _FieldProblem):
            raise FaultRuleError(f"{where}.{problem.where}", str(problem)) from None
        location = ".".join(str(part) for part in first["loc"])
        message = {"extra_forbidden": "unknown field"}.get(first["type"], first["msg"])
        raise FaultRuleError(f"{where}.{location}" if location else where, message) from None
    stored = spec.model_dump(exclude_none=True, exclude_defaults=True)
    stored["effect"] = spec.effect
    if spec.error is not None:
        name = spec.error.strip().lower()
        if name not in known_errors:
            raise FaultRuleError(f"{where}.error", f"unknown named error {spec.error!r}; known: "
                                                   f"{', '.join(sorted(known_errors))}")
        stored["error"] = name
    if spec.migration_type is not None:
        stored["migration_type"] = _migration_type(spec.migration_type, where)
    if spec.cim_error is not None:
        stored["cim_error"] = _cim_status(spec.cim_error, where)
    if spec.effect == "return-code" and spec.operation is None:
        raise FaultRuleError(f"{where}.operation", "return-code needs the method whose "
                                                   "return code it sets")
    return stored


def _migration_type(value: int | str, where: str) -> int:
    if isinstance(value, int):
        if value in MIGRATION_TYPES.values():
            return value
        raise FaultRuleError(f"{where}.migration_type",
                             f"{value} is not a MigrationType of a move (32768-32771)")
    number = MIGRATION_TYPES.get(value.strip().lower())
    if number is None:
        raise FaultRuleError(f"{where}.migration_type", f"unknown migration type {value!r}; "
                                                        f"known: {', '.join(MIGRATION_TYPES)}")
    return number


def _cim_status(value: int | str, where: str) -> int:
    if isinstance(value, int):
        if value in CIM_ERRORS.values() and value != 0:
            return value
        raise FaultRuleError(f"{where}.cim_error", f"{value} is not a CIM status code (1-29)")
    code = CIM_ERRORS.get(value.strip().upper())
    if code is None or code == 0:
        raise FaultRuleError(f"{where}.cim_error", f"unknown CIM status {value!r} (e.g. "
                                                   "CIM_ERR_ACCESS_DENIED)")
    return code
