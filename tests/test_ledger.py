"""Ledger: canonical JSON, entry rules, the Merkle log behind it, signed tree heads, the key file."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder import merkle
from recorder.ledger import (
    Ledger,
    LedgerError,
    SignedTreeHead,
    TreeHead,
    canonical_json,
    key_id,
    load_or_create_signing_key,
    load_public_key,
    parse_canonical_json,
    public_key_pem,
    sign_tree_head,
    utc_ms,
    verify_tree_head,
)

AT = "2025-03-01T08:15:02.250Z"
SHA = "9c" * 32


def still(evidence_id: str = "e1", **overrides: Any) -> dict[str, Any]:
    entry = {
        "type": "capture",
        "at": AT,
        "evidence_id": evidence_id,
        "sha256": SHA,
        "size": 1234,
        "width": 1280,
        "height": 720,
        "captured_at": AT,
        "checkpoint": "doors",
        "path": f"evidence/captures/{evidence_id}.jpg",
    }
    return {**entry, **overrides}


def event(kind: str, **data: Any) -> dict[str, Any]:
    return {"type": "event", "at": AT, "kind": kind, "actor": "auditor:ada", "data": data}


# Canonical JSON


def test_canonical_json_sorts_keys_and_drops_whitespace() -> None:
    assert canonical_json({"b": 1, "a": [True, None, {"d": "x", "c": -2}]}) == (
        b'{"a":[true,null,{"c":-2,"d":"x"}],"b":1}'
    )


def test_canonical_json_writes_utf8_and_escapes_only_what_json_requires() -> None:
    assert canonical_json({"k": 'é中😀"\\\n\x01'}) == '{"k":"é中😀\\"\\\\\\n\\u0001"}'.encode()


@pytest.mark.parametrize(
    "value",
    [1.0, float("nan"), float("inf"), {"a": {"b": [0.5]}}, {1: "x"}, 1 << 63, -(1 << 63) - 1, b"x", {"s"}],
)
def test_canonical_json_refuses_what_has_no_single_encoding(value: Any) -> None:
    with pytest.raises(LedgerError):
        canonical_json(value)


def test_canonical_json_refuses_lone_surrogates() -> None:
    with pytest.raises(LedgerError, match="surrogate"):
        canonical_json({"k": "\ud800"})


def test_canonical_json_keeps_64_bit_integers_exact() -> None:
    ns = 1_740_816_902_250_000_123
    assert (
        canonical_json({"ns": ns, "min": -(1 << 63)})
        == b'{"min":-9223372036854775808,"ns":1740816902250000123}'
    )


@pytest.mark.parametrize(
    "data",
    [
        b'{"b":1,"a":2}',  # keys out of order
        b'{"a": 1}',  # a space
        b'{"a":1.0}',  # a float
        b'{"a":NaN}',
        b'{"a":1,"a":1}',  # a duplicate key
        b'{"a":"\\u00e9"}',  # escaped where canonical JSON writes UTF-8
        b'{"a":"\xff"}',  # not UTF-8
        b'{"a":1}\n',  # trailing newline
        b"[1,",
    ],
)
def test_parsing_refuses_anything_but_the_canonical_bytes(data: bytes) -> None:
    with pytest.raises(LedgerError):
        parse_canonical_json(data)


def test_parsing_canonical_bytes_gives_the_value_back() -> None:
    value = {"a": [1, "é", None, False], "b": {"c": -(1 << 63)}}
    assert parse_canonical_json(canonical_json(value)) == value


def test_times_are_utc_with_milliseconds() -> None:
    when = dt.datetime(2025, 3, 1, 9, 15, 2, 250999, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert utc_ms(when) == "2025-03-01T08:15:02.250Z"
    with pytest.raises(ValueError):
        utc_ms(dt.datetime(2025, 3, 1))


# Entries and the log


def test_append_numbers_entries_and_hashes_their_canonical_bytes() -> None:
    ledger = Ledger("audit-1")

    seq0, leaf0 = ledger.append(event("join", role="auditor"))
    seq1, leaf1 = ledger.append(still())

    assert (seq0, seq1, ledger.size) == (0, 1, 2)
    first = parse_canonical_json(ledger.entry_bytes(0))
    assert first == {**event("join", role="auditor"), "v": 1, "audit": "audit-1", "seq": 0}
    assert leaf0 == merkle.leaf_hash(ledger.entry_bytes(0))
    assert ledger.root() == merkle.root([leaf0, leaf1])
    assert ledger.root(1) == leaf0


def test_append_ignores_a_seq_given_by_the_caller() -> None:
    ledger = Ledger("audit-1")
    ledger.append({**event("join"), "seq": 41})
    assert parse_canonical_json(ledger.entry_bytes(0))["seq"] == 0


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({**still(), "sha256": "ABC"}, "sha256 must be 64 lowercase hex digits"),
        ({k: v for k, v in still().items() if k != "width"}, "width is missing"),
        ({**still(), "size": True}, "size must be an integer >= 0"),
        ({**still(), "at": "2025-03-01 08:15:02"}, "at must be a UTC time"),
        ({**still(), "captured_at": "2025-02-30T00:00:00.000Z"}, "captured_at must be a UTC time"),
        ({**still(), "path": "../outside.jpg"}, "path must be relative"),
        ({**still(), "path": "ledger/entries.jsonl"}, "path must not be manifest.json or under ledger/"),
        ({**still(), "type": "selfie"}, "type 'selfie' is not one of"),
        ({**still(), "v": 2}, "v must be 1"),
        ({**still(), "audit": "audit-2"}, "audit is 'audit-2', this ledger is 'audit-1'"),
        (event("result", checkpoint="doors"), "data.result is missing"),
        (event("complete"), "data.outcome is missing"),
        ({**event("note"), "actor": ""}, "actor must be a non-empty string"),
    ],
)
def test_append_refuses_entries_that_break_the_rules(entry: dict[str, Any], message: str) -> None:
    ledger = Ledger("audit-1")
    with pytest.raises(LedgerError, match=f"entry 0: .*{message}"):
        ledger.append(entry)
    assert ledger.size == 0


def test_append_refuses_floats_anywhere() -> None:
    with pytest.raises(LedgerError, match=r"\$\.data\.score: floats are not allowed"):
        Ledger("audit-1").append(event("note", score=0.5))


def test_a_file_path_is_named_once() -> None:
    ledger = Ledger("audit-1")
    ledger.append(still("e1"))
    with pytest.raises(LedgerError, match=r"evidence/captures/e1\.jpg is already named by entry 0"):
        ledger.append(still("e2", path="evidence/captures/e1.jpg"))


def test_ledger_proofs_verify_against_its_roots() -> None:
    ledger = Ledger("audit-1")
    leaves = [ledger.append(still(f"e{i}"))[1] for i in range(11)]

    for i, leaf in enumerate(leaves):
        assert merkle.verify_inclusion(leaf, i, 11, ledger.inclusion_proof(i), ledger.root())
    proof = ledger.consistency_proof(4, 11)
    assert merkle.verify_consistency(4, 11, ledger.root(4), ledger.root(), proof)


# Signed tree heads


def test_a_tree_head_signs_audit_size_root_and_time() -> None:
    head = TreeHead("audit-1", 3, bytes(range(32)), 1_740_816_902_250)
    assert head.signing_bytes() == (
        b'{"audit":"audit-1","root":"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",'
        b'"size":3,"timestamp_ms":1740816902250,"v":1}'
    )


def test_signed_tree_heads_verify_and_survive_json() -> None:
    key = Ed25519PrivateKey.generate()
    ledger = Ledger("audit-1")
    ledger.append(still())

    sth = ledger.sign_head(key, 1_740_816_902_250)
    again = SignedTreeHead.from_json(parse_canonical_json(canonical_json(sth.to_json())))

    assert again == sth
    assert sth.key_id == key_id(key.public_key()) and len(sth.signature) == 64
    assert sth.head == TreeHead("audit-1", 1, ledger.root(), 1_740_816_902_250)
    assert verify_tree_head(again, key.public_key())


def test_a_changed_head_does_not_verify() -> None:
    key = Ed25519PrivateKey.generate()
    sth = sign_tree_head(key, "audit-1", 5, b"\x07" * 32, 1000)
    changes = [
        TreeHead("audit-2", 5, b"\x07" * 32, 1000),  # replayed for another audit
        TreeHead("audit-1", 4, b"\x07" * 32, 1000),
        TreeHead("audit-1", 5, b"\x08" * 32, 1000),
        TreeHead("audit-1", 5, b"\x07" * 32, 1001),
    ]
    for head in changes:
        assert not verify_tree_head(SignedTreeHead(head, sth.signature, sth.key_id), key.public_key())


def test_a_head_signed_by_another_key_does_not_verify() -> None:
    ours, theirs = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    forged = sign_tree_head(theirs, "audit-1", 5, b"\x07" * 32, 1000)

    assert not verify_tree_head(forged, ours.public_key())
    # naming our key does not help a signature made with theirs
    assert not verify_tree_head(
        SignedTreeHead(forged.head, forged.signature, key_id(ours.public_key())), ours.public_key()
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("signature", None, "signature is missing"),
        ("signature", "not base64!", "signature is not base64"),
        ("root", "xyz", "root must be 64 lowercase hex digits"),
        ("size", -1, "size must be an integer >= 0"),
        ("v", 2, "tree head v must be 1"),
    ],
)
def test_malformed_tree_heads_are_refused(name: str, value: Any, message: str) -> None:
    obj = sign_tree_head(Ed25519PrivateKey.generate(), "audit-1", 5, b"\x07" * 32, 1000).to_json()
    obj[name] = value
    if value is None:
        del obj[name]
    with pytest.raises(LedgerError, match=message):
        SignedTreeHead.from_json(obj)


# Keys


def test_the_signing_key_is_created_private_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "ledger.pem"

    key = load_or_create_signing_key(path)
    again = load_or_create_signing_key(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert key_id(again.public_key()) == key_id(key.public_key())
    assert os.listdir(path.parent) == ["ledger.pem"]  # no temp files left


def test_an_existing_key_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "ledger.pem"
    existing = Ed25519PrivateKey.generate()
    path.write_bytes(
        existing.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    assert key_id(load_or_create_signing_key(path).public_key()) == key_id(existing.public_key())


def test_a_key_file_that_is_not_an_ed25519_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.pem"
    path.write_bytes(b"hello")
    with pytest.raises(LedgerError, match="not a PEM private key"):
        load_or_create_signing_key(path)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(LedgerError, match="not an Ed25519 key"):
        load_or_create_signing_key(path)
    with pytest.raises(LedgerError, match="not an Ed25519 public key"):
        load_public_key(
            rsa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def test_public_keys_round_trip_through_pem() -> None:
    key = Ed25519PrivateKey.generate()
    pem = public_key_pem(key)

    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert public_key_pem(key.public_key()) == pem
    assert key_id(load_public_key(pem)) == key_id(key.public_key())
