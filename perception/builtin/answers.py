"""Answers read off the page: ``done("$129.99")`` is a point at the word that says it.

Contract (``ModelConfig.answer_pointer``):
- ``point_answer(target, words, scale)``: in training, a target ``done("V")`` whose value V is
  one word the OCR read on the page (``saying``: its text, less surrounding punctuation, is V)
  becomes ``done(X, Y)``: the word's centre in image px (``scale`` image px per CSS px), which
  the tokenizer turns into ``done(<point>)``; the word's box (CSS px) comes back with it as the
  pointer's target. Any other target, or a V no single word says (none, or more than one word,
  or an OCR misreading), comes back unchanged with no box: the model learns those bytes as before.
- ``read_answer(point, words)``: at run time, the word the pointer chose (CSS px): the word
  whose box holds the point, else the word whose centre is nearest to it; None on a page with
  no words. ``answer_text`` writes it as the answer: ``done("<its text>")``.
- ``answer_label(ids)``: 1 for answer ids ``done(<point>)...``, 0 for any other ``done(``
  answer, -1 for every other answer (the answer head's label); ``is_answer_point(ids)``: it is 1.
  ``DONE`` is the call's opening, which the model's answer head reads the state after.

Why: the byte decoder cannot copy a price it reads on the screen (run 65 answered
``done("$9.sclick(")`` and ``done("$")`` to "What is the price of ...?": 0 of 9 held-out answer
goals); the pointer chooses among the words it is shown, which it does well for clicks. An
answer is then a choice of word, and its bytes are the OCR's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from perception.builtin.reader import Word
from perception.builtin.tokenizer import POINT

DONE = b"done("
_DONE_CALL = re.compile(r'done\(\s*("(?:[^"\\]|\\.)*")\s*\)\s*')
_EDGE_PUNCT = " \t.,:;!?\"'()“”"


def answer_of(target: str) -> str | None:
    """The value of a ``done("V")`` target, None for any other answer."""
    m = _DONE_CALL.fullmatch(target)
    if m is None:
        return None
    try:
        value = json.loads(m.group(1))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, str) else None


def saying(value: str, words: Sequence[Word]) -> Word | None:
    """The one word whose text, less surrounding punctuation, is ``value``; None when no word or
    several words say it, or ``value`` is not one word."""
    v = value.strip()
    if not v or any(ch.isspace() for ch in v):
        return None
    hits = [w for w in words if w.text.strip(_EDGE_PUNCT) == v.strip(_EDGE_PUNCT)]
    return hits[0] if len(hits) == 1 else None


def point_answer(
    target: str, words: Sequence[Word], scale: float
) -> tuple[str, tuple[float, float, float, float] | None]:
    """``(target, None)`` unchanged, or ``('done(X, Y)', word box in CSS px)`` (see contract)."""
    value = answer_of(target)
    if value is None:
        return target, None
    w = saying(value, words)
    if w is None:
        return target, None
    cx, cy = w.center
    return f"done({round(cx * scale)}, {round(cy * scale)})", (w.x, w.y, w.w, w.h)


def read_answer(point: tuple[float, float], words: Sequence[Word]) -> Word | None:
    """The word the pointer chose at ``point`` (CSS px); see the contract."""
    if not words:
        return None
    px, py = point
    inside = [w for w in words if w.x <= px <= w.x + w.w and w.y <= py <= w.y + w.h]
    pool = inside or list(words)
    return min(pool, key=lambda w: (w.center[0] - px) ** 2 + (w.center[1] - py) ** 2)


def answer_text(point: tuple[float, float], words: Sequence[Word]) -> str:
    """``done("<the text of the word at point>")`` (gaze dialect), ``done()`` with no words."""
    w = read_answer(point, words)
    return "done()" if w is None else f"done({json.dumps(w.text, ensure_ascii=False)})"


def answer_label(ids: Sequence[int]) -> int:
    """1 for ``done(<point>)``, 0 for any other ``done(`` answer, -1 otherwise (contract)."""
    n = len(DONE)
    if list(ids[:n]) != list(DONE):
        return -1
    return int(len(ids) > n and ids[n] == POINT)


def is_answer_point(ids: Sequence[int]) -> bool:
    return answer_label(ids) == 1
