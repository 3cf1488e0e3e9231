"""Declarative description of an emulated Hyper-V cluster (TOML), the demo cluster and generator.

A scenario is validated completely before anything is written to the store, so a bad file is
reported with the offending key and nothing half-seeded is left behind.
"""

from __future__ import annotations

import random
import tomllib
import uuid
from pathlib import Path
from typing import Any

from emulator.setup.scenario_entries import optional, parse_host, parse_vm, reject_unknown, require
from emulator.setup.scenario_spec import (
    ANY_NETWORK_TAG,
    AUTHENTICATION_TYPES,
    COMPATIBILITY_BASELINE,
    OPERATING_SYSTEMS,
    PERFORMANCE_OPTIONS,
    PROCESSOR_FEATURES,
    USER_NETWORK_TAG,
    VENDORS,
    VM_STATES,
    XSAVE_FEATURES,
    AdapterSpec,
    DiskSpec,
    HostSpec,
    NetworkSpec,
    Scenario,
    ScenarioError,
    VMSpec,
    feature_mask,
)


def parse_scenario(data: dict[str, Any]) -> Scenario:
    reject_unknown(data, {"cluster", "hosts", "vms", "faults"}, "scenario")
    cluster = optional(data, "cluster", dict, {}, "scenario")
    reject_unknown(cluster, {"name", "domain", "seed"}, "cluster")
    seed = optional(cluster, "seed", int, 1, "cluster")
    host_entries = require(data, "hosts", list, "scenario")
    if not host_entries:
        raise ScenarioError("scenario: at least one host is required")
    hosts = [parse_host(entry, i) for i, entry in enumerate(host_entries)]
    by_name: dict[str, HostSpec] = {}
    for host in hosts:
        if host.name in by_name:
            raise ScenarioError(f"hosts: duplicate host name {host.name!r}")
        by_name[host.name] = host
    rng = random.Random(seed)
    vms = [parse_vm(entry, i, by_name, rng)
           for i, entry in enumerate(optional(data, "vms", list, [], "scenario"))]
    seen: set[tuple[str, str]] = set()
    for vm in vms:
        if (vm.host, vm.guid) in seen:
            raise ScenarioError(f"vms: GUID {vm.guid} appears twice on host {vm.host}")
        seen.add((vm.host, vm.guid))
    faults = optional(data, "faults", list, [], "scenario")
    for index, rule in enumerate(faults):
        if not isinstance(rule, dict):
            raise ScenarioError(f"faults[{index}]: expected a table ([[faults]])")
    return Scenario(
        cluster_name=optional(cluster, "name", str, "HVCLUSTER", "cluster").upper(),
        domain=optional(cluster, "domain", str, "hvsim.test", "cluster"),
        seed=seed, hosts=tuple(hosts), vms=tuple(vms), faults=tuple(faults),
    )


def load_scenario(path: Path) -> Scenario:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioError(f"{path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{path}: {error}") from None
    return parse_scenario(data)


DEMO_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "demo.toml"


def demo_scenario() -> Scenario:
    return load_scenario(DEMO_SCENARIO)


def generated_scenario(hosts: int, vms_per_host: int, seed: int) -> Scenario:
    """A deterministic cluster of `hosts` hosts with `vms_per_host` VMs each (vcsim-style names)."""
    if not 1 <= hosts <= 999:
        raise ScenarioError("--hosts must be between 1 and 999")
    if not 0 <= vms_per_host <= 100_000:
        raise ScenarioError("--vms-per-host must be between 0 and 100000")
    rng = random.Random(seed)
    states = list(VM_STATES)
    host_tables: list[dict[str, Any]] = []
    vm_tables: list[dict[str, Any]] = []
    for h in range(1, hosts + 1):
        name = f"HV-{h:02d}" if hosts < 100 else f"HV-{h:03d}"
        host_tables.append({
            "name": name,
            "ip_addresses": [f"10.0.{h // 250}.{h % 250 + 1}", f"fe80::{h:x}:1"],
            "virtual_switches": ["External"],
            "migration": {"networks": [{"subnet": "10.0.0.0/16", "metric": 1}]},
        })
        for v in range(1, vms_per_host + 1):
            vm_name = f"{name}-VM{v:04d}"
            vm_tables.append({
                "name": vm_name, "host": name,
                "guid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "state": states[rng.randrange(len(states))],
                "memory_mb": rng.choice((1024, 2048, 4096, 8192)),
                "processors": rng.choice((1, 2, 4)),
                "dirty_rate_mbps": rng.randrange(5, 200),
                "disks": [{"path": f"C:\\ClusterStorage\\Volume1\\{vm_name}\\{vm_name}.vhdx",
                           "size_gb": rng.choice((40, 60, 127))}],
                "network_adapters": [{"switch": "External"}],
            })
    return parse_scenario({"cluster": {"name": "HVSIMGEN", "seed": seed},
                           "hosts": host_tables, "vms": vm_tables})


# The specs and tables are part of what this module offers (callers import them from here).
__all__ = [
    "ANY_NETWORK_TAG", "AUTHENTICATION_TYPES", "COMPATIBILITY_BASELINE", "DEMO_SCENARIO",
    "OPERATING_SYSTEMS", "PERFORMANCE_OPTIONS", "PROCESSOR_FEATURES", "USER_NETWORK_TAG",
    "VENDORS", "VM_STATES", "XSAVE_FEATURES", "AdapterSpec", "DiskSpec", "HostSpec",
    "NetworkSpec", "Scenario", "ScenarioError", "VMSpec", "demo_scenario", "feature_mask",
    "generated_scenario", "load_scenario", "parse_scenario",
]
