"""The built-in VLM: convolutional stem + 2D positions -> patch tokens -> MLP projector -> causal
decoder over ``<bos> prompt <sep> <image tokens> <word slots> answer``, with a pointer head for
coordinates.

Contract:
- ``GazeVLM(config)`` is a plain ``torch.nn.Module``. Inputs are a canvas batch ``(B, 3, S, S)``
  in [0, 1], left-padded prompt ids ``(B, P)`` (``<pad>`` ... ``<bos>`` prompt ``<sep>``) and the
  canvas's word slots (``perception.builtin.words.WordSlots``, batched: ``(B, K, ...)``).
- A word slot is one token: its bytes (mean of byte + position embeddings), its box and match
  features (a linear map), and the projected image token under its centre, through a small MLP.
  This is the "image" half of the sequence too: the words were read from the pixels by the OCR.
- ``loss(...)`` returns the summed training loss and its parts: next-token cross-entropy on the
  answer, the pointer's -log of the probability it puts on the target's slots (every patch and
  every word whose centre lies in the target box, or the "not in this image" slot: any of them is
  a hit, so the model may put all its mass on the word "Submit" rather than spread it over the
  button), and the sub-patch offset (L1).
- ``generate(images, prompts, words, max_new, grammar)`` decodes greedily with a KV cache (with
  an ``ActionGrammar``: only tokens that keep the answer one action call), all rows in lockstep,
  and returns per row the answer ids, one ``PointGuess`` per emitted ``<point>`` (canvas px: a
  patch plus its offset, or a word's centre; confidence = 1 - P(not here), peak = P(the chosen
  spot)) and the mean log-probability of the text tokens. With ``config.verb_head``, a grammar
  and the steps' facts (``perception.builtin.progress.step_state``: the history's, and with
  ``progress_state`` the page's), a separate head
  picks each answer's action name first (one choice per ``groups`` entry: the tiles of one page)
  and decoding writes it; the loss then adds the head's cross-entropy on the answer's verb.
  With ``config.span_head`` a ``type("`` value is a span of the goal chosen whole, one for all
  the rows of a group (their span log-probabilities averaged; ``spans.candidate_spans``;
  ``span_case``: a head picks its letter case; ``whole_phrase``: a span chosen inside a
  phrase of the goal runs on to its end, ``spans.whole_phrase``), and with
  ``span_submit`` a head decides what follows its closing quote, ``, submit=true)`` or ``)``;
  with ``span_page`` the span votes also read ``span_page`` (B, P, ``spans.N_PAGE_FLAGS``), the
  page's facts about each goal byte (``spans.page_flags``; zeros where not given). With
  ``answer_head`` a head decides whether ``done(`` answers with a ``<point>`` (the word that
  says the answer, ``perception.builtin.answers``; then ``)``) or without one (no point
  allowed), and that point's query is ``ans_q``, without the match features' vote. ``avoid``
  (canvas px boxes ``(x, y, w, h)`` per row) keeps a row's points out of those boxes: the
  pointer's best candidate (a patch's point or a word's centre) outside them, when there is one
  (``ModelConfig.avoid_typed_field``: the fields the history typed into); with
  ``ModelConfig.inner_outline`` a chosen word slot around smaller slots gives way to the most
  probable of them within ``INNER_NATS`` (``GazeVLM._inner``). A row of
  ``no_done`` never gets ``done(`` from the verb head (``ModelConfig.submit_typing``: its
  newest step typed without Enter); the head's next choice is written. With ``type_ahead`` a
  row's ``hold`` (a function from a value to a ``Keep``, or None) is asked, when the verb head
  says click and the type-ahead head says its goal types, with the value the span head would
  type there (a look-ahead of ``type("`` on the prefix's caches): its click keeps off the
  ``Keep``'s ``off`` boxes, as off ``avoid``'s, and goes into one of its ``on`` boxes when
  it can (``perception.builtin.type_ahead``). With ``type_plan`` and ``typed`` (per row the
  values the history typed, oldest first) the plan head's ``Plan`` of each goal (type() steps,
  one value twice; read on each group's first row, as a page's tiles share its goal) also
  decides: a row with values left after its history's, midway (it typed
  one), gets no ``done(``; its ``type(`` gets no Enter while another value is left after it,
  and on the last value Enter when the submit head's logit and the plan's Enter logit add up
  above 0; the hold is asked only while values are left, and the look-ahead passes over the values
  ``Plan.used`` (spans overlapping them too); a type() of a goal that types one value twice,
  once all its values are typed, repeats one typed once (``Plan.again``). With
  ``scroll_find`` and ``find`` (per row a function from the value the goal types next, the
  look-ahead's, to its page's ``find.find_facts``) a group the verb head gives to ``click(``
  writes ``scroll(`` when the scroll-find head's logit is above 0, which it is only where the
  facts say ``find.FIRE`` (``find_logit`` gates it; ``perception.builtin.find``).

Why the image comes after the prompt: the decoder is causal, so image tokens placed after the goal
attend to its words in every layer; the pointer's keys are those goal-aware image states, which is
what binds "click Submit" to where Submit is drawn. The pointer head replaces coordinate tokens
from the LM head, which learn grounding far too slowly on a CPU (docs/BUILTIN.md).

It knows nothing about files, screenshots or the gaze dialect beyond the token ids.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from perception.builtin.answers import DONE
from perception.builtin.config import ModelConfig
from perception.builtin.find import N_FIND, gate, head_input
from perception.builtin.grammar import ActionGrammar
from perception.builtin.grammar import State as GrammarState
from perception.builtin.policy import N_STATE, VERBS, verb_positions
from perception.builtin.spans import (
    CASES,
    N_PAGE_FLAGS,
    candidate_spans,
    goal_end,
    in_case,
    position_flags,
    whole_phrase,
)
from perception.builtin.tokenizer import BOS, EOS, N_BYTES, PAD, POINT, VOCAB_SIZE
from perception.builtin.words import ON_NAMED, ON_OTHER, WordSlots, feature_count, tokens

NEG = -1e4  # logit of a padding word slot
_QUOTE = ord('"')
_TYPE_TAIL = len(b'", submit=false)') + 1  # the most a typed value is followed by, <eos> too
_CLOSE = ord(")")
_TYPE_OPEN = b'type("'
_SCROLL_OPEN = b"scroll("
_SPAN_ROOM = 80  # the longest value the type-ahead look-ahead reads
Box = tuple[float, float, float, float]  # x, y, w, h


class Keep(NamedTuple):
    """Where a click may go: off every box of ``off``; into one of ``on`` when any is given
    and a candidate's point (outside ``off``) lies in one."""

    off: tuple[Box, ...] = ()
    on: tuple[Box, ...] = ()


Hold = Callable[[str], Keep]  # a value to type -> where the click goes until it is typed
Find = Callable[[Sequence[str]], Tensor]  # the value typed next -> find.find_facts of a page
INNER_NATS = 1.0  # inner_outline: how much less probable an inner slot may be and still win
PLAN_STEPS = 4  # the type-plan head's step classes: 0, 1, 2, 3 or more type() steps
PLAN_FLAGS = 2  # its logits after them: twice, Enter


def _said(value: str) -> str:
    """A typed value as the plan compares values: trimmed, case-folded."""
    return value.strip().casefold()


def _times(typed: Sequence[str]) -> dict[str, int]:
    """How often each value (``_said``) was typed."""
    seen: dict[str, int] = {}
    for t in map(_said, typed):
        seen[t] = seen.get(t, 0) + 1
    return seen


class Plan(NamedTuple):
    """What the type-plan head says of a goal (``ModelConfig.type_plan``)."""

    steps: int  # type() steps its demonstration has (the head's last class: that many or more)
    twice: bool  # one value is typed twice ("into both boxes", "type it twice")
    enter: float = 0.0  # the logit of "its last type() presses Enter" ("and press Enter")

    def used(self, typed: Sequence[str]) -> list[str]:
        """Of the values the history typed, those the goal needs no more (once each; twice
        for a goal that repeats one)."""
        return [k for k, n in _times(typed).items() if n >= (2 if self.twice else 1)]

    def left(self, typed: Sequence[str]) -> int:
        """type() steps still to come after the history's."""
        return max(0, self.steps - len(typed))

    def again(self, typed: Sequence[str]) -> list[str]:
        """The values the next type() repeats one of: for a goal that types one value twice,
        once as many values as it has (one fewer than its steps) are typed, the newest typed
        once (a confirmation field follows the field it repeats: "the password goes in both
        password boxes" after the user name); else none (any value)."""
        seen = _times(typed)
        if not self.twice or len(seen) < self.steps - 1 or not self.left(typed):
            return []
        once = [t for t in map(_said, typed) if seen[t] == 1]
        return once[-1:]


# the answer index of done('s "(": the answer head reads the state after it
ANSWER_AT = len(DONE) - 1
ANSWER_BIAS = -6.0  # the answer head's start: P(point) 0.25%, so untrained it answers as before


def prompt_bytes(row: Sequence[int]) -> tuple[int, bytes]:
    """A left-padded prompt row (``<pad>``... ``<bos>`` bytes ``<sep>``) -> the position of its
    first byte and its bytes."""
    base = list(row).index(BOS) + 1
    return base, bytes(row[base : len(row) - 1])


def prompt_flags(prompts: Tensor) -> Tensor:
    """(N, P) left-padded prompt ids -> (N, P, 2) ``spans.position_flags`` of each byte
    position (zeros on ``<pad>``, ``<bos>`` and ``<sep>``)."""
    out = torch.zeros(*prompts.shape, 2)
    for r, row in enumerate(prompts.tolist()):
        base, text = prompt_bytes(row)
        if text:
            out[r, base : base + len(text)] = torch.tensor(position_flags(text))
    return out


def goal_words(
    prompts: Tensor,
    buckets: int,
    *,
    pairs: bool = False,
    repeats: bool = False,
    only: Collection[str] | None = None,
) -> Tensor:
    """(N, P) left-padded prompt ids -> (N, buckets): the goal's words (``words.tokens`` of the
    text before the first history line), each hashed to a bucket (CRC-32), as a multi-hot row
    scaled to unit length. A bag of words the case head reads ("upper", "capital", "small").
    With ``pairs`` each two neighbouring words ("press enter") are a bucket's word too; with
    ``repeats`` each word's second and later use is one more ("with#2": "Fill in A with x and B
    with y" fills two fields). With ``only`` the goal's other words are left out first (pairs
    are then of the words kept: the wording without its labels and values)."""
    out = torch.zeros(prompts.shape[0], buckets)
    for r, row in enumerate(prompts.tolist()):
        _, text = prompt_bytes(row)
        toks = tokens(text[: goal_end(text)].decode("utf-8", errors="ignore"))
        if only is not None:
            toks = [t for t in toks if t in only]
        grams = toks + [f"{a} {b}" for a, b in itertools.pairwise(toks)] if pairs else list(toks)
        if repeats:
            seen: dict[str, int] = {}
            for t in toks:
                seen[t] = seen.get(t, 0) + 1
                if seen[t] > 1:
                    grams.append(f"{t}#{seen[t]}")
        for t in set(grams):
            out[r, zlib.crc32(t.encode()) % buckets] = 1.0
    return out / out.norm(dim=1, keepdim=True).clamp(min=1.0)


def _folded(value: bytes) -> str:
    """A span's bytes as typed values are compared: decoded, trimmed, case-folded."""
    return _said(value.decode("utf-8", errors="ignore"))


def _typed_ranges(text: bytes, typed: Collection[str]) -> list[tuple[int, int]]:
    """Where in the goal ``text`` the values the history typed stand (case-folded matches)."""
    low = text.decode("utf-8", errors="ignore").casefold().encode()
    if len(low) != len(text):  # a case fold that changes lengths: compare as given
        low = text
    out = []
    for t in typed:
        v = _said(t).encode()
        at = low.find(v) if v else -1
        while at >= 0:
            out.append((at, at + len(v)))
            at = low.find(v, at + 1)
    return out


def _opens_type(s: GrammarState) -> bool:
    """The answer so far is exactly ``type("``: its value comes next."""
    return s.head == b"type(" and s.quoted and not s.text and not s.strings and not s.escaped


def _opens_done(s: GrammarState) -> bool:
    """The answer so far is exactly ``done(``: a point, an answer string or ``)`` comes next."""
    return (
        s.head == DONE
        and s.in_args
        and not s.arg
        and not s.quoted
        and not s.closed
        and (s.points + s.strings + s.extras == 0)
    )


def _closes_type(s: GrammarState) -> bool:
    """The answer so far is ``type("...")`` up to its value's closing quote: a submit flag or
    the closing parenthesis comes next."""
    return (
        s.head == b"type("
        and s.strings == 1
        and s.arg == "string"
        and not s.quoted
        and not s.extras
        and not s.closed
    )


@dataclass(frozen=True)
class PointGuess:
    x: float  # canvas px
    y: float
    confidence: float  # 1 - P("not in this image")
    peak: float = 0.0  # P(the chosen patch or word)
    feats: tuple[float, ...] = ()  # the chosen word's match features (words.py); () for a patch
    into: bool = False  # it lies in a box decoding was asked to click into (Keep.on)


@dataclass(frozen=True)
class Decoded:
    ids: list[int]
    points: list[PointGuess]
    mean_logprob: float


def cell_point(cell: int, offset: tuple[float, float], config: ModelConfig) -> tuple[float, float]:
    """Pointer output -> canvas px: the patch (row-major index) plus the offset inside it (0-1).
    The inverse of ``perception.builtin.data.pointer_label``."""
    gx, gy = cell % config.grid, cell // config.grid
    return (gx + offset[0]) * config.stride, (gy + offset[1]) * config.stride


class Block(nn.Module):
    """Pre-norm transformer block; ``cache`` (k, v) makes one-token decoding cheap."""

    def __init__(self, width: int, heads: int, mlp_ratio: int) -> None:
        super().__init__()
        self.heads = heads
        self.n1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.n2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width)
        )

    def forward(
        self, x: Tensor, mask: Tensor | None, cache: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        b, t, w = x.shape
        q, k, v = self.qkv(self.n1(x)).view(b, t, 3, self.heads, w // self.heads).unbind(2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if cache is not None:
            k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, w))
        return x + self.mlp(self.n2(x)), (k, v)


def _stem(channels: tuple[int, ...]) -> nn.Sequential:
    """4x4/4 patchify conv, then a stride-2 block per further channel count (stride 4*2^(n-1))."""
    layers: list[nn.Module] = [
        nn.Conv2d(3, channels[0], 4, stride=4),
        nn.GroupNorm(8, channels[0]),
        nn.GELU(),
    ]
    for cin, cout in itertools.pairwise(channels):
        layers.append(_conv_block(cin, cout))
    return nn.Sequential(*layers)


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=2, padding=1),
        nn.GroupNorm(8, cout),
        nn.GELU(),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.GroupNorm(8, cout),
        nn.GELU(),
    )


class GazeVLM(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = self.config = config
        self.stem = _stem(c.stem_channels)
        vis_w = c.stem_channels[-1]
        self.row = nn.Parameter(torch.randn(c.grid, vis_w) * 0.02)
        self.col = nn.Parameter(torch.randn(c.grid, vis_w) * 0.02)
        self.vision = nn.ModuleList(
            [Block(vis_w, c.heads, c.mlp_ratio) for _ in range(c.vision_layers)]
        )
        self.vision_norm = nn.LayerNorm(vis_w)
        self.projector = nn.Sequential(
            nn.Linear(vis_w, c.width), nn.GELU(), nn.Linear(c.width, c.width)
        )
        self.embed = nn.Embedding(VOCAB_SIZE, c.width)
        nn.init.normal_(self.embed.weight, std=0.02)
        self.pos = nn.Parameter(torch.randn(c.max_len, c.width) * 0.02)
        self.decoder = nn.ModuleList(
            [Block(c.width, c.heads, c.mlp_ratio) for _ in range(c.decoder_layers)]
        )
        self.norm = nn.LayerNorm(c.width)
        self.word_pos = nn.Parameter(torch.randn(c.word_bytes, c.width) * 0.02)
        self.word_geo = nn.Linear(4 + feature_count(c), c.width)
        self.word_proj = nn.Sequential(
            nn.Linear(3 * c.width, c.width), nn.GELU(), nn.Linear(c.width, c.width)
        )
        self.copy_q = nn.Linear(c.width, c.pointer_dim)
        self.copy_k = nn.Linear(c.width, c.pointer_dim)
        self.copy_gate = nn.Linear(c.width, 1)
        self.ptr_q = nn.Linear(c.width, c.pointer_dim)
        self.ptr_k = nn.Linear(c.width, c.pointer_dim)
        self.ptr_null = nn.Parameter(torch.zeros(c.pointer_dim))
        # a word's match features also vote directly for it (zero at start: learned from data)
        self.ptr_feat = nn.Linear(feature_count(c), 1)
        nn.init.zeros_(self.ptr_feat.weight)
        nn.init.zeros_(self.ptr_feat.bias)
        # ... and, with context_vote, by weights that depend on the decoder state at the <point>
        # (a goal's words name the button, but at the first step the field comes first); zero at
        # start, so weights trained without it start out unchanged
        self.ptr_feat_q: nn.Linear | None = None
        if c.context_vote:
            self.ptr_feat_q = nn.Linear(c.width, feature_count(c))
            nn.init.zeros_(self.ptr_feat_q.weight)
            nn.init.zeros_(self.ptr_feat_q.bias)
        # ... and, with state_vote, by weights from the history's facts (policy.prompt_state:
        # "no step yet", "a field was clicked", ...): the goal's "Submit" is the last click, not
        # the first. Zero at start, like the context vote
        self.ptr_feat_s: nn.Linear | None = None
        if c.state_vote:
            self.ptr_feat_s = nn.Linear(N_STATE, feature_count(c))
            nn.init.zeros_(self.ptr_feat_s.weight)
            nn.init.zeros_(self.ptr_feat_s.bias)
        self.ptr_off = nn.Sequential(nn.Linear(c.width, c.width), nn.GELU(), nn.Linear(c.width, 2))
        # where earlier steps clicked (perception.builtin.marks), added to the patch tokens; zero
        # at start, so weights trained without marks start out unchanged
        self.mark: nn.Linear | None = None
        if c.history_marks:
            self.mark = nn.Linear(c.history_marks, c.width, bias=False)
            nn.init.zeros_(self.mark.weight)
        # which action (perception.builtin.policy): from the state that writes the answer's first
        # byte, the patch states under the newest click, and the history's counts (with
        # progress_state, the page's progress facts after them: progress.step_state); its output
        # layer starts at zero (every verb equally likely), so it learns only from its own loss
        self.verb: nn.Sequential | None = None
        if c.verb_head:
            out = nn.Linear(c.width, len(VERBS))
            nn.init.zeros_(out.weight)
            nn.init.zeros_(out.bias)
            self.verb = nn.Sequential(
                nn.Linear(2 * c.width + c.state_size, c.width), nn.GELU(), out
            )
        # (created last: the other parts get the same random start as without the span head)
        # where a typed value starts and ends in the goal (perception.builtin.spans): pointers
        # from the state after ``type("`` over the prompt's positions, trained by their own loss
        # (queries and keys: start, then end)
        self.span: nn.ModuleList | None = None
        if c.span_head:
            self.span = nn.ModuleList(nn.Linear(c.width, c.pointer_dim) for _ in range(4))
        # ... with span_flags, a weight per position fact (typed, quoted) for start and end, from
        # the same state; zero at start, like the votes; with span_page, then one per page fact
        # (spans.page_flags) for start and end
        self.span_flag: nn.Linear | None = None
        if c.span_head and c.span_flags:
            self.span_flag = nn.Linear(c.width, 4 + (2 * N_PAGE_FLAGS if c.span_page else 0))
            nn.init.zeros_(self.span_flag.weight)
            nn.init.zeros_(self.span_flag.bias)
        # ... with span_case, the value's letter case (spans.CASES), from the same state; its
        # bias starts on "as written" so that weights trained without it type as before
        self.case: nn.Linear | None = None
        if c.span_head and c.span_case:
            self.case = nn.Linear(c.width + c.case_words, len(CASES))
            nn.init.zeros_(self.case.weight)
            with torch.no_grad():
                self.case.bias.copy_(torch.tensor([4.0] + [0.0] * (len(CASES) - 1)))
        # ... with span_submit, whether the answer presses Enter after the value: one logit from
        # the state after the value's closing quote and the goal's words and word pairs; zero
        # at start, trained by its own loss
        self.submit: nn.Linear | None = None
        if c.span_head and c.span_submit:
            self.submit = nn.Linear(c.width + c.submit_words, 1)
            nn.init.zeros_(self.submit.weight)
            nn.init.zeros_(self.submit.bias)

        # ... with answer_head, whether done( answers with a point (answers.py): one logit from
        # the state after "done(" and the goal's words, starting far below zero (never: weights
        # trained without it answer as before), and the query of that point, zero at start
        self.answer: nn.Linear | None = None
        self.ans_q: nn.Linear | None = None
        if c.answer_head:
            self.answer = nn.Linear(c.width + c.answer_words, 1)
            nn.init.zeros_(self.answer.weight)
            nn.init.constant_(self.answer.bias, ANSWER_BIAS)
            self.ans_q = nn.Linear(c.width, c.pointer_dim)
            nn.init.zeros_(self.ans_q.weight)
            nn.init.zeros_(self.ans_q.bias)

        # ... with type_ahead, whether the goal types a value: one logit from the goal's words
        # and word pairs alone (type_ahead.fit, no image); zero at start (says no)
        self.type_ahead: nn.Linear | None = None
        if c.type_ahead:
            self.type_ahead = nn.Linear(c.type_ahead, 1)
            nn.init.zeros_(self.type_ahead.weight)
            nn.init.zeros_(self.type_ahead.bias)
        # ... with type_plan, how many type() steps the goal has (PLAN_STEPS classes), then
        # whether it types a value twice and whether its last presses Enter: from the goal's
        # words, pairs and repeated words (type_ahead.fit); zeros at start
        self.type_plan: nn.Linear | None = None
        if c.type_plan:
            self.type_plan = nn.Linear(c.type_plan, PLAN_STEPS + PLAN_FLAGS)
            nn.init.zeros_(self.type_plan.weight)
            nn.init.zeros_(self.type_plan.bias)
        # ... with scroll_find, whether a step the verb head gives to click() scrolls: from the
        # goal's words and pairs and the page's find facts (find.fit); zeros at start (says no)
        self.scroll_find: nn.Linear | None = None
        if c.scroll_find:
            self.scroll_find = nn.Linear(c.scroll_find + N_FIND, 1)
            nn.init.zeros_(self.scroll_find.weight)
            nn.init.zeros_(self.scroll_find.bias)

    # --- pieces -------------------------------------------------------------------------------
    def image_tokens(self, images: Tensor) -> Tensor:
        """(B, 3, S, S) -> (B, grid*grid, width) projected patch tokens, row-major."""
        f = self.stem(images * 2 - 1).flatten(2).transpose(1, 2)
        g = self.config.grid
        f = f + (self.row[:, None, :] + self.col[None, :, :]).reshape(g * g, -1)
        for blk in self.vision:
            f, _ = blk(f, None)
        return self.projector(self.vision_norm(f))

    def word_tokens(self, img: Tensor, words: WordSlots) -> Tensor:
        """(B, G, W) image tokens + batched word slots -> (B, K, W) word tokens."""
        c = self.config
        emb = self.embed(words.ids) + self.word_pos
        m = (words.ids != PAD).unsqueeze(-1).to(emb.dtype)
        pooled = (emb * m).sum(2) / m.sum(2).clamp(min=1)
        b = words.boxes
        cx, cy = b[..., 0] + b[..., 2] / 2, b[..., 1] + b[..., 3] / 2
        geo = torch.stack([cx, cy, b[..., 2], b[..., 3]], -1) / c.canvas
        col = (cx // c.stride).long().clamp(0, c.grid - 1)
        row = (cy // c.stride).long().clamp(0, c.grid - 1)
        cell = (row * c.grid + col)[..., None].expand(-1, -1, img.shape[-1])
        under = img.gather(1, cell)
        g = self.word_geo(torch.cat([geo, words.feats], -1).to(pooled.dtype))
        return self.word_proj(torch.cat([pooled, g.to(pooled.dtype), under.to(pooled.dtype)], -1))

    def _prefix(
        self, images: Tensor, prompts: Tensor, words: WordSlots, marks: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Embeddings of prompt + image tokens + word slots, and the validity of each position.
        ``marks`` (B, G, history_marks): earlier clicks on the patch grid (None: none)."""
        img = self.image_tokens(images).to(self.embed.weight.dtype)
        if self.mark is not None and marks is not None:
            img = img + self.mark(marks.to(self.mark.weight.dtype)).to(img.dtype)
        wt = self.word_tokens(img, words).to(img.dtype)
        x = torch.cat([self.embed(prompts), img, wt], 1)
        ones = torch.ones(img.shape[:2], dtype=torch.bool, device=prompts.device)
        valid = torch.cat([prompts != PAD, ones, words.valid], 1)
        return x, valid

    def _run(
        self,
        x: Tensor,
        valid: Tensor,
        past_valid: Tensor | None = None,
        caches: list[tuple[Tensor, Tensor]] | None = None,
    ) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """Decoder over ``x`` (B, T, W) given the cache of earlier positions."""
        all_valid = valid if past_valid is None else torch.cat([past_valid, valid], 1)
        pos = (all_valid.long().cumsum(1) - 1).clamp(min=0)[:, -x.shape[1] :]
        x = x + self.pos[pos]
        t, total = x.shape[1], all_valid.shape[1]
        qi = torch.arange(total - t, total, device=x.device)[:, None]
        ki = torch.arange(total, device=x.device)[None, :]
        mask = (ki <= qi)[None, None] & (all_valid[:, None, None, :] | (ki == qi)[None, None])
        new = []
        for i, blk in enumerate(self.decoder):
            x, kv = blk(x, mask, caches[i] if caches is not None else None)
            new.append(kv)
        return self.norm(x), new

    def _pointer(
        self,
        h: Tensor,
        key_h: Tensor,
        key_valid: Tensor,
        feats: Tensor,
        state: Tensor | None = None,
        answer: Tensor | None = None,
        boxes: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """h (N, W) at <point> positions, key_h (N, G+K, W) patch and word states, key_valid
        (N, G+K), feats (N, K, F) the words' match features, state (N, config.state_size) the
        step's facts (its first N_STATE, the history's, used with ``state_vote``) -> logits
        (N, G+K+1) and offsets inside each patch (N, G, 2). ``answer`` (N,) bool: the points
        that answer ``done(`` (``answer_head``): their query is ``ans_q``'s and the match
        features do not vote (an answer is no goal word). With ``control_state``, ``boxes``
        (N, K, 4) the slots' canvas boxes: a control's state features vote for the patch under
        its centre too (``_cell_states``), with the same weights as for its slot."""
        g = self.config.grid**2
        q = self.ptr_q(h)
        if self.ans_q is not None and answer is not None and bool(answer.any()):
            q = torch.where(answer[:, None], self.ans_q(h).to(q.dtype), q)
        keys = torch.cat([self.ptr_k(key_h), self.ptr_null.expand(h.shape[0], 1, -1)], 1)
        logits = (torch.einsum("nd,ngd->ng", q, keys) / math.sqrt(q.shape[-1])).float()
        vote = self.ptr_feat(feats.float()).squeeze(-1).float()
        # the per-feature weights the votes add up: ptr_feat's own, the context's, the state's
        weights = [self.ptr_feat.weight[0].float().expand(h.shape[0], -1)]
        if self.ptr_feat_q is not None:
            weights.append(self.ptr_feat_q(h).float())
            vote = vote + (feats.float() * weights[-1][:, None, :]).sum(-1)
        if self.ptr_feat_s is not None and state is not None:
            weights.append(
                self.ptr_feat_s(state[:, :N_STATE].to(self.ptr_feat_s.weight.dtype)).float()
            )
            vote = vote + (feats.float() * weights[-1][:, None, :]).sum(-1)
        patches = logits[:, :g]
        if self.config.control_state and boxes is not None:
            on = slice(ON_NAMED, ON_OTHER + 1)
            cells = self._cell_states(feats[..., on].float(), boxes)
            total = weights[0]
            for w in weights[1:]:
                total = total + w
            cells = (cells * total[:, None, on]).sum(-1)
            patches = patches + (cells if answer is None else cells * (~answer).float()[:, None])
        if answer is not None:
            vote = vote * (~answer).float()[:, None]
        logits = torch.cat([patches, logits[:, g:-1] + vote, logits[:, -1:]], 1)
        pad = torch.ones(h.shape[0], 1, dtype=torch.bool, device=h.device)
        logits = logits.masked_fill(~torch.cat([key_valid, pad], 1), NEG)
        img_h = key_h[:, :g]
        off = torch.sigmoid(self.ptr_off(img_h + h[:, None, :]))
        return logits, off

    def span_logp(
        self, q_h: Tensor, prompt_h: Tensor, prompts: Tensor, page: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """q_h (N, W) the states after ``type("``, prompt_h (N, P, W), prompts (N, P) -> the
        log-probabilities (N, P) of each prompt position being the value's first byte, and of
        being the position just after its last (``<pad>`` positions: never). With
        ``span_flags`` the position facts of ``spans.position_flags`` add a learned vote: a
        start's own byte, an end's previous byte; with ``span_page`` so do ``page`` (N, P,
        ``N_PAGE_FLAGS``), the page's facts (``spans.page_flags``; None: zeros)."""
        assert self.span is not None
        qs, ks, qe, ke = self.span
        ok = prompts != PAD
        votes: list[Tensor | float] = [0.0, 0.0]
        if self.span_flag is not None:
            flags = prompt_flags(prompts).to(q_h.device)
            raw = self.span_flag(q_h).float()
            w = raw[:, :4].view(-1, 2, 2)  # [start, end] x [typed, quoted]
            if self.config.span_page:  # ... then [start, end] x the page's facts
                w = torch.cat([w, raw[:, 4:].view(-1, 2, N_PAGE_FLAGS)], -1)
                if page is None:
                    page = torch.zeros(*prompts.shape, N_PAGE_FLAGS)
                flags = torch.cat([flags, page.to(flags)], -1)
            before = torch.cat([torch.zeros_like(flags[:, :1]), flags[:, :-1]], 1)
            votes = [(flags * w[:, None, 0]).sum(-1), (before * w[:, None, 1]).sum(-1)]
        out = []
        for (q, k), vote in zip(((qs, ks), (qe, ke)), votes, strict=True):
            lg = torch.einsum("nd,npd->np", q(q_h), k(prompt_h)).float()
            lg = lg / math.sqrt(self.config.pointer_dim) + vote
            out.append(F.log_softmax(lg.masked_fill(~ok, NEG), -1))
        return out[0], out[1]

    @staticmethod
    def _head(
        head: nn.Linear, h: Tensor, prompts: Tensor, buckets: int, *, pairs: bool = False
    ) -> Tensor:
        """``head`` on the states ``h`` (N, W) and, with ``buckets``, the goal's bag of words
        (``goal_words``) beside them -> (N, out) float logits."""
        x = h
        if buckets:
            bow = goal_words(prompts, buckets, pairs=pairs).to(h.device, h.dtype)
            x = torch.cat([h, bow], -1)
        return head(x.to(head.weight.dtype)).float()

    def case_logits(self, q_h: Tensor, prompts: Tensor) -> Tensor:
        """q_h (N, W) the states after ``type("``, prompts (N, P) -> (N, len(CASES)) logits of
        the value's letter case; with ``case_words`` the goal's bag of words is read too."""
        assert self.case is not None
        return self._head(self.case, q_h, prompts, self.config.case_words)

    def submit_logit(self, close_h: Tensor, prompts: Tensor) -> Tensor:
        """close_h (N, W) the states after a typed value's closing quote, prompts (N, P) -> (N,)
        the logit of ``, submit=true`` (press Enter after typing); with ``submit_words`` the
        goal's words and word pairs are read too."""
        assert self.submit is not None
        return self._head(self.submit, close_h, prompts, self.config.submit_words, pairs=True)[:, 0]

    def answer_logit(self, h: Tensor, prompts: Tensor) -> Tensor:
        """h (N, W) the states after ``done(``, prompts (N, P) -> (N,) the logit of answering
        with a point (``answer_head``); with ``answer_words`` the goal's words are read too."""
        assert self.answer is not None
        return self._head(self.answer, h, prompts, self.config.answer_words)[:, 0]

    def types_logit(self, prompts: Tensor) -> Tensor:
        """prompts (N, P) -> (N,) the logit of "the goal types a value" (``type_ahead``)."""
        assert self.type_ahead is not None
        bow = goal_words(prompts, self.config.type_ahead, pairs=True)
        return self.type_ahead(bow.to(self.type_ahead.weight)).float()[:, 0]

    def plan_logits(self, prompts: Tensor) -> Tensor:
        """prompts (N, P) -> (N, PLAN_STEPS + PLAN_FLAGS): the logits of "the goal has k type()
        steps" (k < PLAN_STEPS; the last class: that many or more), then of "it types a value
        twice" and of "its last type() presses Enter"."""
        assert self.type_plan is not None
        bow = goal_words(prompts, self.config.type_plan, pairs=True, repeats=True)
        return self.type_plan(bow.to(self.type_plan.weight)).float()

    def typing_plan(self, prompts: Tensor) -> list[Plan]:
        """prompts (N, P) -> each goal's ``Plan`` (``plan_logits``' choices)."""
        lg = self.plan_logits(prompts)
        k = PLAN_STEPS
        steps = lg[:, :k].argmax(-1).tolist()
        twice = (lg[:, k] > 0).tolist()
        enter = lg[:, k + 1].tolist()
        return [Plan(n, t, e) for n, t, e in zip(steps, twice, enter, strict=True)]

    def find_logit(self, prompts: Tensor, facts: Tensor) -> Tensor:
        """prompts (N, P), facts (N, ``find.N_FIND``) -> (N,) the scroll-find head's logit:
        above 0, a step the verb head gives to click() scrolls (``ModelConfig.scroll_find``);
        ``find.NO`` where the facts do not ask it (``find.gate``)."""
        assert self.scroll_find is not None
        x = head_input(prompts, facts, self.config.scroll_find)
        out = self.scroll_find(x.to(self.scroll_find.weight)).float()[:, 0]
        return gate(out, facts.to(out.device))

    def verb_logits(
        self, h_first: Tensor, patch_h: Tensor, marks: Tensor | None, state: Tensor
    ) -> Tensor:
        """h_first (B, W) the state that writes the answer's first token, patch_h (B, G, W) the
        patches' decoder states, marks (B, G, M) or None, state (B, config.state_size) -> (B,
        len(VERBS))."""
        assert self.verb is not None
        if marks is not None and marks.shape[-1] >= 2:
            w = marks[..., 1].to(patch_h.dtype)  # the newest step's click
        else:
            w = torch.zeros(patch_h.shape[:2], dtype=patch_h.dtype, device=patch_h.device)
        w = w / w.sum(1, keepdim=True).clamp(min=1e-6)
        pooled = (patch_h * w[..., None]).sum(1)
        x = torch.cat([h_first, pooled, state.to(h_first.dtype)], -1)
        return self.verb(x).float()

    # --- training ------------------------------------------------------------------------------
    def loss(
        self,
        images: Tensor,
        prompts: Tensor,
        words: WordSlots,
        targets: Tensor,
        ptr_dist: Tensor,
        ptr_cell: Tensor,
        ptr_off: Tensor,
        marks: Tensor | None = None,
        verb_weight: float = 1.0,
        state: Tensor | None = None,
        verbs: Tensor | None = None,
        span_query: Tensor | None = None,
        span_start: Tensor | None = None,
        span_end: Tensor | None = None,
        span_case: Tensor | None = None,
        span_close: Tensor | None = None,
        span_submit: Tensor | None = None,
        span_page: Tensor | None = None,
        answer_label: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, float]]:
        """targets (B, L) answer ids, <pad> after <eos>; one pointer row per <point> in
        ``targets`` (row-major order): ptr_dist (N, G+K+1) soft targets, ptr_cell (N,) the patch
        of the exact point (-1: none), ptr_off (N, 2) its offset inside that patch in [0, 1].
        ``verb_weight``: the answer's tokens before its first "(" (which action: the policy's
        decision) count this many times in the text loss's weighted mean. With a verb head,
        ``state`` (B, config.state_size) the steps' facts and ``verbs`` (B,) each answer's verb
        index (-1: not an action) add its cross-entropy as the "verb" part. With a span head,
        ``span_query`` (B,) the answer index of the quote opening a ``type(`` value (-1: none)
        and ``span_start``/``span_end`` (B, P) that value's positions in the prompt
        (``data.span_labels``) add -log P(start) - log P(end) as the "span" part; with
        ``span_case`` (B, 3) the letter cases that fit each value, -log P(any of them) joins it.
        With a submit head, ``span_close`` (B,) the answer index of a typed value's closing
        quote (-1: none) and ``span_submit`` (B,) whether the answer presses Enter add the
        head's binary cross-entropy as the "submit" part. ``span_page`` (B, P, N_PAGE_FLAGS):
        the page facts the span votes read with ``config.span_page`` (None: zeros). With an
        answer head, ``answer_label`` (B,) for answers that start ``done(``: 1 when a point
        follows, 0 when not (-1: another answer) adds the head's binary cross-entropy as the
        "answer" part, and those points are scored with the answer's query."""
        x, valid = self._prefix(images, prompts, words, marks)
        n_pre = x.shape[1]
        tin = targets.clone()
        tin[tin == PAD] = EOS  # any id: these positions are masked as keys and not scored
        x = torch.cat([x, self.embed(tin)], 1)
        valid = torch.cat([valid, targets != PAD], 1)
        h, _ = self._run(x, valid)
        p = prompts.shape[1]
        logp = self.next_logp(h[:, n_pre - 1 : -1], h[:, :p], prompts)
        nll = F.nll_loss(
            logp.reshape(-1, VOCAB_SIZE), targets.reshape(-1), ignore_index=PAD, reduction="none"
        ).reshape(targets.shape)
        scored = (targets != PAD).float()
        verb = verb_positions(targets, PAD)
        w = scored + (verb_weight - 1.0) * verb.float()
        text = (nll * w).sum() / w.sum().clamp(min=1e-6)
        parts = {"text": float(text.detach())}
        total = text
        if self.verb is not None and state is not None and verbs is not None and (verbs >= 0).any():
            g = self.config.grid**2
            patch_h = h[:, n_pre - self.config.keys : n_pre - self.config.keys + g]
            vl = self.verb_logits(h[:, n_pre - 1], patch_h, marks, state)
            vloss = F.cross_entropy(vl[verbs >= 0], verbs[verbs >= 0])
            total = total + vloss
            parts["verb"] = float(vloss.detach())
        if self.span is not None and span_query is not None and (span_query >= 0).any():
            assert span_start is not None and span_end is not None
            rows = (span_query >= 0).nonzero().flatten()
            q_h = h[rows, n_pre + span_query[rows]]
            page = None if span_page is None else span_page[rows]
            ls, le = self.span_logp(q_h, h[rows, :p], prompts[rows], page)
            hit_s = torch.logsumexp(ls.masked_fill(~span_start[rows], NEG), -1)
            hit_e = torch.logsumexp(le.masked_fill(~span_end[rows], NEG), -1)
            span = -(hit_s + hit_e).mean()
            if self.case is not None and span_case is not None:
                cl = self.case_logits(q_h, prompts[rows])
                fit = span_case[rows]
                hit_c = torch.logsumexp(cl.masked_fill(~fit, NEG), -1) - torch.logsumexp(cl, -1)
                span = span - hit_c.mean()
            total = total + span
            parts["span"] = float(span.detach())
        if self.submit is not None and span_close is not None and (span_close >= 0).any():
            assert span_submit is not None
            rows = (span_close >= 0).nonzero().flatten()
            sl = self.submit_logit(h[rows, n_pre + span_close[rows]], prompts[rows])
            sub = F.binary_cross_entropy_with_logits(sl, span_submit[rows].float())
            total = total + sub
            parts["submit"] = float(sub.detach())
        answering = None
        if self.answer is not None and answer_label is not None and (answer_label >= 0).any():
            rows = (answer_label >= 0).nonzero().flatten()
            al = self.answer_logit(h[rows, n_pre + ANSWER_AT], prompts[rows])
            ans = F.binary_cross_entropy_with_logits(al, answer_label[rows].float())
            total = total + ans
            parts["answer"] = float(ans.detach())
            answering = answer_label == 1
        where = targets == POINT
        if where.any():
            nk = self.config.keys
            ph = h[:, n_pre:][where]
            rows = where.nonzero()[:, 0]
            kv = valid[rows, n_pre - nk : n_pre]
            st = None if state is None else state[rows]
            cols = where.nonzero()[:, 1]
            is_ans = None if answering is None else answering[rows] & (cols == ANSWER_AT + 1)
            plog, poff = self._pointer(
                ph, h[rows, n_pre - nk : n_pre], kv, words.feats[rows], st, is_ans,
                words.boxes[rows],
            )  # fmt: skip
            # any target slot is a hit: maximise the probability mass on the target's slots
            logp = F.log_softmax(plog, -1)
            ptr = -torch.logsumexp(logp.masked_fill(ptr_dist <= 0, NEG), -1).mean()
            has = ptr_cell >= 0
            off = torch.zeros((), device=x.device)
            if has.any():
                chosen = poff[has, ptr_cell[has]].float()
                off = F.l1_loss(chosen, ptr_off[has])
            total = total + ptr + off
            parts |= {"pointer": float(ptr.detach()), "offset": float(off.detach())}
        return total, parts

    def _cell_states(self, on: Tensor, boxes: Tensor) -> Tensor:
        """(N, K, 2) slot features, (N, K, 4) slot boxes (canvas px) -> (N, G, 2): for each patch,
        the largest of each feature among the slots whose centre lies on it."""
        c = self.config
        col = ((boxes[..., 0] + boxes[..., 2] / 2) / c.stride).long().clamp(0, c.grid - 1)
        row = ((boxes[..., 1] + boxes[..., 3] / 2) / c.stride).long().clamp(0, c.grid - 1)
        idx = (row * c.grid + col)[..., None].expand(-1, -1, on.shape[-1])
        out = torch.zeros(on.shape[0], c.grid**2, on.shape[-1], dtype=on.dtype, device=on.device)
        return out.scatter_reduce(1, idx, on, "amax")

    def lm_head(self, h: Tensor) -> Tensor:
        return h @ self.embed.weight.T

    def next_logp(self, h: Tensor, prompt_h: Tensor, prompts: Tensor) -> Tensor:
        """Log-probabilities of the next token (B, T, V) from states h (B, T, W): the LM head's
        distribution mixed with a copy distribution over the prompt's bytes (attention from h to
        the prompt states, ``prompt_h`` (B, P, W)), weighted by a learned gate. Copying is how
        ``type("tara39")`` gets the user name from the goal byte for byte."""
        lm = F.softmax(self.lm_head(h).float(), -1)
        att = torch.einsum("btd,bpd->btp", self.copy_q(h), self.copy_k(prompt_h)).float()
        att = att / math.sqrt(self.config.pointer_dim)
        copyable = (prompts < N_BYTES)[:, None, :]
        att = att.masked_fill(~copyable, NEG).softmax(-1) * copyable
        ids = prompts.clamp(max=VOCAB_SIZE - 1)[:, None, :].expand(-1, h.shape[1], -1)
        copy = torch.zeros_like(lm).scatter_add_(2, ids, att)
        gate = torch.sigmoid(self.copy_gate(h).float())
        return torch.log((gate * lm + (1 - gate) * copy).clamp(min=1e-9))

    # --- inference ----------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        images: Tensor,
        prompts: Tensor,
        words: WordSlots,
        max_new: int,
        grammar: ActionGrammar | None = None,
        marks: Tensor | None = None,
        state: Tensor | None = None,
        groups: Sequence[int] | None = None,
        span_page: Tensor | None = None,
        avoid: Sequence[Sequence[tuple[float, float, float, float]]] | None = None,
        no_done: Sequence[bool] | None = None,
        hold: Sequence[Hold | None] | None = None,
        typed: Sequence[Sequence[str]] | None = None,
        find: Sequence[Find | None] | None = None,
    ) -> list[Decoded]:
        """Greedy decoding (see the module contract). With a verb head, a grammar and ``state``,
        the head picks each answer's action name and decoding writes it: rows with the same
        ``groups`` entry (tiles of one page; default: each row alone) share one choice, the verb
        of highest mean probability over them among those the grammar allows. ``span_page``
        (B, P, N_PAGE_FLAGS): the page facts of the span votes (``config.span_page``). ``find``
        (``config.scroll_find``): per row its page's find facts given the value it types next
        (``find.find_facts``); a group the verb head gives to click() scrolls when the
        scroll-find head says so."""
        x, valid = self._prefix(images, prompts, words, marks)
        n_pre, nk, g = x.shape[1], self.config.keys, self.config.grid**2
        h, caches = self._run(x, valid)
        key_h, key_valid = h[:, n_pre - nk :], valid[:, n_pre - nk :]
        prompt_h = h[:, : prompts.shape[1]]
        b = x.shape[0]
        out: list[Decoded] = [Decoded([], [], 0.0) for _ in range(b)]
        logps: list[list[float]] = [[] for _ in range(b)]
        done = torch.zeros(b, dtype=torch.bool, device=h.device)
        last = h[:, -1]
        past = valid
        max_new = min(max_new, self.config.max_target_tokens)
        states = [grammar.start() for _ in range(b)] if grammar else []
        forced: list[list[int]] = [[] for _ in range(b)]
        answering = [False] * b  # rows whose done( the answer head answers with a point
        no_point = [False] * b  # rows whose done( it answers without one
        pages = groups or list(range(b))
        left: list[int] | None = None  # type_plan: type() steps still to come, per row
        plans: list[Plan] | None = None
        used: list[list[str]] = [[] for _ in range(b)]  # values the look-ahead passes over
        again: list[list[str]] = [[] for _ in range(b)]  # values a type() repeats one of
        if self.type_plan is not None and typed is not None:
            heads = list({pages[r]: r for r in reversed(range(b))}.values())  # a group's first
            found = self.typing_plan(prompts[heads])
            of_group = {pages[r]: p for r, p in zip(heads, found, strict=True)}
            plans = [of_group[pages[r]] for r in range(b)]  # tiles of a page share its goal
            used = [p.used(t) for p, t in zip(plans, typed, strict=True)]
            again = [p.again(t) for p, t in zip(plans, typed, strict=True)]
            left = [p.left(t) for p, t in zip(plans, typed, strict=True)]
            typing = [n > 0 and bool(t) for n, t in zip(left, typed, strict=True)]  # midway
            no_done = [a or bool(no_done and no_done[r]) for r, a in enumerate(typing)]
        if grammar is not None and self.verb is not None and state is not None:
            vl = self.verb_logits(last, key_h[:, :g], marks, state)
            forced = self._choose_verbs(vl, grammar, pages, no_done)
        held = [Keep() for _ in range(b)]
        values: dict[int, list[str]] = {}  # per group, the value it types next
        if hold is not None and self.type_ahead is not None and self.span is not None:
            held = self._type_ahead(
                forced, hold, pages, prompts, prompt_h, past, caches, span_page, left, used,
                values,
            )  # fmt: skip
        if find is not None and self.scroll_find is not None and grammar is not None:
            self._scroll_to_find(forced, held, find, pages, prompts, values, grammar)
        for _ in range(max_new):
            lp = self.next_logp(last[:, None], prompt_h, prompts)[:, 0]
            if grammar:
                allowed = torch.stack([grammar.allowed(st) for st in states]).to(lp.device)
                for r in range(b):
                    if no_point[r]:
                        allowed[r, POINT] = False
                tok = lp.masked_fill(~allowed, -math.inf).argmax(-1)
                for r in range(b):
                    if forced[r]:
                        tok[r] = forced[r].pop(0)
                states = [grammar.advance(st, int(t)) for st, t in zip(states, tok, strict=True)]
            else:
                tok = lp.argmax(-1)
            tok[done] = PAD
            tok_in = torch.where(done, torch.full_like(tok, EOS), tok)
            step_valid = ~done[:, None]
            hs, caches = self._run(self.embed(tok_in)[:, None], step_valid, past, caches)
            past = torch.cat([past, step_valid], 1)
            last = hs[:, 0]
            if self.span is not None and states:  # a type() value is picked whole, per page
                opening = [r for r in range(b) if not forced[r] and _opens_type(states[r])]
                for group in dict.fromkeys(pages[r] for r in opening):
                    rows = [r for r in opening if pages[r] == group]
                    room = max_new - max(len(out[r].ids) for r in rows) - _TYPE_TAIL
                    value = self._span_value(
                        last[rows],
                        prompt_h[rows],
                        prompts[rows[0]],
                        room,
                        None if span_page is None else span_page[rows],
                        only=again[rows[0]],
                    )
                    for r in rows:
                        forced[r] = list(value)
            for r in range(b):
                if self.answer is not None and states and not forced[r] and _opens_done(states[r]):
                    point = float(self.answer_logit(last[r][None], prompts[r][None])[0]) > 0
                    answering[r], no_point[r] = point, not point
                    forced[r] = [POINT, _CLOSE] if point else []
                elif (
                    self.submit is not None and states and not forced[r] and _closes_type(states[r])
                ):
                    more = left is not None and left[r] > 1  # another value after this one
                    said = float(self.submit_logit(last[r][None], prompts[r][None])[0])
                    if plans is not None:  # the goal's word and the submit head's together
                        said += plans[r].enter
                    press = not more and said > 0
                    forced[r] = list(b", submit=true)" if press else b")")
            is_pt = (tok == POINT).nonzero().flatten().tolist()
            if is_pt:
                plog, poff = self._pointer(
                    last[is_pt],
                    key_h[is_pt],
                    key_valid[is_pt],
                    words.feats[is_pt],
                    None if state is None else state[is_pt],
                    torch.tensor([answering[r] for r in is_pt], device=last.device),
                    words.boxes[is_pt],
                )
                logp = plog.float().log_softmax(-1)
                prob = logp.exp()
                for j, r in enumerate(is_pt):
                    keep = Keep() if answering[r] else held[r]
                    boxes = [] if answering[r] else [*(avoid[r] if avoid else ()), *keep.off]
                    k, into = self._best_candidate(
                        logp[j, :-1], poff[j], words.boxes[r], boxes, keep.on
                    )
                    feats: tuple[float, ...] = ()
                    if k < g:
                        ox, oy = poff[j, k].float().tolist()
                        px, py = cell_point(k, (ox, oy), self.config)
                    else:
                        bx, by, bw, bh = words.boxes[r, k - g].float().tolist()
                        px, py = bx + bw / 2, by + bh / 2
                        feats = tuple(words.feats[r, k - g].float().tolist())
                    conf, peak = 1.0 - float(prob[j, -1]), float(prob[j, k])
                    out[r].points.append(PointGuess(px, py, conf, peak, feats, into))
            for r in range(b):
                if not done[r]:
                    out[r].ids.append(int(tok[r]))
                    if tok[r] != POINT:
                        logps[r].append(float(lp[r, tok[r]]))
            done |= tok == EOS
            if bool(done.all()):
                break
        return [
            Decoded(o.ids, o.points, sum(lp_) / len(lp_) if lp_ else 0.0)
            for o, lp_ in zip(out, logps, strict=True)
        ]

    def _scroll_to_find(
        self,
        forced: list[list[int]],
        held: list[Keep],
        find: Sequence[Find | None],
        groups: Sequence[int],
        prompts: Tensor,
        values: dict[int, list[str]],
        grammar: ActionGrammar,
    ) -> None:
        """``ModelConfig.scroll_find``: each group whose rows the verb head gave ``click(``
        writes ``scroll(`` instead (its rows' click rules dropped) when the scroll-find head
        says so of its first row's find facts, read with the value the group types next (the
        look-ahead's, in ``values``; none when it did not run)."""
        if _SCROLL_OPEN not in grammar.calls:
            return
        firsts = {
            groups[r]: r
            for r in reversed(range(len(forced)))
            if bytes(forced[r]) == b"click(" and find[r] is not None
        }
        if not firsts:
            return
        rows = list(firsts.values())
        facts = []
        for r in rows:
            fn = find[r]
            assert fn is not None
            facts.append(fn(values.get(groups[r], [])))
        says = self.find_logit(prompts[rows], torch.stack(facts)).tolist()
        for r, logit in zip(rows, says, strict=True):
            if logit <= 0:
                continue
            for k in range(len(forced)):
                if groups[k] == groups[r]:
                    forced[k] = list(_SCROLL_OPEN)
                    held[k] = Keep()

    def _type_ahead(
        self,
        forced: Sequence[Sequence[int]],
        hold: Sequence[Hold | None],
        groups: Sequence[int],
        prompts: Tensor,
        prompt_h: Tensor,
        past: Tensor,
        caches: list[tuple[Tensor, Tensor]],
        span_page: Tensor | None,
        left: Sequence[int] | None = None,
        used: Sequence[Sequence[str]] = (),
        values: dict[int, list[str]] | None = None,
    ) -> list[Keep]:
        """Per row, where its click goes (``ModelConfig.type_ahead``): for a row with a
        ``hold`` whose verb is ``click(`` and whose goal the head says types, what ``hold``
        says of the value the span head would type after ``type("`` (decoded from the
        prefix's caches, which stay as they are) on the first such row of its group (one
        look-ahead per page: a 1280x800 page is 40 tiles); anywhere (``Keep()``) for every
        other row. ``values``, when given, gets per group the value its look-ahead read."""
        out = [Keep() for _ in range(len(forced))]
        rows = [r for r, h in enumerate(hold) if h is not None and bytes(forced[r]) == b"click("]
        if not rows:
            return out
        says = self.types_logit(prompts[rows]).tolist()
        rows = [r for r, t in zip(rows, says, strict=True) if t > 0]
        if left is not None:  # once every value is typed, the click goes where it will
            rows = [r for r in rows if left[r] > 0]
        firsts = list({groups[r]: r for r in reversed(rows)}.values())  # each group's first
        if not firsts:
            return out
        ids = torch.tensor(list(_TYPE_OPEN), device=prompts.device)
        x = self.embed(ids)[None].expand(len(firsts), -1, -1)
        valid = torch.ones(len(firsts), len(_TYPE_OPEN), dtype=torch.bool, device=prompts.device)
        sub = [(k[firsts], v[firsts]) for k, v in caches]
        hs, _ = self._run(x, valid, past[firsts], sub)
        for j, f in enumerate(firsts):
            page = None if span_page is None else span_page[f]
            value = self._span_value(
                hs[j, -1][None],
                prompt_h[f][None],
                prompts[f],
                _SPAN_ROOM,
                None if page is None else page[None],
                used[f] if used else (),
            )
            if not value:
                continue
            said = bytes(value[:-1]).decode("utf-8", errors="ignore")
            if values is not None:
                values[groups[f]] = [said]
            for r in rows:
                fn = hold[r]
                if groups[r] == groups[f] and fn is not None:
                    out[r] = fn(said)
        return out

    def _best_candidate(
        self,
        logp: Tensor,
        off: Tensor,
        boxes: Tensor,
        avoid: Sequence[Box],
        within: Sequence[Box] = (),
    ) -> tuple[int, bool]:
        """The pointer's choice among a row's candidates (logp (G+K,) their log-probabilities,
        off (G, 2) the patches' offsets, boxes (K, 4) the word slots'): the most probable, or
        with boxes to ``avoid`` the most probable whose point (a patch's ``cell_point``, a
        word's centre) lies outside all of them, when there is one (a padding slot is none);
        with boxes ``within``, first the most probable such point inside one of those (then
        the flag is True). Log space: a confident pointer's probabilities elsewhere underflow
        to 0 in float32. With ``ModelConfig.inner_outline`` a chosen word slot whose box holds
        smaller slots gives way to the most probable of those within ``INNER_NATS`` of it
        (``_inner``)."""
        if not avoid and not within:
            return self._inner(int(logp.argmax()), logp, boxes, logp > NEG / 2), False
        g, c = self.config.grid**2, self.config
        cells = torch.arange(g, device=logp.device)
        px = ((cells % c.grid).float() + off[:, 0].float()) * c.stride
        py = ((cells // c.grid).float() + off[:, 1].float()) * c.stride
        b = boxes.float()
        xs = torch.cat([px, b[:, 0] + b[:, 2] / 2])
        ys = torch.cat([py, b[:, 1] + b[:, 3] / 2])

        def inside(some: Sequence[Box]) -> Tensor:
            out = torch.zeros_like(logp, dtype=torch.bool)
            for x, y, w, h in some:
                out |= (xs >= x) & (xs <= x + w) & (ys >= y) & (ys <= y + h)
            return out

        real = logp > NEG / 2  # a padding word slot's logit is NEG
        rest = logp.masked_fill(inside(avoid) | ~real, -math.inf)
        into = rest.masked_fill(~inside(within), -math.inf) if within else rest
        if within and bool(torch.isfinite(into).any()):
            return self._inner(int(into.argmax()), logp, boxes, torch.isfinite(into)), True
        if bool(torch.isfinite(rest).any()):
            return self._inner(int(rest.argmax()), logp, boxes, torch.isfinite(rest)), False
        return int(logp.argmax()), False

    def _inner(self, k: int, logp: Tensor, boxes: Tensor, allowed: Tensor) -> int:
        """``ModelConfig.inner_outline``: when candidate ``k`` is a word slot whose box holds
        other ``allowed`` word slots' boxes (a card's or a form row's outline around a field
        and a button, whose centre may be the gap between them), the most probable of those
        no more than ``INNER_NATS`` less probable than ``k``; else ``k``."""
        g = self.config.grid**2
        if not self.config.inner_outline or k < g:
            return k
        x, y, w, h = boxes[k - g].float().tolist()
        b = boxes.float()
        held = (
            (b[:, 0] >= x - 1)
            & (b[:, 1] >= y - 1)
            & (b[:, 0] + b[:, 2] <= x + w + 1)
            & (b[:, 1] + b[:, 3] <= y + h + 1)
            & (b[:, 2] * b[:, 3] < 0.8 * w * h)
        )
        near = allowed[g:] & held & (logp[g:] >= float(logp[k]) - INNER_NATS)
        if not bool(near.any()):
            return k
        return g + int(logp[g:].masked_fill(~near, -math.inf).argmax())

    def _span_value(
        self,
        q_h: Tensor,
        prompt_h: Tensor,
        prompt: Tensor,
        room: int,
        page: Tensor | None,
        passed: Collection[str] = (),
        only: Collection[str] = (),
    ) -> list[int]:
        """The bytes to write after ``type("`` (the value and its closing quote) for the rows of
        one page (``q_h`` (R, W) their states at the opening quote, ``prompt_h`` (R, P, W),
        ``page`` (R, P, N_PAGE_FLAGS) or None; ``prompt`` (P,) their one prompt): of the goal's
        candidate spans (``spans.candidate_spans``) no longer than ``room``, the one with the
        highest log P(start) + log P(end), averaged over the rows (a page's tiles type one
        value: each tile choosing its own, the page's answer was the tile whose decoder liked
        its bytes best, which for a two-word value is rarely the tile that chose it whole); its
        letter case likewise. [] (decode freely) when none fits. Values ``passed`` (case-folded)
        are passed over, spans overlapping them too; with ``only``, only spans saying one of
        those are chosen; either when any span is left."""
        base, text = prompt_bytes(prompt.tolist())
        spans = [(s, e) for s, e in candidate_spans(text) if e - s <= room]
        used = _typed_ranges(text, passed)
        fresh = [(s, e) for s, e in spans if not any(s < b and a < e for a, b in used)]
        spans = fresh or spans
        wanted = set(map(_said, only))
        same = [(s, e) for s, e in spans if _folded(text[s:e]) in wanted]
        spans = same or spans
        if not spans:
            return []
        rows = prompt[None].expand(q_h.shape[0], -1)
        ls, le = self.span_logp(q_h, prompt_h, rows, page)
        score = [float((ls[:, base + s] + le[:, base + e]).mean()) for s, e in spans]
        s, e = self._whole(text, spans[max(range(len(spans)), key=score.__getitem__)], spans)
        value = text[s:e]
        if self.case is not None:
            value = in_case(value, CASES[int(self.case_logits(q_h, rows).mean(0).argmax())])
        return [*value, _QUOTE]

    def _whole(
        self, text: bytes, span: tuple[int, int], spans: Collection[tuple[int, int]]
    ) -> tuple[int, int]:
        """``ModelConfig.whole_phrase``: the chosen span carried on to its phrase's end
        (``spans.whole_phrase``) when that is one of the candidate ``spans`` too."""
        if not self.config.whole_phrase:
            return span
        whole = whole_phrase(text, *span)
        return whole if whole in spans else span

    @staticmethod
    def _choose_verbs(
        logits: Tensor,
        grammar: ActionGrammar,
        groups: Sequence[int],
        no_done: Sequence[bool] | None = None,
    ) -> list[list[int]]:
        """Verb logits (B, V) -> per row the bytes to write first: ``verb(``, one verb per group;
        never ``done(`` for a row of ``no_done``."""
        ok = torch.tensor([f"{v}(".encode() in grammar.calls for v in VERBS])
        if not ok.any():  # a grammar of verbs the head does not know: the text decides
            return [[] for _ in range(logits.shape[0])]
        prob = logits.softmax(-1)
        out: list[list[int]] = []
        for r in range(logits.shape[0]):
            rows = [k for k, gr in enumerate(groups) if gr == groups[r]]
            mean = prob[rows].mean(0).masked_fill(~ok.to(prob.device), -1.0)
            if no_done is not None and no_done[r] and int((mean >= 0).sum()) > 1:
                mean[VERBS.index("done")] = -1.0  # (unless done is all the grammar allows)
            out.append(list(f"{VERBS[int(mean.argmax())]}(".encode()))
        return out
