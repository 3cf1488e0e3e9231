"""Every identity seeding generates is unique: a client that finds a VM's settings by
`InstanceID LIKE 'Microsoft:<VM GUID>%'` must not also find a host's network setting."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime

import pytest

from emulator.setup.scenario import Scenario, demo_scenario, generated_scenario
from emulator.setup.seeding import world_plan

GUID = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}", re.IGNORECASE)


def guids_by_owner(scenario: Scenario) -> Counter[str]:
    """Each GUID of the plan, counted once per VM, host or device that holds it."""
    plan = world_plan(scenario, datetime(2026, 1, 1, tzinfo=UTC))
    owners: Counter[str] = Counter()
    for owner in (*plan.hosts, *plan.vms):
        # A VM's disks share their controller's GUID; one owner counts each GUID once.
        owners.update({g.upper() for g in GUID.findall(repr(owner))})
    return owners


@pytest.mark.parametrize("scenario", [generated_scenario(2, 3, 1), generated_scenario(20, 50, 7),
                                      demo_scenario()], ids=["2x3", "20x50", "demo"])
def test_no_two_things_share_a_guid(scenario: Scenario) -> None:
    shared = {guid: n for guid, n in guids_by_owner(scenario).items() if n > 1}
    assert shared == {}
