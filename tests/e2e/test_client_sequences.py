"""Call sequences of real clients (reference §15) through pywbem against the demo cluster.

Each test starts a fresh demo cluster at 50x simulated time and ends with the VM on the
destination, or with the failure the reference documents.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import pywbem

from tests.e2e.test_migration_methods import (
    LIVE,
    STAGED,
    STORAGE,
    TIME_SCALE,
    WEB01_GUID,
    service,
    vm_named,
    vms_named,
    wait_job,
)
from tests.support.server import DEMO_SCENARIO, HvsimServer, wbem_connection

VM_AND_STORAGE = 32771


@pytest.fixture
def demo(hvsim_server: Callable[..., HvsimServer]) -> HvsimServer:
    return hvsim_server(scenario=DEMO_SCENARIO, time_scale=TIME_SCALE)


def templates_via_capabilities(conn: pywbem.WBEMConnection) -> dict[int, pywbem.CIMInstance]:
    """PowerShell's route: service -> Msvm_ElementCapabilities -> capabilities ->
    Msvm_SettingsDefineCapabilities -> the setting-data templates, by MigrationType."""
    caps = conn.Associators(service(conn), AssocClass="Msvm_ElementCapabilities",
                            ResultClass="Msvm_VirtualSystemMigrationCapabilities")
    assert len(caps) == 1
    found = conn.Associators(caps[0].path, AssocClass="Msvm_SettingsDefineCapabilities",
                             ResultClass="Msvm_VirtualSystemMigrationSettingData")
    return {int(t["MigrationType"]): t for t in found}


def os_win_template(conn: pywbem.WBEMConnection, mtype: int) -> pywbem.CIMInstance:
    return conn.ExecQuery(
        "WQL", "select * from Msvm_VirtualSystemMigrationSettingData "
        f"where MigrationType = {mtype}")[0]


def os_win_wait(conn: pywbem.WBEMConnection, rv: int, out: dict[str, object]) -> None:
    """os-win's _check_ret_val/_wait_for_job: 0 is done; 4096 means wait, then only
    JobState 7 (Completed) is success."""
    if rv == 0:
        return
    assert rv == 4096, f"os-win would raise HyperVException({rv})"
    job = wait_job(conn, out["Job"])
    assert int(job["JobState"]) == 7, (job["ErrorCode"], job["ErrorDescription"])


def disks_of(conn: pywbem.WBEMConnection, guid: str) -> list[pywbem.CIMInstance]:
    return list(conn.ExecQuery(
        "WQL", "SELECT * FROM Msvm_StorageAllocationSettingData WHERE InstanceID LIKE "
        f"'Microsoft:{guid}%'"))


def test_os_win_live_migration_with_planned_vm(demo: HvsimServer) -> None:
    src = wbem_connection(demo.url("HV-01"))
    dst = wbem_connection(demo.url("HV-02"))
    vm = vm_named(src, "web-01")
    svc = service(src)
    # A: pre-checks -- migration enabled on both hosts, destination listener addresses.
    for c in (src, dst):
        settings = c.EnumerateInstances("Msvm_VirtualSystemMigrationServiceSettingData")[0]
        assert settings["EnableVirtualSystemMigration"] is True
    dest_ips = list(dst.GetInstance(service(dst))["MigrationServiceListenerIPAddressList"])
    assert dest_ips
    # B: planned VM through a staged migration (32770), after destroy_existing_planned_vm.
    for planned in dst.ExecQuery(
            "WQL", f"SELECT * FROM Msvm_PlannedComputerSystem WHERE Name = '{vm['Name']}'"):
        mgmt = dst.EnumerateInstanceNames("Msvm_VirtualSystemManagementService")[0]
        os_win_wait(dst, *_call(dst, "DestroySystem", mgmt, AffectedSystem=planned.path))
    tmpl = os_win_template(src, STAGED)
    tmpl.properties["DestinationIPAddressList"].value = dest_ips
    os_win_wait(src, *_call(src, "MigrateVirtualSystemToHost", svc, ComputerSystem=vm.path,
                            DestinationHost="HV-02", MigrationSettingData=tmpl.tocimxmlstr()))
    planned = dst.ExecQuery(
        "WQL", f"SELECT * FROM Msvm_PlannedComputerSystem WHERE Name = '{vm['Name']}'")
    assert len(planned) == 1
    assert vm_named(src, "web-01")  # a staged migration leaves the VM where it is
    # C: the live migration into the planned VM, with disks (32771).
    tmpl = os_win_template(src, VM_AND_STORAGE)
    tmpl.properties["DestinationIPAddressList"].value = dest_ips
    tmpl.properties["DestinationPlannedVirtualSystemId"].value = planned[0]["Name"]
    # os-win's disk path mapping: each disk to its path on the destination.
    disks = disks_of(src, vm["Name"])
    assert disks
    for disk in disks:
        disk.properties["HostResource"].value = ["D:\\VMs\\" + disk["HostResource"][0]
                                                 .rsplit("\\", 1)[-1]]
    # D: wait with os-win's success rule.
    os_win_wait(src, *_call(src, "MigrateVirtualSystemToHost", svc, ComputerSystem=vm.path,
                            DestinationHost="HV-02", MigrationSettingData=tmpl.tocimxmlstr(),
                            NewResourceSettingData=[d.tocimxmlstr() for d in disks]))
    # E: lookup on the destination.
    moved = vm_named(dst, "web-01")
    assert moved["Name"].upper() == WEB01_GUID and int(moved["EnabledState"]) == 2
    assert vms_named(src, "web-01") == []
    assert not dst.ExecQuery(
        "WQL", f"SELECT * FROM Msvm_PlannedComputerSystem WHERE Name = '{vm['Name']}'")


def _call(conn: pywbem.WBEMConnection, method: str, target: pywbem.CIMInstanceName,
          **params: object) -> tuple[int, dict[str, object]]:
    rv, out = conn.InvokeMethod(method, target, **params)
    return int(rv), dict(out)


def test_os_win_live_migration_without_disks(demo: HvsimServer) -> None:
    src = wbem_connection(demo.url("HV-01"))
    vm = vm_named(src, "web-02")
    tmpl = os_win_template(src, LIVE)
    tmpl.properties["DestinationIPAddressList"].value = ["10.0.0.12"]
    os_win_wait(src, *_call(src, "MigrateVirtualSystemToHost", service(src),
                            ComputerSystem=vm.path, DestinationHost="HV-02",
                            MigrationSettingData=tmpl.tocimxmlstr()))
    assert vm_named(wbem_connection(demo.url("HV-02")), "web-02")


# -- the Microsoft sample (§15.2) -------------------------------------------------------------


def _sample_migrate(conn: pywbem.WBEMConnection, name: str, mtype: int = LIVE,
                    dest: str | None = "HV-02", rasds: list[str] | None = None,
                    **props: object) -> pywbem.CIMInstance:
    vm = vm_named(conn, name)
    tmpl = os_win_template(conn, mtype)
    for key, value in props.items():
        tmpl.properties[key].value = value
    params: dict[str, object] = {"ComputerSystem": vm.path, "DestinationHost": dest,
                                 "MigrationSettingData": tmpl.tocimxmlstr()}
    if rasds is not None:
        params["NewResourceSettingData"] = rasds
    rv, out = _call(conn, "MigrateVirtualSystemToHost", service(conn), **params)
    assert rv == 4096
    return wait_job(conn, out["Job"])


def test_sample_simple_compression_iplist_and_smb(demo: HvsimServer) -> None:
    src = wbem_connection(demo.url("HV-01"))
    dst = wbem_connection(demo.url("HV-02"))
    # OverSmb: the demo hosts use compression, so SMB is refused through the job.
    job = _sample_migrate(src, "web-01", TransportType=32768, EnableCompression=False)
    assert int(job["JobState"]) == 10
    assert vm_named(src, "web-01")
    # SimpleCheck (32772 check type through CheckVirtualSystemIsMigratable).
    tmpl = os_win_template(src, LIVE)
    rv, out = _call(src, "CheckVirtualSystemIsMigratable", service(src),
                    ComputerSystem=vm_named(src, "web-01").path, DestinationHost="HV-02",
                    MigrationSettingData=tmpl.tocimxmlstr())
    assert rv == 4096
    assert int(wait_job(src, out["Job"])["JobState"]) == 7
    # WithCompression, WithIpList, Simple.
    assert int(_sample_migrate(src, "web-01", EnableCompression=True)["JobState"]) == 7
    assert int(_sample_migrate(src, "web-02", DestinationIPAddressList=["10.0.0.12"])
               ["JobState"]) == 7
    assert int(_sample_migrate(src, "db-01")["JobState"]) == 7
    for name in ("web-01", "web-02", "db-01"):
        assert vm_named(dst, name) and vms_named(src, name) == []


def test_sample_storage_and_vm_and_storage(demo: HvsimServer) -> None:
    src = wbem_connection(demo.url("HV-01"))
    dst = wbem_connection(demo.url("HV-02"))
    # StorageMigrateSimple: DestinationHost NULL, each disk to a new path.
    vm = vm_named(src, "db-01")
    disks = disks_of(src, vm["Name"])
    for disk in disks:
        disk.properties["HostResource"].value = ["D:\\Moved\\" + disk["HostResource"][0]
                                                 .rsplit("\\", 1)[-1]]
    job = _sample_migrate(src, "db-01", STORAGE, dest=None,
                          rasds=[d.tocimxmlstr() for d in disks])
    assert int(job["JobState"]) == 7, job["ErrorDescription"]
    moved = disks_of(src, vm["Name"])
    assert all(d["HostResource"][0].startswith("D:\\Moved\\") for d in moved)
    # VmAndStorageMigrationSimple: HostResource {""} lets the destination choose.
    vm = vm_named(src, "web-02")
    disks = disks_of(src, vm["Name"])
    for disk in disks:
        disk.properties["HostResource"].value = [""]
    job = _sample_migrate(src, "web-02", VM_AND_STORAGE,
                          rasds=[d.tocimxmlstr() for d in disks])
    assert int(job["JobState"]) == 7, job["ErrorDescription"]
    assert vms_named(src, "web-02") == []
    on_dst = disks_of(dst, vm["Name"])
    assert on_dst and all(d["HostResource"][0] for d in on_dst)


# -- PowerShell mapped to WMI (§15.3) ---------------------------------------------------------


def test_powershell_compare_and_move_vm(demo: HvsimServer) -> None:
    src = wbem_connection(demo.url("HV-01"))
    dst = wbem_connection(demo.url("HV-02"))
    templates = templates_via_capabilities(src)
    assert {LIVE, STORAGE, STAGED, VM_AND_STORAGE} <= set(templates)
    vm = vm_named(src, "web-01")
    # Compare-VM: a check job, Completed when compatible.
    rv, out = _call(src, "CheckVirtualSystemIsMigratable", service(src), ComputerSystem=vm.path,
                    DestinationHost="HV-02",
                    MigrationSettingData=templates[LIVE].tocimxmlstr())
    assert rv == 4096 and int(wait_job(src, out["Job"])["JobState"]) == 7
    # Move-VM.
    rv, out = _call(src, "MigrateVirtualSystemToHost", service(src), ComputerSystem=vm.path,
                    DestinationHost="HV-02",
                    MigrationSettingData=templates[LIVE].tocimxmlstr())
    assert rv == 4096 and int(wait_job(src, out["Job"])["JobState"]) == 7
    assert vm_named(dst, "web-01") and vms_named(src, "web-01") == []
    # Set-VMHost -MaximumVirtualMachineMigrations 5 -> ModifyServiceSettings.
    settings = dst.EnumerateInstances("Msvm_VirtualSystemMigrationServiceSettingData")[0]
    settings.properties["MaximumActiveVirtualSystemMigration"].value = pywbem.Uint32(5)
    rv, out = _call(dst, "ModifyServiceSettings", service(dst),
                    ServiceSettingData=settings.tocimxmlstr(ignore_path=True))
    assert rv in (0, 4096)
    assert int(dst.EnumerateInstances("Msvm_VirtualSystemMigrationServiceSettingData")[0]
               ["MaximumActiveVirtualSystemMigration"]) == 5


def test_enumerated_instance_as_embedded_parameter(demo: HvsimServer) -> None:
    dst = wbem_connection(demo.url("HV-02"))
    settings = dst.EnumerateInstances("Msvm_VirtualSystemMigrationServiceSettingData")[0]
    settings.properties["MaximumActiveVirtualSystemMigration"].value = pywbem.Uint32(4)
    rv, _ = _call(dst, "ModifyServiceSettings", service(dst),
                  ServiceSettingData=settings.tocimxmlstr())
    assert rv == 0
