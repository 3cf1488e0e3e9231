"""One soak client thread: random reads, enumerations, queries, associators, compatibility
checks and live migrations of its own VMs, each on a random one of the two processes."""

from __future__ import annotations

import argparse
import random
import threading
import time
import xml.etree.ElementTree as ET

import pywbem
from pypsrp.wsman import NAMESPACES, WSMan
from soakworld import (
    SVC,
    TERMINAL_JOB_STATES,
    WSMAN,
    Tally,
    World,
    cim_connection,
    error_kind,
    service_selectors,
    vm_epr,
    vm_path,
)
from wsman import CS, V2, enumerate_all, names_of, selectors

WQL_DIALECT = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
ALREADY_MOVING = 32774
INCOMPATIBLE = 32784
WEIGHTS = {"read": 30, "enumerate": 15, "query": 10, "associators": 5, "compat": 15,
           "migrate": 25}
QUERIES = ("SELECT * FROM Msvm_ComputerSystem WHERE EnabledState = 2",
           "SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'")
JOB_TIMEOUT = 300.0


class Client(threading.Thread):
    """One client thread: random operations until the deadline, each on a random process."""

    def __init__(self, index: int, world: World, vms: list[str], tally: Tally,
                 deadline: float, args: argparse.Namespace) -> None:
        super().__init__(name=f"soak-client-{index}", daemon=True)
        self.world, self.tally, self.deadline, self.args = world, tally, deadline, args
        self.vms = vms
        self.location = {guid: world.homes[guid] for guid in vms}
        self.rng = random.Random(args.seed * 1000 + index)
        self._cim: dict[tuple[int, str], pywbem.WBEMConnection] = {}
        self._wsman: dict[tuple[int, str], WSMan] = {}

    # -- connections, each kept alive for the whole run --------------------------------------

    def cim(self, host: str) -> pywbem.WBEMConnection:
        key = (self.rng.randrange(2), host)
        if key not in self._cim:
            self._cim[key] = cim_connection(self.world.urls[key[0]][host])
        return self._cim[key]

    def wsman(self, host: str) -> WSMan:
        key = (self.rng.randrange(2), host)
        if key not in self._wsman:
            port = int(self.world.urls[key[0]][host].rsplit(":", 1)[1])
            self._wsman[key] = WSMan("127.0.0.1", port=port, ssl=False, auth="basic",
                                     encryption="never", username="bench", password="bench",
                                     operation_timeout=60, read_timeout=120)
        return self._wsman[key]

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
        while time.monotonic() < self.deadline:
            kind = self.rng.choices(kinds, weights)[0]
            over_wsman = kind != "migrate" and kind != "associators" and \
                self.rng.random() < self.args.wsman_share
            protocol = "wsman" if over_wsman else "cimxml"
            try:
                getattr(self, f"{kind}_{protocol}")()
                self.tally.operation(kind)
            except Exception as error:  # every failure is a finding, counted by kind
                self.tally.error(f"{kind}/{protocol}: {error_kind(error)}", repr(error))
            if self.args.think_ms:
                time.sleep(self.args.think_ms / 1000)

    def read_cimxml(self) -> None:
        guid = self.rng.choice(self.vms)
        self.cim(self.location[guid]).GetInstance(vm_path(guid))

    def read_wsman(self) -> None:
        guid = self.rng.choice(self.vms)
        self.wsman(self.location[guid]).get(CS, selector_set=selectors(guid))

    def enumerate_cimxml(self) -> None:
        self.cim(self.rng.choice(self.world.hosts)).EnumerateInstances("Msvm_ComputerSystem")

    def enumerate_wsman(self) -> None:
        client = self.wsman(self.rng.choice(self.world.hosts))
        if self.rng.random() < 0.5:
            enumerate_all(client)
        else:
            names_of(client)

    def query_cimxml(self) -> None:
        self.cim(self.rng.choice(self.world.hosts)).ExecQuery("WQL", self.rng.choice(QUERIES))

    def query_wsman(self) -> None:
        client = self.wsman(self.rng.choice(self.world.hosts))
        body = client.enumerate(V2 + "*", ET.fromstring(
            '<wsen:Enumerate xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
            f'xmlns:wsman="{WSMAN}"><wsman:OptimizeEnumeration/><wsman:MaxElements>32000'
            "</wsman:MaxElements><wsman:EnumerationMode>EnumerateEPR</wsman:EnumerationMode>"
            f'<wsman:Filter Dialect="{WQL_DIALECT}">{self.rng.choice(QUERIES)}'
            "</wsman:Filter></wsen:Enumerate>"))
        context = body.findtext("wsen:EnumerateResponse/wsen:EnumerationContext",
                                namespaces=NAMESPACES)
        while context:
            body = client.pull(V2 + "*", ET.fromstring(
                '<wsen:Pull xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration">'
                f"<wsen:EnumerationContext>{context}</wsen:EnumerationContext>"
                "<wsen:MaxElements>32000</wsen:MaxElements></wsen:Pull>"))
            context = body.findtext("wsen:PullResponse/wsen:EnumerationContext",
                                    namespaces=NAMESPACES)

    def associators_cimxml(self) -> None:
        host = self.rng.choice(self.world.hosts)
        self.cim(host).Associators(
            self.world.services[host],
            ResultClass="Msvm_VirtualSystemMigrationServiceSettingData")

    def compat_cimxml(self) -> None:
        guid = self.rng.choice(self.vms)
        source = self.location[guid]
        rv, out = self.cim(source).InvokeMethod(
            "GetSystemCompatibilityInfo", self.world.services[source],
            ComputerSystem=vm_path(guid))
        if int(rv) != 0:
            raise RuntimeError(f"GetSystemCompatibilityInfo returned {rv}")
        destination = self.other_host(guid)
        rv, _ = self.cim(destination).InvokeMethod(
            "CheckSystemCompatibilityInfo", self.world.services[destination],
            CompatibilityInfo=list(out["CompatibilityInfo"]))
        self.check_verdict(int(rv))

    def compat_wsman(self) -> None:
        guid = self.rng.choice(self.vms)
        source = self.location[guid]
        info = self.invoke_wsman(source, "GetSystemCompatibilityInfo",
                                 f"<p:ComputerSystem>{vm_epr(guid)}</p:ComputerSystem>")
        if info.findtext(f"{{{SVC}}}ReturnValue") != "0":
            raise RuntimeError(f"GetSystemCompatibilityInfo returned "
                               f"{info.findtext(f'{{{SVC}}}ReturnValue')}")
        blob = "".join(f"<p:CompatibilityInfo>{e.text}</p:CompatibilityInfo>"
                       for e in info.iterfind(f"{{{SVC}}}CompatibilityInfo"))
        checked = self.invoke_wsman(self.other_host(guid), "CheckSystemCompatibilityInfo", blob)
        self.check_verdict(int(checked.findtext(f"{{{SVC}}}ReturnValue") or -1))

    def invoke_wsman(self, host: str, method: str, params: str) -> ET.Element:
        body = ET.fromstring(f'<p:{method}_INPUT xmlns:p="{SVC}">{params}</p:{method}_INPUT>')
        reply = self.wsman(host).invoke(f"{SVC}/{method}", SVC, body,
                                        selector_set=service_selectors(host))
        output = reply.find(f".//{{{SVC}}}{method}_OUTPUT")
        if output is None:
            raise RuntimeError(f"{method}: no {method}_OUTPUT in the reply")
        return output

    def check_verdict(self, rv: int) -> None:
        if rv == INCOMPATIBLE:
            self.tally.refusal("compat: incompatible")
        elif rv != 0:
            raise RuntimeError(f"CheckSystemCompatibilityInfo returned {rv}")

    def other_host(self, guid: str) -> str:
        """The host this VM moves to next: back and forth between its first host and the
        next one."""
        home = self.world.homes[guid]
        return self.world.partner(home) if self.location[guid] == home else home

    def migrate_cimxml(self) -> None:
        guid = self.rng.choice(self.vms)
        source, destination = self.location[guid], self.other_host(guid)
        try:
            rv, out = self.cim(source).InvokeMethod(
                "MigrateVirtualSystemToHost", self.world.services[source],
                ComputerSystem=vm_path(guid), DestinationHost=destination,
                MigrationSettingData=self.world.settings)
        except Exception:
            self.relocate(guid)
            raise
        if int(rv) == ALREADY_MOVING:
            self.tally.refusal("migrate: already moving")
            return
        if int(rv) != 4096:
            raise RuntimeError(f"MigrateVirtualSystemToHost returned {rv}")
        job = out["Job"].copy()
        job.host = job.namespace = None
        give_up = time.monotonic() + JOB_TIMEOUT
        while True:
            time.sleep(0.1)
            try:
                state = self.cim(source).GetInstance(
                    job, PropertyList=["JobState", "ErrorDescription"])
            except Exception as error:
                self.tally.error(f"poll/cimxml: {error_kind(error)}", repr(error))
                if time.monotonic() > give_up:
                    raise
                continue
            self.tally.operation("poll")
            if int(state["JobState"]) in TERMINAL_JOB_STATES:
                break
            if time.monotonic() > give_up:
                raise RuntimeError(f"job still in JobState {state['JobState']} after "
                                   f"{JOB_TIMEOUT:.0f} s")
        if int(state["JobState"]) != 7:
            self.relocate(guid)
            raise RuntimeError(f"job ended in JobState {state['JobState']}: "
                               f"{state['ErrorDescription']}")
        self.location[guid] = destination

    def relocate(self, guid: str) -> None:
        """After a failed migration: find out where the VM is now."""
        for host in (self.world.homes[guid], self.world.partner(self.world.homes[guid])):
            try:
                self.cim(host).GetInstance(vm_path(guid), PropertyList=["Name"])
            except pywbem.Error:
                continue
            self.location[guid] = host
            return
