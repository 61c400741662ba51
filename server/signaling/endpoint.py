"""The signaling WebSocket, /ws/audits/{audit_id}: one per participant."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected, WebSocketState

from server import i18n, walkthrough
from server.access import audit_and_facts
from server.auth import cookie_authenticated, current_actor
from server.checklists import language_code
from server.context import AppContext, ctx
from server.csrf import same_origin
from server.db import evidence_repo, repo, walkthrough_repo
from server.db.access_repo import facts as access_facts
from server.db.models import Audit
from server.errors import ApiError
from server.evidence_service import capture_evidence
from server.logging_setup import escape
from server.media.candidates import CandidateRefused, loopback_only
from server.media.hub import MAX_CAMERAS, Participant, Room, TooManyCameras
from server.media.peer import OfferError, PeerSession, answer
from server.media.uplink import UplinkMonitor
from server.policy import Action, Actor, Decision, decide
from server.signaling import directing, staff_controls, uplink_signals
from server.signaling import messages as m
from server.signaling.heartbeat import CLOSE_NO_HEARTBEAT, Heartbeat
from server.signaling.ice import welcome_ice
from server.signaling.outbox import Outbox, SlowReader
from server.signaling.ratelimit import MessageLimits
from server.views import evidence_json

log = logging.getLogger(__name__)

JOIN_TIMEOUT_S = 15.0
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_AUDIT_CLOSED = 4409
CLOSE_TOO_SLOW = 4008
CLOSE_JOIN_TIMEOUT = 4408
CLOSE_TOO_MANY_CAMERAS = 4429
CLOSE_INTERNAL = 1011
CLOSE_REPLACED = 4412


class Refused(Exception):
    def __init__(self, close_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.close_code, self.code, self.message = close_code, code, message


class JoinSteps:
    """How long each step of a join took; a slow join is logged, step by step.

    A client waits for its `welcome` without an answer to its pings, so a join that takes
    seconds looks like a dead link to it (docs/protocol.md, "Heartbeat").
    """

    SLOW_S = 2.0
    STILL_S = 5.0  # a join not done by then is logged at once, with the steps done so far

    def __init__(self, audit_id: str) -> None:
        self.audit_id = audit_id
        self.start = self.last = time.monotonic()
        self.steps: list[tuple[str, float]] = []
        self._still = asyncio.get_running_loop().call_later(self.STILL_S, self._still_waiting)

    def done(self, step: str) -> None:
        now = time.monotonic()
        self.steps.append((step, now - self.last))
        self.last = now

    def _took(self) -> str:
        return ", ".join(f"{step} {seconds:.2f} s" for step, seconds in self.steps) or "no step"

    def _still_waiting(self) -> None:
        log.warning(
            "a join to audit %s is still under way after %.1f s; done so far: %s",
            self.audit_id,
            self.STILL_S,
            self._took(),
        )

    def report(self, role: str) -> None:
        self.stop()
        total = self.last - self.start
        if total >= self.SLOW_S:
            log.warning("a %s's join to audit %s took %.1f s: %s", role, self.audit_id, total, self._took())

    def stop(self) -> None:
        self._still.cancel()


class Connection:
    """One participant's socket: a bounded outbox drained by a writer task."""

    def __init__(
        self, ws: WebSocket, app: AppContext, audit_id: str, audit: Audit | None, actor: Actor | None
    ) -> None:
        self.ws = ws
        self.app = app
        self.audit_id = audit_id
        # A signed-in user's audit is known (and allowed) on connect; a phone's comes with its invite.
        self._audit = audit
        self.user = actor
        self.user_id = actor.user_id if actor else None
        self.credential_id = actor.credential_id if actor else None
        self.invite_id: str | None = None
        self.invite_expires: dt.datetime | None = None
        self.may_run = False
        self.closed = False
        self.outbox = Outbox()
        self.heartbeat = Heartbeat(self.push)
        self.limits = MessageLimits()
        self.uplink = UplinkMonitor()
        self.participant: Participant | None = None
        self.room: Room | None = None
        self.peer: PeerSession | None = None
        self.actor = ""
        self.device: str | None = None
        self.opened: int | None = None  # when the phone's page opened this socket (its join says)
        self.join_logged = False
        self.consented = False
        self.refused = False
        self.location: dict[str, float] | None = None
        self.on_screen: int | None = None  # the camera on this auditor's large view (`select-camera`)
        self.allow_loopback = loopback_only(app.settings.host)
        self.tasks: set[asyncio.Task[None]] = set()
        self.closing: asyncio.Task[None] | None = None
        self.writer = asyncio.create_task(self._write())

    @property
    def audit(self) -> Audit:
        assert self._audit is not None, "the audit is known once the participant has joined"
        return self._audit

    @audit.setter
    def audit(self, value: Audit) -> None:
        self._audit = value

    async def disconnect(self, code: int, reason: str, notice: dict[str, Any]) -> None:
        """End this participant's session from outside (revocation, completion): say why, close."""
        with contextlib.suppress(SlowReader):
            self.outbox.put_nowait(notice)
        await self.close()
        with contextlib.suppress(Exception):
            await self.ws.close(code, reason)

    async def send(self, message: dict[str, Any]) -> None:
        """Reply to this client; waits while its outbox is full (:class:`SlowReader` if it stays full)."""
        await self.outbox.put(message)

    async def push(self, message: dict[str, Any]) -> None:
        """A message from elsewhere (the room, another participant): never waits."""
        try:
            self.outbox.put_nowait(message)
        except SlowReader as exc:
            self.drop_slow_reader(exc)

    def drop_slow_reader(self, exc: SlowReader) -> None:
        if self.closing is not None:
            return
        log.warning("signaling client stopped reading (%s); closing with %d", exc, CLOSE_TOO_SLOW)
        self.writer.cancel()
        self.closing = asyncio.create_task(self._close_socket(CLOSE_TOO_SLOW))

    async def _close_socket(self, code: int) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code)

    async def _write(self) -> None:
        while (message := await self.outbox.get()) is not None:
            try:
                await self.ws.send_json(message)
            except (RuntimeError, WebSocketDisconnect, OSError):
                return

    async def run(self) -> None:
        while True:
            try:
                text = await self.receive()
            except RuntimeError:
                if self.closing is not None:  # closed as a slow reader from another task
                    return
                raise
            self.heartbeat.heard()
            if text is not None:
                await self.dispatch(text)

    async def receive(self) -> str | None:
        """The next text frame; None for a binary frame (answered with an error)."""
        joined = self.participant is not None
        try:
            # Before `join`, its deadline; after, the heartbeat's: a dead link shows as silence.
            limit = self.heartbeat.remaining_s() if joined else JOIN_TIMEOUT_S
            return await asyncio.wait_for(self.ws.receive_text(), limit)
        except TimeoutError as exc:
            if joined:
                raise Refused(
                    CLOSE_NO_HEARTBEAT,
                    "heartbeat_timeout",
                    f"nothing heard for {self.heartbeat.dead_after_s:.0f} s",
                ) from exc
            raise Refused(
                CLOSE_JOIN_TIMEOUT, "join_timeout", f"send 'join' within {JOIN_TIMEOUT_S:.0f} s"
            ) from exc
        except KeyError:  # a binary frame
            await self.answer_malformed(m.error("bad_json", "binary frames are not accepted"))
            return None

    async def dispatch(self, text: str) -> None:
        """Parse, rate-limit and handle one frame; every refusal is an `error` reply."""
        try:
            msg = m.parse(text)
        except m.MessageError as exc:
            await self.answer_malformed(m.error(exc.code, exc.message))
            return
        # The first join is free: a socket joins once, and it is not the client's to budget.
        first_join = isinstance(msg, m.Join) and self.participant is None
        wait = 0.0 if first_join else self.limits.wait(message_type(msg))
        if wait > 0:
            await self.send(m.rate_limited(wait))
            return
        try:
            await self.handle(msg)
        except m.MessageError as exc:
            await self.send(m.error(exc.code, exc.message))
        except CandidateRefused as exc:
            await self.send(m.error(exc.code, exc.message))

    async def answer_malformed(self, reply: dict[str, Any]) -> None:
        """Send ``reply`` to a frame that is no message, or ``rate_limited`` past that allowance."""
        wait = self.limits.wait("malformed")
        await self.send(m.rate_limited(wait) if wait > 0 else reply)

    async def handle(self, msg: m.Message) -> None:
        if isinstance(msg, m.Ping):
            await self.send({"type": "pong"})
        elif isinstance(msg, m.Pong):
            pass  # heard: that is all a pong is for
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
                await self.peer.add_candidate(msg.candidate, self.allow_loopback)
            except CandidateRefused:
                raise
            except ValueError as exc:
                raise m.MessageError("invalid", f"bad candidate: {exc}") from exc
        elif isinstance(msg, m.Capture):
            self.start_capture(msg)
        elif isinstance(msg, m.SelectCamera):
            self.select_camera(msg)
        elif isinstance(msg, m.Goto | m.Pointer | m.PhotoRequest):
            await self.direct(msg)
        elif isinstance(msg, m.PhotoDeclined):
            await staff_controls.photo_declined(self.room, self.participant, msg)
        elif isinstance(msg, m.PhotoQueue):
            await staff_controls.photo_queue(self.app, self.audit.id, self.room, self.participant, msg)
        elif isinstance(msg, m.Pause):
            await staff_controls.set_paused(
                self.app, self.audit.id, self.actor, self.room, self.participant, msg.paused
            )
        elif isinstance(msg, m.UplinkStats):
            peer, participant = self.peer, self.participant
            if reply := await uplink_signals.uplink_stats(self.uplink, self.room, participant, peer, msg):
                await self.send(reply)
        elif isinstance(msg, m.PhotoMode):
            switch = uplink_signals.PhotoModeSwitch(self.audit.id, self.actor, self.may_run, self.on_screen)
            await uplink_signals.set_photo_mode(self.app, switch, self.room, self.participant, msg)
        elif isinstance(msg, m.MediaState):
            self.participant.audio, self.participant.video = msg.audio, msg.video
            await self.room.update(self.participant)

    async def join(self, msg: m.Join) -> None:
        if self.participant is not None:
            raise m.MessageError("invalid", "already joined")
        steps = JoinSteps(self.audit_id)
        try:
            await self._join(msg, steps)
        finally:
            steps.stop()

    async def _join(self, msg: m.Join, steps: JoinSteps) -> None:
        role, name, actor = await self.identify(msg)
        steps.done("identify")
        self.actor, self.device, self.opened = actor, msg.device, msg.opened
        lang = language_code(msg.lang) if msg.lang else None
        if role == "staff" and self.device:
            await self.replace_earlier()
            steps.done("replace earlier socket")
        key = f"{actor} {msg.device or ''}" if role == "staff" else None
        participant = Participant(str(uuid.uuid4()), role, name, self.push, lang=lang, key=key)
        room = self.app.hub.room(self.audit.id)
        if role == "staff":
            participant.camera = self.check_camera_free(room, key)
        self.participant, self.room = participant, room
        self.consented = await self.has_consented(actor)
        steps.done("consent lookup")
        await self.log_join(role, participant.id)
        steps.done("ledger")
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
                **await welcome_ice(self.app, participant.id, self.invite_expires, self.credential_id),
                "consent": self.consent_offer(msg.lang),
            }
        )
        try:
            await room.add(participant)
        except TooManyCameras as exc:
            self.participant = self.room = None
            raise Refused(CLOSE_TOO_MANY_CAMERAS, "too_many_cameras", str(exc)) from exc
        self.heartbeat.start()
        steps.done("welcome")
        steps.report(role)
        await self.send(room.media_message())
        for camera in sorted(room.photo_cameras):  # a phone hears of its own camera only
            if role == "auditor" or camera == participant.camera:
                await self.send(room.photo_mode_message(camera))
        template = walkthrough.template_of(self.audit)
        if template is not None:
            key = self.audit.current_checkpoint
            if role == "staff":
                await self.send(walkthrough.staff_message(template, key, msg.lang))
            else:
                await self.send(walkthrough.auditor_message(template, key))
        if role == "auditor":
            await self.send(room.cameras_message())

    @staticmethod
    def check_camera_free(room: Room, key: str | None) -> int:
        """The camera number a phone will get; refused before its welcome when none is free."""
        try:
            return room.camera_for(key)
        except TooManyCameras as exc:
            raise Refused(
                CLOSE_TOO_MANY_CAMERAS,
                "too_many_cameras",
                f"{MAX_CAMERAS} phones are already filming this audit; one must leave before another joins",
            ) from exc

    def select_camera(self, msg: m.SelectCamera) -> None:
        """An auditor says which camera is on its large view: pointer and capture go to it."""
        assert self.participant is not None
        if self.participant.role != "auditor":
            raise m.MessageError("forbidden", "only auditors select the camera on screen")
        self.on_screen = msg.camera

    async def replace_earlier(self) -> None:
        """This phone is back on a new socket: end its old one now rather than keep a ghost
        in the room until the heartbeat notices (same audit, invite and device)."""
        earlier = [
            c
            for c in self.app.sockets.open
            if isinstance(c, Connection)
            and c is not self
            and c.participant is not None
            and (c.audit_id, c.invite_id, c.device) == (self.audit_id, self.invite_id, self.device)
        ]
        if self.opened is not None and any(c.opened is not None and c.opened > self.opened for c in earlier):
            # Two joins of one phone ended out of order (e.g. a socket the page opened before a
            # reload, whose join the server finished last): this one is the stale one.
            raise Refused(CLOSE_REPLACED, "replaced", "this phone is already connected on a newer connection")
        for old in earlier:
            log.info("phone rejoined audit %s on a new socket; closing its old one", self.audit_id)
            notice = m.error("replaced", "this phone joined again on a newer connection")
            await old.disconnect(CLOSE_REPLACED, "replaced", notice)

    async def log_join(self, role: str, participant_id: str) -> None:
        """Ledger entry for this join, unless this person's reconnects are being coalesced.

        A join held back also holds back its leave; the next join that is written says how
        many join/leave pairs were not, so a reconnect loop cannot fill the ledger.
        """
        held = self.app.ledger_throttle.admit(self.audit.id, self.actor, "join")
        if held is None:
            log.info("reconnects of %s to audit %s coalesced", escape(self.actor), self.audit.id)
            return
        data: dict[str, Any] = {"role": role, "participant": participant_id}
        if held:
            data["reconnects_not_logged"] = held
        async with self.app.db.session() as s:
            await repo.record_event(s, self.audit.id, "join", self.actor, data)
        self.join_logged = True

    async def identify(self, msg: m.Join) -> tuple[str, str, str]:
        """(role, display name, actor for the event log) of whoever is joining.

        An invite that is invalid, or for another audit, is refused the same way whether
        or not the audit of the path exists: the socket reveals nothing about audit ids.
        """
        if msg.token:
            async with self.app.db.session() as s:
                invite = await repo.valid_invite(s, msg.token) if len(msg.token) <= 200 else None
                audit = await repo.get_audit(s, self.audit_id) if invite else None
            if invite is None or audit is None or invite.audit_id != self.audit_id:
                raise Refused(
                    CLOSE_UNAUTHORIZED, "unauthorized", "this invite link is invalid, expired or revoked"
                )
            if audit.status != "open" or self.audit_id in self.app.sockets.sealing:
                raise Refused(CLOSE_AUDIT_CLOSED, "audit_completed", "this audit is finished. Thank you.")
            self.audit, self.invite_id, self.invite_expires = audit, invite.id, invite.expires_at
            self.user_id = self.credential_id = None  # a phone is its invite, whoever's browser it is
            return "staff", invite.label or "Facility staff", f"invite:{invite.id}"
        if self.user is None or self._audit is None:
            raise Refused(
                CLOSE_UNAUTHORIZED, "unauthorized", "sign in as an auditor, or join with an invite token"
            )
        return "auditor", self.user.name, self.user.label()

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

    def consent_offer(self, lang: str | None) -> dict[str, Any]:
        """The `welcome`'s consent part: the notice in the phone's language, and in every other.

        The page may switch language before its person accepts; the `consent` names the
        language read, and the server logs the hash of its own text for that language.
        """
        notices = self.app.notices
        shown = notices.get(lang)
        return {
            "required": not self.consented,
            "language": shown.language,
            "notice": shown.text,
            "notice_sha256": shown.sha256,
            "notices": notices.texts(),
        }

    async def has_consented(self, actor: str) -> bool:
        async with self.app.db.session() as s:
            return await walkthrough_repo.has_consent(
                s, self.audit.id, actor, self.app.notices.hashes(), self.device
            )

    async def consent(self, msg: m.Consent) -> None:
        """Log that this participant accepted (or refused) the recording notice.

        Once per person and device: a consent already on record (this socket or an earlier
        one from the same device) is acknowledged without a new row or ledger entry.
        """
        assert self.participant is not None
        if not msg.accepted:
            await self.refuse_consent()
        elif not self.consented and not await self.has_consented(self.actor):
            await self.record_consent(msg.location, self.app.notices.get(msg.lang or self.participant.lang))
        self.consented, self.refused = msg.accepted, not msg.accepted
        await self.send({"type": "consent-recorded", "accepted": msg.accepted})

    async def refuse_consent(self) -> None:
        if self.refused:  # said already on this socket
            return
        held = self.app.ledger_throttle.admit(self.audit.id, self.actor, "consent-refused")
        if held is None:
            return
        async with self.app.db.session() as s:
            data = {"device": self.device} | ({"repeats_not_logged": held} if held else {})
            await repo.record_event(s, self.audit.id, "consent-refused", self.actor, data)

    async def record_consent(self, location: dict[str, float] | None, notice: i18n.Notice) -> None:
        assert self.participant is not None
        if self.app.ledger_throttle.admit(self.audit.id, self.actor, "consent") is None:
            raise m.MessageError("rate_limited", "too many consents from this invite; try again in a minute")
        async with self.app.db.session() as s:
            await walkthrough_repo.add_consent(
                s,
                audit_id=self.audit.id,
                actor=self.actor,
                role=self.participant.role,
                notice_sha256=notice.sha256,
                language=notice.language,
                device_id=self.device,
                location=location,
            )
            await repo.record_event(
                s,
                self.audit.id,
                "consent",
                self.actor,
                {
                    "notice_sha256": notice.sha256,
                    "language": notice.language,
                    "location": location,
                    "device": self.device,
                },
            )
        self.location = location

    def require_run(self, what: str) -> None:
        """Directing and recording need the policy's RUN (the lead and assigned auditors)."""
        if not self.may_run:
            raise m.MessageError("forbidden", f"only the auditors running this audit can {what}")

    async def direct(self, msg: m.Goto | m.Pointer | m.PhotoRequest) -> None:
        """The auditor directs the walk: next checkpoint, "point here", "take a photo"."""
        assert self.participant is not None and self.room is not None
        self.require_run("direct the walkthrough")
        if isinstance(msg, m.Goto):
            fresh = await self.fresh_audit()
            try:
                await walkthrough.goto(self.app, fresh, msg.key, self.actor)
            except ApiError as exc:
                raise m.MessageError(exc.code, exc.message) from exc
            return
        if isinstance(msg, m.Pointer):
            await directing.point(self.room, self.participant, msg, self.on_screen)
        else:
            await directing.ask_for_photo(self.room, msg, self.on_screen)

    async def fresh_audit(self) -> Audit:
        async with self.app.db.session() as s:
            audit = await repo.get_audit(s, self.audit.id)
        assert audit is not None
        self.audit = audit
        return audit

    def start_capture(self, msg: m.Capture) -> None:
        assert self.participant is not None and self.room is not None
        self.require_run("capture evidence")
        camera = directing.target_camera(self.room, msg.camera, self.on_screen)
        task = asyncio.create_task(self.capture(msg, camera))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def capture(self, msg: m.Capture, camera: int | None = None) -> None:
        """Run one capture; the requester gets `evidence` only once it is durable."""
        assert self.participant is not None
        try:
            row = await capture_evidence(
                self.app,
                self.audit_id,
                msg.checkpoint,
                self.actor,
                requester=self.participant.id,
                key=evidence_repo.idempotency_key(self.actor, msg.request_id),  # a retry: the same item
                camera=camera,
            )
        except ApiError as exc:
            await self.push(m.error(exc.code, exc.message) | {"request_id": msg.request_id})
            return
        await self.push({"type": "evidence", "request_id": msg.request_id, "item": evidence_json(row)})

    async def close(self) -> None:
        """Leave the room and stop the writer; safe to call more than once."""
        if self.closed:
            return
        self.closed = True
        self.heartbeat.stop()
        self.app.sockets.discard(self)
        for task in list(self.tasks):
            task.cancel()
        if self.peer is not None:
            await self.peer.close()
        if self.participant is not None and self.room is not None:
            await self.app.hub.leave(self.audit.id, self.participant.id)
        if self.participant is not None and self.join_logged:
            with contextlib.suppress(Exception):
                async with self.app.db.session() as s:
                    await repo.record_event(
                        s, self.audit.id, "leave", self.participant.role, {"participant": self.participant.id}
                    )
        self.outbox.finish()
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(self.writer, 1.0)
        if self.closing is not None:
            await self.closing


async def admit(ws: WebSocket, app: AppContext, audit_id: str) -> tuple[Audit | None, Actor | None]:
    """Check a signed-in caller before any message: the policy's WATCH on the audit of the path.

    Without credentials the caller may still be a phone, which proves itself with the
    invite in its ``join``; nothing about the audit is revealed until then.
    """
    actor = await current_actor(ws)
    if actor is None:
        return None, None
    if cookie_authenticated(ws) and not same_origin(ws, app.settings):
        raise Refused(CLOSE_FORBIDDEN, "csrf", "this socket must be opened from the server's own pages")
    found = await audit_and_facts(ws, audit_id) if len(audit_id) <= 64 else None
    decision = decide(actor, Action.WATCH, found[1]) if found else Decision.HIDDEN
    if decision is Decision.HIDDEN or found is None:
        raise Refused(CLOSE_NOT_FOUND, "not_found", "no such audit")
    if decision is Decision.FORBIDDEN:
        raise Refused(
            CLOSE_FORBIDDEN, "forbidden", f"your role ({actor.role.value}) may not join live sessions"
        )
    audit, facts = found
    if facts.completed or audit_id in app.sockets.sealing:
        raise Refused(CLOSE_AUDIT_CLOSED, "audit_completed", "this audit is finished")
    return audit, actor


async def audit_socket(ws: WebSocket) -> None:
    app = ctx(ws)
    await ws.accept()
    audit_id = str(ws.path_params["audit_id"])
    try:
        audit, actor = await admit(ws, app, audit_id)
    except Refused as exc:
        await _refuse(ws, exc)
        return
    conn = Connection(ws, app, audit_id, audit, actor)
    if actor is not None and audit is not None:
        async with app.db.session() as s:
            conn.may_run = decide(actor, Action.RUN, await access_facts(s, audit)) is Decision.ALLOWED
    app.sockets.add(conn)
    try:
        await conn.run()
    except Refused as exc:
        await conn.push(m.error(exc.code, exc.message))
        await conn.close()
        conn = None  # type: ignore[assignment]
        with contextlib.suppress(Exception):
            await ws.close(exc.close_code, exc.message)
    except (WebSocketDisconnect, WebSocketDisconnected):  # gone, or closed by us while reading
        pass
    except SlowReader as exc:
        conn.drop_slow_reader(exc)
    except Exception as exc:  # a bug, not the client's doing: one line, and the socket closes
        log.error("signaling socket failed: %s: %s", type(exc).__name__, escape(exc))
        conn.closing = conn.closing or asyncio.create_task(conn._close_socket(CLOSE_INTERNAL))
    finally:
        if conn is not None:
            await conn.close()
            if ws.client_state != WebSocketState.DISCONNECTED:
                with contextlib.suppress(Exception):
                    await ws.close()


def message_type(msg: m.Message) -> str:
    """The rate-limit class of a message: candidates have their own allowance."""
    return "candidate" if isinstance(msg, m.Candidate) else "message"


async def _refuse(ws: WebSocket, exc: Refused) -> None:
    with contextlib.suppress(Exception):
        await ws.send_json(m.error(exc.code, exc.message))
        await ws.close(exc.close_code, exc.message)


routes = [WebSocketRoute("/ws/audits/{audit_id}", audit_socket)]
