"""Mutated requests of real WS-Man clients (the golden corpus, tests/golden/wsman) against one
live server.

Every answer is a SOAP envelope: a reply (HTTP 200), a SOAP Fault with WinRM's WSManFault
(HTTP 500, or 415 for a wrong Content-Type), or a 401 with a challenge; never a 500 without a
fault, never a hang. A refused request changes nothing (see campaign.py).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lxml import etree

from tests.golden.test_wsman_golden import HERE as CORPUS
from tests.golden.test_wsman_golden import RENAMES
from tests.reliability import campaign
from tests.reliability.campaign import BAD, REFUSED, SUCCESS, Attempt, Verdict
from tests.reliability.mutation import PARSER, Mutator
from tests.reliability.world import connections
from tests.support.server import DEMO_SCENARIO, TEST_PASSWORD, TEST_USER, HvsimServer, wsman_url

pytestmark = pytest.mark.e2e
SOAP = "http://www.w3.org/2003/05/soap-envelope"
FAULT_NS = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
ODD_CONTENT_TYPES = ("text/xml", "application/xml", "", "application/soap+xml;charset=UTF-16",
                     "application/json", 'multipart/encrypted;protocol="application/HTTP-'
                     'SPNEGO-session-encrypted";boundary="Encrypted Boundary"',
                     "application/soap+xml;charset=\u00e9")
TIME_SCALE = 1000


def load_corpus() -> list[tuple[str, bytes]]:
    entries = []
    for path in sorted(Path(CORPUS).glob("*.xml")):
        body = path.read_bytes()
        for old, new in RENAMES:
            body = body.replace(old, new)
        entries.append((path.stem, body))
    return entries


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HvsimServer]:
    with HvsimServer({"scenario": DEMO_SCENARIO, "time_scale": TIME_SCALE},
                     workdir=tmp_path_factory.mktemp("wsman-mutations")) as started:
        yield started


def judge(reply: requests.Response) -> Verdict:
    status = reply.status_code
    if status == 401:
        challenged = bool(reply.headers.get("WWW-Authenticate"))
        return Verdict(REFUSED if challenged else BAD, "401" if challenged else
                       "401 without a challenge")
    if status not in (200, 415, 500):
        return Verdict(BAD, f"HTTP {status}: {reply.text[:300]!r}")
    if not reply.headers.get("Content-Type", "").startswith("application/soap+xml"):
        return Verdict(BAD, f"{status} with Content-Type {reply.headers.get('Content-Type')!r}:"
                            f" {reply.text[:300]!r}")
    try:
        root = etree.fromstring(reply.content, PARSER)
    except etree.XMLSyntaxError as error:
        return Verdict(BAD, f"{status} with a reply that is not XML ({error})")
    body = root.find(f"{{{SOAP}}}Body")
    if root.tag != f"{{{SOAP}}}Envelope" or body is None or len(body) == 0:
        return Verdict(BAD, f"{status} without a SOAP Envelope/Body: {reply.text[:300]!r}")
    fault = body.find(f"{{{SOAP}}}Fault")
    if status != 200:
        wsman_fault = body.find(f".//{{{FAULT_NS}}}WSManFault")
        if fault is None or wsman_fault is None:
            return Verdict(BAD, f"{status} without a SOAP Fault and WSManFault: "
                                f"{reply.text[:300]!r}")
        return Verdict(REFUSED, f"{status} Fault {wsman_fault.get('Code')}")
    if fault is not None:
        return Verdict(BAD, "a SOAP Fault under HTTP 200")
    returned = body.find(".//{*}ReturnValue")
    if returned is not None:
        value = (returned.text or "").strip()
        return Verdict(SUCCESS if value in ("0", "4096") else REFUSED, f"200 ReturnValue {value}")
    return Verdict(SUCCESS, f"200 {etree.QName(body[0]).localname}")


def attempts(corpus: list[tuple[str, bytes]], count: int, seed: int) -> Iterator[Attempt]:
    chooser = random.Random(seed)
    mutator = Mutator(seed)
    for _ in range(count):
        name, body = chooser.choice(corpus)
        mutant = mutator.mutate(body)
        content_type, edits = SOAP_CONTENT_TYPE, list(mutant.edits)
        if chooser.random() < 0.05:
            content_type = chooser.choice(ODD_CONTENT_TYPES)
            edits.append(f"Content-Type={content_type!r}")
        yield Attempt(name, tuple(edits), mutant.body,
                      {"Content-Type": content_type.encode("utf-8").decode("latin-1")},
                      "invoke" in name)


def test_the_corpus_itself_is_answered(server: HvsimServer) -> None:
    session = requests.Session()
    url = wsman_url(server.url("HV-01"))
    verdicts = {name: judge(session.post(url, data=body, auth=(TEST_USER, TEST_PASSWORD),
                                         headers={"Content-Type": SOAP_CONTENT_TYPE},
                                         timeout=30))
                for name, body in load_corpus() if "MigrateVirtualSystemToHost" not in name}
    assert not [v for v in verdicts.values() if v.kind == BAD], verdicts


def test_mutated_requests_get_proper_answers_and_change_nothing_when_refused(
        server: HvsimServer) -> None:
    session = requests.Session()
    url = wsman_url(server.url("HV-01"))

    def send(attempt: Attempt) -> Verdict:
        return judge(session.post(url, data=attempt.body, headers=dict(attempt.headers),
                                  auth=(TEST_USER, TEST_PASSWORD), timeout=15))

    report = campaign.run(attempts(load_corpus(), campaign.REQUESTS, campaign.SEED), send,
                          connections(server))
    print(report.summary())
    report.assert_clean()
    assert report.verdicts.total() == campaign.REQUESTS
    answered = sum(n for detail, n in report.verdicts.items() if detail.startswith("200"))
    assert answered > campaign.REQUESTS // 5, report.summary()


def test_mutation_is_deterministic() -> None:
    corpus = load_corpus()
    first = [a.body for a in itertools.islice(attempts(corpus, 50, 7), 50)]
    second = [a.body for a in itertools.islice(attempts(corpus, 50, 7), 50)]
    assert first == second
