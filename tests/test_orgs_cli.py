"""Organisations and roles from the command line, and upgrading a data dir made before them."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from server.db.engine import alembic_config, open_database
from tests.test_cli import cli


def test_org_create_prints_its_id_and_users_get_fitting_roles(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    made = cli("--data-dir", data, "org", "create", "--kind", "member", "--name", "Acme Imports")
    assert made.returncode == 0, made.stderr
    member_id = made.stdout.strip().splitlines()[-1]
    assert len(member_id) == 36
    listed = cli("--data-dir", data, "org", "list")
    assert "Default audit firm" in listed.stdout and f"{member_id}  member" in listed.stdout
    ok = cli(
        *("--data-dir", data, "user", "create", "--email", "m@acme.example", "--name", "M"),
        *("--org", "Acme Imports", "--role", "member"),
        stdin="a good password\n",
    )
    assert ok.returncode == 0, ok.stderr
    assert "created member m@acme.example in 'Acme Imports'" in ok.stdout
    wrong = cli(
        *("--data-dir", data, "user", "create", "--email", "x@acme.example", "--name", "X"),
        *("--org", member_id, "--role", "auditor"),
        stdin="a good password\n",
    )
    assert wrong.returncode != 0
    assert "role 'auditor' does not fit 'Acme Imports', a member: use --role member" in wrong.stderr
    unknown = cli(
        *("--data-dir", data, "user", "create", "--email", "y@acme.example", "--name", "Y", "--org", "Nope"),
        stdin="a good password\n",
    )
    assert unknown.returncode != 0 and "no organisation with id or name 'Nope'" in unknown.stderr


def test_without_org_a_user_joins_the_only_firm_and_with_two_firms_must_choose(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    first = cli(
        "--data-dir", data, "user", "create", "--email", "a@f.example", "--name", "A", stdin="password1\n"
    )
    assert "created auditor a@f.example in 'Default audit firm'" in first.stdout
    assert (
        cli("--data-dir", data, "org", "create", "--kind", "audit-firm", "--name", "Firm Two").returncode == 0
    )
    second = cli(
        "--data-dir", data, "user", "create", "--email", "b@f.example", "--name", "B", stdin="password1\n"
    )
    assert second.returncode != 0 and "there are 2 audit firms" in second.stderr and "--org" in second.stderr


def test_tokens_expire_within_a_year_and_can_all_be_revoked(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    cli("--data-dir", data, "user", "create", "--email", "a@f.example", "--name", "A", stdin="password1\n")
    for days in ("0", "366"):
        bad = cli("--data-dir", data, "user", "token", "--email", "a@f.example", "--days", days)
        assert bad.returncode != 0 and "1<=x<=365" in bad.stderr
    assert cli("--data-dir", data, "user", "token", "--email", "a@f.example").returncode == 0
    assert cli("--data-dir", data, "user", "token", "--email", "a@f.example", "--days", "365").returncode == 0
    with sqlite3.connect(Path(data) / "virtual-audit.db") as db:
        lifetimes = [
            row[0]
            for row in db.execute("SELECT julianday(expires_at) - julianday(created_at) FROM credentials")
        ]
    assert sorted(round(x) for x in lifetimes) == [30, 365]
    revoked = cli("--data-dir", data, "user", "revoke-tokens", "--email", "a@f.example")
    assert revoked.returncode == 0 and "revoked 2" in revoked.stdout


def test_an_existing_data_dir_moves_into_the_default_firm(tmp_path: Path) -> None:
    """A data dir at the schema before organisations keeps its users, audits and tokens."""
    path = tmp_path / "virtual-audit.db"
    cfg = alembic_config()
    url = f"sqlite:///{path}"
    cfg.set_main_option("sqlalchemy.url", url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
        conn.execute(
            sa.text(
                "INSERT INTO users (id, email, name, password_hash, role, created_at) "
                "VALUES ('u1', 'old@example.org', 'Old', 'x', 'auditor', '2026-01-01 00:00:00')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO audits (id, title, facility_name, facility_country, status, created_by, "
                "created_at) VALUES ('a1', 'Old audit', 'Old Factory', 'CN', 'open', 'u1', "
                "'2026-01-01 00:00:00')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO credentials (id, user_id, kind, secret_hash, created_at) "
                "VALUES ('c1', 'u1', 'api', 'h', '2026-01-01 00:00:00')"
            )
        )
    engine.dispose()

    async def upgrade() -> None:
        db = await open_database(f"sqlite+aiosqlite:///{path}")
        await db.close()

    asyncio.run(upgrade())
    with sqlite3.connect(path) as db:
        (firm_id, kind) = db.execute(
            "SELECT id, kind FROM organisations WHERE name = 'Default audit firm'"
        ).fetchone()
        assert kind == "audit-firm"
        assert db.execute("SELECT org_id, role FROM users WHERE id = 'u1'").fetchone() == (firm_id, "auditor")
        assert db.execute("SELECT firm_id, lead_auditor_id FROM audits WHERE id = 'a1'").fetchone() == (
            firm_id,
            "u1",
        )
        assert db.execute("SELECT expires_at FROM credentials WHERE id = 'c1'").fetchone()[0] is not None
