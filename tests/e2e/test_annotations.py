"""Annotations in real Chromium: the auditor draws a box, an arrow and a text on a capture,
the server keeps them as a separate layer, and the report shows an annotated copy beside
the original, whose bytes still match their SHA-256."""

from __future__ import annotations

import hashlib

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.test_accessibility import describe, violations
from tests.e2e.test_guided import live_guided_pair
from tests.support import COMPLETE_ANYWAY, LiveServer

pytestmark = pytest.mark.e2e


async def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A drag across the dialog's picture between two points given as shares of its size."""
    box = await page.get_by_test_id("evidence-dialog-image").bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1], steps=5)
    await page.mouse.up()


async def test_annotations_are_a_layer_and_the_report_shows_both_pictures(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    audit_id, checkpoints, console, _staff = await live_guided_pair(server, api_token, browser)
    await console.keyboard.press("n")
    first = console.locator(f'[data-testid="checkpoint"][data-key="{checkpoints[0]["key"]}"]')
    await expect(first).to_have_attribute("aria-current", "step")
    captures = console.get_by_test_id("evidence-item")
    await console.keyboard.press("c")
    await expect(captures).to_have_count(1, timeout=10_000)
    item = captures.first
    await expect(item).to_have_attribute("data-checkpoint", checkpoints[0]["key"])
    evidence_id = await item.get_attribute("data-id")
    sha256 = await item.get_attribute("data-sha256")
    assert evidence_id and sha256

    await item.locator("button").click()
    dialog = console.get_by_test_id("evidence-dialog")
    await expect(dialog).to_be_visible()
    await expect(console.get_by_test_id("evidence-dialog-image")).to_have_js_property("complete", True)

    # Tools are buttons: the keyboard picks them as well as the mouse.
    await console.get_by_test_id("annotate-box").focus()
    await console.keyboard.press("Enter")
    await expect(console.get_by_test_id("annotate-box")).to_have_attribute("aria-pressed", "true")
    await drag(console, (0.2, 0.2), (0.5, 0.6))
    await console.get_by_test_id("annotate-arrow").click()
    await drag(console, (0.8, 0.9), (0.55, 0.65))
    await console.get_by_test_id("annotate-text").click()
    await console.get_by_test_id("annotate-text-input").fill("Broken seal")
    box = await console.get_by_test_id("evidence-dialog-image").bounding_box()
    assert box is not None
    await console.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.15)
    layer = console.locator("#evidence-annotations")
    await expect(layer.locator("[data-shape]")).to_have_count(3)

    assert not describe("annotating", await violations(console))
    await console.get_by_test_id("annotate-save").click()
    await expect(console.get_by_test_id("annotate-status")).to_contain_text("Saved 3 marks")
    await expect(console.get_by_test_id("annotate-save")).to_be_disabled()

    async with server.client(api_token) as http:
        r = await http.get(f"/api/evidence/{evidence_id}/annotations")
        assert r.status_code == 200, r.text
        notes = r.json()["items"]
        assert len(notes) == 1  # one POST for everything drawn before the save
        shapes = notes[0]["shapes"]
        assert sorted(s["type"] for s in shapes) == ["arrow", "rect", "text"]
        for shape in shapes:
            for name, value in shape.items():
                if name not in ("type", "color", "text"):
                    assert 0 <= value <= 1, (name, value)
        rect = next(s for s in shapes if s["type"] == "rect")
        assert rect["x1"] == pytest.approx(0.2, abs=0.02) and rect["y2"] == pytest.approx(0.6, abs=0.02)
        assert next(s for s in shapes if s["type"] == "text")["text"] == "Broken seal"

    # Opened again, the saved annotations load from the server.
    await console.keyboard.press("Escape")
    await item.locator("button").click()
    await expect(layer.locator("[data-shape]")).to_have_count(3)
    await console.keyboard.press("Escape")

    async with server.client(api_token) as http:
        r = await http.post(f"/api/audits/{audit_id}/complete", json=COMPLETE_ANYWAY)
        assert r.status_code == 200, r.text

    await console.goto(f"{server.base_url}/audits/{audit_id}/report")
    evidence = console.locator(f'[data-testid="report-evidence"][data-id="{evidence_id}"]')
    await expect(evidence).to_have_count(1)
    annotated = evidence.get_by_test_id("report-annotated")
    await expect(annotated).to_contain_text("Annotated copy — the original is unchanged")
    await expect(annotated.locator("svg [data-shape]")).to_have_count(3)
    assert not describe("annotated report", await violations(console))
    original = evidence.locator(".report-picture").first.locator("img")
    src = await original.get_attribute("src")
    assert src == f"/api/evidence/{evidence_id}/image"

    image = await console.request.get(f"{server.base_url}/api/evidence/{evidence_id}/image")
    assert image.ok
    assert hashlib.sha256(await image.body()).hexdigest() == sha256

    # The replay shows the marks on request, over the same untouched picture.
    await console.goto(f"{server.base_url}/audits/{audit_id}/replay")
    replayed = console.locator(f'[data-testid="evidence-item"][data-id="{evidence_id}"]')
    toggle = replayed.get_by_test_id("annotations-toggle")
    marks = replayed.locator(".annotation-layer")
    await expect(marks).to_be_hidden()
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    await expect(marks).to_be_visible()
    await expect(marks.locator("[data-shape]")).to_have_count(3)
    assert not describe("annotated replay", await violations(console))

    # A completed audit's console shows the marks but offers no drawing tools.
    await console.goto(f"{server.base_url}/audits/{audit_id}")
    await captures.first.locator("button").click()
    await expect(layer.locator("[data-shape]")).to_have_count(3)
    await expect(console.get_by_test_id("annotate-box")).to_have_count(0)
