"""The virtual-audit command as an operator runs it (real subprocesses, real database)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def cli(
    *args: str, stdin: str = "", env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        check=False,
    )


def test_user_create_and_token(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    created = cli(
        "--data-dir",
        data,
        "user",
        "create",
        "--email",
        "Lin@Example.org",
        "--name",
        "Lin",
        stdin="a long password\n",
    )
    assert created.returncode == 0, created.stderr
    assert "created auditor lin@example.org" in created.stdout
    token = cli("--data-dir", data, "user", "token", "--email", "lin@example.org")
    assert token.returncode == 0, token.stderr
    last = token.stdout.strip().splitlines()[-1]
    assert len(last) >= 40 and " " not in last
    assert (tmp_path / "d" / "virtual-audit.db").exists()


def test_duplicate_user_and_short_password_are_clear_errors(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    assert (
        cli(
            "--data-dir", data, "user", "create", "--email", "a@b.org", "--name", "A", stdin="password1\n"
        ).returncode
        == 0
    )
    dup = cli("--data-dir", data, "user", "create", "--email", "a@b.org", "--name", "A", stdin="password1\n")
    assert dup.returncode != 0 and "exists" in dup.stderr
    short = cli("--data-dir", data, "user", "create", "--email", "c@b.org", "--name", "C", stdin="short\n")
    assert short.returncode != 0 and "at least 8" in short.stderr
    missing = cli("--data-dir", data, "user", "token", "--email", "nobody@b.org")
    assert missing.returncode != 0 and "no user" in missing.stderr


def test_data_dir_from_environment(tmp_path: Path) -> None:
    env = {"VAUDIT_DATA_DIR": str(tmp_path / "envdata")}
    r = cli("user", "create", "--email", "e@b.org", "--name", "E", stdin="password1\n", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "envdata" / "virtual-audit.db").exists()
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--port", "70000"], "port"),
        (["serve", "--ice-server", "http://nope"], "ice server"),
    ],
)
def test_bad_serve_options(tmp_path: Path, args: list[str], message: str) -> None:
    r = cli("--data-dir", str(tmp_path), *args)
    assert r.returncode != 0
    assert message in r.stderr


def test_every_serve_option_is_documented() -> None:
    docs = (Path(__file__).parent.parent / "docs" / "operations.md").read_text()
    help_text = cli("serve", "--help").stdout
    options = {
        word.split("/")[0].rstrip(",")
        for word in help_text.split()
        if word.startswith("--") and word != "--help"
    }
    assert options
    missing = sorted(o for o in options if o not in docs)
    assert not missing, f"undocumented options: {missing}"
    env_missing = sorted(
        o
        for o in options
        if "VAUDIT_" + o[2:].upper().replace("-", "_") not in docs
        and o not in ("--ice-server", "--no-tls", "--no-record")
    )
    assert not env_missing, f"undocumented env vars for: {env_missing}"


@pytest.mark.parametrize(
    "position",
    [
        ["--data-dir", "{d}", "user", "create"],
        ["user", "--data-dir", "{d}", "create"],
        ["user", "create", "--data-dir", "{d}"],
    ],
    ids=["before", "after-group", "after-command"],
)
def test_data_dir_is_accepted_wherever_it_is_typed(tmp_path: Path, position: list[str]) -> None:
    data = tmp_path / "d"
    args = [a.replace("{d}", str(data)) for a in position]
    r = cli(*args, "--email", "p@b.org", "--name", "P", stdin="password1\n", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (data / "virtual-audit.db").exists()
    assert not (tmp_path / "data").exists()


def test_data_dir_after_the_subcommand_wins_over_the_environment(tmp_path: Path) -> None:
    env = {"VAUDIT_DATA_DIR": str(tmp_path / "envdata")}
    args = ["user", "create", "--data-dir", str(tmp_path / "typed"), "--email", "t@b.org", "--name", "T"]
    r = cli(*args, stdin="password1\n", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "typed" / "virtual-audit.db").exists()
    assert not (tmp_path / "envdata").exists()


def test_serve_takes_data_dir_after_the_subcommand(tmp_path: Path) -> None:
    r = cli("serve", "--data-dir", str(tmp_path), "--port", "70000", cwd=tmp_path)
    assert r.returncode != 0
    assert "No such option" not in r.stderr and "port" in r.stderr
