"""Bad requests at the HTTP level get DSP0200 answers: status, CIMError header, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import pywbem

from tests.support.server import HvsimServer, wbem_connection

pytestmark = pytest.mark.e2e
AUTH = ("testuser", "Passw0rd")
GOOD_BODY = (
    '<?xml version="1.0" encoding="utf-8" ?>'
    '<CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1001" PROTOCOLVERSION="1.0">'
    '<SIMPLEREQ><IMETHODCALL NAME="EnumerateInstanceNames"><LOCALNAMESPACEPATH>'
    '<NAMESPACE NAME="root"/><NAMESPACE NAME="virtualization"/><NAMESPACE NAME="v2"/>'
    '</LOCALNAMESPACEPATH><IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="Msvm_ComputerSystem"/>'
    "</IPARAMVALUE></IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>"
)


def headers(method: str = "EnumerateInstanceNames", **extra: str) -> dict[str, str]:
    return {"Content-Type": 'application/xml; charset="utf-8"', "CIMOperation": "MethodCall",
            "CIMMethod": method, "CIMObject": "root/virtualization/v2", **extra}


def post(server: HvsimServer, body: str | bytes, hdrs: dict[str, str],
         auth: tuple[str, str] | None = AUTH) -> httpx.Response:
    return httpx.post(server.url("HV-01") + "/cimom", content=body, headers=hdrs, auth=auth,
                      timeout=30)


def test_good_request_works(demo_server: HvsimServer) -> None:
    response = post(demo_server, GOOD_BODY, headers())
    assert response.status_code == 200
    assert response.headers["CIMOperation"] == "MethodResponse"
    assert "5C3A1E2B-7D4F-4A8B-9C0D-1E2F3A4B5C6D" in response.text


@pytest.mark.parametrize(("desc", "body", "hdrs", "status", "cim_error"), [
    ("malformed xml", GOOD_BODY[:-20], headers(), 400, "request-not-well-formed"),
    ("dtd", '<?xml version="1.0"?><!DOCTYPE CIM [<!ENTITY a "b">]>' + GOOD_BODY[38:],
     headers(), 400, "request-not-well-formed"),
    ("not utf-8", GOOD_BODY.encode("utf-16"), headers(), 400, "request-not-well-formed"),
    ("wrong content type", GOOD_BODY, {**headers(), "Content-Type": "text/plain"}, 400,
     "request-not-valid"),
    ("no CIMOperation", GOOD_BODY, {k: v for k, v in headers().items() if k != "CIMOperation"},
     400, "request-not-valid"),
    ("method mismatch", GOOD_BODY, headers("GetInstance"), 400, "header-mismatch"),
    ("object mismatch", GOOD_BODY, {**headers(), "CIMObject": "root/interop"}, 400,
     "header-mismatch"),
    ("protocol version", GOOD_BODY, {**headers(), "CIMProtocolVersion": "2.0"}, 501,
     "unsupported-protocol-version"),
    ("not cim", "<hello/>", headers(), 400, "request-not-well-formed"),
    ("oversized", b"<" + b"A" * (16 * 1024 * 1024 + 1), headers(), 413, "request-not-valid"),
])
def test_bad_requests(demo_server: HvsimServer, desc: str, body: str | bytes,
                      hdrs: dict[str, str], status: int, cim_error: str) -> None:
    response = post(demo_server, body, hdrs)
    assert response.status_code == status, response.text
    assert response.headers.get("CIMError") == cim_error


def test_unknown_intrinsic_is_not_supported(demo_server: HvsimServer) -> None:
    body = GOOD_BODY.replace("EnumerateInstanceNames", "FlyToTheMoon")
    response = post(demo_server, body, headers("FlyToTheMoon"))
    assert response.status_code == 200
    assert 'CODE="7"' in response.text


def test_unknown_parameter_is_invalid(demo_server: HvsimServer) -> None:
    body = GOOD_BODY.replace('<IPARAMVALUE NAME="ClassName">',
                             '<IPARAMVALUE NAME="Colour"><VALUE>red</VALUE></IPARAMVALUE>'
                             '<IPARAMVALUE NAME="ClassName">')
    response = post(demo_server, body, headers())
    assert 'CODE="4"' in response.text


def test_missing_credentials_get_a_basic_challenge(demo_server: HvsimServer) -> None:
    response = post(demo_server, GOOD_BODY, headers(), auth=None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_strict_users_file(hvsim_server: Callable[..., HvsimServer], tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text("# who may log in\nadmin:S3cret\n")
    server = hvsim_server(users=users)
    good = wbem_connection(server.url("HV-01"), user="Admin", password="S3cret")
    assert good.EnumerateInstanceNames("Msvm_ComputerSystem")
    bad = wbem_connection(server.url("HV-01"), user="admin", password="wrong")
    with pytest.raises(pywbem.AuthError):
        bad.EnumerateInstanceNames("Msvm_ComputerSystem")


# -- large requests: decoded in a child process ---------------------------------------------


def large_query_body(literal: str, attribute: str = "1") -> bytes:
    query = f"SELECT * FROM Msvm_ComputerSystem WHERE ElementName = '{literal}'"
    return (f'<?xml version="1.0" encoding="utf-8" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0">'
            f'<MESSAGE ID="{attribute}" PROTOCOLVERSION="1.0"><SIMPLEREQ>'
            '<IMETHODCALL NAME="ExecQuery"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/>'
            '<NAMESPACE NAME="virtualization"/><NAMESPACE NAME="v2"/></LOCALNAMESPACEPATH>'
            '<IPARAMVALUE NAME="QueryLanguage"><VALUE>WQL</VALUE></IPARAMVALUE>'
            f'<IPARAMVALUE NAME="Query"><VALUE>{query}</VALUE></IPARAMVALUE>'
            "</IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>").encode()


def post_query(server: HvsimServer, body: bytes) -> httpx.Response:
    return post(server, body, headers("ExecQuery"))


def test_a_large_valid_request_is_answered(demo_server: HvsimServer) -> None:
    reply = post_query(demo_server, large_query_body("x" * 200_000))
    assert reply.status_code == 200
    assert b"<IMETHODRESPONSE NAME=\"ExecQuery\">" in reply.content
    reply = post_query(demo_server, large_query_body("web-01", attribute="2" * 20_000))
    assert reply.status_code == 200 and b"web-01" in reply.content


def test_a_huge_attribute_is_refused_without_echoing_it(demo_server: HvsimServer) -> None:
    reply = post_query(demo_server, large_query_body("web-01", attribute="9" * 100_000))
    assert reply.status_code == 400
    assert reply.headers["CIMError"] == "request-not-valid"
    assert len(reply.content) < 2_000


def test_a_malformed_large_request_gets_a_short_error(demo_server: HvsimServer) -> None:
    attributes = "".join(f' a{i}="1"' for i in range(50_000))
    body = large_query_body("web-01").replace(b"<SIMPLEREQ>", f"<SIMPLEREQ{attributes}>".encode())
    reply = post_query(demo_server, body)
    assert reply.status_code == 400 and len(reply.content) < 2_000
