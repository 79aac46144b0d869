"""Qwen2.5-VL computer use: ``<tool_call>{"name": "computer_use", "arguments": {...}}</tool_call>``,
plus Qwen2.5-VL grounding JSON (``{"point_2d": [x, y]}``, ``[{"bbox_2d": [x1, y1, x2, y2]}]``).

Contract:
- ``parse(text, frame)`` decodes every outermost JSON object or list in the reply (tags, code fences
  and prose around them are tolerated; Python-style literals too) and turns each object whose
  ``arguments`` (or itself) has an ``action`` into an Action, whatever the function's name. Several
  tool calls give several actions; one bad call makes the whole reply a ParseError. Without tool
  calls, the first ``point_2d``/``bbox_2d`` item is a Click (a box at its centre).
- ``scroll``: ``pixels`` > 0 scrolls *up* and < 0 down, as Qwen's computer_use tool description says
  ("Positive values scroll up, negative values scroll down"); ``pixels`` is a distance in the same
  space as the coordinates, so it is scaled by the frame like them. Without ``coordinate`` the
  centre of the frame's region scrolls.
- ``type`` text ending in a newline means submit. ``left_click_drag`` needs ``start_coordinate``
  (Qwen drags from wherever the mouse is; Gaze does not track the mouse).
- ``format(action, frame)`` writes one ``<tool_call>`` block. Navigate, Back, AskUser and
  horizontal scrolls have no computer_use spelling (ValueError); GiveUp loses its reason.

It does not validate against the tool's JSON schema beyond what building an Action needs.
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
from perception.parsers.base import Parsed, ParseError, ParseResult, quote
from perception.parsers.calls import thought_before
from perception.parsers.point import (
    bracket_spans,
    centre,
    centre_of,
    literal,
    make,
    model_xy,
    number,
    numbers,
    too_long,
    viewport_point,
)

_ACTIONS = (
    "key",
    "type",
    "mouse_move",
    "left_click",
    "left_click_drag",
    "right_click",
    "double_click",
    "scroll",
    "wait",
    "terminate",
    "answer",
)


def _action_space() -> str:
    actions = {
        "key": "Press a key or a combination: the keys are pressed in order, released in reverse.",
        "type": "Type a string of text on the keyboard; end it with a newline to submit.",
        "mouse_move": "Move the cursor to `coordinate` (hover).",
        "left_click": "Click the left mouse button at `coordinate`.",
        "left_click_drag": "Press at `start_coordinate`, drag to `coordinate`, release.",
        "right_click": "Click the right mouse button at `coordinate`.",
        "double_click": "Double-click the left mouse button at `coordinate`.",
        "scroll": "Turn the mouse wheel over `coordinate` by `pixels`.",
        "wait": "Wait `time` seconds for the page to change.",
        "terminate": "End the task and report its status.",
        "answer": "Answer the question of the task with `text`, ending it.",
    }
    xy = "(x, y): pixels from the left edge and from the top edge of the screenshot."
    function = {
        "name": "computer_use",
        "description": "Use a mouse and keyboard to interact with a web browser, and take "
        "screenshots.\n* The screenshot's resolution is given above; coordinates are its pixels."
        "\n* Click the centre of elements, not their edges.\n* Click a field before typing.",
        "parameters": {
            "properties": {
                "action": {
                    "description": "The action to perform. The available actions are:\n"
                    + "\n".join(f"* `{k}`: {v}" for k, v in actions.items()),
                    "enum": list(actions),
                    "type": "string",
                },
                "keys": {"description": "Required only by `action=key`.", "type": "array"},
                "text": {
                    "description": "Required only by `action=type` and `action=answer`.",
                    "type": "string",
                },
                "coordinate": {"description": xy, "type": "array"},
                "start_coordinate": {
                    "description": xy + " Required only by `action=left_click_drag`.",
                    "type": "array",
                },
                "pixels": {
                    "description": "The amount of scrolling to perform. Positive values scroll up, "
                    "negative values scroll down. Required only by `action=scroll`.",
                    "type": "number",
                },
                "time": {"description": "Seconds to wait; `action=wait`.", "type": "number"},
                "status": {
                    "description": "The status of the task. Required only by `action=terminate`.",
                    "type": "string",
                    "enum": ["success", "failure"],
                },
            },
            "required": ["action"],
            "type": "object",
        },
    }
    tool = json.dumps({"type": "function", "function": function}, ensure_ascii=False)
    return (
        "You may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n"
        f"<tools>\n{tool}\n</tools>\n\n"
        "For each function call, return a json object with function name and arguments within "
        "<tool_call></tool_call> XML tags:\n"
        '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
    )


ACTION_SPACE = _action_space()
# The Action kinds the tool offers: no navigation and no asking the user.
ACTIONS = frozenset(
    {"click", "right_click", "double_click", "hover", "drag", "type", "key", "scroll"}
    | {"wait", "done", "give_up"}
)


def _point(args: dict[object, object], key: str, frame: Frame) -> tuple[float, float] | ParseError:
    nums = numbers(args.get(key), key)
    if isinstance(nums, ParseError):
        return nums
    c = centre(nums, key)
    return c if isinstance(c, ParseError) else viewport_point(frame, *c)


def _tool(args: dict[object, object], frame: Frame) -> Action | ParseError:
    action = str(args.get("action", "")).strip().lower()
    what = f"action {action!r}"
    match action:
        case "left_click" | "right_click" | "double_click" | "mouse_move":
            p = _point(args, "coordinate", frame)
            if isinstance(p, ParseError):
                return p
            names = {"left_click": "click", "mouse_move": "hover"}
            return POINTER_ACTIONS[names.get(action, action)](x=p[0], y=p[1])
        case "left_click_drag":
            key = "start_coordinate" if "start_coordinate" in args else "startCoordinate"
            if key not in args:
                return ParseError("left_click_drag needs start_coordinate [x, y] and coordinate")
            p = _point(args, key, frame)
            if isinstance(p, ParseError):
                return p
            q = _point(args, "coordinate", frame)
            if isinstance(q, ParseError):
                return q
            return Drag(x=p[0], y=p[1], to_x=q[0], to_y=q[1])
        case "type" | "answer":
            text = args.get("text")
            if not isinstance(text, str):
                return ParseError(f"{what} needs a string 'text', got {text!r}")
            if action == "answer":
                return Done(answer=text)
            submit = text.endswith("\n")
            return Type(text=text[:-1] if submit else text, submit=submit)
        case "key":
            keys = args.get("keys", args.get("key", args.get("text")))
            if isinstance(keys, list) and all(isinstance(k, str) for k in keys):
                keys = "+".join(str(k) for k in keys)
            if not isinstance(keys, str):
                return ParseError(f'{what} needs "keys": a list of key names, got {keys!r}')
            try:
                return KeyPress(keys=normalize_combo(keys))
            except ValueError as e:
                return ParseError(f"{what}: {e}")
        case "scroll":
            pixels = number(args.get("pixels"), "scroll pixels")
            if isinstance(pixels, ParseError) or pixels == 0:
                return ParseError("scroll needs non-zero 'pixels': positive scrolls up")
            p = _point(args, "coordinate", frame) if "coordinate" in args else centre_of(frame)
            if isinstance(p, ParseError):
                return p
            # Positive pixels scroll up (Qwen's tool description), i.e. a negative wheel dy.
            dy = frame.to_viewport(0, -pixels)[1] - frame.to_viewport(0, 0)[1]
            return Scroll(x=p[0], y=p[1], dy=dy)
        case "wait":
            t = number(args.get("time", 1.0), "wait time")
            return t if isinstance(t, ParseError) else make(Wait, what, seconds=t)
        case "terminate":
            status = str(args.get("status", "")).strip().lower()
            if status in ("success", "failure"):
                return Done() if status == "success" else GiveUp()
            return ParseError('terminate needs "status": "success" or "failure"')
        case "middle_click" | "triple_click":
            return ParseError(f"{action} is not supported; use left_click or double_click")
        case _:
            return ParseError(f"unknown {what}; use one of: {', '.join(_ACTIONS)}")


def _calls(item: object) -> list[dict[object, object]]:
    """The action-bearing argument dicts in a decoded value (a call, a bare args dict, a list)."""
    if isinstance(item, list):
        return [a for x in item for a in _calls(x) if not isinstance(x, list)]
    if not isinstance(item, dict):
        return []
    args = item.get("arguments", item)
    if isinstance(args, str):
        decoded = literal(args)
        args = decoded if isinstance(decoded, dict) else {}
    return [args] if isinstance(args, dict) and "action" in args else []


def _grounding(item: object) -> dict[object, object] | None:
    if isinstance(item, list):
        return next((g for x in item if isinstance(x, dict) and (g := _grounding(x))), None)
    if isinstance(item, dict) and ("point_2d" in item or "bbox_2d" in item):
        return item
    return None


def parse(text: str, frame: Frame) -> ParseResult:
    """Every tool call in ``text`` -> ``Parsed(actions, thought)``; else the first grounding."""
    if (err := too_long(text)) is not None:
        return err
    spans = bracket_spans(text)
    decoded: list[object] = []
    failure: ParseError | None = None
    for start, end in spans:
        value = literal(text[start:end])
        if isinstance(value, ParseError):
            failure = failure or value
        else:
            decoded.append(value)
    calls = [c for v in decoded for c in _calls(v)]
    first = text.find("<tool_call>")
    head = text[: first if first >= 0 else (spans[0][0] if spans else 0)]
    thought = thought_before(head)
    if calls:
        actions: list[Action] = []
        for args in calls:
            a = _tool(args, frame)
            if isinstance(a, ParseError):
                return a
            actions.append(a)
        return Parsed(tuple(actions), thought=thought)
    grounding = next((g for v in decoded if (g := _grounding(v)) is not None), None)
    if grounding is not None:
        key = "point_2d" if "point_2d" in grounding else "bbox_2d"
        p = _point(grounding, key, frame)
        return p if isinstance(p, ParseError) else Parsed((Click(x=p[0], y=p[1]),), thought)
    if failure is not None and ("action" in text or "<tool_call>" in text):
        return ParseError(f"the tool call is not valid JSON: {failure.message}")
    if '"action"' in text or "<tool_call>" in text:
        return ParseError(
            f"the tool call in {quote(text)} is incomplete JSON: check its braces and brackets"
        )
    return ParseError(
        f"no tool call found in {quote(text)}; reply with "
        '<tool_call>{"name": "computer_use", "arguments": {"action": ...}}</tool_call>'
    )


def _block(args: Mapping[str, object]) -> str:
    call = {"name": "computer_use", "arguments": args}
    return f"<tool_call>\n{json.dumps(call, ensure_ascii=False)}\n</tool_call>"


def _keys(combo: str) -> list[str]:
    """Playwright 'Control+Shift+t' -> ['ctrl', 'shift', 't']."""
    parts = [*combo[:-2].split("+"), "+"] if combo.endswith("++") else combo.split("+")
    names = {"Control": "ctrl", "Meta": "meta", "Alt": "alt", "Shift": "shift"}
    return [names.get(p, p.lower() if len(p) > 1 else p) for p in parts]


def format(action: Action, frame: Frame) -> str:
    """One ``<tool_call>`` block for ``action``."""

    def xy(x: float, y: float) -> list[float]:
        return list(model_xy(frame, x, y))

    match action:
        case Click() | DoubleClick() | RightClick() | Hover():
            verb = {"click": "left_click", "double_click": "double_click"}
            verb |= {"right_click": "right_click", "hover": "mouse_move"}
            return _block({"action": verb[action.kind], "coordinate": xy(action.x, action.y)})
        case Drag():
            start, end = xy(action.x, action.y), xy(action.to_x, action.to_y)
            args = {"action": "left_click_drag", "start_coordinate": start, "coordinate": end}
            return _block(args)
        case Type():
            return _block({"action": "type", "text": action.text + ("\n" if action.submit else "")})
        case KeyPress():
            return _block({"action": "key", "keys": _keys(action.keys)})
        case Scroll():
            if action.dx != 0 or action.dy == 0:
                raise ValueError("computer_use scrolls vertically only")
            _, m_dy = model_xy(frame, frame.region_x, frame.region_y + action.dy)
            at = xy(action.x, action.y)
            return _block({"action": "scroll", "coordinate": at, "pixels": -m_dy + 0})
        case Wait():
            s = action.seconds
            return _block({"action": "wait", "time": int(s) if s.is_integer() else s})
        case Done():
            if action.answer is not None:
                return _block({"action": "answer", "text": action.answer})
            return _block({"action": "terminate", "status": "success"})
        case GiveUp():
            return _block({"action": "terminate", "status": "failure"})
        case Navigate() | Back() | AskUser():
            raise ValueError(f"computer_use has no {action.kind} action")
        case _:
            assert_never(action)
