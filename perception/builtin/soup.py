"""Interpolating two exports of one model config: a fine-tune blended back toward where it began.

    python -m perception.builtin.soup BASE TUNED --alpha 0.5 [--keep PREFIX ...] --out DIR

A fine-tune on generated pages gains on held-out generated pages and can lose on foreign ones
(MiniWoB++); the weights on the straight line between the model it started from and the
fine-tuned one often keep much of both (WiSE-FT, Wortsman et al., 2022). docs/BUILTIN.md "Runs
64-65" measures it on the built-in model.

Contract:
- ``blend(base, tuned, alpha)`` returns a model whose every floating-point tensor is
  ``(1 - alpha) * base + alpha * tuned`` (computed in float32; other tensors are ``base``'s);
  ``alpha`` 0 is ``base``, 1 is ``tuned``. ``keep``: parameter-name prefixes (``"verb."``) whose
  tensors stay ``base``'s whatever ``alpha`` (a head that must not drift); a prefix that names no
  tensor is a ``SoupError``, so a typo cannot pass for a blend. The two must share one
  ``ModelConfig`` but for the ``DECODING_ONLY`` fields, which no tensor depends on (what the
  model is taught to write, how its answer is read back, which words it is given): the blend
  takes the tuned model's. Other differing fields are a ``SoupError`` that names them;
  ``alpha`` outside [0, 1] is refused too.
- ``main`` loads two export folders (``weights.load``), blends them and writes the export to
  ``--out`` (``weights.export``: bf16, the same three files); it exits 2 with the message on a
  ``SoupError`` or ``WeightsError``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from perception.builtin.config import differing
from perception.builtin.model import GazeVLM
from perception.builtin.weights import WeightsError, export, load

# ModelConfig fields that change no tensor: a blend takes the tuned model's value
DECODING_ONLY = frozenset(
    {"answer_pointer", "avoid_typed_field", "outline_text", "scroll_amount", "submit_typing"}
)


class SoupError(ValueError):
    pass


def blend(base: GazeVLM, tuned: GazeVLM, alpha: float, keep: Sequence[str] = ()) -> GazeVLM:
    """A new model on the line from ``base`` (alpha 0) to ``tuned`` (alpha 1), the tensors under
    the ``keep`` prefixes left at ``base``; see the contract."""
    if not 0.0 <= alpha <= 1.0:
        raise SoupError(f"alpha must be in [0, 1], got {alpha}")
    sa = base.state_dict()
    unknown = [p for p in keep if not any(k.startswith(p) for k in sa)]
    if unknown:
        raise SoupError(f"no parameter name starts with {', '.join(map(repr, unknown))}")
    differ = [
        k
        for k in differing(base.config.model_dump(), tuned.config.model_dump())
        if k not in DECODING_ONLY
    ]
    if differ:
        raise SoupError(f"the two models have other configs ({', '.join(differ)} differ)")
    out = GazeVLM(tuned.config)
    tb = tuned.state_dict()
    state = {
        k: ((1 - alpha) * v.float() + alpha * tb[k].float()).to(v.dtype)
        if v.is_floating_point() and not k.startswith(tuple(keep))
        else v.clone()
        for k, v in sa.items()
    }
    out.load_state_dict(state)
    return out.eval()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m perception.builtin.soup",
        description="blend two exports of one built-in model config",
    )
    p.add_argument("base", type=Path, help="export folder of the model the fine-tune began from")
    p.add_argument("tuned", type=Path, help="export folder of the fine-tuned model")
    p.add_argument("--alpha", type=float, default=0.5, help="share of the fine-tuned weights")
    p.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="PREFIX",
        help="parameters whose names start with PREFIX stay the base's (repeatable; e.g. 'verb.')",
    )
    p.add_argument("--out", type=Path, required=True, help="export folder to write")
    args = p.parse_args(argv)
    try:
        model = blend(load(args.base), load(args.tuned), args.alpha, args.keep)
    except (SoupError, WeightsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    with torch.no_grad():
        size = export(model, args.out)
    kept = f"; {', '.join(args.keep)} kept from {args.base}" if args.keep else ""
    print(
        f"{args.out}: {size} bytes, {1 - args.alpha:g} x {args.base} + {args.alpha:g} x {args.tuned}"
        + kept
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
