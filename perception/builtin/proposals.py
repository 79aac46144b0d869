"""Box proposals: the outlines of controls drawn on a canvas (text boxes, buttons, checkboxes),
found by classical edge detection, as extra word slots with no text.

Contract:
- ``box_proposals(canvas, origin)`` takes a model canvas ``(3, S, S)`` in [0, 1] and the page
  CSS px of its top-left corner, and returns ``Word``s with empty text and score 0 in page CSS px:
  one per closed, roughly rectangular outline (Canny edges -> contours whose points lie on their
  bounding box's border) between ``MIN_SIDE`` and ``MAX_HEIGHT`` px, at most ``MAX_BOXES`` of
  them, largest first, near-duplicates (IoU > 0.7) merged (a small box's 1 px line may still
  give two: its inner and its outer edge). Deterministic; no learning.
- ``drop_slivers`` (``ModelConfig.drop_slivers``): an outline that touches the canvas edge and is
  thinner than ``SLIVER`` px is left out. A tile that cuts a shadowed card gets a flat 10 px
  "box" along the card's bottom edge (the demo site's cards gave one per tile); it looked like
  an empty text field and outbid the named link on "Click "Integrations" in the top menu". A
  real control that thin (a checkbox) lies whole in the next tile: tiles overlap by 56 px.
- They join the OCR's words before the slots are cut (``perception.builtin.words``): a proposal
  is a slot with no bytes, its box and the image token under it, and any slot whose centre lies
  in the target box is a correct pointer answer. Configs with ``proposals: false`` never see them.

Why: an empty text field has no word on it, so the pointer can only choose among 196 patches,
and a 3 M model trained on two CPU cores had not learned that from pixels (run 9 clicked inside a
bare text box on 7 of 60 of its own training screens, putting ~2% on each patch). An outline
detector is a few lines of OpenCV (installed with rapidocr) and turns "find the empty box" into
"choose the slot", which the model does well for words.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from perception.builtin.reader import Word

MIN_SIDE = 10  # px: smaller outlines are glyphs
MAX_HEIGHT = 44  # px: taller ones are panels, cards, headers
MAX_BOXES = 16
SLIVER = 16  # px: with drop_slivers, an outline cut by the canvas edge and thinner than this goes
_EDGE = 2  # px: how far from its bounding box's border a contour point may lie


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


def _touches_edge(x: int, y: int, w: int, h: int, size: int) -> bool:
    return x <= 1 or y <= 1 or x + w >= size - 1 or y + h >= size - 1


def box_proposals(
    canvas: Tensor, origin: tuple[float, float], *, drop_slivers: bool = False
) -> list[Word]:
    import cv2

    img = (canvas.permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(grey, 20, 60)
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    found: list[tuple[int, int, int, int]] = []
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        if w < MIN_SIDE or h < MIN_SIDE or h > MAX_HEIGHT or w > 0.95 * canvas.shape[-1]:
            continue
        pts = c.reshape(-1, 2)
        on_border = (
            (np.abs(pts[:, 0] - x) <= _EDGE)
            | (np.abs(pts[:, 0] - (x + w - 1)) <= _EDGE)
            | (np.abs(pts[:, 1] - y) <= _EDGE)
            | (np.abs(pts[:, 1] - (y + h - 1)) <= _EDGE)
        )
        # the outline goes round the box: its points hug the border and cover most of it
        if on_border.mean() < 0.9 or len(pts) < 1.5 * (w + h):
            continue
        if drop_slivers and min(w, h) < SLIVER and _touches_edge(x, y, w, h, canvas.shape[-1]):
            continue
        found.append((x, y, w, h))
    found.sort(key=lambda b: -b[2] * b[3])
    kept: list[tuple[int, int, int, int]] = []
    for b in found:
        if all(_iou(b, k) <= 0.7 for k in kept):
            kept.append(b)
        if len(kept) == MAX_BOXES:
            break
    ox, oy = origin
    return [Word("", x + ox, y + oy, float(w), float(h), 0.0) for x, y, w, h in kept]
