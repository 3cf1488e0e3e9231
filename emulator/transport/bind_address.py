"""Whether `hvsim serve --bind` exposes a sandbox (any password accepted) beyond this machine."""

from __future__ import annotations

import ipaddress
import socket


def is_loopback(address: str) -> bool:
    """True when every address `address` stands for is a loopback address.

    A host name counts by what it resolves to; one that does not resolve is not known to be
    loopback. The wildcards `0.0.0.0` and `::` listen on every interface, so they are not.
    """
    try:
        return _is_loopback_ip(address)
    except ValueError:
        pass
    try:
        resolved = {str(info[4][0]) for info in socket.getaddrinfo(address, None,
                                                              type=socket.SOCK_STREAM)}
    except (OSError, UnicodeError):
        return False
    try:
        return bool(resolved) and all(_is_loopback_ip(ip) for ip in resolved)
    except ValueError:
        return False


def _is_loopback_ip(text: str) -> bool:
    ip = ipaddress.ip_address(text)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback; Python 3.11 says otherwise
    return ip.is_loopback


def sandbox_exposure_warning(address: str, strict: bool) -> str | None:
    """The start-up warning for a sandbox listening beyond loopback, or None when there is none."""
    if strict or is_loopback(address):
        return None
    return (f"listening on {address}, which is not a loopback address, in sandbox mode: any "
            "user name and password log in with Basic, and any user name with the NTLM "
            "password with NTLM/Negotiate, so anyone who can reach this address can read and "
            "migrate VMs. Give --users FILE for strict mode, or --bind 127.0.0.1.")
