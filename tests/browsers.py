"""The Chromium flags every test browser starts with: headless-friendly, no background
traffic, and a fake camera and microphone (the camera plays a clip the tests generate)."""

from __future__ import annotations

from pathlib import Path


def chromium_args(camera_clip: Path) -> list[str]:
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera_clip}",
        "--autoplay-policy=no-user-gesture-required",
    ]
