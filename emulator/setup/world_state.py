"""The stored world as a scenario file: what `GET /_hvsim/state` and `hvsim state export`
give, and what `hvsim serve --scenario` or `PUT /_hvsim/state` turn back into the same world.

The document is the stored `WorldPlan` written in the scenario's own keys, with the keys only
a run-time world needs (identities drawn at seeding, settings clients changed, timestamps) so
that seeding it again yields the same rows, hence the same instances. Jobs are not part of
it: a VM in the middle of a state change is written in the state it was in before (the job is
discarded, nothing of it applied), and a VM being migrated is where the migration left it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import tomli_w

from emulator.setup.scenario import parse_scenario
from emulator.setup.scenario_spec import (
    PERFORMANCE_OPTIONS,
    PROCESSOR_FEATURES,
    VM_STATES,
    XSAVE_FEATURES,
    Scenario,
    ScenarioError,
)
from emulator.setup.seeding import host_compatibility
from storage.seeding import HostPlan, VMPlan, WorldPlan

STATE_NAMES = {value: name for name, value in VM_STATES.items()}
# A transitional EnabledState -> the stable state the change most likely started from, for
# jobs written before they recorded it ("from" in the job's request).
TRANSITION_ORIGINS = {4: 2, 10: 3, 32773: 2, 32776: 2, 32777: 9}
AUTHENTICATION_NAMES = {0: "CredSSP", 1: "Kerberos"}
PERFORMANCE_NAMES = {flags: name for name, flags in PERFORMANCE_OPTIONS.items()}
PERFORMANCE_TITLES = {"tcpip": "TCPIP", "compression": "Compression", "smb": "SMB"}
_TOML_POSITION = re.compile(r"\s*\(at (line \d+, column \d+|end of document)\)$")
HEADER = ("# hvsim world state: a scenario file. Serve it with `hvsim serve --scenario FILE`,\n"
          "# or load it into a running server with PUT /_hvsim/state.\n")


class StateDocumentError(ScenarioError):
    """A state document that is not TOML, or not a valid scenario; the message says where."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.reason = message


def read_document(text: str) -> Scenario:
    """Parse and validate a state document (a scenario file's text)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        position = _TOML_POSITION.search(message)
        if position is None:
            raise StateDocumentError("TOML", message) from None
        raise StateDocumentError(f"TOML {position.group(1)}",
                                 message[:position.start()] or "not TOML") from None
    try:
        return parse_scenario(data)
    except ScenarioError as error:
        where, _, reason = str(error).partition(": ")
        raise StateDocumentError(where, reason or where) from None


def write_document(plan: WorldPlan,
                   unfinished_state_changes: Mapping[tuple[str, str], Mapping[str, Any]]
                   ) -> str:
    """The world of `plan` as a scenario file; `unfinished_state_changes` maps (host, VM GUID)
    to the request of a state change the VM is in the middle of."""
    hosts = {host.name: host.columns for host in plan.hosts}
    document: dict[str, Any] = {
        "cluster": {"name": plan.cluster_name, "domain": plan.domain, "seed": plan.seed},
        "hosts": [_host(host) for host in plan.hosts],
        "vms": [_vm(vm, hosts[vm.host],
                    unfinished_state_changes.get((vm.host, str(vm.columns["guid"]))))
                for vm in plan.vms],
    }
    return HEADER + tomli_w.dumps(document, multiline_strings=False)


def _names(mask: int, table: tuple[str, ...]) -> list[str]:
    return [name for bit, name in enumerate(table) if mask >> bit & 1]


def _host(plan: HostPlan) -> dict[str, Any]:
    h = plan.columns
    compression, smb = bool(h["migration_compression"]), bool(h["migration_smb"])
    migration: dict[str, Any] = {
        "enabled": h["migration_enabled"], "service_started": h["migration_service_started"],
        "max_active_virtual_system": h["max_active_vm_migrations"],
        "max_active_storage": h["max_active_storage_migrations"],
        "authentication": AUTHENTICATION_NAMES.get(h["migration_auth_type"], "CredSSP"),
        "bandwidth_mbps": h["migration_bandwidth_mbps"],
        "storage_bandwidth_mbps": h["storage_bandwidth_mbps"],
    }
    performance = PERFORMANCE_NAMES.get((compression, smb))
    if performance is not None:
        migration["performance"] = PERFORMANCE_TITLES[performance]
    else:
        migration.update(compression=compression, smb_transport=smb)
    # Every network as stored, the "any network" entries included, so none is added again.
    migration["use_any_network"] = False
    migration["networks"] = [
        {"subnet": n.subnet, "prefix_length": n.prefix_length, "metric": n.metric,
         "tags": list(n.tags), "instance_id": n.instance_id} for n in plan.networks]
    return {
        "name": h["name"], "os": h["os_name"], "os_build": h["os_build"],
        "supported_versions": list(h["supported_versions"]),
        "memory_mb": h["memory_mb"], "logical_processors": h["logical_processors"],
        "numa_nodes": h["numa_nodes"],
        "processor": {
            "vendor": h["processor_vendor"], "model": h["processor_model"],
            "features": _names(h["processor_features"], PROCESSOR_FEATURES),
            "xsave": _names(h["processor_xsave"], XSAVE_FEATURES),
            "cache_line_flush_size": h["cache_line_flush_size"]},
        "ip_addresses": list(h["ip_addresses"]),
        "virtual_switches": list(h["virtual_switches"]),
        "default_vhd_path": h["default_vhd_path"],
        "default_external_data_root": h["default_external_data_root"],
        "reachable": h["reachable"], "installed_at": h["installed_at"],
        "migration": migration,
    }


def _vm(plan: VMPlan, host: Mapping[str, Any], unfinished: Mapping[str, Any] | None
        ) -> dict[str, Any]:
    v = plan.columns
    state, uptime_ms, running_since = _stable_state(v, unfinished)
    compatibility = (v["processor_vendor"], v["processor_features"], v["processor_xsave"],
                     v["cache_line_flush_size"])
    entry: dict[str, Any] = {
        "name": v["element_name"], "guid": v["guid"], "host": plan.host,
        "state": STATE_NAMES[state], "planned": v["planned"], "generation": v["generation"],
        "version": v["config_version"], "memory_mb": v["memory_mb"],
        "dynamic_memory": v["dynamic_memory"], "memory_min_mb": v["memory_min_mb"],
        "memory_max_mb": v["memory_max_mb"], "processors": v["processors"],
        "processor_limit": v["processor_limit"],
        "processor_reservation": v["processor_reservation"],
        "processor_weight": v["processor_weight"],
        "limit_processor_features": v["limit_processor_features"],
        "dirty_rate_mbps": v["dirty_rate_mbps"], "notes": list(v["notes"]),
        "automatic_startup_action": v["automatic_startup_action"],
        "automatic_shutdown_action": v["automatic_shutdown_action"],
        "serial_connections": list(v["serial_connections"]),
        "shutdown_service": v["shutdown_service"],
        "config_root": v["config_root"], "snapshot_root": v["snapshot_root"],
        "swap_root": v["swap_root"],
        "created_at": v["created_at"], "state_changed_at": v["state_changed_at"],
        "uptime_ms": uptime_ms,
    }
    if running_since is not None:
        entry["running_since"] = running_since
    if v.get("scsi_controllers") is not None:
        entry["scsi_controllers"] = list(v["scsi_controllers"])
    # What the VM captured from the host it last started on; written only when seeding would
    # not derive it from its host (a VM that moved), which keeps a large world's file small.
    if compatibility != host_compatibility(host, bool(v["limit_processor_features"])):
        entry["compatibility"] = {
            "vendor": compatibility[0],
            "features": _names(compatibility[1], PROCESSOR_FEATURES),
            "xsave": _names(compatibility[2], XSAVE_FEATURES),
            "cache_line_flush_size": compatibility[3]}
    entry["disks"] = [
        {"path": d.path, "size_gb": d.size_gb, "controller": d.controller_kind,
         "controller_number": d.controller_number, "location": d.location,
         **({"controller_guid": d.controller_guid} if d.controller_kind == "scsi" else {})}
        for d in plan.disks]
    entry["network_adapters"] = [
        {"switch": a.switch_name, "name": a.element_name, "guid": a.adapter_guid,
         "mac_address": a.mac_address} for a in plan.adapters]
    return entry


def _stable_state(v: Mapping[str, Any], unfinished: Mapping[str, Any] | None
                  ) -> tuple[int, int, datetime | None]:
    """(EnabledState, banked uptime, running since) with an unfinished state change undone."""
    state = int(v["enabled_state"])
    if state in STATE_NAMES:
        return state, int(v["uptime_ms"]), v["running_since"]
    origin = (unfinished or {}).get("from")
    if origin not in STATE_NAMES:
        origin = TRANSITION_ORIGINS.get(state, 3)
    # The change banked the running time when it began (state_changed_at); undone, a running
    # VM has been running since then.
    if origin == 2:
        return 2, int(v["uptime_ms"]), v["state_changed_at"]
    if origin == 9:
        return 9, int(v["uptime_ms"]), None
    return int(origin), 0, None
