"""Picture headers: format and declared size read without decoding; everything else is one clear error."""

from __future__ import annotations

import struct

import pytest

from server.images import ImageError, ImageInfo, probe
from tests.hostile_inputs import box, heif, picture, png_bomb, png_chunk


@pytest.mark.parametrize(("ext", "fmt"), [(".jpg", "jpeg"), (".png", "png"), (".webp", "webp")])
def test_real_pictures_give_their_format_and_size(ext: str, fmt: str) -> None:
    assert probe(picture(321, 123, ext)) == ImageInfo(fmt, 321, 123)  # type: ignore[arg-type]


def test_lossless_webp() -> None:
    import cv2
    import numpy as np

    data = bytes(cv2.imencode(".webp", np.zeros((7, 9, 3), np.uint8), [cv2.IMWRITE_WEBP_QUALITY, 101])[1])
    assert data[12:16] == b"VP8L"
    assert probe(data) == ImageInfo("webp", 9, 7)


def test_a_forged_png_header_is_read_not_decoded() -> None:
    info = probe(png_bomb(30000, 30000, zero_bytes=1 << 20))
    assert (info.width, info.height, info.pixels) == (30000, 30000, 900_000_000)


def test_heif_takes_the_largest_declared_image() -> None:
    info = probe(heif(4032, 3024))
    assert (info.format, info.width, info.height, info.suffix, info.media_type) == (
        "heif",
        4032,
        3024,
        ".heic",
        "image/heic",
    )


def test_extended_webp_must_match_its_frame() -> None:
    inner = picture(16, 8, ".webp")[12:]  # the VP8 chunk
    canvas = struct.pack("<B3x", 0) + (15).to_bytes(3, "little") + (7).to_bytes(3, "little")
    body = b"WEBPVP8X" + struct.pack("<I", 10) + canvas + inner
    assert probe(b"RIFF" + struct.pack("<I", len(body)) + body) == ImageInfo("webp", 16, 8)
    lying = body.replace((15).to_bytes(3, "little"), (9999).to_bytes(3, "little"), 1)
    with pytest.raises(ImageError, match="not the size") as caught:
        probe(b"RIFF" + struct.pack("<I", len(lying)) + lying)
    assert caught.value.reason == "damaged"
    animated = body.replace(canvas, b"\x02" + canvas[1:], 1)
    with pytest.raises(ImageError, match="animated") as caught:
        probe(b"RIFF" + struct.pack("<I", len(animated)) + animated)
    assert caught.value.reason == "unsupported"


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"BM" + bytes(60), "BMP"),
        (b"II*\x00" + bytes(60), "TIFF"),
        (b"PF\n3 2\n-1\n" + bytes(72), "PFM"),
        (b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n", "Radiance HDR"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(40), "JPEG 2000"),
        (b"\x59\xa6\x6a\x95" + bytes(40), "Sun raster"),
        (b"GIF89a" + bytes(40), "GIF"),
        (b"P6\n2 2\n255\n" + bytes(12), "PNM"),
        (box(b"ftyp", b"avif\0\0\0\0avifmif1miaf") + bytes(16), "AVIF"),
        (box(b"ftyp", b"isom\0\0\0\0isomavc1") + bytes(16), "videos"),
    ],
)
def test_other_formats_are_refused_by_name(data: bytes, named: str) -> None:
    with pytest.raises(ImageError, match=named) as caught:
        probe(data)
    assert caught.value.reason == "unsupported"


def test_bytes_that_are_no_picture() -> None:
    with pytest.raises(ImageError) as caught:
        probe(b"this is not a picture")
    assert caught.value.reason == "unknown"


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp"])
def test_truncated_headers_are_damaged(ext: str) -> None:
    data = picture(64, 48, ext)
    for end in (12, 16, 20, 30):
        with pytest.raises(ImageError) as caught:
            probe(data[:end])
        assert caught.value.reason == "damaged", end


def test_a_png_header_with_a_bad_crc_is_damaged() -> None:
    data = bytearray(picture(64, 48, ".png"))
    data[19] ^= 0x40  # the width's low byte, CRC unchanged
    with pytest.raises(ImageError, match="checksum"):
        probe(bytes(data))


def test_heif_without_a_size_is_damaged() -> None:
    data = box(b"ftyp", b"heic\0\0\0\0mif1heic") + box(b"mdat", bytes(8))
    with pytest.raises(ImageError, match="meta"):
        probe(data)
    with pytest.raises(ImageError, match="truncated"):
        probe(heif()[:40])


def test_a_jpeg_of_endless_markers_is_refused_quickly() -> None:
    data = b"\xff\xd8" + b"\xff\xfe\x00\x02" * 100_000
    with pytest.raises(ImageError, match="markers"):
        probe(data)


def test_png_chunk_helper_makes_valid_crcs() -> None:
    assert probe(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 5, 6, 8, 6, 0, 0, 0))) == (
        ImageInfo("png", 5, 6)
    )
