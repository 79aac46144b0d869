"""A control's drawn state read from pixels (``perception.builtin.proposals.control_on``),
checked against the DOM in real headless Chromium: generated pages' checkboxes, switches and
radio buttons in their themes (at both device scale factors, some flipped after loading), and
the browser's own unstyled controls, as MiniWoB++ pages draw them."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from bench.control_state import FLIP_JS, outline_at
from perception.builtin.proposals import control_shaped, page_proposals
from perception.builtin.reader import Word, to_css
from tasks.synth.annotations import Annotation
from tasks.synth.pages import PageSpec, generate_page
from tasks.synth.render import Renderer

NATIVE = """<!doctype html><html><body style="font: 14px sans-serif; margin: 20px">
<label><input type="checkbox" data-gid="a" checked> Alpha</label><br>
<label><input type="checkbox" data-gid="b"> Bravo</label><br>
<label><input type="radio" name="r" data-gid="c"> Charlie</label><br>
<label><input type="radio" name="r" data-gid="d" checked> Delta</label><br>
<label><input type="checkbox" data-gid="e" style="width: 20px; height: 20px"> Echo</label>
</body></html>"""


def _outline(ann: Annotation, props: list[Word], gid: str) -> Word | None:
    e = ann.get(gid)
    assert e is not None
    return outline_at(props, e.box)


async def _screens() -> list[tuple[Annotation, list[Word]]]:
    out = []
    async with Renderer() as r:
        for i, (kind, w, h, dpr) in enumerate(
            [
                ("checkboxes", 400, 300, 1.0),
                ("toggles", 320, 280, 2.0),
                ("radios", 800, 600, 1.0),
                ("checkboxes", 1024, 768, 2.0),
                ("toggles", 300, 240, 1.0),
                ("radios", 250, 250, 2.0),
            ]
        ):
            for seed in (11, 12):
                spec = PageSpec(
                    seed=seed * 31 + i, split="heldout", viewport_w=w, viewport_h=h, dpr=dpr,
                    require=kind,  # type: ignore[arg-type]
                )  # fmt: skip
                async with r.tab(w, h, dpr) as tab:
                    await tab.load(generate_page(spec).html)
                    await tab.evaluate(FLIP_JS, seed + i)
                    await tab.settle()
                    ann, png = await tab.annotate(), await tab.screenshot()
                css = to_css(Image.open(io.BytesIO(png)), dpr)
                out.append((ann, page_proposals(css, rounded=True)))
        for dpr in (1.0, 2.0):
            async with r.tab(200, 160, dpr) as tab:
                await tab.load(NATIVE)
                ann, png = await tab.annotate(), await tab.screenshot()
            out.append(
                (ann, page_proposals(to_css(Image.open(io.BytesIO(png)), dpr), rounded=True))
            )
    return out


def test_a_controls_outline_says_whether_it_is_drawn_on() -> None:
    screens = asyncio.run(_screens())
    seen = {True: 0, False: 0}
    wrong, missed = [], []
    for ann, props in screens:
        for e in ann.elements:
            if e.checked is None:
                continue
            p = _outline(ann, props, e.gid)
            if p is None:
                missed.append((e.gid, e.role))
                continue
            seen[e.checked] += 1
            if (p.on == 1.0) != e.checked:
                wrong.append((e.gid, e.role, e.checked, p))
    assert not wrong, wrong
    assert seen[True] >= 15 and seen[False] >= 15, seen  # both states, many themes
    assert len(missed) <= 0.05 * (seen[True] + seen[False]), missed
    # the browser's own controls: Alpha and Delta are on
    for ann, props in screens[-2:]:
        states = {g: _outline(ann, props, g) for g in "abcde"}
        assert {g: p.on if p else None for g, p in states.items()} == {
            "a": 1.0, "b": 0.0, "c": 0.0, "d": 1.0, "e": 0.0,
        }  # fmt: skip
    # outlines that are no control never say "on"
    assert all(p.on == 0.0 for _, props in screens for p in props if not control_shaped(p.w, p.h))
