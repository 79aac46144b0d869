"""A contact sheet: one HTML page that shows a few samples with their targets drawn on the image.

Contract: ``pick(samples, n, rng)`` chooses up to ``n`` samples, at least one per task when there
is room; ``contact_sheet(root, samples)`` returns a self-contained HTML page (images referenced by
paths relative to ``root``, where the page is meant to be saved). Targets are drawn in image
pixels: the target element's box as a rectangle, an action's point as a ring. All text is escaped.
"""

from __future__ import annotations

import html
import random
from collections.abc import Sequence
from pathlib import Path

from actions.executor import points
from tasks.synth.shards import LoadedSample

SHOW_W = 420  # CSS px a sample's image is shown at (at most its own width)


def pick(samples: Sequence[LoadedSample], n: int, rng: random.Random) -> list[LoadedSample]:
    """Up to ``n`` samples: one of each task first, then random others."""
    by_task: dict[str, list[LoadedSample]] = {}
    for s in samples:
        by_task.setdefault(s.sample.task, []).append(s)
    chosen = [rng.choice(group) for _, group in sorted(by_task.items())][:n]
    rest = [s for s in samples if s not in chosen]
    chosen += rng.sample(rest, min(len(rest), n - len(chosen)))
    return chosen


def _overlay(s: LoadedSample) -> str:
    sm = s.sample
    sx, sy = sm.image_w / sm.frame.region_w, sm.image_h / sm.frame.region_h  # image px per CSS px
    marks = []
    if sm.target_box is not None:
        b = sm.target_box
        marks.append(
            f'<rect x="{b.x * sx:.1f}" y="{b.y * sy:.1f}" width="{b.w * sx:.1f}" '
            f'height="{b.h * sy:.1f}" fill="none" stroke="#0a0" stroke-width="{2 * sx:.1f}"/>'
        )
    if sm.action is not None:
        for x, y in points(sm.action):
            mx, my = sm.frame.from_viewport(x, y)
            marks.append(
                f'<circle cx="{mx:.1f}" cy="{my:.1f}" r="{6 * sx:.1f}" fill="none" '
                f'stroke="#e00" stroke-width="{2.5 * sx:.1f}"/>'
            )
    return (
        f'<svg viewBox="0 0 {sm.image_w} {sm.image_h}" preserveAspectRatio="none">'
        f"{''.join(marks)}</svg>"
    )


def _figure(root: Path, s: LoadedSample) -> str:
    sm = s.sample
    src = html.escape(s.image_path.relative_to(root).as_posix())
    width = min(SHOW_W, sm.image_w)
    head = f"{sm.kind} · {sm.task} · {sm.page.viewport_w}x{sm.page.viewport_h} @{sm.page.dpr:g}"
    return (
        f'<figure><div class="shot" style="width:{width}px"><img src="{src}" '
        f'style="width:{width}px">{_overlay(s)}</div><figcaption><b>{html.escape(head)}</b>'
        f'<div class="id">{html.escape(sm.id)} · {html.escape(sm.page.template)}</div>'
        f'<pre>{html.escape(sm.prompt)}</pre><pre class="t">→ {html.escape(sm.target)}</pre>'
        "</figcaption></figure>"
    )


def contact_sheet(root: Path, samples: Sequence[LoadedSample], title: str) -> str:
    figures = "\n".join(_figure(root, s) for s in samples)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>
body {{ font: 13px/1.4 sans-serif; margin: 1em; background: #f4f4f4; }}
main {{ display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }}
figure {{ margin: 0; background: #fff; padding: .6em; border-radius: 6px; max-width: {SHOW_W}px;
  box-shadow: 0 1px 3px rgba(0,0,0,.2); }}
.shot {{ position: relative; }} .shot img {{ display: block; border: 1px solid #ccc; }}
.shot svg {{ position: absolute; inset: 0; width: 100%; height: 100%; }}
pre {{ white-space: pre-wrap; margin: .3em 0; }} pre.t {{ color: #b00; }}
.id {{ color: #777; font-size: 11px; }}
</style></head><body><h1>{html.escape(title)}</h1><p>Green: the target element's box. Red: the
point of the target action. Coordinates in prompts and targets are pixels of the image.</p>
<main>
{figures}
</main></body></html>
"""
