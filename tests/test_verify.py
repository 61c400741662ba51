"""Export packages: a valid one verifies; every kind of tampering is caught and named precisely."""

from __future__ import annotations

import hashlib
import io
import json
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder import merkle
from recorder.ledger import (
    Ledger,
    SignedTreeHead,
    canonical_json,
    entry_problems,
    key_id,
    parse_canonical_json,
    public_key_pem,
)
from recorder.package import PackageError, PackageFile, compression, write_package
from recorder.stills import encode_still
from recorder.verify import find_by_sha256, verify_file, verify_package

AUDIT = "audit-7f3a"
AT = "2025-03-01T08:15:02.250Z"
T0 = 1_740_816_902_250
SEGMENT = "recording/segment-000003.webm"
INDEX = "recording/segment-000003.index.jsonl"
OUTCOME = {"result": "fail", "score": "2/3", "failing_must": ["seal"]}


def jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    picture = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    return encode_still(picture, quality=80).jpeg


def event(kind: str, **data: Any) -> dict[str, Any]:
    return {"type": "event", "at": AT, "kind": kind, "actor": "auditor:ada@example.org", "data": data}


@dataclass
class Audit:
    """Everything write_package needs, kept so that a test can change one thing and rewrite."""

    key: Ed25519PrivateKey
    ledger: Ledger = field(default_factory=lambda: Ledger(AUDIT))
    files: list[PackageFile] = field(default_factory=list)
    heads: list[SignedTreeHead] = field(default_factory=list)
    seqs: dict[str, int] = field(default_factory=dict)  # path -> seq of its entry

    def add_still(self, kind: str, evidence_id: str, checkpoint: str | None, seed: int) -> None:
        data = jpeg(seed)
        path = f"evidence/{kind}s/{evidence_id}.jpg"
        sha = hashlib.sha256(data).hexdigest()
        entry = {"type": kind, "at": AT, "evidence_id": evidence_id, "sha256": sha, "size": len(data)}
        entry |= {"width": 64, "height": 48, "captured_at": AT, "checkpoint": checkpoint, "path": path}
        entry |= {"evidence_seq": sum(f.path.startswith("evidence/") for f in self.files) + 1}
        self.seqs[path], _ = self.ledger.append(entry)
        self.files.append(PackageFile(path, data, sha, len(data)))

    def add_segment(self, directory: Path) -> None:
        video = random.Random(3).randbytes(20480)
        index = b"".join(b'{"n":%d,"kind":"video","size":100}\n' % n for n in range(30))
        (directory / "segment.webm").write_bytes(video)
        sha, index_sha = hashlib.sha256(video).hexdigest(), hashlib.sha256(index).hexdigest()
        entry = {"type": "segment", "at": AT, "seq_no": 3, "sha256": sha, "size": len(video), "path": SEGMENT}
        entry |= {"index_sha256": index_sha, "index_path": INDEX, "start_ns": 1_740_816_902_250_000_000}
        entry |= {"end_ns": 1_740_816_912_250_000_000, "video_frames": 30, "audio_frames": 0, "codec": "VP8"}
        self.seqs[SEGMENT], _ = self.ledger.append(entry)
        self.files.append(PackageFile(SEGMENT, directory / "segment.webm", sha, len(video)))
        self.files.append(PackageFile(INDEX, index, index_sha, len(index)))

    def sign(self) -> None:
        self.heads.append(self.ledger.sign_head(self.key, T0 + 1000 * len(self.heads)))

    def entries(self) -> list[bytes]:
        return [self.ledger.entry_bytes(i) for i in range(self.ledger.size)]

    def write(self, out: Path | io.BytesIO, **overrides: Any) -> None:
        args: dict[str, Any] = {
            "manifest": {
                "audit": {"id": AUDIT, "facility": "Factory A"},
                "checkpoints": [{"key": "doors", "title": "Doors"}, {"key": "seal", "title": "Seal check"}],
                "results": RESULTS,
                "outcome": OUTCOME,
            },
            "files": self.files,
            "entries": self.entries(),
            "tree_heads": self.heads,
            "public_key_pem": public_key_pem(self.key),
            "extra_files": {"report.html": b"<!doctype html><title>Audit report</title>"},
        }
        write_package(out, **(args | overrides))


RESULTS = {"doors": "meets", "seal": "does_not_meet"}


@pytest.fixture
def audit(tmp_path: Path) -> Audit:
    a = Audit(Ed25519PrivateKey.generate())
    a.ledger.append(event("join", role="auditor"))
    a.ledger.append(event("consent", accepted=True, notice_sha256="ab" * 32))
    a.ledger.append(event("checkpoint", checkpoint="doors"))
    a.add_still("still", "5f1c9e2a-0000-4000-8000-000000000001", "doors", seed=1)
    a.sign()
    a.add_still("capture", "a1b2c3d4-0000-4000-8000-000000000002", "doors", seed=2)
    a.ledger.append(event("result", checkpoint="doors", result="follow_up"))
    a.add_segment(tmp_path)
    a.add_still("photo", "0c0ffee0-0000-4000-8000-000000000003", "seal", seed=3)
    a.ledger.append(event("result", checkpoint="seal", result="does_not_meet"))
    a.ledger.append(event("result", checkpoint="doors", result="meets"))
    a.ledger.append(event("complete", outcome=OUTCOME))
    a.sign()
    return a


@pytest.fixture
def package(audit: Audit, tmp_path: Path) -> Path:
    path = tmp_path / "audit.zip"
    audit.write(path)
    return path


def rewrite(src: Path, dst: Path, change: Callable[[dict[str, bytes]], object]) -> Path:
    """Copy the package with ``change`` applied to its members (a tamperer who fixes CRCs)."""
    with zipfile.ZipFile(src) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    change(members)
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data, compress_type=compression(name))
    return dst


def edit_heads(package: Path, tmp_path: Path, edit: Callable[[list[dict[str, Any]]], None]) -> Path:
    def change(members: dict[str, bytes]) -> None:
        edit_json(members, "ledger/tree-heads.json", lambda obj: edit(obj["tree_heads"]))

    return rewrite(package, tmp_path / "t.zip", change)


def edit_json(members: dict[str, bytes], name: str, edit: Callable[[Any], None]) -> None:
    value = json.loads(members[name])
    edit(value)
    members[name] = canonical_json(value)


def problems(path: Path, key: bytes | None = None) -> list[str]:
    return verify_package(path, key).problems


def short(hex_digest: str) -> str:
    return f"{hex_digest[:12]}…"


# A valid package


def test_a_valid_package_verifies(audit: Audit, package: Path) -> None:
    report = verify_package(package)

    assert report.problems == []
    assert report.ok
    assert report.summary == {
        "audit": AUDIT,
        "entries": 11,
        "tree_heads": 2,
        "files": 5,
        "bytes": sum(f.size for f in audit.files),
        "root": audit.ledger.root().hex(),
        "key_id": key_id(audit.key.public_key()),
        "key_source": "package",
        "types": {"event": 7, "still": 1, "capture": 1, "segment": 1, "photo": 1},
    }
    assert any("the package's own key" in note and "/api/ledger/public-key" in note for note in report.notes)
    assert "report.html: an extra file, not covered by the ledger (not evidence)" in report.notes


def test_a_valid_package_verifies_with_the_trusted_key(audit: Audit, package: Path) -> None:
    report = verify_package(package, public_key_pem(audit.key))

    assert report.ok, report.problems
    assert report.summary["key_source"] == "trusted"
    assert not any("own key" in note for note in report.notes)


def test_a_package_signed_by_another_key_fails_against_the_trusted_key(audit: Audit, package: Path) -> None:
    trusted = Ed25519PrivateKey.generate()
    ours, own = key_id(trusted.public_key()), key_id(audit.key.public_key())

    found = problems(package, public_key_pem(trusted))

    assert found[0] == f"ledger/public-key.pem: key {own} is not the trusted key {ours}"
    assert found[1:] == [
        f"tree head {i} (size {size}): signature does not verify with key {short(ours)} "
        f"(the head names key {short(own)})"
        for i, size in ((0, 4), (1, 11))
    ]


def test_the_manifest_lists_every_file_with_its_entry(audit: Audit, package: Path) -> None:
    manifest = json.loads(zipfile.ZipFile(package).read("manifest.json"))

    assert manifest["format"] == "virtual-audit-export/1"
    assert manifest["files"] == [
        {
            "path": f.path,
            "sha256": f.sha256,
            "size": f.size,
            "kind": kind,
            "ledger_seq": audit.seqs.get(f.path, 6),
        }
        for f, kind in sorted(
            zip(audit.files, ["still", "capture", "segment", "segment-index", "photo"], strict=True),
            key=lambda fk: fk[0].path,
        )
    ]
    assert manifest["extra_files"][0]["path"] == "report.html"
    assert (manifest["results"], manifest["outcome"]) == (RESULTS, OUTCOME)


# Tampering


def test_a_flipped_byte_in_a_still_is_caught(audit: Audit, package: Path, tmp_path: Path) -> None:
    path = audit.files[0].path

    def flip(members: dict[str, bytes]) -> None:
        data = bytearray(members[path])
        data[len(data) // 2] ^= 0x01
        members[path] = bytes(data)

    tampered = rewrite(package, tmp_path / "t.zip", flip)
    now = hashlib.sha256(zipfile.ZipFile(tampered).read(path)).hexdigest()

    assert problems(tampered) == [
        f"{path} (Still #1, Doors): SHA-256 is {short(now)} but the ledger entry {audit.seqs[path]} "
        f"says {short(audit.files[0].sha256)}"
    ]


def test_a_flipped_byte_in_the_zip_file_itself_is_caught(audit: Audit, package: Path) -> None:
    path, data = audit.files[0].path, audit.files[0].source
    assert isinstance(data, bytes)
    raw = bytearray(package.read_bytes())
    at = raw.index(data) + 100  # the still is stored, so its bytes are in the zip as they are
    raw[at] ^= 0x80
    package.write_bytes(raw)
    now = hashlib.sha256(data[:100] + bytes([data[100] ^ 0x80]) + data[101:]).hexdigest()

    assert problems(package) == [
        f"{path} (Still #1, Doors): SHA-256 is {short(now)} but the ledger entry {audit.seqs[path]} "
        f"says {short(audit.files[0].sha256)}"
    ]


def test_a_removed_still_is_caught(audit: Audit, package: Path, tmp_path: Path) -> None:
    path = audit.files[1].path
    tampered = rewrite(package, tmp_path / "t.zip", lambda m: m.pop(path))

    assert problems(tampered) == [
        f"ledger entry {audit.seqs[path]} (Capture #2, Doors): file {path} missing from the package"
    ]


def test_an_added_still_is_caught(package: Path, tmp_path: Path) -> None:
    extra = jpeg(99)
    path = "evidence/captures/ffffffff-0000-4000-8000-00000000000f.jpg"
    listed = {
        "path": path,
        "sha256": hashlib.sha256(extra).hexdigest(),
        "size": len(extra),
        "kind": "capture",
    }

    def add(members: dict[str, bytes]) -> None:
        members[path] = extra
        edit_json(members, "manifest.json", lambda m: m["files"].append({**listed, "ledger_seq": 4}))

    tampered = rewrite(package, tmp_path / "t.zip", add)

    assert problems(tampered) == [f"manifest files[5] {path}: not in the ledger"]


def test_a_file_slipped_in_without_the_manifest_is_caught(package: Path, tmp_path: Path) -> None:
    tampered = rewrite(package, tmp_path / "t.zip", lambda m: m.update({"evidence/stills/x.jpg": jpeg(5)}))

    assert problems(tampered) == [
        "evidence/stills/x.jpg: in the package but not in the ledger or the manifest (added?)"
    ]


def test_a_file_passed_off_as_an_extra_where_evidence_goes_is_caught(package: Path, tmp_path: Path) -> None:
    path = "evidence/stills/x.jpg"
    listed = {"path": path, "sha256": "00" * 32, "size": 1}

    def add(members: dict[str, bytes]) -> None:
        members[path] = jpeg(5)
        edit_json(members, "manifest.json", lambda m: m["extra_files"].append(listed))

    assert problems(rewrite(package, tmp_path / "t.zip", add)) == [
        "evidence/stills/x.jpg: an extra file where evidence goes, not in the ledger (added?)"
    ]


def test_export_keeps_extra_files_out_of_the_evidence_folders(audit: Audit, tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"extra file 'recording/notes\.txt': must not be under"):
        audit.write(tmp_path / "a.zip", extra_files={"recording/notes.txt": b"x"})


def test_reordered_entries_are_caught(audit: Audit, package: Path, tmp_path: Path) -> None:
    def swap(members: dict[str, bytes]) -> None:
        lines = members["ledger/entries.jsonl"].splitlines(keepends=True)
        lines[5], lines[6] = lines[6], lines[5]
        members["ledger/entries.jsonl"] = b"".join(lines)

    found = problems(rewrite(package, tmp_path / "t.zip", swap))

    root = short(audit.ledger.root().hex())
    assert found[0] == (
        "ledger/entries.jsonl line 6: seq is 6, expected 5 (entries removed or reordered); "
        "1 more lines out of sequence"
    )
    assert found[1].startswith(f"tree head 1 (size 11): root is {root} but the entries give ")
    assert found[1].endswith("(entries changed, reordered or removed)")
    assert len(found) == 2  # tree head 0 covers the first 4 entries, which did not move


def test_a_removed_entry_is_caught(audit: Audit, package: Path, tmp_path: Path) -> None:
    def remove(members: dict[str, bytes]) -> None:
        lines = members["ledger/entries.jsonl"].splitlines(keepends=True)
        del lines[2]
        members["ledger/entries.jsonl"] = b"".join(lines)

    assert problems(rewrite(package, tmp_path / "t.zip", remove)) == [
        "ledger/entries.jsonl line 3: seq is 3, expected 2 (entries removed or reordered); "
        "7 more lines out of sequence",
        f"tree head 0 (size 4): root is {short(audit.heads[0].head.root.hex())} but the entries give "
        f"{short(root_without(audit, 2, 4))} (entries changed, reordered or removed)",
        "tree head 1 (size 11): covers 11 entries but the package has 10 (entries removed)",
    ]


def root_without(audit: Audit, removed: int, size: int) -> str:
    lines = [line for i, line in enumerate(audit.entries()) if i != removed][:size]
    return merkle.root([merkle.leaf_hash(line) for line in lines]).hex()


def test_an_edited_entry_is_caught(audit: Audit, package: Path, tmp_path: Path) -> None:
    def edit(members: dict[str, bytes]) -> None:
        lines = members["ledger/entries.jsonl"].splitlines(keepends=True)
        entry = parse_canonical_json(lines[9].rstrip(b"\n"))
        entry["data"]["result"] = "does_not_meet"
        lines[9] = canonical_json(entry) + b"\n"
        members["ledger/entries.jsonl"] = b"".join(lines)

    found = problems(rewrite(package, tmp_path / "t.zip", edit))

    assert len(found) == 2
    assert found[0].startswith("tree head 1 (size 11): root is ")
    assert found[1] == (
        "manifest results: checkpoint 'doors' says meets "
        "but the ledger's last result entry (seq 9) says does_not_meet"
    )


def test_a_non_canonical_entry_is_caught(package: Path, tmp_path: Path) -> None:
    def respace(members: dict[str, bytes]) -> None:
        lines = members["ledger/entries.jsonl"].splitlines(keepends=True)
        lines[1] = json.dumps(json.loads(lines[1])).encode() + b"\n"
        members["ledger/entries.jsonl"] = b"".join(lines)

    found = problems(rewrite(package, tmp_path / "t.zip", respace))

    assert found[0] == (
        "ledger/entries.jsonl line 2: not in canonical form (key order, spacing or escaping differs)"
    )
    assert [p[:20] for p in found[1:]] == ["tree head 0 (size 4)", "tree head 1 (size 11"]


def test_an_edited_result_in_the_manifest_is_caught(package: Path, tmp_path: Path) -> None:
    def edit(members: dict[str, bytes]) -> None:
        edit_json(members, "manifest.json", lambda m: m["results"].update(seal="meets"))

    assert problems(rewrite(package, tmp_path / "t.zip", edit)) == [
        "manifest results: checkpoint 'seal' says meets "
        "but the ledger's last result entry (seq 8) says does_not_meet"
    ]


def test_a_result_dropped_from_the_manifest_is_caught(package: Path, tmp_path: Path) -> None:
    def edit(members: dict[str, bytes]) -> None:
        edit_json(members, "manifest.json", lambda m: m["results"].pop("seal"))

    assert problems(rewrite(package, tmp_path / "t.zip", edit)) == [
        "manifest results: checkpoint 'seal' is missing "
        "but the ledger's last result entry (seq 8) says does_not_meet"
    ]


def test_an_edited_outcome_in_the_manifest_is_caught(package: Path, tmp_path: Path) -> None:
    def edit(members: dict[str, bytes]) -> None:
        edit_json(members, "manifest.json", lambda m: m["outcome"].update(result="pass"))

    assert problems(rewrite(package, tmp_path / "t.zip", edit)) == [
        'manifest outcome: says {"failing_must":["seal"],"result":"pass","score":"2/3"} but the ledger\'s '
        'complete entry (seq 10) says {"failing_must":["seal"],"result":"fail","score":"2/3"}'
    ]


def test_a_truncated_segment_is_caught(audit: Audit, package: Path, tmp_path: Path) -> None:
    tampered = rewrite(package, tmp_path / "t.zip", lambda m: m.update({SEGMENT: m[SEGMENT][:1023]}))

    assert problems(tampered) == [
        f"{SEGMENT} (segment 3): size 1023 but ledger entry {audit.seqs[SEGMENT]} says 20480 (truncated?)"
    ]


def test_an_edited_segment_index_is_caught(audit: Audit, package: Path, tmp_path: Path) -> None:
    tampered = rewrite(
        package, tmp_path / "t.zip", lambda m: m.update({INDEX: m[INDEX].replace(b"100", b"101", 1)})
    )

    found = problems(tampered)
    assert len(found) == 1
    assert found[0].startswith(f"{INDEX} (segment 3): SHA-256 is ")
    assert found[0].endswith(
        f"but the ledger entry {audit.seqs[SEGMENT]} says {short(audit.files[3].sha256)}"
    )


def test_a_tree_head_signed_by_another_key_is_caught(audit: Audit, package: Path, tmp_path: Path) -> None:
    other = Ed25519PrivateKey.generate()
    forged = audit.ledger.sign_head(other, T0 + 1000).to_json()
    tampered = edit_heads(package, tmp_path, lambda heads: heads.__setitem__(1, forged))

    ours, theirs = key_id(audit.key.public_key()), key_id(other.public_key())
    assert problems(tampered) == [
        f"tree head 1 (size 11): signature does not verify with key {short(ours)} "
        f"(the head names key {short(theirs)})"
    ]


def test_a_forged_signature_under_our_key_id_is_caught(audit: Audit, package: Path, tmp_path: Path) -> None:
    forged = audit.ledger.sign_head(Ed25519PrivateKey.generate(), T0 + 1000).to_json()
    forged["key_id"] = key_id(audit.key.public_key())
    tampered = edit_heads(package, tmp_path, lambda heads: heads.__setitem__(1, forged))

    assert problems(tampered) == [
        f"tree head 1 (size 11): signature does not verify with key {short(forged['key_id'])}"
    ]


def test_a_removed_signature_leaves_entries_unsigned(package: Path, tmp_path: Path) -> None:
    tampered = edit_heads(package, tmp_path, lambda heads: heads[1].pop("signature"))

    assert problems(tampered) == [
        "tree head 1: signature is missing",
        "entries 4..10 (7) are not covered by any signed tree head "
        "(added after the last head, or the head was removed)",
    ]


def test_entries_appended_after_the_last_head_are_caught(audit: Audit, package: Path, tmp_path: Path) -> None:
    audit.ledger.append(event("note", text="added later"))
    late = audit.ledger.entry_bytes(11)

    def append(members: dict[str, bytes]) -> None:
        members["ledger/entries.jsonl"] += late + b"\n"

    assert problems(rewrite(package, tmp_path / "t.zip", append)) == [
        "ledger/entries.jsonl: 1 entries after the completion at line 11, which seals the audit "
        "(only corrective-action entries may follow it): line 12 (event note)",
        "entries 11..11 (1) are not covered by any signed tree head "
        "(added after the last head, or the head was removed)",
    ]


def test_heads_out_of_order_are_caught(audit: Audit, package: Path, tmp_path: Path) -> None:
    assert problems(edit_heads(package, tmp_path, lambda heads: heads.reverse())) == [
        "tree head 0 (size 11): listed before tree head 1 (size 4)"
    ]


def test_something_that_is_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "nope.zip"
    path.write_bytes(b"not a zip")
    report = verify_package(path)
    assert not report.ok
    assert report.problems == [f"{path}: not a readable zip file (File is not a zip file)"]


# Writing


def test_exports_are_byte_identical(audit: Audit, tmp_path: Path) -> None:
    first, second, in_memory = tmp_path / "a.zip", tmp_path / "b.zip", io.BytesIO()
    audit.write(first)
    audit.write(second)
    audit.write(in_memory)

    assert first.read_bytes() == second.read_bytes() == in_memory.getvalue()
    with zipfile.ZipFile(first) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    kinds = {i.filename: i.compress_type for i in infos}
    assert kinds[SEGMENT] == kinds[audit.files[0].path] == zipfile.ZIP_STORED
    assert kinds[INDEX] == kinds["ledger/entries.jsonl"] == kinds["report.html"] == zipfile.ZIP_DEFLATED


class Unseekable(io.RawIOBase):
    """A pipe or an HTTP response body: bytes go out and never come back."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.data += b
        return len(b)


def test_a_package_streamed_to_a_pipe_verifies_and_is_deterministic(audit: Audit, tmp_path: Path) -> None:
    first, second = Unseekable(), Unseekable()
    audit.write(first)  # type: ignore[arg-type]
    audit.write(second)  # type: ignore[arg-type]
    (tmp_path / "streamed.zip").write_bytes(first.data)

    assert first.data == second.data
    assert verify_package(tmp_path / "streamed.zip", public_key_pem(audit.key)).problems == []


def test_progress_counts_every_byte(audit: Audit, tmp_path: Path) -> None:
    written: list[tuple[int, int]] = []
    audit.write(tmp_path / "a.zip", progress=lambda done, total: written.append((done, total)))
    checked: list[tuple[int, int]] = []
    verify_package(tmp_path / "a.zip", progress=lambda done, total: checked.append((done, total)))

    for calls in (written, checked):
        assert [done for done, _ in calls] == sorted(done for done, _ in calls)
        assert calls[-1][0] == calls[-1][1]
    assert checked[-1][1] == sum(f.size for f in audit.files)


def test_export_refuses_a_file_that_no_longer_matches_its_entry(audit: Audit, tmp_path: Path) -> None:
    (tmp_path / "segment.webm").write_bytes(b"\x00" * 20480)
    with pytest.raises(PackageError, match=f"{SEGMENT}: the bytes read .* are not those the ledger recorded"):
        audit.write(tmp_path / "a.zip")
    assert not (tmp_path / "a.zip").exists()
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".partial"] == []


def test_export_refuses_files_the_ledger_does_not_name_or_misses(audit: Audit, tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=f"{SEGMENT}: named by ledger entry 6 but not given"):
        audit.write(tmp_path / "a.zip", files=[f for f in audit.files if f.path != SEGMENT])
    stray = PackageFile("evidence/stills/x.jpg", b"x", hashlib.sha256(b"x").hexdigest(), 1)
    with pytest.raises(PackageError, match=r"evidence/stills/x\.jpg: not named by any ledger entry"):
        audit.write(tmp_path / "a.zip", files=[*audit.files, stray])


def test_export_needs_a_head_over_every_entry(audit: Audit, tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="sign a tree head over all 11 entries"):
        audit.write(tmp_path / "a.zip", tree_heads=audit.heads[:1])


# Finding a file's entry


def test_a_single_still_is_found_in_the_ledger(audit: Audit, package: Path, tmp_path: Path) -> None:
    photo = audit.files[4]
    assert isinstance(photo.source, bytes)
    (tmp_path / "sent-by-email.jpg").write_bytes(photo.source)

    (found,) = verify_file(tmp_path / "sent-by-email.jpg", package)

    assert (found["seq"], found["type"], found["checkpoint"], found["captured_at"]) == (
        7,
        "photo",
        "seal",
        AT,
    )
    assert verify_file(b"something else", package) == []
    entries = [json.loads(line) for line in audit.entries()]
    assert find_by_sha256(entries, audit.files[3].sha256.upper())[0]["type"] == "segment"  # by its index


def test_damaged_zips_give_a_report_never_an_exception(package: Path, tmp_path: Path) -> None:
    original = package.read_bytes()
    rng = random.Random(17)
    damaged = tmp_path / "damaged.zip"
    for n in range(400):
        data = bytearray(original)
        if n % 10 == 0:
            data = data[: rng.randrange(len(data))]
        else:
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(len(data))] ^= rng.randrange(1, 256)
        damaged.write_bytes(data)
        report = verify_package(damaged)
        assert report.ok or report.problems


ODD_VALUES = [None, True, -1, 2**70, "", "x", [], [1], {}, {"a": 1}, "0" * 64, "../x", "[" * 5000]


def scramble(value: Any, rng: random.Random) -> Any:
    """``value`` with one value somewhere inside replaced by an odd one (or a key dropped)."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        if rng.random() < 0.2:
            del value[key]
        else:
            value[key] = scramble(value[key], rng)
        return value
    if isinstance(value, list) and value and rng.random() < 0.8:
        i = rng.randrange(len(value))
        value[i] = scramble(value[i], rng)
        return value
    return rng.choice(ODD_VALUES)


def test_odd_json_gives_a_report_never_an_exception(package: Path, tmp_path: Path) -> None:
    rng = random.Random(23)
    for _ in range(300):
        name = rng.choice(["manifest.json", "ledger/tree-heads.json", "ledger/entries.jsonl"])

        def change(members: dict[str, bytes], name: str = name) -> None:
            lines = members[name].splitlines()
            i = rng.randrange(len(lines))
            lines[i] = json.dumps(scramble(json.loads(lines[i]), rng)).encode()
            members[name] = b"\n".join(lines) + b"\n"

        report = verify_package(rewrite(package, tmp_path / "odd.zip", change))
        assert report.ok or report.problems


def test_entries_after_the_completion_fail_even_when_signed(audit: Audit, tmp_path: Path) -> None:
    """Completion seals the audit: a signed ledger that goes on afterwards was not sealed."""
    audit.add_still("capture", "deadbeef-0000-4000-8000-000000000004", "doors", seed=4)
    audit.ledger.append(event("result", checkpoint="doors", result="does_not_meet"))
    audit.sign()
    path = tmp_path / "late.zip"
    audit.write(path)
    report = verify_package(path, public_key_pem(audit.key))
    assert not report.ok
    late = [p for p in report.problems if "after the completion" in p]
    assert late == [
        f"ledger/entries.jsonl: 2 entries after the completion at line {audit.ledger.size - 2}, which seals "
        "the audit (only corrective-action entries may follow it): line 12 (Capture #4, Doors), "
        "line 13 (event result)"
    ]


def corrective(kind: str, **fields: Any) -> dict[str, Any]:
    data = {"entry": f"entry-{kind}", "text": "Fence repaired", "status": "responded"}
    return {
        "type": "corrective-action",
        "at": AT,
        "action": "a1b2c3d4-0000-4000-8000-000000000001",
        "checkpoint": "doors",
        "kind": kind,
        "actor": "capa-link:1",
        "data": data,
    } | fields


def test_corrective_action_entries_may_follow_the_completion(audit: Audit, tmp_path: Path) -> None:
    """A facility's response (with its photo) and the firm's decision follow the completion;
    anything else after it still fails, named."""
    photo = jpeg(9)
    path = "evidence/corrective-actions/entry-response.jpg"
    sha = hashlib.sha256(photo).hexdigest()
    audit.ledger.append(corrective("response", sha256=sha, size=len(photo), path=path))
    audit.files.append(PackageFile(path, photo, sha, len(photo)))
    audit.ledger.append(corrective("decision"))
    audit.sign()
    good = tmp_path / "capa.zip"
    audit.write(good)
    report = verify_package(good, public_key_pem(audit.key))
    assert report.ok, report.problems
    assert report.summary["types"]["corrective-action"] == 2

    audit.ledger.append(event("note", text="added later"))
    audit.sign()
    bad = tmp_path / "late.zip"
    audit.write(bad)
    report = verify_package(bad, public_key_pem(audit.key))
    late = [p for p in report.problems if "after the completion" in p]
    assert late == [
        f"ledger/entries.jsonl: 1 entries after the completion at line {audit.ledger.size - 3}, which seals "
        f"the audit (only corrective-action entries may follow it): line {audit.ledger.size} (event note)"
    ]


def test_a_corrective_action_entry_names_all_of_its_file_or_none() -> None:
    problems = entry_problems({"v": 1, "audit": AUDIT, "seq": 0} | corrective("response", sha256="ab" * 32))
    assert problems == ["size is missing", "path is missing"]


# The report sealed at completion

REPORT = b"<!doctype html><title>Audit report</title><p>Seal check: does not meet</p>"


def sealed_report_package(tmp_path: Path) -> tuple[Path, int]:
    """A package whose completion entry names report.html by its SHA-256; (path, that entry's seq)."""
    a = Audit(Ed25519PrivateKey.generate())
    a.add_still("capture", "c0ffee00-0000-4000-8000-000000000005", "seal", seed=5)
    sha = hashlib.sha256(REPORT).hexdigest()
    seq, _ = a.ledger.append(
        event(
            "complete", outcome=OUTCOME, report_sha256=sha, report_size=len(REPORT), report_path="report.html"
        )
    )
    a.files.append(PackageFile("report.html", REPORT, sha, len(REPORT)))
    a.sign()
    manifest = {
        "audit": {"id": AUDIT},
        "outcome": OUTCOME,
        "checkpoints": [{"key": "seal", "title": "Seal check"}],
    }
    path = tmp_path / "sealed.zip"
    a.write(path, manifest=manifest, extra_files={})
    return path, seq


def test_the_sealed_report_is_a_ledger_file(tmp_path: Path) -> None:
    path, seq = sealed_report_package(tmp_path)
    report = verify_package(path)
    assert report.ok, report.problems
    listed = json.loads(zipfile.ZipFile(path).read("manifest.json"))["files"]
    assert {"path": "report.html", "kind": "report", "ledger_seq": seq}.items() <= next(
        f for f in listed if f["path"] == "report.html"
    ).items()
    assert not [n for n in report.notes if "report.html" in n]  # covered, not a mere extra file


def test_a_tampered_report_fails_naming_it(tmp_path: Path) -> None:
    path, seq = sealed_report_package(tmp_path)
    changed = REPORT.replace(b"does not meet", b"meets        ")
    tampered = rewrite(path, tmp_path / "t.zip", lambda m: m.update({"report.html": changed}))
    now, sealed = hashlib.sha256(changed).hexdigest(), hashlib.sha256(REPORT).hexdigest()
    assert problems(tampered) == [
        f"report.html (the report sealed at completion): SHA-256 is {short(now)} "
        f"but the ledger entry {seq} says {short(sealed)}"
    ]


def test_a_failed_evidence_item_is_named_as_people_see_it(tmp_path: Path) -> None:
    path, _ = sealed_report_package(tmp_path)
    name = "evidence/captures/c0ffee00-0000-4000-8000-000000000005.jpg"
    tampered = rewrite(path, tmp_path / "t.zip", lambda m: m.update({name: m[name][:-1] + b"\x00"}))
    [problem] = problems(tampered)
    assert problem.startswith(f"{name} (Capture #1, Seal check): SHA-256 is ")
