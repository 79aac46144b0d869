"""Words read on a canvas -> the model's word slots: bytes, box, and how each word relates to the goal.

Contract:
- ``score_words(words, prompt)`` gives each ``Word`` of a page (CSS px, from
  ``perception.builtin.reader``) its match features, once per page; ``canvas_slots(scored,
  origin, config)`` keeps the words whose centre lies on the canvas that starts at ``origin``,
  and returns ``WordSlots`` of exactly ``config.max_words`` rows (padding rows are invalid): the
  word's first ``word_bytes`` UTF-8 bytes, its box in canvas px, and its ``N_FEATURES`` match
  features. When more words than slots are on the canvas, the words that
  match the goal best are kept (quoted first), then reading order: the same rule in training and
  at run time.
- Match features (all in [0, 1]): share of the word's tokens that are goal tokens; share inside a
  quoted span of the goal; share in the history lines; best character-bigram similarity to a goal
  token (OCR misreads a letter now and then); share of the word's whole line that is goal tokens
  (a page that repeats the instruction shows a line of nothing but goal words); the OCR score;
  how early the goal names it (``1 - i/n`` for the earliest of its tokens at index ``i`` of the
  goal's ``n`` tokens, 0 for a word the goal does not name), read only by a model with
  ``ModelConfig.goal_order`` (``feature_count``); whether an earlier click reached the word,
  and whether the goal names it later than a word on the page no click reached, both 0 here:
  ``progress.mark_progress`` sets them from the prompt's history, read only by a model with
  ``ModelConfig.reached_words``; then, read only by a model with ``ModelConfig.control_state``,
  two that only a labelled control's outline and its label's words have (``join_proposals``):
  it is drawn on (``proposals.control_on``) and the goal names it (every token of its label is a
  goal token: ``NAMED_SHARE``), and it is drawn on and the goal does not name it ("SMS
  alerts" when the goal names "Email alerts"). A box the goal asks to tick that is ticked
  already needs no click; in "Tick only A (nothing else)" a ticked box the goal does not
  name does.
- Words of one line share their ``y`` and ``h`` (``reader.words_from_line``), which is how lines
  are recovered here.

They are a bag-of-words inductive bias: which matching word (or no word) to act on is still learned.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from perception.builtin.config import ModelConfig
from perception.builtin.proposals import control_shaped
from perception.builtin.reader import Word
from perception.builtin.tokenizer import PAD, encode_text

N_FEATURES = 11  # computed for every word; a model reads the first feature_count(config)
ORDER = 6  # how early the goal names the word (goal_order)
REACHED, PENDING = 7, 8  # set by progress.mark_progress (reached_words)
ON_NAMED, ON_OTHER = 9, 10  # a control outline drawn on, named by the goal or not (control_state)
NAMED_SHARE = 0.99  # a control is named when every token of its label is a goal token


def feature_count(config: ModelConfig) -> int:
    """How many of the ``N_FEATURES`` a model of ``config`` reads (the goal order, the
    reached flags and the control state are opt-in; the config refuses each without the ones
    before it)."""
    return 6 + config.goal_order + 2 * config.reached_words + 2 * config.control_state


TICK_BOX = 32  # CSS px: the longest side of an outline read as a checkbox or a radio button
TICK_GLYPHS = frozenset("○●◯◉◎□■☐☑☒◻◼▢⚪⚫")  # the OCR's reading of radio buttons and checkboxes
_TOKEN = re.compile(r"[^\s\"'“”‘’`.,:;!?()\[\]{}<>]+")
_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]+)[\"“”«»]|(?<!\w)'([^']+)'(?!\w)")
_HISTORY = re.compile(r"^\d+\.\s")


@dataclass(frozen=True)
class WordSlots:
    ids: Tensor  # (K, word_bytes) long, <pad> after the word
    boxes: Tensor  # (K, 4) x, y, w, h in canvas px
    feats: Tensor  # (K, feature_count(config))
    valid: Tensor  # (K,) bool


Scored = tuple[Word, list[float]]  # a word and its N_FEATURES match features


@dataclass(frozen=True)
class GoalTokens:
    goal: frozenset[str]
    quoted: frozenset[str]
    history: frozenset[str]
    order: dict[str, float]  # goal token -> 1 - (index of its first occurrence) / (goal tokens)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def goal_tokens(prompt: str) -> GoalTokens:
    goal_lines: list[str] = []
    hist_lines: list[str] = []
    for line in prompt.splitlines():
        (hist_lines if _HISTORY.match(line.strip()) else goal_lines).append(line)
    goal = " ".join(goal_lines)
    quoted = " ".join(a or b for a, b in _QUOTED.findall(goal))
    seq = [t for t in tokens(goal) if t != "goal"]
    order: dict[str, float] = {}
    for i, t in enumerate(seq):
        order.setdefault(t, 1.0 - i / len(seq))
    return GoalTokens(
        frozenset(seq),
        frozenset(tokens(quoted)),
        frozenset(tokens(" ".join(hist_lines))),
        order,
    )


def _bigrams(s: str) -> set[str]:
    s = f"^{s}$"
    return {s[i : i + 2] for i in range(len(s) - 1)}


@functools.lru_cache(maxsize=65536)
def _similarity(tok: str, goal: frozenset[str]) -> float:
    """1 for a goal token, else the best bigram Dice coefficient against one (OCR misreads)."""
    if tok in goal:
        return 1.0
    if len(tok) < 3 or not goal:
        return 0.0
    mine = _bigrams(tok)
    best = 0.0
    for g in goal:
        theirs = _bigrams(g)
        best = max(best, 2 * len(mine & theirs) / (len(mine) + len(theirs)))
    return best


def word_features(word: Word, line_share: float, g: GoalTokens) -> list[float]:
    toks = tokens(word.text)
    if not toks:
        return [0.0, 0.0, 0.0, 0.0, line_share, word.score] + [0.0] * (N_FEATURES - 6)
    n = len(toks)
    return [
        sum(t in g.goal for t in toks) / n,
        sum(t in g.quoted for t in toks) / n,
        sum(t in g.history for t in toks) / n,
        max(_similarity(t, g.goal) for t in toks),
        line_share,
        word.score,
        max(g.order.get(t, 0.0) for t in toks),
        0.0,  # REACHED and PENDING: progress.mark_progress
        0.0,
        0.0,  # ON_NAMED and ON_OTHER: join_proposals, for outlines only
        0.0,
    ]


def line_shares(words: Sequence[Word], g: GoalTokens) -> list[float]:
    """Per word: the share of its line's tokens that are goal tokens."""
    lines: dict[tuple[float, float], list[str]] = defaultdict(list)
    for w in words:
        lines[(w.y, w.h)].extend(tokens(w.text))
    share = {
        k: (sum(t in g.goal for t in toks) / len(toks) if toks else 0.0)
        for k, toks in lines.items()
    }
    return [share[(w.y, w.h)] for w in words]


def holds_goal_token(f: Sequence[float]) -> bool:
    """The word's features say it holds a goal token (feature 0: the goal's tokens, 1: its
    quoted ones)."""
    return max(f[0], f[1]) > 0


def _priority(f: list[float]) -> tuple[float, float]:
    """Sort key when slots run out: quoted words, then goal-like words not in a goal-echo line."""
    return -f[1], -max(f[0], f[3]) + 0.5 * f[4]


def score_words(words: Sequence[Word], prompt: str, *, split_glyphs: bool = False) -> list[Scored]:
    """Every word of a page with its match features against ``prompt`` (once per page: the
    features do not depend on the canvas). With ``split_glyphs`` (``round_outlines``) a tick
    glyph the OCR ran into a word is no part of its tokens: "●Freight" matches "Freight"."""
    g = goal_tokens(prompt)
    seen = [_unglyph(w) for w in words] if split_glyphs else list(words)
    return [
        (w, word_features(s, share, g))
        for w, s, share in zip(words, seen, line_shares(seen, g), strict=True)
    ]


def _has_glyph(text: str) -> bool:
    return any(ch in TICK_GLYPHS for ch in text)


def _unglyph(w: Word) -> Word:
    """``w`` with its tick glyphs blanked out, for matching ("●Freight" -> " Freight")."""
    if not _has_glyph(w.text):
        return w
    text = "".join(" " if ch in TICK_GLYPHS else ch for ch in w.text)
    return Word(text, w.x, w.y, w.w, w.h, w.score)


def join_proposals(
    proposals: Sequence[Word], scored: Sequence[Scored], config: ModelConfig
) -> list[Scored]:
    """Box proposals (``perception.builtin.proposals``, no text) as slots ahead of the words.
    A proposal's match features are zeros, or with ``config.proposal_words`` those of the words
    whose centre lies inside it (``_inherit``): the outline of a "Submit" button scores as
    "Submit" does, and an outline around other words no longer looks like an empty field. With
    ``proposal_labels`` too, a small square outline with no word inside (a checkbox, a radio
    button) takes the features of its label: the words just right of it on its line
    (``tick_label``); with ``field_labels``, a wide one with no word inside (an empty text field)
    takes those of the words that label it from its left or from above (``field_label``).
    With ``round_outlines`` too, a tick-box-sized outline inside a word is one of its letters
    and is dropped (``_in_word``), and a tick glyph the OCR read ("○") is no word an outline
    holds and takes its label's features (``_glyph_labels``). With ``control_state`` a labelled
    control drawn on (``Word.on``; ``_control_label``) gets ``ON_NAMED`` when the goal names
    every token of its label, else ``ON_OTHER``, and so do its label's words (a click there
    toggles it too); its other features are as without the part."""
    out: list[Scored] = []
    states: dict[int, tuple[float, float]] = {}  # id of a label word -> its control's state
    for p in proposals:
        inside = outline_words(p, scored, config)
        if inside is None:
            continue
        f = _inherit(inside, share=config.proposal_share) if inside else [0.0] * N_FEATURES
        label = _control_label(p, scored) if config.control_state and p.on else []
        if label:
            named = _inherit(label, share=True)[0] >= NAMED_SHARE
            state = (p.on, 0.0) if named else (0.0, p.on)
            f = _with_state(f, state)
            for w, _ in label:
                states[id(w)] = state
        out.append((p, f))
    if states:
        scored = [
            (w, _with_state(wf, states[id(w)]) if id(w) in states else wf) for w, wf in scored
        ]
    if config.round_outlines and config.proposal_words and config.proposal_labels:
        scored = _glyph_labels(scored, share=config.proposal_share)
    return out + list(scored)


def _control_label(p: Word, scored: Sequence[Scored]) -> list[Scored]:
    """The label of outline ``p`` when it is a labelled control (``control_state``): control-
    shaped, holding no words (a small button filled with the accent colour, "Go", holds its
    caption) and with words just right of it on its line (``tick_label``; a colour swatch or a
    shape has none); else empty."""
    if not control_shaped(p.w, p.h) or _words_inside(p, scored, rounded=True):
        return []
    return tick_label(p, scored)


def _with_state(f: list[float], state: tuple[float, float]) -> list[float]:
    out = list(f)
    out[ON_NAMED], out[ON_OTHER] = state
    return out


def outline_words(
    p: Word, scored: Sequence[Scored], config: ModelConfig, *, labels: bool = False
) -> list[Scored] | None:
    """The words whose features outline ``p`` takes in ``join_proposals`` (empty: none, it
    scores zeros), or None when ``p`` is no control but a letter's outline (dropped). With
    ``labels`` a tick box's or a text field's label words come too when it holds words (a
    field filled in, a box whose tick the OCR read as a letter)."""
    rounded = config.round_outlines and config.proposal_words
    if rounded and _is_tick_box(p) and any(_in_word(p, w) for w, _ in scored):
        return None  # a letter's outline ("o", "D"), not a control
    if not config.proposal_words:
        return []
    inside = _words_inside(p, scored, rounded=rounded)
    if (labels or not inside) and config.proposal_labels and _is_tick_box(p):
        return inside + tick_label(p, scored)
    if (labels or not inside) and config.field_labels and _is_field(p):
        return inside + field_label(p, scored)
    return inside


def _words_inside(p: Word, scored: Sequence[Scored], *, rounded: bool) -> list[Scored]:
    """The words whose centre lies in outline ``p`` (with ``rounded``, not the OCR's reading of
    the tick box itself)."""
    return [
        (w, wf)
        for w, wf in scored
        if w.text and p.contains(*w.center) and not (rounded and _tick_mark(p, w))
    ]


def _glyph_labels(scored: Sequence[Scored], *, share: bool) -> list[Scored]:
    """The words with each tick glyph the OCR read (a radio button as "○") carrying its label's
    features instead of its own, as a tick box's outline does (``tick_label``)."""
    out: list[Scored] = []
    for w, wf in scored:
        label = tick_label(w, scored) if _glyph(w) else []
        out.append((w, _inherit(label, share=share) if label else wf))
    return out


def _inherit(inside: Sequence[Scored], *, share: bool) -> list[float]:
    """The features of an outline from the words it holds: their elementwise max, or with
    ``share`` the token-weighted mean of the first four (share of the outline's tokens that are
    goal / quoted / history tokens, mean similarity) and the max of the rest (line share, OCR
    score, goal order, reached); ``PENDING`` is their min either way
    (``progress.mark_progress``; an outline with no words scores zeros, so it is never pending).
    Max lets one goal word ("Tab", "the") light up every outline that holds it; the mean tells
    "Tab #2" (2 of 2 tokens) from "Tab #1" (1 of 2)."""
    if not share:
        out = [max(col) for col in zip(*(wf for _, wf in inside), strict=True)]
    else:
        n = [max(1, len(tokens(w.text))) for w, _ in inside]
        total = sum(n)
        out = [
            sum(k * wf[i] for k, (_, wf) in zip(n, inside, strict=True)) / total for i in range(4)
        ]
        out += [max(wf[i] for _, wf in inside) for i in range(4, N_FEATURES)]
    out[PENDING] = min(wf[PENDING] for _, wf in inside)  # "Gift wrap" waits only if "Gift" does
    return out


def _glyph(w: Word) -> bool:
    """A word that is only tick-box glyphs, as the OCR reads a radio button or a checkbox ("○",
    "☐")."""
    return bool(w.text.strip()) and all(ch in TICK_GLYPHS for ch in w.text.strip())


def _tick_mark(p: Word, w: Word) -> bool:
    """Word ``w`` (inside outline ``p``) is the OCR's reading of tick box ``p`` itself: a tick
    glyph, or one character ("O" for a radio button) in a tick-box-sized outline."""
    return _glyph(w) or (_is_tick_box(p) and len(w.text.strip()) == 1)


def _in_word(p: Word, w: Word) -> bool:
    """Outline ``p``'s centre lies inside word ``w``, a word with letters at least 1.5 times as
    wide as ``p``: ``p`` outlines one of its glyphs."""
    return bool(w.text) and not _has_glyph(w.text) and w.w >= 1.5 * p.w and w.contains(*p.center)


def _is_tick_box(p: Word) -> bool:
    """Checkbox- or radio-sized: at most ``TICK_BOX`` CSS px a side and roughly square."""
    return 0 < p.w <= TICK_BOX and 0 < p.h <= TICK_BOX and min(p.w, p.h) >= 0.6 * max(p.w, p.h)


def _is_field(p: Word) -> bool:
    """Text-field-shaped: at least twice as wide as high."""
    return p.w >= 2 * p.h > 0


def field_label(p: Word, scored: Sequence[Scored]) -> list[Scored]:
    """The words that label text field ``p``: those ending just left of it on its line (the
    last within three word heights of its left edge, and the words before it on that line
    with gaps under a line height), else the line just above it (its bottom within a word
    height of the field's top) that starts within a word height of the field's left edge."""
    cy = p.y + p.h / 2
    texts = [(w, wf) for w, wf in scored if w.text]
    level = sorted(
        ((w, wf) for w, wf in texts if abs(w.center[1] - cy) <= p.h / 2 and w.x + w.w <= p.x + 2),
        key=lambda t: -t[0].x,
    )
    out: list[Scored] = []
    edge = p.x
    for w, wf in level:
        if edge - (w.x + w.w) > (3 * w.h if not out else w.h):
            break
        out.append((w, wf))
        edge = w.x
    if out:
        return out[::-1]
    above = [
        (w, wf)
        for w, wf in texts
        if -2 <= p.y - (w.y + w.h) <= w.h and w.x + w.w > p.x - w.h and w.x < p.x + p.w
    ]
    if not above:
        return []
    first = min(above, key=lambda t: (-(t[0].y + t[0].h), t[0].x))[0]
    if first.x > p.x + first.h:
        return []
    line = sorted(((w, wf) for w, wf in above if w.y == first.y), key=lambda t: t[0].x)
    return _run_right(line, first.x, first.h)


def tick_label(p: Word, scored: Sequence[Scored]) -> list[Scored]:
    """The words (with their features) that label tick box ``p``: the nearest word starting right of
    it (within two box heights) whose centre is level with the box, and the words that follow
    it on that line with gaps under a line height."""
    cy = p.y + p.h / 2
    line = sorted(
        ((w, wf) for w, wf in scored if w.text and abs(w.center[1] - cy) <= max(p.h, w.h) / 2),
        key=lambda t: t[0].x,
    )
    return _run_right(line, p.x + p.w, 2 * p.h)


def _run_right(line: Sequence[Scored], edge: float, gap: float) -> list[Scored]:
    """The words of ``line`` (sorted by x) that run right from ``edge``: the first starting
    within ``gap`` of it, then each next one within the previous word's height (words that
    start left of ``edge`` are passed over)."""
    out: list[Scored] = []
    for w, wf in line:
        if w.x < edge - 2:
            continue
        if w.x - edge > gap:
            break
        out.append((w, wf))
        edge, gap = w.x + w.w, w.h
    return out


def canvas_slots(
    scored: Sequence[Scored], origin: tuple[float, float], config: ModelConfig
) -> WordSlots:
    k, nb, size = config.max_words, config.word_bytes, config.canvas
    ox, oy = origin
    rows = [
        (w, f) for w, f in scored if 0 <= w.center[0] - ox < size and 0 <= w.center[1] - oy < size
    ]
    if len(rows) > k:
        order = sorted(range(len(rows)), key=lambda i: (_priority(rows[i][1]), i))
        rows = [rows[i] for i in sorted(order[:k])]
    ids = torch.full((k, nb), PAD, dtype=torch.long)
    boxes = torch.zeros(k, 4)
    nf = feature_count(config)
    feats = torch.zeros(k, nf)
    valid = torch.zeros(k, dtype=torch.bool)
    for i, (w, f) in enumerate(rows):
        b = encode_text(w.text)[:nb] or [PAD]
        ids[i, : len(b)] = torch.tensor(b)
        boxes[i] = torch.tensor([w.x - ox, w.y - oy, w.w, w.h])
        feats[i] = torch.tensor(f[:nf])
        valid[i] = True
    return WordSlots(ids, boxes, feats, valid)


def echo_goal(
    words: list[Word], prompt: str, at: tuple[float, float], char_w: float, h: float
) -> list[Word]:
    """Training augmentation: the goal's first line drawn as OCR words at ``at`` (a page that
    repeats its instruction, as MiniWoB++-style task pages do). Only the word list changes."""
    first = next((ln for ln in prompt.splitlines() if ln.strip()), "")
    text = first.removeprefix("Goal:").strip()
    x, y = at
    out = list(words)
    for piece in text.split():
        w = len(piece) * char_w
        out.append(Word(piece, x, y, w, h, 0.95))
        x += w + char_w
    return out


def stack_slots(slots: Sequence[WordSlots]) -> WordSlots:
    """Per-canvas slots -> one batch (B, K, ...)."""
    return WordSlots(
        torch.stack([s.ids for s in slots]),
        torch.stack([s.boxes for s in slots]),
        torch.stack([s.feats for s in slots]),
        torch.stack([s.valid for s in slots]),
    )


def slots_to(s: WordSlots, device: torch.device) -> WordSlots:
    return WordSlots(s.ids.to(device), s.boxes.to(device), s.feats.to(device), s.valid.to(device))
