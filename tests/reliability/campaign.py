"""The loop both front ends' mutation tests share: send mutants, judge each answer, and check
that refused requests change nothing.

A front end supplies `send(attempt) -> Verdict`. Requests that may change the world (extrinsic
method calls) get a world fingerprint before and after; everything else is checked in batches.
A request that starts a job is allowed to change the world: the campaign waits for its jobs to
end and takes a new baseline.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import pywbem

from tests.reliability.world import Fingerprint, fingerprint, wait_until_settled

SUCCESS, REFUSED, BAD = "success", "refused", "bad"
# Tunable for a long local run (HVSIM_RELIABILITY_REQUESTS=100000); CI uses the defaults.
REQUESTS = int(os.environ.get("HVSIM_RELIABILITY_REQUESTS", "3000"))
SEED = int(os.environ.get("HVSIM_RELIABILITY_SEED", "20240806"))
CHECK_EVERY = 150
MAX_REPORTED = 15


@dataclass(frozen=True)
class Attempt:
    origin: str  # the corpus entry it was made from
    edits: tuple[str, ...]
    body: bytes
    headers: Mapping[str, str]
    may_change_world: bool


@dataclass(frozen=True)
class Verdict:
    kind: str  # SUCCESS, REFUSED or BAD
    detail: str  # status and what the answer was, e.g. "200 ERROR 4" or "500 Fault 2150858778"


@dataclass
class Report:
    verdicts: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    slowest: float = 0.0
    elapsed: float = 0.0
    sent: int = 0

    def fail(self, attempt: Attempt, problem: str) -> None:
        self.failures.append(f"{problem} | from {attempt.origin} with {', '.join(attempt.edits)}"
                             f" | body {attempt.body[:200]!r}")

    def summary(self) -> str:
        top = ", ".join(f"{k}: {v}" for k, v in self.verdicts.most_common(12))
        return (f"{self.sent} requests in {self.elapsed:.1f} s, slowest {self.slowest:.2f} s; "
                f"{top}")

    def assert_clean(self) -> None:
        shown = "\n".join(self.failures[:MAX_REPORTED])
        assert not self.failures, (f"{len(self.failures)} bad answers or state changes "
                                   f"({self.summary()}):\n{shown}")


def run(attempts: Iterable[Attempt], send: Callable[[Attempt], Verdict],
        conns: Mapping[str, pywbem.WBEMConnection], *, slow_after: float = 10.0) -> Report:
    report = Report()
    started = time.monotonic()
    baseline = wait_until_settled(conns)
    unchecked = 0
    for attempt in attempts:
        before = baseline
        if attempt.may_change_world:
            before = fingerprint(conns)
            problem = changes(baseline, before)
            if problem:  # some read-only request since the last check changed the world
                report.fail(attempt, f"before this request, {problem}")
        sent_at = time.monotonic()
        try:
            verdict = send(attempt)
        except Exception as error:  # a hang (client timeout) or a dropped connection
            verdict = Verdict(BAD, f"{type(error).__name__}: {error}")
        took = time.monotonic() - sent_at
        report.sent += 1
        report.slowest = max(report.slowest, took)
        report.verdicts[verdict.detail if verdict.kind != BAD else "BAD"] += 1
        if verdict.kind == BAD:
            report.fail(attempt, verdict.detail)
        elif took > slow_after:
            report.fail(attempt, f"answered after {took:.1f} s: {verdict.detail}")
        unchecked += 1
        if not attempt.may_change_world and unchecked < CHECK_EVERY:
            continue
        after = fingerprint(conns)
        unchecked = 0
        if verdict.kind == SUCCESS and attempt.may_change_world:
            baseline = wait_until_settled(conns) if after.new_jobs(before) else after
            continue
        problem = changes(before if attempt.may_change_world else baseline, after)
        if problem:
            report.fail(attempt, f"{verdict.detail} but {problem}")
            baseline = wait_until_settled(conns)
        else:
            baseline = after
    report.elapsed = time.monotonic() - started
    return report


def changes(before: Fingerprint, after: Fingerprint) -> str | None:
    """What changed in the world between two fingerprints, None if nothing that counts."""
    if after.new_jobs(before):
        return f"jobs appeared: {sorted(after.new_jobs(before))}"
    if after.placement != before.placement:
        moved = set(after.placement) ^ set(before.placement)
        return f"VMs moved: {sorted(moved)}"
    return None
