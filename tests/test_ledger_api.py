"""The server's ledger: every event and evidence item is an entry; heads are signed; proofs verify."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np

from recorder import merkle
from recorder.ledger import SignedTreeHead, canonical_json, load_public_key, verify_tree_head
from tests.support import COMPLETE_ANYWAY, LiveServer, new_invite


def jpeg() -> bytes:
    image = np.full((120, 160, 3), 90, np.uint8)
    cv2.line(image, (0, 0), (159, 119), (255, 255, 255), 3)
    return bytes(cv2.imencode(".jpg", image)[1].tobytes())


async def test_entries_heads_and_proofs(server: LiveServer, api_token: str) -> None:
    async with server.client(api_token) as http:
        r = await http.post(
            "/api/audits", json={"facility": {"name": "L", "country": "BD"}, "template": "container-7-point"}
        )
        aid = r.json()["id"]
        invite = await new_invite(http, aid)
        auth = {"Authorization": f"Invite {invite['token']}"}
        photo = (
            await http.post(
                f"/api/audits/{aid}/photos",
                files={"file": ("a.jpg", jpeg(), "image/jpeg")},
                data={"checkpoint": "floor"},
                headers=auth,
            )
        ).json()
        await http.put(
            f"/api/audits/{aid}/checkpoints/floor", json={"result": "not_applicable", "note": "flat rack"}
        )
        first = (await http.get(f"/api/evidence/{photo['id']}/proof")).json()
        await http.put(f"/api/audits/{aid}/checkpoints/floor", json={"result": "does_not_meet"})
        await http.post(f"/api/audits/{aid}/complete", json=COMPLETE_ANYWAY)
        ledger = (await http.get(f"/api/audits/{aid}/ledger")).json()
        key = load_public_key((await http.get("/api/ledger/public-key")).content)

        entries = ledger["entries"]
        assert [e["seq"] for e in entries] == list(range(len(entries)))
        kinds = [e.get("kind", e["type"]) for e in entries]
        assert kinds == ["photo", "photo", "result", "result", "complete"]
        photo_entry = next(e for e in entries if e["type"] == "photo")
        assert photo_entry["sha256"] == photo["sha256"] == hashlib.sha256(jpeg()).hexdigest()
        leaves = []
        for e in entries:
            body = canonical_json({k: v for k, v in e.items() if k != "leaf_hash"})
            assert merkle.leaf_hash(body).hex() == e["leaf_hash"]
            leaves.append(merkle.leaf_hash(body))

        heads = [SignedTreeHead.from_json(h) for h in ledger["tree_heads"]]
        assert heads[-1].head.size == len(entries)  # the completion head covers everything
        for sth in heads:
            assert verify_tree_head(sth, key)
            assert sth.head.root == merkle.root(leaves[: sth.head.size])

        proof = [bytes.fromhex(p) for p in first["proof"]]
        head = first["tree_head"]
        assert merkle.verify_inclusion(
            bytes.fromhex(first["leaf_hash"]), first["seq"], head["size"], proof, bytes.fromhex(head["root"])
        )
        old, new = heads[0].head, heads[-1].head
        r = await http.get(f"/api/audits/{aid}/ledger/consistency", params={"from": old.size, "to": new.size})
        cons = [bytes.fromhex(p) for p in r.json()["proof"]]
        assert merkle.verify_consistency(old.size, new.size, old.root, new.root, cons)
