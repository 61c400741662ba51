"""Checkpoint templates: the typed model an audit follows and snapshots.

A template is an ordered list of sections, each an ordered list of checkpoints. A
checkpoint names the CTPAT criteria it gives evidence for, tells the person holding
the phone what to show (in their language when the template has a translation) and
tells the auditor what to look for. Objects are immutable: an audit keeps the exact
template it started with, whatever happens to the template later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

Level = Literal["must", "should"]
Kind = Literal["check", "identity"]

BASE_LANGUAGE = "en"


def language_code(lang: str | None) -> str:
    """The primary language subtag of ``lang``: 'zh-CN' -> 'zh', 'pt_BR' -> 'pt', None -> 'en'."""
    if not lang:
        return BASE_LANGUAGE
    return lang.replace("_", "-").split("-", 1)[0].strip().lower() or BASE_LANGUAGE


def criterion_category(criterion: str) -> int:
    """The CTPAT category a criterion id belongs to: '9.13' -> 9."""
    return int(criterion.split(".", 1)[0])


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """One thing to film and judge, e.g. the front wall of a container."""

    key: str
    criteria: tuple[str, ...]
    level: Level
    title: str
    # Language code -> text for the person filming; "en" is always present.
    instruction: Mapping[str, str] = field(hash=False)
    guidance: str = ""
    captures_required: int = 0
    optional: bool = False
    kind: Kind = "check"

    def __post_init__(self) -> None:
        # A read-only view, so a snapshot cannot be edited through a shared dict.
        object.__setattr__(self, "instruction", MappingProxyType(dict(self.instruction)))
        object.__setattr__(self, "criteria", tuple(self.criteria))

    @property
    def categories(self) -> tuple[int, ...]:
        """The CTPAT categories this checkpoint's criteria belong to, ascending."""
        return tuple(sorted({criterion_category(c) for c in self.criteria}))

    def instruction_in(self, lang: str | None) -> str:
        """The instruction in ``lang`` ('zh-CN' finds 'zh'), or in English when not translated."""
        return self.instruction.get(language_code(lang)) or self.instruction.get(BASE_LANGUAGE, "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "criteria": list(self.criteria),
            "level": self.level,
            "title": self.title,
            "instruction": dict(self.instruction),
            "guidance": self.guidance,
            "captures_required": self.captures_required,
            "optional": self.optional,
            "kind": self.kind,
        }


@dataclass(frozen=True, kw_only=True)
class Section:
    """A named group of checkpoints, filmed in order (e.g. the tractor, then the trailer)."""

    key: str
    title: str
    checkpoints: tuple[Checkpoint, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "checkpoints", tuple(self.checkpoints))

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "checkpoints": [checkpoint.to_dict() for checkpoint in self.checkpoints],
        }


@dataclass(frozen=True, kw_only=True)
class Template:
    """A versioned checklist an audit walks through, section by section."""

    key: str
    version: int
    title: str
    description: str = ""
    # Languages with at least one translated instruction; English is the base and the fallback.
    languages: tuple[str, ...] = (BASE_LANGUAGE,)
    sections: tuple[Section, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "languages", tuple(self.languages))
        object.__setattr__(self, "sections", tuple(self.sections))

    def checkpoints(self) -> tuple[Checkpoint, ...]:
        """Every checkpoint, in walking order across sections."""
        return tuple(checkpoint for section in self.sections for checkpoint in section.checkpoints)

    def checkpoint(self, key: str) -> Checkpoint | None:
        """The checkpoint called ``key``, or None when the template has none by that key."""
        return next((checkpoint for checkpoint in self.checkpoints() if checkpoint.key == key), None)

    def instruction(self, checkpoint_key: str, lang: str | None) -> str:
        """What to tell the person filming ``checkpoint_key``, in ``lang`` or else in English.

        Raises ``KeyError`` for a key the template does not have.
        """
        checkpoint = self.checkpoint(checkpoint_key)
        if checkpoint is None:
            raise KeyError(checkpoint_key)
        return checkpoint.instruction_in(lang)

    def missing_translations(self, languages: tuple[str, ...]) -> dict[str, list[str]]:
        """For each of ``languages`` lacking some instruction, the keys of those checkpoints.

        A phone in such a language is shown those instructions in English.
        """
        out: dict[str, list[str]] = {}
        for lang in languages:
            keys = [c.key for c in self.checkpoints() if not c.instruction.get(lang)]
            if keys and lang != BASE_LANGUAGE:
                out[lang] = keys
        return out

    def categories(self) -> tuple[int, ...]:
        """The CTPAT categories the template gives evidence for, ascending."""
        return tuple(sorted({n for checkpoint in self.checkpoints() for n in checkpoint.categories}))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe copy; ``Template.from_dict`` turns it back into an equal template."""
        return {
            "key": self.key,
            "version": self.version,
            "title": self.title,
            "description": self.description,
            "languages": list(self.languages),
            "sections": [section.to_dict() for section in self.sections],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Template:
        """Validate plain data (a stored snapshot, a JSON upload) into a template.

        Raises ``TemplateError`` listing every problem, exactly as the YAML loader does.
        """
        # Imported here because the validator builds the classes defined in this module.
        from server.checklists.schema import build_template

        return build_template(data, source="<data>")
