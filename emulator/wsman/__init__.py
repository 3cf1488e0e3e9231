"""The WS-Management front end (`POST /wsman`), as a Windows host's WinRM service speaks it.

app          the ASGI endpoint: authentication, sealing, faults for everything that fails
security     Basic, NTLM/Negotiate through pyspnego's acceptor, WinRM message encryption
connection   per-TCP-connection state (NTLM authenticates a connection)
envelope     safe parsing of SOAP envelopes into requests
resources    resource URIs and selectors <-> CIM namespaces, classes and paths; EPRs
call         what an operation works with; WinRM's limits; resolving targets
operations   the table from action to handler: transfer, enumerating (with filters), invoking
methods      extrinsic method parameters in and out
enumeration  enumeration contexts and their pages
render       instances and values written as WinRM writes them
cache        parsed requests, Get bodies and enumeration listings reused while the world stands
faults       WinRM's faults, and the one translation of CIM errors into them
tls          a self-signed certificate for --https
"""
