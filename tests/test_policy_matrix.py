"""Every route of the app × every role: the status each one must answer.

Each route is given a category below, stated in terms of what a user relies on (who may
see an audit, who may change it). A route added without a category fails this test, so
no endpoint can ship without an access decision.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
import websockets
from starlette.routing import Mount, Route, WebSocketRoute

from server.db.models import Segment
from tests.parties import PEOPLE, Parties, audit_with_photo, complete, make_parties, share
from tests.support import LiveServer

FIRM = {"admin", "lead", "a2", "reviewer"}  # may see every audit of Firm A
RUNS = {"admin", "lead"}  # may change a Firm A audit (the lead auditor; no one is assigned)
ROLES = [*PEOPLE, None]  # None: not signed in
OK = "ok"  # any answer that is not 401/403/404 and not a server error
OK_OR_404 = "ok-or-404"  # allowed, but the sub-resource of the path may not exist

Expect = int | str
Rule = Callable[[str, bool], Expect]


def sees(who: str, completed: bool) -> bool:
    """Firm A's people and admins see its audits; members (with a share) and the agency once completed."""
    if who in FIRM:
        return True
    return completed and who in ("member1", "agency")


def audit_rule(allowed: set[str], then: Expect, when_completed: Expect | None = None) -> Rule:
    def rule(who: str, completed: bool) -> Expect:
        if not sees(who, completed):
            return 404
        if who not in allowed:
            return 403
        return when_completed if completed and when_completed is not None else then

    return rule


def service_rule(allowed: set[str], then: Expect = OK) -> Rule:
    return lambda who, completed: then if who in allowed else 403


def everyone(expect: Expect) -> Rule:
    return lambda who, completed: expect


VIEW = audit_rule(set(PEOPLE), 200)
VIEW_OK = audit_rule(set(PEOPLE), OK)
WATCH = audit_rule(FIRM, 200)
RUN = audit_rule(RUNS, OK, when_completed=409)
RUN_SUB = audit_rule(RUNS, OK_OR_404, when_completed=409)
SHARE_READ = audit_rule(FIRM, 200)
SHARE_WRITE = audit_rule(FIRM, 409, when_completed=422)  # open: not completed yet; completed: bad org id
SHARE_DELETE = audit_rule(FIRM, OK_OR_404)
ASSIGN = audit_rule({"admin", "lead", "a2"}, OK, when_completed=409)
ASSIGN_SUB = audit_rule({"admin", "lead", "a2"}, OK_OR_404, when_completed=409)
AUDITORS = {"lead", "a2", "auditor_b"}
SIGNED_IN = set(PEOPLE)
MEMBERS = {"member1", "member2"}

ROUTES: dict[tuple[str, str], Rule] = {
    # pages
    ("GET", "/audits/{audit_id}"): lambda who, c: (
        (303 if who in ("member1", "agency") else 200) if sees(who, c) else 404
    ),
    ("GET", "/audits/{audit_id}/report"): VIEW,
    ("GET", "/audits/{audit_id}/replay"): VIEW,
    ("GET", "/audits"): everyone(200),
    ("POST", "/audits"): service_rule(AUDITORS, 422),  # an empty form: not allowed first, then invalid
    ("GET", "/verify"): everyone(200),
    ("GET", "/admin"): service_rule({"admin"}, 200),
    ("GET", "/facilities"): everyone(200),
    ("GET", "/facilities/{facility_id}"): everyone(200),
    ("GET", "/portfolio"): service_rule(MEMBERS, 200),
    ("GET", "/portfolio.csv"): service_rule(MEMBERS, 200),
    ("GET", "/portfolio/attestation"): service_rule(MEMBERS, 200),
    # audits and invites
    ("POST", "/api/audits"): service_rule(AUDITORS, 422),
    ("GET", "/api/audits"): everyone(200),
    ("GET", "/api/audits/{audit_id}"): VIEW,
    ("POST", "/api/audits/{audit_id}/invites"): RUN,
    ("GET", "/api/audits/{audit_id}/invites"): WATCH,
    ("DELETE", "/api/audits/{audit_id}/invites/{invite_id}"): RUN,
    # the facility registry (identities and certificate status are not confidential) and suppliers
    ("GET", "/api/facilities"): everyone(200),
    ("POST", "/api/facilities"): service_rule({"admin", *AUDITORS}, 422),
    ("GET", "/api/facilities/{facility_id}"): everyone(200),  # its audits filtered: tests/test_facilities.py
    ("POST", "/api/facilities/{facility_id}/links"): service_rule(MEMBERS, OK),
    ("DELETE", "/api/facilities/{facility_id}/links"): service_rule(MEMBERS, OK_OR_404),
    ("GET", "/api/my/suppliers"): service_rule(MEMBERS, 200),
    # evidence and recording
    ("GET", "/api/audits/{audit_id}/evidence"): VIEW,
    ("POST", "/api/audits/{audit_id}/captures"): RUN,
    ("GET", "/api/audits/{audit_id}/recording"): VIEW,
    ("GET", "/api/audits/{audit_id}/recording/{seq}"): audit_rule(SIGNED_IN, 410),  # row, no file
    ("GET", "/api/audits/{audit_id}/recording/{seq}/index"): audit_rule(SIGNED_IN, 410),
    ("GET", "/api/evidence/{evidence_id}"): VIEW,
    ("GET", "/api/evidence/{evidence_id}/image"): VIEW,
    ("POST", "/api/evidence/{evidence_id}/annotations"): RUN,
    ("GET", "/api/evidence/{evidence_id}/annotations"): VIEW,
    ("GET", "/api/evidence/{evidence_id}/proof"): VIEW,
    ("GET", "/api/evidence/{evidence_id}/verify"): VIEW,
    ("GET", "/api/evidence/by-sha256/{sha256}"): everyone(200),  # filtered: see test below
    # walkthrough
    ("GET", "/api/templates"): everyone(200),
    ("POST", "/api/templates"): service_rule({"admin", *AUDITORS}, 422),
    ("GET", "/api/templates/{key}"): everyone(200),
    ("GET", "/api/audits/{audit_id}/checkpoints"): VIEW,
    ("PUT", "/api/audits/{audit_id}/current"): RUN,
    ("POST", "/api/audits/{audit_id}/current"): RUN,
    ("PUT", "/api/audits/{audit_id}/checkpoints/{key}"): RUN,
    ("POST", "/api/audits/{audit_id}/complete"): RUN,
    ("GET", "/api/audits/{audit_id}/complete"): RUN,  # what completing asks (confirmation, reasons)
    ("GET", "/api/audits/{audit_id}/outcome"): VIEW_OK,  # 409 until completed
    ("GET", "/api/audits/{audit_id}/tech-checks"): VIEW,
    ("GET", "/api/audits/{audit_id}/consents"): VIEW,
    # ledger, export, replay, verify
    ("GET", "/api/audits/{audit_id}/ledger"): VIEW,
    ("GET", "/api/audits/{audit_id}/ledger/consistency"): VIEW_OK,  # sizes of no signed head: 404 after
    ("GET", "/api/audits/{audit_id}/export"): VIEW,
    ("GET", "/api/audits/{audit_id}/replay"): VIEW,
    ("GET", "/api/audits/{audit_id}/replay/segments/{seq:int}"): audit_rule(SIGNED_IN, 410),
    ("POST", "/api/verify"): everyone(OK),
    ("GET", "/api/ledger/public-key"): everyone(200),
    # sharing, assignments, access log
    ("GET", "/api/audits/{audit_id}/shares"): SHARE_READ,
    ("POST", "/api/audits/{audit_id}/shares"): SHARE_WRITE,
    ("DELETE", "/api/audits/{audit_id}/shares/{org_id}"): SHARE_DELETE,
    ("POST", "/api/audits/{audit_id}/assignments"): ASSIGN,
    ("DELETE", "/api/audits/{audit_id}/assignments/{user_id}"): ASSIGN_SUB,
    ("GET", "/api/audits/{audit_id}/access-log"): SHARE_READ,
    # administration
    ("GET", "/api/orgs"): service_rule({"admin", *FIRM, "auditor_b"}, 200),
    ("POST", "/api/orgs"): service_rule({"admin"}, 422),
    ("GET", "/api/users"): service_rule({"admin"}, 200),
    ("POST", "/api/users"): service_rule({"admin"}, 422),
    ("POST", "/api/users/{user_id}/revoke-tokens"): service_rule({"admin"}, 404),  # an unknown user
    # reviews, certificates, the repository log
    ("POST", "/api/audits/{audit_id}/review"): audit_rule({"reviewer"}, 409, when_completed=422),
    ("GET", "/api/audits/{audit_id}/reviews"): VIEW,
    ("POST", "/api/certificates/{certificate_id}/revoke"): service_rule({"admin"}, 404),  # unknown one
    ("GET", "/api/repository/entries"): service_rule({"admin", "agency"}, 200),
    # corrective actions of a completed audit (the facility's side: PUBLIC, tests/test_capa.py)
    ("POST", "/api/audits/{audit_id}/capa-link"): audit_rule(
        {"admin", "lead", "a2"}, 409, when_completed=201
    ),
    ("DELETE", "/api/audits/{audit_id}/capa-link"): audit_rule({"admin", "lead", "a2"}, 200),
    ("GET", "/api/audits/{audit_id}/actions"): VIEW,
    ("POST", "/api/audits/{audit_id}/actions/{action_id}/decision"): audit_rule(
        {"lead", "a2", "reviewer"}, OK_OR_404
    ),
    ("GET", "/api/audits/{audit_id}/actions/{action_id}/responses/{entry_id}/photo"): audit_rule(
        SIGNED_IN, OK_OR_404
    ),
    ("GET", "/api/audits/{audit_id}/actions/{action_id}/responses/{entry_id}/video"): audit_rule(
        SIGNED_IN, OK_OR_404
    ),
}

# Routes that answer without an account or with an invite instead: checked by their own tests.
PUBLIC = {
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/join/{token}"),
    ("GET", "/join/{token}/check"),
    ("GET", "/certs/ca.pem"),
    ("GET", "/healthz"),
    ("POST", "/api/audits/{audit_id}/photos"),
    ("POST", "/api/tech-check/upload"),
    ("POST", "/api/tech-check"),
    # certificates and the repository log are public: tests/test_certificates.py, test_repository_log.py
    ("GET", "/certificates/{certificate_id}"),
    ("GET", "/api/certificates/public-key"),
    ("GET", "/api/certificates/{certificate_id}"),
    ("GET", "/api/repository/head"),
    ("GET", "/api/repository/proof/{seq}"),
    ("GET", "/api/repository/consistency"),
    ("POST", "/api/repository/cosignatures"),
    # corrective actions: the facility's link is the key (tests/test_capa.py)
    ("GET", "/capa/{token}"),
    ("POST", "/api/capa/{token}/actions/{action_id}/responses"),
    ("GET", "/api/capa/{token}/actions/{action_id}/responses/{entry_id}/photo"),
    ("GET", "/api/capa/{token}/actions/{action_id}/responses/{entry_id}/video"),
    ("GET", "/api/capa/{token}/actions/{action_id}/original"),
}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/audits/{audit_id}/invites"): {"ttl_minutes": 0},
    ("PUT", "/api/audits/{audit_id}/current"): {"key": 5},
    ("POST", "/api/audits/{audit_id}/current"): {"key": 5},
    ("PUT", "/api/audits/{audit_id}/checkpoints/{key}"): {"result": "perhaps"},
    ("POST", "/api/audits/{audit_id}/complete"): {"confirm_open": "yes"},
    ("POST", "/api/evidence/{evidence_id}/annotations"): {"shapes": []},
    ("POST", "/api/audits/{audit_id}/shares"): {"org": "no-such-org"},
    ("POST", "/api/audits/{audit_id}/assignments"): {"user": "no-such-user"},
    ("POST", "/api/audits/{audit_id}/review"): {"decision": "perhaps"},
    ("POST", "/api/audits/{audit_id}/actions/{action_id}/decision"): {"decision": "accept"},
}


def app_routes(server: LiveServer) -> list[tuple[str, str]]:
    found = []
    for route in server.app().routes:
        if isinstance(route, Route):
            found += [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
        else:
            assert isinstance(route, WebSocketRoute | Mount), route
    return found


@pytest.fixture
async def repository(server: LiveServer) -> dict[str, Any]:
    parties = await make_parties(server)
    live = await audit_with_photo(parties, "Open Factory")
    done = await audit_with_photo(parties, "Finished Factory")
    await complete(parties, done["audit"]["id"])
    await share(parties, done["audit"]["id"], "Importer One")
    async with parties.client("lead") as http:
        for item in (live, done):
            view = (await http.get(f"/api/audits/{item['audit']['id']}/checkpoints")).json()
            item["checkpoint"] = view["sections"][0]["checkpoints"][0]["key"]
    async with server.app_ctx().db.session() as s:
        for item in (live, done):
            now = dt.datetime.now(dt.UTC)
            s.add(
                Segment(
                    audit_id=item["audit"]["id"],
                    seq=0,
                    codec="vp8",
                    start_ns=int(now.timestamp() * 1e9),
                    end_ns=int(now.timestamp() * 1e9) + 1,
                    video_frames=1,
                    audio_frames=0,
                    size=1,
                    sha256="0" * 64,
                    index_sha256="0" * 64,
                    blob=f"{item['audit']['id']}/missing.webm",
                    index_blob=f"{item['audit']['id']}/missing.index.jsonl",
                )
            )
        await s.commit()
    return {"parties": parties, "open": live, "completed": done}


def fill(path: str, item: dict[str, Any], parties: Parties) -> str:
    values = {
        "{audit_id}": item["audit"]["id"],
        "{evidence_id}": item["photo"]["id"],
        "{invite_id}": item["invite"]["id"],
        "{seq:int}": "0",
        "{seq}": "0",
        "{key}": item["checkpoint"] if "templates" not in path else "container-7-point",
        "{org_id}": parties.org_ids["Importer Two"],
        "{user_id}": "no-such-user",
        "{sha256}": item["photo"]["sha256"],
        "{certificate_id}": "no-such-certificate",
        "{facility_id}": item["audit"]["facility"]["id"],
        "{action_id}": "no-such-action",
        "{entry_id}": "no-such-entry",
    }
    for name, value in values.items():
        path = path.replace(name, value)
    assert "{" not in path, path
    return path


def matches(expect: Expect, status: int) -> bool:
    if expect == OK:
        return status not in (401, 403, 404) and status < 500
    if expect == OK_OR_404:
        return status not in (401, 403) and status < 500
    return status == expect


async def test_every_route_has_an_access_rule(server: LiveServer) -> None:
    routes = set(app_routes(server))
    missing = routes - set(ROUTES) - PUBLIC
    assert not missing, f"routes without an access rule in this test: {sorted(missing)}"
    stale = set(ROUTES) - routes
    assert not stale, f"rules for routes that no longer exist: {sorted(stale)}"


async def test_route_by_role_matrix(server: LiveServer, repository: dict[str, Any]) -> None:
    parties: Parties = repository["parties"]
    wrong: list[str] = []
    routes = [r for r in app_routes(server) if r in ROUTES]
    for state in ("open", "completed"):
        item = repository[state]
        for who in ROLES:
            async with parties.client(who) as http:
                for method, template in routes:
                    path = fill(template, item, parties)
                    body = BODIES.get((method, template))
                    r = await http.request(method, path, json=body if body is not None else None)
                    if who is None:
                        expect: Expect = 303 if not path.startswith("/api/") else 401
                        if template == "/api/ledger/public-key":
                            expect = 200
                    else:
                        expect = ROUTES[(method, template)](who, state == "completed")
                    if not matches(expect, r.status_code):
                        wrong.append(
                            f"{who or 'anonymous'} {method} {template} ({state}): "
                            f"{r.status_code}, want {expect}"
                        )
                    if r.status_code in (403, 404) and path.startswith("/api/"):
                        code = r.json()["error"]["code"]
                        want = "forbidden" if r.status_code == 403 else "not_found"
                        if code != want and not (r.status_code == 404 and expect == OK_OR_404):
                            wrong.append(f"{who} {method} {template}: error code {code!r}")
    assert not wrong, "\n".join(wrong)


async def test_hidden_audits_are_left_out_of_lists_and_lookups(
    server: LiveServer, repository: dict[str, Any]
) -> None:
    parties: Parties = repository["parties"]
    open_id = repository["open"]["audit"]["id"]
    done_id = repository["completed"]["audit"]["id"]
    expected = {
        "admin": {open_id, done_id},
        "lead": {open_id, done_id},
        "reviewer": {open_id, done_id},
        "auditor_b": set(),
        "member1": {done_id},
        "member2": set(),
        "agency": {done_id},
    }
    for who, ids in expected.items():
        async with parties.client(who) as http:
            listed = {a["id"] for a in (await http.get("/api/audits")).json()["items"]}
            assert listed == ids, who
            for item in (repository["open"], repository["completed"]):
                found = (await http.get(f"/api/evidence/by-sha256/{item['photo']['sha256']}")).json()
                audits = {i["audit"]["id"] for i in found["items"]}
                assert audits == ids & {item["audit"]["id"]}, who


SOCKET_CASES = [
    ("lead", "open", None),
    ("reviewer", "open", None),
    ("admin", "open", None),
    ("auditor_b", "open", 4404),
    ("member1", "open", 4404),
    ("agency", "open", 4404),
    ("member1", "completed", 4403),  # may read it, never join a live session
    ("agency", "completed", 4403),
    ("member2", "completed", 4404),
    ("auditor_b", "completed", 4404),
    ("lead", "completed", 4409),
]


async def test_the_signaling_socket_asks_the_same_policy(
    server: LiveServer, repository: dict[str, Any]
) -> None:
    parties: Parties = repository["parties"]
    for who, state, close_code in SOCKET_CASES:
        audit_id = repository[state]["audit"]["id"]
        headers = {"Authorization": f"Bearer {parties.tokens[who]}"}
        async with websockets.connect(server.ws_url(audit_id), additional_headers=headers) as ws:
            if close_code is None:
                await ws.send('{"type": "join"}')
                welcome = json.loads(await ws.recv())
                assert welcome["type"] == "welcome", (who, state, welcome)
                continue
            first = json.loads(await ws.recv())
            assert first["type"] == "error", (who, state, first)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == close_code, (who, state)
