"""WinRM authentication: Basic, and NTLM/Negotiate through pyspnego's acceptor, with WinRM's
HTTP message encryption (`multipart/encrypted; protocol="application/HTTP-SPNEGO-session-
encrypted"`) sealed with the NTLM session keys of the connection.

NTLM proves a password without sending it, so the acceptor must know the password: in sandbox
mode any user name with `DEFAULT_NTLM_PASSWORD`, in strict mode the users file's password.
pyspnego's acceptor reads passwords from a credential file (NTLM_USER_FILE); `_credentials`
hands it ours instead, for the duration of one handshake step.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import contextvars
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import spnego
import spnego._ntlm as spnego_ntlm
from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1
from spnego.exceptions import SpnegoError

from emulator.transport.auth import Authenticator

DEFAULT_NTLM_PASSWORD = "Hvsim-NTLM-1"
ENCRYPTED_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
ENCRYPTED_CONTENT_TYPE = (f'multipart/encrypted;protocol="{ENCRYPTED_PROTOCOL}";'
                          'boundary="Encrypted Boundary"')
SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
MAX_TOKEN_BYTES = 16 * 1024
_BOUNDARY = re.compile(r'boundary\s*=\s*"?([^";]+)"?', re.IGNORECASE)

# (domain, user) -> password, or None when the user may not log in.
PasswordLookup = Callable[[str | None, str], str | None]
_LOOKUP: contextvars.ContextVar[PasswordLookup | None] = contextvars.ContextVar(
    "hvsim_ntlm_lookup", default=None)
_original_file = spnego_ntlm._get_credential_file
_original_credential = spnego_ntlm._get_credential


def _credential_file() -> str | None:
    return "hvsim" if _LOOKUP.get() is not None else _original_file()


def _credential(store: str | None, domain: str | None = None,
                username: str | None = None) -> tuple[str | None, str | None, bytes, bytes]:
    lookup = _LOOKUP.get()
    if lookup is None:
        return _original_credential(store, domain, username)
    password = lookup(domain or None, username or "")
    if password is None:
        raise SpnegoError(context_msg=f"unknown user {username!r}")
    return domain or None, username, lmowfv1(password), ntowfv1(password)


spnego_ntlm._get_credential_file = _credential_file
spnego_ntlm._get_credential = _credential


@contextlib.contextmanager
def _credentials(lookup: PasswordLookup) -> Iterator[None]:
    token = _LOOKUP.set(lookup)
    try:
        yield
    finally:
        _LOOKUP.reset(token)


class AuthFailed(Exception):
    """The credentials or a handshake token were refused: answer 401."""


class SealError(Exception):
    """A sealed message could not be opened (tampered, truncated, wrong keys)."""


class _SealingNTLM(spnego_ntlm.NTLMProxy):
    """pyspnego's NTLM context, its negotiated attributes computed once.

    pyspnego rebuilds `context_attr` from enum flags on every wrap (a third of the cost of
    sealing a reply); once the context is complete the attributes no longer change.
    """

    @property
    def context_attr(self) -> Any:
        cached = self.__dict__.get("_hvsim_context_attr")
        if cached is None:
            cached = self.__dict__["_hvsim_context_attr"] = \
                spnego_ntlm.NTLMProxy.context_attr.fget(self)  # type: ignore[attr-defined]
        return cached


@dataclass
class SecurityContext:
    """The state of one connection's NTLM/Negotiate authentication."""

    scheme: str  # the scheme name the client used: "Negotiate" or "NTLM"
    context: Any
    user: str | None = None
    sealer: Any = None  # the NTLM context that seals, once complete

    @property
    def complete(self) -> bool:
        return bool(self.context.complete)

    def seal_context(self) -> Any:
        if self.sealer is None:
            inner = getattr(self.context, "_context", self.context)  # Negotiate wraps NTLM
            if type(inner) is spnego_ntlm.NTLMProxy:
                inner.__class__ = _SealingNTLM
            self.sealer = inner
        return self.sealer


class Authentication:
    def __init__(self, authenticator: Authenticator,
                 ntlm_password: str = DEFAULT_NTLM_PASSWORD) -> None:
        self.authenticator = authenticator
        self.ntlm_password = ntlm_password

    def password_for(self, domain: str | None, user: str) -> str | None:
        if self.authenticator.users is None:
            return self.ntlm_password
        return self.authenticator.expected_password(user)

    def basic(self, token: str) -> str:
        """The user name of valid Basic credentials."""
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthFailed("malformed Basic credentials") from None
        user, sep, password = decoded.partition(":")
        if not sep or not self.authenticator.verify(user, password):
            raise AuthFailed("wrong user name or password")
        return user

    def step(self, current: SecurityContext | None, scheme: str,
             token_text: str) -> tuple[SecurityContext, bytes | None]:
        """Feed one Negotiate/NTLM token; returns the context and the token to send back."""
        try:
            token = base64.b64decode(token_text.strip(), validate=True)
        except binascii.Error:
            raise AuthFailed("malformed authentication token") from None
        if not token or len(token) > MAX_TOKEN_BYTES:
            raise AuthFailed("empty or oversized authentication token")
        with _credentials(self.password_for):
            try:
                if current is None or current.complete or current.scheme != scheme:
                    protocol = "ntlm" if scheme.lower() == "ntlm" else "negotiate"
                    current = SecurityContext(scheme, spnego.server(protocol=protocol))
                out = current.context.step(token)
            except SpnegoError as error:
                raise AuthFailed(f"authentication failed: {error}") from None
            except Exception as error:  # malformed tokens surface as struct/value errors
                raise AuthFailed(f"malformed authentication token: "
                                 f"{type(error).__name__}") from None
        if current.complete:
            current.user = current.context.client_principal
        return current, out


# A part header line is short; anything longer is not the framing WinRM clients write.
MAX_PART_HEADER_LINE = 512
MAX_CONTROL_HEADERS = 8
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


def _header_line(body: bytes, pos: int) -> tuple[str, str, int] | None:
    """(lower-case name, value, position after the line) of the part header at `pos`.

    MS-WSMV 2.2.9.1.1.2 writes each part header as HT "Content-Type" ":" value CRLF, but
    Windows also serves clients that write no tab (virt-who, several Go and Ruby WinRM clients),
    so leading and surrounding blanks (tabs or spaces) are optional and names are matched
    without case, as MIME headers are. Lines must end with CRLF as in every MIME/HTTP grammar
    the specification builds on: a bare LF is refused.
    """
    end = body.find(b"\r\n", pos, pos + MAX_PART_HEADER_LINE)
    if end < 0:
        return None
    name, sep, value = body[pos:end].decode("latin-1").partition(":")
    name = name.strip(" \t")
    if not sep or not _HEADER_NAME.fullmatch(name) or "\n" in value:
        return None
    return name.lower(), value.strip(" \t"), end + 2


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip(" \t").lower()


def _parameters(value: str) -> dict[str, str]:
    """`type=application/soap+xml;charset=UTF-8;Length=1234`, blanks allowed around ; and =."""
    found = {}
    for item in value.split(";"):
        name, _, text = item.partition("=")
        found[name.strip(" \t").lower()] = text.strip(" \t").strip('"')
    return found


def _encrypted_parts(body: bytes, boundary: bytes) -> tuple[dict[str, str], bytes]:
    """The control part's headers and the sealed blob of a multipart/encrypted body."""
    opening = b"--" + boundary + b"\r\n"
    if not body.startswith(opening):
        raise SealError("the encrypted body does not start with its boundary")
    pos = len(opening)
    control: dict[str, str] = {}
    while not body.startswith(opening, pos):
        header = _header_line(body, pos)
        if header is None or len(control) >= MAX_CONTROL_HEADERS:
            raise SealError("the session-encrypted part has a malformed header")
        name, value, pos = header
        control[name] = value
    header = _header_line(body, pos + len(opening))
    if header is None or header[0] != "content-type" or \
            _media_type(header[1]) != "application/octet-stream":
        raise SealError("the encrypted body has no application/octet-stream part")
    start = header[2]
    end = body.rfind(b"--" + boundary + b"--")
    if end < start:
        raise SealError("the encrypted body is truncated: no closing boundary")
    return control, body[start:end]


def unseal(security: SecurityContext, body: bytes, content_type: str) -> bytes:
    """The SOAP payload of a multipart/encrypted request."""
    match = _BOUNDARY.search(content_type)
    boundary = (match.group(1) if match else "Encrypted Boundary").encode()
    control, blob = _encrypted_parts(body, boundary)
    if _media_type(control.get("content-type", "")) != ENCRYPTED_PROTOCOL.lower():
        raise SealError("the encrypted body does not start with the session-encrypted part")
    length_text = _parameters(control.get("originalcontent", "")).get("length", "")
    if not length_text.isdigit():
        raise SealError("the encrypted body has no OriginalContent length")
    if len(blob) < 4:
        raise SealError("the sealed blob is truncated")
    (header_length,) = struct.unpack("<I", blob[:4])
    if header_length != 16 or len(blob) < 4 + header_length:
        raise SealError("the sealed blob has an invalid signature length")
    header, data = blob[4:4 + header_length], blob[4 + header_length:]
    try:
        plain = security.seal_context().unwrap_winrm(header, data)
    except Exception as error:
        raise SealError(f"the sealed message does not verify: {type(error).__name__}") from None
    if len(plain) != int(length_text):
        raise SealError("the sealed message's length does not match OriginalContent")
    return bytes(plain)


def seal(security: SecurityContext, payload: bytes) -> bytes:
    wrapped = security.seal_context().wrap_winrm(payload)
    return b"".join((
        b"--Encrypted Boundary\r\n",
        f"\tContent-Type: {ENCRYPTED_PROTOCOL}\r\n".encode(),
        f"\tOriginalContent: type={SOAP_CONTENT_TYPE};Length={len(payload)}\r\n".encode(),
        b"--Encrypted Boundary\r\n",
        b"\tContent-Type: application/octet-stream\r\n",
        struct.pack("<I", len(wrapped.header)), wrapped.header, wrapped.data,
        b"--Encrypted Boundary--\r\n",
    ))
