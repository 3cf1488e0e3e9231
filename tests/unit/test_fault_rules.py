"""Fault rules without a server: what a rule may say, where a failing job stops, and that
probability draws repeat."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.core.fault_spec import FaultRuleError, parse_rule
from emulator.core.faults import _draw, _Rule
from providers.migration.fault_errors import FAULT_ERRORS
from providers.migration.plan_cuts import phase_of, plan_until_percent, plan_until_phase

PLAN: list[list[float | str]] = [
    [3.0, 0.0, 10.0, "Connecting to the destination host"],
    [20.0, 10.0, 70.0, "Copying memory: pass 1"],
    [5.0, 70.0, 90.0, "Copying memory: pass 2"],
    [1.0, 90.0, 95.0, "Transferring final state (virtual machine paused)"],
    [1.0, 95.0, 99.0, "Resuming on the destination host"],
]


def test_a_good_rule_is_normalised() -> None:
    stored = parse_rule({"effect": "fail-job", "vm": "web-01", "at_percent": 40,
                         "error": "Destination-Out-Of-Memory", "migration_type": "live"},
                        FAULT_ERRORS)
    assert stored == {"effect": "fail-job", "vm": "web-01", "at_percent": 40,
                      "error": "destination-out-of-memory", "migration_type": 32768}
    assert parse_rule({"effect": "cim-error", "cim_error": "cim_err_not_found"},
                      FAULT_ERRORS)["cim_error"] == 6


@pytest.mark.parametrize(("rule", "where"), [
    ({"effect": "drop", "extra": 1}, "rule.extra"),
    ({"effect": "explode"}, "rule.effect"),
    ({"effect": "drop", "probability": 2}, "rule.probability"),
    ({"effect": "drop", "after": True}, "rule.after"),
    ({"effect": "fail-job", "error": "nope", "at_percent": 1}, "rule.error"),
    ({"effect": "fail-job", "error": "credssp-failed", "at_percent": 1,
      "operation": "GetInstance"}, "rule.operation"),
    ({"effect": "return-code", "return_code": 1}, "rule.operation"),
    ({"effect": "drop", "latency_ms": 3}, "rule.latency_ms"),
    ({"effect": "unreachable"}, "rule.host"),
    ({"effect": "fail-job", "error": "credssp-failed", "at_percent": 1,
      "migration_type": 4}, "rule.migration_type"),
])
def test_bad_rules_say_where(rule: dict[str, Any], where: str) -> None:
    with pytest.raises(FaultRuleError) as refused:
        parse_rule(rule, FAULT_ERRORS)
    assert refused.value.where == where


def test_a_job_stops_at_the_percent_or_half_way_through_the_phase() -> None:
    cut = plan_until_percent(PLAN, 40)
    assert cut[-1] == [10.0, 10.0, 40.0, "Copying memory: pass 1"] and len(cut) == 2
    assert plan_until_percent(PLAN, 0)[-1][2] == 0.0
    blackout = plan_until_phase(PLAN, "blackout")
    assert blackout[-1] == [0.5, 90.0, 92.5, PLAN[3][3]] and len(blackout) == 4
    assert [phase_of(str(step[3])) for step in PLAN] == [
        "setup", "memory", "memory", "blackout", "resume"]


def test_draws_repeat_for_a_seed_and_differ_between_seeds() -> None:
    one, other = _Rule(1, {"seed": 7}, None), _Rule(2, {"seed": 8}, None)
    draws = [_draw(one, n, "fire") for n in range(1, 50)]
    assert draws == [_draw(_Rule(9, {"seed": 7}, None), n, "fire") for n in range(1, 50)]
    assert draws != [_draw(other, n, "fire") for n in range(1, 50)]
    assert 10 < sum(d < 0.5 for d in draws) < 40
