"""GetSummaryInformation as os-win and Get-VM call it (reference §13.3)."""

from __future__ import annotations

from collections.abc import Callable

import pywbem
from pywbem import CIMInstanceName, Uint32

from tests.support.server import DEMO_SCENARIO, HvsimServer, wbem_connection

V2 = "root/virtualization/v2"
WEB01 = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"
# What os-win's get_vm_summary_info asks for.
OS_WIN_CODES = (4, 100, 103, 105)


def vssd(guid: str) -> CIMInstanceName:
    return CIMInstanceName("Msvm_VirtualSystemSettingData", {"InstanceID": f"Microsoft:{guid}"},
                           namespace=V2)


def summary(conn: pywbem.WBEMConnection, codes: tuple[int, ...],
            paths: list[CIMInstanceName] | None = None) -> tuple[int, list[pywbem.CIMInstance]]:
    (vsms,) = conn.EnumerateInstanceNames("Msvm_VirtualSystemManagementService")
    params: dict[str, object] = {"RequestedInformation": [Uint32(c) for c in codes]}
    if paths is not None:
        params["SettingData"] = paths
    rc, out = conn.InvokeMethod("GetSummaryInformation", vsms, **params)
    return int(rc), list(out.get("SummaryInformation") or [])


def test_os_win_polling_and_running_tasks(hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO, time_scale=1)
    conn = wbem_connection(server.url("HV-01"))
    rc, (web01,) = summary(conn, OS_WIN_CODES, [vssd(WEB01)])
    assert rc == 0
    assert web01["NumberOfProcessors"] == 2 and web01["EnabledState"] == 2
    assert web01["MemoryUsage"] == 4096 and web01["UpTime"] >= 0
    assert web01["Name"] is None  # not requested, so NULL
    assert web01["AsynchronousTasks"] is None

    (svc,) = conn.EnumerateInstanceNames("Msvm_VirtualSystemMigrationService")
    (template,) = conn.ExecQuery("WQL", "SELECT * FROM Msvm_VirtualSystemMigrationSettingData "
                                        "WHERE MigrationType = 32768")
    (vm,) = conn.ExecQuery("WQL", f"SELECT * FROM Msvm_ComputerSystem WHERE Name = '{WEB01}'")
    rc, out = conn.InvokeMethod("MigrateVirtualSystemToHost", svc, ComputerSystem=vm.path,
                                DestinationHost="HV-02",
                                MigrationSettingData=template.tocimxmlstr())
    assert rc == 4096
    rc, (web01,) = summary(conn, (0, 108), [vssd(WEB01)])
    (task,) = web01["AsynchronousTasks"]
    assert web01["Name"] == WEB01
    assert task.classname == "Msvm_MigrationJob"
    assert task["InstanceID"] == out["Job"].keybindings["InstanceID"]
    assert task["JobType"] == 305


def test_all_vms_unknown_vms_and_bad_codes(hvsim_server: Callable[..., HvsimServer]) -> None:
    server = hvsim_server(scenario=DEMO_SCENARIO)
    conn = wbem_connection(server.url("HV-02"))
    rc, everything = summary(conn, (1, 100))
    assert rc == 0
    assert {(s["ElementName"], s["EnabledState"]) for s in everything} == {
        ("app-01", 6), ("build-01", 9), ("legacy-01", 3)}
    rc, (unknown,) = summary(conn, (0, 1), [vssd(WEB01)])  # web-01 lives on HV-01
    assert rc == 0 and unknown["Name"] == "" and unknown["ElementName"] is None
    assert summary(conn, (999,))[0] == 32773
