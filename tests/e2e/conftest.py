"""Browser tests: Debian's Chromium driven by Playwright, its fake camera fed a generated clip."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from playwright.async_api import Browser, async_playwright, expect

from server.media import framecode
from tests.browsers import chromium_args

CHROMIUM = os.environ.get("VAUDIT_CHROMIUM", "/usr/bin/chromium")

# Playwright's assertions wait 5 s by default: on a loaded 2-core machine running three test
# processes and their browsers, a page can take longer than that to show what a user would see
# within a second. An assertion that holds still passes at once; bounds a test is about
# (recovery within 5 s, ...) are given explicitly where they are asserted.
expect.set_options(timeout=15_000)


def write_y4m(path: Path, frames: int = 60, width: int = 640, height: int = 360) -> Path:
    """A short I420 clip with a moving bar and frame numbers, for Chromium's fake camera."""
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        chroma = np.full((height // 2, width // 2), 128, np.uint8)
        for n in range(frames):
            luma = np.full((height, width), 70, np.uint8)
            x = (n * 8) % width
            luma[height // 3 : 2 * height // 3, x : x + 60] = 200
            framecode.burn(luma, n)
            out.write(b"FRAME\n")
            out.write(luma.tobytes())
            out.write(chroma.tobytes())
            out.write(chroma.tobytes())
    return path


@pytest.fixture(scope="session")
def camera_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_y4m(tmp_path_factory.mktemp("clip") / "camera.y4m")


@pytest.fixture
async def browser(camera_clip: Path) -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM) and shutil.which("chromium") is None:  # noqa: ASYNC240
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package (make test does)")
    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=chromium_args(camera_clip),
        )
        try:
            yield b
        finally:
            await b.close()
