"""The evidence ledger: an append-only log of canonical JSON entries and its signed tree heads.

Each entry (a still, a capture, a photo, a closed segment, an audit event) is encoded as
canonical JSON (:func:`canonical_json`); its bytes are a leaf of an RFC 9162 Merkle tree
(:mod:`recorder.merkle`). A :class:`SignedTreeHead` is an Ed25519 signature over the
audit id, the tree size, the root and a time: it commits to every entry before it, so an
entry changed, added in the middle, reordered or removed later changes the root and the
signature no longer matches. Entry fields and the encoding rules are in docs/ledger.md.

:class:`Ledger` is plain bookkeeping, not thread-safe: one owner per audit appends.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from recorder import merkle

VERSION = 1
INT_LIMIT = 1 << 63  # integers must fit a signed 64-bit int, for verifiers in other languages
HEX64 = re.compile(r"[0-9a-f]{64}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
RESERVED = ("manifest.json", "ledger/")
FILE_TYPES = ("still", "capture", "photo")
CORRECTIVE_ACTION = "corrective-action"  # the one entry type a completed audit's ledger still takes


class LedgerError(ValueError):
    """An entry, a tree head or a key is malformed; the message says what and where."""


# Canonical JSON


def _check_json(value: Any, where: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if not -INT_LIMIT <= value < INT_LIMIT:
            raise LedgerError(f"{where}: integer {value} does not fit 64 bits")
    elif isinstance(value, float):
        raise LedgerError(f"{where}: floats are not allowed ({value!r}); use an integer or a string")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise LedgerError(f"{where}: object keys must be strings, got {key!r}")
            _check_json(item, f"{where}.{key}")
    else:
        raise LedgerError(f"{where}: {type(value).__name__} is not a JSON value")


def canonical_json(obj: Any) -> bytes:
    """``obj`` as canonical JSON bytes: UTF-8, keys sorted, no spaces, no floats (docs/ledger.md)."""
    _check_json(obj, "$")
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise LedgerError(f"string is not valid Unicode (lone surrogate): {exc.reason}") from exc


def _refuse(kind: str) -> Callable[[str], Any]:
    def refuse(token: str) -> Any:
        raise LedgerError(f"{kind} {token} is not allowed")

    return refuse


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise LedgerError("duplicate object key")
    return obj


def parse_canonical_json(data: bytes) -> Any:
    """Parse bytes that must be exactly what :func:`canonical_json` makes of their value."""
    try:
        value = json.loads(
            data.decode("utf-8"),
            parse_float=_refuse("float"),
            parse_constant=_refuse("constant"),
            object_pairs_hook=_unique_keys,
        )
    except UnicodeDecodeError as exc:
        raise LedgerError(f"not UTF-8: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise LedgerError(f"not JSON: {exc.msg} at column {exc.colno}") from exc
    except RecursionError as exc:
        raise LedgerError("nested too deeply") from exc
    if canonical_json(value) != data:
        raise LedgerError("not in canonical form (key order, spacing or escaping differs)")
    return value


def utc_ms(when: dt.datetime) -> str:
    """``when`` as the ledger writes times: ISO 8601 UTC with milliseconds, e.g. 2025-03-01T08:15:02.250Z."""
    if when.tzinfo is None:
        raise ValueError("utc_ms() needs an aware datetime")
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


# Entries


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_timestamp(v: Any) -> bool:
    if not (isinstance(v, str) and TIMESTAMP.fullmatch(v)):
        return False
    try:
        dt.datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return False
    return True


Check = Callable[[Any], str | None]


def _rule(test: Callable[[Any], bool], why: str) -> Check:
    return lambda v: None if test(v) else why


TEXT = _rule(lambda v: isinstance(v, str) and v != "", "must be a non-empty string")
OPTIONAL_TEXT = _rule(
    lambda v: v is None or (isinstance(v, str) and v != ""), "must be null or a non-empty string"
)
COUNT = _rule(lambda v: _is_int(v) and v >= 0, "must be an integer >= 0")
POSITIVE = _rule(lambda v: _is_int(v) and v > 0, "must be an integer > 0")
INTEGER = _rule(_is_int, "must be an integer")
SHA256 = _rule(
    lambda v: isinstance(v, str) and HEX64.fullmatch(v) is not None, "must be 64 lowercase hex digits"
)
OBJECT = _rule(lambda v: isinstance(v, dict), "must be an object")
WHEN = _rule(_is_timestamp, "must be a UTC time like 2025-03-01T08:15:02.250Z")
ANY = _rule(lambda v: True, "")


def package_path_problem(path: Any) -> str | None:
    """Why ``path`` cannot name a file inside an export package, or None."""
    if not isinstance(path, str) or not path or "\\" in path or "\x00" in path:
        return "must be a non-empty relative POSIX path"
    if path.startswith("/") or any(part in ("", ".", "..") for part in path.split("/")):
        return "must be relative, without empty, '.' or '..' parts"
    if path == RESERVED[0] or path.startswith(RESERVED[1]):
        return "must not be manifest.json or under ledger/"
    return None


PATH: Check = package_path_problem
COMMON: dict[str, Check] = {"audit": TEXT, "seq": COUNT, "type": TEXT, "at": WHEN}
FILE_FIELDS: dict[str, Check] = {
    "evidence_id": TEXT,
    "sha256": SHA256,
    "size": COUNT,
    "width": POSITIVE,
    "height": POSITIVE,
    "captured_at": WHEN,
    "checkpoint": OPTIONAL_TEXT,
    "path": PATH,
}
FIELDS: dict[str, dict[str, Check]] = {
    **dict.fromkeys(FILE_TYPES, FILE_FIELDS),
    "segment": {
        "seq_no": COUNT,
        "sha256": SHA256,
        "size": COUNT,
        "index_sha256": SHA256,
        "index_path": PATH,
        "path": PATH,
        "start_ns": INTEGER,
        "end_ns": INTEGER,
        "video_frames": COUNT,
        "audio_frames": COUNT,
        "codec": TEXT,
    },
    "event": {"kind": TEXT, "actor": TEXT, "data": OBJECT},
    # A facility's response to a corrective action, or the firm's decision on it, after completion.
    CORRECTIVE_ACTION: {"action": TEXT, "checkpoint": TEXT, "kind": TEXT, "actor": TEXT, "data": OBJECT},
}
# A corrective-action response with a photo names its file too (all three, or none).
CORRECTIVE_FILE_FIELDS: dict[str, Check] = {"sha256": SHA256, "size": COUNT, "path": PATH}
# ... and a response with a short video names that file (all three, or none).
CORRECTIVE_VIDEO_FIELDS: dict[str, Check] = {"video_sha256": SHA256, "video_size": COUNT, "video_path": PATH}
PATH_FIELDS = {**dict.fromkeys(FILE_TYPES, ("path",)), "segment": ("path", "index_path")}
EVENT_DATA: dict[str, dict[str, Check]] = {
    "result": {"checkpoint": TEXT, "result": OPTIONAL_TEXT},
    "complete": {"outcome": ANY},
}
# The report rendered at completion: a completion entry that names it states all three.
REPORT_FIELDS: dict[str, Check] = {"report_sha256": SHA256, "report_size": COUNT, "report_path": PATH}


def sealed_report(entry: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The data of a completion entry that names the sealed report, else None."""
    data = entry.get("data")
    if entry.get("type") == "event" and entry.get("kind") == "complete" and isinstance(data, dict):
        return data if "report_sha256" in data else None
    return None


def _field_problems(obj: Mapping[str, Any], checks: Mapping[str, Check], prefix: str) -> list[str]:
    problems = []
    for name, check in checks.items():
        if name not in obj:
            problems.append(f"{prefix}{name} is missing")
        elif (why := check(obj[name])) is not None:
            problems.append(f"{prefix}{name} {why}")
    return problems


def entry_problems(entry: Mapping[str, Any]) -> list[str]:
    """Everything wrong with ``entry`` against the entry rules of docs/ledger.md ([] if nothing)."""
    if entry.get("v") != VERSION:
        return [f"v must be {VERSION}, got {entry.get('v')!r}"]
    problems = _field_problems(entry, COMMON, "")
    kind = entry.get("type")
    if not isinstance(kind, str) or kind not in FIELDS:
        return [*problems, f"type {kind!r} is not one of {', '.join(FIELDS)}"]
    problems += _field_problems(entry, FIELDS[kind], "")
    if kind == "event" and isinstance(entry.get("data"), dict):
        problems += _field_problems(entry["data"], EVENT_DATA.get(str(entry.get("kind")), {}), "data.")
        if (report := sealed_report(entry)) is not None:
            problems += _field_problems(report, REPORT_FIELDS, "data.")
    if "camera" in entry and (kind == "segment" or kind in FILE_TYPES):
        problems += _field_problems(entry, {"camera": POSITIVE}, "")
    if kind == "segment" and "index_size" in entry:
        problems += _field_problems(entry, {"index_size": COUNT}, "")
    if kind == CORRECTIVE_ACTION and any(name in entry for name in CORRECTIVE_FILE_FIELDS):
        problems += _field_problems(entry, CORRECTIVE_FILE_FIELDS, "")
    if kind == CORRECTIVE_ACTION and any(name in entry for name in CORRECTIVE_VIDEO_FIELDS):
        problems += _field_problems(entry, CORRECTIVE_VIDEO_FIELDS, "")
    return problems


def corrective_file(entry: Mapping[str, Any]) -> bool:
    """Whether a (valid) entry is a corrective-action response that names a photo."""
    return entry.get("type") == CORRECTIVE_ACTION and "path" in entry


def corrective_video(entry: Mapping[str, Any]) -> bool:
    """Whether a (valid) entry is a corrective-action response that names a video."""
    return entry.get("type") == CORRECTIVE_ACTION and "video_path" in entry


def named_paths(entry: Mapping[str, Any]) -> list[str]:
    """The package paths a (valid) entry names: its file, and a segment's index."""
    report = sealed_report(entry)
    return (
        [entry[name] for name in PATH_FIELDS.get(entry["type"], ())]
        + ([report["report_path"]] if report else [])
        + ([entry["path"]] if corrective_file(entry) else [])
        + ([entry["video_path"]] if corrective_video(entry) else [])
    )


class Ledger:
    """One audit's entries, in order, with their Merkle tree."""

    def __init__(self, audit_id: str) -> None:
        if not audit_id:
            raise ValueError("a ledger needs an audit id")
        self.audit_id = audit_id
        self._entries: list[bytes] = []
        self._log = merkle.MerkleLog()
        self._paths: dict[str, int] = {}

    @property
    def size(self) -> int:
        return len(self._entries)

    def append(self, entry: Mapping[str, Any]) -> tuple[int, bytes]:
        """Validate ``entry``, give it the next seq (and v, audit if absent); return (seq, leaf hash)."""
        seq = self.size
        full = {"v": VERSION, "audit": self.audit_id, **entry, "seq": seq}
        problems = entry_problems(full)
        if full["audit"] != self.audit_id:
            problems.append(f"audit is {full['audit']!r}, this ledger is {self.audit_id!r}")
        paths = [] if problems else named_paths(full)
        problems += [f"{p} is already named by entry {self._paths[p]}" for p in paths if p in self._paths]
        if problems:
            raise LedgerError(f"entry {seq}: " + "; ".join(problems))
        data = canonical_json(full)
        leaf = merkle.leaf_hash(data)
        self._entries.append(data)
        self._log.append(leaf)
        self._paths.update(dict.fromkeys(paths, seq))
        return seq, leaf

    def entry_bytes(self, seq: int) -> bytes:
        return self._entries[seq]

    def root(self, size: int | None = None) -> bytes:
        return self._log.root(size)

    def inclusion_proof(self, seq: int, size: int | None = None) -> list[bytes]:
        return self._log.inclusion_proof(seq, size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return self._log.consistency_proof(old_size, new_size)

    def sign_head(self, key: Ed25519PrivateKey, timestamp_ms: int) -> SignedTreeHead:
        """A signed tree head over every entry so far."""
        return sign_tree_head(key, self.audit_id, self.size, self.root(), timestamp_ms)


# Signed tree heads


@dataclass(frozen=True, slots=True)
class TreeHead:
    audit: str
    size: int
    root: bytes
    timestamp_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "audit": self.audit,
            "size": self.size,
            "root": self.root.hex(),
            "timestamp_ms": self.timestamp_ms,
        }

    def signing_bytes(self) -> bytes:
        """What the signature covers: canonical JSON of v, audit, size, root (hex) and time."""
        return canonical_json(self.to_json())


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    head: TreeHead
    signature: bytes
    key_id: str  # hex SHA-256 of the raw 32-byte public key

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready object: the signed fields plus key_id (hex) and signature (base64)."""
        signature = base64.b64encode(self.signature).decode("ascii")
        return {**self.head.to_json(), "key_id": self.key_id, "signature": signature}

    @classmethod
    def from_json(cls, obj: Any) -> SignedTreeHead:
        """Parse :meth:`to_json` output; LedgerError names the first bad field."""
        checks = {"audit": TEXT, "size": COUNT, "root": SHA256, "timestamp_ms": COUNT, "key_id": SHA256}
        if not isinstance(obj, dict):
            raise LedgerError("a tree head must be an object")
        if obj.get("v") != VERSION:
            raise LedgerError(f"tree head v must be {VERSION}, got {obj.get('v')!r}")
        if problems := _field_problems(obj, {**checks, "signature": TEXT}, ""):
            raise LedgerError(problems[0])
        try:
            signature = base64.b64decode(obj["signature"], validate=True)
        except ValueError as exc:  # binascii.Error, or a non-ASCII string
            raise LedgerError(f"signature is not base64: {exc}") from exc
        head = TreeHead(obj["audit"], obj["size"], bytes.fromhex(obj["root"]), obj["timestamp_ms"])
        return cls(head, signature, obj["key_id"])


def key_id(key: Ed25519PublicKey) -> str:
    """The hex SHA-256 of the raw 32-byte public key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign_tree_head(
    private_key: Ed25519PrivateKey, audit_id: str, size: int, root: bytes, timestamp_ms: int
) -> SignedTreeHead:
    head = TreeHead(audit_id, size, root, timestamp_ms)
    return SignedTreeHead(head, private_key.sign(head.signing_bytes()), key_id(private_key.public_key()))


def verify_tree_head(sth: SignedTreeHead, public_key: Ed25519PublicKey) -> bool:
    """Whether ``sth`` was signed by ``public_key`` (and names that key)."""
    if sth.key_id != key_id(public_key):
        return False
    try:
        public_key.verify(sth.signature, sth.head.signing_bytes())
    except (InvalidSignature, LedgerError):
        return False
    return True


# Keys


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key at ``path`` (PEM, PKCS#8); created there with mode 0600 if missing.

    Creation is atomic and never replaces a key: a new key is written to a private temp
    file and hard-linked into place; if another process got there first, its key wins.
    """
    try:
        return _private_key(path.read_bytes(), path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temp_name, path)
    finally:
        os.unlink(temp_name)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return _private_key(path.read_bytes(), path)


def _private_key(pem: bytes, path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except ValueError as exc:
        raise LedgerError(f"{path}: not a PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise LedgerError(f"{path}: not an Ed25519 key")
    return key


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The public half of ``key`` as PEM (SubjectPublicKeyInfo)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise LedgerError(f"not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise LedgerError("not an Ed25519 public key")
    return key
