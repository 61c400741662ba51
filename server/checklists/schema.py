"""Validation of template data into the typed model, reporting every problem at once.

The checker works on plain Python data (what YAML or JSON decode to). The YAML loader
also passes ``Marks``: the line each value came from, so that a problem points at the
line to fix. Without marks (``Template.from_dict``) the messages still name the section
and checkpoint they are about.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from server.checklists.model import BASE_LANGUAGE, Checkpoint, Kind, Level, Section, Template

Path = tuple[str | int, ...]
T = TypeVar("T")

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
CRITERION = re.compile(r"^(\d{1,2})\.(\d{1,2})$")
LANGUAGE = re.compile(r"^[a-z]{2,3}$")
MAX_TITLE = 200
MAX_TEXT = 4000
MAX_CAPTURES = 20

_TEMPLATE_FIELDS = {"key": True, "version": True, "title": True, "description": False}
_TEMPLATE_FIELDS |= {"languages": False, "sections": True}
_SECTION_FIELDS = {"key": True, "title": True, "checkpoints": True}
_CHECKPOINT_FIELDS = {"key": True, "criteria": False, "level": True, "title": True, "instruction": True}
_CHECKPOINT_FIELDS |= {"guidance": False, "captures_required": False, "optional": False, "kind": False}
_LEVELS: dict[str, Level] = {"must": "must", "should": "should"}
_KINDS: dict[str, Kind] = {"check": "check", "identity": "identity"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a template; ``line`` is 1-based, None when unknown."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


def format_problems(problems: Iterable[Problem]) -> str:
    """One problem per line, e.g. "line 12: checkpoint 'floor': level must be ..."."""
    return "\n".join(str(problem) for problem in problems)


class TemplateError(ValueError):
    """A template that cannot be used; ``problems`` lists everything wrong with it."""

    def __init__(self, problems: Sequence[Problem], source: str = "<upload>") -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(self.problems)

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"{self.source} is not a valid template ({count} problem{'' if count == 1 else 's'}):"
        return head + "\n" + textwrap.indent(format_problems(self.problems), "  ")


@dataclass(frozen=True)
class Marks:
    """Where each value sat in the source text, keyed by its path from the document root."""

    lines: Mapping[Path, int] = field(default_factory=dict)
    key_lines: Mapping[Path, int] = field(default_factory=dict)
    # The text of scalars as written, so that `criteria: [5.10]` is read as "5.10", not 5.1.
    raw: Mapping[Path, str] = field(default_factory=dict)


def build_template(
    data: object, marks: Marks | None = None, source: str = "<upload>", problems: Sequence[Problem] = ()
) -> Template:
    """Turn decoded data into a ``Template``, or raise ``TemplateError`` listing every problem."""
    checker = _Checker(marks or Marks(), list(problems))
    template = checker.template(data)
    if checker.problems or template is None:
        found = sorted(checker.problems, key=lambda p: p.line if p.line is not None else 0)
        raise TemplateError(found or [Problem(None, "the template is empty")], source)
    return template


def describe_value(value: object) -> str:
    """How a value reads to someone writing YAML: 'text', 'a number', 'a list'..."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return "a date" if isinstance(value, date) else type(value).__name__


class _Checker:
    """Walks template data once, collecting problems and building what it can."""

    def __init__(self, marks: Marks, problems: list[Problem]) -> None:
        self.marks = marks
        self.problems = problems
        self.languages: tuple[str, ...] | None = (BASE_LANGUAGE,)
        self.used_languages: set[str] = set()
        self.first_use: dict[tuple[str, str], str] = {}
        self.section = "section"

    def report(self, path: Path, message: str, *, at_key: bool = False) -> None:
        line = self.marks.key_lines.get(path) if at_key else None
        self.problems.append(Problem(line or self.marks.lines.get(path), message))

    def fields(self, data: object, path: Path, noun: str, known: Mapping[str, bool]) -> _Fields | None:
        """The fields of a mapping, after reporting unknown and missing ones."""
        if not isinstance(data, Mapping):
            needed = ", ".join(name for name, required in known.items() if required)
            self.report(path, f"{noun} must be a mapping with {needed}, not {describe_value(data)}")
            return None
        key = data.get("key")
        what = f"{noun} '{key}'" if noun != "template" and isinstance(key, str) and key else noun
        for name in data:
            if not isinstance(name, str):
                self.report(path, f"{what}: field names must be text, not {describe_value(name)}")
            elif name not in known:
                close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else f"; known fields: {', '.join(known)}"
                self.report((*path, name), f"{what}: unknown field '{name}'{hint}", at_key=True)
        for name, required in known.items():
            if required and name not in data:
                self.report(path, f"{what} is missing '{name}'")
        return _Fields(self, data, path, what)

    def unique(self, kind: str, key: str, fields: _Fields) -> None:
        """Report ``key`` when another section or checkpoint already uses it."""
        if not key:
            return
        first = self.first_use.get((kind, key))
        if first is not None:
            fields.report("key", f"duplicate {kind} key '{key}' (first used {first})")
            return
        line = self.marks.lines.get(fields.at("key"))
        self.first_use[(kind, key)] = f"at line {line}" if line is not None else f"in {self.section}"

    def template(self, data: object) -> Template | None:
        if data is None:
            self.report((), "the template is empty")
            return None
        fields = self.fields(data, (), "template", _TEMPLATE_FIELDS)
        if fields is None:
            return None
        self.languages = self.language_list(fields)
        sections = fields.items("sections")
        template = Template(
            key=fields.slug("key"),
            version=fields.integer("version", minimum=1, default=1),
            title=fields.text("title", limit=MAX_TITLE),
            description=fields.text("description", required=False),
            languages=self.languages or (BASE_LANGUAGE,),
            sections=tuple(self.section_at(item, ("sections", i)) for i, item in enumerate(sections)),
        )
        declared = self.languages if "languages" in fields.data else None
        for i, lang in enumerate(declared or ()):
            if lang != BASE_LANGUAGE and lang not in self.used_languages:
                message = f"template: language '{lang}' is listed but no instruction uses it"
                self.report(("languages", i), message)
        return template

    def section_at(self, data: object, path: Path) -> Section:
        fields = self.fields(data, path, "section", _SECTION_FIELDS)
        if fields is None:
            return Section(key="", title="", checkpoints=())
        self.section = fields.what
        key = fields.slug("key")
        self.unique("section", key, fields)
        title = fields.text("title", limit=MAX_TITLE)
        items = fields.items("checkpoints")
        checkpoints = tuple(
            self.checkpoint_at(item, (*path, "checkpoints", i)) for i, item in enumerate(items)
        )
        return Section(key=key, title=title, checkpoints=checkpoints)

    def checkpoint_at(self, data: object, path: Path) -> Checkpoint:
        fields = self.fields(data, path, "checkpoint", _CHECKPOINT_FIELDS)
        if fields is None:
            return Checkpoint(key="", criteria=(), level="must", title="", instruction={})
        key = fields.slug("key")
        self.unique("checkpoint", key, fields)
        kind = fields.choice("kind", _KINDS, "check")
        if kind == "check" and not fields.data.get("criteria"):
            message = (
                f"{fields.what} names no CTPAT criteria; only 'kind: identity' checkpoints may have none"
            )
            self.report(fields.at("criteria") if "criteria" in fields.data else path, message)
        return Checkpoint(
            key=key,
            criteria=self.criteria(fields),
            level=fields.choice("level", _LEVELS, "must"),
            title=fields.text("title", limit=MAX_TITLE),
            instruction=self.instruction(fields),
            guidance=fields.text("guidance", required=False),
            captures_required=fields.integer("captures_required", maximum=MAX_CAPTURES),
            optional=fields.flag("optional"),
            kind=kind,
        )

    def criteria(self, fields: _Fields) -> tuple[str, ...]:
        found: list[str] = []
        for i, item in enumerate(fields.items("criteria", required=False)):
            path = (*fields.at("criteria"), i)
            # YAML reads an unquoted 5.10 as the number 5.1: take the id as it was written.
            is_number = isinstance(item, int | float) and not isinstance(item, bool)
            text = self.marks.raw.get(path) if is_number else item
            problem = criterion_problem(text) if isinstance(text, str) else None
            if not isinstance(text, str):
                self.report(
                    path, f"{fields.what}: a criterion id is text such as '5.4', not {describe_value(item)}"
                )
            elif problem or text in found:
                self.report(path, f"{fields.what}: {problem or f'criterion {text} is listed twice'}")
            else:
                found.append(text)
        return tuple(found)

    def instruction(self, fields: _Fields) -> dict[str, str]:
        value, path = fields.data.get("instruction"), fields.at("instruction")
        if value is None:
            return {}
        what = f"{fields.what}: instruction"
        if not isinstance(value, Mapping):
            example = "a mapping from language to text, e.g. `en: Point the camera at ...`"
            self.report(path, f"{what} must be {example}, not {describe_value(value)}")
            return {}
        texts = _Fields(self, value, path, what)
        found: dict[str, str] = {}
        for lang in value:
            if not isinstance(lang, str) or not LANGUAGE.match(lang):
                texts.report(str(lang), f"{what}: '{lang}' is not a language code such as 'en' or 'zh'")
                continue
            if self.languages is not None and lang not in self.languages:
                listed = ", ".join(self.languages)
                texts.report(lang, f"{what} language '{lang}' is not in the template's languages ({listed})")
            self.used_languages.add(lang)
            found[lang] = texts.text(lang, limit=MAX_TEXT)
        if BASE_LANGUAGE not in value:
            self.report(path, f"{what} has no English text (add `en: ...`)", at_key=True)
        return found

    def language_list(self, fields: _Fields) -> tuple[str, ...] | None:
        """The declared languages; None when they are unusable (then instructions are not checked)."""
        if "languages" not in fields.data:
            return (BASE_LANGUAGE,)
        languages: list[str] = []
        for i, lang in enumerate(fields.items("languages")):
            if not isinstance(lang, str) or not LANGUAGE.match(lang):
                self.report(
                    ("languages", i), f"template: '{lang}' is not a language code such as 'en' or 'zh'"
                )
                return None
            if lang in languages:
                self.report(("languages", i), f"template: language '{lang}' is listed twice")
            languages.append(lang)
        if BASE_LANGUAGE not in languages:
            fields.report("languages", "template: languages must include 'en', the base language")
            return None
        return tuple(dict.fromkeys(languages))


class _Fields:
    """One mapping's fields, with typed getters that report problems against them."""

    def __init__(self, checker: _Checker, data: Mapping[str, Any], path: Path, what: str) -> None:
        self.checker = checker
        self.data = data
        self.path = path
        self.what = what

    def at(self, name: str) -> Path:
        return (*self.path, name)

    def report(self, name: str, message: str) -> None:
        self.checker.report(self.at(name), message, at_key=True)

    def typed(self, name: str, kind: type[T], noun: str) -> T | None:
        value = self.data.get(name)
        if value is None or (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
            return value
        quote = " (put it in quotes)" if kind is str and not isinstance(value, Mapping | list) else ""
        self.checker.report(
            self.at(name), f"{self.what}: '{name}' must be {noun}, not {describe_value(value)}{quote}"
        )
        return None

    def text(self, name: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
        value = self.typed(name, str, "text")
        if value is None:
            return ""
        if required and not value.strip():
            self.checker.report(self.at(name), f"{self.what}: '{name}' must not be empty")
        elif len(value) > limit:
            self.checker.report(self.at(name), f"{self.what}: '{name}' is longer than {limit} characters")
        return value.strip()

    def slug(self, name: str) -> str:
        value = self.typed(name, str, "text")
        if value is not None and not SLUG.match(value):
            rule = "use 2–63 lower-case letters, digits and '-', starting with a letter or digit"
            self.checker.report(self.at(name), f"{self.what}: {value!r} is not a valid {name} ({rule})")
        return value or ""

    def integer(self, name: str, *, minimum: int = 0, maximum: int = 10**6, default: int = 0) -> int:
        value = self.typed(name, int, "a whole number")
        if value is None:
            return default
        if not minimum <= value <= maximum:
            message = f"{self.what}: '{name}' must be from {minimum} to {maximum}, not {value}"
            self.checker.report(self.at(name), message)
        return value

    def flag(self, name: str) -> bool:
        return self.typed(name, bool, "true or false") or False

    def choice(self, name: str, options: Mapping[str, T], default: T) -> T:
        value = self.data.get(name)
        if value is None:
            return default
        if not isinstance(value, str) or value not in options:
            allowed = " or ".join(f"'{option}'" for option in options)
            self.checker.report(self.at(name), f"{self.what}: '{name}' must be {allowed}, not {value!r}")
            return default
        return options[value]

    def items(self, name: str, *, required: bool = True) -> list[Any]:
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            self.checker.report(
                self.at(name), f"{self.what}: '{name}' must be a list, not {describe_value(value)}"
            )
            return []
        if not value and required:
            self.checker.report(self.at(name), f"{self.what} has no {name}")
        return list(value)


def criterion_problem(text: str) -> str | None:
    """Why ``text`` is not a CTPAT criterion id like '5.4' or '9.13', or None when it is one."""
    match = CRITERION.match(text)
    if not match:
        return f"'{text}' is not a CTPAT criterion id such as '5.4' or '9.13'"
    category, number = match.groups()
    if not 1 <= int(category) <= 12:
        return f"criterion {text}: there is no category {int(category)} (CTPAT categories are 1–12)"
    if category.startswith("0") or number.startswith("0"):
        return f"criterion {text}: write the id without leading zeros, e.g. '5.4'"
    return None
