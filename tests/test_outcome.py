"""The outcome rules as a table of cases."""

from __future__ import annotations

import datetime as dt

import pytest

from server.outcome import CheckpointFacts, ResultFacts, evaluate, open_checkpoints, reasons_required

TODAY = dt.date(2026, 11, 28)
M1 = CheckpointFacts("seal", "Seal", "must", ("6.7",))
M2 = CheckpointFacts("doors", "Doors", "must", ("5.4",))
S1 = CheckpointFacts("lights", "Lighting", "should", ("9.6",))
OPT = CheckpointFacts("reefer", "Reefer unit", "must", ("5.3",), optional=True)
ALL = [M1, M2, S1, OPT]


def r(result: str, **kw: object) -> ResultFacts:
    return ResultFacts(result, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("results", "passed", "score", "failing"),
    [
        ({"seal": r("meets"), "doors": r("meets"), "lights": r("meets")}, True, 1.0, []),
        ({"seal": r("meets"), "doors": r("not_applicable"), "lights": r("meets")}, True, 1.0, []),
        # A should that does not meet lowers the score but does not fail the audit.
        ({"seal": r("meets"), "doors": r("meets"), "lights": r("does_not_meet")}, True, 2 / 3, []),
        # A must that does not meet fails it.
        ({"seal": r("does_not_meet"), "doors": r("meets"), "lights": r("meets")}, False, 2 / 3, ["seal"]),
        # A must still open (follow-up) fails it.
        ({"seal": r("follow_up"), "doors": r("meets"), "lights": r("meets")}, False, 2 / 3, ["seal"]),
        # A must never assessed fails it and counts against the score.
        ({"doors": r("meets"), "lights": r("meets")}, False, 2 / 3, ["seal"]),
        # The optional reefer point counts once assessed.
        (
            {"seal": r("meets"), "doors": r("meets"), "lights": r("meets"), "reefer": r("does_not_meet")},
            False,
            3 / 4,
            ["reefer"],
        ),
        # Nothing applicable: no score, and no must fails.
        (
            {"seal": r("not_applicable"), "doors": r("not_applicable"), "lights": r("not_applicable")},
            True,
            None,
            [],
        ),
    ],
)
def test_outcome_rules(
    results: dict[str, ResultFacts], passed: bool, score: float | None, failing: list[str]
) -> None:
    outcome = evaluate(ALL, results, TODAY)
    assert outcome.passed is passed
    assert outcome.score == (pytest.approx(score) if score is not None else None)
    assert outcome.failing_must == failing


def test_findings_carry_actions_and_due_dates() -> None:
    results = {
        "seal": r("does_not_meet", note="no seal log", corrective_action="Keep a seal log"),
        "lights": r("does_not_meet", due_date=dt.date(2027, 1, 15)),
        "doors": r("meets"),
    }
    findings = {f.checkpoint: f for f in evaluate(ALL, results, TODAY).findings}
    assert findings["seal"].corrective_action == "Keep a seal log"
    assert findings["seal"].due_date == TODAY + dt.timedelta(days=30)
    assert findings["lights"].due_date == dt.date(2027, 1, 15)
    assert findings["lights"].corrective_action.startswith("Corrective action to be agreed")


def test_open_checkpoints_are_unassessed_or_follow_up() -> None:
    results = {"seal": r("follow_up"), "doors": r("meets")}
    assert open_checkpoints(ALL, results) == ["seal", "lights"]


def test_outcome_serialises() -> None:
    out = evaluate(ALL, {"seal": r("meets"), "doors": r("does_not_meet")}, TODAY).to_dict()
    assert out["result"] == "fail"
    assert out["states"] == {"seal": "meets", "doors": "does_not_meet", "lights": "not_assessed"}
    assert out["findings"][0]["due_date"] == "2026-12-28"


@pytest.mark.parametrize(
    ("results", "ever_live", "keys"),
    [
        ({}, True, []),
        ({}, False, ["never_live"]),
        ({"m": "not_applicable"}, True, ["m"]),
        ({"m": "not_applicable", "s": "not_applicable"}, False, ["never_live", "m"]),
        ({"m": "meets", "s": "not_applicable"}, True, []),
    ],
)
def test_reasons_required(results: dict[str, str], ever_live: bool, keys: list[str]) -> None:
    cps = [CheckpointFacts("m", "Must", "must", ("1",)), CheckpointFacts("s", "Should", "should", ("2",))]
    facts = {k: ResultFacts(v) for k, v in results.items()}
    assert reasons_required(cps, facts, ever_live) == keys
