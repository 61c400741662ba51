"""One settings object; the CLI flags and the ``VAUDIT_*`` environment variables mirror it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "VAUDIT_"


DEFAULT_NOTICE = (
    "This remote audit session is recorded as audit evidence. The auditor sees and hears what the "
    "facility camera and microphone capture; video, audio, still pictures and photos are kept with "
    "their time and, if you allow it, your location, in the audit repository that the association's "
    "members and the customs agency may consult. Pause the camera during breaks. You can stop at any "
    "time by closing this page."
)


# No setting may allow more pixels than this: OpenCV's own limit, read once when cv2 loads
# (before any setting is parsed), is set to it as a second guard behind the header check.
DECODER_PIXEL_CEILING = 100_000_000


def guard_image_decoder(environ: MutableMapping[str, str]) -> None:
    """Give OpenCV its pixel limit; must run before ``cv2`` is first imported (server/__init__.py).

    An operator's own ``OPENCV_IO_MAX_IMAGE_PIXELS`` is left alone.
    """
    environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(DECODER_PIXEL_CEILING))


# A TURN server URL for --turn-url: no credentials in it (they are made per participant).
TURN_URL = re.compile(
    r"turns?:(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?(?:\?transport=(?:udp|tcp))?"
)
ICE_TRANSPORT_POLICIES = ("all", "relay")


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


@dataclass(frozen=True)
class IceServer:
    """A STUN or TURN server given to browsers and to the server's own peer connections."""

    urls: str
    username: str | None = None
    credential: str | None = None

    @classmethod
    def parse(cls, text: str) -> IceServer:
        """Parse ``stun:host:port`` or ``turn:user:pass@host:port?transport=tcp``."""
        scheme, sep, rest = text.partition(":")
        if not sep or scheme not in ("stun", "stuns", "turn", "turns") or not rest:
            raise SettingsError(
                f"ice server must look like stun:HOST[:PORT] or turn:USER:PASS@HOST[:PORT], got {scheme!r}"
            )
        if "@" not in rest:
            return cls(urls=text)
        creds, _, host = rest.rpartition("@")
        user, colon, password = creds.partition(":")
        if not colon or not user or not host:
            raise SettingsError("turn server credentials must be USER:PASS@HOST")
        return cls(urls=f"{scheme}:{host}", username=user, credential=password)

    def as_browser_dict(self) -> dict[str, str]:
        """The RTCIceServer dictionary for ``new RTCPeerConnection``."""
        out = {"urls": self.urls}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out


@dataclass(frozen=True)
class Settings:
    """Everything the server can be told. Building one has no side effects."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    tls: bool = False
    certfile: Path | None = None
    keyfile: Path | None = None
    certs_dir: Path = Path("certs")
    ice_servers: tuple[IceServer, ...] = field(default_factory=tuple)
    # TURN servers that get a short-lived credential per participant (server/turn.py); the
    # shared secret is never shown (repr) nor logged.
    turn_urls: tuple[str, ...] = field(default_factory=tuple)
    turn_secret: str | None = field(default=None, repr=False)
    ice_transport_policy: str = "all"  # "relay": browsers use TURN relays only
    public_url: str | None = None
    session_hours: float = 12.0
    invite_ttl_minutes: int = 240
    max_invite_ttl_minutes: int = 14 * 24 * 60  # a tech check link "the day before" still works on the day
    keyframe_interval: float = 3.0
    record: bool = True
    still_interval: float = 1.0
    still_quality: int = 85
    capture_window_ms: int = 500
    segment_seconds: float = 10.0
    log_level: str = "info"
    log_format: str = "text"
    recording_notice: str = DEFAULT_NOTICE
    notice_dir: Path | None = None  # the operator's notice.<lang>.txt files (see server/i18n.py)
    photo_max_pixels: int = 50_000_000
    photo_max_side: int = 16384
    photo_burst: int = 10
    photo_interval: float = 3.0
    certificate_long_years: int = 2
    certificate_short_years: int = 1
    certificate_long_score: float = 0.95
    # Key ids (hex SHA-256 of the raw Ed25519 key) of the witnesses whose cosignatures count;
    # empty: every valid cosignature counts (a development default, see docs/ledger.md)
    trusted_witnesses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise SettingsError(f"port must be 1-65535, got {self.port}")
        if (self.certfile is None) != (self.keyfile is None):
            raise SettingsError("--certfile and --keyfile go together")
        if self.certfile is not None and not self.tls:
            raise SettingsError("--certfile/--keyfile need --tls")
        if self.public_url is not None:
            parts = urlsplit(self.public_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise SettingsError("public URL must be an absolute http(s) URL")
        if not 1 <= self.still_quality <= 100:
            raise SettingsError("still quality must be 1-100")
        if self.still_interval <= 0 or self.segment_seconds <= 0 or not 0 <= self.capture_window_ms <= 5000:
            raise SettingsError(
                "still interval and segment length must be positive; capture window 0-5000 ms"
            )
        if self.log_format not in ("text", "json"):
            raise SettingsError(f"log format must be text or json, got {self.log_format!r}")
        if self.invite_ttl_minutes <= 0 or self.session_hours <= 0:
            raise SettingsError("lifetimes must be positive")
        if not 1 <= self.photo_max_pixels <= DECODER_PIXEL_CEILING or not 1 <= self.photo_max_side <= 65535:
            raise SettingsError(
                f"photo pixel limit must be 1-{DECODER_PIXEL_CEILING}, photo side limit 1-65535"
            )
        if self.photo_burst < 1 or self.photo_interval <= 0:
            raise SettingsError("photo burst must be at least 1 and the photo interval positive")
        if not 1 <= self.certificate_short_years <= self.certificate_long_years <= 10:
            raise SettingsError(
                "certificate validity must be 1-10 years, the short one no longer than the long one"
            )
        self._check_turn()
        if not 0 < self.certificate_long_score <= 1:
            raise SettingsError("the certificate score for the long validity must be above 0 and at most 1")
        for witness in self.trusted_witnesses:
            if len(witness) != 64 or any(c not in "0123456789abcdef" for c in witness):
                raise SettingsError(
                    f"a trusted witness is a key id (64 lowercase hex digits), got {witness[:80]!r}"
                )

    def _check_turn(self) -> None:
        for url in self.turn_urls:
            if not TURN_URL.fullmatch(url):
                raise SettingsError(
                    "a TURN URL must look like turn:HOST[:PORT][?transport=udp|tcp] or turns:..., "
                    "without credentials (they are made per participant from --turn-secret)"
                )
        if bool(self.turn_urls) != bool(self.turn_secret):
            raise SettingsError("--turn-url and --turn-secret go together")
        if self.ice_transport_policy not in ICE_TRANSPORT_POLICIES:
            raise SettingsError(
                f"ICE transport policy must be all or relay, got {self.ice_transport_policy!r}"
            )
        has_turn = bool(self.turn_urls) or any(s.urls.startswith("turn") for s in self.ice_servers)
        if self.ice_transport_policy == "relay" and not has_turn:
            raise SettingsError(
                "ICE transport policy relay needs a TURN server (--turn-url or --ice-server turn:...)"
            )

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'virtual-audit.db'}"

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    @property
    def quarantine_dir(self) -> Path:
        """Where crash leftovers that are no evidence are set aside (never deleted)."""
        return self.data_dir / "quarantine"

    @property
    def scratch_dir(self) -> Path:
        """Temporary files (exports being written); emptied into quarantine at start-up."""
        return self.data_dir / "tmp"

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def witness_counts(self, key_id: str) -> bool:
        """Whether a cosignature by this witness key counts (every one, when none is configured)."""
        return not self.trusted_witnesses or key_id in self.trusted_witnesses

    def ice_servers_json(self) -> list[dict[str, str]]:
        return [s.as_browser_dict() for s in self.ice_servers]
