"""Photos survive the link, in real Chromium: a photo taken while uploads fail waits in the
phone's IndexedDB with the SHA-256 the phone computed, the console says it is queued, and
when the link is back it arrives with that same hash (also after a reload of the page).

The faults are the browser's own: offline emulation (uploads and the signaling socket stop;
the page sees `offline`, then `online`), and an aborted upload request while signaling works
(the phone retries with back-off). A photo still queued when the audit is completed stays on
the phone, which says so and saves it as a file with the same bytes."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, Route, expect

from tests.e2e.test_guided import live_guided_pair
from tests.support import LiveServer

pytestmark = pytest.mark.e2e

UPLOADS = "**/api/audits/*/photos"
ARRIVAL_MS = 60_000  # generous: the queue's back-off between attempts is at most 25 s

# What the phone keeps: every queued photo's record and its bytes, read from IndexedDB.
QUEUED = """async () => {
  const db = await new Promise((ok, no) => {
    const r = indexedDB.open('vaudit-photos');
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
  const read = (store, key) => new Promise((ok, no) => {
    const s = db.transaction(store).objectStore(store);
    const r = key === undefined ? s.getAll() : s.get(key);
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
  const out = [];
  for (const meta of await read('meta')) {
    const bytes = new Uint8Array(await read('bytes', meta.id));
    let text = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    out.push({ ...meta, data: btoa(text) });
  }
  db.close();
  return out;
}"""


async def abort(route: Route) -> None:
    await route.abort()


async def photos(http: httpx.AsyncClient, audit_id: str) -> list[dict[str, Any]]:
    r = await http.get(f"/api/audits/{audit_id}/evidence", params={"kind": "photo"})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def ask_for_a_photo(console: Page, staff: Page) -> None:
    await console.get_by_test_id("request-photo").click()
    await expect(staff.get_by_test_id("photo-prompt"), "the phone was not asked").to_be_visible(
        timeout=10_000
    )


async def take_photo_while_failing(console: Page, staff: Page, *, reported: bool) -> dict[str, Any]:
    """Take the photo asked for; it is kept on the phone (and the console hears of it when the
    signaling socket is up: ``reported``). Returns the phone's record."""
    await staff.get_by_test_id("take-photo").click()
    await expect(staff.get_by_test_id("photo-state")).to_contain_text("saved on this phone", timeout=20_000)
    await expect(staff.get_by_test_id("photo-queue-state")).to_have_text("1 photo waiting to upload")
    if reported:
        queued = console.get_by_test_id("photo-queue")
        await expect(queued, "the console never heard of the queued photo").to_contain_text(
            "1 photo queued on the phone", timeout=10_000
        )
        await expect(queued).to_have_attribute("data-count", "1")
    records = await staff.evaluate(QUEUED)
    assert len(records) == 1, f"the phone's IndexedDB holds {len(records)} photos, not 1"
    record: dict[str, Any] = records[0]
    # The phone's hash is over the exact bytes it keeps (and will send).
    assert hashlib.sha256(base64.b64decode(record["data"])).hexdigest() == record["sha256"]
    return record


async def arrived_intact(
    server: LiveServer, api_token: str, audit_id: str, console: Page, staff: Page, record: dict[str, Any]
) -> None:
    """The photo reached the server with the phone's hash and times; both queues are empty."""
    items = console.locator('[data-testid="evidence-item"][data-kind="photo"]')
    await expect(items, "the queued photo never reached the console").to_have_count(1, timeout=ARRIVAL_MS)
    await expect(console.get_by_test_id("photo-queue")).to_be_hidden(timeout=10_000)
    await expect(staff.get_by_test_id("photo-queue-state")).to_be_hidden(timeout=10_000)
    assert await staff.evaluate(QUEUED) == [], "the phone kept a photo the server acknowledged"
    async with server.client(api_token) as http:
        [item] = await photos(http, audit_id)
        image = await http.get(item["image_url"])
    assert item["sha256"] == item["device_sha256"] == record["sha256"]
    assert hashlib.sha256(image.content).hexdigest() == record["sha256"]
    assert item["device_time"] == record["takenAt"]
    assert item["checkpoint"] == record["checkpoint"]
    assert item["captured_at"] > record["takenAt"], "the server's receive time is not after the capture"


async def test_a_photo_taken_offline_waits_on_the_phone_and_arrives_with_its_hash(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    audit_id, checkpoints, console, staff = await live_guided_pair(server, api_token, browser)
    await expect(console.get_by_test_id("photo-queue")).to_be_hidden()
    await console.keyboard.press("n")
    await expect(staff.get_by_test_id("staff-instruction")).to_contain_text(checkpoints[0]["instruction"])

    await ask_for_a_photo(console, staff)
    # Offline: the browser's emulation also stops the signaling socket, so only the phone knows.
    await staff.context.set_offline(True)
    record = await take_photo_while_failing(console, staff, reported=False)
    assert record["checkpoint"] == checkpoints[0]["key"]
    async with server.client(api_token) as http:
        assert await photos(http, audit_id) == []
    await staff.context.set_offline(False)
    await arrived_intact(server, api_token, audit_id, console, staff, record)


async def photo_stuck_on_the_phone(
    server: LiveServer, api_token: str, browser: Browser
) -> tuple[str, Page, Page, dict[str, Any]]:
    """A live pair whose phone took the requested photo while uploads fail and signaling works
    (a link too thin for a photo): (audit id, console, phone, the photo's record)."""
    audit_id, _, console, staff = await live_guided_pair(server, api_token, browser)
    await staff.route(UPLOADS, abort)
    await ask_for_a_photo(console, staff)
    return audit_id, console, staff, await take_photo_while_failing(console, staff, reported=True)


async def test_a_queued_photo_survives_a_reload_of_the_invite_link(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    audit_id, console, staff, record = await photo_stuck_on_the_phone(server, api_token, browser)

    await staff.reload()
    # Before the person presses Start again, the page knows what waits and says so.
    await expect(staff.get_by_test_id("photo-queue-state")).to_have_text(
        "1 photo waiting to upload", timeout=15_000
    )
    await expect(console.get_by_test_id("photo-queue")).to_have_attribute("data-count", "1")
    await staff.unroute(UPLOADS, abort)
    await arrived_intact(server, api_token, audit_id, console, staff, record)

    # A file the server can never take leaves the queue, and the person is told why.
    await staff.get_by_test_id("photo-input").set_input_files(
        files=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"not a picture at all"}]
    )
    await expect(staff.get_by_test_id("photo-queue-state")).to_have_text(
        "A waiting photo was not accepted: That file is not a picture. Take the photo again.", timeout=15_000
    )
    await expect(staff.get_by_test_id("photo-queue-state")).to_have_attribute("data-tone", "error")
    assert await staff.evaluate(QUEUED) == [], "the phone kept a photo the server can never take"
    async with server.client(api_token) as http:
        assert [item["sha256"] for item in await photos(http, audit_id)] == [record["sha256"]]


async def test_a_photo_still_queued_when_the_audit_ends_stays_on_the_phone_to_be_saved(
    server: LiveServer, api_token: str, browser: Browser
) -> None:
    audit_id, console, staff, record = await photo_stuck_on_the_phone(server, api_token, browser)

    # Completing with a photo still on the phone is not done by accident: the dialog says so
    # and a written reason is required.
    await console.get_by_test_id("complete-audit").click()
    queued = console.get_by_test_id("complete-queued")
    await expect(queued, "the completion dialog did not mention the queued photo").to_contain_text(
        "1 photo taken on the facility phone has not reached the server (Linh: 1", timeout=10_000
    )
    await console.get_by_test_id("complete-confirm").click()
    await expect(console.get_by_test_id("complete-dialog-error")).to_contain_text("Write a reason")
    reason = "The yard's network failed; the facility e-mails the photo."
    await console.get_by_test_id("complete-reason-photos_queued").fill(reason)
    await console.get_by_test_id("complete-confirm").click()
    await expect(console.get_by_test_id("outcome"), "the audit was not completed").to_be_visible(
        timeout=10_000
    )

    # The phone stops sending, keeps the photo and says why, in its language.
    stranded = staff.get_by_test_id("photo-stranded")
    await expect(stranded, "the phone did not show the photo it could not send").to_contain_text(
        "1 photo could not be sent: the audit is closed.", timeout=15_000
    )
    await expect(stranded).to_have_attribute("data-reason", "closed")
    await expect(stranded).to_be_visible()
    await expect(staff.get_by_test_id("photo-queue-state")).to_be_hidden()
    [kept] = await staff.evaluate(QUEUED)
    assert (kept["sha256"], kept["stranded"]) == (record["sha256"], "closed")
    assert hashlib.sha256(base64.b64decode(kept["data"])).hexdigest() == record["sha256"]

    # "Save to this phone" hands over the very bytes taken, named by capture time and hash.
    async with staff.expect_download(timeout=15_000) as saving:
        await staff.get_by_test_id("save-photos").click()
    download = await saving.value
    taken = dt.datetime.fromisoformat(record["takenAt"].replace("Z", "+00:00"))
    stamp = taken.strftime("%Y-%m-%d_%H-%M-%S")
    ext = record["type"].split("/")[1].replace("jpeg", "jpg")  # as the camera gave it
    assert download.suggested_filename == f"photo-{stamp}Z-{record['sha256'][:12]}.{ext}"
    saved = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert hashlib.sha256(saved).hexdigest() == record["sha256"], "the saved file is not the photo taken"
    await expect(staff.get_by_test_id("stranded-photo")).to_have_count(1)

    # Opened again later, the link says the audit is finished and still offers the photo.
    # (A new tab on the same phone; the audit may still be sealing: it is finished all the same.)
    later = await staff.context.new_page()
    await later.goto(staff.url)
    await staff.close()
    stranded = later.get_by_test_id("photo-stranded")
    await expect(later.get_by_test_id("link-problem")).to_have_attribute("data-code", "audit_completed")
    await expect(stranded, "the finished link's page forgot the photo").to_contain_text(
        "1 photo could not be sent: the audit is closed.", timeout=15_000
    )
    assert [item["sha256"] for item in await later.evaluate(QUEUED)] == [record["sha256"]]
    async with later.expect_download(timeout=15_000) as saving:
        await later.get_by_test_id("save-photos").click()
    again = await (await saving.value).path()
    assert hashlib.sha256(await asyncio.to_thread(Path(again).read_bytes)).hexdigest() == record["sha256"]

    # Once saved, the photo can be removed from the page (it counts against its storage),
    # after the person confirms.
    later.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await later.get_by_test_id("discard-photos").click()
    await expect(stranded, "the removed photo is still offered").to_be_hidden()
    assert await later.evaluate(QUEUED) == [], "the removed photo is still stored on the phone"

    async with server.client(api_token) as http:
        assert await photos(http, audit_id) == []
        entries = (await http.get(f"/api/audits/{audit_id}/ledger")).json()["entries"]
    sealed = entries[-1]["data"]["outcome"]
    assert [(r["key"], r["reason"]) for r in sealed["reasons"]] == [("photos_queued", reason)]
