"""Templates from YAML: uploaded text and the files shipped in ``builtin/``.

YAML is composed into nodes (never constructed into arbitrary objects) so that every
value keeps the line it came from; the plain data and its marks then go through the
same checker as ``Template.from_dict``.
"""

from __future__ import annotations

import functools
from importlib import resources

import yaml  # type: ignore[import-untyped, unused-ignore]
from yaml.constructor import SafeConstructor  # type: ignore[import-untyped, unused-ignore]
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode  # type: ignore[import-untyped, unused-ignore]

from server.checklists.model import Template
from server.checklists.schema import Marks, Path, Problem, TemplateError, build_template

MAX_TEMPLATE_BYTES = 256 * 1024
# A template nests seven levels deep (sections > checkpoint > instruction > text); more is a mistake.
MAX_DEPTH = 16
BUILTIN_PACKAGE = "server.checklists"
BUILTIN_FOLDER = "builtin"


def load_template(text: str, source: str = "<upload>") -> Template:
    """Parse and validate a YAML template.

    Raises ``TemplateError`` whose ``problems`` list everything found, each with the
    1-based line it is on.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_TEMPLATE_BYTES:
        limit = MAX_TEMPLATE_BYTES // 1024
        raise TemplateError(
            [Problem(None, f"the template is {size / 1024:.0f} KiB; the limit is {limit} KiB")], source
        )
    root = _compose(text, source)
    reader = _Reader()
    data = reader.read(root, ()) if root is not None else None
    marks = Marks(lines=reader.lines, key_lines=reader.key_lines, raw=reader.raw)
    return build_template(data, marks, source, reader.problems)


def builtin_templates() -> dict[str, Template]:
    """The templates shipped with the service, by key, read from package data once.

    Each file is named after its template's key (``container-7-point.yaml``).
    """
    return dict(_builtin_templates())


@functools.cache
def _builtin_templates() -> dict[str, Template]:
    # Package data never changes while the process runs; templates are immutable.
    folder = resources.files(BUILTIN_PACKAGE).joinpath(BUILTIN_FOLDER)
    templates: dict[str, Template] = {}
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if not entry.name.endswith(".yaml"):
            continue
        source = f"{BUILTIN_FOLDER}/{entry.name}"
        template = load_template(entry.read_text(encoding="utf-8"), source)
        if entry.name != f"{template.key}.yaml":
            problem = Problem(
                None, f"the file of template '{template.key}' must be named {template.key}.yaml"
            )
            raise TemplateError([problem], source)
        templates[template.key] = template
    return templates


def _compose(text: str, source: str) -> Node | None:
    try:
        node: Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise TemplateError([_syntax_problem(exc)], source) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise TemplateError(
            [Problem(line, f"not valid YAML: {exc.reason} (#x{exc.character:04x})")], source
        ) from None
    except yaml.YAMLError as exc:
        raise TemplateError([Problem(None, f"not valid YAML: {exc}")], source) from None
    except RecursionError:
        raise TemplateError([Problem(None, "the template is nested too deeply")], source) from None
    return node


def _syntax_problem(exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    message = f"not valid YAML: {exc.problem or exc.context}"
    if exc.context and exc.problem and exc.context_mark is not None:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    return Problem(mark.line + 1 if mark is not None else None, message)


class _Reader:
    """Plain data from YAML nodes, recording the line of every value and key by path."""

    def __init__(self) -> None:
        self.lines: dict[Path, int] = {}
        self.key_lines: dict[Path, int] = {}
        self.raw: dict[Path, str] = {}
        self.problems: list[Problem] = []
        self._seen: set[int] = set()
        self._constructor = SafeConstructor()

    def read(self, node: Node, path: Path, depth: int = 0) -> object:
        if id(node) in self._seen:
            # The composer hands back the anchored node for an alias; its own mark is the anchor's.
            line = self.key_lines.get(path) or self.lines.get(path[:-1])
            self.problems.append(Problem(line, "anchors and aliases (&name, *name) are not supported"))
            return None
        self._seen.add(id(node))
        self.lines[path] = node.start_mark.line + 1
        if depth > MAX_DEPTH:
            self.problems.append(Problem(self.lines[path], "this value is nested too deeply"))
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            return [self.read(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, object]:
        result: dict[str, object] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                self.problems.append(Problem(line, "a field name must be plain text, not a list or mapping"))
                continue
            # The key as written: `no:` stays "no" rather than YAML 1.1's false.
            name = str(key_node.value)
            if name in result:
                first = self.key_lines[(*path, name)]
                self.problems.append(Problem(line, f"'{name}' is given twice (first at line {first})"))
                continue
            self.key_lines[(*path, name)] = line
            result[name] = self.read(value_node, (*path, name), depth + 1)
        return result

    def _scalar(self, node: Node, path: Path) -> object:
        self.raw[path] = str(node.value)
        try:
            return self._constructor.construct_object(node)
        except (yaml.YAMLError, ValueError) as exc:
            reason = getattr(exc, "problem", None) or str(exc)
            self.problems.append(Problem(self.lines[path], f"cannot read the value {node.value!r}: {reason}"))
            return None
