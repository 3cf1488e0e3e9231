"""Client conformance: rules over the request log, per client session.

Pure: records in, findings out, no I/O and no hvsim layer below the request record. The class
model a rule may consult comes in through the `ClassModel` protocol (the control API and the
CLI adapt the catalog to it); without one, the rules that need it stay silent.
"""

from __future__ import annotations

from emulator.conformance.model import ClassModel, Finding, PropertyInfo, Session
from emulator.conformance.report import Report, build_report
from emulator.conformance.rule import Rule, Thresholds
from emulator.conformance.rules import RULES

__all__ = ["RULES", "ClassModel", "Finding", "PropertyInfo", "Report", "Rule", "Session",
           "Thresholds", "build_report"]
