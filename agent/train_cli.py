"""``gaze train``: train the built-in model (``perception.builtin.train``) from the CLI.

Registered like ``gaze bench``: one ``register(sub)`` call; torch is imported only when the
command runs, so ``gaze --help`` stays fast. Exit codes: 0 done, 2 bad input (a run folder with a
different config, data generation failed), 130 interrupted (the checkpoint is saved and the same
command resumes).
"""

from __future__ import annotations

import argparse


def cmd_train(args: argparse.Namespace) -> int:
    from perception.builtin.train import main_args

    return main_args(args)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from perception.builtin.options import add_arguments

    p = sub.add_parser(
        "train",
        help="train Gaze's built-in model (data, stage 1, stage 2, evaluation, export)",
        description="Train Gaze's built-in model from scratch; resumes when --out holds a run. "
        "Details: docs/BUILTIN.md.",
    )
    add_arguments(p)
    p.set_defaults(fn=cmd_train)
