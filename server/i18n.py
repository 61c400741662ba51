"""The facility's languages: the phone pages' catalogues and the recording notice in each.

Every text of the staff and tech-check pages lives in one JSON catalogue per language
(``web/static/i18n/<lang>.json``), which a translator edits without touching code. The
pages load them in the browser; the server reads the same files for what it renders
itself (the page language, the switcher, the link-gone page) and for the built-in
recording notice. An operator may replace the notice per language with
``notice.<lang>.txt`` files in the notice directory (``--notice-dir``); ``--recording-notice``
stays the English one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from server.checklists import language_code
from server.settings import DEFAULT_NOTICE, Settings

BASE_LANGUAGE = "en"
# The phone's languages, in the switcher's order: English, then the facilities' languages.
LANGUAGES = ("en", "zh", "vi", "es", "hi", "bn", "id")
NOTICE_KEY = "recordingNotice"
_NOTICE_FILE = re.compile(r"notice\.([A-Za-z]{2,3})\.txt")
_QUALITY = re.compile(r"q=([0-9.]+)")
MAX_NOTICE_CHARS = 4000


class I18nError(ValueError):
    """A catalogue or an operator's notice file that cannot be used."""


def primary(tag: str | None) -> str | None:
    """The supported phone language of a tag ('vi-VN' -> 'vi'), or None when there is none."""
    code = language_code(tag) if tag else None
    return code if code in LANGUAGES else None


def negotiate(accept_language: str | None) -> str:
    """The phone language an ``Accept-Language`` header prefers most; English when none fits."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = _QUALITY.search(params)
        try:
            q = float(quality.group(1)) if quality else 1.0
        except ValueError:
            continue
        code = primary(tag.strip())
        if code is not None and q > 0:
            ranked.append((-q, index, code))
    return min(ranked)[2] if ranked else BASE_LANGUAGE


@dataclass(frozen=True)
class Catalogues:
    """The texts of every phone language, keyed by language, then by message key."""

    texts: Mapping[str, Mapping[str, str]]

    @classmethod
    def load(cls, directory: Path) -> Catalogues:
        """Read ``<lang>.json`` for every phone language (blocking: call at start-up)."""
        texts: dict[str, Mapping[str, str]] = {}
        for lang in LANGUAGES:
            path = directory / f"{lang}.json"
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise I18nError(f"{path}: cannot read the catalogue: {exc}") from exc
            if not isinstance(data, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in data.items()
            ):
                raise I18nError(f"{path}: a catalogue is one JSON object of strings")
            texts[lang] = MappingProxyType(data)
        return cls(MappingProxyType(texts))

    def strings(self, lang: str) -> dict[str, str]:
        """Every text in ``lang``; a key the catalogue lacks falls back to English."""
        return dict(self.texts[BASE_LANGUAGE]) | dict(self.texts.get(lang, {}))

    def text(self, lang: str, key: str) -> str:
        return self.texts.get(lang, {}).get(key) or self.texts[BASE_LANGUAGE][key]

    def names(self) -> dict[str, str]:
        """Each language by its own name, for the switcher."""
        return {lang: self.text(lang, "languageName") for lang in LANGUAGES}

    def problems(self) -> list[str]:
        """Keys missing from, or unknown to, each catalogue compared with English."""
        base = set(self.texts[BASE_LANGUAGE])
        out = []
        for lang, texts in self.texts.items():
            if missing := sorted(base - set(texts)):
                out.append(f"{lang}: missing {', '.join(missing)}")
            if extra := sorted(set(texts) - base):
                out.append(f"{lang}: not in en.json: {', '.join(extra)}")
        return out


@dataclass(frozen=True)
class Notice:
    """The recording notice one language's phones are shown, and its SHA-256."""

    language: str
    text: str
    operator: bool  # the operator's own text rather than the built-in translation

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Notices:
    """The recording notice in every phone language."""

    by_language: Mapping[str, Notice]

    @classmethod
    def load(cls, settings: Settings, catalogues: Catalogues) -> Notices:
        """Built-in translations, overridden by the operator's files (blocking: call at start-up)."""
        own = operator_notices(settings.notice_dir) if settings.notice_dir else {}
        if BASE_LANGUAGE not in own and settings.recording_notice != DEFAULT_NOTICE:
            own[BASE_LANGUAGE] = settings.recording_notice
        built_in = {lang: Notice(lang, catalogues.text(lang, NOTICE_KEY), False) for lang in LANGUAGES}
        notices = built_in | {lang: Notice(lang, text, True) for lang, text in own.items()}
        return cls(MappingProxyType(notices))

    def get(self, lang: str | None) -> Notice:
        """The notice for a language tag; English for one the phone does not speak."""
        return self.by_language[primary(lang) or BASE_LANGUAGE]

    def hashes(self) -> frozenset[str]:
        return frozenset(n.sha256 for n in self.by_language.values())

    def texts(self) -> dict[str, str]:
        return {lang: n.text for lang, n in self.by_language.items()}

    def operator_languages(self) -> tuple[str, ...]:
        return tuple(lang for lang, n in self.by_language.items() if n.operator)

    def warning(self) -> str | None:
        """Why the console should warn: an operator notice that some languages lack."""
        own = self.operator_languages()
        if not own or len(own) == len(self.by_language):
            return None
        rest = [lang for lang in self.by_language if lang not in own]
        return (
            f"The operator's recording notice exists in {len(own)} of {len(self.by_language)} "
            f"languages ({', '.join(own)}); phones in {', '.join(rest)} are shown the built-in notice."
        )


def operator_notices(directory: Path) -> dict[str, str]:
    """The ``notice.<lang>.txt`` files of ``directory``, by language."""
    if not directory.is_dir():
        raise I18nError(f"notice directory {directory} does not exist")
    out: dict[str, str] = {}
    for path in sorted(directory.iterdir()):
        match = _NOTICE_FILE.fullmatch(path.name)
        if match is None:
            continue
        lang = match.group(1).lower()
        if lang not in LANGUAGES:
            raise I18nError(f"{path}: the phone has no language {lang!r} (it speaks {', '.join(LANGUAGES)})")
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise I18nError(f"{path}: cannot read the notice as UTF-8 text: {exc}") from exc
        if not text or len(text) > MAX_NOTICE_CHARS:
            raise I18nError(f"{path}: a notice has 1-{MAX_NOTICE_CHARS} characters")
        out[lang] = text
    return out
