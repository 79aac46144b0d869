"""Gaze's own dialect: one Python-like call per reply, coordinates in the frame's space.

Contract:
- ``parse(text, frame)`` finds every known call (``click(412, 133)``, ``type("hi", submit=true)``,
  ...) left to right, skipping over the arguments of each one it reads, and returns the last; text
  before it (``Thought: ...``) becomes ``Parsed.thought``. An optional ``Action:`` prefix, any
  whitespace and any case of the name are accepted; arity and argument types are strict, and
  mistakes come back as a ``ParseError`` that quotes the call and shows the right usage.
- ``format(action, frame)`` writes the call a model should have written (no ``Action:`` prefix).
  Scroll amounts are CSS px, not model space.

It does not know the image size or clamp coordinates: numbers go through ``frame.to_viewport``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import assert_never

from actions.keys import normalize_combo
from actions.types import (
    POINTER_ACTIONS,
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
from perception.parsers.calls import (
    Call,
    Group,
    Value,
    call_pattern,
    find_calls,
    no_action,
    thought_before,
)
from perception.parsers.point import (
    DIRECTIONS,
    make,
    model_xy,
    num_text,
    scroll_direction,
    too_long,
    viewport_point,
)

# name -> (parameter names, how many are required, usage for error messages)
_SPECS: dict[str, tuple[tuple[str, ...], int, str]] = {
    "click": (("x", "y"), 2, "2 numbers (x, y)"),
    "double_click": (("x", "y"), 2, "2 numbers (x, y)"),
    "right_click": (("x", "y"), 2, "2 numbers (x, y)"),
    "hover": (("x", "y"), 2, "2 numbers (x, y)"),
    "drag": (("x1", "y1", "x2", "y2"), 4, "4 numbers (x1, y1, x2, y2)"),
    "type": (
        ("text", "submit"),
        1,
        'a quoted text and optionally submit=true: type("hi", submit=true)',
    ),
    "key": (("keys",), 1, 'one quoted key or combination: key("Enter"), key("ctrl+a")'),
    "scroll": (
        ("x", "y", "direction", "amount"),
        3,
        'x, y, a quoted direction and optionally an amount: scroll(640, 400, "down", 300)',
    ),
    "navigate": (("url",), 1, 'one quoted URL: navigate("https://example.com")'),
    "back": ((), 0, "no arguments"),
    "wait": (("seconds",), 0, "at most 1 number (seconds)"),
    "done": (("answer",), 0, 'at most 1 quoted answer: done("42")'),
    "give_up": (("reason",), 0, 'at most 1 quoted reason: give_up("the site is down")'),
    "ask_user": (("question",), 0, 'at most 1 quoted question: ask_user("Which account?")'),
}
_PATTERN = call_pattern(_SPECS)

ACTION_SPACE = """\
click(x, y)                    left-click at a point
double_click(x, y)             double-click (select a word, open an item)
right_click(x, y)              right-click (context menu)
hover(x, y)                    move the mouse there without clicking (opens hover menus)
drag(x1, y1, x2, y2)           press at (x1, y1), move to (x2, y2), release (sliders, drag and drop)
type("text")                   type into the focused field (click it first); escape \\" and \\n
type("text", submit=true)      type, then press Enter
key("Enter")                   press a key or a combination: key("ctrl+a"), key("Escape")
scroll(x, y, "down")           scroll what is under (x, y): "up", "down", "left" or "right"
scroll(x, y, "down", 300)      scroll by a distance in pixels (default 500)
navigate("https://...")        open a URL in this tab
back()                         go back to the previous page
wait() or wait(3)              wait for the page to settle, in seconds (default 1, at most 60)
done() or done("answer")       the goal is reached; give the answer if the goal asked a question
give_up("reason")              the goal cannot be reached; say why
ask_user("question")           you need a person: a password, a CAPTCHA, a choice only they can make

x and y are pixels of the screenshot, counted from its top-left corner. Write exactly one action.
Example:
Thought: The search box is at the top of the page; I will focus it first.
Action: click(412, 133)"""

# The Action kinds this dialect offers: all of them.
ACTIONS = frozenset(_SPECS)


def _bind(call: Call) -> dict[str, Value] | ParseError:
    params, required, usage = _SPECS[call.name]
    n = len(call.args) + len(call.kwargs)
    verb = "needs" if required else "takes"
    arity = ParseError(f"{call.name}() {verb} {usage}, got {n}: {quote(call.source)}")
    if n < required or n > len(params):
        return arity
    bound: dict[str, Value] = dict(zip(params, call.args, strict=False))
    for key, value in call.kwargs.items():
        if key in bound:
            return ParseError(f"{call.name}() got {key} twice: {quote(call.source)}")
        if key not in params:
            return ParseError(f"{call.name}() has no argument {key}=; it {verb} {usage}")
        bound[key] = value
    return bound if all(p in bound for p in params[:required]) else arity


_NUMERIC = frozenset({"x", "y", "x1", "y1", "x2", "y2", "amount", "seconds"})


def _check_types(call: Call, b: Mapping[str, Value]) -> ParseError | None:
    params, required, _ = _SPECS[call.name]
    for key, v in b.items():
        if v is None and key not in params[:required]:
            continue
        if key in _NUMERIC:
            ok, want = isinstance(v, float), "a number"
        elif key == "submit":
            ok, want = isinstance(v, bool), "true or false"
        else:
            ok, want = isinstance(v, str), "a quoted string"
        if not ok:
            shown = v.text if isinstance(v, Group) else repr(v)
            return ParseError(
                f"{call.name}(): {key} must be {want}, got {shown} in {quote(call.source)}"
            )
    return None


def _build(call: Call, frame: Frame) -> Action | ParseError:
    b = _bind(call)
    if isinstance(b, ParseError):
        return b
    if (err := _check_types(call, b)) is not None:
        return err
    num = {k: v for k, v in b.items() if isinstance(v, float)}
    txt = {k: v for k, v in b.items() if isinstance(v, str)}
    points: list[tuple[float, float]] = []
    for kx, ky in (("x", "y"), ("x1", "y1"), ("x2", "y2")):
        if kx in num:
            p = viewport_point(frame, num[kx], num[ky])
            if isinstance(p, ParseError):
                return p
            points.append(p)
    what, name = f"{call.name}()", call.name
    match name:
        case "click" | "double_click" | "right_click" | "hover":
            return POINTER_ACTIONS[name](x=points[0][0], y=points[0][1])
        case "drag":
            (x, y), (tx, ty) = points
            return Drag(x=x, y=y, to_x=tx, to_y=ty)
        case "type":
            return Type(text=txt["text"], submit=b.get("submit") is True)
        case "key":
            try:
                return KeyPress(keys=normalize_combo(txt["keys"]))
            except ValueError as e:
                return ParseError(f"{what}: {e}")
        case "scroll":
            sign = DIRECTIONS.get(txt["direction"].strip().lower())
            if sign is None:
                return ParseError(f'{what}: direction must be "up", "down", "left" or "right"')
            amount = num.get("amount", DEFAULT_SCROLL_PX)
            if amount <= 0:
                return ParseError(f"{what}: the amount must be a positive number of pixels")
            x, y = points[0]
            return Scroll(x=x, y=y, dx=sign[0] * amount, dy=sign[1] * amount)
        case "navigate":
            return make(Navigate, what, url=txt["url"].strip())
        case "back":
            return Back()
        case "wait":
            return make(Wait, what, seconds=num.get("seconds", 1.0))
        case "done":
            return Done(answer=txt.get("answer"))
        case "give_up":
            return GiveUp(reason=txt.get("reason", ""))
        case _:
            return AskUser(question=txt.get("question", ""))


def parse(text: str, frame: Frame) -> ParseResult:
    """The last call in ``text`` -> ``Parsed((action,), thought)``, or a ParseError."""
    if (err := too_long(text)) is not None:
        return err
    calls = find_calls(text, _PATTERN)
    if not calls:
        return no_action(text, _SPECS, "click(x, y)")
    last = calls[-1]
    if isinstance(last, ParseError):
        return last
    action = _build(last, frame)
    if isinstance(action, ParseError):
        return action
    return Parsed((action,), thought=thought_before(text[: last.start]))


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def format(action: Action, frame: Frame) -> str:
    """The Gaze call for ``action``; a scroll along both axes at once is a ValueError."""

    def pt(x: float, y: float) -> str:
        mx, my = model_xy(frame, x, y)
        return f"{num_text(mx)}, {num_text(my)}"

    match action:
        case Click() | DoubleClick() | RightClick() | Hover():
            return f"{action.kind}({pt(action.x, action.y)})"
        case Drag():
            return f"drag({pt(action.x, action.y)}, {pt(action.to_x, action.to_y)})"
        case Type():
            return f"type({_q(action.text)}{', submit=true' if action.submit else ''})"
        case KeyPress():
            return f"key({_q(action.keys)})"
        case Scroll():
            direction = scroll_direction(action.dx, action.dy)
            amount = abs(action.dx or action.dy)
            extra = "" if amount == DEFAULT_SCROLL_PX else f", {num_text(amount)}"
            return f"scroll({pt(action.x, action.y)}, {_q(direction)}{extra})"
        case Navigate():
            return f"navigate({_q(action.url)})"
        case Back():
            return "back()"
        case Wait():
            return "wait()" if action.seconds == 1.0 else f"wait({num_text(action.seconds)})"
        case Done():
            return "done()" if action.answer is None else f"done({_q(action.answer)})"
        case GiveUp():
            return f"give_up({_q(action.reason)})" if action.reason else "give_up()"
        case AskUser():
            return f"ask_user({_q(action.question)})" if action.question else "ask_user()"
        case _:
            assert_never(action)
