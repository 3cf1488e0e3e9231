"""WS-Management requests hvsim refuses as WinRM does: writes, shells, unknown methods and
actions, and envelopes or timeouts beyond the configured limits."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from pypsrp.exceptions import WSManFaultError
from pypsrp.wsman import WSMan

from tests.support.server import HvsimServer, wsman_client
from tests.support.wsman_messages import (
    ACTION_NOT_SUPPORTED,
    CS,
    MAX_ENVELOPE_SIZE,
    RESOURCE_NOT_FOUND,
    SVC,
    UNSUPPORTED_TIMEOUT,
    WBEM_E_PROVIDER_NOT_CAPABLE,
    WEB01,
    fault_code,
    prop,
    selectors,
)

pytestmark = pytest.mark.e2e


def test_put_create_delete_are_refused(wsman: WSMan) -> None:
    keys = selectors(CreationClassName="Msvm_ComputerSystem", Name=WEB01)
    representation = ET.fromstring(f'<p:Msvm_ComputerSystem xmlns:p="{CS}">'
                                   "<p:ElementName>renamed</p:ElementName>"
                                   "</p:Msvm_ComputerSystem>")
    with pytest.raises(WSManFaultError) as info:
        wsman.put(CS, representation, selector_set=keys)
    assert fault_code(info) == WBEM_E_PROVIDER_NOT_CAPABLE
    assert "ModifyInstance is not supported" in info.value.reason
    with pytest.raises(WSManFaultError) as info:
        wsman.create(CS, representation)
    assert "CreateInstance is not supported" in info.value.reason
    with pytest.raises(WSManFaultError) as info:
        wsman.delete(CS, selector_set=keys)
    assert "DeleteInstance is not supported" in info.value.reason
    assert prop(next(iter(wsman.get(CS, selector_set=keys))), "ElementName") == "web-01"


def test_put_of_an_unknown_property_is_an_invalid_representation(wsman: WSMan) -> None:
    representation = ET.fromstring(f'<p:Msvm_ComputerSystem xmlns:p="{CS}">'
                                   "<p:NoSuchProperty>1</p:NoSuchProperty>"
                                   "</p:Msvm_ComputerSystem>")
    with pytest.raises(WSManFaultError) as info:
        wsman.put(CS, representation, selector_set=selectors(Name=WEB01))
    assert info.value.code == 2150858773


def test_shell_resources_are_not_in_the_catalog(wsman: WSMan) -> None:
    shell = ET.fromstring('<rsp:Shell xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/'
                          'windows/shell"><rsp:InputStreams>stdin</rsp:InputStreams>'
                          "</rsp:Shell>")
    for uri in ("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd",
                "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"):
        with pytest.raises(WSManFaultError) as info:
            wsman.create(uri, shell)
        assert "was not found in the WS-Management catalog" in info.value.reason
        assert fault_code(info) == RESOURCE_NOT_FOUND


def test_unknown_method_and_action(wsman: WSMan) -> None:
    with pytest.raises(WSManFaultError) as info:
        wsman.invoke(SVC + "/NoSuchMethod", SVC, None, selector_set=selectors(Name="migrationwmi"))
    assert fault_code(info) == ACTION_NOT_SUPPORTED
    with pytest.raises(WSManFaultError) as info:
        wsman.invoke("http://schemas.xmlsoap.org/ws/2004/09/enumeration/Renew", CS, None)
    assert fault_code(info) == ACTION_NOT_SUPPORTED


def test_limits_are_enforced(server: HvsimServer) -> None:
    too_big = wsman_client(server.url("HV-01"), max_envelope_size=1024 * 1024)
    with pytest.raises(WSManFaultError) as info:
        too_big.get(CS, selector_set=selectors(Name=WEB01))
    assert fault_code(info) == MAX_ENVELOPE_SIZE
    too_long = wsman_client(server.url("HV-01"), operation_timeout=600)
    with pytest.raises(WSManFaultError) as info:
        too_long.get(CS, selector_set=selectors(Name=WEB01))
    assert fault_code(info) == UNSUPPORTED_TIMEOUT
    assert "MaxTimeoutms" in info.value.reason
