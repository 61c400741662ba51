"""What an uploaded picture is and how many pixels it declares, read from its header alone.

Decoding costs memory in proportion to the pixels a header declares, and a 110 KB PNG can
declare 30000×30000 of them (2.7 GB once decoded). :func:`probe` reads the format and the
dimensions without decoding anything, so the server refuses a picture before spending on
it: JPEG (the first SOF marker), PNG (IHDR, with its CRC), WebP (VP8, VP8L or VP8X) and
HEIC/HEIF (the largest ``ispe`` box). Pure and bounded: it looks at no more than the bytes
it is given and walks at most a few hundred markers, chunks or boxes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Reason = Literal["unsupported", "unknown", "damaged"]

MAX_SEGMENTS = 512  # markers, chunks or boxes walked before giving up on a header
MAX_FILL_BYTES = 64  # 0xFF fill bytes allowed before a JPEG marker
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): the frame headers that carry the size.
JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RSTn have no length
HEVC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
HEIF_BRANDS = HEVC_BRANDS | {b"mif1", b"msf1", b"heif"}
AVIF_BRANDS = frozenset({b"avif", b"avis"})
MEDIA_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "heif": "image/heic"}
SUFFIXES = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "heif": ".heic"}
# Formats OpenCV would decode that uploads may not use: named so the refusal says what was sent.
REFUSED_SIGNATURES = (
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"PF\n", "PFM"),
    (b"Pf\n", "PFM"),
    (b"#?RADIANCE", "Radiance HDR"),
    (b"#?RGBE", "Radiance HDR"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xffO\xffQ", "JPEG 2000"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x59\xa6\x6a\x95", "Sun raster"),
    (b"\x76\x2f\x31\x01", "OpenEXR"),
    *((f"P{n}".encode(), "PNM") for n in range(1, 8)),
)


class ImageError(ValueError):
    """Not a picture uploads accept. ``reason``: "unsupported" (a format we refuse),
    "unknown" (no picture format at all) or "damaged" (truncated or garbled header)."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: Literal["jpeg", "png", "webp", "heif"]
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def suffix(self) -> str:
        return SUFFIXES[self.format]

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


def damaged(what: str) -> ImageError:
    return ImageError("damaged", what)


def probe(data: bytes) -> ImageInfo:
    """The format and declared size of the picture in ``data``; raises :class:`ImageError`."""
    if data[:3] == b"\xff\xd8\xff":
        return ImageInfo("jpeg", *_jpeg_size(data))
    if data[:8] == PNG_SIGNATURE:
        return ImageInfo("png", *_png_size(data))
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ImageInfo("webp", *_webp_size(data))
    if data[4:8] == b"ftyp":
        return ImageInfo("heif", *_heif_size(data))
    for signature, name in REFUSED_SIGNATURES:
        if data.startswith(signature):
            raise ImageError("unsupported", f"{name} pictures are not accepted: send JPEG, PNG, WebP or HEIC")
    raise ImageError("unknown", "the upload is not a picture (JPEG, PNG, WebP or HEIC)")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2
    for _ in range(MAX_SEGMENTS):
        fill = 0
        while pos < len(data) and data[pos] == 0xFF and fill <= MAX_FILL_BYTES:
            pos, fill = pos + 1, fill + 1
        if pos >= len(data):
            raise damaged("the JPEG ends before its frame header (truncated?)")
        if fill == 0 or fill > MAX_FILL_BYTES:
            raise damaged(f"the JPEG has garbage where a marker belongs (byte {pos})")
        marker = data[pos]
        pos += 1
        if marker in JPEG_STANDALONE:
            continue
        if marker in (0xD8, 0xD9, 0xDA):
            raise damaged("the JPEG has no frame header before its image data")
        if pos + 2 > len(data):
            raise damaged("the JPEG ends inside a marker (truncated?)")
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2 or pos + length > len(data):
            raise damaged("the JPEG ends inside a marker segment (truncated?)")
        if marker in JPEG_SOF:
            if length < 8:
                raise damaged("the JPEG frame header is too short")
            height, width = struct.unpack_from(">HH", data, pos + 3)
            if width == 0 or height == 0:
                raise damaged("the JPEG frame header declares no width or height")
            return width, height
        pos += length
    raise damaged(f"the JPEG has over {MAX_SEGMENTS} markers before its frame header")


def _png_size(data: bytes) -> tuple[int, int]:
    if len(data) < 33:
        raise damaged("the PNG ends inside its header (truncated?)")
    length, kind = struct.unpack_from(">I4s", data, 8)
    if kind != b"IHDR" or length != 13:
        raise damaged("the PNG does not start with a valid IHDR chunk")
    (crc,) = struct.unpack_from(">I", data, 29)
    if zlib.crc32(data[12:29]) != crc:
        raise damaged("the PNG header's checksum does not match (damaged)")
    width, height, depth, colour = struct.unpack_from(">IIBB", data, 16)
    if not (0 < width < 1 << 31 and 0 < height < 1 << 31):
        raise damaged("the PNG header declares an impossible size")
    if depth not in (1, 2, 4, 8, 16) or colour not in (0, 2, 3, 4, 6):
        raise damaged("the PNG header declares an impossible bit depth or colour type")
    return width, height


def _webp_size(data: bytes) -> tuple[int, int]:
    chunks = _riff_chunks(data)
    kind, start, size = next(chunks, (b"", 0, 0))
    if kind == b"VP8X":
        return _webp_extended(data, start, size, chunks)
    return _webp_frame(data, kind, start, size)


def _riff_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(fourcc, payload start, payload size) of each chunk after the WebP file header."""
    pos = 12
    for _ in range(MAX_SEGMENTS):
        if pos + 8 > len(data):
            raise damaged("the WebP ends inside a chunk header (truncated?)")
        kind, size = struct.unpack_from("<4sI", data, pos)
        if pos + 8 + size > len(data):
            raise damaged(f"the WebP ends inside its {kind.decode('latin-1')!r} chunk (truncated?)")
        yield kind, pos + 8, size
        pos += 8 + size + (size & 1)
    raise damaged(f"the WebP has over {MAX_SEGMENTS} chunks before its image")


def _webp_extended(
    data: bytes, start: int, size: int, chunks: Iterator[tuple[bytes, int, int]]
) -> tuple[int, int]:
    if size < 10:
        raise damaged("the WebP extended header is too short")
    flags = data[start]
    if flags & 0x02:
        raise ImageError("unsupported", "animated WebP is not accepted: send a still picture")
    width = int.from_bytes(data[start + 4 : start + 7], "little") + 1
    height = int.from_bytes(data[start + 7 : start + 10], "little") + 1
    for kind, at, length in chunks:
        if kind in (b"VP8 ", b"VP8L"):
            if _webp_frame(data, kind, at, length) != (width, height):
                raise damaged("the WebP image is not the size its extended header declares")
            return width, height
    raise damaged("the WebP has no image chunk")  # pragma: no cover - _riff_chunks raises first


def _webp_frame(data: bytes, kind: bytes, start: int, size: int) -> tuple[int, int]:
    payload = data[start : start + size]
    if kind == b"VP8 ":
        if len(payload) < 10 or payload[0] & 1 or payload[3:6] != b"\x9d\x01\x2a":
            raise damaged("the WebP (lossy) frame header is not valid")
        width, height = struct.unpack_from("<HH", payload, 6)
        width, height = width & 0x3FFF, height & 0x3FFF
    elif kind == b"VP8L":
        if len(payload) < 5 or payload[0] != 0x2F:
            raise damaged("the WebP (lossless) header is not valid")
        (bits,) = struct.unpack_from("<I", payload, 1)
        if bits >> 29:
            raise damaged("the WebP (lossless) header has an unknown version")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    else:
        raise damaged("the WebP has no image chunk where one belongs")
    if width == 0 or height == 0:
        raise damaged("the WebP declares no width or height")
    return width, height


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each ISO BMFF box between ``start`` and ``end``."""
    pos = start
    for _ in range(MAX_SEGMENTS):
        if pos == end:
            return
        if pos + 8 > end:
            raise damaged("the HEIF ends inside a box header (truncated?)")
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise damaged("the HEIF ends inside a box header (truncated?)")
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise damaged(f"the HEIF box {kind.decode('latin-1')!r} overruns the file (truncated?)")
        yield kind, pos + header, pos + size
        pos += size
    raise damaged(f"the HEIF has over {MAX_SEGMENTS} boxes")


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    return next(((s, e) for k, s, e in _boxes(data, start, end) if k == kind), None)


def _heif_size(data: bytes) -> tuple[int, int]:
    boxes = _boxes(data, 0, len(data))
    _ftyp, start, end = next(boxes)
    brands = {data[i : i + 4] for i in range(start, end - 3, 4)} - {data[start + 4 : start + 8]}
    if (brands & AVIF_BRANDS and not brands & HEVC_BRANDS) or not brands & HEIF_BRANDS:
        named = "AVIF pictures" if brands & AVIF_BRANDS else "videos and other ISO media files"
        raise ImageError("unsupported", f"{named} are not accepted: send JPEG, PNG, WebP or HEIC")
    meta = next(((s, e) for k, s, e in boxes if k == b"meta"), None)
    if meta is None:
        raise damaged("the HEIF has no meta box (truncated?)")
    found = _child(data, meta[0] + 4, meta[1], b"iprp")  # meta is a full box: skip version and flags
    ipco = _child(data, *found, b"ipco") if found else None
    sizes = [
        struct.unpack_from(">II", data, s + 4)
        for k, s, e in (_boxes(data, *ipco) if ipco else ())
        if k == b"ispe" and e - s >= 12
    ]
    if not sizes:
        raise damaged("the HEIF declares no image size (no ispe property)")
    # The largest declared image is the one that bounds what decoding could cost.
    width, height = max(sizes, key=lambda wh: wh[0] * wh[1])
    if width == 0 or height == 0:
        raise damaged("the HEIF declares no width or height")
    return int(width), int(height)
