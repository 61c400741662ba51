"""The little bitstream parsing the recorder needs: VP8 picture size and H.264 NAL units.

Matroska stores H.264 as length-prefixed NAL units (``V_MPEG4/ISO/AVC``), while WebRTC
delivers Annex-B access units (start code before every NAL unit). :func:`to_avcc`
replaces every start code with a 4-byte big-endian length and changes nothing else, so
:func:`to_annexb` of a stored packet gives back the received bytes whenever the sender
used 4-byte start codes, as WebRTC depacketizers do.
"""

from __future__ import annotations

import struct

START_CODE = b"\x00\x00\x01"
LONG_START_CODE = b"\x00\x00\x00\x01"
NAL_SPS = 7
NAL_PPS = 8


def vp8_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 key frame header (RFC 6386 9.1), or None if not a key frame."""
    if len(data) < 10 or data[0] & 0x01 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width, height = struct.unpack_from("<HH", data, 6)
    return width & 0x3FFF, height & 0x3FFF


def nal_units(annexb: bytes) -> list[bytes]:
    """The NAL units of an Annex-B access unit, without start codes.

    The zero byte of a 4-byte start code is taken as part of the start code; a payload
    without any start code is returned whole, as one unit.
    """
    start = annexb.find(START_CODE)
    if start == -1:
        return [annexb] if annexb else []
    units: list[bytes] = []
    while start != -1:
        following = annexb.find(START_CODE, start + 3)
        end = len(annexb) if following == -1 else following
        if following != -1 and annexb[following - 1] == 0:
            end -= 1
        units.append(annexb[start + 3 : end])
        start = following
    return units


def nal_type(unit: bytes) -> int:
    return unit[0] & 0x1F if unit else 0


def to_avcc(annexb: bytes) -> bytes:
    """An Annex-B access unit as length-prefixed (4-byte) NAL units, as Matroska stores it."""
    return b"".join(struct.pack(">I", len(unit)) + unit for unit in nal_units(annexb))


def to_annexb(avcc: bytes) -> bytes:
    """Length-prefixed (4-byte) NAL units back to Annex-B with 4-byte start codes."""
    out = bytearray()
    pos = 0
    while pos + 4 <= len(avcc):
        (length,) = struct.unpack_from(">I", avcc, pos)
        pos += 4
        if pos + length > len(avcc):
            raise ValueError("truncated length-prefixed NAL unit")
        out += LONG_START_CODE + avcc[pos : pos + length]
        pos += length
    if pos != len(avcc):
        raise ValueError("trailing bytes after the last NAL unit")
    return bytes(out)


def parameter_sets(annexb: bytes) -> tuple[bytes, bytes] | None:
    """The first SPS and PPS NAL units of an Annex-B access unit, if it carries both."""
    sps = pps = None
    for unit in nal_units(annexb):
        kind = nal_type(unit)
        if kind == NAL_SPS and sps is None and len(unit) >= 4:
            sps = unit
        elif kind == NAL_PPS and pps is None:
            pps = unit
    return (sps, pps) if sps is not None and pps is not None else None


def avc_decoder_config(sps: bytes, pps: bytes) -> bytes:
    """An AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1), Matroska's CodecPrivate."""
    return (
        bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1])
        + struct.pack(">H", len(sps))
        + sps
        + bytes([1])
        + struct.pack(">H", len(pps))
        + pps
    )


def annexb_from_units(units: list[bytes]) -> bytes:
    return b"".join(LONG_START_CODE + unit for unit in units)
