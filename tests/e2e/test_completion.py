"""Completing from the console: reasons asked in the dialog and shown on the report; notes kept."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.page_watch import open_console
from tests.support import LiveServer
from tests.test_completion import TEMPLATE

pytestmark = pytest.mark.e2e


async def test_never_live_audit_with_a_must_not_applicable_needs_reasons(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    async with server.client(api_token) as http:
        r = await http.post("/api/templates", content=TEMPLATE, headers={"Content-Type": "application/yaml"})
        assert r.status_code == 201, r.text
        body = {"facility": {"name": "Gate works", "country": "VN"}, "template": "gate-check"}
        audit_id = (await http.post("/api/audits", json=body)).json()["id"]
    console = await open_console(browser, server, audit_id)
    gate = console.locator('[data-testid="checkpoint"][data-key="gate"]')
    fence = console.locator('[data-testid="checkpoint"][data-key="fence"]')

    # 3 marks the current checkpoint not applicable; the note saves when the field is left.
    await console.keyboard.press("n")
    await expect(gate).to_have_attribute("aria-current", "step")
    await console.keyboard.press("3")
    await expect(gate).to_have_attribute("data-state", "not_applicable")
    note = console.get_by_test_id("result-note")
    await note.fill("The gate was removed when the yard was rebuilt.")
    await console.get_by_test_id("checkpoint-title").click()  # leave the field
    await expect(console.get_by_test_id("result-status")).to_have_text("Saved")
    await console.reload()
    await expect(gate).to_have_attribute("aria-current", "step")
    await expect(note).to_have_value("The gate was removed when the yard was rebuilt.")
    await expect(console.get_by_test_id("checkpoint-captures")).to_have_text("No captures needed")

    await console.keyboard.press("n")
    await expect(fence).to_have_attribute("aria-current", "step")
    await console.keyboard.press("1")
    await expect(fence).to_have_attribute("data-state", "meets")

    await console.get_by_test_id("complete-audit").click()
    dialog = console.get_by_test_id("complete-dialog")
    await expect(dialog).to_be_visible()
    await expect(console.get_by_test_id("open-checkpoints")).to_be_hidden()
    never_live = console.get_by_test_id("complete-reason-never_live")
    must_na = console.get_by_test_id("complete-reason-gate")
    await expect(never_live).to_be_visible()
    await expect(must_na).to_be_visible()
    await console.get_by_test_id("complete-confirm").click()
    await expect(console.get_by_test_id("complete-dialog-error")).to_contain_text("Write a reason")
    await expect(console.get_by_test_id("outcome")).to_be_hidden()

    await never_live.fill("The facility's network blocked video; the walk was done on photos.")
    await must_na.fill("There is no gate any more: the yard is walled.")
    await console.get_by_test_id("complete-confirm").click()
    outcome = console.get_by_test_id("outcome")
    await expect(outcome).to_be_visible(timeout=10_000)
    await expect(outcome).to_have_attribute("data-result", "pass")

    await console.get_by_test_id("report-link").click()
    await console.wait_for_url(f"**/audits/{audit_id}/report")
    reasons = console.get_by_test_id("report-reason")
    await expect(reasons).to_have_count(2)
    await expect(reasons.nth(0)).to_contain_text("the walk was done on photos")
    await expect(reasons.nth(1)).to_contain_text("Main gate")
    await expect(reasons.nth(1)).to_contain_text("the yard is walled")


# Drops every `goto` the page sends over its socket, as a socket dying under it would.
DROP_GOTO = """() => {
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (typeof data === 'string' && JSON.parse(data).type === 'goto') return;
    send.call(this, data);
  };
}"""


async def test_a_move_lost_with_its_socket_is_made_over_http(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    async with server.client(api_token) as http:
        body = {"facility": {"name": "Quay works", "country": "VN"}, "template": "container-7-point"}
        audit_id = (await http.post("/api/audits", json=body)).json()["id"]
        view = (await http.get(f"/api/audits/{audit_id}/checkpoints")).json()
        first = view["sections"][0]["checkpoints"][0]["key"]
    console = await open_console(browser, server, audit_id)
    await expect(console.get_by_test_id("checkpoint")).not_to_have_count(0)
    await console.evaluate(DROP_GOTO)
    await console.keyboard.press("n")  # the first checkpoint: its `goto` never reaches the server
    await expect(console.locator(f'[data-testid="checkpoint"][data-key="{first}"]')).to_have_attribute(
        "aria-current", "step", timeout=15_000
    )
    async with server.client(api_token) as http:
        assert (await http.get(f"/api/audits/{audit_id}/checkpoints")).json()["current"] == first
