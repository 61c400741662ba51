"""Recovery benchmark: time from a phone's link returning to new video at the auditor.

    sudo .venv/bin/python bench/network.py [--short 5] [--long 5] [--short-s 10] [--long-s 60] [--switches 5]

Needs root. Builds the test bed of the browser tests (tests/netbed.py): the server listens
on an address of its own, the auditor's Chromium runs in the root namespace and the phone's
Chromium (fake camera, generated clip) in its own network namespace behind a veth pair.
One session: ``--short`` drops of ``--short-s`` seconds, then ``--long`` drops of
``--long-s`` seconds, alternating the end of the link taken down (the phone's interface,
then the far end: the phone sees nothing). Between drops the video must flow again (30 new
frames) before the next one.

For each drop: from ``ip link set … up`` returning to the first frame the auditor's
Chromium decodes after it (``framesDecoded`` of its inbound video, polled every 50 ms),
and how long the phone took to notice the drop (its page shows `reconnecting` with its
signaling socket given up). Then ``--switches`` network switches (``bed.change_address()``:
a new veth pair and address, the old one gone; nothing tells the page): from the new address
being up to the third frame the auditor decodes from the phone's new peer connection, and
when the phone gave its socket up. Markdown goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.async_api import async_playwright, expect

from tests.e2e.conftest import write_y4m
from tests.e2e.test_network_recovery import FRAMES, Switch, phone_notices, switch_network, wait_frames
from tests.e2e.test_walkthrough import open_console, open_staff
from tests.netbed import launch_chromium, missing_reason, netbed
from tests.support import live_server, new_audit, new_invite

GIVE_UP_S = 60.0  # a drop whose video is not back by then counts as a failure


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


Result = tuple[float, str, float, float]  # (drop s or 0 for a switch, side, noticed s, back s)


async def run(short: int, long: int, short_s: float, long_s: float, switches: int) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp_name, netbed() as bed:
        tmp = Path(tmp_name)
        clip = write_y4m(tmp / "camera.y4m")
        async with live_server(tmp / "data", host=bed.server_host) as server:
            token = await server.create_user()
            async with async_playwright() as p:
                auditor_browser = await launch_chromium(p, clip, server.base_url)
                phone_browser = await launch_chromium(p, clip, server.base_url, bed, tmp)
                try:
                    async with server.client(token) as http:
                        audit_id = await new_audit(http, "Bench Yard")
                        invite = await new_invite(http, audit_id)
                    console = await open_console(auditor_browser, server, audit_id)
                    phone = await open_staff(phone_browser, invite["url"])
                    await expect(console.get_by_test_id("connection-state")).to_have_attribute(
                        "data-state", "connected", timeout=30_000
                    )
                    plan = [short_s] * short + [long_s] * long
                    for i, seconds in enumerate(plan):
                        side = "phone" if i % 2 == 0 else "server"
                        before = int(await console.evaluate(FRAMES))
                        await wait_frames(console, before, 30, 20, f"run {i + 1}: video before the drop")
                        down_at = time.monotonic()
                        bed.link_down(side=side)
                        noticed = await phone_notices(phone, 15, f"run {i + 1}: noticing")
                        await asyncio.sleep(max(0.0, down_at + seconds - time.monotonic()))
                        stalled = int(await console.evaluate(FRAMES))
                        bed.link_up()
                        back = await wait_frames(console, stalled, 1, GIVE_UP_S, f"run {i + 1}: resuming")
                        results.append((seconds, side, noticed, back))
                        log(f"drop {seconds:.0f} s ({side}): noticed {noticed:.1f} s, video {back:.2f} s")
                    for i in range(switches):
                        before = int(await console.evaluate(FRAMES))
                        await wait_frames(console, before, 30, 20, f"switch {i + 1}: video before it")
                        switch: Switch = await switch_network(
                            bed, phone, console, GIVE_UP_S, f"switch {i + 1}"
                        )
                        results.append((0.0, "switch", switch.noticed, switch.seconds))
                        log(f"switch {i + 1}: {switch.line()}")
                finally:
                    await phone_browser.close()
                    await auditor_browser.close()
    return results


def table(results: list[Result]) -> str:
    lines = [
        "| drop | runs | video back after the link returns: median | worst | phone noticed the drop: worst |",
        "|---|---|---|---|---|",
    ]
    for seconds in sorted({r[0] for r in results}):
        rows = [r for r in results if r[0] == seconds]
        back = [r[3] for r in rows]
        label = f"{seconds:.0f} s" if seconds else "network switch"
        lines.append(
            f"| {label} | {len(rows)} | {statistics.median(back):.2f} s | {max(back):.2f} s "
            f"| {max(r[2] for r in rows):.1f} s |"
        )
    lines.append("")
    lines.append("| drop | side taken down | phone noticed | video back |")
    lines.append("|---|---|---|---|")
    lines.extend(
        f"| {f'{r[0]:.0f} s' if r[0] else 'switch'} | {r[1]} | {r[2]:.1f} s | {r[3]:.2f} s |" for r in results
    )
    return "\n".join(lines)


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--short", type=int, default=5, help="number of short drops")
    parser.add_argument("--long", type=int, default=5, help="number of long drops")
    parser.add_argument("--short-s", type=float, default=10.0)
    parser.add_argument("--long-s", type=float, default=60.0)
    parser.add_argument("--switches", type=int, default=5, help="number of network switches")
    args = parser.parse_args()
    reason = missing_reason()
    if reason:
        sys.exit(reason)
    results = asyncio.run(run(args.short, args.long, args.short_s, args.long_s, args.switches))
    print(table(results))


if __name__ == "__main__":
    main()
