"""The compatibility, network, service-settings and planned-VM methods end to end (pywbem)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import pywbem
from pywbem import CIMInstance, CIMInstanceName, Uint8, Uint16, Uint32

from tests.e2e.test_migration_methods import (
    SCENARIOS,
    STAGED,
    VM_A_GUID,
    migrate,
    service,
    template,
    vm_named,
    wait_job,
)
from tests.support.server import DEMO_SCENARIO, HvsimServer, wbem_connection

NETWORK = "Msvm_VirtualSystemMigrationNetworkSettingData"


@pytest.fixture
def demo(hvsim_server: Callable[..., HvsimServer]) -> HvsimServer:
    return hvsim_server(scenario=DEMO_SCENARIO, time_scale=50)


def listeners(conn: pywbem.WBEMConnection) -> list[str] | None:
    (svc,) = conn.EnumerateInstances("Msvm_VirtualSystemMigrationService")
    return svc["MigrationServiceListenerIPAddressList"]


def test_compatibility_info_and_vectors(hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=SCENARIOS / "refusals.toml")
    src, ok, amd = (wbem_connection(server.url(h)) for h in ("SRC", "OK", "AMD"))
    vm = vm_named(src, "vm-a")
    rc, out = src.InvokeMethod("GetSystemCompatibilityInfo", service(src),
                               ComputerSystem=vm.path)
    blob = list(out["CompatibilityInfo"])
    assert rc == 0 and len(blob) > 40
    assert ok.InvokeMethod("CheckSystemCompatibilityInfo", service(ok),
                           CompatibilityInfo=blob)[0] == 0
    rc, out = amd.InvokeMethod("CheckSystemCompatibilityInfo", service(amd),
                               CompatibilityInfo=blob)
    assert rc == 32784
    assert out["Reasons"] and all(r.classname == "Msvm_Error" for r in out["Reasons"])
    # FormatError turns the reasons into one text, messages separated by a blank line.
    (vsms,) = amd.EnumerateInstanceNames("Msvm_VirtualSystemManagementService")
    rc, formatted = amd.InvokeMethod("FormatError", vsms, Errors=out["Reasons"])
    assert rc == 0 and formatted["ErrorMessage"] == "\n\n".join(r["Message"]
                                                               for r in out["Reasons"])
    tampered = list(blob)
    tampered[8] = Uint8((int(tampered[8]) + 1) % 256)
    for bad in (tampered, [Uint8(1), Uint8(2), Uint8(3)]):
        assert ok.InvokeMethod("CheckSystemCompatibilityInfo", service(ok),
                               CompatibilityInfo=bad)[0] == 32773
    # The host's own blob and vectors; the VM's vectors agree with the blob's verdict.
    host = src.GetInstance(CIMInstanceName("Msvm_ComputerSystem", {
        "CreationClassName": "Msvm_ComputerSystem", "Name": "SRC"}))
    assert src.InvokeMethod("GetSystemCompatibilityInfo", service(src),
                            ComputerSystem=host.path)[0] == 0
    rc, vm_vectors = src.InvokeMethod("GetSystemCompatibilityVectors", service(src),
                                      ComputerSystem=vm.path)
    rc_amd, amd_vectors = amd.InvokeMethod(
        "GetSystemCompatibilityVectors", service(amd),
        ComputerSystem=CIMInstanceName("Msvm_ComputerSystem", {
            "CreationClassName": "Msvm_ComputerSystem", "Name": "AMD"}))
    assert rc == rc_amd == 0
    by_id = {int(v["VectorId"]): v for v in amd_vectors["CompatibilityVectors"]}
    vendor = [v for v in vm_vectors["CompatibilityVectors"] if int(v["VectorId"]) == 4]
    assert vendor and int(vendor[0]["CompareOperation"]) == 0
    assert int(vendor[0]["CompatibilityInfo"]) != int(by_id[4]["CompatibilityInfo"])


def test_network_settings_drive_the_listener_list(demo: HvsimServer) -> None:
    conn = wbem_connection(demo.url("HV-02"))
    svc = service(conn)
    assert listeners(conn) == ["10.0.0.12"]
    (existing,) = conn.EnumerateInstances(NETWORK)
    new = CIMInstance(NETWORK, properties={"SubnetNumber": "192.168.5.0",
                                           "PrefixLength": Uint8(24), "Metric": Uint32(5)})
    assert conn.InvokeMethod("AddNetworkSettings", svc, NetworkSettings=[new])[0] == 0
    assert {n["SubnetNumber"] for n in conn.EnumerateInstances(NETWORK)} == {
        "10.0.0.0", "192.168.5.0"}
    # Duplicates, host bits in the subnet, bad prefixes and wrong classes are refused.
    for bad in (new, CIMInstance(NETWORK, properties={"SubnetNumber": "10.1.1.1",
                                                      "PrefixLength": Uint8(24)}),
                CIMInstance(NETWORK, properties={"SubnetNumber": "10.2.0.0",
                                                 "PrefixLength": Uint8(40)}),
                CIMInstance("Msvm_Error", properties={"Message": "x"})):
        assert conn.InvokeMethod("AddNetworkSettings", svc, NetworkSettings=[bad])[0] == 32773
    existing["Metric"] = Uint32(9)
    assert conn.InvokeMethod("ModifyNetworkSettings", svc,
                             NetworkSettings=[existing.tocimxmlstr()])[0] == 0
    assert conn.GetInstance(existing.path)["Metric"] == 9
    # Onto the other network's subnet: refused, and nothing of it is applied.
    clash = conn.GetInstance(existing.path)
    clash["SubnetNumber"], clash["Metric"] = "192.168.5.0", Uint32(7)
    clash["PrefixLength"] = Uint8(24)
    assert conn.InvokeMethod("ModifyNetworkSettings", svc,
                             NetworkSettings=[clash.tocimxmlstr()])[0] == 32773
    unchanged = conn.GetInstance(existing.path)
    assert (unchanged["SubnetNumber"], unchanged["Metric"]) == ("10.0.0.0", 9)
    # Removing the only subnet holding the host's address empties the listener list, and a
    # migration to the host then fails through its job.
    assert conn.InvokeMethod("RemoveNetworkSettings", svc,
                             NetworkSettings=[existing.path])[0] == 0
    assert listeners(conn) is None
    assert conn.InvokeMethod("RemoveNetworkSettings", svc,
                             NetworkSettings=[existing.path])[0] == 32773
    src = wbem_connection(demo.url("HV-01"))
    rc, out = migrate(src, vm_named(src, "web-01"), "HV-02")
    assert rc == 4096 and int(wait_job(src, out["Job"])["JobState"]) == 10
    # "Use any network" brings every address back.
    anywhere = [CIMInstance(NETWORK, properties={"SubnetNumber": s, "PrefixLength": Uint8(0),
                                                 "Tags": ["Microsoft:UserManagedAllNetworks"]})
                for s in ("0.0.0.0", "::0")]
    assert conn.InvokeMethod("AddNetworkSettings", svc, NetworkSettings=anywhere)[0] == 0
    assert listeners(conn) == ["10.0.0.12", "fe80::5efe:10.0.0.12"]


def test_service_settings(demo: HvsimServer) -> None:
    conn = wbem_connection(demo.url("HV-01"))
    svc = service(conn)
    (settings,) = conn.EnumerateInstances("Msvm_VirtualSystemMigrationServiceSettingData")
    settings["EnableVirtualSystemMigration"] = False
    settings["MaximumActiveVirtualSystemMigration"] = Uint32(7)
    settings["EnableCompression"] = False
    settings["EnableSmbTransport"] = True
    rc, _ = conn.InvokeMethod("ModifyServiceSettings", svc,
                              ServiceSettingData=settings.tocimxmlstr())
    assert rc == 0
    after = conn.GetInstance(settings.path)
    assert (after["EnableVirtualSystemMigration"], after["MaximumActiveVirtualSystemMigration"],
            after["EnableCompression"], after["EnableSmbTransport"]) == (False, 7, False, True)
    assert listeners(conn) is None  # migration disabled: no listener (§2.2)
    for name, value in (("MaximumActiveStorageMigration", Uint32(0)),
                        ("AuthenticationType", Uint32(3))):
        bad = settings.copy()
        bad[name] = value
        assert conn.InvokeMethod("ModifyServiceSettings", svc,
                                 ServiceSettingData=bad.tocimxmlstr())[0] == 32773
    # Migration disabled on the source: the move fails through its job.
    rc, out = migrate(conn, vm_named(conn, "web-01"), "HV-02")
    assert rc == 4096 and int(wait_job(conn, out["Job"])["JobState"]) == 10


def test_staged_validate_realize_and_wmi_template_text(demo: HvsimServer) -> None:
    src, dst = wbem_connection(demo.url("HV-01")), wbem_connection(demo.url("HV-02"))
    vm = vm_named(src, "db-01")
    # What a WMI client sends: system properties and the template's __PATH (§15.1).
    wmi_text = template(src, STAGED).tocimxmlstr().replace(
        "<INSTANCE CLASSNAME=\"Msvm_VirtualSystemMigrationSettingData\">",
        "<INSTANCE CLASSNAME=\"Msvm_VirtualSystemMigrationSettingData\">"
        "<PROPERTY NAME=\"__PATH\" CLASSORIGIN=\"___SYSTEM\" TYPE=\"string\"><VALUE>"
        "\\\\HV-01\\root\\virtualization\\v2:Msvm_VirtualSystemMigrationSettingData."
        "InstanceID=&quot;Microsoft:Staged&quot;</VALUE></PROPERTY>"
        "<PROPERTY NAME=\"__GENUS\" CLASSORIGIN=\"___SYSTEM\" TYPE=\"sint32\"><VALUE>2</VALUE>"
        "</PROPERTY>", 1)
    assert "__PATH" in wmi_text
    rc, out = src.InvokeMethod("MigrateVirtualSystemToHost", service(src),
                               ComputerSystem=vm.path, DestinationHost="HV-02",
                               MigrationSettingData=wmi_text)
    assert rc == 4096 and int(wait_job(src, out["Job"])["JobState"]) == 7
    # The template was copied, not changed.
    assert template(src, STAGED)["DestinationIPAddressList"] is None
    (planned,) = dst.ExecQuery("WQL", "SELECT * FROM Msvm_PlannedComputerSystem WHERE Name = "
                                      f"'{vm['Name']}'")
    assert vm_named(src, "db-01")  # the source VM is untouched
    (vsms,) = dst.EnumerateInstanceNames("Msvm_VirtualSystemManagementService")
    rc, out = dst.InvokeMethod("ValidatePlannedSystem", vsms, PlannedSystem=planned.path)
    assert rc == 4096
    job = wait_job(dst, out["Job"])
    assert job.classname == "Msvm_ConcreteJob" and int(job["JobState"]) == 7
    rc, out = dst.InvokeMethod("RealizePlannedSystem", vsms, PlannedSystem=planned.path)
    assert rc == 0 and out["ResultingSystem"].keybindings["Name"] == vm["Name"]
    realized = vm_named(dst, "db-01")
    assert int(realized["EnabledState"]) == 3
    assert not dst.ExecQuery("WQL", "SELECT * FROM Msvm_PlannedComputerSystem")
    # Now the GUID exists on both hosts: migrating the source copy there is refused by the job.
    rc, out = migrate(src, vm, "HV-02")
    assert rc == 4096 and int(wait_job(src, out["Job"])["JobState"]) == 10
    assert dst.InvokeMethod("DestroySystem", vsms, AffectedSystem=realized.path)[0] == 0
    assert not [v for v in dst.EnumerateInstances("Msvm_ComputerSystem")
                if v["Name"] == vm["Name"]]


def test_processor_check_exempts_a_vm_that_is_off(hvsim_server: Callable[..., HvsimServer]
                                                  ) -> None:
    server = hvsim_server(scenario=SCENARIOS / "refusals.toml", time_scale=50)
    src = wbem_connection(server.url("SRC"))
    vm = vm_named(src, "vm-a")
    assert vm["Name"] == VM_A_GUID

    def check(destination: str) -> tuple[int, bool]:
        src.debug = True
        rc, _out = src.InvokeMethod("CheckVirtualSystemIsMigratableToHost", service(src),
                                    ComputerSystem=vm.path, DestinationHost=destination,
                                    MigrationSettingData=template(src).tocimxmlstr())
        # pywbem 1.9.1 turns every non-empty boolean output into True (cimvalue("FALSE",
        # "boolean") is True), so the verdict is read from the reply itself.
        reply = src.last_raw_reply or b""
        verdict = b'<PARAMVALUE NAME="IsMigratable" PARAMTYPE="boolean"><VALUE>TRUE</VALUE>'
        assert verdict in reply or verdict.replace(b"TRUE", b"FALSE") in reply
        return int(rc), verdict in reply

    assert check("AMD") == (0, False)  # running: Intel to AMD never works
    assert check("OK") == (0, True)
    rc, _ = src.InvokeMethod("MigrateVirtualSystemToHost", service(src),
                             ComputerSystem=vm.path, DestinationHost="AMD",
                             MigrationSettingData=template(src, Uint16(32772)).tocimxmlstr())
    assert rc == 32773  # StorageDeepCheck is for checks only
