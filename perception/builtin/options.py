"""Command-line options of the trainer, without importing torch (``gaze --help`` stays fast).

Contract: ``add_arguments(parser)`` adds the options that ``perception.builtin.train`` reads;
``PRESET_NAMES`` are the names of its presets (the trainer checks that they agree).
"""

from __future__ import annotations

import argparse
from pathlib import Path

PRESET_NAMES = ("full", "next", "tiny")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=PRESET_NAMES, default="full")
    p.add_argument("--out", type=Path, required=True, help="run folder (resumes when it exists)")
    p.add_argument(
        "--data", default=None, metavar="DIR[:weight=W][:width=A-B]",
        help="dataset folder (default OUT/data): its held-out split is evaluated, its train split "
        "joins the pool, with the options of --extra-data",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--stage1-steps", type=int, default=None)
    p.add_argument("--stage2-steps", type=int, default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--eval-every", type=int, default=None)
    p.add_argument("--eval-samples", type=int, default=None)
    p.add_argument(
        "--export-now", action="store_true",
        help="evaluate and export the latest checkpoint without training further",
    )  # fmt: skip
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument(
        "--workers", type=int, default=0,
        help="processes that make batches ahead of the training step (0: in the trainer itself; "
        "the batches are the same either way); worth it when a GPU trains",
    )  # fmt: skip
    p.add_argument(
        "--minutes", type=float, default=None,
        help="time budget for this call's steps: the learning rate decays over it (or over the "
        "steps, whichever is further along) and the run evaluates and exports when it is spent",
    )  # fmt: skip
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument(
        "--demo-mix", type=float, default=None, help="share of demonstrations in a stage-2 batch"
    )
    p.add_argument(
        "--textless-mix", type=float, default=None,
        help="share of a batch drawn from clicks whose target shows no text (bare boxes, icons)",
    )  # fmt: skip
    p.add_argument(
        "--type-mix", type=float, default=None,
        help="share of a stage-2 batch drawn from steps that type a value (default 0)",
    )  # fmt: skip
    p.add_argument(
        "--rephrase", type=float, default=None,
        help="share of training goals said in other words (rephrase.py; default 0)",
    )  # fmt: skip
    p.add_argument(
        "--recase", type=float, default=None,
        help="share of the steps that type made to ask for other letter case (rephrase.recase; "
        "default 0)",
    )  # fmt: skip
    p.add_argument(
        "--negative-rate", type=float, default=None,
        help="share of crops placed at random, most of them without the target: 'not here' "
        "(default 0.15)",
    )  # fmt: skip
    p.add_argument(
        "--decoys", type=float, default=None,
        help="share of the 'not here' crops placed on a goal word that is not the target "
        "(default 0)",
    )  # fmt: skip
    p.add_argument(
        "--verb-weight", type=float, default=None,
        help="weight of the answer's action name in the text loss (default 1)",
    )  # fmt: skip
    p.add_argument(
        "--init", type=Path, default=None,
        help="start from these weights (a run's checkpoint.pt or an export folder), not at random",
    )  # fmt: skip
    p.add_argument(
        "--train-only", action="append", default=None, metavar="PREFIX",
        help="train only the parameters whose names start with PREFIX (repeatable; e.g. 'case.' "
        "'span_flag.'): a head fine-tune on top of --init, the rest frozen",
    )  # fmt: skip
    p.add_argument(
        "--train-widened", action="store_true",
        help="with --init: only the columns --init lacked (a new word feature's) learn; every "
        "value --init had stays exactly as it was",
    )  # fmt: skip
    p.add_argument(
        "--reset", action="append", default=None, metavar="PREFIX",
        help="with --init, the parameters whose names start with PREFIX (one of the heads a run "
        "may add, e.g. 'verb.') start fresh, as in a new model, not from --init (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--extra-data", action="append", default=None, metavar="DIR[:weight=W][:width=A-B]",
        help="another dataset folder whose train split joins the pool (repeatable): weight "
        "scales its share (2: each sample twice, 0.25: a quarter of them), width keeps the "
        "samples of pages A to B CSS px wide (A- or -B: one bound)",
    )  # fmt: skip
    p.add_argument(
        "--read-only-cached", action="store_true",
        help="do not run the OCR over unread training screenshots; train on the samples already "
        "read (the small held-out split, which evaluations score, is read either way)",
    )  # fmt: skip
