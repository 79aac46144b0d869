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
