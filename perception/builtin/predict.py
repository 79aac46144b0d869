"""Screenshot + prompt -> answer text, through canvas tiles and the model's own pointer confidence.

Contract:
- ``Predictor.predict(pages)`` takes ``Page``s (an image, its image px per CSS px, the prompt)
  and returns one ``Prediction`` per page, in order. Each page is scaled to CSS px and cut into
  canvas-sized tiles overlapping by a quarter canvas (one tile when it fits); every tile of
  every page runs in one batched greedy decode (a page's tiles always share a batch). With a
  verb head (``ModelConfig.verb_head``) and ``actions_only``, the head's mean over a page's
  tiles picks the action's name for all of them (``GazeVLM.generate``). The action comes from
  the tile whose text has the best mean log-probability; when it is one with a point, the tile
  (among those writing the same action) that ``by_next_word`` ranks first places it: a tile
  whose pointer chose the next word the goal names (with ``ModelConfig.reached_words``: no word
  an earlier click reached, none the goal names after a control's word no click reached,
  ``progress.mark_progress``; a tile cannot see the unticked box named before the Go button it
  shows), then one whose pointer chose a word (or an outline holding one) that the goal names,
  then the pointer's confidence in the tile, 1 - P("not here") (``by_goal_word``, the rule until
  2026-11-28). (The pointer's peak, P(the chosen spot), was the rule before 2026-11-27: on 672
  held-out clicks of two datasets and two models it chose right 77.4%, ``by_goal_word`` 81.0%,
  the best tile 88.7%; it picked empty outlines that a tile's edge had cut, docs/BUILTIN.md
  "Tile choice".) Points come back in the page's image px, written into the text as ``X, Y``
  integers (gaze dialect). With ``config.answer_pointer`` an answer ``done(<point>)`` is
  written as the text of the page word at its point (``perception.builtin.answers``), and its
  tile is the one most sure the point is on it (``by_confidence``). With
  ``config.avoid_typed_field``, every tile's clicks keep out of the fields the history typed
  into (``typed_fields``; ``GazeVLM.generate``'s ``avoid``). With ``config.submit_typing``, a
  page whose newest step typed without Enter gets no done() (``policy.typed_without_enter``;
  ``GazeVLM.generate``'s ``no_done``). With ``config.type_ahead``, at a goal's first step (no
  history) every tile's click may keep off the words the goal names after the value it types
  and go into a text field (``perception.builtin.type_ahead.first_click``;
  ``GazeVLM.generate``'s ``hold``); with ``config.type_plan`` at every step, with the values the
  history typed (``policy.typed_values``; ``GazeVLM.generate``'s ``typed``), the goal's plan
  deciding while there is typing left.
- Words: each page is read once by the OCR (``perception.builtin.reader``) at CSS scale, unless
  the ``Page`` brings its words already (training's evaluation uses the cached reads), and its
  words are scored against the goal once; each tile gets the word slots of its area
  (``perception.builtin.words``), and with ``config.proposals`` the control outlines found on
  its canvas (``perception.builtin.proposals``; with ``page_outlines``, found once on the whole
  page and clipped to each tile), as in training.
- ``actions_only=True`` (the agent's backend) decodes under ``grammar.ActionGrammar``: every
  answer is one call of a gaze-dialect action. Alignment questions are decoded freely.
- Timings: ``preprocess_s`` (scaling, cutting, tensors), ``ocr_s`` (reading, cache hits are ~0)
  and ``model_s`` (vision + decoding).
- ``last_tiles``: every tile of the last call as ``TileAnswer`` (its page, its crop, its decode),
  for diagnostics such as ``bench/tile_choice.py``.

It knows nothing about Frames, requests or the agent: ``perception.builtin.backend`` adapts it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from PIL import Image
from torch import Tensor

from perception.builtin.answers import answer_text, is_answer_point
from perception.builtin.config import ModelConfig
from perception.builtin.data import (
    FULL_PROMPT,
    Crop,
    compact_prompt,
    left_pad,
    pad_prompts,
    prompt_ids,
    prompt_page_flags,
    tile_slots,
    to_canvas,
)
from perception.builtin.find import find_facts
from perception.builtin.grammar import ActionGrammar
from perception.builtin.marks import history_clicks, history_steps, patch_marks
from perception.builtin.model import Box, Decoded, Find, GazeVLM, Hold, Keep
from perception.builtin.outline_text import with_outline_words
from perception.builtin.policy import typed_clicks, typed_values, typed_without_enter
from perception.builtin.progress import page_inputs, progress_tokens
from perception.builtin.proposals import page_proposals
from perception.builtin.reader import Word, read_words, to_css
from perception.builtin.spans import goal_end
from perception.builtin.tokenizer import N_BYTES, decode_target
from perception.builtin.type_ahead import FIELD_MAX_H, first_click
from perception.builtin.words import (
    PENDING,
    REACHED,
    Scored,
    WordSlots,
    holds_goal_token,
    score_words,
    slots_to,
    stack_slots,
)
from perception.parsers import dialect_actions


@dataclass(frozen=True)
class Page:
    image: Image.Image
    scale: float  # image px per CSS px (the device pixel ratio for a full screenshot)
    prompt: str
    words: Sequence[Word] | None = None  # CSS px; None: read them from the image


@dataclass(frozen=True)
class TileAnswer:
    page: int  # index into the pages of the call
    crop: Crop  # where the tile lies on its page (CSS px) and the page's scale
    decoded: Decoded  # the tile's answer, points in canvas px


@dataclass(frozen=True)
class Prediction:
    text: str
    points: tuple[tuple[float, float], ...]  # page image px
    confidence: float  # of the first point; 0 when the answer has none
    tiles: int
    prompt_tokens: int
    completion_tokens: int


def typed_fields(
    typed: Sequence[tuple[float, float, str]], outlines: Sequence[Word], words: Sequence[Word]
) -> list[Box]:
    """``ModelConfig.avoid_typed_field``: the fields the history typed into (``policy.
    typed_clicks``: where it clicked, what it typed), each the smallest of the page's outlines
    (CSS px) at most ``FIELD_MAX_H`` tall that holds the click and shows what was typed
    (``_shows_typing``); a click on a button or a list item the model typed after shows its
    own words instead. In a demonstration a field once typed into is never clicked again (the
    next field, the button or done() comes next), and the model clicking one again instead of
    the form's button ended held-out form and login goals and MiniWoB++'s login-user."""
    out: list[Box] = []
    for x, y, text in typed:
        said = {_bare(t) for t in text.split()} - {""}
        holding = [
            o
            for o in outlines
            if o.h <= FIELD_MAX_H
            and o.contains(x, y)
            and _shows_typing(o, [w for w in words if o.contains(*w.center)], said)
        ]
        if holding:
            o = min(holding, key=lambda o: o.w * o.h)
            out.append((o.x, o.y, o.w, o.h))
    return out


def _shows_typing(o: Word, inside: Sequence[Word], said: set[str]) -> bool:
    """Whether an outline looks like the field a text was typed into: a word inside it is one
    of the text's words or a password's dots; or it is field-shaped (three times as wide as
    tall) and shows no word at all (the OCR reads no dots in a short password)."""
    if not inside:
        return o.w >= 3 * o.h
    return any(_bare(w.text) in said or _masked(w.text) for w in inside)


def _bare(token: str) -> str:
    return token.strip(".,;:!?\"'()[]").casefold()


def _masked(text: str) -> bool:
    """A password field's dots as the OCR reads them."""
    return len(text) >= 2 and all(ch in "•·∙●*." for ch in text)


def _first_click_on(
    said: str, words: Sequence[Word], named: frozenset[str], outlines: Sequence[Word] | None
) -> Hold:
    """``ModelConfig.type_ahead``: a value -> ``type_ahead.first_click`` on the page (CSS px),
    found once per value for all the page's tiles."""
    text = said.encode()
    goal = text[: goal_end(text)].decode("utf-8", errors="ignore")
    found: dict[str, Keep] = {}

    def keep(value: str) -> Keep:
        if value not in found:
            found[value] = first_click(goal, value, words, named, outlines)
        return found[value]

    return keep


def _shifted(keep: Hold, ox: float, oy: float) -> Hold:
    """``keep`` in the canvas px of the tile at (``ox``, ``oy``)."""

    def shift(boxes: Sequence[Box]) -> tuple[Box, ...]:
        return tuple((x - ox, y - oy, w, h) for x, y, w, h in boxes)

    return lambda value: Keep(*(shift(b) for b in keep(value)))


def tile_origins(extent: float, canvas: int, overlap: int) -> list[float]:
    """Evenly spread tile starts covering [0, extent) with at least ``overlap`` px shared."""
    if extent <= canvas:
        return [0.0]
    n = math.ceil((extent - overlap) / (canvas - overlap))
    step = (extent - canvas) / (n - 1)
    return [round(i * step) for i in range(n)]


def _verb(ids: Sequence[int]) -> bytes:
    """The action name an answer starts with (the bytes before its first parenthesis)."""
    head = bytes(i for i in ids if i < N_BYTES)
    return head.split(b"(", 1)[0]


def by_peak(d: Decoded) -> float:
    """P(the chosen patch or word): the rule before ``by_goal_word``."""
    return d.points[0].peak


def names_goal(d: Decoded) -> bool:
    """The answer's point is on a word (or an outline holding one) with a goal token in it
    (``words.holds_goal_token`` of its match features; a patch has none)."""
    f = d.points[0].feats
    return bool(f) and holds_goal_token(f)


def by_goal_word(d: Decoded) -> float:
    """A point on a word the goal names first, then 1 - P("not here") (both in [0, 1])."""
    return float(names_goal(d)) + d.points[0].confidence


def is_next(d: Decoded) -> bool:
    """The answer's point names the goal (``names_goal``) and, with ``reached_words``, is no
    word an earlier click reached nor one the goal names after a page word no click reached
    (``progress.mark_progress``): the next thing the goal asks for."""
    f = d.points[0].feats
    return names_goal(d) and (len(f) <= PENDING or f[REACHED] == f[PENDING] == 0)


def by_next_word(d: Decoded) -> float:
    """``by_goal_word``, a point on the next word the goal names (``is_next``) first of all."""
    return float(is_next(d)) + by_goal_word(d)


def by_confidence(d: Decoded) -> float:
    """1 - P("not here"): how sure the tile is that the point is on it."""
    return d.points[0].confidence


def choose_tile(tiles: Sequence[Decoded], placer: Callable[[Decoded], float] = by_next_word) -> int:
    """Which of one page's tile answers is the page's: the action from the tile whose text is
    most likely; when it has a point, the tile (among those writing the same action with a
    point; of those, the ones whose point went into a box decoding was asked to click into, if
    any did: ``PointGuess.into``, ``ModelConfig.type_ahead``'s text fields) that ``placer``
    scores highest places it (default ``by_next_word``). An answer's point (``done(<point>)``:
    the word saying it is no goal word) goes by ``by_confidence``."""
    best = max(range(len(tiles)), key=lambda k: tiles[k].mean_logprob)
    if tiles[best].points:
        verb = _verb(tiles[best].ids)
        same = [k for k in range(len(tiles)) if tiles[k].points and _verb(tiles[k].ids) == verb]
        same = [k for k in same if tiles[k].points[0].into] or same  # into a field (type_ahead)
        place = by_confidence if verb == b"done" else placer
        best = max(same, key=lambda k: place(tiles[k]))
    return best


def _chunks(owners: Sequence[int], max_batch: int) -> list[tuple[int, int]]:
    """Batches [start, end) of at most ``max_batch`` rows that keep each page's tiles together
    (a page with more tiles is one batch alone): they must agree on the action."""
    spans: list[tuple[int, int]] = []
    for i, o in enumerate(owners):
        if spans and owners[spans[-1][0]] == o:
            spans[-1] = (spans[-1][0], i + 1)
        else:
            spans.append((i, i + 1))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and e - out[-1][0] <= max_batch:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _find_on(
    said: str, words: Sequence[Word], scored: Sequence[Scored], config: ModelConfig
) -> Find:
    """``ModelConfig.scroll_find``: the page's ``find.find_facts`` as a function of the value
    the goal types next, its progress read once with no outlines (as ``find.fit`` reads it)."""
    on_page, reached, _ = progress_tokens(said, scored, None, config)
    return lambda values: find_facts(said, words, on_page, reached, values)


class Predictor:
    def __init__(
        self,
        model: GazeVLM,
        *,
        max_batch: int = 32,
        bf16: bool = True,
        actions_only: bool = False,
    ) -> None:
        self.model = model.eval()
        self.config: ModelConfig = model.config
        self.overlap = model.config.canvas // 4
        self.max_batch = max_batch
        self.bf16 = bf16
        self.timings: dict[str, float] = {}
        self.last_tiles: list[TileAnswer] = []
        self.grammar = (
            ActionGrammar(
                dialect_actions("gaze"),
                answer_points=self.config.answer_pointer,
                scroll_amounts=self.config.scroll_amount,
            )
            if actions_only
            else None
        )

    def predict(self, pages: Sequence[Page], max_new: int = 48) -> list[Prediction]:
        t0 = time.perf_counter()
        c = self.config
        owners: list[int] = []
        crops: list[Crop] = []
        images, prompts = [], []
        slots: list[WordSlots] = []
        marks: list[Tensor] = []
        states: list[Tensor] = []
        flags: list[Tensor] = []  # spans.page_flags of each tile's prompt (span_page)
        avoid: list[list[Box]] = []  # the fields typed into, canvas px
        no_done: list[bool] = []  # submit_typing: the newest step typed without Enter
        hold: list[Hold | None] = []  # type_ahead: a value -> where the first click goes
        values_typed: list[list[str]] = []  # the values the history typed (type_plan)
        finds: list[Find | None] = []  # scroll_find: the value typed next -> the find facts
        page_words: list[Sequence[Word]] = []  # each page's, CSS px (answers are read from them)
        ocr_s = 0.0
        for i, p in enumerate(pages):
            w_css, h_css = p.image.width / p.scale, p.image.height / p.scale
            ids = prompt_ids(p.prompt, c)
            rgb = p.image.convert("RGB")
            words = p.words
            css = to_css(rgb, p.scale) if words is None or c.page_outlines else None
            if words is None:
                assert css is not None
                t_ocr = time.perf_counter()
                words = read_words(css)
                ocr_s += time.perf_counter() - t_ocr
            outlines = (
                page_proposals(css, rounded=c.round_outlines)
                if c.proposals and c.page_outlines and css is not None
                else None
            )
            if c.outline_text and outlines is not None:
                assert css is not None
                t_ocr = time.perf_counter()
                words = with_outline_words(css, words, outlines)
                ocr_s += time.perf_counter() - t_ocr
            page_words.append(words)
            said = compact_prompt(p.prompt, FULL_PROMPT)
            scored = score_words(words, said, split_glyphs=c.round_outlines)
            read = page_inputs(said, scored, outlines, c)  # as trained: no URL, title
            find = _find_on(said, words, scored, c) if c.scroll_find else None
            scored, state = read.words, read.state
            page_flags = prompt_page_flags(ids, read.named, read.focus) if c.span_page else None
            clicks = history_clicks(p.prompt)
            typed = (
                typed_fields(typed_clicks(p.prompt), outlines, words)
                if c.avoid_typed_field and outlines is not None
                else []
            )
            values = typed_values(p.prompt) if c.type_plan else []
            first = (
                _first_click_on(said, words, read.named, outlines)
                if c.type_ahead and (c.type_plan or not history_steps(said))
                else None
            )
            for oy in tile_origins(h_css, c.canvas, self.overlap):
                for ox in tile_origins(w_css, c.canvas, self.overlap):
                    crop = Crop(ox, oy, p.scale)
                    canvas = to_canvas(rgb, crop, c.canvas)
                    owners.append(i)
                    crops.append(crop)
                    images.append(canvas)
                    prompts.append(ids)
                    slots.append(tile_slots(scored, outlines, canvas, (ox, oy), c))
                    marks.append(patch_marks(clicks, (ox, oy), c))
                    states.append(state)
                    avoid.append([(x - ox, y - oy, w, h) for x, y, w, h in typed])
                    no_done.append(c.submit_typing and typed_without_enter(p.prompt))
                    hold.append(None if first is None else _shifted(first, ox, oy))
                    values_typed.append(values)
                    finds.append(find)
                    if page_flags is not None:
                        flags.append(page_flags)
        t1 = time.perf_counter()
        decoded = []
        dev = next(self.model.parameters()).device
        for s, e in _chunks(owners, self.max_batch):
            pt = pad_prompts(prompts[s:e])
            width = pt.shape[1]
            imgs = torch.stack(images[s:e])
            ws = slots_to(stack_slots(slots[s:e]), dev)
            mk = torch.stack(marks[s:e]).to(dev)
            st = torch.stack(states[s:e]).to(dev)
            sp = left_pad(flags[s:e], width).to(dev) if flags else None
            args = (imgs.to(dev), pt.to(dev), ws, max_new, self.grammar)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=self.bf16):
                decoded.extend(
                    self.model.generate(
                        *args,
                        marks=mk,
                        state=st,
                        groups=owners[s:e],
                        span_page=sp,
                        avoid=avoid[s:e],
                        no_done=no_done[s:e],
                        hold=hold[s:e],
                        typed=values_typed[s:e] if c.type_plan else None,
                        find=finds[s:e] if c.scroll_find else None,
                    )
                )
        t2 = time.perf_counter()
        self.timings = {"preprocess_s": t1 - t0 - ocr_s, "ocr_s": ocr_s, "model_s": t2 - t1}
        self.last_tiles = [
            TileAnswer(o, c, d) for o, c, d in zip(owners, crops, decoded, strict=True)
        ]
        out = []
        for i, p in enumerate(pages):
            mine = [k for k, o in enumerate(owners) if o == i]
            best = mine[choose_tile([decoded[k] for k in mine])]
            d, crop = decoded[best], crops[best]
            pts = tuple(((g.x + crop.x) * p.scale, (g.y + crop.y) * p.scale) for g in d.points)
            text = decode_target(d.ids, pts)
            if c.answer_pointer and d.points and is_answer_point(d.ids):
                g = d.points[0]  # the word it chose says the answer
                text, pts = answer_text((g.x + crop.x, g.y + crop.y), page_words[i]), ()
            out.append(
                Prediction(
                    text=text,
                    points=pts,
                    confidence=d.points[0].confidence if d.points else 0.0,
                    tiles=len(mine),
                    prompt_tokens=len(prompts[best]) + c.keys,
                    completion_tokens=len(d.ids),
                )
            )
        return out
