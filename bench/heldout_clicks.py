"""The issue's first number: on held-out generated pages, how often a click lands inside its target.

Runs ``perception.builtin.train.evaluate`` (the inference path: tiles, the tile rule, the
agent's grammar for demonstration steps) on a seeded subset of a dataset's held-out split, the
screens read by the OCR first where unread, for one or more exports side by side::

    python bench/heldout_clicks.py perception/builtin/weights /tmp/r31/export --data /tmp/f_data

Prints per export: clicks inside the target (all, alignment questions, demonstration steps),
exact text answers, right action names on demonstration steps. With ``--typing`` only the
held-out demonstration steps that type a value are scored (all of them, ``--samples`` aside): the
exact answer (``type("value")`` with its submit flag) measures the span, case and submit heads,
and the misses are counted by kind (``spans.typing_miss``: Enter, case, value, action)::

    python bench/heldout_clicks.py perception/builtin/weights /tmp/r36/export --data /tmp/f_new \
        --typing

With ``--fields`` only the held-out demonstration clicks into a text field are scored (every
click whose next step in its episode types), and for the same steps how often a control outline
(``perception.builtin.proposals``) lies on the target: a canvas's own outlines on any tile, and
the page's (``page_outlines``), whichever the model reads::

    python bench/heldout_clicks.py perception/builtin/weights /tmp/r44/export --data /tmp/h_typing \
        --fields

With ``--ticks`` only the held-out demonstration clicks on a tick box (a target at most 32 CSS
px a side: a radio button, a checkbox, a switch) are scored, and for the same steps how often
one of the page's outlines lies on the target after ``words.join_proposals`` (so an outline
inside a word, dropped as a letter, does not count), without and with ``round_outlines``, and
how often that outline carries a goal word (its label's)::

    python bench/heldout_clicks.py perception/builtin/weights /tmp/r48/export --data /tmp/h_radio \
        --ticks

With ``--keys`` only the held-out demonstration steps whose answer presses a key are scored (a
form field that shows a value is selected with ``key("ctrl+a")`` before typing over it), and
the answers are counted by action::

    python bench/heldout_clicks.py perception/builtin/weights /tmp/r89/export --data /tmp/hq --keys
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from PIL import Image

from perception.builtin.spans import TYPING_MISSES, typing_miss
from perception.builtin.train import Words, ensure_ocr, evaluate, load_pool, types_value
from perception.builtin.weights import load
from perception.builtin.words import TICK_BOX
from tasks.synth.annotations import Box
from tasks.synth.shards import LoadedSample


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("exports", type=Path, nargs="+")
    p.add_argument("--data", type=Path, required=True, help="a dataset with a held-out split")
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--typing", action="store_true", help="score every held-out step that types a value"
    )
    p.add_argument(
        "--fields", action="store_true", help="score every held-out click into a text field"
    )
    p.add_argument("--ticks", action="store_true", help="score every held-out click on a tick box")
    p.add_argument(
        "--keys", action="store_true", help="score every held-out step that presses a key"
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    words = ensure_ocr(args.data, read=False)  # reads the held-out split where unread
    for i, export in enumerate(args.exports):
        model = load(export)
        pool = load_pool(args.data, "heldout", model.config)
        if args.fields or args.ticks:
            what = "clicks into a text field" if args.fields else "clicks on a tick box"
            pool = field_clicks(pool) if args.fields else tick_clicks(pool)
            if i == 0 and args.fields:
                canvas, page = outline_recall(pool, model.config.canvas)
                print(f"outlines on the target of {len(pool)} {what}: "
                      f"a canvas's own {canvas}, the page's {page}")  # fmt: skip
            for rounded in (False, True) if i == 0 and args.ticks else ():
                on, named = tick_recall(pool, words, rounded)
                print(f"outlines on the target of {len(pool)} {what} "
                      f"(round_outlines {rounded}): {on}, carrying a goal word {named}")  # fmt: skip
            s = evaluate(model, pool, len(pool), words)
            print(f"{export}: clicks inside the target {s['click_in_target']:.1%} of "
                  f"{int(s['clicks'])} held-out {what}")  # fmt: skip
            continue
        if args.keys:
            pool = [x for x in pool if x.sample.target.startswith("key(")]
            answers_k: list[tuple[LoadedSample, str]] = []
            s = evaluate(model, pool, len(pool), words, answers_k)
            verbs = Counter(a.split("(", 1)[0] for _, a in answers_k)
            print(
                f"{export}: pressed the key exactly {s['exact']:.1%} of {int(s['others'])} "
                f"held-out steps that press one; answered with "
                + ", ".join(f"{v} {n}" for v, n in verbs.most_common())
            )
            continue
        if args.typing:
            pool = [x for x in pool if types_value(x)]
            answers: list[tuple[LoadedSample, str]] = []
            s = evaluate(model, pool, len(pool), words, answers)
            misses = Counter(typing_miss(a, x.sample.target) for x, a in answers)
            print(
                f"{export}: typed exactly {s['exact']:.1%} of {int(s['others'])} held-out "
                f"steps that type; right action {s['verb_right_demo']:.1%}; "
                + ", ".join(f"{k} {misses[k]}" for k in TYPING_MISSES)
            )
            continue
        s = evaluate(model, pool, args.samples, words)
        n = int(s["clicks"])
        print(
            f"{export}: clicks inside the target {s['click_in_target']:.1%} of {n} "
            f"(alignment {s['click_in_target_alignment']:.1%}, demonstration steps "
            f"{s['click_in_target_demo']:.1%}); exact answers {s['exact']:.1%} of "
            f"{int(s['others'])}; right action {s['verb_right_demo']:.1%} of {int(s['demos'])} "
            f"demonstration steps"
        )
    return 0


def field_clicks(pool: list[LoadedSample]) -> list[LoadedSample]:
    """The demonstration steps that click, whose episode's next step types a value."""
    steps = {(x.sample.page.page_id, x.sample.goal, x.sample.step): x for x in pool}
    out = []
    for x in pool:
        s = x.sample
        if s.kind != "demo" or s.step is None or s.target_box is None:
            continue
        nxt = steps.get((s.page.page_id, s.goal, s.step + 1))
        if s.target.startswith("click(") and nxt is not None and types_value(nxt):
            out.append(x)
    return out


def tick_clicks(pool: list[LoadedSample]) -> list[LoadedSample]:
    """The demonstration steps that click a target at most ``words.TICK_BOX`` CSS px a side."""
    return [
        x
        for x in pool
        if x.sample.kind == "demo"
        and x.sample.target.startswith("click(")
        and (box := x.sample.target_box) is not None
        and max(box.w, box.h) <= TICK_BOX
    ]


def _target_page(x: LoadedSample) -> tuple[Box, float, Image.Image]:
    """A sample's target box, its image px per CSS px, and its screenshot (RGB)."""
    box = x.sample.target_box
    assert box is not None
    with Image.open(x.image_path) as img:
        return box, x.sample.frame.image_w / x.sample.frame.region_w, img.convert("RGB")


def tick_recall(pool: list[LoadedSample], words: Words, rounded: bool) -> tuple[int, int]:
    """Of ``pool``'s targets, how many hold the centre of one of the page's outlines once joined
    with the page's words (the ``full`` preset's parts, ``round_outlines`` as given), and how many of
    those outlines carry a goal word."""
    from perception.builtin.proposals import page_proposals
    from perception.builtin.reader import to_css
    from perception.builtin.train import PRESETS
    from perception.builtin.words import holds_goal_token, join_proposals, score_words

    config = PRESETS["full"].model.model_copy(update={"round_outlines": rounded})
    on = named = 0
    for x in pool:
        box, scale, rgb = _target_page(x)
        css = to_css(rgb, scale)
        prompt = x.sample.prompt
        scored = score_words(words.get(str(x.image_path), []), prompt, split_glyphs=rounded)
        joined = join_proposals(page_proposals(css, rounded=rounded), scored, config)
        hits = [f for p, f in joined if not p.text and box.contains(*p.center)]
        on += bool(hits)
        named += any(holds_goal_token(f) for f in hits)
    return on, named


def outline_recall(pool: list[LoadedSample], size: int) -> tuple[int, int]:
    """How many of ``pool``'s targets hold the centre of an outline: a canvas's own (on any of
    the page's tiles), the page's."""
    from perception.builtin.data import Crop, to_canvas
    from perception.builtin.predict import tile_origins
    from perception.builtin.proposals import box_proposals, page_proposals
    from perception.builtin.reader import to_css

    canvas = page = 0
    for x in pool:
        box, scale, rgb = _target_page(x)
        w, h = rgb.width / scale, rgb.height / scale
        own = [
            p
            for oy in tile_origins(h, size, size // 4)
            for ox in tile_origins(w, size, size // 4)
            for p in box_proposals(
                to_canvas(rgb, Crop(ox, oy, scale), size), (ox, oy), drop_slivers=True
            )
        ]
        canvas += any(box.contains(*p.center) for p in own)
        page += any(box.contains(*p.center) for p in page_proposals(to_css(rgb, scale)))
    return canvas, page


if __name__ == "__main__":
    raise SystemExit(main())
