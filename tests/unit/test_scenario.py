"""Scenario files: every mistake is reported with the offending key; good files parse fully."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator.setup.scenario import (
    ANY_NETWORK_TAG,
    ScenarioError,
    demo_scenario,
    generated_scenario,
    load_scenario,
    parse_scenario,
)

HOST = {"name": "HV-01"}

TESTCASES_BAD_SCENARIOS = [
    ("no hosts", {"hosts": []}, "at least one host"),
    ("unknown top-level key", {"hosts": [HOST], "vm": []}, "unknown key"),
    ("bad host name", {"hosts": [{"name": "host_with_underscore"}]}, "NetBIOS"),
    ("unknown os", {"hosts": [{"name": "A", "os": "Windows 95"}]}, "hosts[0].os"),
    ("duplicate host", {"hosts": [HOST, HOST]}, "duplicate host name"),
    ("bad vendor", {"hosts": [{"name": "A", "processor": {"vendor": "Cyrix"}}]}, "vendor"),
    ("unknown feature", {"hosts": [{"name": "A", "processor": {"features": ["warp"]}}]},
     "unknown processor feature 'warp'"),
    ("bad subnet",
     {"hosts": [{"name": "A", "migration": {"networks": [{"subnet": "10.0.0/33"}]}}]},
     "networks[0].subnet"),
    ("bad auth", {"hosts": [{"name": "A", "migration": {"authentication": "NTLM"}}]},
     "authentication"),
    ("vm on unknown host", {"hosts": [HOST], "vms": [{"name": "x", "host": "HV-09"}]},
     "no host named 'HV-09'"),
    ("vm bad state", {"hosts": [HOST], "vms": [{"name": "x", "host": "HV-01", "state": "on"}]},
     "vms[0].state"),
    ("vm bad guid", {"hosts": [HOST], "vms": [{"name": "x", "host": "HV-01", "guid": "nope"}]},
     "is not a GUID"),
    ("ide on gen 2",
     {"hosts": [HOST], "vms": [{"name": "x", "host": "HV-01",
                                "disks": [{"path": "a.vhdx", "controller": "ide"}]}]},
     "not valid for generation 2"),
    ("wrong type", {"hosts": [{"name": "A", "memory_mb": "lots"}]}, "expected int"),
    ("bool is not int", {"hosts": [{"name": "A", "memory_mb": True}]}, "expected int"),
    ("planned running", {"hosts": [HOST], "vms": [{"name": "x", "host": "HV-01", "planned": True,
                                                   "state": "running"}]}, "planned VM"),
]


@pytest.mark.parametrize(("desc", "data", "message"), TESTCASES_BAD_SCENARIOS,
                         ids=[t[0] for t in TESTCASES_BAD_SCENARIOS])
def test_bad_scenarios_are_reported(desc: str, data: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_scenario(data)


def test_demo_cluster_has_every_vm_state() -> None:
    scenario = demo_scenario()
    assert [h.name for h in scenario.hosts] == ["HV-01", "HV-02"]
    assert {vm.state for vm in scenario.vms} == {2, 3, 6, 9}
    assert all(h.migration_enabled and h.networks for h in scenario.hosts)


def test_defaults_follow_the_host_os() -> None:
    scenario = parse_scenario({"hosts": [{"name": "old", "os": "Windows Server 2016"}],
                               "vms": [{"name": "v", "host": "OLD"}]})
    assert scenario.hosts[0].supported_versions[-1] == "8.0"
    assert scenario.vms[0].version == "8.0"
    # No explicit networks: the host accepts migrations on any network (§4).
    assert {n.tags for n in scenario.hosts[0].networks} == {(ANY_NETWORK_TAG,)}


def test_generated_cluster_is_deterministic() -> None:
    first = generated_scenario(3, 4, seed=11)
    again = generated_scenario(3, 4, seed=11)
    other = generated_scenario(3, 4, seed=12)
    assert first == again
    assert [vm.guid for vm in first.vms] != [vm.guid for vm in other.vms]
    assert len(first.vms) == 12 and first.vms[0].name == "HV-01-VM0001"


def test_generated_cluster_rejects_silly_sizes() -> None:
    with pytest.raises(ScenarioError, match="--hosts"):
        generated_scenario(0, 1, seed=1)


def test_load_scenario_reports_toml_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[[hosts]\nname = 'x'\n")
    with pytest.raises(ScenarioError, match=r"bad\.toml"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match=r"missing\.toml"):
        load_scenario(tmp_path / "missing.toml")
