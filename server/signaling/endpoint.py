"""The signaling WebSocket, /ws/audits/{audit_id}: one per participant."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from server import walkthrough
from server.api.evidence import evidence_json
from server.auth import current_user
from server.context import AppContext, ctx
from server.db import evidence_repo, repo, walkthrough_repo
from server.db.models import Audit
from server.errors import ApiError
from server.media.hub import Participant, Room
from server.media.peer import OfferError, PeerSession, answer
from server.recording import CaptureError, stored_evidence
from server.signaling import messages as m

log = logging.getLogger(__name__)

OUTBOX_SIZE = 64
JOIN_TIMEOUT_S = 15.0
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_AUDIT_CLOSED = 4409
CLOSE_TOO_SLOW = 4008
CLOSE_JOIN_TIMEOUT = 4408


class Refused(Exception):
    def __init__(self, close_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.close_code, self.code, self.message = close_code, code, message


class Connection:
    """One participant's socket: a bounded outbox drained by a writer task."""

    def __init__(self, ws: WebSocket, app: AppContext, audit: Audit) -> None:
        self.ws = ws
        self.app = app
        self.audit = audit
        self.outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(OUTBOX_SIZE)
        self.participant: Participant | None = None
        self.room: Room | None = None
        self.peer: PeerSession | None = None
        self.actor = ""
        self.consented = False
        self.location: dict[str, float] | None = None
        self.notice_sha256 = hashlib.sha256(app.settings.recording_notice.encode("utf-8")).hexdigest()
        self.tasks: set[asyncio.Task[None]] = set()
        self.writer = asyncio.create_task(self._write())

    async def send(self, message: dict[str, Any]) -> None:
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            # A client that reads nothing for 64 messages is gone: drop it rather than grow.
            log.warning("signaling client too slow, closing")
            self.writer.cancel()
            with contextlib.suppress(Exception):
                await self.ws.close(CLOSE_TOO_SLOW)

    async def _write(self) -> None:
        while (message := await self.outbox.get()) is not None:
            try:
                await self.ws.send_json(message)
            except (RuntimeError, WebSocketDisconnect, OSError):
                return

    async def run(self) -> None:
        while True:
            try:
                if self.participant is None:
                    text = await asyncio.wait_for(self.ws.receive_text(), JOIN_TIMEOUT_S)
                else:
                    text = await self.ws.receive_text()
            except TimeoutError as exc:
                raise Refused(
                    CLOSE_JOIN_TIMEOUT, "join_timeout", f"send 'join' within {JOIN_TIMEOUT_S:.0f} s"
                ) from exc
            except KeyError:  # a binary frame
                await self.send(m.error("bad_json", "binary frames are not accepted"))
                continue
            try:
                await self.handle(m.parse(text))
            except m.MessageError as exc:
                await self.send(m.error(exc.code, exc.message))

    async def handle(self, msg: m.Message) -> None:
        if isinstance(msg, m.Ping):
            await self.send({"type": "pong"})
        elif isinstance(msg, m.Join):
            await self.join(msg)
        elif self.participant is None or self.room is None:
            raise m.MessageError("not_joined", "send 'join' first")
        elif isinstance(msg, m.Consent):
            await self.consent(msg)
        elif isinstance(msg, m.Offer):
            if not self.consented:
                raise m.MessageError("consent_required", "accept the recording notice before media can flow")
            await self.offer(msg)
        elif isinstance(msg, m.Candidate):
            if self.peer is None:
                raise m.MessageError("invalid", "send an offer before candidates")
            try:
                await self.peer.add_candidate(msg.candidate)
            except (ValueError, IndexError) as exc:
                raise m.MessageError("invalid", f"bad candidate: {exc}") from exc
        elif isinstance(msg, m.Capture):
            self.start_capture(msg)
        elif isinstance(msg, m.Goto | m.Pointer | m.PhotoRequest):
            await self.direct(msg)
        elif isinstance(msg, m.MediaState):
            self.participant.audio, self.participant.video = msg.audio, msg.video
            await self.room.update(self.participant)

    async def join(self, msg: m.Join) -> None:
        if self.participant is not None:
            raise m.MessageError("invalid", "already joined")
        role, name, actor = await self.identify(msg)
        self.actor = actor
        participant = Participant(str(uuid.uuid4()), role, name, self.send, lang=msg.lang)
        room = self.app.hub.room(self.audit.id)
        self.participant, self.room = participant, room
        async with self.app.db.session() as s:
            await repo.record_event(
                s, self.audit.id, "join", actor, {"role": role, "participant": participant.id}
            )
        await self.send(
            {
                "type": "welcome",
                "participant": participant.public(),
                "audit": {
                    "id": self.audit.id,
                    "title": self.audit.title,
                    "facility": {"name": self.audit.facility_name, "country": self.audit.facility_country},
                },
                "participants": [p.public() for p in room.participants.values()],
                "ice_servers": self.app.settings.ice_servers_json(),
                "consent": {
                    "required": not await self.has_consented(actor),
                    "notice": self.app.settings.recording_notice,
                    "notice_sha256": self.notice_sha256,
                },
            }
        )
        async with self.app.db.session() as s:
            self.consented = await walkthrough_repo.has_consent(s, self.audit.id, actor, self.notice_sha256)
        await room.add(participant)
        await self.send(room.media_message())
        template = walkthrough.template_of(self.audit)
        if template is not None:
            key = self.audit.current_checkpoint
            if role == "staff":
                await self.send(walkthrough.staff_message(template, key, msg.lang))
            else:
                await self.send(walkthrough.auditor_message(template, key))

    async def identify(self, msg: m.Join) -> tuple[str, str, str]:
        """(role, display name, actor for the event log) of whoever is joining."""
        if msg.token:
            async with self.app.db.session() as s:
                invite = await repo.valid_invite(s, msg.token)
            if invite is None:
                raise Refused(
                    CLOSE_UNAUTHORIZED, "unauthorized", "this invite link is invalid, expired or revoked"
                )
            if invite.audit_id != self.audit.id:
                raise Refused(CLOSE_UNAUTHORIZED, "unauthorized", "this invite is for another audit")
            return "staff", invite.label or "Facility staff", f"invite:{invite.id}"
        user = await current_user(self.ws)
        if user is None:
            raise Refused(
                CLOSE_UNAUTHORIZED, "unauthorized", "sign in as an auditor, or join with an invite token"
            )
        return "auditor", user.name, f"user:{user.id}"

    async def offer(self, msg: m.Offer) -> None:
        assert self.participant is not None and self.room is not None
        old, self.peer = self.peer, None
        if old is not None:
            await old.close()
        try:
            session, sdp = await answer(
                self.room, self.participant.id, msg.sdp, self.app.settings.ice_servers
            )
        except OfferError as exc:
            raise m.MessageError("bad_sdp", str(exc)) from exc
        self.peer = session
        await self.send({"type": "answer", "sdp": sdp})

    async def has_consented(self, actor: str) -> bool:
        async with self.app.db.session() as s:
            return await walkthrough_repo.has_consent(s, self.audit.id, actor, self.notice_sha256)

    async def consent(self, msg: m.Consent) -> None:
        """Log that this participant accepted (or refused) the recording notice."""
        assert self.participant is not None
        if not msg.accepted:
            self.consented = False
            async with self.app.db.session() as s:
                await repo.record_event(s, self.audit.id, "consent-refused", self.actor, {})
            await self.send({"type": "consent-recorded", "accepted": False})
            return
        async with self.app.db.session() as s:
            await walkthrough_repo.add_consent(
                s,
                audit_id=self.audit.id,
                actor=self.actor,
                role=self.participant.role,
                notice_sha256=self.notice_sha256,
                location=msg.location,
            )
            await repo.record_event(
                s,
                self.audit.id,
                "consent",
                self.actor,
                {"notice_sha256": self.notice_sha256, "location": msg.location},
            )
        self.consented = True
        self.location = msg.location
        await self.send({"type": "consent-recorded", "accepted": True})

    async def direct(self, msg: m.Goto | m.Pointer | m.PhotoRequest) -> None:
        """The auditor directs the walk: next checkpoint, "point here", "take a photo"."""
        assert self.participant is not None and self.room is not None
        if self.participant.role != "auditor":
            raise m.MessageError("forbidden", "only auditors direct the walkthrough")
        if isinstance(msg, m.Goto):
            fresh = await self.fresh_audit()
            try:
                await walkthrough.goto(self.app, fresh, msg.key, self.actor)
            except ApiError as exc:
                raise m.MessageError(exc.code, exc.message) from exc
            return
        staff = [p for p in self.room.participants.values() if p.role == "staff"]
        if isinstance(msg, m.Pointer):
            out: dict[str, Any] = {"type": "pointer", "x": msg.x, "y": msg.y, "from": self.participant.name}
        else:
            out = {"type": "photo-request", "request_id": str(uuid.uuid4()), "checkpoint": msg.checkpoint}
        for p in staff:
            await p.send(out)

    async def fresh_audit(self) -> Audit:
        async with self.app.db.session() as s:
            audit = await repo.get_audit(s, self.audit.id)
        assert audit is not None
        self.audit = audit
        return audit

    def start_capture(self, msg: m.Capture) -> None:
        assert self.participant is not None
        if self.participant.role != "auditor":
            raise m.MessageError("forbidden", "only auditors can capture evidence")
        task = asyncio.create_task(self.capture(msg))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def capture(self, msg: m.Capture) -> None:
        """Run one capture; the requester gets `evidence` only once it is durable."""
        assert self.participant is not None and self.room is not None
        recorder = self.app.recorders.by_audit.get(self.audit.id)
        actor = self.actor
        key = evidence_repo.idempotency_key(actor, msg.request_id)  # a retry gets the same item
        try:
            row = await stored_evidence(self.app.db, self.audit.id, key)
            new = row is None
            if row is None:
                if recorder is None:
                    raise CaptureError("the facility camera is not live")
                row, new = await recorder.capture(msg.checkpoint, actor, key)
        except CaptureError as exc:
            await self.send(m.error("capture_failed", str(exc)) | {"request_id": msg.request_id})
            return
        item = evidence_json(row)
        if new:
            async with self.app.db.session() as s:
                await repo.record_event(
                    s, self.audit.id, "capture", actor, {"evidence": row.id, "sha256": row.sha256}
                )
        await self.send({"type": "evidence", "request_id": msg.request_id, "item": item})
        if new:
            await self.room.broadcast({"type": "captured", "item": item}, skip=self.participant.id)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.peer is not None:
            await self.peer.close()
        if self.participant is not None and self.room is not None:
            await self.app.hub.leave(self.audit.id, self.participant.id)
            with contextlib.suppress(Exception):
                async with self.app.db.session() as s:
                    await repo.record_event(
                        s, self.audit.id, "leave", self.participant.role, {"participant": self.participant.id}
                    )
        with contextlib.suppress(asyncio.QueueFull):
            self.outbox.put_nowait(None)
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(self.writer, 1.0)


async def audit_socket(ws: WebSocket) -> None:
    app = ctx(ws)
    await ws.accept()
    async with app.db.session() as s:
        audit = await repo.get_audit(s, ws.path_params["audit_id"])
    if audit is None:
        await _refuse(ws, Refused(CLOSE_NOT_FOUND, "not_found", "no such audit"))
        return
    if audit.status != "open":
        await _refuse(ws, Refused(CLOSE_AUDIT_CLOSED, "audit_closed", "this audit is completed"))
        return
    conn = Connection(ws, app, audit)
    try:
        await conn.run()
    except Refused as exc:
        await conn.send(m.error(exc.code, exc.message))
        await conn.close()
        conn = None  # type: ignore[assignment]
        with contextlib.suppress(Exception):
            await ws.close(exc.close_code, exc.message)
    except WebSocketDisconnect:
        pass
    finally:
        if conn is not None:
            await conn.close()
            if ws.client_state != WebSocketState.DISCONNECTED:
                with contextlib.suppress(Exception):
                    await ws.close()


async def _refuse(ws: WebSocket, exc: Refused) -> None:
    with contextlib.suppress(Exception):
        await ws.send_json(m.error(exc.code, exc.message))
        await ws.close(exc.close_code, exc.message)


routes = [WebSocketRoute("/ws/audits/{audit_id}", audit_socket)]
