"""Baseline for the session benchmark: a plain aiortc relay that decodes and re-encodes.

This is the design the hub replaces, built the way aiortc's ``examples/server`` builds it:
the server decodes the phone's video (aiortc's default receiver), and every viewer gets a
``MediaRelay`` subscription that aiortc encodes again for that viewer's sender.

Signaling is one HTTP call per peer connection, as in aiortc's examples::

    POST /offer {"role": "phone" | "viewer", "session": "<id>", "sdp": "<offer>"}
    -> {"sdp": "<answer>"}

A viewer's offer waits (up to ``--wait``) for the phone of its session to be connected.

Run: ``python bench/relay_server.py --port 8090``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

log = logging.getLogger("relay_server")

ROLES = ("phone", "viewer")


class RelayError(ValueError):
    """An offer the relay cannot serve; becomes a 4xx response."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class OfferRequest:
    role: str
    session: str
    sdp: str

    @classmethod
    def parse(cls, body: object) -> OfferRequest:
        if not isinstance(body, dict):
            raise RelayError(400, "the body must be a JSON object")
        role, session, sdp = body.get("role"), body.get("session"), body.get("sdp")
        if role not in ROLES:
            raise RelayError(400, f"'role' must be one of {ROLES}")
        if not isinstance(session, str) or not 0 < len(session) <= 64:
            raise RelayError(400, "'session' must be a string of 1 to 64 characters")
        if not isinstance(sdp, str) or not sdp:
            raise RelayError(400, "'sdp' must be an SDP offer")
        return cls(str(role), session, sdp)


@dataclass
class Relay:
    """Every phone's decoded video, and the peer connections that carry it."""

    wait_s: float = 10.0
    relay: MediaRelay = field(default_factory=MediaRelay)
    sources: dict[str, asyncio.Future[MediaStreamTrack]] = field(default_factory=dict)
    pcs: set[RTCPeerConnection] = field(default_factory=set)
    drains: set[asyncio.Task[None]] = field(default_factory=set)

    def source(self, session: str) -> asyncio.Future[MediaStreamTrack]:
        future = self.sources.get(session)
        if future is None:
            future = self.sources[session] = asyncio.get_running_loop().create_future()
        return future

    async def answer(self, offer: OfferRequest) -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.add(pc)

        @pc.on("connectionstatechange")
        async def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self.pcs.discard(pc)
                await pc.close()

        try:
            if offer.role == "phone":
                self._accept_phone(pc, offer.session)
                await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
            else:
                track = await asyncio.wait_for(asyncio.shield(self.source(offer.session)), self.wait_s)
                await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
                pc.addTrack(self.relay.subscribe(track))
            await pc.setLocalDescription(await pc.createAnswer())
        except TimeoutError as exc:
            await self._drop(pc)
            raise RelayError(409, f"no phone in session {offer.session!r}") from exc
        except Exception as exc:  # aiortc raises ValueError, KeyError, ... on bad SDP
            await self._drop(pc)
            raise RelayError(400, f"the offer could not be applied: {exc}") from exc
        return str(pc.localDescription.sdp)

    def _accept_phone(self, pc: RTCPeerConnection, session: str) -> None:
        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            if track.kind != "video":
                return
            future = self.source(session)
            if future.done():
                self.sources[session] = future = asyncio.get_running_loop().create_future()
            future.set_result(track)
            # Keep the decoded video flowing before any viewer subscribes (the examples'
            # MediaBlackhole): otherwise frames pile up and a late viewer starts seconds behind.
            drain = asyncio.create_task(self._drain(self.relay.subscribe(track)))
            self.drains.add(drain)
            drain.add_done_callback(self.drains.discard)

    @staticmethod
    async def _drain(track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()

    async def _drop(self, pc: RTCPeerConnection) -> None:
        self.pcs.discard(pc)
        await pc.close()

    async def close(self) -> None:
        for task in self.drains:
            task.cancel()
        await asyncio.gather(*(pc.close() for pc in self.pcs), return_exceptions=True)
        self.pcs.clear()


def create_app(relay: Relay) -> Starlette:
    async def offer(request: Request) -> Response:
        try:
            body: Any = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body must be JSON"}, status_code=400)
        try:
            sdp = await relay.answer(OfferRequest.parse(body))
        except RelayError as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        return JSONResponse({"sdp": sdp})

    async def health(request: Request) -> Response:
        return JSONResponse({"peers": len(relay.pcs)})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await relay.close()

    return Starlette(
        routes=[Route("/offer", offer, methods=["POST"]), Route("/health", health)], lifespan=lifespan
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--wait", type=float, default=10.0, help="how long a viewer waits for its phone")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args()
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(Relay(wait_s=args.wait))
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
