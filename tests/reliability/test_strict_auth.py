"""Authentication in strict mode (--users): wrong passwords for every scheme, tampered and
replayed sealed messages, and unsealed messages after an NTLM/Negotiate login (issue 8, defect
3) — each refused with 401 and nothing run.

"Nothing run" is observed through a migration: the refused request would have started a job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import pywbem
import requests

from tests.golden.test_wsman_golden import HERE as GOLDEN
from tests.golden.test_wsman_golden import RENAMES
from tests.reliability.world import Fingerprint, connections, fingerprint
from tests.support.sealed import SOAP_CONTENT_TYPE, SealedConnection, frame
from tests.support.server import DEMO_SCENARIO, HvsimServer, wbem_connection, wsman_url

pytestmark = pytest.mark.e2e
USER, PASSWORD = "Admin", "S3cret-pw"
SCHEMES = ["NTLM", "Negotiate"]
CIM_HEADERS = {"Content-Type": 'application/xml; charset="utf-8"', "CIMOperation": "MethodCall",
               "CIMMethod": "EnumerateInstanceNames", "CIMObject": "root/virtualization/v2"}
CIM_BODY = ('<?xml version="1.0" encoding="utf-8" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0">'
            '<MESSAGE ID="1001" PROTOCOLVERSION="1.0"><SIMPLEREQ>'
            '<IMETHODCALL NAME="EnumerateInstanceNames"><LOCALNAMESPACEPATH>'
            '<NAMESPACE NAME="root"/><NAMESPACE NAME="virtualization"/><NAMESPACE NAME="v2"/>'
            '</LOCALNAMESPACEPATH><IPARAMVALUE NAME="ClassName">'
            '<CLASSNAME NAME="Msvm_ComputerSystem"/></IPARAMVALUE></IMETHODCALL></SIMPLEREQ>'
            "</MESSAGE></CIM>")


def golden(name: str) -> bytes:
    body = (Path(GOLDEN) / f"{name}.xml").read_bytes()
    for old, new in RENAMES:
        body = body.replace(old, new)
    return body


# pypsrp's MigrateVirtualSystemToHost of web-01 to HV-02: served, it starts a job.
MIGRATE = golden("pypsrp__invoke-MigrateVirtualSystemToHost__1")
GET = golden("pypsrp__get-selectors__1")


def users_file(directory: Path) -> Path:
    path = directory / "users"
    path.write_text(f"# strict mode\n{USER}:{PASSWORD}\nother:0ther-pw\n")
    return path


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    """One strict server for the tests that must leave the world unchanged."""
    workdir = tmp_path_factory.mktemp("strict")
    with HvsimServer({"scenario": DEMO_SCENARIO, "users": users_file(workdir)},
                     workdir=workdir) as started:
        yield started


@pytest.fixture
def fresh_strict(hvsim_server: Callable[..., HvsimServer],
                 tmp_path: Path) -> Callable[..., HvsimServer]:
    """A strict server of one's own, for tests whose request may (wrongly) change the world."""
    return lambda **options: hvsim_server(scenario=DEMO_SCENARIO, users=users_file(tmp_path),
                                          **options)


def world(server: HvsimServer) -> dict[str, pywbem.WBEMConnection]:
    return connections(server, user=USER, password=PASSWORD)


def assert_unchanged(server: HvsimServer, before: Fingerprint) -> None:
    after = fingerprint(world(server))
    assert not after.new_jobs(before), f"a refused request started jobs: {after.jobs}"
    assert after.placement == before.placement


# -- wrong passwords -----------------------------------------------------------------------------


@pytest.mark.parametrize(("user", "password"), [(USER, "wrong"), ("nobody", PASSWORD),
                                                (USER, ""), (USER, PASSWORD.upper())])
def test_basic_with_wrong_credentials_is_refused_on_both_front_ends(
        strict: HvsimServer, user: str, password: str) -> None:
    base = strict.url("HV-01")
    cim = httpx.post(base + "/cimom", content=CIM_BODY, headers=CIM_HEADERS,
                     auth=(user, password), timeout=15)
    assert cim.status_code == 401
    assert cim.headers["WWW-Authenticate"].startswith("Basic")
    wsman = httpx.post(wsman_url(base), content=MIGRATE, auth=(user, password), timeout=15,
                       headers={"Content-Type": SOAP_CONTENT_TYPE})
    assert wsman.status_code == 401
    assert wsman.headers.get("WWW-Authenticate")


def test_basic_with_the_right_password_is_served(strict: HvsimServer) -> None:
    base = strict.url("HV-01")
    cim = httpx.post(base + "/cimom", content=CIM_BODY, headers=CIM_HEADERS,
                     auth=(USER.lower(), PASSWORD), timeout=15)
    assert cim.status_code == 200 and b"IRETURNVALUE" in cim.content
    wsman = httpx.post(wsman_url(base), content=GET, auth=(USER, PASSWORD), timeout=15,
                       headers={"Content-Type": SOAP_CONTENT_TYPE})
    assert wsman.status_code == 200, wsman.text


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize(("user", "password"), [(USER, "wrong"), ("nobody", PASSWORD),
                                                ("other", PASSWORD)])
def test_ntlm_and_negotiate_with_wrong_credentials_are_refused(
        strict: HvsimServer, scheme: str, user: str, password: str) -> None:
    before = fingerprint(world(strict))
    connection = SealedConnection(wsman_url(strict.url("HV-01")), user, password, scheme)
    assert connection.final.status_code == 401
    # Neither a sealed nor a plain message is served on that connection afterwards.
    if connection.context.complete:
        assert connection.send(connection.seal(MIGRATE)).status_code == 401
    assert connection.send(MIGRATE, SOAP_CONTENT_TYPE).status_code == 401
    assert_unchanged(strict, before)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_ntlm_and_negotiate_with_the_right_password_are_served(strict: HvsimServer,
                                                               scheme: str) -> None:
    connection = SealedConnection(wsman_url(strict.url("HV-01")), f"LAB\\{USER}", PASSWORD,
                                  scheme)
    assert connection.final.status_code == 200
    reply = connection.send(connection.seal(GET))
    assert reply.status_code == 200
    assert b"<p:ElementName>web-01</p:ElementName>" in connection.open(reply)


def test_pypsrp_and_pywinrm_with_a_wrong_password_raise_authentication_errors(
        strict: HvsimServer) -> None:
    from pypsrp.exceptions import AuthenticationError
    from pypsrp.wsman import WSMan
    from winrm.exceptions import InvalidCredentialsError
    from winrm.protocol import Protocol

    base = strict.url("HV-01")
    port = int(base.rsplit(":", 1)[1])
    for auth in ("negotiate", "ntlm", "basic"):
        client = WSMan("127.0.0.1", port=port, ssl=False, auth=auth, username=USER,
                       password="wrong", encryption="never" if auth == "basic" else "auto")
        with pytest.raises((AuthenticationError, requests.HTTPError)):
            client.update_max_payload_size()
    for transport in ("ntlm", "basic"):
        protocol = Protocol(wsman_url(base), transport=transport, username=USER,
                            password="wrong", message_encryption="auto")
        with pytest.raises(InvalidCredentialsError):
            protocol.send_message(GET.decode())
    good = WSMan("127.0.0.1", port=port, ssl=False, username=USER, password=PASSWORD)
    good.update_max_payload_size()  # a Get of the WinRM config: served


# -- tampered and replayed sealed messages ---------------------------------------------------------


def tampered(connection: SealedConnection, payload: bytes, where: str) -> bytes:
    wrapped = connection.context.wrap_winrm(payload)
    signature, sealed = bytearray(wrapped.header), bytearray(wrapped.data)
    length = len(payload)
    if where == "signature":
        signature[-1] ^= 0x80
    elif where == "payload":
        sealed[len(sealed) // 2] ^= 0x01
    elif where == "truncated":
        sealed = sealed[:-10]
    elif where == "length":
        length += 1
    elif where == "appended":
        sealed += b"<extra/>"
    return frame(bytes(signature), bytes(sealed), length)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("where", ["signature", "payload", "truncated", "length", "appended"])
def test_a_tampered_sealed_message_is_refused_and_runs_nothing(
        strict: HvsimServer, scheme: str, where: str) -> None:
    before = fingerprint(world(strict))
    connection = SealedConnection(wsman_url(strict.url("HV-01")), USER, PASSWORD, scheme)
    assert connection.final.status_code == 200
    reply = connection.send(tampered(connection, MIGRATE, where))
    assert reply.status_code == 401, reply.content[:300]
    # The context is gone with the tampering: the next message on the connection is refused.
    assert connection.send(connection.seal(MIGRATE)).status_code == 401
    assert_unchanged(strict, before)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_replayed_sealed_message_is_refused(fresh_strict: Callable[..., HvsimServer],
                                              scheme: str) -> None:
    server = fresh_strict()
    url = wsman_url(server.url("HV-01"))
    connection = SealedConnection(url, USER, PASSWORD, scheme)
    sealed = connection.seal(MIGRATE)
    first = connection.send(sealed)
    assert first.status_code == 200
    assert b"<p:ReturnValue>4096</p:ReturnValue>" in connection.open(first)
    started = fingerprint(world(server))
    assert len(started.jobs) == 1
    # Again on the same connection (the sequence number has moved on) ...
    assert connection.send(sealed).status_code == 401
    # ... and on another connection of the same user (other session keys).
    other = SealedConnection(url, USER, PASSWORD, scheme)
    assert other.final.status_code == 200
    assert other.send(sealed).status_code == 401
    assert set(fingerprint(world(server)).jobs) == set(started.jobs)


# -- unsealed messages after an NTLM/Negotiate login (issue 8, defect 3) --------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
def test_an_unsealed_message_after_login_is_refused_and_runs_nothing(
        fresh_strict: Callable[..., HvsimServer], scheme: str) -> None:
    """WinRM's AllowUnencrypted=false (its default): over http, a connection that logged in
    with NTLM/Negotiate must seal every message. Fails until --allow-unencrypted exists."""
    server = fresh_strict()
    before = fingerprint(world(server))
    connection = SealedConnection(wsman_url(server.url("HV-01")), USER, PASSWORD, scheme)
    assert connection.final.status_code == 200
    for content_type in (SOAP_CONTENT_TYPE, "text/xml", ""):
        reply = connection.send(MIGRATE, content_type)
        assert reply.status_code == 401, (content_type, reply.status_code, reply.content[:300])
    assert_unchanged(server, before)
    # Refusing the plain message does not end the login: sealed messages still work.
    sealed = connection.send(connection.seal(GET))
    assert sealed.status_code == 200


@pytest.mark.parametrize("scheme", SCHEMES)
def test_with_allow_unencrypted_an_unsealed_message_after_login_is_served(
        fresh_strict: Callable[..., HvsimServer], scheme: str) -> None:
    server = fresh_strict(allow_unencrypted=True)
    connection = SealedConnection(wsman_url(server.url("HV-01")), USER, PASSWORD, scheme)
    assert connection.final.status_code == 200
    reply = connection.send(GET, SOAP_CONTENT_TYPE)
    assert reply.status_code == 200, reply.content[:300]
    assert b"<p:ElementName>web-01</p:ElementName>" in reply.content
    # Still strict: without the login, the same plain message is refused.
    assert requests.post(wsman_url(server.url("HV-01")), data=GET, timeout=15,
                         headers={"Content-Type": SOAP_CONTENT_TYPE}).status_code == 401


def test_cimxml_in_strict_mode_serves_only_known_users(strict: HvsimServer) -> None:
    good = wbem_connection(strict.url("HV-01"), user=USER, password=PASSWORD)
    assert good.EnumerateInstanceNames("Msvm_ComputerSystem")
    for user, password in ((USER, "wrong"), ("nobody", "x")):
        with pytest.raises(pywbem.AuthError):
            wbem_connection(strict.url("HV-01"), user=user,
                            password=password).EnumerateInstanceNames("Msvm_ComputerSystem")
