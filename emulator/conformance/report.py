"""The conformance report: every rule over every client session, as JSON, JUnit XML or text."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from emulator.conformance.model import SEVERITIES, ClassModel, Finding, Session, sessions_of
from emulator.conformance.rule import Rule, Thresholds
from emulator.conformance.rules import RULES
from emulator.transport.request_log import RequestRecord


@dataclass(frozen=True)
class SessionReport:
    session: str
    requests: int
    first: float
    last: float
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class Report:
    generated: float
    requests: int
    sessions: tuple[SessionReport, ...]
    rules: tuple[Rule, ...]

    def count(self, severity: str) -> int:
        return sum(1 for s in self.sessions for f in s.findings if f.severity == severity)

    @property
    def has_errors(self) -> bool:
        return self.count("error") > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "requests": self.requests,
            "summary": {severity: self.count(severity) for severity in SEVERITIES},
            "sessions": [{"session": s.session, "requests": s.requests, "first": s.first,
                          "last": s.last, "findings": [asdict(f) for f in s.findings]}
                         for s in self.sessions],
            "rules": [{"id": r.id, "severity": r.severity, "title": r.title, "fix": r.fix}
                      for r in self.rules],
        }

    def to_text(self) -> str:
        summary = ", ".join(f"{self.count(s)} {s}(s)" for s in SEVERITIES)
        lines = [f"hvsim conformance: {self.requests} requests, {len(self.sessions)} "
                 f"client session(s); {summary}"]
        for session in self.sessions:
            lines.append("")
            lines.append(f"{session.session}: {session.requests} requests, "
                         f"{len(session.findings) or 'no'} finding(s)")
            for finding in session.findings:
                lines.append(f"  {finding.severity.upper():7} {finding.rule}: {finding.summary}")
                lines.append(f"          fix: {finding.fix}")
                for item in finding.evidence:
                    lines.append(f"          - {clock_text(item.time)} #{item.id} {item.summary}")
        return "\n".join(lines) + "\n"

    def to_junit(self) -> str:
        """One test suite per client session, one test case per rule; errors fail."""
        suites = ET.Element("testsuites", name="hvsim conformance",
                            tests=str(len(self.sessions) * len(self.rules)),
                            failures=str(self.count("error")))
        for session in self.sessions:
            errors = sum(1 for f in session.findings if f.severity == "error")
            suite = ET.SubElement(suites, "testsuite", name=session.session,
                                  tests=str(len(self.rules)), failures=str(errors),
                                  errors="0", skipped="0")
            for rule in self.rules:
                case = ET.SubElement(suite, "testcase", classname=session.session,
                                     name=f"{rule.id}: {rule.title}")
                found = [f for f in session.findings if f.rule == rule.id]
                if not found:
                    continue
                detail = "\n\n".join(_finding_text(f) for f in found)
                if rule.severity == "error":
                    failure = ET.SubElement(case, "failure", type=rule.id,
                                            message=found[0].summary)
                    failure.text = detail
                else:
                    ET.SubElement(case, "system-out").text = f"{rule.severity}: {detail}"
        ET.indent(suites)
        return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _finding_text(finding: Finding) -> str:
    lines = [finding.summary, f"fix: {finding.fix}", "evidence:"]
    lines += [f"  {clock_text(e.time)} #{e.id} {e.summary}" for e in finding.evidence]
    return "\n".join(lines)


def clock_text(moment: float) -> str:
    millis = int(moment % 1 * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{millis:03d}Z"


def build_report(records: Iterable[RequestRecord], model: ClassModel | None = None,
                 thresholds: Thresholds | None = None,
                 rules: tuple[Rule, ...] = RULES) -> Report:
    limits = thresholds or Thresholds()
    records = list(records)
    sessions = [session_report(session, model, limits, rules)
                for session in sessions_of(records)]
    sessions.sort(key=lambda s: s.first)
    return Report(time.time(), len(records), tuple(sessions), rules)


def session_report(session: Session, model: ClassModel | None, limits: Thresholds,
                   rules: tuple[Rule, ...]) -> SessionReport:
    findings: list[Finding] = []
    name = str(session.key)
    for rule in rules:
        for summary, evidence in rule.check(session, model, limits):
            findings.append(Finding(rule.id, rule.severity, name, summary, rule.fix,
                                    tuple(evidence)))
    findings.sort(key=lambda f: SEVERITIES.index(f.severity))
    times = [r.time for r in session.records]
    return SessionReport(name, len(session.records), min(times, default=0.0),
                         max(times, default=0.0), tuple(findings))
