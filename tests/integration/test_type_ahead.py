"""Type before you press, end to end in real headless Chromium with the shipped built-in model:
on a form of one empty field and a Subscribe button, "Fill the text field with "project" and hit
"Subscribe"" first clicks the field (run 84 alone clicked Subscribe, sending the form empty);
once the history typed the value, the click is free to go to Subscribe. Where the rule sends
the first click (into the field, off the button) is checked against the DOM."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from perception.builtin import WEIGHTS_DIR
from perception.builtin.predict import Page, Predictor, _first_click_on
from perception.builtin.proposals import page_proposals
from perception.builtin.reader import read_words, to_css
from perception.builtin.weights import load
from tasks.synth.annotations import Annotation
from tasks.synth.render import Renderer

PAGE = """<!doctype html><html><head><style>
body { margin: 0; background: #faf9f7; font: 13px Georgia, serif; }
.card { margin: 12px; padding: 8px; border: 1px solid #ccc; display: flex; gap: 6px; }
input { width: 120px; height: 22px; border: 1px solid #888; }
button { background: #2a5db0; color: #fff; border: 0; padding: 6px 10px; font: inherit;
         letter-spacing: 1px; text-transform: uppercase; }
</style></head><body>
<div class="card"><input data-gid="field" type="text"><button data-gid="go">Subscribe</button></div>
</body></html>"""
GOAL = 'Goal: Fill the text field with "project" and hit "Subscribe".'


async def _screen() -> tuple[Annotation, Image.Image]:
    async with Renderer() as r, r.tab(300, 240, 1.0) as tab:
        await tab.load(PAGE)
        ann, png = await tab.annotate(), await tab.screenshot()
    return ann, Image.open(io.BytesIO(png))


def _inside(ann: Annotation, gid: str, x: float, y: float) -> bool:
    e = ann.get(gid)
    assert e is not None, gid
    return e.box.contains(x, y)


def test_the_field_is_clicked_before_the_button_named_after_the_value() -> None:
    ann, shot = asyncio.run(_screen())
    model = load(WEIGHTS_DIR)
    assert model.config.type_ahead, "the shipped config has the type-ahead head"
    predictor = Predictor(model, actions_only=True)
    first = predictor.predict([Page(shot, 1.0, GOAL)])[0]
    assert first.text.startswith("click("), first.text
    assert _inside(ann, "field", *first.points[0]), (first.text, ann.get("field"))
    typed = (
        f"{GOAL}\nEarlier steps:\n1. click(x={first.points[0][0]:.0f}, y={first.points[0][1]:.0f})"
    )
    typed += " -> ok\n2. type(text='project', submit=False) -> ok"
    then = predictor.predict([Page(shot, 1.0, typed)])[0]
    assert then.text.startswith("click(") and _inside(ann, "go", *then.points[0]), then.text
    css = to_css(shot.convert("RGB"), 1.0)  # what the rule holds: Subscribe's button, in the DOM
    words, outlines = read_words(css), page_proposals(css, rounded=True)
    keep = _first_click_on(GOAL, words, frozenset({"subscribe"}), outlines)("project")
    assert keep.off and all(_inside(ann, "go", x + w / 2, y + h / 2) for x, y, w, h in keep.off)
    assert keep.on and all(_inside(ann, "field", x + w / 2, y + h / 2) for x, y, w, h in keep.on)
    assert _first_click_on(GOAL, words, frozenset({"subscribe"}), outlines)("Subscribe") == ((), ())


FORM = """<!doctype html><html><head><style>
body { margin: 0; background: #fff; font: 13px monospace; }
.card { margin: 10px; padding: 8px; border: 1px solid #bcc; width: 280px; }
label { display: block; margin: 6px 0 2px; }
input { width: 260px; height: 18px; border: 1px solid #999; font: inherit; }
button { margin-top: 8px; background: #a0284e; color: #fff; border: 0; padding: 4px 8px; }
</style></head><body><div class="card"><b>Billing</b>
<label>Office</label><input data-gid="office" type="text" value="{office}">
<label>Account number</label><input data-gid="account" type="text" value="{account}">
<button data-gid="done">Done</button></div></body></html>"""
FORM_GOAL = 'Goal: Fill in "Office" with Warsaw and "Account number" with 56684, then press Done.'


async def _form(office: str, account: str) -> tuple[Annotation, Image.Image]:
    async with Renderer() as r, r.tab(320, 200, 1.0) as tab:
        await tab.load(FORM.replace("{office}", office).replace("{account}", account))
        ann, png = await tab.annotate(), await tab.screenshot()
    return ann, Image.open(io.BytesIO(png))


def _at(ann: Annotation, gid: str) -> str:
    e = ann.get(gid)
    assert e is not None, gid
    return f"x={e.box.x + e.box.w / 2:.0f}, y={e.box.y + e.box.h / 2:.0f}"


def test_a_form_of_two_values_gets_both_before_its_button() -> None:
    """The goal's plan (two values): with the second field typed first and the first showing a
    value already ("Chloe"), the next click goes into that field, not to Done (run 92 clicked
    Done and typed "56684" again, to the step limit); with both typed, Done."""
    model = load(WEIGHTS_DIR)
    assert model.config.type_plan, "the shipped config has the type-plan head"
    predictor = Predictor(model, actions_only=True)
    ann, shot = asyncio.run(_form("Chloe", "56684"))
    said = f"{FORM_GOAL}\nEarlier steps:\n1. click({_at(ann, 'account')}) -> ok"
    said += "\n2. type(text='56684', submit=False) -> ok"
    step = predictor.predict([Page(shot, 1.0, said)])[0]
    assert step.text.startswith("click(") and _inside(ann, "office", *step.points[0]), step.text
    said += f"\n3. click({_at(ann, 'office')}) -> ok"
    typing = predictor.predict([Page(shot, 1.0, said)])[0]
    assert typing.text == 'type("Warsaw")', typing.text
    ann, shot = asyncio.run(_form("Warsaw", "56684"))
    said += "\n4. type(text='Warsaw', submit=False) -> ok"
    last = predictor.predict([Page(shot, 1.0, said)])[0]
    assert last.text.startswith("click(") and _inside(ann, "done", *last.points[0]), last.text
