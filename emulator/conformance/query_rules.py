"""Rules on how a client asks: queries that read too much or compare translated text,
enumerations left open, envelopes larger than WinRM takes."""

from __future__ import annotations

from collections.abc import Iterator

from emulator.cim.wql import AssociatorsQuery, Comparison, Like, SelectQuery
from emulator.conformance.model import ClassModel, Session, evidence
from emulator.conformance.reading import as_int, where_properties, wql_of
from emulator.conformance.rule import Found, Thresholds
from emulator.transport.request_log import RequestRecord

MAX_ENVELOPE_BYTES = 500 * 1024
# Strings WMI translates to the host's language: a comparison with them fails elsewhere.
LOCALIZED_PROPERTIES = frozenset({"statusdescriptions", "errordescription", "jobstatus",
                                  "description", "errorsummarydescription"})


def broad_query(session: Session, model: ClassModel | None,
                limits: Thresholds) -> Iterator[Found]:
    for record in session.records:
        query = wql_of(record)
        if isinstance(query, SelectQuery) and query.where is None:
            yield (f"WQL without WHERE reads every {query.classname}: slow on a host with "
                   "many VMs (Hyper-V's provider times out)", [evidence(record)])
        elif (isinstance(query, AssociatorsQuery) and query.result_class is None
              and query.assoc_class is None):
            yield ("ASSOCIATORS OF without ResultClass or AssocClass follows every "
                   "association of the object", [evidence(record)])



def envelope_too_large(session: Session, model: ClassModel | None,
                       limits: Thresholds) -> Iterator[Found]:
    for record in session.records:
        size = as_int(record.params.get("MaxEnvelopeSize"))
        if size > MAX_ENVELOPE_BYTES:
            yield (f"MaxEnvelopeSize {size} exceeds WinRM's MaxEnvelopeSizekb (500 KB)",
                   [evidence(record)])



def enumeration_not_released(session: Session, model: ClassModel | None,
                             limits: Thresholds) -> Iterator[Found]:
    open_contexts: dict[str, RequestRecord] = {}
    for record in session.records:
        used = record.params.get("EnumerationContext")
        if used:
            open_contexts.pop(used.strip(), None)
        context = record.observed.get("context")
        if context and not record.observed.get("end"):
            open_contexts[str(context).strip()] = record
    for context, record in open_contexts.items():
        yield (f"enumeration context {context} was neither pulled to its end nor released",
               [evidence(record)])



def localized_comparison(session: Session, model: ClassModel | None,
                         limits: Thresholds) -> Iterator[Found]:
    for record in session.records:
        query = wql_of(record)
        if not isinstance(query, SelectQuery):
            continue
        for name, test in where_properties(query.where):
            literal = isinstance(test, Like) or (
                isinstance(test, Comparison) and isinstance(test.value, str))
            if name.lower() in LOCALIZED_PROPERTIES and literal:
                yield (f"WHERE compares {name}, a string the host translates to its "
                       "language", [evidence(record)])
                break
