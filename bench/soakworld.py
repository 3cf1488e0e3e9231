"""What every soak client shares: the service's names, paths and references to VMs, the
world as the servers first serve it, and the tally of operations and errors.

Used by soakload.py and by the database-outage benchmark (db_outage.py, outageload.py).
"""

from __future__ import annotations

import threading
from collections import Counter

import pywbem
from pypsrp.exceptions import WSManFaultError
from pypsrp.wsman import SelectorSet
from wsman import CS, V2

NAMESPACE = "root/virtualization/v2"
SERVICE = "Msvm_VirtualSystemMigrationService"
SVC = V2 + SERVICE
ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
TERMINAL_JOB_STATES = {7, 8, 9, 10}


class Tally:
    """Operations, errors and expected refusals by kind, shared by every client thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.operations: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self.samples: dict[str, str] = {}

    def operation(self, kind: str) -> None:
        with self.lock:
            self.operations[kind] += 1

    def refusal(self, kind: str) -> None:
        with self.lock:
            self.refusals[kind] += 1

    def error(self, kind: str, detail: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            self.samples.setdefault(kind, detail[:300])

    def totals(self) -> tuple[int, int, int]:
        with self.lock:
            return (sum(self.operations.values()), sum(self.errors.values()),
                    self.operations["migrate"])


def error_kind(error: Exception) -> str:
    if isinstance(error, pywbem.CIMError):
        return f"CIMError {error.status_code_name}"
    if isinstance(error, WSManFaultError):
        return f"WSManFault {error.code}"
    return type(error).__name__


def vm_path(guid: str) -> pywbem.CIMInstanceName:
    return pywbem.CIMInstanceName("Msvm_ComputerSystem", {
        "CreationClassName": "Msvm_ComputerSystem", "Name": guid})


def vm_epr(guid: str) -> str:
    return (f'<a:Address xmlns:a="{ADDRESSING}">{ADDRESSING}/role/anonymous</a:Address>'
            f'<a:ReferenceParameters xmlns:a="{ADDRESSING}" xmlns:w="{WSMAN}">'
            f"<w:ResourceURI>{CS}</w:ResourceURI><w:SelectorSet>"
            '<w:Selector Name="CreationClassName">Msvm_ComputerSystem</w:Selector>'
            f'<w:Selector Name="Name">{guid}</w:Selector></w:SelectorSet>'
            "</a:ReferenceParameters>")


def service_selectors(host: str) -> SelectorSet:
    keys = SelectorSet()
    for key, value in (("CreationClassName", SERVICE), ("Name", "migrationwmi"),
                       ("SystemCreationClassName", "Msvm_ComputerSystem"),
                       ("SystemName", host)):
        keys.add_option(key, value)
    return keys


class World:
    """What every client needs to know once: endpoints, service paths, the VMs' first hosts."""

    def __init__(self, urls: list[dict[str, str]]) -> None:
        self.urls = urls
        self.hosts = sorted(urls[0])
        conn = cim_connection(urls[0][self.hosts[0]])
        self.services = {}
        self.homes: dict[str, str] = {}
        for host in self.hosts:
            local = cim_connection(urls[0][host])
            (service,) = local.EnumerateInstanceNames(SERVICE)
            service.host = service.namespace = None
            self.services[host] = service
            for path in local.EnumerateInstanceNames("Msvm_ComputerSystem"):
                if path["Name"] != host:
                    self.homes[str(path["Name"])] = host
        self.settings = conn.ExecQuery(
            "WQL", "SELECT * FROM Msvm_VirtualSystemMigrationSettingData "
                   "WHERE MigrationType = 32768")[0].tocimxmlstr()

    def partner(self, host: str) -> str:
        return self.hosts[(self.hosts.index(host) + 1) % len(self.hosts)]


def cim_connection(url: str) -> pywbem.WBEMConnection:
    return pywbem.WBEMConnection(url, creds=("bench", "bench"), default_namespace=NAMESPACE,
                                 timeout=120)
