"""ShowUI and SeeClick: a bare point ``[0.73, 0.21]``, or Python-style action dicts such as
``{'action': 'CLICK', 'value': None, 'position': [0.49, 0.42]}``.

Contract:
- ``parse(text, frame)`` reads every outermost dict or list in the reply with ``json`` or
  ``ast.literal_eval`` (never ``eval``). Action dicts, alone or in a list, become Actions in order;
  without any, the first list of 2 or 4 numbers is a Click (a box at its centre).
- Actions: CLICK, HOVER, INPUT (value typed; a click at ``position`` first when one is given),
  SELECT (a click at ``position`` then the value typed), ENTER, SCROLL (``value`` is the direction;
  at ``position`` if given, else the centre of the frame's region, by ``DEFAULT_SCROLL_PX``),
  ANSWER (Done with the value) and SELECT_TEXT (a Drag over ``[[x1, y1], [x2, y2]]``).
- ``format(action, frame)`` writes one dict the way ShowUI does (two decimals in 0-1); a Type with
  submit becomes ``[INPUT, ENTER]``. Scroll distance and point are dropped; actions ShowUI has no
  name for (double/right click, other keys, navigation, waits, giving up, asking) are a ValueError.
"""

from __future__ import annotations

from typing import assert_never

from actions.types import (
    Action,
    AskUser,
    Back,
    Click,
    Done,
    DoubleClick,
    Drag,
    GiveUp,
    Hover,
    KeyPress,
    Navigate,
    RightClick,
    Scroll,
    Type,
    Wait,
)
from perception.frames import Frame
from perception.parsers.base import DEFAULT_SCROLL_PX, Parsed, ParseError, ParseResult, quote
from perception.parsers.calls import thought_before
from perception.parsers.point import (
    DIRECTIONS,
    bracket_spans,
    centre,
    centre_of,
    literal,
    model_xy,
    numbers,
    scroll_direction,
    too_long,
    viewport_point,
)

_ACTIONS = ("CLICK", "INPUT", "SELECT", "HOVER", "ANSWER", "ENTER", "SCROLL", "SELECT_TEXT")

ACTION_SPACE = """\
Available actions:
1. `CLICK`: Click on an element, value is not applicable and the position [x,y] is required.
2. `INPUT`: Type a string into an element, value is a string to type and the position [x,y] is required.
3. `SELECT`: Select a value for an element, value is the option to select and the position [x,y] is required.
4. `HOVER`: Hover on an element, value is not applicable and the position [x,y] is required.
5. `ANSWER`: Answer the question, value is the answer and the position is not applicable.
6. `ENTER`: Enter operation, value and position are not applicable.
7. `SCROLL`: Scroll the screen, value is the direction to scroll ('up', 'down', 'left' or 'right') and the position is not applicable.
8. `SELECT_TEXT`: Select some text content, value is not applicable and position [[x1,y1], [x2,y2]] is the start and end position of the select operation.

Format the action as a dictionary with the following keys:
{'action': 'ACTION_TYPE', 'value': 'element', 'position': [x,y]}

If value or position is not applicable, set it as `None`.
Position might be [[x1,y1], [x2,y2]] if the action requires a start and end position.
Position represents the relative coordinates on the screenshot and should be scaled to a range of 0-1."""
# The Action kinds its eight actions map to (ENTER is a key, ANSWER is done, SELECT_TEXT a drag).
ACTIONS = frozenset({"click", "hover", "type", "key", "scroll", "done", "drag"})


def _position(position: object, frame: Frame, what: str) -> tuple[float, float] | ParseError:
    nums = numbers(position, f"{what} position")
    if isinstance(nums, ParseError):
        return ParseError(f"{what} needs a position [x, y], got {quote(repr(position))}")
    c = centre(nums, f"{what} position")
    return c if isinstance(c, ParseError) else viewport_point(frame, *c)


def _build(item: dict[object, object], frame: Frame) -> list[Action] | ParseError:
    d = {str(k).lower(): v for k, v in item.items()}
    kind = str(d.get("action", "")).strip().upper()
    value, position = d.get("value"), d.get("position")
    text = value if isinstance(value, str) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
    match kind:
        case "CLICK" | "HOVER":
            p = _position(position, frame, kind)
            if isinstance(p, ParseError):
                return p
            return [Click(x=p[0], y=p[1]) if kind == "CLICK" else Hover(x=p[0], y=p[1])]
        case "INPUT" | "SELECT":
            if text is None:
                return ParseError(f"{kind} needs the text to type as its value, got {value!r}")
            if position is None and kind == "INPUT":
                return [Type(text=text)]
            p = _position(position, frame, kind)
            return p if isinstance(p, ParseError) else [Click(x=p[0], y=p[1]), Type(text=text)]
        case "ENTER":
            return [KeyPress(keys="Enter")]
        case "SCROLL":
            sign = DIRECTIONS.get((text or "").strip().lower())
            if sign is None:
                return ParseError("SCROLL needs a value: 'up', 'down', 'left' or 'right'")
            p = centre_of(frame) if position is None else _position(position, frame, kind)
            if isinstance(p, ParseError):
                return p
            a = DEFAULT_SCROLL_PX
            return [Scroll(x=p[0], y=p[1], dx=sign[0] * a, dy=sign[1] * a)]
        case "ANSWER":
            return [Done(answer=text)]
        case "SELECT_TEXT":
            if not isinstance(position, list | tuple) or len(position) != 2:
                return ParseError("SELECT_TEXT needs position [[x1, y1], [x2, y2]]")
            p, q = (_position(pos, frame, kind) for pos in position)
            if isinstance(p, ParseError):
                return p
            return q if isinstance(q, ParseError) else [Drag(x=p[0], y=p[1], to_x=q[0], to_y=q[1])]
        case _:
            return ParseError(f"unknown action {kind!r}; use one of: {', '.join(_ACTIONS)}")


def _is_point(value: object) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) in (2, 4)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def parse(text: str, frame: Frame) -> ParseResult:
    """Every action dict in ``text`` -> ``Parsed(actions)``; else the first bare point -> Click."""
    if (err := too_long(text)) is not None:
        return err
    spans = bracket_spans(text, "'\"")
    items: list[dict[object, object]] = []
    point: object = None
    failure: ParseError | None = None
    for start, end in spans:
        value = literal(text[start:end])
        if isinstance(value, ParseError):
            failure = failure or value
        elif isinstance(value, dict):
            items.append(value)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            items.extend(value)
        elif point is None and _is_point(value):
            point = value
    thought = thought_before(text[: spans[0][0]]) if spans else None
    if items:
        actions: list[Action] = []
        for item in items:
            built = _build(item, frame)
            if isinstance(built, ParseError):
                return built
            actions.extend(built)
        return Parsed(tuple(actions), thought=thought)
    if point is not None:
        p = _position(point, frame, "CLICK")
        return p if isinstance(p, ParseError) else Parsed((Click(x=p[0], y=p[1]),), thought)
    if failure is not None:
        return failure
    return ParseError(
        f"no action found in {quote(text)}; answer like "
        "{'action': 'CLICK', 'value': None, 'position': [0.5, 0.5]}"
    )


def _dict(action: str, value: object = None, position: object = None) -> dict[str, object]:
    return {"action": action, "value": value, "position": position}


def format(action: Action, frame: Frame) -> str:
    """The ShowUI dict for ``action`` (a list of two for a Type that submits)."""

    def xy(x: float, y: float) -> list[float]:
        return list(model_xy(frame, x, y, decimals=2))

    match action:
        case Click() | Hover():
            return repr(_dict(action.kind.upper(), None, xy(action.x, action.y)))
        case Type():
            typed = _dict("INPUT", action.text)
            return repr([typed, _dict("ENTER")]) if action.submit else repr(typed)
        case KeyPress():
            if action.keys != "Enter":
                raise ValueError(f"ShowUI can only press Enter, not {action.keys!r}")
            return repr(_dict("ENTER"))
        case Scroll():
            direction = scroll_direction(action.dx, action.dy)
            return repr(_dict("SCROLL", direction))
        case Done():
            return repr(_dict("ANSWER", action.answer))
        case Drag():
            span = [xy(action.x, action.y), xy(action.to_x, action.to_y)]
            return repr(_dict("SELECT_TEXT", None, span))
        case DoubleClick() | RightClick() | Navigate() | Back() | Wait() | GiveUp() | AskUser():
            raise ValueError(f"ShowUI has no action for {action.kind}")
        case _:
            assert_never(action)
