"""Commands about certificates and the repository log: ``verify-certificate`` and ``witness``."""

from __future__ import annotations

import json
from pathlib import Path

import click


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
    for key, value in report.summary.items():
        click.echo(f"{key:>16}: {value}")
    for note in report.notes:
        click.echo(f"note: {note}")
    if report.ok:
        click.echo("OK: the certificate is signed and recorded in the repository log under the signed head")
        return
    for problem in report.problems:
        click.echo(f"FAIL: {problem}", err=True)
    raise SystemExit(1)
