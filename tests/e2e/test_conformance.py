"""The request log and the conformance report against a live strict-mode server: sloppy
pywbem and pypsrp clients trigger every rule the emulated world lets them, the README's
migration snippet and a careful pywbem migration trigger none; the log holds no credential;
`hvsim conformance` fails a CI job on errors; `hvsim replay` gets the same answers from the
same world."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
import pywbem
from pypsrp.exceptions import WSManFaultError
from pypsrp.wsman import NAMESPACES, SelectorSet, WSMan

from emulator.control.client import basic_header
from tests.support.server import (
    DEMO_SCENARIO,
    PROJECT_ROOT,
    WMI_V2,
    HvsimServer,
    wbem_connection,
    wsman_client,
)

pytestmark = pytest.mark.e2e
PASSWORD = "Conf0rmance-pw"
USERS = ("careful-ws", "careful-cim", "sloppy", "sloppy-jobs", "sloppy-ws")
SVC_CLASS = "Msvm_VirtualSystemMigrationService"
ENUMERATION = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
SVC = WMI_V2 + SVC_CLASS
# The demo's two hosts, with six running VMs on HV-01 that move independently.
SCENARIO = DEMO_SCENARIO.read_text().partition("[[vms]]")[0] + "".join(
    f'[[vms]]\nname = "vm-{n}"\nhost = "HV-01"\nstate = "running"\n' for n in range(1, 7))
SETTINGS = ('<INSTANCE CLASSNAME="Msvm_VirtualSystemMigrationSettingData">'
            '<PROPERTY NAME="MigrationType" TYPE="uint16"><VALUE>{kind}</VALUE></PROPERTY>'
            "</INSTANCE>")


@pytest.fixture(scope="module")
def world_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("conformance-world")
    scenario = folder / "lab.toml"
    scenario.write_text(SCENARIO)
    users = folder / "users.txt"
    users.write_text("".join(f"{user}:{PASSWORD}\n" for user in USERS))
    return scenario, users


def start(world_files: tuple[Path, Path], workdir: Path) -> HvsimServer:
    scenario, users = world_files
    return HvsimServer({"scenario": scenario, "users": users, "time_scale": 5},
                       workdir=workdir).start()


@pytest.fixture(scope="module")
def server(world_files: tuple[Path, Path],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    started = start(world_files, tmp_path_factory.mktemp("conformance-server"))
    try:
        run_clients(started)
        yield started
    finally:
        started.stop()


def cim(server: HvsimServer, user: str, host: str = "HV-01",
        namespace: str = "root/virtualization/v2") -> pywbem.WBEMConnection:
    return wbem_connection(server.url(host), namespace, user=user, password=PASSWORD)


def vm_path(conn: pywbem.WBEMConnection, name: str) -> pywbem.CIMInstanceName:
    (vm,) = conn.ExecQuery("WQL", f"SELECT * FROM Msvm_ComputerSystem WHERE ElementName = "
                                  f"'{name}'")
    return vm.path


def migrate(conn: pywbem.WBEMConnection, vm: str, destination: str = "HV-02",
            settings: str = SETTINGS.format(kind=32768)) -> tuple[int, Any]:
    (service,) = conn.EnumerateInstanceNames(SVC_CLASS)
    rc, out = conn.InvokeMethod("MigrateVirtualSystemToHost", service,
                                ComputerSystem=vm_path(conn, vm), DestinationHost=destination,
                                MigrationSettingData=settings)
    return int(rc), out.get("Job")


def poll(conn: pywbem.WBEMConnection, job: pywbem.CIMInstanceName,
         interval: float) -> pywbem.CIMInstance:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        instance = conn.GetInstance(job)
        if instance["JobState"] not in (2, 3, 4):
            return instance
        time.sleep(interval)
    raise AssertionError("the job did not end")


def careful_cim(server: HvsimServer) -> None:
    conn = cim(server, "careful-cim")
    rc, job = migrate(conn, "vm-1")
    assert rc == 4096
    assert poll(conn, job, 0.5)["JobState"] == 7


def careful_ws(server: HvsimServer) -> None:
    """The README's pypsrp migration snippet, as printed there but for the VM and user."""
    port = int(server.url("HV-01").rsplit(":", 1)[1])
    wsman = WSMan("127.0.0.1", port=port, ssl=False, username="careful-ws", password=PASSWORD)
    wsman.update_max_payload_size()
    found = wsman.enumerate(WMI_V2 + "*", ET.fromstring(
        '<wsen:Enumerate xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
        'xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">'
        "<wsman:OptimizeEnumeration/>"
        "<wsman:EnumerationMode>EnumerateEPR</wsman:EnumerationMode>"
        '<wsman:Filter Dialect="http://schemas.microsoft.com/wbem/wsman/1/WQL">'
        "SELECT * FROM Msvm_ComputerSystem WHERE ElementName = 'vm-2'</wsman:Filter>"
        "</wsen:Enumerate>"))
    epr = found.find(".//wsa:EndpointReference", NAMESPACES)
    assert epr is not None
    vm = "".join(ET.tostring(e, encoding="unicode") for e in epr)
    service = SelectorSet()
    for key, value in (("CreationClassName", SVC_CLASS), ("Name", "migrationwmi"),
                       ("SystemCreationClassName", "Msvm_ComputerSystem"),
                       ("SystemName", "HV-01")):
        service.add_option(key, value)
    reply = wsman.invoke(SVC + "/MigrateVirtualSystemToHost", SVC, ET.fromstring(
        f'<p:MigrateVirtualSystemToHost_INPUT xmlns:p="{SVC}"><p:ComputerSystem>{vm}'
        "</p:ComputerSystem><p:DestinationHost>HV-02</p:DestinationHost>"
        f"<p:MigrationSettingData>{escape(SETTINGS.format(kind=32768))}"
        "</p:MigrationSettingData></p:MigrateVirtualSystemToHost_INPUT>"),
        selector_set=service)
    out = reply.find(f".//{{{SVC}}}MigrateVirtualSystemToHost_OUTPUT")
    assert out is not None and out.findtext(f"{{{SVC}}}ReturnValue") == "4096"
    job = out.find(f"{{{SVC}}}Job")
    assert job is not None
    job_uri = job.findtext(".//wsman:ResourceURI", default="", namespaces=NAMESPACES)
    job_keys = SelectorSet()
    for selector in job.iterfind(".//wsman:Selector", NAMESPACES):
        job_keys.add_option(selector.get("Name", ""), selector.text or "")
    while True:
        state = wsman.get(job_uri, selector_set=job_keys).findtext(f".//{{{job_uri}}}JobState")
        if state not in ("2", "3", "4"):
            break
        time.sleep(0.5)
    assert state == "7"


def sloppy_cim(server: HvsimServer) -> None:
    conn = cim(server, "sloppy")
    conn.ExecQuery("WQL", "SELECT * FROM Msvm_ComputerSystem")  # broad
    for text in ("SELECT Name FROM Msvm_ComputerSystem WHERE Status = 'OK'",  # deprecated
                 "SELECT * FROM Msvm_MigrationJob WHERE StatusDescriptions = 'Job is running'",
                 "SELECT Nmae FROM Msvm_ComputerSystem WHERE ElementName = 'vm-1'"):
        with contextlib.suppress(pywbem.CIMError):
            conn.ExecQuery("WQL", text)
    # WMI leaves out what a PropertyList names that the class lacks, silently.
    conn.EnumerateInstances("Msvm_ComputerSystem", PropertyList=["ElementName", "Bogus"])
    with pytest.raises(pywbem.CIMError):
        cim(server, "sloppy", namespace="root/virtualization").EnumerateInstanceNames(
            "Msvm_ComputerSystem")  # v1
    with pytest.raises(pywbem.CIMError):
        cim(server, "sloppy", namespace="root/cimv2").EnumerateInstanceNames(
            "Msvm_ComputerSystem")  # wrong namespace
    conn.OpenEnumerateInstances("Msvm_ComputerSystem", MaxObjectCount=1)  # never closed
    # Embedded settings with the wrong class, a string MigrationType, a scalar address list.
    for settings in (SETTINGS.format(kind=32768).replace("Msvm_VirtualSystemMigrationSetting"
                                                         "Data", "Msvm_MigrationSettings"),
                     SETTINGS.format(kind=32768).replace('TYPE="uint16"', 'TYPE="string"'),
                     SETTINGS.format(kind=32768).replace(
                         "</INSTANCE>", '<PROPERTY NAME="DestinationIPAddressList" '
                         'TYPE="string"><VALUE>10.0.0.12</VALUE></PROPERTY></INSTANCE>')):
        # What hvsim answers is not the point here (a job may start: vm-6 is not needed again).
        migrate(conn, "vm-6", settings=settings)


def sloppy_jobs(server: HvsimServer) -> None:
    conn = cim(server, "sloppy-jobs")
    rc, job = migrate(conn, "vm-3")
    assert rc == 4096
    assert poll(conn, job, 0.02)["JobState"] == 7  # 50 polls a second
    rc, unread = migrate(conn, "vm-4")  # 4096 taken for success, then cancelled blind
    assert rc == 4096
    conn.InvokeMethod("RequestStateChange", unread, RequestedState=pywbem.Uint16(4))
    rc, failing = migrate(conn, "vm-5", destination="HV-99")
    assert rc == 4096 and poll(conn, failing, 0.3)["JobState"] == 10  # no GetErrorEx
    rc, staged = migrate(conn, "vm-5", destination="HV-99",
                         settings=SETTINGS.format(kind=32770))
    assert rc == 4096 and poll(conn, staged, 0.3)["JobState"] == 10  # no DestroySystem


def sloppy_ws(server: HvsimServer) -> None:
    wsman: WSMan = wsman_client(server.url("HV-01"), user="sloppy-ws", password=PASSWORD,
                                auth="ntlm")
    plain = ET.fromstring(f'<wsen:Enumerate xmlns:wsen="{ENUMERATION}"/>')
    wsman.enumerate(WMI_V2 + "Msvm_ComputerSystem", plain)  # its context is never pulled
    with pytest.raises(WSManFaultError):
        wsman.enumerate("http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/"
                        "Msvm_ComputerSystem", plain)
    huge: WSMan = wsman_client(server.url("HV-01"), user="sloppy-ws", password=PASSWORD,
                               auth="ntlm", max_envelope_size=1024000)
    with pytest.raises(WSManFaultError):
        huge.get(WMI_V2 + "Msvm_ComputerSystem", selector_set=SelectorSet())


def run_clients(server: HvsimServer) -> None:
    careful_ws(server)
    careful_cim(server)
    sloppy_cim(server)
    sloppy_jobs(server)
    sloppy_ws(server)


def control(server: HvsimServer, path: str, user: str | None = "careful-cim") -> Any:
    request = urllib.request.Request(server.url("HV-01") + "/_hvsim" + path,
                                     headers=basic_header(user, PASSWORD) if user else {})
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.loads(reply.read())


@pytest.fixture(scope="module")
def report(server: HvsimServer) -> dict[str, Any]:
    data: dict[str, Any] = control(server, "/conformance")
    return data


def rules_of(report: dict[str, Any], user: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for session in report["sessions"]:
        if session["session"].startswith(f"{user}@"):
            for finding in session["findings"]:
                found.setdefault(finding["rule"], []).append(finding)
    return found


@pytest.mark.parametrize(("user", "rule"), [
    ("sloppy", "broad-query"), ("sloppy", "deprecated-property"),
    ("sloppy", "localized-comparison"), ("sloppy", "unknown-name"),
    ("sloppy", "v1-namespace"), ("sloppy", "wrong-namespace"),
    ("sloppy", "enumeration-not-released"), ("sloppy", "embedded-settings"),
    ("sloppy-jobs", "fast-polling"), ("sloppy-jobs", "job-never-read"),
    ("sloppy-jobs", "cancel-unchecked"), ("sloppy-jobs", "job-errors-unread"),
    ("sloppy-jobs", "planned-vm-leaked"),
    ("sloppy-ws", "enumeration-not-released"), ("sloppy-ws", "v1-namespace"),
    ("sloppy-ws", "envelope-too-large"),
])
def test_a_sloppy_client_triggers_the_rule(report: dict[str, Any], user: str,
                                           rule: str) -> None:
    findings = rules_of(report, user)
    assert rule in findings, f"{user}: {sorted(findings)}"
    (first, *_) = findings[rule]
    assert first["fix"] and first["evidence"] and first["evidence"][0]["id"]


def test_embedded_settings_names_each_mistake(report: dict[str, Any]) -> None:
    summaries = " | ".join(f["summary"] for f in rules_of(report, "sloppy")["embedded-settings"])
    assert "CLASSNAME is 'Msvm_MigrationSettings'" in summaries
    assert "MigrationType is TYPE 'string', not uint16" in summaries
    assert "DestinationIPAddressList is a PROPERTY" in summaries


@pytest.mark.parametrize("user", ["careful-ws", "careful-cim"])
def test_a_careful_client_triggers_nothing(report: dict[str, Any], user: str) -> None:
    assert any(s["session"].startswith(f"{user}@") and s["requests"] > 3
               for s in report["sessions"])
    assert rules_of(report, user) == {}


def test_the_log_keeps_no_credential(server: HvsimServer) -> None:
    log = (server.workdir / "requests.jsonl").read_text()
    assert "sloppy-ws" in log and "careful-cim" in log
    assert PASSWORD not in log and "Hvsim-NTLM-1" not in log
    # No Authorization value: Basic credentials, or an NTLM message (base64 of "NTLMSSP").
    assert not re.search(r"(?i)(basic|negotiate|ntlm) [a-z0-9+/=]{8}", log)
    assert "TlRMTVNT" not in log and '"authorization"' not in log.lower()


def test_requests_route_filters_and_strict_mode_needs_a_login(server: HvsimServer) -> None:
    records = control(server, "/requests?client=careful-ws&limit=1000")["records"]
    assert records and {r["user"] for r in records} == {"careful-ws"}
    assert any(r["operation"] == "Invoke MigrateVirtualSystemToHost"
               and r["return_value"] == "4096" and r["observed"]["job"] for r in records)
    newest = control(server, "/requests?limit=2")["records"]
    assert len(newest) == 2
    later = control(server, f"/requests?since={newest[-1]['time']}")["records"]
    assert later and all(r["time"] >= newest[-1]["time"] for r in later)
    with pytest.raises(urllib.error.HTTPError) as refused:
        control(server, "/requests", user=None)
    assert refused.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as bad:
        control(server, "/requests?since=yesterday")
    assert bad.value.code == 422
    openapi = control(server, "/openapi.json", user=None)
    assert {"/requests", "/conformance"} <= set(openapi["paths"])


def hvsim(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "emulator", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_conformance_command_fails_ci_on_errors(server: HvsimServer) -> None:
    url = server.url("HV-02")
    sloppy = hvsim("conformance", "--url", url, "--format", "junit", "--user", "sloppy",
                   "--password", PASSWORD)
    assert sloppy.returncode == 1, sloppy.stderr
    suites = ET.fromstring(sloppy.stdout)
    failures = [case.find("failure") for case in suites.iter("testcase")]
    assert any(f is not None and f.get("type") == "v1-namespace" for f in failures)
    careful = hvsim("conformance", "--url", url, "--client", "careful-cim", "--user",
                    "careful-cim", "--password", PASSWORD)
    assert careful.returncode == 0, careful.stdout + careful.stderr
    assert "no finding(s)" in careful.stdout


def test_replay_of_a_migration_gets_the_same_answers(
        server: HvsimServer, world_files: tuple[Path, Path],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    log = server.workdir / "requests.jsonl"
    fresh = start(world_files, tmp_path_factory.mktemp("conformance-replay"))
    try:
        replayed = hvsim("replay", str(log), "--client", "careful-cim",
                         "--to", f"HV-01={fresh.url('HV-01')}",
                         "--to", f"HV-02={fresh.url('HV-02')}",
                         "--user", "careful-cim", "--password", PASSWORD)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        assert "MigrateVirtualSystemToHost: HTTP 200, ReturnValue 4096" in replayed.stdout
        assert " 0 different" in replayed.stdout
        # The replayed migration moved vm-1 in the fresh world as the original did.
        conn = cim(fresh, "careful-cim", host="HV-02")
        assert vm_path(conn, "vm-1")
    finally:
        fresh.stop()
