"""Byte-level tokenizer with a ``<point>`` token: gaze-dialect text <-> token ids + point labels.

Contract:
- Ids 0..255 are UTF-8 bytes; then the special tokens ``<pad> <bos> <eos> <image> <sep> <point>``.
  No merges are learned: with 256 byte ids the vocabulary needs no training and never meets an
  unknown word, and the prompts the model reads are short (see ``BuiltinConfig.max_prompt_bytes``).
- ``encode_target(text)`` replaces every coordinate pair ``X, Y`` (integers or decimals, the
  dialect's ``click(X, Y)``, ``scroll(X, Y, ...)``, ``(X1, Y1), (X2, Y2)``) with one ``<point>``
  token and returns the pairs in order; ``decode_target(ids, points)`` is its exact inverse when
  the points are the integer pixels that were taken out. Points are written as integers.

It knows nothing about images or canvases: points are numbers in whatever space the caller uses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

N_BYTES = 256
PAD, BOS, EOS, IMAGE, SEP, POINT = range(N_BYTES, N_BYTES + 6)
VOCAB_SIZE = N_BYTES + 6
SPECIALS = {
    PAD: "<pad>",
    BOS: "<bos>",
    EOS: "<eos>",
    IMAGE: "<image>",
    SEP: "<sep>",
    POINT: "<point>",
}

# A coordinate pair as the dialect writes it: "412, 133" (also "412.5, 133").
PAIR = re.compile(r"(-?\d+(?:\.\d+)?),\s*(-?\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class EncodedTarget:
    ids: tuple[int, ...]  # target tokens, <eos> last
    points: tuple[tuple[float, float], ...]  # one per <point> token, in order


def encode_text(text: str) -> list[int]:
    return list(text.encode("utf-8"))


def decode_bytes(ids: Sequence[int]) -> str:
    return bytes(i for i in ids if i < N_BYTES).decode("utf-8", errors="replace")


def encode_target(text: str) -> EncodedTarget:
    ids: list[int] = []
    points: list[tuple[float, float]] = []
    pos = 0
    for m in PAIR.finditer(text):
        ids.extend(encode_text(text[pos : m.start()]))
        ids.append(POINT)
        points.append((float(m.group(1)), float(m.group(2))))
        pos = m.end()
    ids.extend(encode_text(text[pos:]))
    ids.append(EOS)
    return EncodedTarget(tuple(ids), tuple(points))


def decode_target(ids: Sequence[int], points: Sequence[tuple[float, float]]) -> str:
    """Target tokens (stopping at ``<eos>``) -> text, each ``<point>`` written as ``X, Y``."""
    out: list[str] = []
    run: list[int] = []
    k = 0
    for i in ids:
        if i == EOS:
            break
        if i == POINT:
            out.append(decode_bytes(run))
            run = []
            x, y = points[k] if k < len(points) else (0.0, 0.0)
            out.append(f"{round(x)}, {round(y)}")
            k += 1
        elif i < N_BYTES:
            run.append(i)
    out.append(decode_bytes(run))
    return "".join(out)
