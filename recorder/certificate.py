"""Signed certificates and the repository log they are in: the offline check.

A certificate file (``GET /api/certificates/{id}``) holds the certificate document, the
server's Ed25519 signature over its canonical JSON, the public key, and ``inclusion``: the
repository-log entry that published this version of the document, the RFC 9162 inclusion
proof of that entry, and the signed repository head the proof leads to. The format is in
docs/ledger.md ("Certificates"). Nothing here touches the network or a database.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from recorder import merkle
from recorder.ledger import (
    LedgerError,
    SignedTreeHead,
    canonical_json,
    key_id,
    load_public_key,
    verify_tree_head,
)

# The ``audit`` field of a repository head: never an audit id (those are UUIDs), so a
# repository head cannot pass for an audit ledger's head, nor the other way round.
REPOSITORY_LOG = "repository"
FORMAT = "virtual-audit-certificate/1"
STATES = ("valid", "expired", "revoked", "superseded")


def sign_document(key: Ed25519PrivateKey, document: Mapping[str, Any]) -> str:
    """The base64 Ed25519 signature over the document's canonical JSON."""
    return base64.b64encode(key.sign(canonical_json(document))).decode("ascii")


def parse_time(text: str) -> dt.datetime:
    """A ledger time (``2025-03-01T08:15:02.250Z``) as an aware datetime."""
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def state_of(document: Mapping[str, Any], now: dt.datetime) -> str:
    """``valid``, ``expired``, ``revoked`` or ``superseded``: what a holder may rely on at ``now``."""
    status = document.get("status")
    if status in ("revoked", "superseded"):
        return str(status)
    return "expired" if now >= parse_time(str(document["expires"])) else "valid"


@dataclass
class CertificateReport:
    """The answer of :func:`verify_certificate`: ``ok`` only when nothing is in ``problems``."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _key(
    data: Mapping[str, Any], trusted_pem: bytes | None, report: CertificateReport
) -> Ed25519PublicKey | None:
    if trusted_pem is not None:
        try:
            key = load_public_key(trusted_pem)
        except LedgerError as exc:
            report.problems.append(f"--public-key: {exc}")
            return None
        report.summary["key_source"] = "trusted"
        return key
    embedded = data.get("public_key")
    if not isinstance(embedded, str):
        report.problems.append("public_key: missing from the file, and no trusted key was given")
        return None
    try:
        key = load_public_key(embedded.encode("ascii", "replace"))
    except LedgerError as exc:
        report.problems.append(f"public_key: {exc}")
        return None
    report.summary["key_source"] = "file"
    report.notes.append(
        "checked with the public key in the file itself: this shows the file is consistent, not that "
        "the association's server signed it; pass --public-key with the key obtained independently "
        "(/api/certificates/public-key)"
    )
    return key


def _signature(data: Mapping[str, Any], key: Ed25519PublicKey, report: CertificateReport) -> None:
    document = data["certificate"]
    kid = key_id(key)
    if data.get("key_id") != kid:
        report.problems.append(
            f"key_id: the file names key {str(data.get('key_id'))[:16]}… but the key is {kid[:16]}…"
        )
    try:
        signature = base64.b64decode(str(data.get("signature", "")), validate=True)
        key.verify(signature, canonical_json(document))
    except (binascii.Error, ValueError):
        report.problems.append("signature: not base64")
    except InvalidSignature:
        report.problems.append(
            f"signature: does not verify with key {kid[:16]}… "
            "(the certificate was altered, or signed by another key)"
        )
    except LedgerError as exc:
        report.problems.append(f"certificate: not canonical JSON material ({exc})")


def _inclusion(data: Mapping[str, Any], key: Ed25519PublicKey, report: CertificateReport) -> None:
    inclusion = data.get("inclusion")
    if not isinstance(inclusion, dict):
        report.problems.append(
            "inclusion: missing (the file does not show the certificate is in the repository log)"
        )
        return
    entry, seq, proof_hex = inclusion.get("entry"), inclusion.get("seq"), inclusion.get("proof")
    if not isinstance(entry, dict) or not isinstance(seq, int) or not isinstance(proof_hex, list):
        report.problems.append("inclusion: needs 'entry' (object), 'seq' (integer) and 'proof' (list of hex)")
        return
    try:
        head = SignedTreeHead.from_json(inclusion.get("tree_head"))
        proof = [bytes.fromhex(p) for p in proof_hex]
        leaf = merkle.leaf_hash(canonical_json(entry))
    except (LedgerError, ValueError, TypeError) as exc:
        report.problems.append(f"inclusion: malformed ({exc})")
        return
    report.summary["repository_seq"] = seq
    report.summary["repository_size"] = head.head.size
    report.summary["repository_root"] = head.head.root.hex()
    _entry_matches(entry, seq, data["certificate"], report)
    if head.head.audit != REPOSITORY_LOG:
        report.problems.append(
            f"inclusion.tree_head: is a head of {head.head.audit!r}, not of the repository log"
        )
    elif not verify_tree_head(head, key):
        report.problems.append(
            f"inclusion.tree_head (size {head.head.size}): "
            f"signature does not verify with key {key_id(key)[:16]}…"
        )
    if not merkle.verify_inclusion(leaf, seq, head.head.size, proof, head.head.root):
        report.problems.append(
            f"inclusion: entry {seq} is not in the repository log of size {head.head.size} with root "
            f"{head.head.root.hex()[:16]}… (the proof is for another entry, or the root is wrong)"
        )


def _entry_matches(entry: Mapping[str, Any], seq: int, document: Any, report: CertificateReport) -> None:
    if entry.get("type") != "certificate":
        report.problems.append(f"inclusion.entry: is a {entry.get('type')!r} entry, not a certificate entry")
    elif entry.get("seq") != seq:
        report.problems.append(
            f"inclusion.entry: has seq {entry.get('seq')!r} but the proof is for entry {seq}"
        )
    elif entry.get("certificate") != document:
        report.problems.append("inclusion.entry: records a different certificate document than this file's")


def verify_certificate(
    data: Any, trusted_pem: bytes | None = None, now: dt.datetime | None = None
) -> CertificateReport:
    """Check a certificate file's signature and its inclusion in the repository log."""
    report = CertificateReport()
    if not isinstance(data, dict) or not isinstance(data.get("certificate"), dict):
        report.problems.append("not a certificate file: no 'certificate' object")
        return report
    document = data["certificate"]
    if document.get("format") != FORMAT:
        report.problems.append(f"certificate.format: {document.get('format')!r}, expected {FORMAT!r}")
        return report
    key = _key(data, trusted_pem, report)
    if key is None:
        return report
    report.summary["key_id"] = key_id(key)
    _signature(data, key, report)
    _inclusion(data, key, report)
    for name in ("id", "status", "issued", "expires"):
        report.summary[name] = document.get(name)
    try:
        report.summary["state"] = state_of(document, now or dt.datetime.now(dt.UTC))
    except (KeyError, ValueError):
        report.problems.append("certificate.expires: not a time like 2025-03-01T08:15:02.250Z")
    return report
