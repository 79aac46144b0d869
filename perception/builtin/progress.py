"""What the goal names on the page that earlier clicks have not reached yet: facts for the verb head.

Contract:
- ``page_progress(prompt, scored, outlines, config)`` -> a ``(N_PROGRESS,)`` float tensor from
  the prompt (goal and history lines, as ``policy.prompt_state`` reads them: the callers pass
  ``data.compact_prompt``'s text, which drops the agent's ``URL:`` and ``Title:`` lines that
  training prompts lack; "Title: Click Tab Task" made "tab" the token the goal named last),
  the page's words with their match features (``words.score_words``, CSS px, the whole page)
  and the page's control outlines (``proposals.page_proposals``, or None without them). The
  same function runs on the same inputs at training (``data.make_example``) and at run time
  (``predict.Predictor``), once per page: every tile of a page gets the same facts.
- Goal tokens that count: the goal's tokens (``words.goal_tokens``) of two or more characters,
  not a function word (``spans.FUNCTION_WORDS``) and not in a value the history typed (a typed
  value shows in its field afterwards, but it was typed, not clicked).
- On the page: the words that hold such a token, except those on a line that echoes the
  goal (four distinct goal tokens that count, and three quarters of the line's tokens the
  goal's: a task page that repeats its instruction, or ``words.echo_goal``'s augmentation).
- Reached: a token is reached when an earlier click (``marks.history_clicks``: since the newest
  scroll, drag or navigation) lies inside a word that holds it, or inside an outline whose
  features come from such a word (``words.outline_words``: a button's caption, a tick box's
  label, a text field's label; a click that no outline holds, on a typed value or right of it
  on its line, reaches that value's field label, ``words.field_label``: a field drawn as a
  line has no outline; a click that reaches no word that way reaches the label right of it,
  ``words.tick_label`` of a 16 px box around it: a switch or a tick box no outline found).
- ``mark_progress(prompt, scored, outlines, config)`` -> the same words with two of their
  match features set from these facts (``ModelConfig.reached_words``): ``words.REACHED``, an
  earlier click reached the word; ``words.PENDING``, the goal names it after a control's word
  on the page that no click reached. The tile rule ``predict.by_next_word`` reads them.
- ``step_state(prompt, scored, outlines, config)`` -> the verb head's ``(config.state_size,)``
  input: ``policy.prompt_state``, then with ``config.progress_state`` these facts.
- ``page_inputs(prompt, scored, outlines, config)`` -> a ``PageRead``: both, the words and the
  state, for the model of ``config``, reading the page's progress once (what training and run
  time call), and for the span head's page flags (``spans.page_flags``,
  ``ModelConfig.span_page``) the goal tokens that count on the page but in a block of lines
  that names four of them in prose, two function words or more (a task page's instruction
  wrapped over lines, which no line's echo rule catches: MiniWoB++'s "Enter the username
  "karrie" and the / password "AU" into ..." names the value "AU" too; ``_named``), and those
  the latest click (the newest step's or not: ``click, key(Control+a), type`` types into the
  field clicked) reached.
- Facts: how many page tokens are not reached (one-hot 0, 1, 2, 3 or more), how many are
  (the same), whether the newest step's click reached any, whether it reached the one the goal
  names last among those on the page ("... then press Go") with none of them left unreached
  (since 2026-11-28: "Choose Approve from the Payroll menu" names Payroll last, and the click
  on it opens the menu where Approve waits; the verb head, trained when the fact left that
  out, said done() there), and how many unreached page tokens the goal names after the newest
  click's (one-hot 0, 1, 2 or more).

Why: the verb head decided ``done()`` from the decoder's state at the answer's first token and
the history's counts (``policy``), and a fine-tune of the word slots moved those states: the
checkbox goals and MiniWoB++'s click-tab-2 ended with done() before their last click
(docs/BUILTIN.md "Runs 47-50"). Whether the page still shows something the goal names and no
click has reached is free to compute, does not move when the decoder does, and is the question
``done()`` answers. Nothing here is learned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from perception.builtin.config import ModelConfig
from perception.builtin.marks import history_clicks
from perception.builtin.policy import one_hot, prompt_state, typed_in
from perception.builtin.reader import Word
from perception.builtin.spans import FUNCTION_WORDS
from perception.builtin.words import (
    ORDER,
    PENDING,
    REACHED,
    GoalTokens,
    Scored,
    field_label,
    goal_tokens,
    outline_words,
    tick_label,
    tokens,
)

N_PROGRESS = 4 + 4 + 1 + 1 + 3
_FUNCTION = frozenset(w.decode() for w in FUNCTION_WORDS)
ECHO_TOKENS = 4  # a line with this many distinct goal words that count ...
ECHO_SHARE = 0.75  # ... and this share of goal tokens repeats the goal
_BLOCK_GAP = 0.3  # lines this share of their height apart, or closer, are one block of text
_HIT_MARGIN = 2.0  # CSS px around a word that a click may miss it by
_SPOT = 16.0  # a click that hits no word and no outline: a tick box this size around it


def _echo_lines(scored: Sequence[Scored], g: GoalTokens) -> set[tuple[float, float]]:
    """The lines (``(y, h)`` keys, as ``words.line_shares`` groups them) that echo the goal:
    four distinct goal words that count (not a radio button's label "O Twice a week", whose
    "O" is its button and "a" a function word) and three quarters of the line's tokens."""
    counted = _counted(g)
    lines = {k: [t for w in ws for t in tokens(w.text)] for k, ws in _lines(scored).items()}
    return {
        k
        for k, toks in lines.items()
        if len(set(toks) & counted) >= ECHO_TOKENS
        and sum(t in g.goal for t in toks) >= ECHO_SHARE * len(toks)
    }


def _lines(scored: Sequence[Scored]) -> dict[tuple[float, float], list[Word]]:
    """The words by line: the ``(y, h)`` keys ``words.line_shares`` groups them by."""
    lines: dict[tuple[float, float], list[Word]] = defaultdict(list)
    for w, _ in scored:
        lines[(w.y, w.h)].append(w)
    return lines


def _counted(g: GoalTokens, typed: frozenset[str] | set[str] = frozenset()) -> set[str]:
    """The goal's tokens that count: two or more characters, no function word, not typed."""
    return {t for t in g.goal if len(t) >= 2 and t not in _FUNCTION and t not in typed}


def _typed_value(x: float, y: float, page: Sequence[Scored], typed: set[str]) -> list[Word]:
    """The typed value a click at (x, y) lies on or right of, on its line (a text field drawn
    with no outline shows it at its left): the nearest such word, or none."""
    level = [
        w
        for w, _ in page
        if (toks := tokens(w.text))
        and set(toks) <= typed
        and w.y - _HIT_MARGIN <= y <= w.y + w.h + _HIT_MARGIN
        and w.x - _HIT_MARGIN <= x
    ]
    return sorted(level, key=lambda w: max(0.0, x - w.x - w.w))[:1]


@dataclass(frozen=True)
class _Progress:
    """One page's progress, read once (``_progress``) for the facts and the word flags."""

    goal: GoalTokens
    page: list[Scored]  # the page's words but the goal-echo lines'
    on_page: set[str]  # goal tokens that count, on the page
    reached: set[str]  # of those, the ones earlier clicks reached
    newest: set[str]  # of those, the ones the newest step's click reached
    latest: set[str]  # of those, the ones the latest click reached (the newest step's or not)
    hit: set[Word]  # every word an earlier click reached


def page_progress(
    prompt: str, scored: Sequence[Scored], outlines: Sequence[Word] | None, config: ModelConfig
) -> Tensor:
    """The page's progress facts (see the module contract), ``(N_PROGRESS,)``."""
    return _facts(_progress(prompt, scored, outlines, config))


def progress_tokens(
    prompt: str, scored: Sequence[Scored], outlines: Sequence[Word] | None, config: ModelConfig
) -> tuple[set[str], set[str], set[str]]:
    """The goal tokens that count on the page, those earlier clicks reached, and those the
    newest step's click reached (see the module contract)."""
    p = _progress(prompt, scored, outlines, config)
    return p.on_page, p.reached, p.newest


def mark_progress(
    prompt: str, scored: Sequence[Scored], outlines: Sequence[Word] | None, config: ModelConfig
) -> list[Scored]:
    """``scored`` with two word features set, for ``ModelConfig.reached_words``:
    ``words.REACHED``, 1 on each word an earlier click reached (the same reach as the facts':
    the word clicked, an outline's caption or label, a field's label through its typed value, a
    bare tick box's label), and ``words.PENDING``, 1 on each word the goal names later than a
    token on the page that no click reached (a word the goal does not name: later than all), so
    a tile that shows "Go" but not the unticked "Gift wrap" the goal names before it can still
    tell Go is not next. With outlines, only the words of a control (an outline's caption or
    label, ``words.outline_words``) hold others back: a group's heading ("How often?") is named
    but never clicked. Outlines joined afterwards (``words.join_proposals``) take REACHED from
    the words they hold or their label (any), PENDING from them all (``words``' ``_inherit``):
    "Gift wrap" is pending only if "Gift" is."""
    return _mark(_progress(prompt, scored, outlines, config), scored, outlines, config)


def step_state(
    prompt: str, scored: Sequence[Scored], outlines: Sequence[Word] | None, config: ModelConfig
) -> Tensor:
    """The verb head's input facts of one step (see the module contract)."""
    if not config.progress_state:
        return prompt_state(prompt)
    return _state(prompt, _progress(prompt, scored, outlines, config))


class PageRead(NamedTuple):
    words: list[Scored]  # mark_progress's with reached_words, else the words as scored
    state: Tensor  # step_state's
    named: frozenset[str]  # goal tokens that count, on the page but echo blocks (span_page)
    focus: frozenset[str]  # of those, the ones the latest click reached


def page_inputs(
    prompt: str, scored: Sequence[Scored], outlines: Sequence[Word] | None, config: ModelConfig
) -> PageRead:
    """What a model of ``config`` reads of one page beside its pixels, the page's progress read
    once: its words (``mark_progress``'s with ``reached_words``, else ``scored``), the step's
    state (``step_state``) and the tokens of the span head's page flags (``span_page``).
    ``data.make_example`` and ``predict.Predictor`` call this."""
    if not (config.progress_state or config.reached_words or config.span_page):
        return PageRead(list(scored), prompt_state(prompt), frozenset(), frozenset())
    p = _progress(prompt, scored, outlines, config)
    words = _mark(p, scored, outlines, config) if config.reached_words else list(scored)
    state = _state(prompt, p) if config.progress_state else prompt_state(prompt)
    if not config.span_page:  # nothing reads them
        return PageRead(words, state, frozenset(), frozenset())
    return PageRead(words, state, frozenset(_named(p, scored)), frozenset(p.latest))


def _state(prompt: str, p: _Progress) -> Tensor:
    return torch.cat([prompt_state(prompt), _facts(p)])


def _facts(p: _Progress) -> Tensor:
    left = p.on_page - p.reached
    order = p.goal.order
    last = min(p.on_page, key=lambda t: (order[t], t)) if p.on_page else None
    after = sum(order[t] < min(order[n] for n in p.newest) for t in left) if p.newest else 0
    feats = one_hot(min(len(left), 3), 4) + one_hot(min(len(p.reached), 3), 4)
    feats += [float(bool(p.newest)), float(last is not None and last in p.newest and not left)]
    feats += one_hot(min(after, 2), 3) if p.newest else [0.0] * 3
    assert len(feats) == N_PROGRESS
    return torch.tensor(feats, dtype=torch.float32)


def _mark(
    p: _Progress, scored: Sequence[Scored], outlines: Sequence[Word] | None, config: ModelConfig
) -> list[Scored]:
    left = p.on_page - p.reached
    if outlines is not None:  # only a control's words hold the rest back (no heading)
        left &= _control_tokens(p, outlines, config)
    first_left = max((p.goal.order[t] for t in left), default=None)
    out: list[Scored] = []
    for w, wf in scored:
        f = list(wf)
        f[REACHED] = float(w in p.hit)
        f[PENDING] = float(first_left is not None and wf[ORDER] < first_left)
        out.append((w, f))
    return out


def _named(p: _Progress, scored: Sequence[Scored]) -> set[str]:
    """``p.on_page`` less the words of a block of two or more lines (each starting at most
    ``_BLOCK_GAP`` of its height below the one above, their spans overlapping) holding
    ``ECHO_TOKENS`` distinct goal words that count and two function words: a goal echoed over
    several lines, in prose (a compact form's labels and placeholders, "Nickname / Nickname /
    Full name / Full name / Join", lie as close but hold no function word). The blocks are made
    of all of ``scored``'s lines, echo lines too: "Enter an item that starts with / "Guer"."
    ends on a line of its own."""
    blocks: list[list[list[Word]]] = []  # blocks of lines
    last: tuple[float, float, float, float] | None = None  # y + h, h, x0, x1 of the line above
    for (y, h), ws in sorted(_lines(scored).items()):
        x0, x1 = min(w.x for w in ws), max(w.x + w.w for w in ws)
        if last is not None and y - last[0] <= _BLOCK_GAP * h and x0 < last[3] and last[2] < x1:
            blocks[-1].append(ws)
        else:
            blocks.append([ws])
        last = (y + h, h, x0, x1)
    counted = _counted(p.goal)
    echo: set[Word] = set()
    for b in blocks:
        toks = [t for line in b for w in line for t in tokens(w.text)]
        prose = sum(t in _FUNCTION for t in toks) >= 2
        if len(b) >= 2 and prose and len(set(toks) & counted) >= ECHO_TOKENS:
            echo.update(w for line in b for w in line)
    return {t for w, _ in p.page if w not in echo for t in tokens(w.text)} & p.on_page


def _control_tokens(p: _Progress, outlines: Sequence[Word], config: ModelConfig) -> set[str]:
    """The tokens of the page's controls' words: an outline's caption or label."""
    held = (outline_words(o, p.page, config, labels=True) or () for o in outlines)
    return {t for inside in held for w, _ in inside for t in tokens(w.text)}


def _progress(
    prompt: str, scored: Sequence[Scored], outlines: Sequence[Word] | None, config: ModelConfig
) -> _Progress:
    g = goal_tokens(prompt)
    typed = {t for line in prompt.splitlines() if (v := typed_in(line)) for t in tokens(v)}
    echo = _echo_lines(scored, g)
    page = [(w, wf) for w, wf in scored if (w.y, w.h) not in echo]
    on_page = {t for w, _ in page for t in tokens(w.text)} & _counted(g, typed)
    reached: set[str] = set()
    newest: set[str] = set()
    latest: set[str] = set()
    hit: set[Word] = set()
    for x, y, is_newest in history_clicks(prompt):
        got_words = _reached_by(x, y, page, outlines, typed, config)
        hit |= got_words
        latest = {t for w in got_words for t in tokens(w.text)} & on_page
        reached |= latest
        if is_newest:
            newest = latest
    return _Progress(g, page, on_page, reached, newest, latest, hit)


def _reached_by(
    x: float,
    y: float,
    page: Sequence[Scored],
    outlines: Sequence[Word] | None,
    typed: set[str],
    config: ModelConfig,
) -> set[Word]:
    """The words of ``page`` a click at (x, y) reaches (see the module contract)."""
    hit = [w for w, _ in page if w.contains(x, y, _HIT_MARGIN)]
    held = [o for o in outlines or () if o.contains(x, y)]
    for o in held:
        hit += [w for w, _ in outline_words(o, page, config, labels=True) or ()]
    if not held:  # a field no outline found (a line under it): its typed value stands for it
        hit += [w for v in _typed_value(x, y, page, typed) for w, _ in field_label(v, page)]
    if not hit:  # a control no outline found (a switch, a bare tick box): its label
        spot = Word("", x - _SPOT / 2, y - _SPOT / 2, _SPOT, _SPOT, 0.0)
        hit = [w for w, _ in tick_label(spot, page)]
    return set(hit)
