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
- ``page_proposals(page)`` (``ModelConfig.page_outlines``) finds them once on a whole page at
  CSS scale, at lower edge thresholds, and adds ``_underlines`` (an empty field drawn as a line
  under blank space: the ``UNDERLINE_H`` px above a long horizontal edge that is no closed
  box's side); ``tile_proposals(found, origin, size)`` clips them to one canvas. On h_typing's
  212 held-out clicks into text fields, a canvas's own outlines held the target 155 times, the
  page's 192 (docs/BUILTIN.md "Runs 44-46"): fields wider than the canvas (cut on both sides,
  no closed outline on any tile), a dark theme's field a shade off its card, and underlined
  fields were missed. With ``rounded`` (``ModelConfig.round_outlines``) it also proposes fully
  rounded outlines (``_on_rounded_box``: radio buttons, switches, pill buttons), which the box
  test never did: on h_radio's 52 held-out clicks on a tick box an outline lay on the target 20
  times, with them 51 (docs/BUILTIN.md "Runs 47-50"); the letters among them ("o", "D") are
  dropped when joined with the words (``words.join_proposals``).
- ``control_on(page, box)`` (``ModelConfig.control_state``): whether a control-sized outline
  (``control_shaped``: a tick box, a radio button, a switch's track) is drawn on, from its
  pixels: at least ``ON_SHARE`` of those inside its border are an accent colour (saturation
  above ``ACCENT_SAT``, value above ``ACCENT_VAL``). A ticked box, a chosen radio's dot and a
  switch's track that is on are drawn in the theme's accent (the browser's own: blue); off,
  they are white, grey or a dark theme's grey. ``page_proposals`` sets ``Word.on`` on the
  outlines it returns and ``tile_proposals`` keeps it. A control drawn on in grey or black
  reads as off: nothing in its pixels alone tells it from an off one in another theme.
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

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image
from torch import Tensor

from perception.builtin.reader import Word

MIN_SIDE = 10  # px: smaller outlines are glyphs
MAX_HEIGHT = 44  # px: taller ones are panels, cards, headers
MAX_BOXES = 16
SLIVER = 16  # px: with drop_slivers, an outline cut by the canvas edge and thinner than this goes
_EDGE = 2  # px: how far from its bounding box's border a contour point may lie
PAGE_LOW, PAGE_HIGH = 10, 30  # page_proposals' Canny thresholds (box_proposals: 20, 60)
MAX_PAGE_BOXES = 400
UNDERLINE_MIN_W = 48  # px: a shorter horizontal line is not taken for a field's underline
UNDERLINE_H = 24  # px above an underline proposed as its field
CONTROL_MAX_H = 32  # px: the tallest outline read as a tick box, radio button or switch
CONTROL_MAX_RATIO = 2.6  # its widest width:height (a switch's track is ~1.8)
ON_SHARE = 0.2  # share of a control's inner pixels in an accent colour that reads as "on"
ACCENT_SAT, ACCENT_VAL = 0.35, 0.3  # HSV saturation and value above which a pixel is accent


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


def _touches_edge(x: int, y: int, w: int, h: int, size: int) -> bool:
    return x <= 1 or y <= 1 or x + w >= size - 1 or y + h >= size - 1


def _on_rounded_box(pts: np.ndarray, x: int, y: int, w: int, h: int) -> bool:
    """The contour ``pts`` goes round the fully rounded box in ``(x, y, w, h)`` (corner radius
    half its short side: a circle when square, a pill or a switch's track when long): it has at
    least 0.7 of that outline's length in points, and 90% of them lie within ``_EDGE`` px of it."""
    r = min(w, h) / 2
    if len(pts) < 0.7 * (2 * (w + h) - (8 - 2 * math.pi) * r):
        return False
    cx, cy = x + (w - 1) / 2, y + (h - 1) / 2
    qx = np.abs(pts[:, 0] - cx) - ((w - 1) / 2 - r)
    qy = np.abs(pts[:, 1] - cy) - ((h - 1) / 2 - r)
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    sdf = outside + np.minimum(np.maximum(qx, qy), 0) - r
    return bool((np.abs(sdf) <= _EDGE).mean() >= 0.9)


def _closed_boxes(
    grey: np.ndarray, low: int, high: int, max_w: float, *, rounded: bool = False
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Canny edges of a grey image and the bounding boxes of its closed, roughly rectangular
    outlines between ``MIN_SIDE`` and ``MAX_HEIGHT`` px high and at most ``max_w`` wide,
    largest first (not yet merged); with ``rounded``, fully rounded ones too (radio buttons,
    switches, pill buttons: ``_on_rounded_box``)."""
    import cv2

    edges = cv2.Canny(grey, low, high)
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    found: list[tuple[int, int, int, int]] = []
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        if w < MIN_SIDE or h < MIN_SIDE or h > MAX_HEIGHT or w > max_w:
            continue
        pts = c.reshape(-1, 2)
        on_border = (
            (np.abs(pts[:, 0] - x) <= _EDGE)
            | (np.abs(pts[:, 0] - (x + w - 1)) <= _EDGE)
            | (np.abs(pts[:, 1] - y) <= _EDGE)
            | (np.abs(pts[:, 1] - (y + h - 1)) <= _EDGE)
        )
        # the outline goes round the box: its points hug the border and cover most of it
        boxed = on_border.mean() >= 0.9 and len(pts) >= 1.5 * (w + h)
        if boxed or (rounded and _on_rounded_box(pts, x, y, w, h)):
            found.append((x, y, w, h))
    found.sort(key=lambda b: -b[2] * b[3])
    return edges, found


def _merge(
    boxes: list[tuple[int, int, int, int]], limit: int, iou: float = 0.7
) -> list[tuple[int, int, int, int]]:
    kept: list[tuple[int, int, int, int]] = []
    for b in boxes:
        if all(_iou(b, k) <= iou for k in kept):
            kept.append(b)
        if len(kept) == limit:
            break
    return kept


def control_shaped(w: float, h: float) -> bool:
    """An outline of ``w`` x ``h`` px the size and shape of a tick box, a radio button or a
    switch's track."""
    return MIN_SIDE <= h <= CONTROL_MAX_H and 0.6 * h <= w <= CONTROL_MAX_RATIO * h


def control_on(page: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """1.0 when the control outlined by ``box`` (x, y, w, h in px of ``page``, an (H, W, 3)
    uint8 RGB array) is drawn on: ``ON_SHARE`` of the pixels inside its 1 px border are an
    accent colour; else 0.0. Measured on 2,775 generated controls (checkboxes, radio buttons,
    switches; light and dark themes; docs/BUILTIN.md "Control state"): drawn on, 44-100% of
    their pixels are accent, off 0%."""
    x, y, w, h = box
    x0, y0 = max(0, round(x) + 1), max(0, round(y) + 1)
    x1, y1 = round(x + w) - 1, round(y + h) - 1
    inner = page[y0:y1, x0:x1].reshape(-1, 3).astype(np.float32) / 255
    if len(inner) == 0:
        return 0.0
    hi, lo = inner.max(1), inner.min(1)
    accent = ((hi - lo) > ACCENT_SAT * np.maximum(hi, 1e-6)) & (hi > ACCENT_VAL)
    return 1.0 if float(accent.mean()) >= ON_SHARE else 0.0


def box_proposals(
    canvas: Tensor, origin: tuple[float, float], *, drop_slivers: bool = False
) -> list[Word]:
    import cv2

    img = (canvas.permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    size = canvas.shape[-1]
    _, found = _closed_boxes(grey, 20, 60, 0.95 * size)
    if drop_slivers:
        found = [b for b in found if not (min(b[2], b[3]) < SLIVER and _touches_edge(*b, size))]
    ox, oy = origin
    return [
        Word("", x + ox, y + oy, float(w), float(h), 0.0) for x, y, w, h in _merge(found, MAX_BOXES)
    ]


def _underlines(
    edges: np.ndarray, boxes: list[tuple[int, int, int, int]], max_w: float
) -> list[tuple[int, int, int, int]]:
    """The empty fields drawn as a line under blank space (a "filled" or underlined text input):
    long horizontal edge runs that are not the top or bottom side of a closed box nor the top
    of a taller one (edges going down from both its ends: MiniWoB's 80 px "Click Me!" button)
    and have no edge in the ``UNDERLINE_H`` px above them, each as that band. (A line under
    words, such as a list's separator or a link's underline, is left out: proposed, they drew
    the pointer off the words of held-out "where is ..." questions, 89.2% -> 81.1% on f_data.)"""
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (UNDERLINE_MIN_W, 1))
    runs = cv2.morphologyEx(edges, cv2.MORPH_OPEN, kernel)
    n, _, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
    out: list[tuple[int, int, int, int]] = []
    for x, y, w, h, _area in stats[1:n].tolist():
        if h > 4 or w > max_w or y < MIN_SIDE:
            continue
        side = any(
            min(x + w, bx + bw) - max(x, bx) > w / 2 and min(abs(y - by), abs(y - by - bh + 1)) <= 3
            for bx, by, bw, bh in boxes
        )
        top = max(0, y - UNDERLINE_H)
        if side or edges[top : y - 2, x : x + w].any():  # a box's side; words above it
            continue
        below = edges[y + h + 2 : y + h + 12]  # a tall box's top edge: its sides go down
        if below[:, max(0, x - 6) : x + 6].any() and below[:, x + w - 6 : x + w + 6].any():
            continue
        out.append((x, top, w, min(UNDERLINE_H, y)))
    return _merge(out, MAX_PAGE_BOXES, iou=0.5)


def page_proposals(page: Image.Image, *, rounded: bool = False) -> list[Word]:
    """``ModelConfig.page_outlines``: the outlines of a whole page at CSS scale (an RGB image,
    1 px per CSS px), found once, in page CSS px: closed boxes first (largest first, at lower
    edge thresholds than ``box_proposals``: a light grey field border on white, a dark theme's
    field a shade off its card; with ``rounded`` (``ModelConfig.round_outlines``) fully rounded
    ones too), then ``_underlines``; at most ``MAX_PAGE_BOXES``. Each control-shaped closed
    outline carries its ``control_on`` state in ``Word.on``, and so does any outline whose
    centre lies inside one drawn on (``_part_of_on``: a switch's knob)."""
    import cv2

    rgb = np.asarray(page.convert("RGB"))
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    max_w = 0.95 * grey.shape[1]
    edges, found = _closed_boxes(grey, PAGE_LOW, PAGE_HIGH, max_w, rounded=rounded)
    boxes = _merge(found, MAX_PAGE_BOXES)
    out = [
        Word("", float(x), float(y), float(w), float(h), 0.0,
             control_on(rgb, (x, y, w, h)) if control_shaped(w, h) else 0.0)
        for x, y, w, h in boxes
    ]  # fmt: skip
    lit = [p for p in out if p.on]
    out = [_part_of_on(p, lit) for p in out]
    lines = _underlines(edges, boxes, max_w)[: MAX_PAGE_BOXES - len(boxes)]
    return out + [Word("", float(x), float(y), float(w), float(h), 0.0) for x, y, w, h in lines]


def _part_of_on(p: Word, lit: Sequence[Word]) -> Word:
    """``p`` as it is, or drawn on when its centre lies inside another outline drawn on (one
    of ``lit``; a switch's white knob is part of its switch; the inner edge of a ticked box is
    the box)."""
    if p.on or not any(o.contains(*p.center) for o in lit):  # p.on is 0: p is not in lit
        return p
    return Word(p.text, p.x, p.y, p.w, p.h, p.score, 1.0)


def tile_proposals(page: Sequence[Word], origin: tuple[float, float], size: int) -> list[Word]:
    """``page_proposals`` on one canvas at ``origin`` (page CSS px): each clipped to the canvas,
    kept when the clipped part is at least ``MIN_SIDE`` px a side, in the page's order, at most
    ``MAX_BOXES``. A field wider than the canvas becomes the part of it on the canvas, whose
    centre is inside the field."""
    ox, oy = origin
    out: list[Word] = []
    for p in page:
        x0, y0 = max(p.x, ox), max(p.y, oy)
        x1, y1 = min(p.x + p.w, ox + size), min(p.y + p.h, oy + size)
        if x1 - x0 >= MIN_SIDE and y1 - y0 >= MIN_SIDE:
            out.append(Word("", x0, y0, x1 - x0, y1 - y0, 0.0, p.on))
            if len(out) == MAX_BOXES:
                break
    return out
