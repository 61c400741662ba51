"""The evidence recorder: turns the phone's media into evidence reviewers can replay and verify.

Contract: the recorder takes encoded frames (anything shaped like :class:`Frame`) and a
place to keep things (a directory, a :class:`BlobStore`), and returns evidence: closed
segments with per-frame indexes (:class:`SegmentInfo`) and stills (:class:`Still`), each
with the SHA-256 digests an evidence ledger records. It knows nothing of audits, users,
WebRTC or the web application and never imports them; the server wires it in.

- :class:`SegmentWriter` records video and audio losslessly (no decoding, no
  re-encoding) into rotating Matroska/WebM segments that survive a crash.
- :func:`encode_still`, :func:`sharpness`, :func:`pick_sharpest` and
  :class:`StillSampler` make JPEG stills from decoded pictures.
- :class:`Ledger`, signed tree heads, :func:`write_package` and :func:`verify_package`
  make the evidence tamper-evident (docs/ledger.md).
- :class:`FileStore` keeps blobs durably on local disk behind the :class:`BlobStore`
  protocol.

Thread rules: ``SegmentWriter.write``/``restart`` and ``StillSampler.due`` are cheap and
safe on the event loop; everything else blocks or burns CPU and belongs in a worker thread.
"""

from recorder.bitstream import to_annexb
from recorder.container import SegmentInfo
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
from recorder.merkle import MerkleLog
from recorder.package import PackageError, PackageFile, write_package
from recorder.segments import SegmentWriter
from recorder.stills import Still, StillError, StillSampler, encode_still, pick_sharpest, sharpness
from recorder.store import BlobNotFound, BlobStore, FileStore, StoredBlob, StoreError
from recorder.timeline import AUDIO_CLOCK, VIDEO_CLOCK, Frame
from recorder.verify import VerifyReport, find_by_sha256, verify_file, verify_package

__all__ = [
    "AUDIO_CLOCK",
    "VIDEO_CLOCK",
    "BlobNotFound",
    "BlobStore",
    "FileStore",
    "Frame",
    "Ledger",
    "LedgerError",
    "MerkleLog",
    "PackageError",
    "PackageFile",
    "SegmentInfo",
    "SegmentWriter",
    "SignedTreeHead",
    "Still",
    "StillError",
    "StillSampler",
    "StoreError",
    "StoredBlob",
    "TreeHead",
    "VerifyReport",
    "canonical_json",
    "encode_still",
    "find_by_sha256",
    "key_id",
    "load_or_create_signing_key",
    "load_public_key",
    "parse_canonical_json",
    "pick_sharpest",
    "public_key_pem",
    "sharpness",
    "sign_tree_head",
    "to_annexb",
    "utc_ms",
    "verify_file",
    "verify_package",
    "verify_tree_head",
    "write_package",
]
