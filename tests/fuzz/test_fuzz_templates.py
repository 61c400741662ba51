"""Template YAML, damaged or strange: validation gives a template or a list of problems, nothing else."""

from __future__ import annotations

import time
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from server.checklists import TemplateError, builtin_templates, load_template
from server.checklists.model import Template
from tests.fuzz.mutations import mutated
from tests.test_walkthrough_api import GOOD

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
FIELDS = [
    "key",
    "version",
    "title",
    "languages",
    "sections",
    "checkpoints",
    "criteria",
    "level",
    "instruction",
]


def validate(text: str) -> None:
    start = time.perf_counter()
    try:
        template = load_template(text, "fuzz.yaml")
    except TemplateError as exc:
        assert str(exc)
    else:
        assert isinstance(template, Template)
    assert time.perf_counter() - start < 2.0


@given(mutated(GOOD.encode(), focus=len(GOOD)))
def test_damaged_yaml_gives_a_template_or_problems(data: bytes) -> None:
    validate(data.decode("utf-8", "replace"))


def replace_somewhere(tree: Any, path: list[int], value: Any) -> Any:
    """``tree`` with the node ``path`` leads to (indexes into dict items / list items) set to ``value``."""
    if not path or not isinstance(tree, dict | list) or not tree:
        return value
    if isinstance(tree, dict):
        key = list(tree)[path[0] % len(tree)]
        return tree | {key: replace_somewhere(tree[key], path[1:], value)}
    at = path[0] % len(tree)
    return [*tree[:at], replace_somewhere(tree[at], path[1:], value), *tree[at + 1 :]]


@given(st.lists(st.integers(0, 50), max_size=6), values | st.sampled_from(FIELDS))
def test_a_changed_node_gives_a_template_or_problems(path: list[int], value: Any) -> None:
    tree = yaml.safe_load(GOOD)
    validate(yaml.safe_dump(replace_somewhere(tree, path, value), allow_unicode=True))


@given(values)
def test_any_yaml_document_gives_a_template_or_problems(value: Any) -> None:
    validate(yaml.safe_dump(value))


def test_the_builtin_templates_still_load() -> None:
    assert len(builtin_templates()) == 3
