"""The repository log records completions, reviews, certificates and shares; certificates verify offline."""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder import merkle
from recorder.certificate import verify_certificate
from recorder.ledger import SignedTreeHead, canonical_json, key_id, public_key_pem, verify_tree_head
from server.settings import Settings, SettingsError
from tests.parties import make_parties, share
from tests.support import LiveServer, live_server
from tests.test_certificates import accept, passed_audit, public_file


async def test_entries_heads_and_proofs(server: LiveServer) -> None:
    parties = await make_parties(server)
    async with server.client() as http:
        first = (await http.get("/api/repository/head")).json()
    audit_id = await passed_audit(parties)
    cert_id = (await accept(parties, audit_id))["certificate"]["id"]
    await share(parties, audit_id, "Importer One")
    async with parties.client("lead") as http:
        assert (
            await http.delete(f"/api/audits/{audit_id}/shares/{parties.org_ids['Importer One']}")
        ).status_code == 204
        assert (await http.get("/api/repository/entries")).status_code == 403
    async with parties.client("agency") as http:
        entries = (await http.get("/api/repository/entries")).json()["items"]
    kinds = [(e["type"], e.get("event") or e.get("decision")) for e in entries]
    assert kinds == [
        ("audit", None),
        ("review", "accept"),
        ("certificate", "issued"),
        ("share", None),
        ("unshare", None),
    ]
    async with parties.client("lead") as http:
        ledger = (await http.get(f"/api/audits/{audit_id}/ledger")).json()
    assert entries[0]["audit"] == audit_id and entries[0]["tree_head"] == ledger["tree_heads"][-1]
    assert entries[2]["certificate"]["id"] == cert_id
    key = server.app_ctx().signer.key.public_key()
    async with server.client() as http:
        last = (await http.get("/api/repository/head")).json()
        signed = {k: v for k, v in last.items() if k != "cosignatures"}
        assert last["size"] == 5 and verify_tree_head(SignedTreeHead.from_json(signed), key)
        proof = (await http.get("/api/repository/proof/1")).json()
        assert "entry" not in proof  # review comments are not public
        leaf = merkle.leaf_hash(canonical_json({k: v for k, v in entries[1].items() if k != "leaf_hash"}))
        assert proof["leaf_hash"] == leaf.hex()
        root = bytes.fromhex(proof["tree_head"]["root"])
        assert merkle.verify_inclusion(
            leaf, 1, proof["tree_head"]["size"], [bytes.fromhex(p) for p in proof["proof"]], root
        )
        r = await http.get("/api/repository/consistency", params={"from": 1, "to": 5})
        assert r.status_code == 200, r.text
        c = r.json()
        assert merkle.verify_consistency(
            1,
            5,
            bytes.fromhex(c["from"]["root"]),
            bytes.fromhex(c["to"]["root"]),
            [bytes.fromhex(p) for p in c["proof"]],
        )
        assert first["size"] == 0
        assert (await http.get("/api/repository/consistency", params={"from": 2, "to": 5})).status_code == 404
        assert (await http.get("/api/repository/proof/99")).status_code == 404


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "server", "verify-certificate", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


async def test_verify_certificate_offline(server: LiveServer, tmp_path: Path) -> None:
    parties = await make_parties(server)
    data = await public_file(
        server, (await accept(parties, await passed_audit(parties)))["certificate"]["id"]
    )
    pem = server.app_ctx().signer.public_pem
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(pem)
    good = tmp_path / "certificate.json"
    good.write_text(json.dumps(data))
    ok = await asyncio.to_thread(cli, str(good), "--public-key", str(key_file))
    assert ok.returncode == 0 and "OK:" in ok.stdout, ok.stderr
    unkeyed = await asyncio.to_thread(cli, str(good))
    assert unkeyed.returncode == 0 and "not that the association's server signed it" in unkeyed.stdout

    flipped = copy.deepcopy(data)
    flipped["certificate"]["score"] = "0.9999"
    problems = verify_certificate(flipped, pem).problems
    assert any(p.startswith("signature: does not verify") for p in problems), problems

    other = public_key_pem(Ed25519PrivateKey.generate())
    problems = verify_certificate(data, other).problems
    assert any(p.startswith("key_id: the file names key") for p in problems), problems
    assert any("signature does not verify" in p for p in problems), problems

    elsewhere = copy.deepcopy(data)
    elsewhere["inclusion"]["seq"] = 0  # the proof of another entry (the audit's completion)
    elsewhere["inclusion"]["entry"]["seq"] = 0
    problems = verify_certificate(elsewhere, pem).problems
    head = data["inclusion"]["tree_head"]
    assert problems == [
        f"inclusion: entry 0 is not in the repository log of size {head['size']} with root "
        f"{head['root'][:16]}… (the proof is for another entry, or the root is wrong)"
    ], problems

    wrong_root = copy.deepcopy(data)
    wrong_root["inclusion"]["tree_head"]["root"] = "0" * 64
    problems = verify_certificate(wrong_root, pem).problems
    assert any("signature does not verify" in p for p in problems) and any(
        "not in the repository log" in p for p in problems
    )

    missing: dict[str, Any] = copy.deepcopy(data)
    del missing["inclusion"]
    assert verify_certificate(missing, pem).problems == [
        "inclusion: missing (the file does not show the certificate is in the repository log)"
    ]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(flipped))
    failed = await asyncio.to_thread(cli, str(bad), "--public-key", str(key_file))
    assert failed.returncode == 1 and "FAIL: signature: does not verify" in failed.stderr


async def test_a_witness_cosigns_only_a_log_that_grew(server: LiveServer, tmp_path: Path) -> None:
    from click import ClickException

    from server.cli_repository import witness_once

    parties = await make_parties(server)
    state = tmp_path / "witness.json"
    first = await asyncio.to_thread(witness_once, server.base_url, state)
    assert "size 0" in first
    cert_id = (await accept(parties, await passed_audit(parties)))["certificate"]["id"]
    assert "size 3" in await asyncio.to_thread(witness_once, server.base_url, state)
    async with server.client() as http:
        head = (await http.get("/api/repository/head")).json()
        assert len(head["cosignatures"]) == 1
        page = await http.get(f"/certificates/{cert_id}")
        assert "1 independent witness cosigned" in page.text
    assert (await public_file(server, cert_id))["witnesses"] == 1
    seen = json.loads(state.read_text())
    seen["head"]["root"] = "ab" * 32  # as if the log had shown this witness another history
    state.write_text(json.dumps(seen))
    try:
        await asyncio.to_thread(witness_once, server.base_url, state)
    except ClickException as exc:
        assert "same size, different root" in exc.message
    else:
        raise AssertionError("a rewritten log was cosigned")


async def test_a_malformed_cosignature_is_refused_clearly(server: LiveServer) -> None:
    pem = public_key_pem(Ed25519PrivateKey.generate()).decode()
    async with server.client() as http:
        for body in (
            {"size": 10**30, "public_key": pem, "signature": "AA=="},
            {"size": True, "public_key": pem, "signature": "AA=="},
            {"size": 1, "public_key": pem, "signature": "A" * 10_000},
        ):
            r = await http.post("/api/repository/cosignatures", json=body)
            assert r.status_code == 422, (body["size"], r.text)
            assert r.json()["error"]["code"] == "invalid"


def witness_state(path: Path) -> str:
    """A witness's state file with a fresh key; returns that key's id."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_text(json.dumps({"key": pem.decode("ascii")}))
    return key_id(key.public_key())


async def test_only_trusted_witnesses_count(tmp_path: Path) -> None:
    from server.cli import _witnesses
    from server.cli_repository import witness_once

    trusted, stranger = tmp_path / "trusted.json", tmp_path / "stranger.json"
    trusted_id, stranger_id = witness_state(trusted), witness_state(stranger)
    async with live_server(tmp_path / "data", trusted_witnesses=(trusted_id,)) as server:
        parties = await make_parties(server)
        cert_id = (await accept(parties, await passed_audit(parties)))["certificate"]["id"]
        for state in (trusted, stranger):
            assert "cosigned" in await asyncio.to_thread(witness_once, server.base_url, state)
        async with server.client() as http:
            head = (await http.get("/api/repository/head")).json()
            page = await http.get(f"/certificates/{cert_id}")
        by_key = {c["witness_key_id"]: c["trusted"] for c in head["cosignatures"]}
        assert by_key == {trusted_id: True, stranger_id: False}
        assert "1 independent witness cosigned" in page.text
        assert (await public_file(server, cert_id))["witnesses"] == 1  # the stranger is ignored

    # the flag takes a key id or the witness's PEM public key file
    pem_file = tmp_path / "stranger.pem"
    key = serialization.load_pem_private_key(json.loads(stranger.read_text())["key"].encode(), None)
    assert isinstance(key, Ed25519PrivateKey)
    pem_file.write_bytes(public_key_pem(key.public_key()))
    assert _witnesses(None, None, (trusted_id.upper(), str(pem_file))) == (trusted_id, stranger_id)  # type: ignore[arg-type]
    with pytest.raises(click.BadParameter, match="neither a key id"):
        _witnesses(None, None, ("no-such-file",))  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="64 lowercase hex"):
        Settings(trusted_witnesses=("abc",))
