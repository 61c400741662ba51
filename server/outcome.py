"""Audit outcome rules: pure functions from a template snapshot and results to a verdict.

- Every checkpoint is in one state: meets, does_not_meet, not_applicable, follow_up, or
  not_assessed (no result). An optional checkpoint with no result is left out entirely.
- **Pass** only if every must checkpoint is meets or not_applicable. A must checkpoint that
  is does_not_meet, follow_up (still open) or not_assessed fails the audit.
- **Score** = meets / applicable, where applicable is every counted checkpoint that is not
  not_applicable (not_assessed counts against the score).
- **Reasons**: completing needs a written reason when the facility camera never went live,
  and for every must checkpoint marked not_applicable (:func:`reasons_required`).
- **Findings**: every does_not_meet, with its corrective action and due date (30 days for a
  must, 90 for a should when the auditor gave none).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RESULTS = ("meets", "does_not_meet", "not_applicable", "follow_up")
NOT_ASSESSED = "not_assessed"
DUE_DAYS = {"must": 30, "should": 90}


@dataclass(frozen=True)
class CheckpointFacts:
    """What the rules need to know about one checkpoint of the audit's template."""

    key: str
    title: str
    level: str  # "must" | "should"
    criteria: tuple[str, ...]
    optional: bool = False
    captures_required: int = 0


@dataclass(frozen=True)
class ResultFacts:
    result: str
    note: str | None = None
    corrective_action: str | None = None
    due_date: dt.date | None = None


@dataclass(frozen=True)
class Finding:
    checkpoint: str
    title: str
    criteria: tuple[str, ...]
    level: str
    note: str | None
    corrective_action: str
    due_date: dt.date


@dataclass(frozen=True)
class Outcome:
    passed: bool
    score: float | None  # None when nothing is applicable
    counts: dict[str, int]
    states: dict[str, str]
    failing_must: list[str]
    not_assessed: list[str]
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "result": "pass" if self.passed else "fail",
            "score": None if self.score is None else round(self.score, 4),
            "counts": self.counts,
            "states": self.states,
            "failing_must": self.failing_must,
            "not_assessed": self.not_assessed,
            "findings": [
                {
                    "checkpoint": f.checkpoint,
                    "title": f.title,
                    "criteria": list(f.criteria),
                    "level": f.level,
                    "note": f.note,
                    "corrective_action": f.corrective_action,
                    "due_date": f.due_date.isoformat(),
                }
                for f in self.findings
            ],
        }


def state_of(checkpoint: CheckpointFacts, results: Mapping[str, ResultFacts]) -> str | None:
    """The checkpoint's state, or None when it does not count (optional and not assessed)."""
    found = results.get(checkpoint.key)
    if found is not None:
        return found.result
    return None if checkpoint.optional else NOT_ASSESSED


def evaluate(
    checkpoints: Sequence[CheckpointFacts], results: Mapping[str, ResultFacts], completed_on: dt.date
) -> Outcome:
    """Apply the rules above."""
    states: dict[str, str] = {}
    counts = dict.fromkeys((*RESULTS, NOT_ASSESSED), 0)
    failing: list[str] = []
    findings: list[Finding] = []
    for cp in checkpoints:
        state = state_of(cp, results)
        if state is None:
            continue
        states[cp.key] = state
        counts[state] += 1
        if cp.level == "must" and state not in ("meets", "not_applicable"):
            failing.append(cp.key)
        if state == "does_not_meet":
            found = results[cp.key]
            due = found.due_date or completed_on + dt.timedelta(days=DUE_DAYS.get(cp.level, 90))
            action = found.corrective_action or "Corrective action to be agreed with the facility."
            findings.append(Finding(cp.key, cp.title, cp.criteria, cp.level, found.note, action, due))
    applicable = sum(n for state, n in counts.items() if state != "not_applicable")
    score = counts["meets"] / applicable if applicable else None
    not_assessed = [k for k, s in states.items() if s == NOT_ASSESSED]
    return Outcome(not failing, score, counts, states, failing, not_assessed, findings)


def open_checkpoints(checkpoints: Sequence[CheckpointFacts], results: Mapping[str, ResultFacts]) -> list[str]:
    """Checkpoints still open: not assessed, or marked follow-up."""
    return [cp.key for cp in checkpoints if state_of(cp, results) in (NOT_ASSESSED, "follow_up")]


NEVER_LIVE = "never_live"


def reasons_required(
    checkpoints: Sequence[CheckpointFacts], results: Mapping[str, ResultFacts], ever_live: bool
) -> list[str]:
    """What completing must explain in writing, so that an audit cannot pass by accident.

    ``never_live`` when no video from the facility ever reached the server, and the key of
    every must checkpoint marked not applicable (it counts as passed without being seen).
    """
    keys = [] if ever_live else [NEVER_LIVE]
    keys += [cp.key for cp in checkpoints if cp.level == "must" and state_of(cp, results) == "not_applicable"]
    return keys
