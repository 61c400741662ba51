"""Commands about certificates and the repository log: ``verify-certificate`` and ``witness``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from server.cli_output import print_verdict


@click.command("verify-certificate")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--public-key",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The server's public key (PEM) to trust, e.g. from /api/certificates/public-key.",
)
def verify_certificate_cmd(file: Path, public_key: Path | None) -> None:
    """Check a downloaded certificate offline: its signature and its place in the repository log."""
    from recorder.certificate import verify_certificate

    try:
        data = json.loads(file.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{file} is not a JSON file: {exc}") from exc
    report = verify_certificate(data, public_key.read_bytes() if public_key else None)
    print_verdict(
        report, "the certificate is signed and recorded in the repository log under the signed head"
    )


def _fetch_json(client: Any, path: str, **params: int) -> dict[str, Any]:
    r = client.get(path, params=params or None)
    if r.status_code != 200:
        raise click.ClickException(f"GET {path}: HTTP {r.status_code} {r.text[:200]}")
    data: dict[str, Any] = r.json()
    return data


def witness_once(url: str, state_file: Path) -> str:
    """Check the log's newest head against the last one seen, cosign it, post it; returns what happened."""
    import base64

    import httpx
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from recorder import merkle
    from recorder.ledger import SignedTreeHead, load_public_key, public_key_pem, verify_tree_head
    from recorder.witness import cosigned_bytes

    state: dict[str, Any] = json.loads(state_file.read_text()) if state_file.exists() else {}
    if "key" not in state:
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        state["key"] = pem.decode("ascii")
    key = serialization.load_pem_private_key(state["key"].encode("ascii"), None)
    assert isinstance(key, Ed25519PrivateKey)
    with httpx.Client(base_url=url.rstrip("/"), timeout=30) as client:
        log_key = load_public_key(client.get("/api/certificates/public-key").content)
        head = _fetch_json(client, "/api/repository/head")
        signed = {k: v for k, v in head.items() if k != "cosignatures"}
        if not verify_tree_head(SignedTreeHead.from_json(signed), log_key):
            raise click.ClickException("the repository head's signature does not verify with the log's key")
        last = state.get("head")
        if last is not None:
            if last["key_id"] != signed["key_id"]:
                raise click.ClickException("the log's key changed since the last head this witness saw")
            if signed["size"] < last["size"]:
                raise click.ClickException(f"the log shrank from {last['size']} to {signed['size']} entries")
            if signed["size"] > last["size"] > 0:
                c = _fetch_json(
                    client, "/api/repository/consistency", **{"from": last["size"], "to": signed["size"]}
                )
                proof = [bytes.fromhex(p) for p in c["proof"]]
                old, new = bytes.fromhex(last["root"]), bytes.fromhex(signed["root"])
                if not merkle.verify_consistency(last["size"], signed["size"], old, new, proof):
                    raise click.ClickException(
                        "the new head is not consistent with the last one seen: NOT cosigned"
                    )
            elif signed["size"] == last["size"] and signed["root"] != last["root"]:
                raise click.ClickException("same size, different root: the log was rewritten; NOT cosigned")
        signature = base64.b64encode(key.sign(cosigned_bytes(signed))).decode("ascii")
        body = {
            "size": signed["size"],
            "public_key": public_key_pem(key).decode("ascii"),
            "signature": signature,
        }
        r = client.post("/api/repository/cosignatures", json=body)
        if r.status_code not in (201, 409):
            raise click.ClickException(
                f"POST /api/repository/cosignatures: HTTP {r.status_code} {r.text[:200]}"
            )
    state["head"] = signed
    state_file.touch(mode=0o600)  # it holds the witness's private key
    state_file.write_text(json.dumps(state, indent=2))
    return f"cosigned the repository head of size {signed['size']} (root {signed['root'][:16]}…)"


@click.command("witness")
@click.argument("url")
@click.option(
    "--state",
    "state_file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="JSON file with this witness's key and the last head it saw (created on first run).",
)
def witness_cmd(url: str, state_file: Path) -> None:
    """Check the repository log at URL only grew since last time, then countersign its head."""
    click.echo(witness_once(url, state_file))
