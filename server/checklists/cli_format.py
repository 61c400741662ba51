"""A plain-text listing of a template, for ``virtual-audit templates show KEY``."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from server.checklists.model import Checkpoint, Template

WIDTH = 100


def describe(template: Template) -> str:
    """The template as a reader checks it: header, totals, then each section's checkpoints.

    One row per checkpoint: number, key, must/should, criteria, captures required and
    title; optional checkpoints and identity checks are marked.
    """
    lines = [f"{template.key} (version {template.version}): {template.title}"]
    if template.description:
        lines += textwrap.wrap(template.description, WIDTH - 2, initial_indent="  ", subsequent_indent="  ")
    lines += ["", f"Languages: {', '.join(template.languages)}"]
    lines += textwrap.wrap(summary(template.checkpoints()), WIDTH, subsequent_indent="  ")
    for number, section in enumerate(template.sections, start=1):
        lines += ["", f"{number}. {section.title} [{section.key}]"]
        rows = [
            _row(f"{number}.{i}", checkpoint) for i, checkpoint in enumerate(section.checkpoints, start=1)
        ]
        lines += _columns(rows)
    return "\n".join(lines)


def summary(checkpoints: Sequence[Checkpoint]) -> str:
    """E.g. '9 checkpoints: 9 must, 0 should, 1 optional; 9 captures required; criteria 5.3, 5.4'."""
    must = sum(1 for checkpoint in checkpoints if checkpoint.level == "must")
    optional = sum(1 for checkpoint in checkpoints if checkpoint.optional)
    captures = sum(checkpoint.captures_required for checkpoint in checkpoints)
    criteria = sorted({c for checkpoint in checkpoints for c in checkpoint.criteria}, key=_criterion_order)
    counts = f"{must} must, {len(checkpoints) - must} should, {optional} optional"
    required = f"{_count(captures, 'capture')} required"
    return f"{_count(len(checkpoints), 'checkpoint')}: {counts}; {required}; criteria {', '.join(criteria)}"


def _row(number: str, checkpoint: Checkpoint) -> tuple[str, ...]:
    criteria = ", ".join(checkpoint.criteria) or "—"
    if checkpoint.kind == "identity":
        criteria = f"identity {criteria}" if checkpoint.criteria else "identity"
    captures = (
        _count(checkpoint.captures_required, "capture") if checkpoint.captures_required else "no capture"
    )
    title = f"{checkpoint.title} (optional)" if checkpoint.optional else checkpoint.title
    return (number, checkpoint.key, checkpoint.level, criteria, captures, title)


def _columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    return [
        "   " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _criterion_order(criterion: str) -> tuple[int, ...]:
    return tuple(int(part) for part in criterion.split("."))
