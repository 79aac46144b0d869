"""Button captions the text detector misses, read inside the page's outlines
(``perception.builtin.outline_text``), checked against the DOM in real headless Chromium: a
pagination bar's one-digit links are read and placed on their buttons, at both device scale
factors, while tick boxes, radio buttons, a switch and an empty field gain no word."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from PIL import Image

from perception.builtin.data import page_captions
from perception.builtin.outline_text import outline_words, with_outline_words
from perception.builtin.proposals import page_proposals
from perception.builtin.reader import Word, read_words, reading_order, to_css
from tasks.synth.annotations import Annotation
from tasks.synth.render import Renderer

PAGE = """<!doctype html><html><head><style>
body { font: 14px monospace; margin: 16px; color: #7b1fa2; }
nav a { display: inline-block; width: 31px; height: 31px; line-height: 31px; margin-right: 4px;
        text-align: center; border: 1px solid #ccd; border-radius: 7px; text-decoration: none;
        color: inherit; }
nav a.on { background: #8e24aa; color: #fff; border-color: #8e24aa; }
.row { margin-top: 18px; font-family: sans-serif; color: #222; }
input[type=text] { width: 180px; height: 24px; border: 1px solid #99a; }
.switch { display: inline-block; width: 34px; height: 18px; border-radius: 9px;
          background: #8e24aa; position: relative; vertical-align: middle; }
.switch::after { content: ""; position: absolute; right: 2px; top: 2px; width: 14px;
                 height: 14px; border-radius: 7px; background: #fff; }
</style></head><body>
<nav><a data-gid="p1" class="on" href="#">1</a><a data-gid="p2" href="#">2</a><a data-gid="p3"
href="#">3</a><a data-gid="p4" href="#">4</a><a data-gid="p5" href="#">5</a><a data-gid="p6"
href="#">6</a></nav>
<div class="row"><label><input type="checkbox" data-gid="c1" checked> Alerts</label>
<label><input type="checkbox" data-gid="c2"> Digest</label>
<label><input type="radio" name="r" data-gid="r1" checked> Daily</label>
<label><input type="radio" name="r" data-gid="r2"> Weekly</label></div>
<div class="row"><span class="switch" data-gid="s1"></span> Sync</div>
<div class="row">Name <input type="text" data-gid="f1"></div>
</body></html>"""


async def _screens() -> list[tuple[Annotation, Image.Image, bytes, float]]:
    out = []
    async with Renderer() as r:
        for dpr in (1.0, 2.0):
            async with r.tab(420, 240, dpr) as tab:
                await tab.load(PAGE)
                ann, png = await tab.annotate(), await tab.screenshot()
            out.append((ann, to_css(Image.open(io.BytesIO(png)), dpr), png, dpr))
    return out


def _inside(ann: Annotation, gid: str, w: Word) -> bool:
    e = ann.get(gid)
    assert e is not None, gid
    return e.box.contains(*w.center)


def test_one_digit_links_are_read_inside_their_buttons_and_controls_gain_no_word(
    tmp_path: Path,
) -> None:
    for ann, css, png, dpr in asyncio.run(_screens()):
        words = read_words(css)
        outlines = page_proposals(css, rounded=True)
        extra = outline_words(css, words, outlines)
        found = {w.text: w for w in [*words, *extra]}
        for digit in "23456":  # the unselected links: dark digits on a light button
            assert digit in found, (digit, [w.text for w in extra])
            assert _inside(ann, f"p{digit}", found[digit]), (digit, found[digit])
        for w in extra:  # nothing read inside a control or the empty field
            assert not any(_inside(ann, g, w) for g in ("c1", "c2", "r1", "r2", "s1", "f1")), w
            assert w.text.isalnum() and w.score >= 0.9, w
        merged = with_outline_words(css, words, outlines)
        assert len(merged) == len(words) + len(extra)
        assert merged == sorted(merged, key=reading_order)
        assert with_outline_words(css, words, []) == words  # no outlines, nothing read
        shot = tmp_path / f"page-{dpr}.png"  # training reads the same captions off the file
        shot.write_bytes(png)
        assert page_captions(shot, dpr, True, tuple(words)) == tuple(merged)
