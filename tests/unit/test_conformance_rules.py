"""The conformance rules on hand-built request records: each fires on the mistake it names
and stays silent on the careful version of the same requests."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

import pytest

from emulator.conformance import PropertyInfo, Thresholds, build_report
from emulator.conformance.model import sessions_of
from emulator.transport.request_log import RequestRecord, from_json, to_json

NS = "root/virtualization/v2"
JOB = "6F1D2C3B-0000-4000-8000-00000000CAFE"
SVC = "Msvm_VirtualSystemMigrationService"
_ids = itertools.count(1)
GOOD_SETTINGS = ('<INSTANCE CLASSNAME="Msvm_VirtualSystemMigrationSettingData">'
                 '<PROPERTY NAME="MigrationType" TYPE="uint16"><VALUE>32768</VALUE></PROPERTY>'
                 '<PROPERTY.ARRAY NAME="DestinationIPAddressList" TYPE="string"><VALUE.ARRAY>'
                 "<VALUE>10.0.0.12</VALUE></VALUE.ARRAY></PROPERTY.ARRAY></INSTANCE>")


def rec(at: float, operation: str, **fields: Any) -> RequestRecord:
    values: dict[str, Any] = dict(
        protocol="cim-xml", host="HV-01", client="10.0.0.5:40000", user="alice",
        operation=operation, namespace=NS, target=None, keys=None, query=None,
        http_status=200, cim_status=None, return_value=None, fault_subcode=None,
        wsman_code=None, message=None, duration_ms=1.0, time=1000.0 + at,
        user_agent="tool/1", connection=1, id=f"1-{next(_ids)}")
    values.update(fields)
    return RequestRecord(**values)


def migrate(at: float, settings: str = GOOD_SETTINGS, code: str = "4096",
            job: str | None = JOB) -> RequestRecord:
    return rec(at, "MigrateVirtualSystemToHost", target=SVC, return_value=code,
               params={"MigrationSettingData": settings, "DestinationHost": "HV-02"},
               observed={"job": job} if job and code == "4096" else {})


def read_job(at: float, state: int, error_code: int = 0, cancellable: str = "TRUE",
             job: str = JOB) -> RequestRecord:
    return rec(at, "GetInstance", target="Msvm_MigrationJob", keys=f"InstanceID={job}",
               observed={"jobs": [{"class": "Msvm_MigrationJob", "InstanceID": job,
                                   "JobState": str(state), "ErrorCode": str(error_code),
                                   "Cancellable": cancellable}]})


def job_call(at: float, method: str, **params: str) -> RequestRecord:
    return rec(at, method, target="Msvm_MigrationJob", keys=f"InstanceID={JOB}",
               return_value="0", params=params)


def query(at: float, text: str, **fields: Any) -> RequestRecord:
    return rec(at, "ExecQuery", query=text, params={"QueryLanguage": "WQL", "Query": text},
               **fields)


class FakeModel:
    """Msvm_ComputerSystem (with the deprecated Status), the migration settings and the
    migration service's method, in root/virtualization/v2 only."""

    CLASSES: Mapping[str, Mapping[str, PropertyInfo]] = {
        "msvm_computersystem": {
            "name": PropertyInfo("Name", "string", False),
            "elementname": PropertyInfo("ElementName", "string", False),
            "enabledstate": PropertyInfo("EnabledState", "uint16", False),
            "status": PropertyInfo("Status", "string", False,
                                   "CIM_ManagedSystemElement.OperationalStatus")},
        "msvm_virtualsystemmigrationsettingdata": {
            "migrationtype": PropertyInfo("MigrationType", "uint16", False),
            "destinationipaddresslist": PropertyInfo("DestinationIPAddressList", "string",
                                                     True)},
        "msvm_migrationjob": {
            "jobstate": PropertyInfo("JobState", "uint16", False),
            "statusdescriptions": PropertyInfo("StatusDescriptions", "string", True)},
    }

    def namespaces_of(self, classname: str) -> list[str]:
        return [NS] if classname.lower() in self.CLASSES else []

    def properties(self, namespace: str, classname: str) -> Mapping[str, PropertyInfo] | None:
        return self.CLASSES.get(classname.lower()) if namespace == NS else None

    def parameters(self, namespace: str, classname: str,
                   method: str) -> Mapping[str, PropertyInfo] | None:
        if classname == SVC and method == "MigrateVirtualSystemToHost":
            names = ("ComputerSystem", "DestinationHost", "MigrationSettingData",
                     "NewResourceSettingData")
            return {name.lower(): PropertyInfo(name, "string", False) for name in names}
        return None


def findings(records: list[RequestRecord], rule: str,
             thresholds: Thresholds | None = None) -> list[str]:
    report = build_report(records, FakeModel(), thresholds)
    return [f.summary for s in report.sessions for f in s.findings if f.rule == rule]


CAREFUL_MIGRATION = [migrate(0), read_job(0.5, 3), read_job(1.0, 4), read_job(1.5, 7)]


@pytest.mark.parametrize(("rule", "sloppy"), [
    ("job-never-read", [migrate(0)]),
    ("job-not-finished", [migrate(0), read_job(0.5, 4)]),
    ("completed-with-error", [migrate(0), read_job(1, 7, error_code=32768)]),
    ("job-errors-unread", [migrate(0), read_job(1, 10, error_code=32768)]),
    ("cancel-unchecked", [migrate(0), job_call(0.1, "RequestStateChange", RequestedState="4"),
                          read_job(1, 8)]),
    ("cancel-unchecked", [migrate(0), read_job(0.5, 4, cancellable="FALSE"),
                          job_call(0.6, "RequestStateChange", RequestedState="4"),
                          read_job(1, 7)]),
    ("planned-vm-leaked", [migrate(0, GOOD_SETTINGS.replace("32768", "32770")),
                           read_job(1, 10), job_call(1.1, "GetErrorEx")]),
    ("embedded-settings", [migrate(0, GOOD_SETTINGS.replace(
        'CLASSNAME="Msvm_VirtualSystemMigrationSettingData"', 'CLASSNAME="Msvm_Settings"'),
        code="32773")]),
    ("embedded-settings", [migrate(0, GOOD_SETTINGS.replace('TYPE="uint16"', 'TYPE="string"'),
                                   code="32773")]),
    ("embedded-settings", [migrate(0, '<INSTANCE CLASSNAME="Msvm_VirtualSystemMigration'
                                      'SettingData"><PROPERTY NAME="DestinationIPAddressList" '
                                      'TYPE="string"><VALUE>10.0.0.12</VALUE></PROPERTY>'
                                      "</INSTANCE>", code="32773")]),
    ("broad-query", [query(0, "SELECT * FROM Msvm_ComputerSystem")]),
    ("broad-query", [query(0, "ASSOCIATORS OF {Msvm_ComputerSystem.Name='x'}")]),
    ("envelope-too-large", [rec(0, "Get", protocol="ws-man",
                                params={"MaxEnvelopeSize": "1024000"})]),
    ("enumeration-not-released", [rec(0, "Enumerate", protocol="ws-man",
                                      observed={"context": "uuid:1"})]),
    ("enumeration-not-released", [rec(0, "OpenEnumerateInstances",
                                      observed={"context": "c1", "end": False}),
                                  rec(1, "PullInstancesWithPath",
                                      params={"EnumerationContext": "c1"},
                                      observed={"context": "c2", "end": False})]),
    ("localized-comparison", [query(0, "SELECT * FROM Msvm_MigrationJob WHERE "
                                       "StatusDescriptions = 'Job is running'")]),
    ("v1-namespace", [rec(0, "GetInstance", namespace="root\\virtualization",
                          target="Msvm_ComputerSystem", cim_status=3)]),
    ("unknown-name", [query(0, "SELECT Nmae FROM Msvm_ComputerSystem WHERE Name = 'x'")]),
    ("unknown-name", [rec(0, "EnumerateInstances", target="Msvm_ComputerSystem",
                          params={"PropertyList": json.dumps(["ElementName", "Bogus"])})]),
    ("unknown-name", [rec(0, "MigrateVirtualSystemToHost", target=SVC, return_value="4",
                          params={"DestinationHostName": "HV-02"})]),
    ("wrong-namespace", [rec(0, "EnumerateInstances", namespace="root/cimv2",
                             target="Msvm_ComputerSystem", cim_status=5)]),
    ("wrong-namespace", [rec(0, "EnumerateInstances", namespace="root/nothing",
                             target="Msvm_ComputerSystem", cim_status=3)]),
    ("deprecated-property", [query(0, "SELECT Name FROM Msvm_ComputerSystem "
                                      "WHERE Status = 'OK'")]),
    ("fast-polling", [migrate(0), *(read_job(0.05 * i, 4) for i in range(1, 30)),
                      read_job(1.5, 7)]),
])
def test_each_rule_fires_on_its_mistake(rule: str, sloppy: list[RequestRecord]) -> None:
    assert findings(sloppy, rule), f"{rule} did not fire"


def test_a_careful_client_gets_no_finding() -> None:
    careful = [
        query(0, "SELECT * FROM Msvm_ComputerSystem WHERE ElementName = 'web-01'"),
        rec(0.1, "EnumerateInstances", target="Msvm_ComputerSystem",
            params={"PropertyList": json.dumps(["ElementName", "EnabledState"])}),
        rec(0.2, "OpenEnumerateInstances", observed={"context": "c1", "end": False}),
        rec(0.3, "PullInstancesWithPath", params={"EnumerationContext": "c1"},
            observed={"context": "c1", "end": True}),
        rec(0.4, "Enumerate", protocol="ws-man", observed={"context": "uuid:9"},
            params={"MaxEnvelopeSize": "512000"}),
        rec(0.5, "Release", protocol="ws-man", params={"EnumerationContext": "uuid:9"}),
        *CAREFUL_MIGRATION,
        migrate(2, GOOD_SETTINGS.replace("32768", "32770"), job=JOB.replace("C", "D")),
        read_job(3, 4, job=JOB.replace("C", "D"), cancellable="TRUE"),
        rec(3.1, "RequestStateChange", target="Msvm_MigrationJob", return_value="4096",
            keys=f"InstanceID={JOB.replace('C', 'D')}", params={"RequestedState": "4"}),
        read_job(4, 10, job=JOB.replace("C", "D")),
        rec(4.1, "GetErrorEx", target="Msvm_MigrationJob", return_value="0",
            keys=f"InstanceID={JOB.replace('C', 'D')}"),
        rec(4.2, "DestroySystem", target="Msvm_VirtualSystemManagementService",
            return_value="0"),
    ]
    report = build_report(careful, FakeModel())
    assert [f.summary for s in report.sessions for f in s.findings] == []


def test_fast_polling_needs_a_sustained_rate() -> None:
    slow = [migrate(0), *(read_job(0.5 * i, 4) for i in range(1, 80)), read_job(40, 7)]
    assert not findings(slow, "fast-polling")
    # Six polls a second for a job still running after 40 s.
    long = [migrate(0), *(read_job(i / 6, 4) for i in range(1, 241))]
    assert findings(long, "fast-polling")
    assert not findings(long[:60], "fast-polling", Thresholds(sustained_seconds=30))


def test_sessions_split_by_user_address_and_user_agent() -> None:
    records = [rec(0, "GetInstance"), rec(1, "GetInstance", user="bob"),
               rec(2, "GetInstance", client="10.0.0.6:1"),
               rec(3, "GetInstance", user_agent="other/2"),
               rec(4, "GetInstance", client="10.0.0.5:40001")]
    sessions = sessions_of(records)
    assert [len(s.records) for s in sessions] == [2, 1, 1, 1]
    # The login steps before the user is known join their connection's session.
    login = rec(-1, "Negotiate log-in", user=None, protocol="ws-man", connection=7)
    after = rec(0, "Get", protocol="ws-man", connection=7)
    assert len(sessions_of([login, after])) == 1


def test_outputs_name_rule_evidence_and_fix() -> None:
    report = build_report([migrate(0), rec(1, "GetInstance", user="bob")], FakeModel())
    assert report.has_errors and report.count("error") == 1
    data = report.to_dict()
    (finding,) = [f for s in data["sessions"] for f in s["findings"]]
    assert finding["rule"] == "job-never-read" and finding["fix"].startswith("4096 means")
    assert finding["evidence"][0]["summary"].startswith("cim-xml HV-01 "
                                                        "MigrateVirtualSystemToHost")
    junit = report.to_junit()
    assert junit.count("<failure ") == 1 and 'type="job-never-read"' in junit
    assert junit.count("<testsuite ") == 2
    text = report.to_text()
    assert "ERROR   job-never-read" in text and "fix: 4096 means" in text


def test_records_round_trip_through_json_lines() -> None:
    record = read_job(1, 7)
    assert from_json(to_json(record)) == record
    with pytest.raises(ValueError, match="not a request record"):
        from_json('{"hello": 1}')
