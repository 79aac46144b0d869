"""Reading task files: YAML -> ``TaskSpec``, with errors that name the file, line and field.

Contract:
- ``load_task(path)`` returns a ``TaskSpec`` or raises ``TaskFileError`` whose ``str`` reads like a
  compiler message: ``tasks/x.yaml:12: checks[0].element.selector: field required``. Every malformed
  input (bad YAML, wrong types, unknown fields, non-UTF-8 bytes, an empty file) ends there; nothing
  else escapes.
- ``discover(paths)`` expands files and folders (``*.yaml``/``*.yml``, sorted) and ``load_many``
  loads them all, collecting every error instead of stopping at the first.
- ``bundled_suite(name)`` finds a suite shipped in ``tasks/suites``.
- Secrets: ``${{ secrets.NAME }}`` may appear in ``goal``, ``goals`` and reference ``type`` steps
  (nowhere else); each one's value is read from ``GAZE_SECRET_NAME`` at load time into the spec's
  private ``Secrets``. A missing variable, a malformed placeholder or one out of place is a
  ``TaskFileError`` naming the file, line, field and variable (never a value).

Line numbers come from PyYAML's node marks, so they point at the offending key or value.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from actions.safety import SecretError, Secrets, malformed_placeholder, secret_names
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
        return " ".join(f"{where}: {what}{self.message}".split())  # always one line


Loc = tuple[str | int, ...]


_MAX_NODES = 100_000
_MAX_DEPTH = 50  # a task is a few levels deep; past this it is a mistake or an attack


def _construct(
    node: yaml.Node, loc: Loc, lines: dict[Loc, int], seen: set[int], loader: yaml.SafeLoader
) -> Any:
    """Plain Python data from a YAML node, recording the 1-based line of every key path.

    Aliases are allowed only where they do not form a cycle, and the total node count and the
    depth are capped, so recursive anchors, "billion laughs" and deeply nested files end as errors
    instead of hanging or overflowing the stack.
    """
    if id(node) in seen:
        raise TaskFileError("", node.start_mark.line + 1, None, "recursive YAML alias")
    if len(lines) > _MAX_NODES:
        raise TaskFileError("", node.start_mark.line + 1, None, "too many YAML nodes")
    if len(loc) > _MAX_DEPTH:
        line = node.start_mark.line + 1
        raise TaskFileError("", line, None, f"nested more than {_MAX_DEPTH} levels deep")
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen = seen | {id(node)}
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise TaskFileError("", line, None, "keys must be plain scalars")
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise TaskFileError("", line, None, "YAML merge keys (<<) are not supported")
            key = _scalar(key_node, loader)
            if key in out:
                raise TaskFileError("", line, str(key), "duplicate key")
            child = (*loc, str(key))
            lines[child] = line
            out[key] = _construct(value_node, child, lines, seen, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        seen = seen | {id(node)}
        return [
            _construct(item, (*loc, i), lines, seen, loader) for i, item in enumerate(node.value)
        ]
    return _scalar(node, loader)


def _scalar(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    try:
        value = loader.construct_object(node)
    except Exception as e:  # PyYAML raises many types ('!!timestamp x', '!!int 1e999')
        text, tag = str(node.value), node.tag.replace("tag:yaml.org,2002:", "!!")
        shown = text if len(text) <= 40 else text[:39] + "…"
        why = e.problem if isinstance(e, yaml.MarkedYAMLError) else None
        why = why or (str(e)[:100] if isinstance(e, ValueError) else None)
        message = f"{shown!r} is not a valid {tag} value" + (f" ({why})" if why else "")
        raise TaskFileError("", node.start_mark.line + 1, None, message) from None
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


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses ``[``/``{`` nesting past ``_MAX_DEPTH`` as it scans: PyYAML's
    scanner is quadratic in flow depth (a few thousand ``[`` take seconds)."""

    def fetch_flow_collection_start(self, TokenClass: type[yaml.Token]) -> None:
        if self.flow_level >= _MAX_DEPTH:
            problem = f"nested more than {_MAX_DEPTH} levels deep"
            raise yaml.scanner.ScannerError(None, None, problem, self.get_mark())
        super().fetch_flow_collection_start(TokenClass)  # type: ignore[misc]


def parse_task(
    text: str, path: str = "<task>", environ: Mapping[str, str] | None = None
) -> TaskSpec:
    """Validate YAML text as a task, its secrets read from ``environ`` (default: this process's
    environment); raises TaskFileError."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except RecursionError:  # block nesting deep enough for the composer's recursion
        raise TaskFileError(
            path, None, None, f"nested more than {_MAX_DEPTH} levels deep"
        ) from None
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
        data = _construct(node, (), lines, set(), yaml.SafeLoader(""))  # one loader: cheap
    except TaskFileError as e:
        raise TaskFileError(path, e.line, e.field, e.message) from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as e:
        raise TaskFileError(path, None, None, f"invalid YAML value: {e}") from None
    if not isinstance(data, dict):
        raise TaskFileError(path, 1, None, f"a task is a YAML mapping, not a {type(data).__name__}")
    try:
        spec = TaskSpec.model_validate(data)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        # With unions pydantic reports one error per member; the deepest is the most specific.
        err = max(reversed(errors), key=lambda er: len(_clean_loc(tuple(er["loc"]))))
        loc = _clean_loc(tuple(err["loc"]))
        msg = err["msg"].removeprefix("Value error, ")
        return_line = _line_for(loc, lines)
        raise TaskFileError(path, return_line, _field_name(loc) or None, msg) from None
    environ = os.environ if environ is None else environ
    return spec.with_secrets(_secrets(data, lines, path, environ))


# Where a secret may be named: what the model reads as its goal, and what a reference types.
_SECRET_PLACES: tuple[tuple[str | type[int], ...], ...] = (
    ("goal",),
    ("goals", int),
    ("reference", int, "type"),
    ("reference", int, "type", "text"),
)


def _secret_place(loc: Loc) -> bool:
    return any(
        len(loc) == len(place)
        and all(
            (p is int and isinstance(part, int)) or part == p
            for part, p in zip(loc, place, strict=True)
        )
        for place in _SECRET_PLACES
    )


def _secrets(data: Any, lines: dict[Loc, int], path: str, environ: Mapping[str, str]) -> Secrets:
    """The values of the secrets a task names; see the module contract."""
    first_use: dict[str, Loc] = {}
    stack: list[tuple[Loc, Any]] = [((), data)]  # depth first, in file order
    while stack:
        loc, value = stack.pop()
        if isinstance(value, dict):
            stack.extend(reversed([((*loc, str(k)), v) for k, v in value.items()]))
        elif isinstance(value, list):
            stack.extend(reversed([((*loc, i), v) for i, v in enumerate(value)]))
        elif isinstance(value, str):
            names, allowed = secret_names(value), _secret_place(loc)
            bad = malformed_placeholder(value) if allowed else None
            problem = None
            if bad is not None:
                problem = f"{bad!r} is not a secret placeholder; write " + "${{ secrets.NAME }}"
            elif names and not allowed:
                problem = "secrets may appear only in goal, goals and reference type steps"
            if problem is not None:
                raise TaskFileError(path, _line_for(loc, lines), _field_name(loc) or None, problem)
            for name in names:
                first_use.setdefault(name, loc)
    for name, loc in first_use.items():
        try:
            Secrets.from_env([name], environ)
        except SecretError as e:
            raise TaskFileError(path, _line_for(loc, lines), _field_name(loc), str(e)) from None
    return Secrets.from_env(list(first_use), environ)


def load_task(path: str | Path, environ: Mapping[str, str] | None = None) -> TaskSpec:
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
    return parse_task(text, str(p), environ)


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
