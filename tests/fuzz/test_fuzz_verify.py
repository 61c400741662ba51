"""Mutated packages: verify gives a report (or, for a trusted key that is no key, LedgerError), never
another exception, quickly, with at most 100 problems listed."""

from __future__ import annotations

import io
import json
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from recorder.package import compression
from recorder.verify import VerifyReport, verify_package
from tests.fuzz.mutations import mutated
from tests.test_verify import OUTCOME, Audit, event


def valid_package() -> bytes:
    audit = Audit(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
    audit.ledger.append(event("join", role="auditor"))
    audit.add_still("still", "5f1c9e2a-0000-4000-8000-000000000001", "doors", seed=1)
    audit.sign()
    audit.add_still("photo", "0c0ffee0-0000-4000-8000-000000000003", "seal", seed=3)
    audit.ledger.append(event("result", checkpoint="seal", result="does_not_meet"))
    audit.ledger.append(event("complete", outcome=OUTCOME))
    audit.sign()
    out = io.BytesIO()
    audit.write(out)
    return out.getvalue()


PACKAGE = valid_package()
with zipfile.ZipFile(io.BytesIO(PACKAGE)) as _zf:
    MEMBERS = {name: _zf.read(name) for name in _zf.namelist()}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


def check(data: bytes) -> VerifyReport:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.zip"
        path.write_bytes(data)
        start = time.perf_counter()
        report = verify_package(path, name="upload.zip")
        assert time.perf_counter() - start < 2.0
    assert isinstance(report, VerifyReport)
    assert len(report.problems) <= 100 and report.problems_omitted >= 0
    assert report.ok == (not report.problems)
    assert tmp not in json.dumps(report.problems)
    return report


def rezip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data, compress_type=compression(name))
    return out.getvalue()


@given(mutated(PACKAGE, focus=len(PACKAGE)))
def test_a_damaged_zip_gives_a_report(data: bytes) -> None:
    check(data)


@given(
    st.sampled_from(sorted(MEMBERS)).flatmap(lambda name: st.tuples(st.just(name), mutated(MEMBERS[name])))
)
def test_a_damaged_member_gives_a_report(change: tuple[str, bytes]) -> None:
    name, data = change
    report = check(rezip(MEMBERS | {name: data}))
    if data != MEMBERS[name] and name.startswith(("evidence/", "ledger/entries")):
        assert not report.ok  # hashed bytes: any change is caught


@given(st.sampled_from(["manifest.json", "ledger/tree-heads.json"]), json_values)
def test_any_json_in_a_ledger_member_gives_a_report(name: str, value: Any) -> None:
    check(rezip(MEMBERS | {name: json.dumps(value).encode()}))


@given(st.lists(json_values, max_size=6))
def test_any_entries_give_a_report(lines: list[Any]) -> None:
    body = b"".join(json.dumps(v, separators=(",", ":"), sort_keys=True).encode() + b"\n" for v in lines)
    assert not check(rezip(MEMBERS | {"ledger/entries.jsonl": body})).ok
