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
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from perception.builtin.spans import TYPING_MISSES, typing_miss
from perception.builtin.train import ensure_ocr, evaluate, load_pool, types_value
from perception.builtin.weights import load
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
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    words = ensure_ocr(args.data, read=False)  # reads the held-out split where unread
    for export in args.exports:
        model = load(export)
        pool = load_pool(args.data, "heldout", model.config)
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


if __name__ == "__main__":
    raise SystemExit(main())
