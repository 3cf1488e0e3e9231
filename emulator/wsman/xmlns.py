"""XML namespaces, action URIs and well-known resource URIs of WS-Management as WinRM uses them."""

from __future__ import annotations

SOAP = "http://www.w3.org/2003/05/soap-envelope"
ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
ENUMERATION = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
WSMAN_MS = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
IDENTITY = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"
CIM_BINDING = "http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd"
CIM_COMMON = "http://schemas.dmtf.org/wbem/wscim/1/common"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WSMAN_FAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
CONFIG = "http://schemas.microsoft.com/wbem/wsman/1/config"
XML = "http://www.w3.org/XML/1998/namespace"

ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

# Resource URI prefixes.
WMI_PREFIX = "http://schemas.microsoft.com/wbem/wsman/1/wmi/"
DMTF_PREFIX = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
DMTF_WILDCARD = "http://schemas.dmtf.org/wbem/wscim/1/*"
SHELL_PREFIX = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
POWERSHELL_PREFIX = "http://schemas.microsoft.com/powershell/"

# Actions.
GET = f"{TRANSFER}/Get"
PUT = f"{TRANSFER}/Put"
CREATE = f"{TRANSFER}/Create"
DELETE = f"{TRANSFER}/Delete"
ENUMERATE = f"{ENUMERATION}/Enumerate"
PULL = f"{ENUMERATION}/Pull"
RELEASE = f"{ENUMERATION}/Release"
RENEW = f"{ENUMERATION}/Renew"
GET_STATUS = f"{ENUMERATION}/GetStatus"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
ADDRESSING_FAULT = f"{ADDRESSING}/fault"

# Filter dialects.
WQL_DIALECT = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
SELECTOR_DIALECT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/SelectorFilter"
ASSOCIATION_DIALECT = "http://schemas.dmtf.org/wbem/wsman/1/cimbinding/associationFilter"

# The prefixes of every reply envelope, as WinRM writes them.
ENVELOPE_OPEN = (
    f'<s:Envelope xmlns:s="{SOAP}" xmlns:a="{ADDRESSING}" xmlns:w="{WSMAN}" '
    f'xmlns:n="{ENUMERATION}" xmlns:p="{WSMAN_MS}" xml:lang="en-US">'
)
