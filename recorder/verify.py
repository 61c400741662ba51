"""Offline verification of an export package: nothing but the zip (and, ideally, a trusted key).

:func:`verify_package` recomputes every file's SHA-256 and every entry's leaf hash, the
Merkle root at the size of every signed tree head, and checks each signature, then
cross-checks the manifest against the ledger. Every failure becomes one problem that
names the member, the entry (by seq), the tree head (by its index in
ledger/tree-heads.json, from 0) or the manifest field, and what differs. The rules are in
docs/ledger.md. Media members are stored uncompressed, so their bytes are hashed straight
from the zip file in 1 MiB reads. A package is untrusted input: what checking it may cost
is bounded before the cost is paid (:mod:`recorder.limits`), and at most
``max_problems`` problems are kept (the rest are counted). Everything here blocks: call it
from a worker thread.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from recorder import merkle
from recorder.ledger import (
    CORRECTIVE_ACTION,
    LedgerError,
    SignedTreeHead,
    entry_problems,
    key_id,
    load_public_key,
    parse_canonical_json,
    sealed_report,
    verify_tree_head,
)
from recorder.limits import DEFAULT_LIMITS, Problems, VerifyLimits, directory_problem, inflation_problem
from recorder.package import (
    CHUNK,
    ENTRIES,
    EVIDENCE_DIRS,
    FORMAT,
    LEDGER_MEMBERS,
    MANIFEST,
    PUBLIC_KEY,
    TREE_HEADS,
    ZIP_ERRORS,
    FileRef,
    Progress,
    entry_files,
    member_chunks,
)


@dataclass
class VerifyReport:
    ok: bool
    problems: list[str]  # the first ``max_problems`` of them
    summary: dict[str, Any]
    notes: list[str] = field(default_factory=list)  # what the checks do not prove
    problems_omitted: int = 0  # problems found beyond those listed


@dataclass(frozen=True, slots=True)
class Entry:
    line: int  # 1-based line of ledger/entries.jsonl
    leaf: bytes
    value: dict[str, Any] | None  # None when the line is not a valid entry


def is_completion(value: Mapping[str, Any] | None) -> bool:
    return value is not None and value.get("type") == "event" and value.get("kind") == "complete"


def corrective_summary(values: list[dict[str, Any]]) -> str | None:
    """The corrective-action follow-up a ledger holds, in words (None when there is none)."""
    answers = [v for v in values if is_corrective_action(v)]
    if not answers:
        return None
    responses = [v for v in answers if v.get("kind") == "response"]
    decisions = [v for v in answers if v.get("kind") == "decision"]
    photos = sum(1 for v in responses if "path" in v)
    videos = sum(1 for v in responses if "video_path" in v)
    said = Counter(str((v.get("data") or {}).get("decision")) for v in decisions)
    verdicts = ", ".join(f"{n} {d}" for d, n in sorted(said.items()))
    return (
        f"{len(responses)} response(s) ({photos} with a photo, {videos} with a video), "
        f"{len(decisions)} decision(s){f' ({verdicts})' if verdicts else ''}, "
        f"on {len({v['action'] for v in answers})} action(s)"
    )


def is_corrective_action(value: Mapping[str, Any] | None) -> bool:
    """A well-formed corrective-action entry: the only kind a completed audit's ledger takes."""
    return (
        value is not None and value.get("type") == CORRECTIVE_ACTION and isinstance(value.get("action"), str)
    )


def short(digest: str) -> str:
    return f"{digest[:12]}…"


def label(entry: Mapping[str, Any], titles: Mapping[str, str] | None = None) -> str:
    """How a problem names an entry's subject, the way people see it where the entry allows:
    "Capture #211, Seal check", else "capture a1b2c3d4…"; "segment 3", "the report", "event result"."""
    if "evidence_id" in entry:
        number, checkpoint = entry.get("evidence_seq"), entry.get("checkpoint")
        if isinstance(number, int) and not isinstance(number, bool):
            name = f"{str(entry['type']).capitalize()} #{number}"
        else:
            ident = str(entry["evidence_id"])
            name = f"{entry['type']} {ident[:8]}…" if len(ident) > 8 else f"{entry['type']} {ident}"
        if isinstance(checkpoint, str) and checkpoint:
            name += f", {(titles or {}).get(checkpoint, checkpoint)}"
        return name
    if entry.get("type") == "segment":
        return f"segment {entry.get('seq_no')}"
    if sealed_report(entry) is not None:
        return "the report sealed at completion"
    if entry.get("type") == CORRECTIVE_ACTION:
        return f"corrective action {str(entry.get('action'))[:8]}… {entry.get('kind')}"
    return f"{entry.get('type')} {entry.get('kind')}"


def checkpoint_titles(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Checkpoint key → title, from the manifest (untrusted: anything odd is skipped)."""
    listed = manifest.get("checkpoints")
    return {
        cp["key"]: cp["title"]
        for cp in (listed if isinstance(listed, list) else [])
        if isinstance(cp, dict) and isinstance(cp.get("key"), str) and isinstance(cp.get("title"), str)
    }


def compact(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= 120 else text[:119] + "…"


class _Verifier:
    """One run over one package; each check appends what it finds to ``problems``."""

    def __init__(
        self, zf: zipfile.ZipFile, raw: io.BufferedReader, progress: Progress | None, limits: VerifyLimits
    ) -> None:
        self.zf, self.raw, self.progress, self.limits = zf, raw, progress, limits
        self.problems = Problems(limits.max_problems)
        self.inflated = 0  # bytes inflated from compressed members so far
        self.unchecked = 0  # ledger lines only hashed, once the problems were too many
        self.notes: list[str] = []
        self.summary: dict[str, Any] = {}
        self.members = {i.filename: i for i in zf.infolist() if not i.filename.endswith("/")}
        self.key: Ed25519PublicKey | None = None
        self.audit: str | None = None
        self.valid: list[dict[str, Any]] = []  # the entries that are well-formed
        self.refs: dict[str, FileRef] = {}  # path -> the entry that names it
        self.labels: dict[int, str] = {}
        self.titles: dict[str, str] = {}  # checkpoint key -> title, to name evidence as people do
        self.done = self.total = 0

    def run(self, trusted_pem: bytes | None) -> None:
        names = Counter(info.filename for info in self.zf.infolist())
        self.problems += [f"{name}: {n} zip members have this name" for name, n in names.items() if n > 1]
        manifest = self.manifest()
        self.titles = checkpoint_titles(manifest)
        self.key = self.load_key(trusted_pem)
        entries = self.entries()
        self.valid = [e.value for e in entries if e.value is not None]
        self.audit = self.valid[0]["audit"] if self.valid else None
        self.tree_heads(entries)
        self.ledger_files()
        self.files(manifest)
        self.manifest_checks(manifest)
        self.recovered_notes()
        self.summary.update(audit=self.audit, entries=len(entries), files=len(self.refs))
        self.summary["types"] = dict(Counter(str(e.get("type")) for e in self.valid))
        if (follow_up := corrective_summary(self.valid)) is not None:
            self.summary["corrective_actions"] = follow_up

    def recovered_notes(self) -> None:
        """A segment recovered after an unclean stop is complete as kept; say what it lost."""
        for entry in self.valid:
            recovered = entry.get("recovered") if entry.get("type") == "segment" else None
            if isinstance(recovered, dict):
                self.notes.append(
                    f"segment {entry.get('seq_no')} was recovered after an unclean stop at "
                    f"{recovered.get('stopped_at')}: {recovered.get('video_frames_lost')} video frames "
                    "listed by its index did not reach the disk; what was kept is checked like any segment"
                )

    def read_text(self, name: str) -> bytes | None:
        info = self.members.get(name)
        if info is None:
            self.problems.append(f"{name}: missing from the package")
            return None
        if why := self.inflation_problem(info, self.limits.text_members.get(name, self.limits.max_member)):
            self.problems.append(f"{name}: {why}")
            return None
        try:
            return self.zf.read(info)
        except ZIP_ERRORS as exc:
            self.problems.append(f"{name}: cannot be read from the zip ({exc})")
            return None

    def read_object(self, name: str) -> dict[str, Any] | None:
        data = self.read_text(name)
        try:
            value = json.loads(data) if data is not None else None
        except (ValueError, RecursionError) as exc:
            self.problems.append(f"{name}: not JSON ({exc})")
            return None
        if data is not None and not isinstance(value, dict):
            self.problems.append(f"{name}: not a JSON object")
        return value if isinstance(value, dict) else None

    def manifest(self) -> dict[str, Any]:
        manifest = self.read_object(MANIFEST)
        if manifest is not None and manifest.get("format") != FORMAT:
            self.problems.append(f"{MANIFEST}: format is {manifest.get('format')!r}, expected {FORMAT!r}")
        return manifest or {}

    def load_key(self, trusted_pem: bytes | None) -> Ed25519PublicKey | None:
        data = self.read_text(PUBLIC_KEY)
        try:
            own = load_public_key(data) if data is not None else None
        except LedgerError as exc:
            self.problems.append(f"{PUBLIC_KEY}: {exc}")
            own = None
        if trusted_pem is None:
            if own is not None:
                self.summary.update(key_id=key_id(own), key_source="package")
                self.notes.append(
                    f"signatures were checked with the package's own key {key_id(own)} ({PUBLIC_KEY}): this "
                    "shows the package is intact, not who made it; trust in the key must come from elsewhere "
                    "(compare its id with the server's /api/ledger/public-key)"
                )
            return own
        trusted = load_public_key(trusted_pem)
        self.summary.update(key_id=key_id(trusted), key_source="trusted")
        if own is not None and key_id(own) != key_id(trusted):
            self.problems.append(f"{PUBLIC_KEY}: key {key_id(own)} is not the trusted key {key_id(trusted)}")
        return trusted

    def entries(self) -> list[Entry]:
        data = self.read_text(ENTRIES)
        if not data:
            return []
        if (count := data.count(b"\n")) > self.limits.max_entries:
            self.problems.append(
                f"{ENTRIES}: {count} lines, more than the {self.limits.max_entries} a ledger can hold; "
                "not checked"
            )
            return []
        lines = data.split(b"\n")
        if lines[-1]:
            self.problems.append(f"{ENTRIES}: the last line has no newline (truncated?)")
        else:
            lines.pop()
        entries = [self.entry(i, line) for i, line in enumerate(lines)]
        if self.unchecked:
            self.problems.append(
                f"{ENTRIES}: {self.unchecked} more lines not checked one by one after "
                f"{self.limits.stop_after} problems (their hashes still count in the Merkle tree)"
            )
        out_of_order = [e for e in entries if e.value is not None and e.value["seq"] != e.line - 1]
        if out_of_order:
            first = out_of_order[0]
            seq, expected = first.value["seq"] if first.value else None, first.line - 1
            how = "removed or reordered" if isinstance(seq, int) and seq > expected else "added or reordered"
            more = f"; {len(out_of_order) - 1} more lines out of sequence" if len(out_of_order) > 1 else ""
            self.problems.append(
                f"{ENTRIES} line {first.line}: seq is {seq}, expected {expected} (entries {how}){more}"
            )
        audits = Counter(e.value["audit"] for e in entries if e.value is not None)
        if len(audits) > 1:
            self.problems.append(f"{ENTRIES}: entries of several audits ({', '.join(sorted(audits))})")
        self.after_completion(entries)
        return entries

    def after_completion(self, entries: list[Entry]) -> None:
        """Completion seals an audit: its entry must be the ledger's last, but for the
        corrective-action entries (a facility's response, the firm's decision) that follow it."""
        done = next((e for e in entries if is_completion(e.value)), None)
        if done is None:
            return
        later = [e for e in entries if e.line > done.line and not is_corrective_action(e.value)]
        if later:
            names = [
                f"line {e.line} ({label(e.value, self.titles) if e.value else 'invalid'})" for e in later[:10]
            ]
            named = ", ".join(names)
            more = f" and {len(later) - 10} more" if len(later) > 10 else ""
            self.problems.append(
                f"{ENTRIES}: {len(later)} entries after the completion at line {done.line}, "
                f"which seals the audit (only corrective-action entries may follow it): {named}{more}"
            )

    def entry(self, index: int, line: bytes) -> Entry:
        if self.problems.count >= self.limits.stop_after:
            # the verdict is known: the rest of the lines only hash into the tree (3 µs, not 20)
            self.unchecked += 1
            return Entry(index + 1, merkle.leaf_hash(line), None)
        where = f"{ENTRIES} line {index + 1}"
        try:
            value = parse_canonical_json(line)
        except LedgerError as exc:
            self.problems.append(f"{where}: {exc}")
            return Entry(index + 1, merkle.leaf_hash(line), None)
        problems = entry_problems(value) if isinstance(value, dict) else ["not a JSON object"]
        self.problems += [f"{where}: {p}" for p in problems]
        return Entry(index + 1, merkle.leaf_hash(line), None if problems else value)

    def tree_heads(self, entries: list[Entry]) -> None:
        obj = self.read_object(TREE_HEADS)
        listed = obj.get("tree_heads") if obj is not None else []
        if not isinstance(listed, list):
            self.problems.append(f"{TREE_HEADS}: has no tree_heads list")
            listed = []
        if len(listed) > self.limits.max_tree_heads:
            self.problems.append(
                f"{TREE_HEADS}: {len(listed)} tree heads, more than the {self.limits.max_tree_heads} "
                "a package can hold; not checked"
            )
            listed = []
        heads: list[tuple[int, SignedTreeHead]] = []
        for i, item in enumerate(listed):
            try:
                heads.append((i, SignedTreeHead.from_json(item)))
            except LedgerError as exc:
                self.problems.append(f"tree head {i}: {exc}")
        log = merkle.MerkleLog()
        previous: tuple[int, SignedTreeHead] | None = None
        for i, sth in sorted(heads, key=lambda h: h[1].head.size):
            while log.size < min(sth.head.size, len(entries)):
                log.append(entries[log.size].leaf)
            self.tree_head(i, sth, log, previous)
            previous = (i, sth)
        covered = max((sth.head.size for _, sth in heads), default=0)
        if covered < len(entries):
            n = len(entries) - covered
            self.problems.append(
                f"entries {covered}..{len(entries) - 1} ({n}) are not covered by any signed tree head "
                "(added after the last head, or the head was removed)"
            )
        last = max(heads, key=lambda h: h[1].head.size)[1].head.root.hex() if heads else None
        self.summary.update(tree_heads=len(heads), root=last)

    def tree_head(
        self, i: int, sth: SignedTreeHead, log: merkle.MerkleLog, previous: tuple[int, SignedTreeHead] | None
    ) -> None:
        head, where, key, audit = sth.head, f"tree head {i} (size {sth.head.size})", self.key, self.audit
        if key is not None and not verify_tree_head(sth, key):
            named = f" (the head names key {short(sth.key_id)})" if sth.key_id != key_id(key) else ""
            self.problems.append(f"{where}: signature does not verify with key {short(key_id(key))}{named}")
        if audit is not None and head.audit != audit:
            self.problems.append(f"{where}: signed for audit {head.audit!r}, the entries are for {audit!r}")
        if previous is not None and previous[0] > i:
            self.problems.append(
                f"{where}: listed before tree head {previous[0]} (size {previous[1].head.size})"
            )
        if previous is not None and head.timestamp_ms < previous[1].head.timestamp_ms:
            self.problems.append(
                f"{where}: signed at {head.timestamp_ms} ms, before tree head {previous[0]} "
                f"(size {previous[1].head.size}) at {previous[1].head.timestamp_ms} ms"
            )
        if head.size > log.size:
            self.problems.append(
                f"{where}: covers {head.size} entries but the package has {log.size} (entries removed)"
            )
        elif head.root != log.root():
            self.problems.append(
                f"{where}: root is {short(head.root.hex())} but the entries give {short(log.root().hex())} "
                "(entries changed, reordered or removed)"
            )

    def ledger_files(self) -> None:
        refs = self.refs
        for entry in self.valid:
            for ref in entry_files(entry):
                if ref.path in refs:
                    first = refs[ref.path].seq
                    self.problems.append(
                        f"ledger entry {ref.seq} names {ref.path}, already named by entry {first}"
                    )
                else:
                    refs[ref.path] = ref
        self.labels = {e["seq"]: label(e, self.titles) for e in self.valid}

    def files(self, manifest: Mapping[str, Any]) -> None:
        self.total = sum(info.file_size for path, info in self.members.items() if path in self.refs)
        listed = manifest_sizes(manifest)
        for ref in sorted(self.refs.values(), key=lambda r: (r.seq, r.path)):
            info = self.members.get(ref.path)
            # never read more than the ledger, or else the manifest, says the file has
            size = ref.size if ref.size is not None else listed.get(ref.path)
            if info is None:
                where = f"ledger entry {ref.seq} ({self.labels[ref.seq]})"
                self.problems.append(f"{where}: file {ref.path} missing from the package")
            elif size is not None and info.file_size != size:
                hint = "truncated?" if info.file_size < size else "bytes added?"
                says = f"ledger entry {ref.seq}" if ref.size is not None else "the manifest"
                where = f"{ref.path} ({self.labels[ref.seq]})"
                self.problems.append(f"{where}: size {info.file_size} but {says} says {size} ({hint})")
            elif why := self.inflation_problem(info, size if size is not None else self.limits.max_member):
                self.problems.append(f"{ref.path}: {why}")
            elif (digest := self.member_sha256(info)) is not None and digest != ref.sha256:
                says = f"the ledger entry {ref.seq} says {short(ref.sha256)}"
                self.problems.append(
                    f"{ref.path} ({self.labels[ref.seq]}): SHA-256 is {short(digest)} but {says}"
                )
        self.summary["bytes"] = self.done

    def inflation_problem(self, info: zipfile.ZipInfo, limit: int) -> str | None:
        """Why a member must not be read (see :mod:`recorder.limits`); counts what it will inflate."""
        why = inflation_problem(info, min(limit, self.limits.max_member), self.limits)
        if why is None and info.compress_type != zipfile.ZIP_STORED:
            if self.inflated + info.file_size > self.limits.max_inflated:
                total = self.limits.max_inflated
                return f"not inflated: the package's compressed members declare over {total} bytes in all"
            self.inflated += info.file_size
        return why

    def member_sha256(self, info: zipfile.ZipInfo) -> str | None:
        digest = hashlib.sha256()
        size = 0
        try:
            for chunk in member_chunks(self.zf, self.raw, info, limit=info.file_size + 1):
                digest.update(chunk)
                size += len(chunk)
                self.done += len(chunk)
                if self.progress:
                    self.progress(self.done, self.total)
        except ZIP_ERRORS as exc:
            self.problems.append(f"{info.filename}: cannot be read from the zip ({exc})")
            return None
        if size > info.file_size:
            self.problems.append(f"{info.filename}: inflates past the {info.file_size} bytes it declares")
            return None
        return digest.hexdigest()

    def manifest_checks(self, manifest: Mapping[str, Any]) -> None:
        listed = self.manifest_files(manifest)
        for path, ref in self.refs.items():
            if path not in listed:
                self.problems.append(
                    f"ledger entry {ref.seq} ({self.labels[ref.seq]}): {path} is not listed in the manifest"
                )
        extra_files = manifest.get("extra_files")
        listed_extras = extra_files if isinstance(extra_files, list) else []
        extras = {f["path"] for f in listed_extras if isinstance(f, dict) and isinstance(f.get("path"), str)}
        known = set(LEDGER_MEMBERS) | set(self.refs) | listed | extras
        for name in sorted(set(self.members) - known):
            self.problems.append(f"{name}: in the package but not in the ledger or the manifest (added?)")
        for name in sorted(extras & set(self.members) - set(self.refs)):
            if name.startswith(EVIDENCE_DIRS):
                self.problems.append(f"{name}: an extra file where evidence goes, not in the ledger (added?)")
            else:
                self.notes.append(f"{name}: an extra file, not covered by the ledger (not evidence)")
        manifest_audit = (
            manifest.get("audit", {}).get("id") if isinstance(manifest.get("audit"), dict) else None
        )
        if None not in (self.audit, manifest_audit) and manifest_audit != self.audit:
            self.problems.append(
                f"manifest audit.id is {manifest_audit!r} but the ledger is for {self.audit!r}"
            )
        if "results" in manifest:
            self.results(manifest["results"])
        if "outcome" in manifest:
            self.outcome(manifest["outcome"])

    def manifest_files(self, manifest: Mapping[str, Any]) -> set[str]:
        files = manifest.get("files")
        if not isinstance(files, list):
            self.problems.append(f"{MANIFEST}: files is not a list")
            return set()
        listed: set[str] = set()
        for i, f in enumerate(files):
            path = f.get("path") if isinstance(f, dict) else None
            path = path if isinstance(path, str) else None
            where = f"manifest files[{i}] {path}"
            ref = self.refs.get(path) if path is not None else None
            if path in listed:
                self.problems.append(f"{where}: listed twice")
            elif ref is None:
                self.problems.append(f"{where}: not in the ledger")
            else:
                ledger = {"sha256": ref.sha256, "size": ref.size, "kind": ref.kind, "ledger_seq": ref.seq}
                for name, value in ledger.items():
                    if f.get(name) != value and value is not None:
                        self.problems.append(
                            f"{where}: {name} is {f.get(name)!r} but ledger entry {ref.seq} says {value!r}"
                        )
            if path is not None:
                listed.add(path)
        return listed

    def results(self, results: Any) -> None:
        if not isinstance(results, dict):
            self.problems.append("manifest results: not an object of checkpoint → result")
            return
        last: dict[str, tuple[int, str | None]] = {}
        for e in self.valid:
            if e["type"] == "event" and e["kind"] == "result":
                last[e["data"]["checkpoint"]] = (e["seq"], e["data"]["result"])
        for checkpoint in sorted(set(results) | set(last)):
            says = results.get(checkpoint)
            if isinstance(says, dict):  # {"result": ..., "note": ...}: only the result is in the ledger
                says = says.get("result")
            seq, ledger_says = last.get(checkpoint, (None, None))
            if says == ledger_says:
                continue
            what = "is missing" if says is None else f"says {says}"
            if seq is None:
                problem = f"{what} but the ledger has no result entry for it"
            else:
                problem = (
                    f"{what} but the ledger's last result entry (seq {seq}) says {ledger_says or 'no result'}"
                )
            self.problems.append(f"manifest results: checkpoint '{checkpoint}' {problem}")

    def outcome(self, outcome: Any) -> None:
        completes = [e for e in self.valid if e["type"] == "event" and e["kind"] == "complete"]
        if not completes:
            self.problems.append(
                f"manifest outcome: says {compact(outcome)} but the ledger has no complete entry"
            )
        elif compact(outcome) != compact(ledger := completes[-1]["data"]["outcome"]):
            self.problems.append(
                f"manifest outcome: says {compact(outcome)} but the ledger's complete entry "
                f"(seq {completes[-1]['seq']}) says {compact(ledger)}"
            )


def manifest_sizes(manifest: Mapping[str, Any]) -> dict[str, int]:
    """path -> size of the files the manifest lists (entries that are not well-formed are skipped)."""
    files = manifest.get("files")
    return {
        f["path"]: f["size"]
        for f in (files if isinstance(files, list) else [])
        if isinstance(f, dict) and isinstance(f.get("path"), str) and type(f.get("size")) is int
    }


def verify_package(
    path: Path,
    public_key_pem: bytes | None = None,
    progress: Progress | None = None,
    *,
    name: str | None = None,
    limits: VerifyLimits = DEFAULT_LIMITS,
) -> VerifyReport:
    """Check the package at ``path``; with ``public_key_pem``, also that the trusted key signed it.

    ``name`` is how problems name the package file (default: ``path``), e.g. the name
    it was uploaded under rather than where the server keeps it. Never raises for a
    damaged, tampered or hostile package (that is what the report is for); raises
    LedgerError if ``public_key_pem`` itself is not an Ed25519 public key.
    """
    name = name or str(path)
    try:
        with path.open("rb") as raw:
            too_large = directory_problem(raw, limits)
        if too_large:
            return VerifyReport(False, [f"{name}: not checked: {too_large}"], {})
        zf = zipfile.ZipFile(path)
    except ZIP_ERRORS as exc:
        return VerifyReport(False, [f"{name}: not a readable zip file ({exc})"], {})
    with zf, path.open("rb") as raw:
        verifier = _Verifier(zf, raw, progress, limits)
        verifier.run(public_key_pem)
    problems = verifier.problems
    return VerifyReport(not problems, list(problems), verifier.summary, verifier.notes, problems.omitted)


def find_by_sha256(entries: Iterable[Mapping[str, Any]], sha256: str) -> list[Mapping[str, Any]]:
    """The entries whose file (or segment index) has this SHA-256 (hex)."""
    sha256 = sha256.lower()
    return [e for e in entries if sha256 in (e.get("sha256"), e.get("index_sha256"))]


def verify_file(file: Path | bytes, package: Path) -> list[Mapping[str, Any]]:
    """The package's ledger entries for this file (a still someone sent you, say).

    Only says which entries record this SHA-256; run :func:`verify_package` to know the
    ledger itself is intact and signed. Raises if the package has no readable ledger.
    """
    digest = hashlib.sha256()
    if isinstance(file, bytes):
        digest.update(file)
    else:
        with file.open("rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
    with zipfile.ZipFile(package) as zf:
        lines = zf.read(ENTRIES).splitlines()
    entries = [json.loads(line) for line in lines if line]
    return find_by_sha256((e for e in entries if isinstance(e, dict)), digest.hexdigest())
