"""Every intrinsic CIM-XML operation answers a request it cannot serve with the status code
DSP0200 (1.4, section 5.3.2) lists for that operation, through pywbem against a live server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import pywbem
from pywbem import CIMClass, CIMClassName, CIMError, CIMInstance, CIMInstanceName

from tests.support.server import HvsimServer, wbem_connection

pytestmark = pytest.mark.e2e
V2 = "root/virtualization/v2"
NO_NS = "root/nowhere"
WEB01 = "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D"
VM = CIMInstanceName("Msvm_ComputerSystem", namespace=V2,
                     keybindings={"CreationClassName": "Msvm_ComputerSystem", "Name": WEB01})
NO_VM = CIMInstanceName("Msvm_ComputerSystem", namespace=V2,
                        keybindings={"CreationClassName": "Msvm_ComputerSystem",
                                     "Name": "00000000-0000-0000-0000-000000000000"})
NO_CLASS = CIMInstanceName("Msvm_NoSuchClass", namespace=V2, keybindings={"Name": "x"})

Operation = Callable[[pywbem.WBEMConnection], Any]
CASES: list[tuple[str, Operation, int]] = [
    # classes and qualifiers
    ("GetClass missing", lambda c: c.GetClass("Msvm_NoSuchClass"), pywbem.CIM_ERR_NOT_FOUND),
    ("EnumerateClasses missing", lambda c: c.EnumerateClasses(ClassName="Msvm_NoSuchClass"),
     pywbem.CIM_ERR_INVALID_CLASS),
    ("EnumerateClassNames missing",
     lambda c: c.EnumerateClassNames(ClassName="Msvm_NoSuchClass"), pywbem.CIM_ERR_INVALID_CLASS),
    ("GetQualifier missing", lambda c: c.GetQualifier("NoSuchQualifier"),
     pywbem.CIM_ERR_NOT_FOUND),
    ("CreateClass", lambda c: c.CreateClass(CIMClass("Msvm_New", superclass="CIM_SettingData")),
     pywbem.CIM_ERR_NOT_SUPPORTED),
    ("ModifyClass", lambda c: c.ModifyClass(c.GetClass("Msvm_ComputerSystem")),
     pywbem.CIM_ERR_NOT_SUPPORTED),
    ("DeleteClass", lambda c: c.DeleteClass("Msvm_ComputerSystem"), pywbem.CIM_ERR_NOT_SUPPORTED),
    ("SetQualifier", lambda c: c.SetQualifier(c.GetQualifier("Key")),
     pywbem.CIM_ERR_NOT_SUPPORTED),
    ("DeleteQualifier", lambda c: c.DeleteQualifier("Key"), pywbem.CIM_ERR_NOT_SUPPORTED),
    # instances
    ("GetInstance missing class", lambda c: c.GetInstance(NO_CLASS), pywbem.CIM_ERR_INVALID_CLASS),
    ("GetInstance missing instance", lambda c: c.GetInstance(NO_VM), pywbem.CIM_ERR_NOT_FOUND),
    ("EnumerateInstances missing", lambda c: c.EnumerateInstances("Msvm_NoSuchClass"),
     pywbem.CIM_ERR_INVALID_CLASS),
    ("EnumerateInstanceNames missing", lambda c: c.EnumerateInstanceNames("Msvm_NoSuchClass"),
     pywbem.CIM_ERR_INVALID_CLASS),
    ("OpenEnumerateInstances missing", lambda c: c.OpenEnumerateInstances("Msvm_NoSuchClass"),
     pywbem.CIM_ERR_INVALID_CLASS),
    ("CreateInstance", lambda c: c.CreateInstance(CIMInstance("Msvm_ComputerSystem")),
     pywbem.CIM_ERR_NOT_SUPPORTED),
    ("ModifyInstance", lambda c: c.ModifyInstance(c.GetInstance(VM)),
     pywbem.CIM_ERR_NOT_SUPPORTED),
    ("DeleteInstance", lambda c: c.DeleteInstance(VM), pywbem.CIM_ERR_NOT_SUPPORTED),
    # associations
    ("Associators missing", lambda c: c.Associators(NO_CLASS), pywbem.CIM_ERR_INVALID_PARAMETER),
    ("AssociatorNames missing", lambda c: c.AssociatorNames(NO_CLASS),
     pywbem.CIM_ERR_INVALID_PARAMETER),
    ("References missing", lambda c: c.References(NO_CLASS), pywbem.CIM_ERR_INVALID_PARAMETER),
    ("ReferenceNames missing", lambda c: c.ReferenceNames(NO_CLASS),
     pywbem.CIM_ERR_INVALID_PARAMETER),
    ("Associators of a class", lambda c: c.Associators(CIMClassName("Msvm_NoSuchClass",
                                                                    namespace=V2)),
     pywbem.CIM_ERR_INVALID_PARAMETER),
    # methods
    ("InvokeMethod unknown", lambda c: c.InvokeMethod("NoSuchMethod", VM),
     pywbem.CIM_ERR_METHOD_NOT_FOUND),
    ("InvokeMethod on a missing instance", lambda c: c.InvokeMethod("RequestStateChange", NO_VM,
                                                                    RequestedState=pywbem.Uint16(2)),
     pywbem.CIM_ERR_NOT_FOUND),
    # queries
    ("ExecQuery another language", lambda c: c.ExecQuery("CQL", "SELECT * FROM CIM_System"),
     pywbem.CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED),
    ("ExecQuery bad WQL", lambda c: c.ExecQuery("WQL", "SELECT FROM WHERE"),
     pywbem.CIM_ERR_INVALID_QUERY),
    ("OpenQueryInstances another language",
     lambda c: c.OpenQueryInstances("CQL", "SELECT * FROM CIM_System"),
     pywbem.CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED),
    ("ExecQuery missing class", lambda c: c.ExecQuery("WQL", "SELECT * FROM Msvm_NoSuchClass"),
     pywbem.CIM_ERR_INVALID_CLASS),
    # a namespace that does not exist, for each kind of operation
    ("GetClass bad namespace", lambda c: c.GetClass("CIM_System", namespace=NO_NS),
     pywbem.CIM_ERR_INVALID_NAMESPACE),
    ("EnumerateClassNames bad namespace", lambda c: c.EnumerateClassNames(namespace=NO_NS),
     pywbem.CIM_ERR_INVALID_NAMESPACE),
    ("EnumerateQualifiers bad namespace", lambda c: c.EnumerateQualifiers(namespace=NO_NS),
     pywbem.CIM_ERR_INVALID_NAMESPACE),
    ("EnumerateInstances bad namespace",
     lambda c: c.EnumerateInstances("CIM_System", namespace=NO_NS),
     pywbem.CIM_ERR_INVALID_NAMESPACE),
    ("GetInstance bad namespace",
     lambda c: c.GetInstance(CIMInstanceName("Msvm_ComputerSystem", namespace=NO_NS,
                                             keybindings=dict(VM.keybindings))),
     pywbem.CIM_ERR_INVALID_NAMESPACE),
    ("ExecQuery bad namespace",
     lambda c: c.ExecQuery("WQL", "SELECT * FROM CIM_System", namespace=NO_NS),
     pywbem.CIM_ERR_INVALID_NAMESPACE),
    ("InvokeMethod bad namespace",
     lambda c: c.InvokeMethod("RequestStateChange",
                              CIMInstanceName("Msvm_ComputerSystem", namespace=NO_NS,
                                              keybindings=dict(VM.keybindings)),
                              RequestedState=pywbem.Uint16(2)),
     pywbem.CIM_ERR_INVALID_NAMESPACE),
]


@pytest.fixture(scope="module")
def conn(demo_server: HvsimServer) -> pywbem.WBEMConnection:
    return wbem_connection(demo_server.url("HV-01"), V2)


@pytest.mark.parametrize(("operation", "code"), [(call, code) for _, call, code in CASES],
                         ids=[name for name, _, _ in CASES])
def test_intrinsic_operation_error_codes(conn: pywbem.WBEMConnection, operation: Operation,
                                         code: int) -> None:
    with pytest.raises(CIMError) as info:
        operation(conn)
    assert info.value.status_code == code, info.value
    assert info.value.status_description, "every error says why"
