"""Checkpoint templates as data: the CTPAT walkthroughs an audit follows.

Templates are YAML files validated into immutable objects; an audit stores
``Template.to_dict()`` as its snapshot and reads it back with ``Template.from_dict``.
"""

from server.checklists.cli_format import describe
from server.checklists.loader import MAX_TEMPLATE_BYTES, builtin_templates, load_template
from server.checklists.model import Checkpoint, Kind, Level, Section, Template, language_code
from server.checklists.schema import Problem, TemplateError, format_problems

__all__ = [
    "MAX_TEMPLATE_BYTES",
    "Checkpoint",
    "Kind",
    "Level",
    "Problem",
    "Section",
    "Template",
    "TemplateError",
    "builtin_templates",
    "describe",
    "format_problems",
    "language_code",
    "load_template",
]
