"""WS-Management faults as WinRM writes them, and the one translation of CIM errors into them.

A fault is an HTTP 500 carrying a SOAP 1.2 Fault: Code (Sender/Receiver), a subcode naming the
WS-Addressing/WS-Enumeration/WS-Management fault, a Reason, and a `WSManFault` detail with
WinRM's numeric code (the HRESULT of its ERROR_WSMAN_* constant). Errors that come from the
CIM layer also carry an `MSFT_WmiError` detail, as WinRM's WMI plugin gives one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from pywbem import (
    CIM_ERR_ACCESS_DENIED,
    CIM_ERR_FAILED,
    CIM_ERR_INVALID_CLASS,
    CIM_ERR_INVALID_ENUMERATION_CONTEXT,
    CIM_ERR_INVALID_NAMESPACE,
    CIM_ERR_INVALID_PARAMETER,
    CIM_ERR_INVALID_QUERY,
    CIM_ERR_METHOD_NOT_AVAILABLE,
    CIM_ERR_METHOD_NOT_FOUND,
    CIM_ERR_NO_SUCH_PROPERTY,
    CIM_ERR_NOT_FOUND,
    CIM_ERR_NOT_SUPPORTED,
    CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED,
    CIMError,
)

from emulator.core.unavailable import ServiceUnavailable
from emulator.wsman import xmlns


@dataclass(frozen=True)
class FaultKind:
    code: str  # SOAP 1.2 Code value: s:Sender or s:Receiver
    subcode: str | None  # qualified name, prefixes as declared by the fault envelope
    wsman_code: int  # WinRM's number (the HRESULT of ERROR_WSMAN_*, or a Windows error)
    message: str  # WinRM's message text for this code
    action: str = xmlns.FAULT_ACTION
    detail: str | None = None  # a wsman:FaultDetail URI


_WSMAN_BASE = 0x80338000
_DETAIL = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/"


def _w(offset: int) -> int:
    return _WSMAN_BASE + offset


ACCESS_DENIED = FaultKind("s:Sender", "w:AccessDenied", 5, "Access is denied.")
ACTION_NOT_SUPPORTED = FaultKind(
    "s:Sender", "a:ActionNotSupported", _w(0x13),
    "The WS-Management service does not support the action specified in the request.",
    action=xmlns.ADDRESSING_FAULT)
RESOURCE_NOT_FOUND = FaultKind(
    "s:Sender", "a:DestinationUnreachable", _w(0x00),
    "The WS-Management service cannot process the request. The service cannot find the "
    "resource identified by the resource URI and selectors.", action=xmlns.ADDRESSING_FAULT)
INVALID_RESOURCE_URI = FaultKind(
    "s:Sender", "a:DestinationUnreachable", _w(0x00),
    "The WS-Management service cannot process the request. The resource URI is missing or it "
    "has an incorrect format.", action=xmlns.ADDRESSING_FAULT,
    detail=_DETAIL + "InvalidResourceURI")
INVALID_SELECTORS = FaultKind(
    "s:Sender", "w:InvalidSelectors", _w(0x5B),
    "The WS-Management service cannot process the request because the request contained "
    "invalid selectors for the resource.", detail=_DETAIL + "UnexpectedSelectors")
INSUFFICIENT_SELECTORS = FaultKind(
    "s:Sender", "w:InvalidSelectors", _w(0x5A),
    "The WS-Management service cannot process the request because the request did not contain "
    "all required selectors.", detail=_DETAIL + "InsufficientSelectors")
SELECTOR_TYPE_MISMATCH = FaultKind(
    "s:Sender", "w:InvalidSelectors", _w(0x5C),
    "The WS-Management service cannot process the request because a value for a selector is of "
    "the wrong type.", detail=_DETAIL + "TypeMismatch")
AMBIGUOUS_SELECTORS = FaultKind(
    "s:Sender", "w:InvalidSelectors", _w(0x5E),
    "The WS-Management service cannot process the request because the selectors for the "
    "resource are ambiguous.", detail=_DETAIL + "AmbiguousSelectors")
DUPLICATE_SELECTORS = FaultKind(
    "s:Sender", "w:InvalidSelectors", _w(0x5F),
    "The WS-Management service cannot process the request because the request contains "
    "duplicate selectors.", detail=_DETAIL + "DuplicateSelectors")
CANNOT_PROCESS_FILTER = FaultKind(
    "s:Sender", "n:CannotProcessFilter", _w(0x1A),
    "The data source could not process the filter. The filter might be missing or it might be "
    "invalid. Change the filter and try the request again.")
FILTER_DIALECT_UNAVAILABLE = FaultKind(
    "s:Sender", "n:FilterDialectRequestedUnavailable", _w(0x19),
    "The filter dialect (the type associated with the filter) was not supported for this "
    "resource. Change the filter dialect or remove it from the request and try the request "
    "again.")
INVALID_ENUMERATION_CONTEXT = FaultKind(
    "s:Receiver", "n:InvalidEnumerationContext", _w(0x1B),
    "The WS-Enumeration context in the enumeration is not valid. Enumeration may have been "
    "completed or canceled. You cannot use this enumeration context anymore. Start a new "
    "enumeration.")
ENCODING_LIMIT = FaultKind(
    "s:Sender", "w:EncodingLimit", _w(0x35),
    "The WS-Management service cannot process the request because the encoding of the request "
    "exceeds an internal encoding limit. Reconfigure the client to send messages which fit the "
    "encoding limits of the service.")
MAX_ENVELOPE_SIZE = FaultKind(
    "s:Sender", "w:EncodingLimit", _w(0x47),
    "The maximum envelope size in the request is too large. Change the maximum envelope size "
    "and try the request again.", detail=_DETAIL + "MaxEnvelopeSize")
MAX_ENVELOPE_SIZE_EXCEEDED = FaultKind(
    "s:Sender", "w:EncodingLimit", _w(0x48),
    "The response that the WS-Management service computed exceeds the maximum envelope size in "
    "the request.", detail=_DETAIL + "MaxEnvelopeSize")
TIMED_OUT = FaultKind(
    "s:Receiver", "w:TimedOut", _w(0x29),
    "The WS-Management service cannot complete the operation within the time specified in "
    "OperationTimeout.")
UNSUPPORTED_TIMEOUT = FaultKind(
    "s:Sender", "w:UnsupportedFeature", _w(0x0C),
    "The WS-Management service does not support the specified timeout.",
    detail=_DETAIL + "OperationTimeout")
UNSUPPORTED_FEATURE = FaultKind(
    "s:Sender", "w:UnsupportedFeature", _w(0x42),
    "The WS-Management service does not support the specified feature. Remove the unsupported "
    "feature from the request and retry.")
SCHEMA_VALIDATION = FaultKind(
    "s:Sender", "w:SchemaValidationError", _w(0x41),
    "The SOAP XML in the message does not match the corresponding XML schema definition. "
    "Change the XML and retry.")
INVALID_XML = FaultKind(
    "s:Sender", "w:SchemaValidationError", _w(0x43),
    "The WS-Management service cannot process the request because the XML is invalid.")
INVALID_PARAMETER = FaultKind(
    "s:Sender", "w:InvalidParameter", _w(0x3A),
    "The WS-Management service cannot process the request because a parameter for the "
    "operation is not valid.")
INVALID_HEADER = FaultKind(
    "s:Sender", "a:InvalidMessageInformationHeader", _w(0x0F),
    "The WS-Management service cannot process the request. The request contains one or more "
    "invalid SOAP headers.", action=xmlns.ADDRESSING_FAULT)
HEADER_REQUIRED = FaultKind(
    "s:Sender", "a:MessageInformationHeaderRequired", _w(0x11),
    "The WS-Management service cannot process the request. The request does not have all the "
    "expected SOAP headers.", action=xmlns.ADDRESSING_FAULT)
MUST_UNDERSTAND = FaultKind(
    "s:MustUnderstand", None, _w(0x10),
    "The WS-Management service cannot process a SOAP header in the request that is marked as "
    "mustUnderstand by the client.")
VERSION_MISMATCH = FaultKind(
    "s:VersionMismatch", None, _w(0x0D),
    "The WS-Management service does not support the SOAP version specified in the request.")
INVALID_REPRESENTATION = FaultKind(
    "s:Sender", "x:InvalidRepresentation", _w(0x15),
    "The WS-Management service cannot identify the format of the object passed to a Put or "
    "Create method. The input XML may not be appropriate for the resource or uses the wrong "
    "schema for the resource. Change the input XML in the request.")
INTERNAL_ERROR = FaultKind("s:Receiver", "w:InternalError", _w(0x03),
                           "An error was encountered inside the plugin.")


class WsmanFault(Exception):
    """A request that fails with a WS-Management fault."""

    def __init__(self, kind: FaultKind, message: str | None = None, *,
                 wsman_code: int | None = None, cim: CIMError | None = None,
                 wmi_code: int | None = None) -> None:
        self.kind = kind
        self.message = message or kind.message
        self.wsman_code = kind.wsman_code if wsman_code is None else wsman_code
        self.cim = cim
        self.wmi_code = wmi_code
        super().__init__(self.message)


# "The resource, typically a remote server, is not currently available."
WBEM_E_NOT_AVAILABLE = 0x80041009
WBEM_E_TIMED_OUT = 0x80041069
# CIM status → the HRESULT WMI gives for it (WBEM_E_*).
_WMI_CODES = {
    CIM_ERR_FAILED: 0x80041001,
    CIM_ERR_ACCESS_DENIED: 0x80041003,
    CIM_ERR_INVALID_NAMESPACE: 0x8004100E,
    CIM_ERR_INVALID_PARAMETER: 0x80041008,
    CIM_ERR_INVALID_CLASS: 0x80041010,
    CIM_ERR_NOT_FOUND: 0x80041002,
    CIM_ERR_NOT_SUPPORTED: 0x80041024,  # WBEM_E_PROVIDER_NOT_CAPABLE
    CIM_ERR_NO_SUCH_PROPERTY: 0x80041002,
    CIM_ERR_INVALID_QUERY: 0x80041017,
    CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED: 0x80041018,
    CIM_ERR_METHOD_NOT_FOUND: 0x80041034,  # WBEM_E_INVALID_METHOD
    CIM_ERR_METHOD_NOT_AVAILABLE: 0x80041055,  # WBEM_E_METHOD_NOT_IMPLEMENTED
}

# CIM status -> the category MI gives the error (MI_ErrorCategory, what PowerShell shows as
# CategoryInfo), carried in MSFT_WmiError's error_Category as WinRM 3.0 and later write it.
_MI_NOT_SPECIFIED, _MI_INVALID_ARGUMENT, _MI_METADATA_ERROR = 0, 5, 10
_MI_NOT_IMPLEMENTED, _MI_OBJECT_NOT_FOUND, _MI_OPERATION_TIMEOUT = 11, 13, 15
_MI_PERMISSION_DENIED, _MI_RESOURCE_UNAVAILABLE = 18, 21
_WMI_CATEGORIES = {
    CIM_ERR_ACCESS_DENIED: _MI_PERMISSION_DENIED,
    CIM_ERR_INVALID_NAMESPACE: _MI_METADATA_ERROR,
    CIM_ERR_INVALID_PARAMETER: _MI_INVALID_ARGUMENT,
    CIM_ERR_INVALID_CLASS: _MI_METADATA_ERROR,
    CIM_ERR_NOT_FOUND: _MI_OBJECT_NOT_FOUND,
    CIM_ERR_NOT_SUPPORTED: _MI_NOT_IMPLEMENTED,
    CIM_ERR_NO_SUCH_PROPERTY: _MI_METADATA_ERROR,
    CIM_ERR_INVALID_QUERY: _MI_INVALID_ARGUMENT,
    CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED: _MI_NOT_IMPLEMENTED,
    CIM_ERR_METHOD_NOT_FOUND: _MI_METADATA_ERROR,
    CIM_ERR_METHOD_NOT_AVAILABLE: _MI_NOT_IMPLEMENTED,
}

_WMI_NAMES = {
    CIM_ERR_INVALID_NAMESPACE: "WBEM_E_INVALID_NAMESPACE",
    CIM_ERR_INVALID_CLASS: "WBEM_E_INVALID_CLASS",
}


def from_cim_error(error: CIMError, *, filtering: bool = False) -> WsmanFault:
    """The one place where a CIM error becomes a WS-Management fault.

    `filtering` is set while a filter (WQL, association) is evaluated: an invalid query is then
    the filter's fault, as WinRM reports it.
    """
    status = error.status_code
    text = error.status_description or ""
    if isinstance(error, ServiceUnavailable):
        if error.timed_out:
            return WsmanFault(TIMED_OUT, f"{TIMED_OUT.message} {text}".strip(), cim=error,
                              wmi_code=WBEM_E_TIMED_OUT)
        # WinRM's WMI plugin passes on the provider's HRESULT when it cannot serve.
        return WsmanFault(INTERNAL_ERROR, text or INTERNAL_ERROR.message,
                          wsman_code=WBEM_E_NOT_AVAILABLE, cim=error,
                          wmi_code=WBEM_E_NOT_AVAILABLE)
    wmi = _WMI_CODES.get(status, 0x80041001)
    if filtering and status in _WMI_NAMES:
        # WinRM's WMI plugin reports a namespace or class that a query names and WMI cannot
        # find as the filter's failure, with its own code (ERROR_WSMAN_ENUMERATE_CANNOT_PROCESS_
        # FILTER, 2150858778) both in WSManFault and in MSFT_WmiError's error_Code, and WMI's
        # mnemonic in the text. Clients probing the retired root/virtualization (v1) namespace
        # key on that code (virt-who reads error_Code; others read WSManFault's Code or look for
        # WBEM_E_INVALID_NAMESPACE in the message).
        kind = CANNOT_PROCESS_FILTER
        message = " ".join(filter(None, (kind.message, text, f"({_WMI_NAMES[status]})")))
        return WsmanFault(kind, message, cim=error, wmi_code=kind.wsman_code)
    if status == CIM_ERR_NOT_FOUND:
        kind = RESOURCE_NOT_FOUND
    elif status in (CIM_ERR_INVALID_NAMESPACE, CIM_ERR_INVALID_CLASS):
        kind = INVALID_RESOURCE_URI
    elif status in (CIM_ERR_INVALID_QUERY, CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED) or (
            filtering and status == CIM_ERR_INVALID_PARAMETER):
        kind = CANNOT_PROCESS_FILTER
    elif status in (CIM_ERR_INVALID_PARAMETER, CIM_ERR_NO_SUCH_PROPERTY):
        kind = INVALID_PARAMETER
    elif status in (CIM_ERR_METHOD_NOT_FOUND, CIM_ERR_METHOD_NOT_AVAILABLE):
        kind = ACTION_NOT_SUPPORTED
    elif status == CIM_ERR_ACCESS_DENIED:
        kind = ACCESS_DENIED
    elif status == CIM_ERR_INVALID_ENUMERATION_CONTEXT:
        kind = INVALID_ENUMERATION_CONTEXT
    else:
        return WsmanFault(INTERNAL_ERROR, text or INTERNAL_ERROR.message, wsman_code=wmi,
                          cim=error, wmi_code=wmi)
    message = f"{kind.message} {text}".strip() if text else kind.message
    return WsmanFault(kind, message, cim=error, wmi_code=wmi)


def new_message_id() -> str:
    return f"uuid:{str(uuid.uuid4()).upper()}"


def _wmi_error(fault: WsmanFault) -> str:
    """The MSFT_WmiError detail WinRM's WMI plugin attaches to a provider error."""
    assert fault.cim is not None
    # WinRM names MSFT_WmiError in the DMTF schema namespace, where pywinrm and virt-who look.
    uri = f"{xmlns.DMTF_PREFIX}MSFT_WmiError"
    code = fault.wmi_code or 0x80041001
    nil = ' xsi:nil="true"/>'
    if isinstance(fault.cim, ServiceUnavailable):
        category = _MI_OPERATION_TIMEOUT if fault.cim.timed_out else _MI_RESOURCE_UNAVAILABLE
    else:
        category = _WMI_CATEGORIES.get(fault.cim.status_code, _MI_NOT_SPECIFIED)
    return (
        f'<p:MSFT_WmiError b:IsCIM_Error="true" xmlns:b="{xmlns.CIM_BINDING}" '
        f'xmlns:p="{uri}" xmlns:cim="{xmlns.CIM_COMMON}" xmlns:xsi="{xmlns.XSI}" '
        f'xsi:type="p:MSFT_WmiError_Type">'
        f'<p:CIMStatusCode xsi:type="cim:cimUnsignedInt">{fault.cim.status_code}'
        f"</p:CIMStatusCode>"
        f'<p:CIMStatusCodeDescription xsi:type="cim:cimString"{nil}'
        f'<p:ErrorSource xsi:type="cim:cimString"{nil}'
        f'<p:ErrorSourceFormat xsi:type="cim:cimUnsignedShort">0</p:ErrorSourceFormat>'
        f'<p:ErrorType xsi:type="cim:cimUnsignedShort">0</p:ErrorType>'
        f'<p:Message xsi:type="cim:cimString">{escape(fault.cim.status_description or "")}'
        f"</p:Message>"
        f'<p:MessageID xsi:type="cim:cimString">HRESULT 0x{code:08x}</p:MessageID>'
        f'<p:OtherErrorSourceFormat xsi:type="cim:cimString"{nil}'
        f'<p:OtherErrorType xsi:type="cim:cimString"{nil}'
        f'<p:OwningEntity xsi:type="cim:cimString"{nil}'
        f'<p:PerceivedSeverity xsi:type="cim:cimUnsignedShort">0</p:PerceivedSeverity>'
        f'<p:ProbableCause xsi:type="cim:cimUnsignedShort">0</p:ProbableCause>'
        f'<p:ProbableCauseDescription xsi:type="cim:cimString"{nil}'
        f'<p:error_Category xsi:type="cim:cimUnsignedInt">{category}</p:error_Category>'
        f'<p:error_Code xsi:type="cim:cimUnsignedInt">{code}</p:error_Code>'
        f'<p:error_Type xsi:type="cim:cimString">HRESULT</p:error_Type>'
        f'<p:error_WindowsErrorMessage xsi:type="cim:cimString">{escape(fault.message)}'
        f"</p:error_WindowsErrorMessage>"
        f"</p:MSFT_WmiError>"
    )


def render(fault: WsmanFault, relates_to: str | None, machine: str) -> bytes:
    """The complete fault envelope."""
    kind = fault.kind
    subcode = (f"<s:Subcode><s:Value>{kind.subcode}</s:Value></s:Subcode>"
               if kind.subcode else "")
    detail = f"<w:FaultDetail>{kind.detail}</w:FaultDetail>" if kind.detail else ""
    message = escape(fault.message)
    relates = f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>" if relates_to else ""
    text = (
        f'<s:Envelope xmlns:s="{xmlns.SOAP}" xmlns:a="{xmlns.ADDRESSING}" '
        f'xmlns:w="{xmlns.WSMAN}" xmlns:n="{xmlns.ENUMERATION}" xmlns:x="{xmlns.TRANSFER}" '
        f'xmlns:p="{xmlns.WSMAN_MS}" xml:lang="en-US">'
        f"<s:Header><a:Action>{kind.action}</a:Action>"
        f"<a:MessageID>{new_message_id()}</a:MessageID>"
        f"<a:To>{xmlns.ANONYMOUS}</a:To>{relates}</s:Header>"
        f"<s:Body><s:Fault><s:Code><s:Value>{kind.code}</s:Value>{subcode}</s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{message}</s:Text></s:Reason>'
        f"<s:Detail>{detail}"
        f'<f:WSManFault xmlns:f="{xmlns.WSMAN_FAULT}" Code="{fault.wsman_code}" '
        f"Machine={quoteattr(machine)}><f:Message>{message}</f:Message></f:WSManFault>"
        f"{_wmi_error(fault) if fault.cim is not None else ''}"
        f"</s:Detail></s:Fault></s:Body></s:Envelope>"
    )
    return text.encode("utf-8")
