"""Parsers: real model outputs -> viewport Actions, bad text -> a ParseError that says why,
formatters that parse back to the same action, and property tests that no string makes a parser
raise."""

from __future__ import annotations

import json
import math
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
from perception.parsers import action_space, format_action, parse
from perception.parsers.base import DEFAULT_SCROLL_PX, DIALECTS, Dialect, Parsed, ParseError
from perception.parsers.point import MAX_TEXT_CHARS

# A 1280x800 viewport sent as is.
FULL = Frame(region_x=0, region_y=0, region_w=1280, region_h=800, image_w=1280, image_h=800)
# The same viewport after smart_resize (UI-TARS-1.5, Qwen2.5-VL): 1288x812, each axis scaled apart.
SMART = Frame(region_x=0, region_y=0, region_w=1280, region_h=800, image_w=1288, image_h=812)
REL1000 = SMART.with_space("rel1000")
REL1 = FULL.with_space("rel1")
# A 400x300 tile at (600, 300), sent at its own size.
TILE = Frame(region_x=600, region_y=300, region_w=400, region_h=300, image_w=400, image_h=300)
# A 320x200 zoom crop at (480, 300), upscaled 2x.
ZOOM = Frame(region_x=480, region_y=300, region_w=320, region_h=200, image_w=640, image_h=400)
# A device-scale-factor-2 capture: 2560x1600 image pixels for the 1280x800 CSS viewport.
DPR2 = Frame(region_x=0, region_y=0, region_w=1280, region_h=800, image_w=2560, image_h=1600)
FRAMES = {"full": FULL, "smart": SMART, "rel1000": REL1000, "rel1": REL1, "tile": TILE}
FRAMES |= {"zoom": ZOOM, "dpr2": DPR2}


def tool(args: dict[str, object], name: str = "computer_use") -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': args})}\n</tool_call>"


def assert_same(got: Action, want: Action, tol: float = 1e-6) -> None:
    assert got.kind == want.kind, f"{got} != {want}"
    g, w = got.model_dump(), want.model_dump()
    for key, value in w.items():
        if isinstance(value, float):
            assert g[key] == pytest.approx(value, abs=tol), f"{key}: {got} != {want}"
        else:
            assert g[key] == value, f"{key}: {got} != {want}"


def assert_actions(result: Parsed | ParseError, *want: Action, tol: float = 1e-6) -> None:
    assert isinstance(result, Parsed), f"expected actions, got the error: {result}"
    assert len(result.actions) == len(want), result.actions
    for got, w in zip(result.actions, want, strict=True):
        assert_same(got, w, tol)


U = "<|box_start|>"
V = "<|box_end|>"
SX, SY = 1280 / 1288, 800 / 812  # CSS px per smart-resized image pixel

PARSE_CASES: list[tuple[Dialect, Frame, str, tuple[Action, ...]]] = [
    # --- gaze
    (
        "gaze",
        FULL,
        "Thought: the search box is at the top.\nAction: click(412, 133)",
        (Click(x=412, y=133),),
    ),
    ("gaze", SMART, "click(644, 406)", (Click(x=640, y=400),)),
    ("gaze", TILE, "click(100, 50)", (Click(x=700, y=350),)),
    ("gaze", ZOOM, "Action: click(320, 200)", (Click(x=640, y=400),)),
    ("gaze", DPR2, "click(1000, 500)", (Click(x=500, y=250),)),
    ("gaze", REL1000, "click(500, 500)", (Click(x=640, y=400),)),
    ("gaze", FULL, "double_click(10.5, 20)", (DoubleClick(x=10.5, y=20),)),
    ("gaze", FULL, "RIGHT_CLICK ( 5 ,\t6 )", (RightClick(x=5, y=6),)),
    ("gaze", FULL, "hover(1, 2)", (Hover(x=1, y=2),)),
    ("gaze", DPR2, "drag(10, 20, 110, 220)", (Drag(x=5, y=10, to_x=55, to_y=110),)),
    ("gaze", FULL, "click(x=3, y=4)", (Click(x=3, y=4),)),
    ("gaze", FULL, 'type("hello")', (Type(text="hello"),)),
    ("gaze", FULL, "type('it\\'s', submit=True)", (Type(text="it's", submit=True),)),
    ("gaze", FULL, 'type("a\\nb \\"q\\" \\\\ \\u00e9")', (Type(text='a\nb "q" \\ é'),)),
    ("gaze", FULL, 'type("He said "hi" twice")', (Type(text='He said "hi" twice'),)),
    ("gaze", FULL, 'type("call click(1, 2) now")', (Type(text="call click(1, 2) now"),)),
    ("gaze", FULL, 'key("ctrl+a")', (KeyPress(keys="Control+a"),)),
    ("gaze", FULL, 'key("Return")', (KeyPress(keys="Enter"),)),
    ("gaze", FULL, 'scroll(640, 400, "down")', (Scroll(x=640, y=400, dy=DEFAULT_SCROLL_PX),)),
    ("gaze", TILE, 'scroll(100, 50, "UP", 300)', (Scroll(x=700, y=350, dy=-300),)),
    ("gaze", FULL, "scroll(10, 10, 'left')", (Scroll(x=10, y=10, dx=-DEFAULT_SCROLL_PX),)),
    (
        "gaze",
        FULL,
        'navigate("https://example.com/a?b=1")',
        (Navigate(url="https://example.com/a?b=1"),),
    ),
    ("gaze", FULL, "back()", (Back(),)),
    ("gaze", FULL, "wait()", (Wait(),)),
    ("gaze", FULL, "wait(2.5)", (Wait(seconds=2.5),)),
    ("gaze", FULL, "done()", (Done(),)),
    ("gaze", FULL, 'Action: done("42")\nThe task is done (as requested).', (Done(answer="42"),)),
    ("gaze", FULL, 'give_up("the site is down")', (GiveUp(reason="the site is down"),)),
    ("gaze", FULL, 'ask_user("Which account?")', (AskUser(question="Which account?"),)),
    (
        "gaze",
        FULL,
        "Thought: click(1, 2) failed last time.\nAction: click(30, 40)",
        (Click(x=30, y=40),),
    ),
    ("gaze", FULL, "```\nclick(5, 6)\n```", (Click(x=5, y=6),)),
    # --- UI-TARS: 1.5 answers in smart-resized pixels, 1.0 and Doubao in 0-1000
    (
        "uitars",
        SMART,
        "Thought: open search\nAction: click(start_box='(644,406)')",
        (Click(x=640, y=400),),
    ),
    ("uitars", SMART, f"Action: click(start_box='{U}(644,406){V}')", (Click(x=640, y=400),)),
    ("uitars", REL1000, f"click(start_box='{U}(500,500){V}')", (Click(x=640, y=400),)),
    ("uitars", REL1000, "click(start_box='(400,400,600,600)')", (Click(x=640, y=400),)),
    ("uitars", REL1000, "click(point='<point>250 750</point>')", (Click(x=320, y=600),)),
    ("uitars", TILE, "click(start_box='(100,50)')", (Click(x=700, y=350),)),
    ("uitars", DPR2, "left_double(start_box='(1000,500)')", (DoubleClick(x=500, y=250),)),
    ("uitars", SMART, "right_single(start_box='(644,406)')", (RightClick(x=640, y=400),)),
    ("uitars", SMART, "hover(start_box='(644,406)')", (Hover(x=640, y=400),)),
    ("uitars", SMART, "mouse_move(start_box='(644,406)')", (Hover(x=640, y=400),)),
    (
        "uitars",
        SMART,
        f"drag(start_box='{U}(644,406){V}', end_box='{U}(1288,812){V}')",
        (Drag(x=640, y=400, to_x=1280, to_y=800),),
    ),
    ("uitars", FULL, "hotkey(key='ctrl c')", (KeyPress(keys="Control+c"),)),
    ("uitars", FULL, "hotkey(key='ctrl shift t')", (KeyPress(keys="Control+Shift+t"),)),
    ("uitars", FULL, "press(key='enter')", (KeyPress(keys="Enter"),)),
    ("uitars", FULL, "type(content='hello world\\n')", (Type(text="hello world", submit=True),)),
    ("uitars", FULL, "type(content='It\\'s \"ok\"')", (Type(text='It\'s "ok"'),)),
    ("uitars", FULL, "type(content='It's fine')", (Type(text="It's fine"),)),
    (
        "uitars",
        SMART,
        "scroll(start_box='(644,406)', direction='down')",
        (Scroll(x=640, y=400, dy=500),),
    ),
    ("uitars", TILE, "scroll(direction='up')", (Scroll(x=800, y=450, dy=-DEFAULT_SCROLL_PX),)),
    ("uitars", FULL, "wait()", (Wait(seconds=5),)),
    ("uitars", FULL, "finished(content='The price is $42')", (Done(answer="The price is $42"),)),
    ("uitars", FULL, "finished()", (Done(),)),
    ("uitars", FULL, "call_user()", (AskUser(),)),
    (
        "uitars",
        FULL,
        "navigate(content='https://example.com')",
        (Navigate(url="https://example.com"),),
    ),
    ("uitars", FULL, "navigate(url='https://example.com')", (Navigate(url="https://example.com"),)),
    ("uitars", FULL, "navigate_back()", (Back(),)),
    (
        "uitars",
        SMART,
        "Thought: fill in the form\nAction: click(start_box='(644,406)')\n\ntype(content='abc')",
        (Click(x=640, y=400), Type(text="abc")),
    ),
    # --- Qwen2.5-VL computer_use tool calls (smart-resized pixels) and grounding JSON
    (
        "qwen_tool",
        SMART,
        tool({"action": "left_click", "coordinate": [644, 406]}),
        (Click(x=640, y=400),),
    ),
    (
        "qwen_tool",
        SMART,
        tool({"action": "double_click", "coordinate": [644, 406]}),
        (DoubleClick(x=640, y=400),),
    ),
    (
        "qwen_tool",
        FULL,
        tool({"action": "right_click", "coordinate": [5, 6]}),
        (RightClick(x=5, y=6),),
    ),
    ("qwen_tool", FULL, tool({"action": "mouse_move", "coordinate": [5, 6]}), (Hover(x=5, y=6),)),
    (
        "qwen_tool",
        DPR2,
        tool({"action": "left_click", "coordinate": [1000, 500]}),
        (Click(x=500, y=250),),
    ),
    (
        "qwen_tool",
        FULL,
        tool({"action": "left_click_drag", "start_coordinate": [1, 2], "coordinate": [3, 4]}),
        (Drag(x=1, y=2, to_x=3, to_y=4),),
    ),
    (
        "qwen_tool",
        FULL,
        tool({"action": "left_click_drag", "startCoordinate": [1, 2], "coordinate": [3, 4]}),
        (Drag(x=1, y=2, to_x=3, to_y=4),),
    ),
    (
        "qwen_tool",
        FULL,
        tool({"action": "type", "text": "hello\n"}),
        (Type(text="hello", submit=True),),
    ),
    (
        "qwen_tool",
        FULL,
        tool({"action": "key", "keys": ["ctrl", "a"]}),
        (KeyPress(keys="Control+a"),),
    ),
    ("qwen_tool", FULL, tool({"action": "key", "keys": "Return"}), (KeyPress(keys="Enter"),)),
    # pixels < 0 scrolls down, > 0 up (the tool description); no coordinate: the region's centre
    (
        "qwen_tool",
        FULL,
        tool({"action": "scroll", "coordinate": [5, 6], "pixels": -300}),
        (Scroll(x=5, y=6, dy=300),),
    ),
    (
        "qwen_tool",
        DPR2,
        tool({"action": "scroll", "pixels": 1000}),
        (Scroll(x=640, y=400, dy=-500),),
    ),
    ("qwen_tool", FULL, tool({"action": "wait", "time": 2}), (Wait(seconds=2),)),
    ("qwen_tool", FULL, tool({"action": "terminate", "status": "success"}), (Done(),)),
    ("qwen_tool", FULL, tool({"action": "terminate", "status": "failure"}), (GiveUp(),)),
    ("qwen_tool", FULL, tool({"action": "answer", "text": "42"}), (Done(answer="42"),)),
    (
        "qwen_tool",
        FULL,
        tool({"action": "left_click", "coordinate": [5, 6]}, "browser_use"),
        (Click(x=5, y=6),),
    ),
    (
        "qwen_tool",
        FULL,
        "I will open the menu, then pick.\n"
        + tool({"action": "left_click", "coordinate": [5, 6]})
        + "\n"
        + tool({"action": "type", "text": "x"}),
        (Click(x=5, y=6), Type(text="x")),
    ),
    (
        "qwen_tool",
        FULL,
        json.dumps(
            {"name": "computer_use", "arguments": '{"action": "left_click", "coordinate": [7, 8]}'}
        ),
        (Click(x=7, y=8),),
    ),
    ("qwen_tool", FULL, '{"action": "left_click", "coordinate": [7, 8]}', (Click(x=7, y=8),)),
    ("qwen_tool", SMART, '{"point_2d": [644, 406]}', (Click(x=640, y=400),)),
    (
        "qwen_tool",
        FULL,
        '```json\n[\n  {"bbox_2d": [100, 200, 300, 400], "label": "Submit"},\n'
        '  {"bbox_2d": [0, 0, 10, 10]}\n]\n```',
        (Click(x=200, y=300),),
    ),
    # --- ShowUI / SeeClick (0-1)
    ("showui", REL1, "[0.73, 0.21]", (Click(x=934.4, y=168),)),
    (
        "showui",
        REL1,
        "{'action': 'CLICK', 'value': None, 'position': [0.49, 0.42]}",
        (Click(x=627.2, y=336),),
    ),
    (
        "showui",
        REL1,
        '{"action": "CLICK", "value": null, "position": [0.5, 0.5]}',
        (Click(x=640, y=400),),
    ),
    ("showui", TILE.with_space("rel1"), "[0.25, 0.5]", (Click(x=700, y=450),)),
    (
        "showui",
        REL1,
        "{'action': 'INPUT', 'value': 'blue shoes', 'position': [0.5, 0.1]}",
        (Click(x=640, y=80), Type(text="blue shoes")),
    ),
    ("showui", REL1, "{'action': 'INPUT', 'value': 'x', 'position': None}", (Type(text="x"),)),
    (
        "showui",
        REL1,
        "{'action': 'SELECT', 'value': 'Large', 'position': [0.5, 0.5]}",
        (Click(x=640, y=400), Type(text="Large")),
    ),
    (
        "showui",
        REL1,
        "{'action': 'HOVER', 'value': None, 'position': [0.5, 0.5]}",
        (Hover(x=640, y=400),),
    ),
    (
        "showui",
        REL1,
        "{'action': 'ENTER', 'value': None, 'position': None}",
        (KeyPress(keys="Enter"),),
    ),
    (
        "showui",
        REL1,
        "{'action': 'SCROLL', 'value': 'down', 'position': None}",
        (Scroll(x=640, y=400, dy=500),),
    ),
    (
        "showui",
        REL1,
        "{'action': 'ANSWER', 'value': 'It is $42', 'position': None}",
        (Done(answer="It is $42"),),
    ),
    (
        "showui",
        REL1,
        "{'action': 'SELECT_TEXT', 'value': None, 'position': [[0.1, 0.2], [0.3, 0.2]]}",
        (Drag(x=128, y=160, to_x=384, to_y=160),),
    ),
    (
        "showui",
        REL1,
        "[{'action': 'CLICK', 'value': None, 'position': [0.5, 0.5]}, "
        "{'action': 'ENTER', 'value': None, 'position': None}]",
        (Click(x=640, y=400), KeyPress(keys="Enter")),
    ),
    # --- generic points: UGround, OS-Atlas, plain grounding answers
    ("point", REL1000, "(500, 500)", (Click(x=640, y=400),)),
    ("point", REL1000, "[500, 250]", (Click(x=640, y=200),)),
    ("point", REL1000, "500, 250", (Click(x=640, y=200),)),
    ("point", REL1000, "The element is at (250, 750).", (Click(x=320, y=600),)),
    ("point", REL1000, "(100,100),(300,300)", (Click(x=256, y=160),)),
    ("point", REL1000, "[100,100,300,300]", (Click(x=256, y=160),)),
    (
        "point",
        REL1000,
        f"<|object_ref_start|>Search<|object_ref_end|>{U}(100,100),(300,300){V}",
        (Click(x=256, y=160),),
    ),
    ("point", ZOOM, "(320, 200)", (Click(x=640, y=400),)),
    ("point", DPR2, "(1000, 500)", (Click(x=500, y=250),)),
    ("point", TILE, "(100.5, 50)", (Click(x=700.5, y=350),)),
]


@pytest.mark.parametrize(("dialect", "frame", "text", "want"), PARSE_CASES)
def test_real_outputs_map_to_viewport_actions(
    dialect: Dialect, frame: Frame, text: str, want: tuple[Action, ...]
) -> None:
    assert_actions(parse(text, frame, dialect), *want)


def test_thoughts_are_kept() -> None:
    r = parse("Thought: the button is blue.\nAction: click(1, 2)", FULL, "gaze")
    assert isinstance(r, Parsed) and r.thought == "the button is blue."
    r = parse("Thought: fill it\nAction: click(start_box='(1,2)')\n\nwait()", FULL, "uitars")
    assert isinstance(r, Parsed) and r.thought == "fill it"
    r = parse("Clicking the menu.\n" + tool({"action": "wait"}), FULL, "qwen_tool")
    assert isinstance(r, Parsed) and r.thought == "Clicking the menu."
    r = parse("click(1, 2)", FULL, "gaze")
    assert isinstance(r, Parsed) and r.thought is None
    r = parse("**Thought:** it is blue\n**Action:** click(1, 2)", FULL, "gaze")
    assert isinstance(r, Parsed) and r.thought == "it is blue"
    text = "Thought: x\nAction_Summary: click it\nAction: click(start_box='(1,2)')"
    r = parse(text, FULL, "uitars")
    assert isinstance(r, Parsed) and r.thought == "x\nAction_Summary: click it"


ERROR_CASES: list[tuple[Dialect, Frame, str, str]] = [
    ("gaze", FULL, "click(12)", "needs 2 numbers (x, y), got 1: 'click(12)'"),
    ("gaze", FULL, "click(1, 2, 3)", "got 3"),
    ("gaze", FULL, 'click("a", 2)', "must be a number"),
    ("gaze", FULL, "click(-5, 10)", "negative"),
    ("gaze", FULL, "click(nan, 1)", "expected a number"),
    ("gaze", FULL, "click(1e999, 1)", "out of range"),
    ("gaze", FULL, "click(20000000, 1)", "out of range"),
    ("gaze", FULL, 'type("unterminated', "unterminated"),
    ("gaze", FULL, "tap(1, 2)", "not an action"),
    ("gaze", FULL, "I don't know what to do.", "no action"),
    ("gaze", FULL, "", "no action"),
    ("gaze", FULL, 'key("ctrl+banana")', "unknown key"),
    ("gaze", FULL, 'scroll(1, 2, "sideways")', "direction"),
    ("gaze", FULL, 'scroll(1, 2, "down", -5)', "positive"),
    ("gaze", FULL, "wait(120)", "60"),
    ("gaze", FULL, 'navigate("")', "url"),
    ("gaze", FULL, 'type("a", submit="yes")', "true or false"),
    ("gaze", FULL, "click(x=1, z=2)", "no argument z="),
    ("gaze", FULL, "click(1 2)", "expected ','"),
    ("uitars", FULL, "click(start_box='(1)')", "needs 2 numbers"),
    ("uitars", FULL, "Action: click()", "start_box"),
    ("uitars", FULL, "scroll(start_box='(1,2)')", "direction"),
    ("uitars", FULL, "hotkey(key='ctrl banana')", "unknown key"),
    ("uitars", FULL, "type()", "content"),
    ("uitars", FULL, "Action: click(start_box='(1,2)')\n\ntype(content='abc", "unterminated"),
    ("uitars", FULL, "Action: open_app(app_name='x')", "not an action"),
    ("uitars", FULL, "click(start_box='(-3,4)')", "negative"),
    (
        "qwen_tool",
        FULL,
        tool({"action": "left_click_drag", "coordinate": [1, 2]}),
        "start_coordinate",
    ),
    ("qwen_tool", FULL, tool({"action": "middle_click", "coordinate": [1, 2]}), "not supported"),
    ("qwen_tool", FULL, tool({"action": "left_click"}), "coordinate"),
    (
        "qwen_tool",
        FULL,
        '{"arguments": {"action": "left_click", "coordinate": [NaN, 1]}}',
        "out of range",
    ),
    ("qwen_tool", FULL, tool({"action": "terminate", "status": "maybe"}), "status"),
    ("qwen_tool", FULL, tool({"action": "fly"}), "unknown action"),
    ("qwen_tool", FULL, tool({"action": "key", "keys": ["ctrl", "banana"]}), "unknown key"),
    ("qwen_tool", FULL, tool({"action": "scroll", "coordinate": [1, 2]}), "pixels"),
    ("qwen_tool", FULL, tool({"action": "wait", "time": 999}), "60"),
    (
        "qwen_tool",
        FULL,
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_',
        "incomplete",
    ),
    ("qwen_tool", FULL, "I would click the button.", "no tool call"),
    ("showui", REL1, "{'action': 'FLY', 'value': None, 'position': None}", "unknown action"),
    ("showui", REL1, "{'action': 'CLICK', 'value': None, 'position': None}", "position"),
    ("showui", REL1, "{'action': 'SCROLL', 'value': 'sideways', 'position': None}", "SCROLL"),
    (
        "showui",
        REL1,
        "{'action': 'SELECT_TEXT', 'value': None, 'position': [0.1, 0.2]}",
        "SELECT_TEXT",
    ),
    ("showui", REL1, "{'action': 'INPUT', 'value': None, 'position': [0.1, 0.2]}", "text to type"),
    ("showui", REL1, "{'action': __import__('os').system('false')}", "could not read"),
    ("showui", REL1, "no idea", "no action"),
    ("point", REL1000, "no numbers here", "no point"),
    ("point", REL1000, "(-5, 10)", "negative"),
    ("point", REL1000, f"{U}(1,2,3){V}", "needs 2 numbers"),
]


@pytest.mark.parametrize(("dialect", "frame", "text", "keyword"), ERROR_CASES)
def test_malformed_outputs_give_useful_errors(
    dialect: Dialect, frame: Frame, text: str, keyword: str
) -> None:
    result = parse(text, frame, dialect)
    assert isinstance(result, ParseError), result
    assert keyword in result.message


def test_overlong_replies_are_refused() -> None:
    text = "click(1, 2) " * (MAX_TEXT_CHARS // 10)
    for d in DIALECTS:
        r = parse(text, FULL, d)
        assert isinstance(r, ParseError) and "characters long" in r.message


# ---------------------------------------------------------------- format -> parse round trips


def _at(frame: Frame, fx: float, fy: float) -> tuple[float, float]:
    """A viewport point a fraction of the way across the frame's region."""
    return frame.region_x + fx * frame.region_w, frame.region_y + fy * frame.region_h


def _pointer_actions(frame: Frame) -> list[Action]:
    (x, y), (tx, ty) = _at(frame, 0.3, 0.6), _at(frame, 0.71, 0.23)
    return [
        Click(x=x, y=y),
        DoubleClick(x=tx, y=ty),
        RightClick(x=x, y=ty),
        Hover(x=tx, y=y),
        Drag(x=x, y=y, to_x=tx, to_y=ty),
    ]


TEXTS = ['He said "hi", it\'s \\ fine', "two\nlines\ttab", "héllo ✓ 日本", "", "a) b, c'"]
KEYS = ["Control+a", "Enter", "Control+Shift+T", "Control++", "PageDown", "ArrowUp", "F5", "Escape"]


def _round_trip_actions(dialect: Dialect, frame: Frame) -> list[Action]:
    cx, cy = _at(frame, 0.5, 0.5)
    x, y = _at(frame, 0.3, 0.6)
    keys: list[Action] = [KeyPress(keys=k) for k in KEYS]
    types: list[Action] = [Type(text=t, submit=s) for t in TEXTS for s in (False, True)]
    steps = [(0, 1), (0, -1), (1, 0), (-1, 0)]
    match dialect:
        case "gaze":
            scrolls = [Scroll(x=x, y=y, dx=a * 300, dy=b * 300) for a, b in steps]
            scrolls += [Scroll(x=x, y=y, dy=DEFAULT_SCROLL_PX)]
            return [
                *_pointer_actions(frame),
                *types,
                *keys,
                *scrolls,
                Navigate(url='https://example.com/?q="a"'),
                Back(),
                Wait(),
                Wait(seconds=2.5),
                Done(),
                Done(answer='It\'s "42"'),
                GiveUp(reason="blocked"),
                GiveUp(),
                AskUser(question="Which one?"),
                AskUser(),
            ]
        case "uitars":
            a = DEFAULT_SCROLL_PX
            return [
                *_pointer_actions(frame),
                *types,
                *keys,
                *[Scroll(x=x, y=y, dx=i * a, dy=j * a) for i, j in steps],
                Navigate(url="https://example.com/it's"),
                Back(),
                Wait(seconds=5),
                Done(),
                Done(answer='It\'s "42"\nok'),
                AskUser(),
            ]
        case "qwen_tool":
            return [
                *_pointer_actions(frame),
                *types,
                *keys,
                Scroll(x=x, y=y, dy=300),
                Scroll(x=x, y=y, dy=-120),
                Wait(seconds=2),
                Done(),
                Done(answer="42"),
                GiveUp(),
            ]
        case "showui":
            a = DEFAULT_SCROLL_PX
            return [
                Click(x=x, y=y),
                Hover(x=x, y=y),
                _pointer_actions(frame)[4],
                *[Type(text=t) for t in TEXTS],
                KeyPress(keys="Enter"),
                *[Scroll(x=cx, y=cy, dx=i * a, dy=j * a) for i, j in steps],
                Done(answer="It's 42"),
                Done(),
            ]
        case "point":
            return [Click(x=x, y=y)]


def _tolerance(dialect: Dialect, frame: Frame) -> float:
    """Half a step of the numbers the dialect writes, in CSS px (the rounding error)."""
    step = {"pixels": 1.0, "rel1000": 1.0, "rel1": 0.01 if dialect == "showui" else 0.001}
    extent = {"pixels": min(frame.image_w, frame.image_h), "rel1000": 1000, "rel1": 1}
    css_per_unit = max(frame.region_w, frame.region_h) / extent[frame.space]
    return step[frame.space] * css_per_unit / 2 + 1e-6


ROUND_TRIPS = [
    (d, name, a)
    for d in DIALECTS
    for name, f in FRAMES.items()
    if not (d == "showui" and f.space != "rel1")
    for a in _round_trip_actions(d, f)
]


@pytest.mark.parametrize(("dialect", "frame_name", "action"), ROUND_TRIPS)
def test_format_parses_back_to_the_action(
    dialect: Dialect, frame_name: str, action: Action
) -> None:
    frame = FRAMES[frame_name]
    text = format_action(action, frame, dialect)
    assert_actions(parse(text, frame, dialect), action, tol=_tolerance(dialect, frame))


def test_formats_look_like_the_family_writes_them() -> None:
    assert format_action(Click(x=640, y=400), SMART, "gaze") == "click(644, 406)"
    assert format_action(Click(x=640, y=400), SMART, "uitars") == (
        "click(start_box='<|box_start|>(644,406)<|box_end|>')"
    )
    assert format_action(Type(text="hi", submit=True), FULL, "uitars") == "type(content='hi\\n')"
    assert format_action(KeyPress(keys="Control+c"), FULL, "uitars") == "hotkey(key='ctrl c')"
    assert format_action(Click(x=640, y=400), SMART, "qwen_tool") == tool(
        {"action": "left_click", "coordinate": [644, 406]}
    )
    assert format_action(Click(x=627.2, y=336), REL1, "showui") == (
        "{'action': 'CLICK', 'value': None, 'position': [0.49, 0.42]}"
    )
    assert format_action(Click(x=640, y=400), REL1000, "point") == "(500, 500)"
    assert format_action(Click(x=640, y=400), REL1, "point") == "(0.5, 0.5)"


def test_showui_type_with_submit_becomes_input_then_enter() -> None:
    text = format_action(Type(text="shoes", submit=True), REL1, "showui")
    assert_actions(parse(text, REL1, "showui"), Type(text="shoes"), KeyPress(keys="Enter"))


@pytest.mark.parametrize(
    ("dialect", "action"),
    [
        ("gaze", Scroll(x=1, y=1, dx=10, dy=10)),
        ("gaze", Scroll(x=1, y=1)),
        ("uitars", GiveUp(reason="no")),
        ("qwen_tool", Navigate(url="https://example.com")),
        ("qwen_tool", Back()),
        ("qwen_tool", AskUser()),
        ("qwen_tool", Scroll(x=1, y=1, dx=100)),
        ("showui", DoubleClick(x=1, y=1)),
        ("showui", KeyPress(keys="Tab")),
        ("showui", Wait()),
        ("point", Type(text="x")),
        ("point", Done()),
    ],
)
def test_inexpressible_actions_raise_value_error(dialect: Dialect, action: Action) -> None:
    with pytest.raises(ValueError):
        format_action(action, FULL, dialect)


def test_action_spaces_document_the_syntax() -> None:
    gaze = action_space("gaze")
    for name in ("click(", "double_click(", "right_click(", "hover(", "drag(", "type(", "key("):
        assert name in gaze
    for name in ("scroll(", "navigate(", "back()", "wait(", "done(", "give_up(", "ask_user("):
        assert name in gaze
    assert "pixels of the screenshot" in gaze
    uitars = action_space("uitars")
    assert "click(start_box=" in uitars and "finished(content=" in uitars
    qwen = action_space("qwen_tool")
    tools = json.loads(re.search(r"<tools>\n(.*)\n</tools>", qwen, re.S).group(1))  # type: ignore[union-attr]
    assert "left_click" in tools["function"]["parameters"]["properties"]["action"]["enum"]
    assert "Positive values scroll up" in qwen
    assert "'action': 'ACTION_TYPE'" in action_space("showui")
    assert "(x, y)" in action_space("point")


# ---------------------------------------------------------------- never raise, whatever the text

CORPUS = [(d, f, t) for d, f, t, _ in PARSE_CASES] + [(d, f, t) for d, f, t, _ in ERROR_CASES]
# Pieces of model syntax (brackets, quotes, escapes, tokens) mixed with any character at all,
# surrogates and NUL included, so random strings reach deep into the parsers.
SYNTAX = st.sampled_from(
    [*"()[]{}'\",=:;\\ \n\t<>|/-+.eE_0123456789", U, V, "Action:", "click(", "<tool_call>"]
)
ANY_CHAR = st.characters(exclude_categories=()) | st.sampled_from(["\ud800", "\udfff", "\x00"])
SNIPPETS = st.lists(SYNTAX | ANY_CHAR, max_size=6).map("".join)


def assert_result(result: object) -> None:
    assert isinstance(result, Parsed | ParseError)
    if isinstance(result, ParseError):
        assert result.message
        return
    assert result.actions
    for a in result.actions:
        for value in a.model_dump().values():
            if isinstance(value, float):
                assert math.isfinite(value)


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(ANY_CHAR | SYNTAX, max_size=300).map("".join), dialect=st.sampled_from(DIALECTS)
)
def test_random_text_never_raises(text: str, dialect: Dialect) -> None:
    assert_result(parse(text, FULL, dialect))


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Frame, str]:
    _, frame, text = draw(st.sampled_from(CORPUS))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 8)))
        match draw(st.sampled_from(["insert", "delete", "replace", "truncate", "duplicate"])):
            case "insert":
                text = text[:i] + draw(SNIPPETS) + text[i:]
            case "delete":
                text = text[:i] + text[j:]
            case "replace":
                text = text[:i] + draw(SNIPPETS) + text[j:]
            case "truncate":
                text = text[:i]
            case _:
                text = text[:j] + text[i:j] + text[j:]
    return frame, text


@settings(max_examples=300, deadline=None)
@given(case=mutated())
def test_mutated_real_outputs_never_raise(case: tuple[Frame, str]) -> None:
    frame, text = case
    for d in DIALECTS:
        assert_result(parse(text, frame, d))


ADVERSARIAL = [
    "click(", "click (", "wait (", 'type("', "type ('", "type(content='", "(1,", "1,", "9", " ",
    "\n", "[", "{", "(", "((((", "]]]]", '"\\', "'\\", '{"a":[', '{"action": "', "<|box_start|>",
    "Action:",
    "click(1,", "click(x=", "drag(start_box='(1,2)', end_box=", "{'action': 'CLICK', 'position': [",
    "<tool_call>", "(1,2),(", "\\", "a", "\x00",
]  # fmt: skip


@pytest.mark.parametrize("seed", ADVERSARIAL)
def test_long_adversarial_text_is_linear(seed: str) -> None:
    """A guard against catastrophic backtracking, not a timing goal: a quadratic or exponential
    regex takes seconds to minutes on 50 kB, a linear parser a few tens of milliseconds."""
    text = (seed * (MAX_TEXT_CHARS // len(seed) + 1))[:MAX_TEXT_CHARS]
    for d in DIALECTS:
        start = time.perf_counter()
        assert_result(parse(text, FULL, d))
        assert time.perf_counter() - start < 2.0, (d, seed)
