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
- :class:`FileStore` keeps blobs durably on local disk behind the :class:`BlobStore`
  protocol.

Thread rules: ``SegmentWriter.write``/``restart`` and ``StillSampler.due`` are cheap and
safe on the event loop; everything else blocks or burns CPU and belongs in a worker thread.
"""

from recorder.bitstream import to_annexb
from recorder.container import SegmentInfo
from recorder.segments import SegmentWriter
from recorder.stills import Still, StillError, StillSampler, encode_still, pick_sharpest, sharpness
from recorder.store import BlobNotFound, BlobStore, FileStore, StoredBlob, StoreError
from recorder.timeline import AUDIO_CLOCK, VIDEO_CLOCK, Frame

__all__ = [
    "AUDIO_CLOCK",
    "VIDEO_CLOCK",
    "BlobNotFound",
    "BlobStore",
    "FileStore",
    "Frame",
    "SegmentInfo",
    "SegmentWriter",
    "Still",
    "StillError",
    "StillSampler",
    "StoreError",
    "StoredBlob",
    "encode_still",
    "pick_sharpest",
    "sharpness",
    "to_annexb",
]
