"""Which tile a large page's click comes from, and how often a better rule would have chosen right.

A page larger than the built-in model's canvas is cut into tiles, every tile answers, and one
answer is kept (``perception.builtin.predict.choose_tile``: the most likely text, then
``by_next_word`` among the tiles that agree). This bench decodes every held-out click sample of a
dataset once (the cached OCR words, the held-out screens read first where unread; the agent's
grammar), records every tile's answer, and replays selection rules on the recorded answers:

- ``next goal word, goal word, confidence``: the shipped rule (``predict.by_next_word``): a
  point on the next word the goal names (neither reached by an earlier click nor named after
  a control's word no click reached, ``progress.mark_progress``) first, then as below;
- ``goal word, then confidence``: the rule until 2026-11-28 (``predict.by_goal_word``): a
  point on a word the goal names first, then 1 - P("not here");
- ``peak``: P(the chosen patch or word), the rule before 2026-11-27;
- ``confidence`` alone, ``peak x confidence``, ``goal word, then peak``;
- ``best tile``: a tile whose point lies in the target box, whenever one does (the ceiling of
  any rule that picks among these answers).

A hit is a point inside the sample's target box (viewport CSS px), as in the training
evaluation. Usage::

    python bench/tile_choice.py EXPORT_FOLDER [--data DIR] [--samples N] [--threads 2]
    python bench/tile_choice.py EXPORT_FOLDER --screenshot runs/RUN/screenshots/step-000.png \
        --prompt 'Goal: Open the "Billing" tab.'     # one screen: every tile's answer
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from PIL import Image

from perception.builtin.model import Decoded
from perception.builtin.predict import (
    Page,
    Predictor,
    by_goal_word,
    by_next_word,
    by_peak,
    choose_tile,
    is_next,
    names_goal,
)
from perception.builtin.train import ensure_ocr, is_click, load_pool
from perception.builtin.weights import load
from perception.builtin.words import PENDING, REACHED


def waits(d: Decoded) -> bool:
    """The answer's point names the goal but lies on a word an earlier click reached or one the
    goal names after a page word no click reached (``progress.mark_progress``)."""
    f = d.points[0].feats
    return names_goal(d) and len(f) > PENDING and (f[REACHED] == 1 or f[PENDING] == 1)


def by_open_word(d: Decoded) -> float:
    """``by_next_word`` with a point that ``waits`` last: the next word the goal names, then a
    point on no goal word (a field no label was joined to, a patch), then a goal word that
    waits (tried 2026-11-28 for a form whose next field has no label joined: 142/165 on
    f_new against 143 for the shipped rule; 58/120 held-out goals against 57)."""
    return 2.0 * float(is_next(d)) + float(not waits(d)) + d.points[0].confidence


RULES: dict[str, Callable[[Decoded], float]] = {
    "goal word, then confidence (until 2026-11-28)": by_goal_word,
    "next goal word, goal word, confidence (shipped)": by_next_word,
    "next goal word, no goal word, waiting goal word": by_open_word,
    "peak (before 2026-11-27)": by_peak,
    "confidence": lambda d: d.points[0].confidence,
    "peak x confidence": lambda d: d.points[0].peak * d.points[0].confidence,
    "goal word, then peak": lambda d: float(names_goal(d)) + by_peak(d),
}


def one_screen(pred: Predictor, screenshot: Path, prompt: str, top: int) -> None:
    """Every tile's answer on one screenshot (at 1 image px per CSS px): which tile each rule
    picks, and the tiles the shipped rule ranks highest."""
    with Image.open(screenshot) as img:
        pred.predict([Page(img.convert("RGB"), 1.0, prompt)])
    tiles = pred.last_tiles
    decoded = [t.decoded for t in tiles]

    def show(k: int) -> str:
        t, d = tiles[k], decoded[k]
        if not d.points:
            return f"tile ({t.crop.x:.0f}, {t.crop.y:.0f}): {bytes(i for i in d.ids if i < 256)!r}"
        g = d.points[0]
        return (
            f"tile ({t.crop.x:.0f}, {t.crop.y:.0f}) -> ({g.x + t.crop.x:.0f}, "
            f"{g.y + t.crop.y:.0f}) peak {g.peak:.2f} confidence {g.confidence:.3f} "
            f"goal word {names_goal(d)}"
        )

    print(f"{screenshot}: {len(tiles)} tiles")
    for name, rule in RULES.items():
        print(f"  {name:38s} {show(choose_tile(decoded, rule))}")
    ranked = sorted(
        (k for k in range(len(decoded)) if decoded[k].points),
        key=lambda k: -by_next_word(decoded[k]),
    )
    for k in ranked[:top]:
        print(f"    {show(k)}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("export", type=Path)
    p.add_argument("--data", type=Path, default=Path("/tmp/f_data"))
    p.add_argument("--samples", type=int, default=1000, help="at most this many click samples")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--screenshot", type=Path, default=None,
        help="instead of a dataset: one screenshot (e.g. a task log's screenshots/step-000.png), "
        "every tile's answer shown",
    )  # fmt: skip
    p.add_argument("--prompt", default="", help="with --screenshot: the goal line(s)")
    p.add_argument("--top", type=int, default=6, help="with --screenshot: tiles listed")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = load(args.export)
    if args.screenshot:
        one_screen(Predictor(model, actions_only=True), args.screenshot, args.prompt, args.top)
        return 0
    pool = load_pool(args.data, "heldout", model.config)
    words = ensure_ocr(args.data, read=False)
    clicks = [s for s in pool if is_click(s)]
    picked = random.Random(0).sample(clicks, min(args.samples, len(clicks)))
    pred = Predictor(model, actions_only=True)
    pages: list[tuple[list[Decoded], list[bool]]] = []
    for s in picked:
        smp = s.sample
        box = smp.target_box
        assert box is not None
        scale = smp.frame.image_w / smp.frame.region_w
        with Image.open(s.image_path) as img:
            img.load()
            pred.predict([Page(img, scale, smp.prompt, words.get(str(s.image_path), []))])
        tiles, hits = [], []
        for t in pred.last_tiles:
            hit = False
            if t.decoded.points:
                g = t.decoded.points[0]
                x, y = smp.frame.to_viewport((g.x + t.crop.x) * scale, (g.y + t.crop.y) * scale)
                hit = box.contains(x, y)
            tiles.append(t.decoded)
            hits.append(hit)
        pages.append((tiles, hits))
    n = len(pages)
    several = sum(len(t) > 1 for t, _ in pages)
    print(f"{args.export}: {n} held-out click samples, {several} of them on pages of several tiles")
    for name, rule in RULES.items():
        right = sum(hits[choose_tile(tiles, rule)] for tiles, hits in pages)
        print(f"  {name:38s} {right}/{n} = {right / max(1, n):.1%}")
    ceiling = sum(any(hits) for _, hits in pages)
    print(f"  {'best tile':38s} {ceiling}/{n} = {ceiling / max(1, n):.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
