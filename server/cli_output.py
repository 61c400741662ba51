"""How the offline checks (``verify``, ``verify-certificate``) print their verdict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import click


class Verdict(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def summary(self) -> Mapping[str, Any]: ...
    @property
    def notes(self) -> Sequence[str]: ...
    @property
    def problems(self) -> Sequence[str]: ...


def print_verdict(report: Verdict, ok_message: str, omitted: int = 0) -> None:
    """Summary and notes, then OK, or every problem and exit status 1."""
    for key, value in report.summary.items():
        click.echo(f"{key:>16}: {value}")
    for note in report.notes:
        click.echo(f"note: {note}")
    if report.ok:
        click.echo(f"OK: {ok_message}")
        return
    for problem in report.problems:
        click.echo(f"FAIL: {problem}", err=True)
    if omitted:
        shown = len(report.problems)
        click.echo(f"FAIL: ... and {omitted} more problems (only the first {shown} are listed)", err=True)
    raise SystemExit(1)
