"""Samples and screenshots -> what the model reads: a canvas, prompt ids, answer ids, pointer labels.

Contract:
- The model always sees a ``canvas`` x ``canvas`` image at CSS scale (1 image px = 1 CSS px;
  device-pixel screenshots are scaled down), the page's top-left at the canvas origin and black
  padding right and below. Larger pages are cut into canvas-sized crops (``Crop``); training picks
  crops around the target, inference tiles the screen (``perception.builtin.backend``).
- ``compact_prompt`` keeps what a small model can use of a Gaze prompt: the goal line(s) and the
  history lines that fit in ``max_prompt_bytes`` bytes (those that typed first, then the
  newest). The same function reads training prompts and the agent's requests, so both look
  alike.
- ``make_example`` turns one ``tasks.synth`` Sample into an ``Example``: answer coordinates (image px
  of the stored screenshot) become canvas px; each ``<point>`` gets a soft target over the patches
  whose centres lie in the target box (any of them is a hit), or the "not here" slot when the
  point lies outside the crop. Coordinates in the prompt are rewritten into canvas px too.
- Words: ``make_example`` takes the words the OCR read on the whole page (CSS px, from
  ``perception.builtin.ocr_cache``) and gives the model the crop's word slots
  (``perception.builtin.words``); the pointer's soft target also covers every word slot whose
  centre lies in the target box. With ``config.proposals``, control outlines found on the canvas
  (``perception.builtin.proposals``) join the words as slots with no text. With probability
  ``echo_rate`` the goal's first line is added as
  OCR words somewhere on the crop (pages that repeat their instruction), never as a target.
  With probability ``rephrase_rate`` the goal is said in other words first
  (``perception.builtin.rephrase``).
- ``collate`` pads a list of Examples into the tensors ``GazeVLM.loss`` takes, with each answer's
  verb (``perception.builtin.policy``: -1 when it is not an action) and its prompt's history facts
  (zeros for an Example built without them), the span head's labels (``span_labels``) and the
  answer head's (``answers.answer_label``). With ``config.answer_pointer`` a ``done("V")`` target whose
  V one page word says becomes ``done(<point>)`` at that word (``perception.builtin.answers``);
  with ``config.scroll_amount`` off a scroll target loses its amount (``grammar.without_scroll_amount``).

It does no file I/O besides opening the image it is handed a path to.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from perception.builtin.answers import answer_label, point_answer
from perception.builtin.config import ModelConfig
from perception.builtin.grammar import without_scroll_amount
from perception.builtin.marks import history_clicks, patch_marks
from perception.builtin.outline_text import with_outline_words
from perception.builtin.policy import typed_in, verb_index
from perception.builtin.progress import page_inputs
from perception.builtin.proposals import box_proposals, page_proposals, tile_proposals
from perception.builtin.reader import Word, to_css
from perception.builtin.rephrase import recase, rephrase
from perception.builtin.spans import (
    CASES,
    N_PAGE_FLAGS,
    case_spans,
    page_flags,
    typed_value,
    value_spans,
)
from perception.builtin.tokenizer import (
    BOS,
    EOS,
    PAD,
    PAIR,
    POINT,
    SEP,
    decode_bytes,
    encode_target,
    encode_text,
)
from perception.builtin.words import (
    Scored,
    WordSlots,
    canvas_slots,
    echo_goal,
    goal_tokens,
    join_proposals,
    score_words,
    stack_slots,
    tokens,
)

if TYPE_CHECKING:
    from tasks.synth.samples import Sample

_HISTORY = re.compile(r"^\d+\.\s")
_QUOTE = ord('"')
FULL_PROMPT = 4096  # bytes of goal and history the word features look at


@dataclass(frozen=True)
class Crop:
    """A canvas cut from a page: its origin in CSS px and the page's image px per CSS px."""

    x: float
    y: float
    scale: float


@dataclass(frozen=True)
class Example:
    image: Tensor  # (3, S, S) float in [0, 1]
    prompt: list[int]  # <bos> ... <sep>
    words: WordSlots
    target: list[int]  # answer ids, <eos> last
    ptr_dist: list[Tensor]  # per <point>: (G+K+1,) soft target
    ptr_cell: list[int]
    ptr_off: list[tuple[float, float]]
    marks: Tensor | None = None  # (G, history_marks): earlier clicks (perception.builtin.marks)
    state: Tensor | None = None  # (config.state_size,): the step's facts (progress.page_inputs)
    span_page: Tensor | None = None  # (len(prompt), N_PAGE_FLAGS): spans.page_flags (span_page)


def compact_prompt(text: str, max_bytes: int) -> str:
    """Goal lines first, then the history lines that fit in ``max_bytes``, in their order: the
    lines that typed first (newest first: what was typed is told only here, while clicks are
    also drawn on the image as marks), then the others, newest first."""
    goal: list[str] = []
    history: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if _HISTORY.match(line):
            history.append(line)
        elif line.startswith(("Goal:", "Already done:")) or (line and not goal and not history):
            goal.append(line)
    head = "\n".join(goal)[:max_bytes]
    size = len(head.encode())
    newest = list(reversed(range(len(history))))
    kept: set[int] = set()
    for i in [i for i in newest if typed_in(history[i]) is not None] + newest:
        need = len(history[i].encode()) + 1
        if i not in kept and size + need <= max_bytes:
            kept.add(i)
            size += need
    out = "\n".join([head, *(history[i] for i in sorted(kept))]).encode()[:max_bytes]
    return out.decode("utf-8", errors="ignore")


def prompt_ids(text: str, config: ModelConfig) -> list[int]:
    return [BOS, *encode_text(compact_prompt(text, config.max_prompt_bytes)), SEP]


def to_canvas(page: Image.Image, crop: Crop, canvas: int) -> Tensor:
    """Cut ``canvas`` CSS px from ``crop``'s origin out of ``page`` (image px), pad, -> (3, S, S)."""
    s = crop.scale
    w_css = min(canvas, page.width / s - crop.x)
    h_css = min(canvas, page.height / s - crop.y)
    tw, th = max(1, round(w_css)), max(1, round(h_css))
    box = (crop.x * s, crop.y * s, (crop.x + tw) * s, (crop.y + th) * s)
    piece = page.convert("RGB").resize((tw, th), Image.Resampling.BILINEAR, box=box)
    out = torch.zeros(3, canvas, canvas)
    arr = torch.from_numpy(np.asarray(piece, dtype=np.float32) / 255.0).permute(2, 0, 1)
    out[:, :th, :tw] = arr
    return out


def _cells_in_box(box: tuple[float, float, float, float], config: ModelConfig) -> list[int]:
    """Patches whose centres lie inside ``box`` (x, y, w, h in canvas px)."""
    g, st = config.grid, config.stride
    x, y, w, h = box
    cells = []
    for r in range(g):
        for c in range(g):
            cx, cy = (c + 0.5) * st, (r + 0.5) * st
            if x <= cx <= x + w and y <= cy <= y + h:
                cells.append(r * g + c)
    return cells


def _words_in_box(box: tuple[float, float, float, float], words: WordSlots) -> list[int]:
    """Word slots whose centres lie inside ``box`` (canvas px)."""
    x, y, w, h = box
    out = []
    for i in words.valid.nonzero().flatten().tolist():
        bx, by, bw, bh = words.boxes[i].tolist()
        if x <= bx + bw / 2 <= x + w and y <= by + bh / 2 <= y + h:
            out.append(i)
    return out


def pointer_label(
    point: tuple[float, float],
    box: tuple[float, float, float, float] | None,
    config: ModelConfig,
    words: WordSlots | None = None,
) -> tuple[Tensor, int, tuple[float, float]]:
    """Canvas-px point (and target box) -> (soft target over G+K+1 slots, exact cell, offset)."""
    g, st, size = config.grid, config.stride, config.canvas
    dist = torch.zeros(config.keys + 1)
    px, py = point
    if not (0 <= px < size and 0 <= py < size):
        dist[-1] = 1.0
        return dist, -1, (0.5, 0.5)
    cx, cy = int(px // st), int(py // st)
    cell = cy * g + cx
    cells = _cells_in_box(box, config) if box is not None else []
    if cell not in cells:
        cells.append(cell)
    if box is not None and words is not None:
        cells += [g * g + i for i in _words_in_box(box, words)]
    dist[cells] = 1.0 / len(cells)
    return dist, cell, (px / st - cx, py / st - cy)


def choose_crop(
    page_css: tuple[float, float],
    point: tuple[float, float] | None,
    canvas: int,
    rng: random.Random,
) -> tuple[float, float]:
    """A crop origin (CSS px): around ``point`` (anywhere in the crop) or at random."""
    w, h = page_css
    origin = []
    for extent, p in ((w, point[0] if point else None), (h, point[1] if point else None)):
        top = max(0.0, extent - canvas)
        if p is None:
            origin.append(float(rng.randint(0, int(top))))
        else:
            lo, hi = max(0.0, p - canvas + 8), min(top, max(0.0, p - 8))
            origin.append(float(rng.uniform(lo, hi)) if hi > lo else min(lo, top))
    return round(origin[0]), round(origin[1])


def decoy_origin(
    sample: Sample,
    words: Sequence[Word],
    page_css: tuple[float, float],
    points: Sequence[tuple[float, float]],
    canvas: int,
    rng: random.Random,
) -> tuple[float, float] | None:
    """A crop (CSS px origin) around a word of the goal that is not the target, with none of the
    target ``points`` on it: the "not here" case a tiled page asks of every tile but one (on a
    large page the tile holding a card that says "the" must not outbid the tile holding the
    named link). Words that share a token with the target's own words are never decoys (a
    second "Submit" is as right as the first). None when the page has no decoy."""
    goal = goal_tokens(sample.prompt).goal
    b = sample.target_box
    own: set[str] = set()
    if b is not None:
        for w in words:
            if b.contains(*w.center):
                own.update(tokens(w.text))
    decoys = [w for w in words if (t := set(tokens(w.text))) & goal and not t & own]
    rng.shuffle(decoys)
    for w in decoys[:4]:
        ox, oy = choose_crop(page_css, w.center, canvas, rng)
        if not any(ox <= x < ox + canvas and oy <= y < oy + canvas for x, y in points):
            return ox, oy
    return None


@functools.lru_cache(maxsize=16384)
def page_outlines(image_path: Path, scale: float, rounded: bool = False) -> tuple[Word, ...]:
    """``proposals.page_proposals`` of a sample's page (image px / ``scale`` = CSS px), found
    once per image and kept: a pool of 20k screens keeps ~2 MB of boxes."""
    with Image.open(image_path) as page:
        return tuple(page_proposals(to_css(page, scale), rounded=rounded))


@functools.lru_cache(maxsize=16384)
def page_captions(
    image_path: Path, scale: float, rounded: bool, words: tuple[Word, ...]
) -> tuple[Word, ...]:
    """A sample's OCR ``words`` with the captions read inside its ``page_outlines`` that hold
    none of them (``outline_text.with_outline_words``, ``ModelConfig.outline_text``), read once
    per image and kept, as its outlines are."""
    found = page_outlines(image_path, scale, rounded)
    with Image.open(image_path) as page:
        return tuple(with_outline_words(to_css(page, scale), words, found))


def tile_slots(
    scored: Sequence[Scored],
    outlines: Sequence[Word] | None,
    canvas: Tensor,
    origin: tuple[float, float],
    config: ModelConfig,
) -> WordSlots:
    """The word slots of the canvas at ``origin`` (page CSS px), in training and at run time
    alike: with ``config.proposals`` the control outlines join the page's scored words first
    (on a crowded canvas they outrank non-goal words): the page's ``outlines`` clipped to the
    canvas (``page_outlines``), or when there are none those found on the canvas itself."""
    if config.proposals:
        if outlines is not None:
            props = tile_proposals(outlines, origin, config.canvas)
        else:
            props = box_proposals(canvas, origin, drop_slivers=config.drop_slivers)
        scored = join_proposals(props, scored, config)
    return canvas_slots(scored, origin, config)


def make_example(
    sample: object,
    image_path: Path,
    config: ModelConfig,
    rng: random.Random,
    *,
    words: Sequence[Word] = (),
    negative_rate: float = 0.1,
    echo_rate: float = 0.3,
    rephrase_rate: float = 0.0,
    decoy_rate: float = 0.0,
    recase_rate: float = 0.0,
) -> Example | None:
    """One training example from a ``tasks.synth.samples.Sample`` and the OCR words of its page
    (CSS px); None if it does not fit. A share ``negative_rate`` of the crops are placed at
    random (most miss the target: "not here"); of those, a share ``decoy_rate`` is placed on a
    decoy instead (``decoy_origin``). A share ``recase_rate`` of the steps that type ask for
    the value in other letter case (``rephrase.recase``)."""
    from tasks.synth.samples import Sample

    assert isinstance(sample, Sample)
    f = sample.frame
    scale = f.image_w / f.region_w  # image px per CSS px
    target, answer_box = sample.target, None
    if config.answer_pointer:  # done("$129.99") -> done(<point>) at the word saying it
        target, answer_box = point_answer(target, words, scale)
    if not config.scroll_amount:
        target = without_scroll_amount(target)
    enc = encode_target(target)
    if len(enc.ids) > config.max_target_tokens:
        return None
    pts_css = [(x / scale, y / scale) for x, y in enc.points]
    anchor = pts_css[0] if pts_css and rng.random() >= negative_rate else None
    page_css = (f.region_w, f.region_h)
    ox, oy = choose_crop(page_css, anchor, config.canvas, rng)
    if anchor is None and pts_css and decoy_rate and rng.random() < decoy_rate:
        ox, oy = decoy_origin(sample, words, page_css, pts_css, config.canvas, rng) or (ox, oy)
    with Image.open(image_path) as page:
        canvas = to_canvas(page, Crop(ox, oy, scale), config.canvas)

    def shift(m: re.Match[str]) -> str:
        return f"{round(float(m.group(1)) / scale - ox)}, {round(float(m.group(2)) / scale - oy)}"

    said = rephrase(sample.prompt, rng) if rng.random() < rephrase_rate else sample.prompt
    if recase_rate and not pts_css and rng.random() < recase_rate:
        recased = recase(said, sample.target, rng)
        if recased is not None:
            said, target = recased
            enc = encode_target(target)
    prompt_text = PAIR.sub(shift, said)
    prompt = prompt_ids(prompt_text, config)
    box = None
    if answer_box is not None:
        box = (answer_box[0] - ox, answer_box[1] - oy, answer_box[2], answer_box[3])
    elif sample.target_box is not None and len(pts_css) == 1:
        b = sample.target_box
        box = (b.x - ox, b.y - oy, b.w, b.h)
    found = None
    if config.proposals and config.page_outlines:
        found = page_outlines(image_path, scale, config.round_outlines)
    seen = list(words)
    if config.outline_text and found is not None:
        seen = list(page_captions(image_path, scale, config.round_outlines, tuple(words)))
    if rng.random() < echo_rate:
        char_w, h = rng.uniform(5, 8), rng.uniform(12, 20)
        seen = echo_goal(seen, said, (ox + rng.uniform(0, 20), oy + rng.uniform(0, 30)),
                         char_w, h)  # fmt: skip
    said_here = compact_prompt(prompt_text, FULL_PROMPT)
    said_css = compact_prompt(said, FULL_PROMPT)  # the history's clicks in page CSS px
    page_words = score_words(seen, said_here, split_glyphs=config.round_outlines)
    read = page_inputs(said_css, page_words, found, config)
    slots = tile_slots(read.words, found, canvas, (ox, oy), config)
    state = read.state
    dists, cells, offs = [], [], []
    for px, py in pts_css:
        d, c, o = pointer_label((px - ox, py - oy), box, config, slots)
        dists.append(d)
        cells.append(c)
        offs.append(o)
    marks = patch_marks(history_clicks(sample.prompt), (ox, oy), config)
    flags = prompt_page_flags(prompt, read.named, read.focus) if config.span_page else None
    return Example(canvas, prompt, slots, list(enc.ids), dists, cells, offs, marks, state, flags)


def prompt_page_flags(
    prompt: Sequence[int], named: AbstractSet[str], focus: AbstractSet[str]
) -> Tensor:
    """``spans.page_flags`` of a prompt's ids (``<bos>`` bytes ``<sep>``) -> (len(prompt),
    N_PAGE_FLAGS), zeros on ``<bos>`` and ``<sep>``."""
    out = torch.zeros(len(prompt), N_PAGE_FLAGS)
    if len(prompt) > 2:
        out[1:-1] = torch.tensor(page_flags(bytes(prompt[1:-1]), named, focus))
    return out


def _page_flags_of(e: Example) -> Tensor:
    return e.span_page if e.span_page is not None else torch.zeros(len(e.prompt), N_PAGE_FLAGS)


def pad_prompts(prompts: Sequence[Sequence[int]]) -> Tensor:
    """Prompt id lists -> (N, longest) ``<pad>``-filled, each prompt at the right end (the
    decoder reads a batch's prompts left-padded)."""
    width = max(len(p) for p in prompts)
    out = torch.full((len(prompts), width), PAD, dtype=torch.long)
    for i, p in enumerate(prompts):
        out[i, width - len(p) :] = torch.tensor(p)
    return out


def left_pad(rows: Sequence[Tensor], width: int) -> Tensor:
    """(len_i, F) rows -> (N, width, F), each row at the right end, zeros before it."""
    out = torch.zeros(len(rows), width, rows[0].shape[-1])
    for i, r in enumerate(rows):
        out[i, width - len(r) :] = r
    return out


def collate(examples: Sequence[Example], config: ModelConfig) -> dict[str, Any]:
    """The keyword arguments of ``GazeVLM.loss``: tensors, and ``words`` as a batched WordSlots.
    Left-pad prompts, right-pad answers; pointer rows in row-major <point> order."""
    b = len(examples)
    t_len = max(len(e.target) for e in examples)
    prompts = pad_prompts([e.prompt for e in examples])
    p_len = prompts.shape[1]
    targets = torch.full((b, t_len), PAD, dtype=torch.long)
    for i, e in enumerate(examples):
        targets[i, : len(e.target)] = torch.tensor(e.target)
    marks = [e.marks for e in examples if e.marks is not None]
    g1 = config.keys + 1
    dists = [d for e in examples for d in e.ptr_dist]
    n_points = int((targets == POINT).sum())
    assert n_points == len(dists), "every <point> needs a pointer label"
    return {
        "images": torch.stack([e.image for e in examples]),
        "prompts": prompts,
        "words": stack_slots([e.words for e in examples]),
        "targets": targets,
        "ptr_dist": torch.stack(dists) if dists else torch.zeros(0, g1),
        "ptr_cell": torch.tensor([c for e in examples for c in e.ptr_cell], dtype=torch.long),
        "ptr_off": torch.tensor(
            [o for e in examples for o in e.ptr_off], dtype=torch.float32
        ).reshape(-1, 2),
        "marks": torch.stack(marks) if len(marks) == b else None,  # all examples have them
        "state": torch.stack(
            [e.state if e.state is not None else torch.zeros(config.state_size) for e in examples]
        ),
        "verbs": torch.tensor([verb_index(e.target) for e in examples], dtype=torch.long),
        **span_labels(examples, p_len, any_case=config.span_case),
        "span_page": (
            left_pad([_page_flags_of(e) for e in examples], p_len) if config.span_page else None
        ),
        "answer_label": torch.tensor([answer_label(e.target) for e in examples], dtype=torch.long),
    }


def span_labels(
    examples: Sequence[Example], p_len: int, *, any_case: bool = False
) -> dict[str, Tensor]:
    """For the span head: per example, the answer index of the quote that opens a ``type(``
    value (``span_query``, -1: not a copyable value) and, over the left-padded prompt
    positions, where that value starts and where it ends (exclusive) in the goal. With
    ``any_case`` (``ModelConfig.span_case``) a value the goal writes in other letter case is
    copyable too, and ``span_case`` (B, 3) says which ``spans.CASES`` fit it. For the submit
    head (``ModelConfig.span_submit``), whether copyable or not: ``span_close`` (B,) the answer
    index of a typed value's closing quote (-1: no ``type("...")`` value) and ``span_submit``
    (B,) whether ``, submit=true`` follows it."""
    b = len(examples)
    query = torch.full((b,), -1, dtype=torch.long)
    start = torch.zeros(b, p_len, dtype=torch.bool)
    end = torch.zeros(b, p_len, dtype=torch.bool)
    case = torch.zeros(b, len(CASES), dtype=torch.bool)
    close = torch.full((b,), -1, dtype=torch.long)
    submit = torch.zeros(b, dtype=torch.bool)
    for i, e in enumerate(examples):
        answer = decode_bytes(e.target)
        value = typed_value(answer)
        if value is None:
            continue
        opening = e.target.index(_QUOTE)
        close[i] = e.target.index(_QUOTE, opening + 1)  # typed_value: a value with no escapes
        submit[i] = answer.startswith(f'type("{value.decode()}", submit=true)')
        text = bytes(e.prompt[1:-1])  # <bos> bytes <sep>: every id in between is a byte
        if any_case:
            found, fits = case_spans(text, value)
            case[i] = torch.tensor(fits)
        else:
            found = value_spans(text, value)
        if not found:
            continue
        base = p_len - len(e.prompt) + 1
        query[i] = e.target.index(_QUOTE)
        for s, t in found:
            start[i, base + s] = True
            end[i, base + t] = True
    return {
        "span_query": query,
        "span_start": start,
        "span_end": end,
        "span_case": case,
        "span_close": close,
        "span_submit": submit,
    }


__all__ = ["EOS", "Crop", "Example", "collate", "compact_prompt", "make_example", "to_canvas"]
