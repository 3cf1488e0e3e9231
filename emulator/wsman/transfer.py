"""WS-Transfer and Identify: Get (instances and the WinRM config resource), and Put, Create and
Delete refused as Hyper-V refuses them (its objects change only through methods).
"""

from __future__ import annotations

from pywbem import CIMInstance

from emulator.wsman import render, xmlns
from emulator.wsman.call import (
    MAX_BATCH_ITEMS,
    MAX_TIMEOUT_MS,
    Call,
    Reply,
    class_resource,
    resource_of,
    target_path,
)
from emulator.wsman.envelope import qname, text_of
from emulator.wsman.faults import (
    ACTION_NOT_SUPPORTED,
    INVALID_REPRESENTATION,
    INVALID_RESOURCE_URI,
    WsmanFault,
)
from emulator.wsman.resources import Resource

PRODUCT_VERSION = "OS: 10.0.20348 SP: 0.0 Stack: 3.0"
ANONYMOUS_PRODUCT_VERSION = "OS: 0.0.0 SP: 0.0 Stack: 3.0"
SECURITY_PROFILES = (
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/basic",
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/spnego-kerberos",
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/basic",
    "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/spnego-kerberos",
)


def identify(authenticated: bool) -> bytes:
    version = PRODUCT_VERSION if authenticated else ANONYMOUS_PRODUCT_VERSION
    profiles = "".join(f"<wsmid:SecurityProfileName>{p}</wsmid:SecurityProfileName>"
                       for p in SECURITY_PROFILES)
    security = f"<wsmid:SecurityProfiles>{profiles}</wsmid:SecurityProfiles>" \
        if authenticated else ""
    return (f'<s:Envelope xmlns:s="{xmlns.SOAP}" xmlns:wsmid="{xmlns.IDENTITY}"><s:Header/>'
            f"<s:Body><wsmid:IdentifyResponse>"
            f"<wsmid:ProtocolVersion>{xmlns.WSMAN}</wsmid:ProtocolVersion>"
            f"<wsmid:ProductVendor>Microsoft Corporation</wsmid:ProductVendor>"
            f"<wsmid:ProductVersion>{version}</wsmid:ProductVersion>{security}"
            f"</wsmid:IdentifyResponse></s:Body></s:Envelope>").encode()


CONFIG_HEAD = f'<cfg:Config xmlns:cfg="{xmlns.CONFIG}">'
CONFIG_REST = (
    f"<cfg:MaxTimeoutms>{MAX_TIMEOUT_MS}</cfg:MaxTimeoutms>"
    f"<cfg:MaxBatchItems>{MAX_BATCH_ITEMS}</cfg:MaxBatchItems>"
    "<cfg:MaxProviderRequests>4294967295</cfg:MaxProviderRequests>"
    "<cfg:Service><cfg:RootSDDL>O:NSG:BAD:P(A;;GA;;;BA)(A;;GR;;;IU)S:P(AU;FA;GA;;;WD)"
    "(AU;SA;GXGW;;;WD)</cfg:RootSDDL><cfg:MaxConcurrentOperations>4294967295"
    "</cfg:MaxConcurrentOperations><cfg:MaxConcurrentOperationsPerUser>1500"
    "</cfg:MaxConcurrentOperationsPerUser><cfg:EnumerationTimeoutms>240000"
    "</cfg:EnumerationTimeoutms><cfg:MaxConnections>300</cfg:MaxConnections>"
    "<cfg:MaxPacketRetrievalTimeSeconds>120</cfg:MaxPacketRetrievalTimeSeconds>"
    "<cfg:AllowUnencrypted>true</cfg:AllowUnencrypted><cfg:Auth><cfg:Basic>true</cfg:Basic>"
    "<cfg:Kerberos>false</cfg:Kerberos><cfg:Negotiate>true</cfg:Negotiate>"
    "<cfg:Certificate>false</cfg:Certificate><cfg:CredSSP>false</cfg:CredSSP>"
    "<cfg:CbtHardeningLevel>Relaxed</cfg:CbtHardeningLevel></cfg:Auth>"
    "<cfg:DefaultPorts><cfg:HTTP>5985</cfg:HTTP><cfg:HTTPS>5986</cfg:HTTPS></cfg:DefaultPorts>"
    "</cfg:Service></cfg:Config>"
)


def get(call: Call) -> Reply:
    resource = resource_of(call)
    if resource.kind == "config":
        return ("http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse",
                f"{CONFIG_HEAD}<cfg:MaxEnvelopeSizekb>{call.max_envelope_kb}"
                f"</cfg:MaxEnvelopeSizekb>{CONFIG_REST}")
    if resource.kind != "class":
        raise WsmanFault(INVALID_RESOURCE_URI,
                         f"{INVALID_RESOURCE_URI.message} Get needs the resource URI of a class, "
                         f"not {resource.uri}.")
    assert resource.namespace is not None
    path = target_path(call, resource, call.request.selectors)
    result = call.dispatcher.get_instance(call.host, resource.namespace, path)
    return xmlns.GET + "Response", render.instance_xml(result)


def _representation(call: Call, resource: Resource) -> dict[str, str | None]:
    """Property values of the instance a Put or Create carries."""
    body = call.request.body
    if body is None:
        raise WsmanFault(INVALID_REPRESENTATION, f"{INVALID_REPRESENTATION.message} The body is "
                                                 "empty.")
    _, local = qname(body)
    if local.lower() != (resource.classname or "").lower():
        raise WsmanFault(INVALID_REPRESENTATION,
                         f"{INVALID_REPRESENTATION.message} Expected a {resource.classname} "
                         f"element, not {local}.")
    nil = f"{{{xmlns.XSI}}}nil"
    return {qname(child)[1]: None if child.get(nil) == "true" else text_of(child)
            for child in body}


def put(call: Call) -> Reply:
    resource = resource_of(call)
    if resource.kind == "config":
        raise WsmanFault(ACTION_NOT_SUPPORTED, f"{ACTION_NOT_SUPPORTED.message} The WinRM "
                                               "configuration of this host is fixed.")
    resource = class_resource(call, "Put")
    assert resource.namespace is not None and resource.classname is not None
    path = target_path(call, resource, call.request.selectors)
    values = _representation(call, resource)
    klass = call.catalog.get_class(resource.namespace, resource.classname)
    for name in values:
        if name not in klass.properties:
            raise WsmanFault(INVALID_REPRESENTATION,
                             f"{INVALID_REPRESENTATION.message} Class {klass.classname} has no "
                             f"property {name!r}.")
    call.dispatcher.refuse_instance_write(call.host, resource.namespace, "ModifyInstance",
                                          path=path)
    raise AssertionError("refuse_instance_write returned")  # pragma: no cover


def create(call: Call) -> Reply:
    resource = class_resource(call, "Create")
    assert resource.namespace is not None and resource.classname is not None
    values = _representation(call, resource)
    instance = CIMInstance(resource.classname)
    for name, value in values.items():
        instance[name] = value
    call.dispatcher.refuse_instance_write(call.host, resource.namespace, "CreateInstance",
                                          instance=instance)
    raise AssertionError("refuse_instance_write returned")  # pragma: no cover


def delete(call: Call) -> Reply:
    resource = class_resource(call, "Delete")
    assert resource.namespace is not None
    path = target_path(call, resource, call.request.selectors)
    call.dispatcher.refuse_instance_write(call.host, resource.namespace, "DeleteInstance",
                                          path=path)
    raise AssertionError("refuse_instance_write returned")  # pragma: no cover


