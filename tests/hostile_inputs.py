"""Hostile and honest inputs built in code: pictures with forged headers, zip bombs, packages of problems.

Shared by tests/test_hostile_files.py, tests/fuzz/ and bench/hostile.py.
"""

from __future__ import annotations

import asyncio
import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import websockets

ZEROS = bytes(1 << 20)


def picture(width: int = 320, height: int = 240, ext: str = ".jpg") -> bytes:
    """A real picture OpenCV encodes (".jpg", ".png", ".webp")."""
    image = np.zeros((height, width, 3), np.uint8)
    cv2.circle(image, (width // 2, height // 2), min(width, height) // 3, (0, 200, 255), -1)
    return bytes(cv2.imencode(ext, image)[1].tobytes())


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 30000, height: int = 30000, zero_bytes: int = 64 << 20) -> bytes:
    """A PNG whose IHDR (with a valid CRC) declares ``width``×``height``: ~100 KB that decode to gigabytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(ZEROS) for _ in range(zero_bytes >> 20)) + packer.flush()
    chunks = png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def full_box(kind: bytes, payload: bytes) -> bytes:
    return box(kind, b"\0\0\0\0" + payload)


def heif(width: int = 4032, height: int = 3024, thumbnail: tuple[int, int] = (320, 240)) -> bytes:
    """The header boxes of a HEIC photo (ftyp, meta with a primary image and a thumbnail), then mdat."""
    ispes = b"".join(full_box(b"ispe", struct.pack(">II", w, h)) for w, h in ((width, height), thumbnail))
    meta = full_box(
        b"meta",
        full_box(b"hdlr", b"\0\0\0\0pict" + bytes(12) + b"\0")
        + full_box(b"pitm", struct.pack(">H", 1))
        + box(b"iprp", box(b"ipco", ispes)),
    )
    return box(b"ftyp", b"heic\0\0\0\0mif1heic") + meta + box(b"mdat", bytes(64))


def zip_bomb(path: Path, inflated: int = 1 << 30, name: str = "ledger/entries.jsonl") -> Path:
    """A zip whose one member is ``inflated`` zero bytes deflated (~1 KB per MB)."""
    info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w") as zf, zf.open(info, "w", force_zip64=True) as member:
        for _ in range(inflated >> 20):
            member.write(ZEROS)
    return path


def problem_package(path: Path, lines: int = 200_000) -> Path:
    """A package whose ledger is ``lines`` lines that are not entries: one problem each."""
    body = b"".join(b"%d\n" % (n * 7919) for n in range(lines))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ledger/entries.jsonl", body)
        zf.writestr("manifest.json", b'{"format":"virtual-audit-export/1","files":[],"extra_files":[]}')
    return path


class SocketReader:
    """A signaling socket whose replies are read as they come, as a browser's would be."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if message.get("type") == "ping":  # the server's heartbeat, as a browser answers it
                    await self.ws.send('{"type": "pong"}')
                    continue
                self.messages.append(message)
                self.arrived.set()
        except websockets.ConnectionClosed:
            pass
        self.arrived.set()

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))
