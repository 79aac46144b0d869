"""Words the OCR's text detector misses: the one- or two-character captions of small buttons.

Contract:
- ``outline_words(page, words, outlines)`` returns extra ``Word``s (CSS px, like ``words``) for
  ``page`` (an RGB image at 1 px per CSS px): the text inside each button-sized outline
  (``proposals.page_proposals``) that holds no word's centre, read by the OCR's recogniser alone
  (``reader.recognise``), each kept when it scores at least ``MIN_SCORE`` and says a letter or
  a digit. The word's box is its ink's, padded by ``PAD`` px and kept inside the outline.
- Outlines passed over: under ``MIN_H`` or over ``MAX_H`` px tall, wider than ``MAX_RATIO``
  times their height (a text field: its placeholder the detector reads), a tick box, radio
  button or switch drawn on (``proposals.control_shaped`` with ``Word.on``: its tick is no
  caption), and any whose inside is blank (under ``MIN_INK`` of its pixels differ from its
  border's colour: an empty checkbox or field).
- Reads are cached with the recogniser's text lines (``reader``): a step whose screen kept the
  button reads it from the cache.

Why: PP-OCR's detector drops isolated single characters at CSS scale. On a held-out page with
pagination links "1" .. "6" it found none of them (at twice the scale it finds all six, at 2.6x
the detection time), so "Click the link 5" had no word to point at: 3 of the 14 misses of the
shipped model's held-out clicks (docs/BUILTIN.md "Button captions"). Reading inside the outlines
the page already finds costs one recogniser call per blank-looking button (1-30 ms a page).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from perception.builtin.proposals import control_shaped
from perception.builtin.reader import Word, ink_mask, reading_order, recognise
from perception.builtin.words import TICK_GLYPHS

MIN_H, MAX_H = 14, 44  # CSS px: an outline's height to be read (proposals.MAX_HEIGHT is 44)
MAX_RATIO = 4.0  # its widest width:height
INSET = 2  # px of the outline's border left out of the crop
MIN_INK = 0.02  # share of the crop's pixels that must differ from its border's colour
MIN_SCORE = 0.9  # the recogniser's score to keep a reading (a search icon reads "Q" at 0.6-0.8)
PAD = 3  # px around the ink, as the detector's boxes leave around a line's glyphs


def outline_words(page: Image.Image, words: Sequence[Word], outlines: Sequence[Word]) -> list[Word]:
    """The captions of ``outlines`` that hold no word of ``words`` (see the module's contract)."""
    rgb = np.asarray(page.convert("RGB"))
    todo: list[tuple[tuple[int, int, int, int], np.ndarray]] = []
    for p in outlines:
        if not (MIN_H <= p.h <= MAX_H) or p.w > MAX_RATIO * p.h or p.w < MIN_H:
            continue
        if p.on and control_shaped(p.w, p.h):
            continue
        if any(p.contains(*w.center) for w in words):
            continue
        x0, y0 = max(0, round(p.x) + INSET), max(0, round(p.y) + INSET)
        x1, y1 = round(p.x + p.w) - INSET, round(p.y + p.h) - INSET
        crop = rgb[y0:y1, x0:x1]
        if crop.shape[0] < 4 or crop.shape[1] < 4:
            continue
        ink = ink_mask(crop)
        if ink.mean() < MIN_INK:
            continue
        ys, xs = np.nonzero(ink)
        box = (
            max(x0, x0 + int(xs.min()) - PAD),
            max(y0, y0 + int(ys.min()) - PAD),
            min(x1, x0 + int(xs.max()) + 1 + PAD),
            min(y1, y0 + int(ys.max()) + 1 + PAD),
        )
        todo.append((box, crop))
    if not todo:
        return []
    out: list[Word] = []
    for ((bx0, by0, bx1, by1), _), (text, score) in zip(
        todo, recognise([c for _, c in todo]), strict=True
    ):
        text = text.strip()
        if score < MIN_SCORE or not any(ch.isalnum() for ch in text):
            continue
        if any(ch in TICK_GLYPHS for ch in text) or " " in text:
            continue
        out.append(Word(text, float(bx0), float(by0), float(bx1 - bx0), float(by1 - by0), score))
    return out


def with_outline_words(
    page: Image.Image, words: Sequence[Word], outlines: Sequence[Word]
) -> list[Word]:
    """``words`` and the captions read inside ``outlines``, in the reader's order
    (``reader.reading_order``)."""
    extra = outline_words(page, words, outlines)
    if not extra:
        return list(words)
    return sorted([*words, *extra], key=reading_order)
