"""Checkpoint templates: YAML validation with line numbers, the shipped templates, snapshots."""

from __future__ import annotations

import json
import textwrap

import pytest

from server.checklists import (
    MAX_TEMPLATE_BYTES,
    Checkpoint,
    Problem,
    Template,
    TemplateError,
    builtin_templates,
    describe,
    format_problems,
    load_template,
)

# Every template in these tests starts with HEAD; the checkpoint YAML after it begins on line 8.
HEAD = """\
key: demo
version: 1
title: Demo
sections:
  - key: yard
    title: Yard
    checkpoints:
"""

GATE = """\
- key: gate
  criteria: ["9.4"]
  level: must
  title: Gate
  instruction:
    en: Show the gate.
"""


def with_checkpoints(body: str) -> str:
    return HEAD + textwrap.indent(textwrap.dedent(body), " " * 6)


def point(template: Template, key: str) -> Checkpoint:
    checkpoint = template.checkpoint(key)
    assert checkpoint is not None, key
    return checkpoint


def problems_in(text: str) -> list[tuple[int | None, str]]:
    with pytest.raises(TemplateError) as caught:
        load_template(text)
    return [(problem.line, problem.message) for problem in caught.value.problems]


def the_problem(text: str) -> tuple[int | None, str]:
    found = problems_in(text)
    assert len(found) == 1, found
    return found[0]


# -- a valid template ---------------------------------------------------------------------


def test_minimal_template_loads_with_defaults() -> None:
    template = load_template(with_checkpoints(GATE))
    assert template.key == "demo" and template.version == 1 and template.description == ""
    assert template.languages == ("en",)
    (gate,) = template.checkpoints()
    assert gate.criteria == ("9.4",) and gate.level == "must" and gate.kind == "check"
    assert gate.captures_required == 0 and gate.optional is False and gate.guidance == ""
    assert template.checkpoint("gate") is gate
    assert template.checkpoint("nope") is None
    with pytest.raises(KeyError):
        template.instruction("nope", "en")


def test_unquoted_criterion_ids_are_read_as_written() -> None:
    # YAML reads 5.10 as the number 5.1; the id must stay "5.10".
    template = load_template(with_checkpoints(GATE.replace('["9.4"]', "[5.10, 9.4]")))
    assert point(template, "gate").criteria == ("5.10", "9.4")


# -- each kind of problem, at its line ------------------------------------------------------


def test_yaml_syntax_error_points_at_the_parser_line() -> None:
    line, message = the_problem(with_checkpoints(GATE.replace("title: Gate", "title: [Gate")))
    assert line == 12 and message.startswith("not valid YAML:")


def test_tab_indentation_is_a_syntax_error() -> None:
    line, message = the_problem("key: demo\nsections:\n\t- key: yard\n")
    assert line == 3 and "not valid YAML" in message


def test_document_must_be_a_mapping() -> None:
    assert the_problem("- key: demo\n- title: Demo\n") == (
        1,
        "template must be a mapping with key, version, title, sections, not a list",
    )


def test_empty_document() -> None:
    assert the_problem("# nothing but a comment\n") == (None, "the template is empty")


def test_too_large_is_refused_before_parsing() -> None:
    text = with_checkpoints(GATE) + "#" * MAX_TEMPLATE_BYTES
    assert the_problem(text) == (None, "the template is 256 KiB; the limit is 256 KiB")


def test_wrong_types_are_reported_at_their_lines() -> None:
    body = GATE.replace("title: Gate", "title: 2024") + "  captures_required: one\n  optional: maybe\n"
    assert problems_in(with_checkpoints(body)) == [
        (11, "checkpoint 'gate': 'title' must be text, not a number (put it in quotes)"),
        (14, "checkpoint 'gate': 'captures_required' must be a whole number, not text"),
        (15, "checkpoint 'gate': 'optional' must be true or false, not text"),
    ]


def test_version_must_be_a_positive_whole_number() -> None:
    assert the_problem(with_checkpoints(GATE).replace("version: 1", "version: 0")) == (
        2,
        "template: 'version' must be from 1 to 1000000, not 0",
    )


def test_missing_required_fields_point_at_their_mapping() -> None:
    body = GATE.replace("  title: Gate\n", "")
    assert the_problem(with_checkpoints(body)) == (8, "checkpoint 'gate' is missing 'title'")
    assert the_problem(with_checkpoints(GATE).replace("title: Demo\n", "")) == (
        1,
        "template is missing 'title'",
    )


def test_unknown_field_suggests_the_closest_name() -> None:
    body = GATE + "  captures_requird: 1\n"
    assert the_problem(with_checkpoints(body)) == (
        14,
        "checkpoint 'gate': unknown field 'captures_requird' (did you mean 'captures_required'?)",
    )


def test_unknown_field_without_a_close_name_lists_the_known_ones() -> None:
    line, message = the_problem(with_checkpoints(GATE + "  colour: red\n"))
    assert line == 14
    assert message.startswith("checkpoint 'gate': unknown field 'colour'; known fields: key, criteria")


def test_duplicate_checkpoint_keys_across_sections() -> None:
    text = with_checkpoints(GATE) + "  - key: dock\n    title: Dock\n    checkpoints:\n"
    text += textwrap.indent(GATE, " " * 6)
    assert the_problem(text) == (17, "duplicate checkpoint key 'gate' (first used at line 8)")


def test_a_field_given_twice_is_reported() -> None:
    body = GATE + "  level: should\n"
    assert the_problem(with_checkpoints(body)) == (14, "'level' is given twice (first at line 10)")


@pytest.mark.parametrize(
    ("criterion", "message"),
    [
        ('"13.1"', "criterion 13.1: there is no category 13 (CTPAT categories are 1–12)"),
        ('"0.4"', "criterion 0.4: there is no category 0 (CTPAT categories are 1–12)"),
        ('"5.x"', "'5.x' is not a CTPAT criterion id such as '5.4' or '9.13'"),
        ('"5"', "'5' is not a CTPAT criterion id such as '5.4' or '9.13'"),
        ('"05.3"', "criterion 05.3: write the id without leading zeros, e.g. '5.4'"),
        ("true", "a criterion id is text such as '5.4', not true/false"),
    ],
)
def test_bad_criterion_ids(criterion: str, message: str) -> None:
    body = GATE.replace('criteria: ["9.4"]', f'criteria:\n  - "9.4"\n  - {criterion}')
    assert the_problem(with_checkpoints(body)) == (11, f"checkpoint 'gate': {message}")


def test_a_criterion_listed_twice() -> None:
    body = GATE.replace('["9.4"]', '["9.4", "9.4"]')
    assert the_problem(with_checkpoints(body)) == (9, "checkpoint 'gate': criterion 9.4 is listed twice")


def test_unknown_level() -> None:
    body = GATE.replace("level: must", "level: mandatory")
    assert the_problem(with_checkpoints(body)) == (
        10,
        "checkpoint 'gate': 'level' must be 'must' or 'should', not 'mandatory'",
    )


def test_missing_english_instruction() -> None:
    text = with_checkpoints(GATE.replace("en: Show", "zh: 拍")).replace(
        "title: Demo", "title: Demo\nlanguages: [en, zh]"
    )
    assert the_problem(text) == (13, "checkpoint 'gate': instruction has no English text (add `en: ...`)")


def test_instruction_language_must_be_declared() -> None:
    body = GATE + "    vi: Quay cổng.\n"
    assert the_problem(with_checkpoints(body)) == (
        14,
        "checkpoint 'gate': instruction language 'vi' is not in the template's languages (en)",
    )


def test_declared_language_must_be_used() -> None:
    text = with_checkpoints(GATE).replace("title: Demo", "title: Demo\nlanguages: [en, vi]")
    assert the_problem(text) == (4, "template: language 'vi' is listed but no instruction uses it")


def test_instruction_must_be_a_mapping() -> None:
    body = GATE.replace("  instruction:\n    en: Show the gate.\n", "  instruction: Show the gate.\n")
    line, message = the_problem(with_checkpoints(body))
    assert line == 12 and message.startswith("checkpoint 'gate': instruction must be a mapping from language")


def test_empty_sections_are_reported() -> None:
    assert the_problem("key: demo\nversion: 1\ntitle: Demo\nsections: []\n") == (
        4,
        "template has no sections",
    )
    text = with_checkpoints(GATE) + "  - key: dock\n    title: Dock\n    checkpoints: []\n"
    assert the_problem(text) == (16, "section 'dock' has no checkpoints")


def test_only_identity_checkpoints_may_omit_criteria() -> None:
    body = GATE.replace('  criteria: ["9.4"]\n', "")
    assert the_problem(with_checkpoints(body)) == (
        8,
        "checkpoint 'gate' names no CTPAT criteria; only 'kind: identity' checkpoints may have none",
    )
    identity = load_template(with_checkpoints(body + "  kind: identity\n"))
    assert point(identity, "gate").kind == "identity" and point(identity, "gate").criteria == ()


def test_anchors_and_aliases_are_refused() -> None:
    body = GATE.replace("level: must", "level: &lvl must") + "- key: dock\n  criteria: ['9.4']\n"
    body += "  level: *lvl\n  title: Dock\n  instruction: {en: Show the dock.}\n"
    assert the_problem(with_checkpoints(body)) == (16, "anchors and aliases (&name, *name) are not supported")


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    text = """\
key: Demo Template
version: 1
title: Demo
languages: [en, zh]
sections:
  - key: yard
    title: Yard
    checkpoints:
      - key: gate
        criteria: ["13.1"]
        level: mandatory
        title: Gate
        captures_requird: 1
        instruction:
          fr: Montrez le portail.
      - key: gate
        criteria: ["9.4"]
        level: must
        title: Gate again
        instruction: {en: Show the gate., zh: 拍大门。}
"""
    with pytest.raises(TemplateError) as caught:
        load_template(text, source="demo.yaml")
    assert [problem.line for problem in caught.value.problems] == [1, 10, 11, 13, 14, 15, 16]
    assert "did you mean 'captures_required'?" in caught.value.problems[3].message
    rendered = str(caught.value)
    assert rendered.splitlines()[0] == "demo.yaml is not a valid template (7 problems):"
    assert "\n  line 16: duplicate checkpoint key 'gate' (first used at line 9)" in rendered


def test_format_problems_one_per_line() -> None:
    problems = [Problem(12, "checkpoint 'floor': bad"), Problem(None, "the template is empty")]
    assert format_problems(problems) == "line 12: checkpoint 'floor': bad\nthe template is empty"


# -- the shipped templates ------------------------------------------------------------------


@pytest.fixture(scope="module")
def builtins() -> dict[str, Template]:
    return builtin_templates()


def test_builtin_templates_load(builtins: dict[str, Template]) -> None:
    assert set(builtins) == {"ctpat-fm-walkthrough", "container-7-point", "tractor-trailer-17-point"}
    for template in builtins.values():
        assert all(checkpoint.instruction_in("en") for checkpoint in template.checkpoints())
        assert all(checkpoint.title and checkpoint.guidance for checkpoint in template.checkpoints())


def test_container_7_point_in_cbp_order_with_reefer_and_seal(builtins: dict[str, Template]) -> None:
    template = builtins["container-7-point"]
    points = template.checkpoints()
    required = [checkpoint.key for checkpoint in points if not checkpoint.optional]
    assert required == [
        "front-wall",
        "left-side",
        "right-side",
        "floor",
        "ceiling-roof",
        "doors",
        "undercarriage",
        "seal-verification",
    ]
    assert [checkpoint.key for checkpoint in points if checkpoint.optional] == ["reefer-unit"]
    assert all(checkpoint.criteria[0] == "5.3" and checkpoint.level == "must" for checkpoint in points[:8])
    assert "5.4" in point(template, "doors").criteria
    assert set(point(template, "seal-verification").criteria) == {"6.7", "6.2"}
    assert points[-1].key == "seal-verification"
    # Every point is translated for the facility worker.
    assert template.languages == ("en", "zh", "vi", "es", "hi", "bn", "id")
    assert all(set(checkpoint.instruction) == set(template.languages) for checkpoint in points)


def test_tractor_trailer_has_17_points_in_two_sections(builtins: dict[str, Template]) -> None:
    template = builtins["tractor-trailer-17-point"]
    assert [(section.key, len(section.checkpoints)) for section in template.sections] == [
        ("tractor", 7),
        ("trailer", 10),
    ]
    assert len(template.checkpoints()) == 17
    assert all(checkpoint.criteria == ("5.3",) for checkpoint in template.checkpoints())
    assert template.checkpoints()[0].key == "bumper-tires-rims"
    assert template.checkpoints()[-1].key == "trailer-undercarriage"


def test_walkthrough_starts_with_identity_and_covers_the_camera_criteria(
    builtins: dict[str, Template],
) -> None:
    template = builtins["ctpat-fm-walkthrough"]
    first = template.checkpoints()[0]
    assert first.kind == "identity" and first.criteria == () and first.captures_required >= 1
    assert "zh" in first.instruction and "bn" in first.instruction
    assert template.categories() == (5, 6, 7, 8, 9, 10, 12)
    covered = {c for checkpoint in template.checkpoints() for c in checkpoint.criteria}
    expected = "5.1 5.3 5.4 5.5 5.6 6.1 6.2 6.5 6.6 6.7 7.1 7.2 7.4 7.5 8.1 9.1 9.2 9.4 9.5 9.6"
    expected += " 9.8 9.10 9.11 9.13 9.14 9.15 9.16 10.1 10.2 10.3 10.4 12.2"
    assert covered == set(expected.split())
    shoulds = {
        c
        for checkpoint in template.checkpoints()
        if checkpoint.level == "should"
        for c in checkpoint.criteria
    }
    assert shoulds == {"5.5", "5.6", "7.4", "7.5", "9.5"}


# -- snapshots and languages ----------------------------------------------------------------


def test_to_dict_from_dict_round_trip(builtins: dict[str, Template]) -> None:
    for template in builtins.values():
        snapshot = json.loads(json.dumps(template.to_dict()))
        assert Template.from_dict(snapshot) == template
        assert Template.from_dict(snapshot).to_dict() == snapshot


def test_from_dict_reports_problems_by_name_without_lines() -> None:
    data = load_template(with_checkpoints(GATE)).to_dict()
    data["sections"][0]["checkpoints"][0]["level"] = "sometimes"
    data["sections"][0]["checkpoints"][0]["criteria"] = [9.4]
    with pytest.raises(TemplateError) as caught:
        Template.from_dict(data)
    assert [(problem.line, problem.message) for problem in caught.value.problems] == [
        (None, "checkpoint 'gate': a criterion id is text such as '5.4', not a number"),
        (None, "checkpoint 'gate': 'level' must be 'must' or 'should', not 'sometimes'"),
    ]


def test_instruction_language_fallback(builtins: dict[str, Template]) -> None:
    template = builtins["container-7-point"]
    floor = point(template, "floor")
    assert template.instruction("floor", "zh-CN") == floor.instruction["zh"]
    assert template.instruction("floor", "vi_VN") == floor.instruction["vi"]
    assert template.instruction("floor", "fr") == floor.instruction["en"]
    assert template.instruction("floor", None) == floor.instruction["en"]
    # A checkpoint of a partly translated template falls back to English as well.
    data = builtins["ctpat-fm-walkthrough"].to_dict()
    checkpoints = [cp for section in data["sections"] for cp in section["checkpoints"]]
    parking = next(cp for cp in checkpoints if cp["key"] == "private-parking")
    del parking["instruction"]["zh"]
    walk = Template.from_dict(data)
    assert "zh" not in point(walk, "private-parking").instruction
    assert walk.instruction("private-parking", "zh-CN") == parking["instruction"]["en"]


def test_checkpoints_cannot_be_changed_through_their_instruction(builtins: dict[str, Template]) -> None:
    floor = point(builtins["container-7-point"], "floor")
    with pytest.raises(TypeError):
        floor.instruction["en"] = "Film anything."  # type: ignore[index]


def test_describe_lists_sections_checkpoints_criteria_and_captures(builtins: dict[str, Template]) -> None:
    text = describe(builtins["container-7-point"])
    lines = text.splitlines()
    assert lines[0] == "container-7-point (version 1): 7-point container inspection"
    assert (
        "9 checkpoints: 9 must, 0 should, 1 optional; 9 captures required; criteria 5.3, 5.4, 6.2, 6.7"
        in text
    )
    assert "1. Container [container]" in lines and "2. Seal [seal]" in lines
    doors = next(line for line in lines if " doors " in line)
    assert doors.split()[:6] == ["1.6", "doors", "must", "5.3,", "5.4", "1"]
    assert any("reefer-unit" in line and line.endswith("(optional)") for line in lines)
    walk = describe(builtins["ctpat-fm-walkthrough"])
    assert "site-identity  must  identity  1 capture" in walk
    assert "should  9.5" in walk and "no capture" in walk
