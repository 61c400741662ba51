"""The phone's languages: complete catalogues, complete built-in templates, the notice per language."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from server.app import web_dir
from server.checklists import builtin_templates
from server.i18n import LANGUAGES, Catalogues, I18nError, Notices, negotiate
from server.settings import DEFAULT_NOTICE, Settings
from tests.test_cli import cli

CATALOGUE_DIR = web_dir() / "static" / "i18n"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@pytest.fixture(scope="module")
def catalogues() -> Catalogues:
    return Catalogues.load(CATALOGUE_DIR)


def test_every_catalogue_has_exactly_the_english_keys(catalogues: Catalogues) -> None:
    assert catalogues.problems() == []
    assert sorted(path.stem for path in CATALOGUE_DIR.glob("*.json")) == sorted(LANGUAGES)


def test_a_missing_or_unknown_key_is_reported(tmp_path: Path, catalogues: Catalogues) -> None:
    texts = {lang: dict(t) for lang, t in catalogues.texts.items()}
    del texts["vi"]["accept"]
    texts["zh"]["acept"] = "typo"
    problems = Catalogues(texts).problems()
    assert problems == ["zh: not in en.json: acept", "vi: missing accept"]


def test_translations_keep_the_placeholders_and_are_translated(catalogues: Catalogues) -> None:
    english = catalogues.texts["en"]
    for lang in LANGUAGES[1:]:
        texts = catalogues.texts[lang]
        for key, text in english.items():
            assert set(PLACEHOLDER.findall(texts[key])) == set(PLACEHOLDER.findall(text)), (lang, key)
        assert texts["recordingNotice"] != english["recordingNotice"]
        assert texts["accept"] != english["accept"]


def test_the_english_catalogue_notice_is_the_default_setting(catalogues: Catalogues) -> None:
    assert catalogues.text("en", "recordingNotice") == DEFAULT_NOTICE


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7", "vi"),
        ("zh-CN,zh;q=0.9", "zh"),
        ("fr-FR,fr;q=0.9,bn;q=0.5,en;q=0.4", "bn"),
        ("en;q=0.5, id", "id"),
        ("hi;q=0, es", "es"),
        ("de", "en"),
        ("", "en"),
        ("q=;;,,", "en"),
    ],
)
def test_accept_language_picks_a_phone_language(header: str, lang: str) -> None:
    assert negotiate(header) == lang


def notice_dir(tmp_path: Path, **texts: str) -> Path:
    folder = tmp_path / "notices"
    folder.mkdir()
    for lang, text in texts.items():
        (folder / f"notice.{lang}.txt").write_text(text + "\n", encoding="utf-8")
    (folder / "README").write_text("not a notice", encoding="utf-8")
    return folder


def test_built_in_notices_without_an_operator_text(catalogues: Catalogues) -> None:
    notices = Notices.load(Settings(), catalogues)
    assert notices.get("vi-VN").text == catalogues.text("vi", "recordingNotice")
    assert notices.get("fr").language == "en" and notices.get(None).text == DEFAULT_NOTICE
    assert notices.operator_languages() == () and notices.warning() is None
    assert len(notices.hashes()) == len(LANGUAGES)


def test_operator_notice_per_language(tmp_path: Path, catalogues: Catalogues) -> None:
    folder = notice_dir(tmp_path, vi="Phiên này được ghi hình.", zh="本次会话将被录制。")
    notices = Notices.load(Settings(notice_dir=folder), catalogues)
    assert notices.get("vi").text == "Phiên này được ghi hình." and notices.get("vi").operator
    assert notices.get("zh").text == "本次会话将被录制。"
    assert notices.get("hi").text == catalogues.text("hi", "recordingNotice")  # built-in
    assert notices.get("en").text == DEFAULT_NOTICE
    assert notices.operator_languages() == ("zh", "vi")
    warning = notices.warning()
    assert warning is not None and "2 of 7" in warning and "en, es, hi, bn, id" in warning


def test_recording_notice_stays_the_english_override(tmp_path: Path, catalogues: Catalogues) -> None:
    notices = Notices.load(Settings(recording_notice="We record."), catalogues)
    assert notices.get("en").text == "We record." and notices.operator_languages() == ("en",)
    assert notices.warning() is not None  # the other six languages still show the built-in text
    folder = notice_dir(tmp_path, en="From the file.")
    assert Notices.load(Settings(recording_notice="We record.", notice_dir=folder), catalogues).get(
        "en"
    ).text == "From the file."


def test_no_warning_when_the_operator_covers_every_language(tmp_path: Path, catalogues: Catalogues) -> None:
    folder = notice_dir(tmp_path, **{lang: f"Notice {lang}" for lang in LANGUAGES})
    notices = Notices.load(Settings(notice_dir=folder), catalogues)
    assert notices.operator_languages() == LANGUAGES and notices.warning() is None


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [("notice.th.txt", "ประกาศ", "no language 'th'"), ("notice.vi.txt", "  ", "1-4000 characters")],
)
def test_unusable_notice_files_stop_the_start(
    tmp_path: Path, catalogues: Catalogues, name: str, text: str, message: str
) -> None:
    folder = tmp_path / "n"
    folder.mkdir()
    (folder / name).write_text(text, encoding="utf-8")
    with pytest.raises(I18nError, match=message):
        Notices.load(Settings(notice_dir=folder), catalogues)


@pytest.mark.parametrize("key", sorted(builtin_templates()))
def test_built_in_templates_speak_every_phone_language(key: str) -> None:
    assert builtin_templates()[key].missing_translations(LANGUAGES) == {}


PARTLY_TRANSLATED = textwrap.dedent(
    """\
    key: partly
    version: 1
    title: Partly translated
    languages: [en, vi]
    sections:
      - key: gate
        title: Gate
        checkpoints:
          - key: gate
            title: Gate
            criteria: ["11.1"]
            level: must
            instruction:
              en: Show the gate.
              vi: Quay cổng.
          - key: fence
            title: Fence
            criteria: ["11.1"]
            level: must
            instruction:
              en: Show the fence.
    """
)


def test_templates_validate_warns_of_missing_translations(tmp_path: Path) -> None:
    path = tmp_path / "partly.yaml"
    path.write_text(PARTLY_TRANSLATED, encoding="utf-8")
    done = cli("templates", "validate", str(path))
    assert done.returncode == 0, done.stderr
    assert "valid template 'partly'" in done.stdout
    warnings = done.stderr.splitlines()
    see = "checkpoints (phones in '{0}' see English)"
    assert warnings[0] == f"warning: no 'zh' instruction for 2 of 2 {see.format('zh')}: gate, fence"
    assert f"warning: no 'vi' instruction for 1 of 2 {see.format('vi')}: fence" in warnings
    assert len(warnings) == len(LANGUAGES) - 1


def test_templates_validate_is_quiet_for_a_complete_template() -> None:
    builtin = Path(__file__).resolve().parents[1] / "server" / "checklists" / "builtin"
    path = builtin / "container-7-point.yaml"
    done = cli("templates", "validate", str(path))
    assert done.returncode == 0 and done.stderr == ""
