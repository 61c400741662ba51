"""The ``virtual-audit`` command. Every option is also read from a ``VAUDIT_*`` environment variable."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from server import datadir
from server.cli_output import print_verdict
from server.db import org_repo, repo
from server.db.engine import open_database
from server.logging_setup import configure_logging
from server.policy import OrgKind, Role
from server.settings import DEFAULT_NOTICE, IceServer, Settings, SettingsError

ENV = "VAUDIT_"
WS_MAX_BYTES = 256 * 1024


def _ice(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[IceServer, ...]:
    try:
        return tuple(IceServer.parse(v) for v in values)
    except SettingsError as exc:
        raise click.BadParameter(str(exc)) from exc


def _witnesses(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """Each trusted witness as its key id: given as one, or as the path of its PEM public key."""
    from recorder.ledger import LedgerError, key_id, load_public_key

    ids = []
    for value in values:
        text = value.strip()
        if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
            ids.append(text.lower())
            continue
        path = Path(text)
        if not path.is_file():
            raise click.BadParameter(f"{text!r} is neither a key id (64 hex digits) nor a PEM file")
        try:
            ids.append(key_id(load_public_key(path.read_bytes())))
        except LedgerError as exc:
            raise click.BadParameter(f"{text}: {exc}") from exc
    return tuple(dict.fromkeys(ids))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=Path("data"),
    show_default=True,
    envvar=ENV + "DATA_DIR",
    help="Database and evidence directory.",
)
@click.version_option(package_name="virtual-audit")
@click.pass_context
def main(ctx: click.Context, data_dir: Path) -> None:
    """virtual-audit: remote supply-chain security audits."""
    ctx.obj = {"data_dir": data_dir}


def _data_dir_here(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    """``--data-dir`` given after a subcommand: it wins over the one before it (or the default)."""
    if value is not None:
        ctx.ensure_object(dict)["data_dir"] = value


def accept_data_dir_everywhere(group: click.Group) -> None:
    """Let ``--data-dir`` follow any subcommand too, as people type it: ``serve --data-dir D``.

    The group's own option (before the subcommand, or ``VAUDIT_DATA_DIR``) sets the value
    first; one given after the subcommand replaces it.
    """
    for command in group.commands.values():
        command.params.append(
            click.Option(
                ["--data-dir"],
                type=click.Path(path_type=Path),
                default=None,
                expose_value=False,
                callback=_data_dir_here,
                help="Database and evidence directory (also accepted before the subcommand).",
            )
        )
        if isinstance(command, click.Group):
            accept_data_dir_everywhere(command)


def server_options(f: Any) -> Any:
    options = [
        click.option(
            "--host",
            default="127.0.0.1",
            show_default=True,
            envvar=ENV + "HOST",
            help="Address to listen on.",
        ),
        click.option(
            "--port",
            type=int,
            default=8000,
            show_default=True,
            envvar=ENV + "PORT",
            help="Port to listen on.",
        ),
        click.option(
            "--tls/--no-tls",
            default=False,
            envvar=ENV + "TLS",
            help="Serve HTTPS (needed for phones on the LAN).",
        ),
        click.option(
            "--certfile",
            type=click.Path(path_type=Path, exists=True, dir_okay=False),
            envvar=ENV + "CERTFILE",
            help="TLS certificate (PEM); default: a development certificate.",
        ),
        click.option(
            "--keyfile",
            type=click.Path(path_type=Path, exists=True, dir_okay=False),
            envvar=ENV + "KEYFILE",
            help="TLS private key (PEM).",
        ),
        click.option(
            "--certs-dir",
            type=click.Path(path_type=Path),
            default=Path("certs"),
            show_default=True,
            envvar=ENV + "CERTS_DIR",
            help="Where the development CA and certificate live.",
        ),
        click.option(
            "--ice-server",
            "ice_servers",
            multiple=True,
            callback=_ice,
            envvar=ENV + "ICE_SERVERS",
            help="STUN/TURN URL, e.g. turn:user:pass@turn.example.org:3478 (repeatable).",
        ),
        click.option(
            "--turn-url",
            "turn_urls",
            multiple=True,
            envvar=ENV + "TURN_URL",
            help="TURN server URL without credentials, e.g. turns:turn.example.org:443?transport=tcp "
            "(repeatable); each participant gets its own short-lived credential made with the TURN secret.",
        ),
        click.option(
            "--turn-secret",
            envvar=ENV + "TURN_SECRET",
            show_default=False,
            help="The TURN server's static-auth-secret (prefer the environment variable: "
            "a command line is visible to other users).",
        ),
        click.option(
            "--ice-transport-policy",
            type=click.Choice(["all", "relay"]),
            default="all",
            show_default=True,
            envvar=ENV + "ICE_TRANSPORT_POLICY",
            help="relay: browsers connect only through the TURN relay (to check a TURN deployment).",
        ),
        click.option(
            "--public-url",
            envvar=ENV + "PUBLIC_URL",
            help="Base URL put in invite links (default: the URL the auditor used).",
        ),
        click.option(
            "--invite-ttl-minutes",
            type=int,
            default=240,
            show_default=True,
            envvar=ENV + "INVITE_TTL_MINUTES",
            help="Default lifetime of staff invites.",
        ),
        click.option(
            "--record/--no-record",
            default=True,
            envvar=ENV + "RECORD",
            help="Record evidence (lossless segments, stills, captures); off only to measure the hub alone.",
        ),
        click.option(
            "--still-interval",
            type=float,
            default=1.0,
            show_default=True,
            envvar=ENV + "STILL_INTERVAL",
            help="Seconds between periodic stills.",
        ),
        click.option(
            "--still-quality",
            type=click.IntRange(1, 100),
            default=85,
            show_default=True,
            envvar=ENV + "STILL_QUALITY",
            help="JPEG quality of stills and captures.",
        ),
        click.option(
            "--capture-window-ms",
            type=click.IntRange(0, 5000),
            default=500,
            show_default=True,
            envvar=ENV + "CAPTURE_WINDOW_MS",
            help="A capture keeps the sharpest frame of this window.",
        ),
        click.option(
            "--segment-seconds",
            type=float,
            default=10.0,
            show_default=True,
            envvar=ENV + "SEGMENT_SECONDS",
            help="Length of recording segments (rotated on keyframes).",
        ),
        click.option(
            "--recording-notice",
            default=DEFAULT_NOTICE,
            envvar=ENV + "RECORDING_NOTICE",
            help="Text every participant accepts before media flows, in English (others: the notice folder).",
        ),
        click.option(
            "--notice-dir",
            type=click.Path(path_type=Path, file_okay=False, exists=True),
            default=None,
            envvar=ENV + "NOTICE_DIR",
            help="Folder of notice.<lang>.txt files: the operator's recording notice per language.",
        ),
        click.option(
            "--photo-max-pixels",
            type=click.IntRange(1),
            default=50_000_000,
            show_default=True,
            envvar=ENV + "PHOTO_MAX_PIXELS",
            help="Largest photo upload, in pixels its header declares (refused before decoding).",
        ),
        click.option(
            "--photo-max-side",
            type=click.IntRange(1, 65535),
            default=16384,
            show_default=True,
            envvar=ENV + "PHOTO_MAX_SIDE",
            help="Longest side of a photo upload, in pixels.",
        ),
        click.option(
            "--photo-burst",
            type=click.IntRange(1),
            default=10,
            show_default=True,
            envvar=ENV + "PHOTO_BURST",
            help="Photos an invite may upload at once before the rate limit applies.",
        ),
        click.option(
            "--photo-interval",
            type=float,
            default=3.0,
            show_default=True,
            envvar=ENV + "PHOTO_INTERVAL",
            help="Seconds per photo an invite may sustain after its burst.",
        ),
        click.option(
            "--certificate-long-years",
            type=click.IntRange(1, 10),
            default=2,
            show_default=True,
            envvar=ENV + "CERTIFICATE_LONG_YEARS",
            help="Years a certificate is valid when its score reaches the long score, no action open.",
        ),
        click.option(
            "--certificate-short-years",
            type=click.IntRange(1, 10),
            default=1,
            show_default=True,
            envvar=ENV + "CERTIFICATE_SHORT_YEARS",
            help="Validity of any other certificate.",
        ),
        click.option(
            "--certificate-long-score",
            type=click.FloatRange(0, 1, min_open=True),
            default=0.95,
            show_default=True,
            envvar=ENV + "CERTIFICATE_LONG_SCORE",
            help="Lowest score (0-1) for the long validity.",
        ),
        click.option(
            "--trusted-witness",
            "trusted_witnesses",
            multiple=True,
            callback=_witnesses,
            envvar=ENV + "TRUSTED_WITNESSES",
            help="A witness whose cosignatures count: its key id or PEM public key file (repeatable; "
            "none given: every valid cosignature counts).",
        ),
        click.option(
            "--log-level",
            default="info",
            show_default=True,
            envvar=ENV + "LOG_LEVEL",
            type=click.Choice(["debug", "info", "warning", "error"]),
        ),
        click.option(
            "--log-format",
            default="text",
            show_default=True,
            envvar=ENV + "LOG_FORMAT",
            type=click.Choice(["text", "json"]),
            help="Log lines as text, or one JSON object per line.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def build_settings(data_dir: Path, **kw: Any) -> Settings:
    try:
        return Settings(data_dir=data_dir, **kw)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc


def uvicorn_config(settings: Settings) -> Any:
    import uvicorn

    from server.app import create_app
    from server.tls import server_tls_files

    ssl: dict[str, Any] = {}
    if settings.tls:
        certfile, keyfile = server_tls_files(settings)
        ssl = {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,  # ours redacts invite tokens
        ws_max_size=WS_MAX_BYTES,
        log_level=settings.log_level,
        log_config=None,
        **ssl,
    )


@main.command()
@server_options
@click.pass_obj
def serve(obj: dict[str, Any], /, **kw: Any) -> None:
    """Run the server."""
    import uvicorn

    settings = build_settings(obj["data_dir"], **kw)
    configure_logging(settings.log_level, settings.log_format)
    datadir.restrict_umask()
    config = uvicorn_config(settings)
    click.echo(
        f"virtual-audit on {settings.scheme}://{settings.host}:{settings.port}/  (data: {settings.data_dir})"
    )
    uvicorn.Server(config).run()


T = TypeVar("T")


def with_db(obj: dict[str, Any], work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one session on the data dir's database (migrated first)."""

    async def run() -> T:
        db = await open_database(build_settings(obj["data_dir"]).database_url)
        try:
            async with db.session() as s:
                return await work(s)
        finally:
            await db.close()

    datadir.prepare(obj["data_dir"])
    try:
        return asyncio.run(run())
    except (repo.Conflict, org_repo.OrgError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def org() -> None:
    """Manage organisations: the association, audit firms, member importers, the agency."""


@org.command("create")
@click.option("--kind", required=True, type=click.Choice([k.value for k in OrgKind]))
@click.option("--name", required=True)
@click.pass_obj
def org_create(obj: dict[str, Any], kind: str, name: str) -> None:
    """Create an organisation; its id is printed alone on the last line."""

    async def work(s: AsyncSession) -> str:
        return (await org_repo.create_org(s, OrgKind(kind), name)).id

    org_id = with_db(obj, work)
    click.echo(f"created {kind} {name.strip()!r}", err=True)
    click.echo(org_id)


@org.command("list")
@click.pass_obj
def org_list(obj: dict[str, Any]) -> None:
    """List organisations with their kind and number of users."""

    async def work(s: AsyncSession) -> list[tuple[str, str, str, int]]:
        users = await org_repo.list_users(s)
        return [
            (o.id, o.kind, o.name, sum(1 for _, uo in users if uo.id == o.id))
            for o in await org_repo.list_orgs(s)
        ]

    rows = with_db(obj, work)
    if not rows:
        click.echo("no organisations")
    for org_id, kind, name, count in rows:
        click.echo(f"{org_id}  {kind:<12} {name}  ({count} user{'s' if count != 1 else ''})")


@main.group()
def user() -> None:
    """Manage user accounts (each in one organisation, with one role)."""


def read_password() -> str:
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


@user.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--org", "org_ref", help="Organisation id or exact name (default: the only audit firm).")
@click.option("--role", type=click.Choice([r.value for r in Role]), help="Default: auditor in an audit firm.")
@click.pass_obj
def user_create(obj: dict[str, Any], email: str, name: str, org_ref: str | None, role: str | None) -> None:
    """Create a user account (password from stdin, or prompted twice)."""
    password = read_password()

    async def work(s: AsyncSession) -> tuple[str, str]:
        created = await repo.create_user(s, email, name, password, org_ref, role)
        organisation = await org_repo.get_org(s, created.org_id)
        return created.role, organisation.name if organisation else "?"

    chosen, org_name = with_db(obj, work)
    click.echo(f"created {chosen} {email.strip().lower()} in {org_name!r}")


@user.command("token")
@click.option("--email", required=True)
@click.option(
    "--days", type=click.IntRange(1, 365), default=30, show_default=True, help="Lifetime in days (1-365)."
)
@click.pass_obj
def user_token(obj: dict[str, Any], email: str, days: int) -> None:
    """Print a new API token for scripts (alone on the last line)."""

    async def work(s: AsyncSession) -> str:
        account = await repo.user_by_email(s, email)
        if account is None:
            raise click.ClickException(f"no user with email {email}")
        issued = await repo.issue_credential(s, account, "api", dt.timedelta(days=days))
        return issued.token

    token = with_db(obj, work)
    click.echo(f"Use as 'Authorization: Bearer <token>'; valid {days} days; shown only once:", err=True)
    click.echo(token)


@user.command("revoke-tokens")
@click.option("--email", required=True)
@click.pass_obj
def user_revoke_tokens(obj: dict[str, Any], email: str) -> None:
    """Revoke every API token and session of a user; a running server closes their sockets within 2 s."""

    async def work(s: AsyncSession) -> int:
        account = await repo.user_by_email(s, email)
        if account is None:
            raise click.ClickException(f"no user with email {email}")
        return await org_repo.revoke_user_credentials(s, account.id)

    count = with_db(obj, work)
    click.echo(f"revoked {count} token(s) and session(s) of {email.strip().lower()}")


@main.command()
@server_options
@click.pass_obj
def demo(obj: dict[str, Any], /, **kw: Any) -> None:
    """Run the server with a demo auditor, an audit and a simulated facility camera."""
    from server.demo import run_demo

    if kw["log_level"] == "info":
        kw["log_level"] = "warning"  # the demo prints what matters itself
    settings = build_settings(obj["data_dir"], **kw)
    configure_logging(settings.log_level, settings.log_format)
    datadir.restrict_umask()
    asyncio.run(run_demo(settings))


@main.group()
def templates() -> None:
    """Checkpoint templates (the built-in CTPAT ones and files of your own)."""


@templates.command("list")
def templates_list() -> None:
    """List the built-in templates."""
    from server.checklists import builtin_templates

    for key, t in sorted(builtin_templates().items()):
        cps = t.checkpoints()
        click.echo(f"{key:28} v{t.version}  {len(cps):3} checkpoints  {t.title}")


@templates.command("show")
@click.argument("key")
def templates_show(key: str) -> None:
    """Show a built-in template's sections and checkpoints."""
    from server.checklists import builtin_templates, describe

    found = builtin_templates().get(key)
    if found is None:
        raise click.ClickException(f"no built-in template {key!r}; see 'virtual-audit templates list'")
    click.echo(describe(found))


@templates.command("validate")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def templates_validate(file: Path) -> None:
    """Check a template file; every problem is listed with its line number."""
    from server.checklists import TemplateError, load_template
    from server.i18n import LANGUAGES

    try:
        template = load_template(file.read_text(encoding="utf-8"), str(file))
    except TemplateError as exc:
        raise click.ClickException(str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file} is not UTF-8 text") from exc
    count = len(template.checkpoints())
    click.echo(f"{file}: valid template {template.key!r} v{template.version}, {count} checkpoints")
    # Not errors: a phone in a language the template lacks is shown the English instruction.
    wanted = LANGUAGES + tuple(lang for lang in template.languages if lang not in LANGUAGES)
    for lang, keys in template.missing_translations(wanted).items():
        click.echo(
            f"warning: no '{lang}' instruction for {len(keys)} of {count} checkpoints "
            f"(phones in '{lang}' see English): {', '.join(keys)}",
            err=True,
        )


@main.command("export")
@click.argument("audit_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Zip file to write.",
)
@click.pass_obj
def export_cmd(obj: dict[str, Any], audit_id: str, output: Path) -> None:
    """Export an audit as a self-contained package that 'verify' can check offline."""
    from recorder import FileStore
    from server.app import make_templates
    from server.export import ExportError, build_export
    from server.ledger_service import LedgerSigner

    settings = build_settings(obj["data_dir"])

    async def run(bar: Any) -> None:
        db = await open_database(settings.database_url)
        try:
            signer = await LedgerSigner.open(db, settings.data_dir)
            done = [0]

            def progress(current: int, total: int) -> None:
                bar.length = total
                bar.update(current - done[0])
                done[0] = current

            await build_export(
                db, FileStore(settings.evidence_dir), signer, make_templates(), audit_id, output, progress
            )
        finally:
            await db.close()

    with click.progressbar(length=1, label="Exporting", file=sys.stderr) as bar:
        try:
            asyncio.run(run(bar))
        except ExportError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {output} ({output.stat().st_size} bytes)")


@main.command("verify")
@click.argument("package", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--public-key",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The server's public key (PEM) to trust, e.g. from /api/ledger/public-key.",
)
def verify_cmd(package: Path, public_key: Path | None) -> None:
    """Verify an export package offline; exits 0 only if everything holds."""
    from recorder.verify import verify_package

    report = verify_package(package, public_key.read_bytes() if public_key else None)
    print_verdict(report, "every file, entry and signed tree head verifies", report.problems_omitted)


def _register_repository_commands() -> None:
    from server.cli_repository import verify_certificate_cmd, witness_cmd

    main.add_command(verify_certificate_cmd)
    main.add_command(witness_cmd)


_register_repository_commands()
accept_data_dir_everywhere(main)
