"""How often a control's drawn state read from pixels agrees with the DOM.

``perception.builtin.proposals.control_on`` says whether a tick box, radio button or switch is
drawn on (``ModelConfig.control_state``). This bench renders generated pages that hold such
controls (``tasks.synth``: each page requires a checkbox group, a switch group or a radio group,
at the data engine's viewports and device scale factors), clicks about a third of the controls
after loading so that both states show in every theme, and compares, for every control the DOM
reports (``Element.checked``):

- ``dom box``: ``control_on`` on the control's own DOM box;
- ``outline``: ``Word.on`` of the outline ``page_proposals`` found there (``outline_at``: the
  largest control-shaped one whose centre lies in the box), which is what the model reads;
  controls with no such outline are counted apart.

``FLIP_JS`` and ``outline_at`` serve tests/integration/test_control_state.py too.

Usage::

    python bench/control_state.py [--pages 200] [--split heldout] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PIL import Image

from perception.builtin.proposals import control_on, control_shaped, page_proposals
from perception.builtin.reader import Word, to_css
from tasks.synth.annotations import Box
from tasks.synth.engine import COMPACT_VIEWPORTS, FULL_VIEWPORTS
from tasks.synth.pages import PageSpec, generate_page
from tasks.synth.render import Renderer

# click about every third control after loading: both states show in every theme
FLIP_JS = """(seed) => { let k = seed;
  for (const e of document.querySelectorAll('input[type=checkbox],input[type=radio]')) {
    k = (k * 9301 + 49297) % 233280; if (k % 3 === 0) e.click(); } }"""
KINDS = ("checkboxes", "toggles", "radios")


def outline_at(outlines: Sequence[Word], box: Box) -> Word | None:
    """The largest control-shaped outline whose centre lies in ``box`` (a DOM box, 2 px of
    slack): the one whose ``Word.on`` the model reads for that control."""
    inside = [p for p in outlines if control_shaped(p.w, p.h) and box.contains(*p.center, slack=2)]
    return max(inside, key=lambda p: p.w * p.h, default=None)


async def measure(pages: int, split: str, seed: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    async with Renderer() as r:
        for i in range(pages):
            rng = random.Random(seed * 7919 + i)
            compact = rng.random() < 0.5
            w, h = rng.choice(COMPACT_VIEWPORTS if compact else FULL_VIEWPORTS)
            dpr = 2.0 if rng.random() < 0.35 else 1.0
            spec = PageSpec(
                seed=seed * 100003 + i, split=split, viewport_w=w, viewport_h=h, dpr=dpr,  # type: ignore[arg-type]
                require=KINDS[i % 3],  # type: ignore[arg-type]
            )  # fmt: skip
            async with r.tab(w, h, dpr) as tab:
                await tab.load(generate_page(spec).html)
                await tab.evaluate(FLIP_JS, i)
                await tab.settle()
                ann, png = await tab.annotate(), await tab.screenshot()
            css = to_css(Image.open(io.BytesIO(png)), dpr)
            rgb = np.asarray(css)
            props = page_proposals(css, rounded=True)
            for e in ann.elements:
                if e.checked is None:
                    continue
                state = "on" if e.checked else "off"
                counts[f"{e.role} {state}"] += 1
                b = e.box
                counts[f"dom box right {state}"] += (
                    control_on(rgb, (b.x, b.y, b.w, b.h)) == 1.0
                ) == e.checked
                p = outline_at(props, b)
                if p is None:
                    counts[f"no outline {state}"] += 1
                    continue
                counts[f"outline {state}"] += 1
                counts[f"outline right {state}"] += (p.on == 1.0) == e.checked
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--split", default="heldout", choices=("train", "heldout"))
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    t0 = time.perf_counter()
    c = asyncio.run(measure(args.pages, args.split, args.seed))
    for role in ("checkbox", "switch", "radio"):
        print(f"{role:9s} on {c[f'{role} on']:5d}   off {c[f'{role} off']:5d}")
    for state in ("on", "off"):
        n = c[f"checkbox {state}"] + c[f"switch {state}"] + c[f"radio {state}"]
        print(
            f"{state:3s}: dom box right {c[f'dom box right {state}']}/{n}; outline right "
            f"{c[f'outline right {state}']}/{c[f'outline {state}']} "
            f"(no outline found: {c[f'no outline {state}']})"
        )
    print(f"{args.pages} pages in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
