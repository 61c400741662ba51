"""The clip the benchmark's phones replay.

``server.simcam.encode_clip`` draws a flat synthetic scene that VP8 compresses to about
0.9 Mbit/s at 720p, well under the 1.5–2.5 Mbit/s the server asks a phone for. A hub's
cost follows its packet rate, so the default clip adds a panning, detailed texture (a
camera walking past shelves, roughly) to the same scene, which brings the encoder to its
target bitrate with keyframes about five times the size of the frames between them.
The frame number is burned in last, so it reads back exactly.
"""

from __future__ import annotations

import fractions

import av
import cv2
import numpy as np
import numpy.typing as npt

from server.media import framecode
from server.simcam import EncodedClip, encode_clip, scene

PAN_PX = 2  # texture shift per frame
DETAIL = 0.6  # texture contrast mixed into the scene
SEED = 7

Image = npt.NDArray[np.uint8]


def _texture(width: int, height: int, frames: int) -> Image:
    rng = np.random.default_rng(SEED)
    noise = rng.integers(0, 256, (height, width + PAN_PX * frames, 3), dtype=np.uint8)
    return np.asarray(cv2.GaussianBlur(noise, (0, 0), 1.5), dtype=np.uint8)


def textured_frame(base: Image, texture: Image, number: int) -> Image:
    height, width = base.shape[:2]
    x = PAN_PX * number
    detail = (texture[:height, x : x + width].astype(np.int16) - 128) * DETAIL
    img = np.clip(base.astype(np.int16) + detail.astype(np.int16), 0, 255).astype(np.uint8)
    framecode.burn(img, number)
    return img


def textured_clip(frames: int, width: int, height: int, fps: int, gop: int, bitrate: int) -> EncodedClip:
    """Encode ``frames`` textured frames numbered 0..frames-1 to VP8, as simcam does (blocking)."""
    ctx = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.bit_rate = bitrate
    ctx.gop_size = gop
    ctx.time_base = fractions.Fraction(1, fps)
    ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "keyint_min": str(gop)}
    texture = _texture(width, height, frames)
    clip = EncodedClip("VP8", fps, width, height)
    for n in range(frames):
        img = textured_frame(scene(width, height, n), texture, n)
        picture = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
        picture.pts = n
        if n % gop == 0:
            picture.pict_type = av.video.frame.PictureType.I
        clip.frames += [bytes(p) for p in ctx.encode(picture)]
    clip.frames += [bytes(p) for p in ctx.encode(None)]
    return clip


def make_clip(
    kind: str, frames: int, width: int, height: int, fps: int, gop: int, bitrate: int
) -> EncodedClip:
    """``textured`` (default) or ``plain`` (simcam's own scene)."""
    if kind == "plain":
        return encode_clip(frames, width, height, fps, gop, bitrate)
    return textured_clip(frames, width, height, fps, gop, bitrate)


def describe(clip: EncodedClip) -> str:
    sizes = [len(f) for f in clip.frames]
    keys = [len(f) for f, key in zip(clip.frames, clip.keyframes, strict=True) if key]
    deltas = [len(f) for f, key in zip(clip.frames, clip.keyframes, strict=True) if not key]
    mbps = sum(sizes) * 8 * clip.fps / len(sizes) / 1e6
    key_kb = sum(keys) / max(len(keys), 1) / 1e3
    delta_kb = sum(deltas) / max(len(deltas), 1) / 1e3
    return f"{mbps:.2f} Mbit/s, keyframes {key_kb:.1f} kB, other frames {delta_kb:.1f} kB on average"
