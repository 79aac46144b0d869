"""Reading task files: YAML -> ``TaskSpec``, with errors that name the file, line and field.

Contract:
- ``load_task(path)`` returns a ``TaskSpec`` or raises ``TaskFileError`` whose ``str`` reads like a
  compiler message: ``tasks/x.yaml:12: checks[0].element.selector: field required``. Every malformed
  input (bad YAML, wrong types, unknown fields, non-UTF-8 bytes, an empty file) ends there; nothing
  else escapes.
- ``discover(paths)`` expands files and folders (``*.yaml``/``*.yml``, sorted) and ``load_many``
  loads them all, collecting every error instead of stopping at the first.
- ``bundled_suite(name)`` finds a suite shipped in ``tasks/suites``.

Line numbers come from PyYAML's node marks, so they point at the offending key or value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tasks.spec import TaskSpec

SUITES_ROOT = Path(__file__).parent / "suites"
_MAX_BYTES = 1_000_000


@dataclass
class TaskFileError(Exception):
    path: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        what = f"{self.field}: " if self.field else ""
        return f"{where}: {what}{self.message}"


Loc = tuple[str | int, ...]


_MAX_NODES = 100_000


def _construct(node: yaml.Node, loc: Loc, lines: dict[Loc, int], seen: set[int]) -> Any:
    """Plain Python data from a YAML node, recording the 1-based line of every key path.

    Aliases are allowed only where they do not form a cycle, and the total node count is capped,
    so recursive anchors and "billion laughs" files end as errors instead of hanging.
    """
    if id(node) in seen:
        raise TaskFileError("", node.start_mark.line + 1, None, "recursive YAML alias")
    if len(lines) > _MAX_NODES:
        raise TaskFileError("", node.start_mark.line + 1, None, "too many YAML nodes")
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen = seen | {id(node)}
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise TaskFileError("", line, None, "keys must be plain scalars")
            key = _scalar(key_node)
            if key in out:
                raise TaskFileError("", line, str(key), "duplicate key")
            child = (*loc, str(key))
            lines[child] = line
            out[key] = _construct(value_node, child, lines, seen)
        return out
    if isinstance(node, yaml.SequenceNode):
        seen = seen | {id(node)}
        return [_construct(item, (*loc, i), lines, seen) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    value = yaml.SafeLoader("").construct_object(node)
    if not isinstance(value, (str, int, float, bool)) and value is not None:
        # dates, binary and other YAML tags: keep their text, let the schema judge it
        return str(node.value)
    return value


def _field_name(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _is_type_tag(part: str | int) -> bool:
    """pydantic names union members in error locations ('str', 'Point', 'function-after[...]')."""
    return isinstance(part, str) and (
        part[:1].isupper() or part in {"str", "int", "float", "bool"} or "[" in part
    )


def _clean_loc(loc: tuple[str | int, ...]) -> Loc:
    """The YAML path of an error: union-member names dropped, and a tagged union's tag (which
    pydantic repeats before the field of the same name, 'checks.0.js.js') folded into one."""
    out: list[str | int] = []
    for part in loc:
        if not _is_type_tag(part) and not (out and out[-1] == part):
            out.append(part)
    return tuple(out)


def parse_task(text: str, path: str = "<task>") -> TaskSpec:
    """Validate YAML text as a task; raises TaskFileError."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        raise TaskFileError(path, line, None, f"invalid YAML: {e.problem or e}") from None
    except yaml.YAMLError as e:
        raise TaskFileError(path, None, None, f"invalid YAML: {e}") from None
    if node is None:
        raise TaskFileError(path, None, None, "the file is empty; a task is a YAML mapping")
    lines: dict[Loc, int] = {}
    try:
        data = _construct(node, (), lines, set())
    except TaskFileError as e:
        raise TaskFileError(path, e.line, e.field, e.message) from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as e:
        raise TaskFileError(path, None, None, f"invalid YAML value: {e}") from None
    if not isinstance(data, dict):
        raise TaskFileError(path, 1, None, f"a task is a YAML mapping, not a {type(data).__name__}")
    try:
        return TaskSpec.model_validate(data)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        # With unions pydantic reports one error per member; the deepest is the most specific.
        err = max(reversed(errors), key=lambda er: len(_clean_loc(tuple(er["loc"]))))
        loc = _clean_loc(tuple(err["loc"]))
        msg = err["msg"].removeprefix("Value error, ")
        return_line = _line_for(loc, lines)
        raise TaskFileError(path, return_line, _field_name(loc) or None, msg) from None


def load_task(path: str | Path) -> TaskSpec:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise TaskFileError(str(p), None, None, f"cannot read: {e.strerror or e}") from None
    if len(raw) > _MAX_BYTES:
        raise TaskFileError(str(p), None, None, f"larger than {_MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TaskFileError(str(p), None, None, f"not UTF-8 text (byte {e.start})") from None
    return parse_task(text, str(p))


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Task files named directly, or found (recursively, sorted) in the folders named."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.suffix in {".yaml", ".yml"}))
        else:
            out.append(p)
    return out


def load_many(paths: Iterable[str | Path]) -> tuple[list[TaskSpec], list[TaskFileError]]:
    tasks, errors = [], []
    for p in discover(paths):
        try:
            tasks.append(load_task(p))
        except TaskFileError as e:
            errors.append(e)
    return tasks, errors


def bundled_suite(name: str) -> Path:
    """The folder of a suite shipped with Gaze (``demo``)."""
    return SUITES_ROOT / name
