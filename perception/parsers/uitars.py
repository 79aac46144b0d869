"""The UI-TARS family (UI-TARS 1.0, UI-TARS-1.5, Doubao-style prompts): ``Thought: ...`` then
``Action: click(start_box='<|box_start|>(x1,y1)<|box_end|>')``.

Contract:
- ``parse(text, frame)`` reads every action after the first line that starts with ``Action:`` (or
  in the whole reply when there is none), in order; several actions are separated by blank lines.
  The text before them, without ``Thought:``, becomes ``Parsed.thought``. One unreadable action
  makes the whole reply a ParseError: half a plan is not executed.
- Points come as ``start_box='(x,y)'`` with or without box tokens, a box ``(x1,y1,x2,y2)`` (its
  centre), or ``point='<point>x y</point>'``. Whether the numbers are absolute pixels (UI-TARS-1.5)
  or 0-1000 (UI-TARS 1.0, Doubao) is ``frame.space``'s business, never guessed here.
- ``type(content='...')``: escapes (``\\'``, ``\\n``) are decoded; a trailing newline means
  submit. ``wait()`` waits 5 s, as the UI-TARS prompt says. ``scroll`` without a point scrolls the
  centre of the frame's region by ``DEFAULT_SCROLL_PX``.
- ``format(action, frame)`` writes the call UI-TARS would (no ``Action:`` prefix). It drops what the
  family cannot say (scroll distance, wait duration, the question of ``call_user()``) and raises
  ValueError for GiveUp and two-axis scrolls.
"""

from __future__ import annotations

import re
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
    centre_of,
    make,
    model_xy,
    num_text,
    scroll_direction,
    text_point,
    too_long,
)

WAIT_S = 5.0  # "wait() #Sleep for 5s and take a screenshot to check for any changes."

# Spelling in the reply -> the action it means.
_ALIASES = {
    "click": "click",
    "left_single": "click",
    "left_click": "click",
    "left_double": "double",
    "double_click": "double",
    "right_single": "right",
    "right_click": "right",
    "hover": "hover",
    "mouse_move": "hover",
    "move_to": "hover",
    "drag": "drag",
    "select": "drag",
    "hotkey": "key",
    "press": "key",
    "type": "type",
    "scroll": "scroll",
    "wait": "wait",
    "finished": "finished",
    "call_user": "call_user",
    "navigate": "navigate",
    "navigate_back": "back",
}
_PATTERN = call_pattern(_ALIASES)
_START = ("start_box", "start_point", "point")
_END = ("end_box", "end_point")

ACTION_SPACE = """\
click(start_box='<|box_start|>(x1,y1)<|box_end|>')
left_double(start_box='<|box_start|>(x1,y1)<|box_end|>')
right_single(start_box='<|box_start|>(x1,y1)<|box_end|>')
hover(start_box='<|box_start|>(x1,y1)<|box_end|>')
drag(start_box='<|box_start|>(x1,y1)<|box_end|>', end_box='<|box_start|>(x3,y3)<|box_end|>')
hotkey(key='ctrl c') # Split keys with a space and use lowercase. Also, do not use more than 4 hotkeys.
type(content='xxx') # Use escape characters \\', \\", and \\n in content part to ensure we can parse the content in normal python string format. If you want to submit your input, use "\\n" at the end of `content`.
scroll(start_box='<|box_start|>(x1,y1)<|box_end|>', direction='down or up or right or left')
navigate(content='https://...') # Open a URL in the current tab.
navigate_back() # Go back to the previous page.
wait() #Sleep for 5s and take a screenshot to check for any changes.
finished(content='xxx') # Use escape characters \\', \\", and \\n in content part to ensure we can parse the content in normal python string format.
call_user() # Submit the task and call the user when the task is unsolvable, or when you need the user's help."""

# The Action kinds the prompt offers (and the parser produces); there is no way to give up.
ACTIONS = frozenset(
    {"click", "double_click", "right_click", "hover", "drag", "key", "type", "scroll"}
    | {"navigate", "back", "wait", "done", "ask_user"}
)


def _arg(call: Call, names: tuple[str, ...], *, positional: bool) -> Value:
    """The first of the keywords ``names`` given, else (if allowed) the first positional one."""
    for n in names:
        if n in call.kwargs:
            return call.kwargs[n]
    return call.args[0] if positional and call.args else None


def _text_arg(call: Call, names: tuple[str, ...]) -> str | ParseError | None:
    v = _arg(call, names, positional=names != ("direction",))
    if v is None or isinstance(v, str):
        return v
    return ParseError(f"{call.name}(): {names[0]}= must be a quoted string in {quote(call.source)}")


def _point(call: Call, frame: Frame, names: tuple[str, ...]) -> tuple[float, float] | ParseError:
    v = _arg(call, names, positional=names == _START)
    if isinstance(v, Group):
        v = v.text
    if not isinstance(v, str):
        return ParseError(
            f"{call.name}() needs {names[0]}='(x,y)', got {quote(call.source)}; "
            f"write {call.name}({names[0]}='<|box_start|>(x1,y1)<|box_end|>')"
        )
    return text_point(frame, v, f"{call.name}(): {names[0]}")


def _scroll(call: Call, frame: Frame) -> Action | ParseError:
    has_point = any(n in call.kwargs for n in _START) or bool(call.args)
    p = _point(call, frame, _START) if has_point else centre_of(frame)
    if isinstance(p, ParseError):
        return p
    direction = _text_arg(call, ("direction",))
    if isinstance(direction, ParseError):
        return direction
    sign = DIRECTIONS.get((direction or "").strip().lower())
    if sign is None:
        return ParseError(f"{call.name}() needs direction='down', 'up', 'left' or 'right'")
    a = DEFAULT_SCROLL_PX
    return Scroll(x=p[0], y=p[1], dx=sign[0] * a, dy=sign[1] * a)


def _build(call: Call, frame: Frame) -> Action | ParseError:
    kind, what = _ALIASES[call.name], f"{call.name}()"
    if kind in ("click", "double", "right", "hover", "drag"):
        p = _point(call, frame, _START)
        if isinstance(p, ParseError):
            return p
        if kind == "drag":
            q = _point(call, frame, _END)
            return q if isinstance(q, ParseError) else Drag(x=p[0], y=p[1], to_x=q[0], to_y=q[1])
        kinds = {
            "click": "click",
            "double": "double_click",
            "right": "right_click",
            "hover": "hover",
        }
        return POINTER_ACTIONS[kinds[kind]](x=p[0], y=p[1])
    if kind == "scroll":
        return _scroll(call, frame)
    names = {
        "key": ("key", "hotkey", "keys"),
        "type": ("content", "text"),
        "finished": ("content", "answer"),
        "navigate": ("content", "url"),
    }.get(kind, ("content",))
    text = _text_arg(call, names)
    if isinstance(text, ParseError):
        return text
    match kind:
        case "key":
            try:
                return KeyPress(keys=normalize_combo(text or ""))
            except ValueError as e:
                return ParseError(f"{what}: {e}")
        case "type":
            if text is None:
                return ParseError(f"{what} needs content='...' in {quote(call.source)}")
            submit = text.endswith("\n")
            return Type(text=text[:-1] if submit else text, submit=submit)
        case "navigate":
            return make(Navigate, what, url=(text or "").strip())
        case "finished":
            return Done(answer=text or None)
        case "back":
            return Back()
        case "wait":
            return Wait(seconds=WAIT_S)
        case _:
            return AskUser()


# "Action:" at the start of a line ("**Action:**" too); not "Action_Summary:".
_ACTION_LABEL = re.compile(r"^[ \t*]*action[ \t*]*:", re.I | re.M)


def parse(text: str, frame: Frame) -> ParseResult:
    """Every action of a UI-TARS reply -> ``Parsed(actions, thought)``, or a ParseError."""
    if (err := too_long(text)) is not None:
        return err
    label = _ACTION_LABEL.search(text)
    start = label.end() if label is not None else -1
    calls = find_calls(text, _PATTERN, max(start, 0))
    if not calls:
        return no_action(text[max(start, 0) :], _ALIASES, "click(start_box='(x,y)')")
    actions: list[Action] = []
    for call in calls:
        a = call if isinstance(call, ParseError) else _build(call, frame)
        if isinstance(a, ParseError):
            return a
        actions.append(a)
    first = calls[0]
    assert isinstance(first, Call)
    head = text[: first.start] if start < 0 else text[:start]
    return Parsed(tuple(actions), thought=thought_before(head))


def _keys(combo: str) -> str:
    """Playwright 'Control+Shift+t' -> UI-TARS 'ctrl shift t' (named keys in lowercase)."""
    parts = [*combo[:-2].split("+"), "+"] if combo.endswith("++") else combo.split("+")
    names = {"Control": "ctrl", "Meta": "meta", "Alt": "alt", "Shift": "shift"}
    return " ".join(names.get(p, p.lower() if len(p) > 1 else p) for p in parts)


def _q(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def format(action: Action, frame: Frame) -> str:
    """The UI-TARS call for ``action``."""

    def box(x: float, y: float) -> str:
        mx, my = model_xy(frame, x, y)
        return f"'<|box_start|>({num_text(mx)},{num_text(my)})<|box_end|>'"

    match action:
        case Click() | DoubleClick() | RightClick() | Hover():
            verb = {"click": "click", "double_click": "left_double", "right_click": "right_single"}
            return f"{verb.get(action.kind, 'hover')}(start_box={box(action.x, action.y)})"
        case Drag():
            a, b = box(action.x, action.y), box(action.to_x, action.to_y)
            return f"drag(start_box={a}, end_box={b})"
        case Type():
            content = action.text + ("\n" if action.submit else "")
            return f"type(content={_q(content)})"
        case KeyPress():
            return f"hotkey(key={_q(_keys(action.keys))})"
        case Scroll():
            direction = scroll_direction(action.dx, action.dy)
            return f"scroll(start_box={box(action.x, action.y)}, direction='{direction}')"
        case Navigate():
            return f"navigate(content={_q(action.url)})"
        case Back():
            return "navigate_back()"
        case Wait():
            return "wait()"
        case Done():
            return (
                "finished()" if action.answer is None else f"finished(content={_q(action.answer)})"
            )
        case AskUser():
            return "call_user()"
        case GiveUp():
            raise ValueError("UI-TARS has no way to give up; call_user() asks a person instead")
        case _:
            assert_never(action)
