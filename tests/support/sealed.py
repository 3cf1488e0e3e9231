"""One keep-alive HTTP connection authenticated with NTLM or Negotiate, sealing WS-Man messages
the way pypsrp and pywinrm do (WinRM's HTTP-SPNEGO-session-encrypted framing), with the raw
pieces exposed so that tests can tamper with, replay or leave out the seal."""

from __future__ import annotations

import base64
import struct

import requests
import spnego

SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
ENCRYPTED_CONTENT_TYPE = ('multipart/encrypted;protocol="application/HTTP-SPNEGO-session-'
                          'encrypted";boundary="Encrypted Boundary"')


class SealedConnection:
    """`scheme` is the HTTP authentication scheme: "Negotiate" (SPNEGO, as pypsrp) or "NTLM"
    (raw NTLM, as pywinrm's ntlm transport). `final` is the server's answer to the last
    handshake step: 200 when the login succeeded, 401 when it was refused."""

    def __init__(self, url: str, user: str, password: str, scheme: str = "Negotiate") -> None:
        self.url = url
        self.scheme = scheme
        self.session = requests.Session()
        protocol = "ntlm" if scheme.upper() == "NTLM" else "negotiate"
        self.context = spnego.client(user, password, protocol=protocol)
        token = self.context.step()
        while True:
            assert token is not None
            reply = self.session.post(url, data=b"", timeout=15, headers={
                "Authorization": f"{scheme} {base64.b64encode(token).decode()}"})
            answer = _token_of(reply, scheme)
            if reply.status_code != 401 or answer is None or self.context.complete:
                break
            token = self.context.step(answer)
        if reply.status_code == 200 and answer is not None and not self.context.complete:
            self.context.step(answer)  # SPNEGO's closing mechListMIC
        self.final = reply

    def seal(self, payload: bytes) -> bytes:
        wrapped = self.context.wrap_winrm(payload)
        return frame(wrapped.header, wrapped.data, len(payload))

    def send(self, body: bytes, content_type: str = ENCRYPTED_CONTENT_TYPE,
             headers: dict[str, str] | None = None) -> requests.Response:
        return self.session.post(self.url, data=body, timeout=15,
                                 headers={"Content-Type": content_type, **(headers or {})})

    def open(self, reply: requests.Response) -> bytes:
        """The SOAP payload of a sealed reply."""
        blob = reply.content.split(b"application/octet-stream\r\n", 1)[1].rsplit(
            b"--Encrypted Boundary--", 1)[0]
        (length,) = struct.unpack("<I", blob[:4])
        return self.context.unwrap_winrm(blob[4:4 + length], blob[4 + length:])

    def close(self) -> None:
        self.session.close()


def frame(signature: bytes, sealed: bytes, original_length: int) -> bytes:
    """WinRM's multipart/encrypted body around one sealed message."""
    return (b"--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-"
            b"encrypted\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;"
            b"Length=" + str(original_length).encode() + b"\r\n--Encrypted Boundary\r\n"
            b"\tContent-Type: application/octet-stream\r\n"
            + struct.pack("<I", len(signature)) + signature + sealed
            + b"--Encrypted Boundary--\r\n")


def _token_of(reply: requests.Response, scheme: str) -> bytes | None:
    for value in reply.headers.get("WWW-Authenticate", "").split(","):
        name, _, token = value.strip().partition(" ")
        if name.lower() == scheme.lower() and token:
            return base64.b64decode(token)
    return None
