"""Grounding answers -> a Click; plus the number, point and literal helpers all dialects share.

Contract:
- ``parse(text, frame)`` reads the first point or box of a grounding answer and returns a Click at
  the point, or at the box's centre, mapped through ``frame``. Accepted: ``(x, y)``, ``[x, y]``,
  ``x, y``, ``(x1,y1),(x2,y2)``, ``[x1,y1,x2,y2]`` and OS-Atlas
  ``<|object_ref_start|>label<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>``.
- ``format(action, frame)`` writes a Click as ``(x, y)`` in the frame's space (ints for pixels and
  0-1000, three decimals for 0-1); any other action is a ValueError.
- The shared helpers (``number``, ``viewport_point``, ``make``, ``model_xy``, ``bracket_spans``,
  ``literal``...) never raise for bad model text either: they return a ``ParseError``.

It does not decide the coordinate space (``frame.space`` does), clamp points to the image, or check
them against the viewport (the executor does); it only refuses negative and non-finite numbers.
"""

from __future__ import annotations

import ast
import json
import math
import re
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from actions.types import Action, Click
from perception.frames import Frame
from perception.parsers.base import Parsed, ParseError, ParseResult, quote

# Replies longer than this are degenerate (a model stuck repeating itself), not actions.
MAX_TEXT_CHARS = 50_000
# Largest magnitude accepted for any number in model text.
MAX_ABS = 1e7

# A number as models write it; callers add context. The lookbehind keeps searches linear-time: a
# match can only start where a number starts, never in the middle of a run of digits.
NUM = r"(?<![\w.])-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
NUM_RE = re.compile(NUM)
_N = f"({NUM})"
_PAIR_OF_PAIRS = re.compile(rf"\(\s*{_N}\s*,\s*{_N}\s*\)\s*,?\s*\(\s*{_N}\s*,\s*{_N}\s*\)")
_GROUP = re.compile(rf"[\[(]\s*{_N}\s*,\s*{_N}\s*(?:,\s*{_N}\s*,\s*{_N}\s*)?[\])]")
_BARE = re.compile(rf"{_N}\s*,\s*{_N}(?![\w.])")
_BOX_START, _BOX_END = "<|box_start|>", "<|box_end|>"

ACTION_SPACE = """\
## Answer format
Answer with the point to click and nothing else, as (x, y): x counted from the left edge and
y from the top edge of the screenshot. A box (x1, y1), (x2, y2) is clicked at its centre.
Example: (412, 133)"""
# The only Action a grounding answer becomes.
ACTIONS = frozenset({"click"})

A = TypeVar("A", bound=BaseModel)


def too_long(text: str) -> ParseError | None:
    if len(text) > MAX_TEXT_CHARS:
        return ParseError(
            f"the reply is {len(text)} characters long; answer with one short action instead"
        )
    return None


def number(value: object, what: str) -> float | ParseError:
    """A finite number of sane size from model text or a decoded literal."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return ParseError(f"{what} must be a number, got {quote(repr(value))}")
    if isinstance(value, str):
        if NUM_RE.fullmatch(value.strip()) is None:
            return ParseError(f"{what} must be a number, got {quote(value)}")
        value = value.strip()
    try:
        v = float(value)
    except (OverflowError, ValueError):
        return ParseError(f"{what} is not a usable number: {quote(str(value)[:40])}")
    if not math.isfinite(v) or abs(v) > MAX_ABS:
        return ParseError(f"{what} is out of range: {quote(str(value)[:40])}")
    return v


def numbers(values: object, what: str) -> list[float] | ParseError:
    """A list/tuple of numbers (a decoded ``[x, y]``) -> floats."""
    if not isinstance(values, list | tuple):
        return ParseError(f"{what} must be a list of numbers, got {quote(repr(values)[:80])}")
    out: list[float] = []
    for v in values:
        n = number(v, what)
        if isinstance(n, ParseError):
            return n
        out.append(n)
    return out


def centre(nums: list[float], what: str) -> tuple[float, float] | ParseError:
    """(x, y) from 2 numbers, or the centre of the box (x1, y1, x2, y2) from 4; model space."""
    if len(nums) == 2:
        return nums[0], nums[1]
    if len(nums) == 4:
        return (nums[0] + nums[2]) / 2, (nums[1] + nums[3]) / 2
    return ParseError(f"{what} needs 2 numbers (x, y) or 4 (x1, y1, x2, y2), got {len(nums)}")


def viewport_point(frame: Frame, mx: float, my: float) -> tuple[float, float] | ParseError:
    """Model-space point -> viewport CSS px; negative numbers are off the image, so an error."""
    if mx < 0 or my < 0:
        return ParseError(
            f"coordinates must not be negative, got ({mx:g}, {my:g}); "
            "x and y count from the top-left corner of the screenshot"
        )
    return frame.to_viewport(mx, my)


def text_point(frame: Frame, text: str, what: str) -> tuple[float, float] | ParseError:
    """Every number in ``text`` ('(x,y)', '<point>x y</point>', a box) -> a viewport point."""
    found = [m.group() for m in NUM_RE.finditer(text, 0, 2000)]
    nums: list[float] = []
    for f in found:
        n = number(f, what)
        if isinstance(n, ParseError):
            return n
        nums.append(n)
    c = centre(nums, f"{what} {quote(text)}")
    return c if isinstance(c, ParseError) else viewport_point(frame, *c)


def centre_of(frame: Frame) -> tuple[float, float]:
    """The viewport point at the centre of the frame's region (where direction-only scrolls go)."""
    return frame.region_x + frame.region_w / 2, frame.region_y + frame.region_h / 2


# The wheel's sign for each scroll direction, in viewport px: +dy scrolls down, +dx right.
DIRECTIONS = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}


def scroll_direction(dx: float, dy: float) -> str:
    """The one direction a scroll moves in, for formatters (ValueError for two axes or none)."""
    if (dx == 0) == (dy == 0):
        raise ValueError(f"a scroll must move along exactly one axis, got dx={dx:g}, dy={dy:g}")
    if dy:
        return "down" if dy > 0 else "up"
    return "right" if dx > 0 else "left"


def make(cls: type[A], what: str, **fields: object) -> A | ParseError:
    """Build an Action, turning a validation failure into a ParseError the model can read."""
    try:
        return cls(**fields)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        return ParseError(f"{what}: {field}: {err['msg']}")


def model_xy(frame: Frame, x: float, y: float, *, decimals: int = 3) -> tuple[float, float]:
    """Viewport CSS px -> model space, rounded as models write it: ints unless the space is 0-1."""
    mx, my = frame.from_viewport(x, y)
    if frame.space == "rel1":
        return round(mx, decimals) + 0.0, round(my, decimals) + 0.0
    return round(mx), round(my)


def num_text(v: float) -> str:
    """A number as a model writes it: '3', '2.5'."""
    return str(int(v)) if float(v).is_integer() else str(round(v, 3))


_SPAN_TOKEN = {q: re.compile(r"\\.|[\[\]{}\n" + q + "]") for q in ('"', "'\"")}


def bracket_spans(text: str, quotes: str = '"') -> list[tuple[int, int]]:
    """(start, end) of each outermost balanced ``{...}`` or ``[...]``, ignoring brackets in strings.

    One left-to-right pass over bracket, quote and escape tokens (linear time). Strings end at the
    line's end, so a stray quote in prose cannot swallow the rest of the text; a stray closing
    bracket is ignored and an unclosed opening one leaves the spans inside it outermost.
    """
    pairs: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []
    in_string = ""
    for m in _SPAN_TOKEN[quotes].finditer(text):
        c = m.group()
        if len(c) == 2:
            continue
        if in_string:
            if c in (in_string, "\n"):
                in_string = ""
        elif c in quotes:
            in_string = c
        elif c in "[{":
            stack.append((c, m.start()))
        elif c in "]}" and stack and stack[-1][0] == ("[" if c == "]" else "{"):
            pairs.append((stack.pop()[1], m.end()))
    pairs.sort()
    outer: list[tuple[int, int]] = []
    for start, end in pairs:
        if not outer or start >= outer[-1][1]:
            outer.append((start, end))
    return outer


def literal(src: str) -> object | ParseError:
    """Decode JSON, else a Python literal (``None``, single quotes) with ``ast.literal_eval``."""
    try:
        return json.loads(src, strict=False)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(src)
    except Exception:  # literal_eval raises many types (SyntaxError, MemoryError, ...) on bad text
        return ParseError(f"could not read {quote(src)} as JSON or a Python literal")


def parse(text: str, frame: Frame) -> ParseResult:
    """The first point or box in ``text`` -> ``Parsed((Click,))``."""
    if (err := too_long(text)) is not None:
        return err
    start = text.find(_BOX_START)
    if start >= 0:
        end = text.find(_BOX_END, start)
        inner = text[start + len(_BOX_START) : end if end >= 0 else len(text)]
        p = text_point(frame, inner, "the box")
        return p if isinstance(p, ParseError) else Parsed((Click(x=p[0], y=p[1]),))
    found = [m for m in (_PAIR_OF_PAIRS.search(text), _GROUP.search(text)) if m is not None]
    if not found:
        found = [m for m in (_BARE.search(text),) if m is not None]
    if not found:
        return ParseError(f"no point found in {quote(text)}; answer with (x, y)")
    best = min(found, key=lambda m: m.start())
    nums: list[float] = []
    for g in best.groups():
        if g is not None:
            n = number(g, "a coordinate")
            if isinstance(n, ParseError):
                return n
            nums.append(n)
    c = centre(nums, "the answer")
    if isinstance(c, ParseError):
        return c
    p = viewport_point(frame, *c)
    return p if isinstance(p, ParseError) else Parsed((Click(x=p[0], y=p[1]),))


def format(action: Action, frame: Frame) -> str:
    """A Click as ``(x, y)`` in the frame's space; other actions cannot be written as a point."""
    if not isinstance(action, Click):
        raise ValueError(f"the point dialect can only express a click, not {action.kind}")
    mx, my = model_xy(frame, action.x, action.y)
    return f"({num_text(mx)}, {num_text(my)})"
