"""``virtual-audit demo``: a live audit on this machine within a minute, no phone needed."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import ssl

import click
import uvicorn
import websockets
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import datadir
from server.checklists import builtin_templates
from server.cli import uvicorn_config
from server.db import org_repo, repo
from server.db.engine import open_database
from server.db.models import Audit
from server.facilities import NewFacility, find_or_create
from server.media.client import ParticipantClient
from server.policy import OrgKind
from server.settings import Settings
from server.simcam import SceneTrack, ToneTrack
from server.walkthrough import DEFAULT_TEMPLATE

log = logging.getLogger(__name__)

DEMO_EMAIL = "demo@virtual-audit.example"
DEMO_PASSWORD = "demo-auditor"
DEMO_FACILITY = "Demo Garment Factory No. 3"
CAMERA_LABEL = "Simulated camera"
# The other parties of the repository, so each role's view can be tried: (org, kind, role, email, password)
DEMO_PARTIES = (
    ("Demo Association", OrgKind.ASSOCIATION, "admin", "admin@virtual-audit.example", "demo-admin"),
    ("Demo Importer", OrgKind.MEMBER, "member", "buyer@virtual-audit.example", "demo-member"),
    ("Demo Customs", OrgKind.AGENCY, "agency", "customs@virtual-audit.example", "demo-agency"),
)


async def seed_parties(s: AsyncSession) -> None:
    """The association's admin, a member importer and the customs agency (once per data dir)."""
    names = {o.name for o in await org_repo.list_orgs(s)}
    for org, kind, role, email, password in DEMO_PARTIES:
        if org not in names:
            await org_repo.create_org(s, kind, org)
        if await repo.user_by_email(s, email) is None:
            await repo.create_user(s, email, f"Demo {role}", password, org, role)


async def prepare(settings: Settings) -> tuple[str, str]:
    """Make sure the demo auditor and audit exist; return (audit id, a fresh invite token)."""
    datadir.prepare(settings.data_dir)
    db = await open_database(settings.database_url)
    try:
        async with db.session() as s:
            user = await repo.user_by_email(s, DEMO_EMAIL)
            if user is None:
                user = await repo.create_user(
                    s, DEMO_EMAIL, "Demo Auditor", DEMO_PASSWORD, org_repo.DEFAULT_FIRM, "auditor"
                )
            await seed_parties(s)
            actor = await org_repo.actor_for_user(s, user.id)
            assert actor is not None
            audit = (
                (
                    await s.execute(
                        select(Audit).where(Audit.facility_name == DEMO_FACILITY, Audit.status == "open")
                    )
                )
                .scalars()
                .first()
            )
            if audit is None:
                template = builtin_templates()[DEFAULT_TEMPLATE]
                site = NewFacility(DEMO_FACILITY, "VN", "Lot 12, Demo Industrial Park, Binh Duong")
                audit = await repo.create_audit(
                    s,
                    actor,
                    title="CTPAT site walkthrough (demo)",
                    facility=(await find_or_create(s, site, actor))[0],
                    template_key=template.key,
                    template_snapshot=template.to_dict(),
                )
            for old in await repo.list_invites(s, audit.id):
                if old.label == CAMERA_LABEL:
                    await repo.revoke_invite(s, audit.id, old.id)
            _, token = await repo.create_invite(
                s, audit, actor, label=CAMERA_LABEL, ttl=dt.timedelta(hours=12)
            )
            return audit.id, token
    finally:
        await db.close()


async def run_camera(settings: Settings, audit_id: str, token: str) -> None:
    """Keep the simulated facility phone connected, reconnecting like a real one would."""
    scheme = "wss" if settings.tls else "ws"
    url = f"{scheme}://127.0.0.1:{settings.port}/ws/audits/{audit_id}"
    context = None
    if settings.tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # our own server on loopback
    while True:
        client = ParticipantClient(
            url, token=token, video=SceneTrack(), audio=ToneTrack(), ssl_context=context
        )
        try:
            await client.connect()
            while client.pc is not None and client.pc.connectionState not in ("failed", "closed"):  # noqa: ASYNC110
                await asyncio.sleep(1)
        except (TimeoutError, OSError, ConnectionError, websockets.ConnectionClosed) as exc:
            if "audit_completed" in str(exc) or "completed" in str(exc):
                click.echo("The demo audit is completed; the simulated camera has stopped.")
                return
            log.warning("simulated camera: %s; retrying", exc)
        finally:
            await client.close()
        await asyncio.sleep(2)


async def run_demo(settings: Settings) -> None:
    audit_id, token = await prepare(settings)
    server = uvicorn.Server(uvicorn_config(settings))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
            return
        await asyncio.sleep(0.05)
    base = (
        f"{settings.scheme}://{settings.host if settings.host != '0.0.0.0' else '127.0.0.1'}:{settings.port}"
    )
    others = "".join(f"            {email} / {pw}  ({role})\n" for _, _, role, email, pw in DEMO_PARTIES)
    click.echo(
        "\nvirtual-audit demo is running.\n"
        f"  Console:  {base}/audits/{audit_id}\n"
        f"  Sign in:  {DEMO_EMAIL} / {DEMO_PASSWORD}  (the audit firm's lead auditor)\n"
        f"{others}"
        "  Members see an audit once it is completed and shared from its report; customs once completed.\n"
        "  A simulated facility camera is streaming into the audit.\n"
        "  Join from a phone yourself: create an invite on the console.\n"
        "Press Ctrl+C to stop.\n"
    )
    camera = asyncio.create_task(run_camera(settings, audit_id, token))
    try:
        await serving
    finally:
        camera.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await camera
