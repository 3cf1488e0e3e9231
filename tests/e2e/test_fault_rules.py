"""Fault rules end to end (issue 10 item 3): rules added through /_hvsim/faults fail a migration
at 40 % with Hyper-V's error for pywbem and pypsrp, force a method's return code, answer a CIM
error, add latency, drop connections, refuse a user, take a host away; bad rules are 400.

One demo server serves the module; each test starts from no rules.
"""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
import pywbem
import requests
from pypsrp.exceptions import WSManFaultError
from pypsrp.wsman import SelectorSet

from emulator import cli
from tests.e2e.test_migration_methods import migrate, vm_named, wait_job
from tests.e2e.test_wsman_migration import SETTING_DATA, SVC, WSMAN, Pypsrp
from tests.support.server import DEMO_SCENARIO, HvsimServer, wbem_connection

pytestmark = pytest.mark.e2e
WEB01_GUID = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"
JOB_FAILED = 32768


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    live = HvsimServer({"scenario": DEMO_SCENARIO, "time_scale": 50},
                       workdir=tmp_path_factory.mktemp("faults"))
    with live:
        yield live


@pytest.fixture
def faults(server: HvsimServer) -> Iterator[str]:
    """The control API's /faults URL, with no rule before and after the test."""
    url = server.url("HV-01") + "/_hvsim/faults"
    requests.delete(url, timeout=10).raise_for_status()
    yield url
    requests.delete(url, timeout=10).raise_for_status()


def add(url: str, rule: dict[str, Any]) -> dict[str, Any]:
    reply = requests.post(url, json=rule, timeout=10)
    assert reply.status_code == 201, reply.text
    (added,) = reply.json()["rules"]
    return dict(added)


def msvm_errors(conn: pywbem.WBEMConnection, job: pywbem.CIMInstanceName
                ) -> list[pywbem.CIMInstance]:
    rv, out = conn.InvokeMethod("GetErrorEx", job)
    assert int(rv) == 0
    errors = list(out["Errors"])
    assert all(isinstance(error, pywbem.CIMInstance) for error in errors), errors
    return errors


def test_pywbem_migration_fails_at_40_percent_then_succeeds_without_the_rule(
        server: HvsimServer, faults: str) -> None:
    rule = add(faults, {"effect": "fail-job", "vm": "web-01", "at_percent": 40,
                        "error": "destination-out-of-memory", "count": 1})
    conn = wbem_connection(server.url("HV-01"))
    rv, out = migrate(conn, vm_named(conn, "web-01"), "HV-02")
    assert rv == 4096
    job = wait_job(conn, out["Job"])
    assert (job["JobState"], job["ErrorCode"], job["PercentComplete"]) == (10, JOB_FAILED, 40)
    assert "Not enough memory in the system to start the virtual machine 'web-01'" in \
        job["ErrorDescription"]
    (error,) = msvm_errors(conn, out["Job"])
    assert (error["MessageID"], error["ErrorType"], error["ProbableCause"]) == ("21024", 8, 33)
    assert error["ErrorSource"] == ('Msvm_ComputerSystem.CreationClassName="Msvm_ComputerSystem"'
                                    f',Name="{WEB01_GUID}"')
    # The source VM stays where and as it was.
    assert vm_named(conn, "web-01")["EnabledState"] == 2
    listed = requests.get(faults, timeout=10).json()["rules"]
    assert [(r["id"], r["matched"], r["fired"]) for r in listed] == [(rule["id"], 1, 1)]
    # Without the rule the same migration completes.
    assert requests.delete(f"{faults}/{rule['id']}", timeout=10).json() == {"removed": 1}
    rv, out = migrate(conn, vm_named(conn, "web-01"), "HV-02")
    assert rv == 4096
    assert wait_job(conn, out["Job"])["JobState"] == 7
    assert "web-01" in {vm["ElementName"] for vm in wbem_connection(
        server.url("HV-02")).EnumerateInstances("Msvm_ComputerSystem")}


def _wsman_job(client: Pypsrp, moved: ET.Element) -> tuple[str, dict[str, str]]:
    job = moved.find(f"{{{SVC}}}Job")
    assert job is not None
    uri = job.findtext(f".//{{{WSMAN}}}ResourceURI") or ""
    return uri, {s.get("Name") or "": s.text or "" for s in job.iterfind(f".//{{{WSMAN}}}Selector")}


def test_pypsrp_migration_fails_at_40_percent_with_the_named_error(
        server: HvsimServer, faults: str) -> None:
    add(faults, {"effect": "fail-job", "protocol": "wsman", "vm": "web-02",
                 "at_percent": 40, "error": "network-connection-lost"})
    client = Pypsrp(server, "ntlm", "auto")
    epr = client.vm_epr("HV-01", "web-02")
    moved = client.invoke("HV-01", "MigrateVirtualSystemToHost",
                          f"<p:ComputerSystem>{epr}</p:ComputerSystem>"
                          "<p:DestinationHost>HV-02</p:DestinationHost>"
                          f"<p:MigrationSettingData>{escape(SETTING_DATA)}"
                          "</p:MigrationSettingData>")
    assert moved.findtext(f"{{{SVC}}}ReturnValue") == "4096"
    uri, selectors = _wsman_job(client, moved)
    deadline = time.monotonic() + 30
    while True:
        instance = client.get("HV-01", uri, selectors)
        if int(instance.findtext(f"{{{uri}}}JobState") or 0) >= 7:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert instance.findtext(f"{{{uri}}}JobState") == "10"
    assert instance.findtext(f"{{{uri}}}ErrorCode") == str(JOB_FAILED)
    assert instance.findtext(f"{{{uri}}}PercentComplete") == "40"
    assert "0x80072746" in (instance.findtext(f"{{{uri}}}ErrorDescription") or "")
    keys = SelectorSet()
    for name, value in selectors.items():
        keys.add_option(name, value)
    body = ET.fromstring(f'<p:GetErrorEx_INPUT xmlns:p="{uri}"/>')
    reply = client.clients["HV-01"].invoke(f"{uri}/GetErrorEx", uri, body, selector_set=keys)
    text = ET.tostring(reply, encoding="unicode")
    assert "21502" in text and "Communications Subsystem Failure" in text, text
    assert "web-02" in client.vm_names("HV-01")


def test_a_return_code_rule_answers_the_method_at_once(server: HvsimServer,
                                                       faults: str) -> None:
    add(faults, {"effect": "return-code", "operation": "RequestStateChange",
                 "return_code": 32775, "count": 1})
    conn = wbem_connection(server.url("HV-01"))
    vm = vm_named(conn, "db-01")
    state = vm["EnabledState"]
    rv, out = conn.InvokeMethod("RequestStateChange", vm.path,
                                RequestedState=pywbem.Uint16(32769))
    assert int(rv) == 32775 and out.get("Job") is None
    assert vm_named(conn, vm["ElementName"])["EnabledState"] == state


def test_a_cim_error_rule_fails_the_operation_over_both_protocols(
        server: HvsimServer, faults: str) -> None:
    add(faults, {"effect": "cim-error", "operation": "EnumerateInstances",
                 "classname": "Msvm_VirtualSystemMigrationService",
                 "cim_error": "CIM_ERR_ACCESS_DENIED", "message": "denied by the test",
                 "count": 1})
    conn = wbem_connection(server.url("HV-01"))
    with pytest.raises(pywbem.CIMError) as refused:
        conn.EnumerateInstances("Msvm_VirtualSystemMigrationService")
    assert refused.value.status_code == pywbem.CIM_ERR_ACCESS_DENIED
    assert "denied by the test" in refused.value.status_description
    assert len(conn.EnumerateInstances("Msvm_VirtualSystemMigrationService")) == 1  # spent
    add(faults, {"effect": "cim-error", "protocol": "wsman", "operation": "Get",
                 "cim_error": 6})
    client = Pypsrp(server, "basic", None)
    with pytest.raises(WSManFaultError):
        client.get("HV-01", SVC, {"CreationClassName": "Msvm_VirtualSystemMigrationService",
                                  "Name": "migrationwmi", "SystemName": "HV-01",
                                  "SystemCreationClassName": "Msvm_ComputerSystem"})


def test_latency_drop_unreachable_and_unauthorized(server: HvsimServer, faults: str) -> None:
    conn = wbem_connection(server.url("HV-01"))
    add(faults, {"effect": "latency", "operation": "EnumerateClassNames", "latency_ms": 400,
                 "jitter_ms": 50})
    started = time.monotonic()
    conn.EnumerateClassNames()
    assert time.monotonic() - started >= 0.3
    add(faults, {"effect": "drop", "operation": "GetClass", "count": 1})
    with pytest.raises(pywbem.ConnectionError):
        wbem_connection(server.url("HV-01")).GetClass("Msvm_ComputerSystem")
    assert wbem_connection(server.url("HV-01")).GetClass("Msvm_ComputerSystem")
    add(faults, {"effect": "unauthorized", "user": "mallory"})
    with pytest.raises(pywbem.AuthError):
        wbem_connection(server.url("HV-01"), user="mallory").EnumerateInstanceNames(
            "Msvm_VirtualSystemMigrationService")
    assert conn.EnumerateInstanceNames("Msvm_VirtualSystemMigrationService")
    add(faults, {"effect": "unreachable", "host": "HV-02", "duration_seconds": 1.5})
    with pytest.raises(pywbem.ConnectionError):
        wbem_connection(server.url("HV-02")).EnumerateInstanceNames("Msvm_ComputerSystem")
    assert conn.EnumerateInstanceNames("Msvm_ComputerSystem")  # HV-01 still answers
    time.sleep(1.6)
    assert wbem_connection(server.url("HV-02")).EnumerateInstanceNames("Msvm_ComputerSystem")


@pytest.mark.parametrize(("rule", "where", "says"), [
    ({"effect": "drop", "colour": "red"}, "rule.colour", "unknown field"),
    ({"effect": "drop", "count": "three"}, "rule.count", "integer"),
    ({"effect": "fail-job", "error": "gremlins", "at_percent": 40}, "rule.error",
     "unknown named error"),
    ({"effect": "fail-job", "error": "destination-out-of-memory"}, "rule.at_percent",
     "exactly one"),
    ({"effect": "latency", "latency_ms": 5, "vm": "web-01"}, "rule.vm", "never match"),
    ({"effect": "cim-error", "cim_error": "CIM_ERR_NOPE"}, "rule.cim_error", "unknown"),
])
def test_bad_rules_are_400_with_where_and_change_nothing(
        faults: str, rule: dict[str, Any], where: str, says: str) -> None:
    reply = requests.post(faults, json=rule, timeout=10)
    assert reply.status_code == 400, reply.text
    assert reply.json()["where"] == where
    assert says in reply.json()["error"]
    bad_list = requests.post(faults, json=[{"effect": "drop"}, rule], timeout=10)
    assert bad_list.status_code == 400 and bad_list.json()["where"].startswith("rules[1]")
    assert requests.get(faults, timeout=10).json() == {"rules": []}


def test_bad_requests_to_faults(faults: str) -> None:
    assert requests.post(faults, data=b"{nope", timeout=10).status_code == 400
    assert requests.delete(f"{faults}/999", timeout=10).status_code == 404
    assert requests.delete(f"{faults}/x", timeout=10).status_code == 400


def test_the_cli_adds_lists_and_clears(server: HvsimServer, faults: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    url = server.url("HV-01")
    assert cli.main(["fault", "add", "--url", url, "effect=fail-job", "vm=web-01",
                     "error=operation-timed-out", "at_phase=memory", "probability=0.5",
                     "seed=7"]) == 0
    assert cli.main(["fault", "list", "--url", url]) == 0
    assert cli.main(["fault", "add", "--url", url, "effect=fail-job", "error=nope",
                     "at_percent=3"]) == 2
    assert cli.main(["fault", "clear", "--url", url]) == 0
    shown = capsys.readouterr()
    assert "added rule" in shown.out and "at_phase=memory" in shown.out
    assert "removed 1 rule" in shown.out and "unknown named error" in shown.err


def test_scenario_rules_are_installed_and_bad_ones_refused(
        tmp_path: Path, hvsim_server: Any) -> None:
    text = DEMO_SCENARIO.read_text() + (
        '\n[[faults]]\neffect = "fail-job"\nvm = "web-01"\nerror = "credssp-failed"\n'
        "at_percent = 10\n")
    scenario = tmp_path / "faulty.toml"
    scenario.write_text(text)
    live: HvsimServer = hvsim_server(scenario=scenario, time_scale=50)
    (rule,) = requests.get(live.url("HV-01") + "/_hvsim/faults", timeout=10).json()["rules"]
    assert (rule["origin"], rule["error"]) == ("scenario", "credssp-failed")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('"credssp-failed"', '"nope"'))
    done = subprocess.run([sys.executable, "-m", "emulator", "serve", "--scenario", str(bad),
                           "--database", f"sqlite:///{tmp_path / 'x.db'}", "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "faults[0].error: unknown named error" in done.stderr
