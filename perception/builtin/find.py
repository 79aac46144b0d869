"""Scroll to find: whether what the goal names next is off the screen, for the scroll-find head.

Contract:
- ``INSTRUCTION_WORDS``: goal words that say what to do, not what to act on ("press", "fill",
  "box", "tabs", "further"...): the tokens (``words.tokens``) that 5 or more training
  demonstrations' goals name and that their pages show in under 90% of them (a typed value
  left out), measured on the five training sets of run 96 (docs/BUILTIN.md "Scroll to
  find"); ``instruction_words(rows)`` measures them on any demonstrations.
- ``goal_labels(prompt, values)`` -> the goal's tokens that name something on a page: two or
  more characters, no function word (``spans.FUNCTION_WORDS``), no instruction word, none of
  a value the history typed (``policy.typed_values``) nor of ``values`` (those still to type).
- ``find_facts(prompt, words, on_page, reached, values)`` -> ``(N_FIND,)`` facts of one page:
  how many labels no page word holds (absent: not even one character off for a token of
  ``type_ahead.OCR_SLIP`` or more, nor with lookalikes made one, ``1 i | 0`` as ``l l l o``:
  MiniWoB++'s "Select Jl" read "J1"; an echoed instruction's words count as on the page), how
  many are on it with no click reaching them (``on_page`` and ``reached``:
  ``progress.progress_tokens`` with no outlines, the goal tokens that count and those clicks
  since the newest scroll reached), whether some are absent, none is open and the absent are
  half the labels or more (``FIRE``: one label of ten absent is the OCR's miss, as on
  MiniWoB++'s click-checkboxes-large, which then scrolled before its Submit), whether any
  label is on the page, the history's step count, whether its newest step scrolled and how
  many scrolls it has. One-hot counts: 0, 1, 2 or more (steps: 0 to 3 or more).
- ``fit(model, samples, words)`` fits ``model.scroll_find`` alone: logistic regression of
  "the demonstration scrolls here" on every demonstration step whose target is a click or a
  scroll and whose facts say ``FIRE`` (``find_rows``; the head decides between those two
  only, and only there: ``gate``). Its input (``head_input``): ``ModelConfig.scroll_find``
  buckets of the goal's instruction words and their pairs (``model.goal_words`` with
  ``only=INSTRUCTION_WORDS``: the labels and values a goal names land in buckets training
  words weighted, and tipped "Choose Pin from the Payroll menu" to scroll), read only where
  the facts say ``FIRE`` (a form's wording alone tipped a form whose fields were all in view),
  then the facts, read with the step's OCR ``words`` and, as ``values``, the value the
  demonstration types next (as decoding knows it: the span head's second-best span is no
  second value). Full batch from zeros, ``type_ahead``'s fitting steps, seconds; ``judge``
  scores a head on rows (the fit returns its score, gated, on every click and scroll step; no
  ``FIRE`` row: the head stays as it is).
- Decoding (``GazeVLM.generate``'s ``find``): when the verb head chose ``click(`` for a page,
  the head reads the page's facts with the value the goal types next (the type-ahead
  look-ahead's, ``GazeVLM._type_ahead``; none when it did not run) and, where they say
  ``FIRE``, a logit above 0 writes ``scroll(`` instead; the decoder writes where and which
  way. Elsewhere the click stays (``gate``: the head read every page, one label of ten absent
  and the step count tipped click-checkboxes-large to scroll before its Submit).

Why: a sixth of the held-out goals that failed on run 96 named a target below the fold (a
form's field or button, a menu, a list item): the verb head gave scroll 3-36% and the pointer
clicked the nearest word instead ("Find anything" for "find Door mat"). Whether the goal names
something the page does not show is free to read from the OCR and the goal; what the wording
says about it ("Look through the tabs for Merge" looks in other tabs, "Find Payroll further
down" scrolls) the goal-word buckets learn from the demonstrations.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from perception.builtin.marks import history_steps
from perception.builtin.policy import one_hot, typed_values
from perception.builtin.reader import Word
from perception.builtin.spans import FUNCTION_WORDS, goal_end, typed_value
from perception.builtin.words import tokens

if TYPE_CHECKING:
    from perception.builtin.config import ModelConfig
    from perception.builtin.model import GazeVLM
    from tasks.synth.shards import LoadedSample

INSTRUCTION_WORDS = frozenset(
    """press fill click box it type enter input menu choose sign first text dialog look open close
    up select field only else nothing find list log hit put scroll how both turn answer is what
    down does much cost write pop-up dismiss pick under textbox twice second tabs you username
    boxes after tab bottom page further there go use 1st 2nd inside that so can cursor give focus
    fields top set goes all check one case tick see switch until third letters inputs small
    through lower capitals capital lowercase upper uppercase search password submit price
    account device remember forgot bowl camera web""".split()  # noqa: SIM905
)
MIN_GOALS = 5  # instruction_words: a token this many demonstrations name ...
MAX_SHOWN = 0.9  # ... and their pages show in under this share of them
N_FIND = 3 + 3 + 1 + 1 + 4 + 1 + 3
FIRE = 6  # the facts' "some labels absent, half or more, none open"
NO = -30.0  # the head's logit where it is not asked (gate)
_FUNCTION = frozenset(w.decode() for w in FUNCTION_WORDS)


def instruction_words(
    rows: Iterable[tuple[str, Collection[str], Collection[str]]],
) -> frozenset[str]:
    """``rows``: per demonstration its goal, the tokens its pages show (every step's OCR) and
    the tokens of the values it types -> the instruction words (module contract)."""
    named: dict[str, int] = {}
    shown: dict[str, int] = {}
    for goal, page, typed in rows:
        for t in set(tokens(goal)) - set(typed):
            if len(t) >= 2 and t not in _FUNCTION:
                named[t] = named.get(t, 0) + 1
                shown[t] = shown.get(t, 0) + (t in page)
    return frozenset(t for t, n in named.items() if n >= MIN_GOALS and shown[t] < MAX_SHOWN * n)


_LOOKALIKE = str.maketrans("1i|0", "lllo")  # letters the OCR reads for one another


def _fold(token: str) -> str:
    """A token with the OCR's lookalikes made one ("Jl" read "J1", "b2O" read "b20")."""
    return token.translate(_LOOKALIKE)


def goal_labels(prompt: str, values: Sequence[str] = ()) -> set[str]:
    """The goal's tokens that name something on a page (module contract)."""
    skip = {t for v in [*typed_values(prompt), *values] for t in tokens(v)} | {"goal"}
    raw = prompt.encode()
    goal = raw[: goal_end(raw)].decode("utf-8", errors="ignore")  # no "Earlier steps:"
    return {
        t
        for t in tokens(goal)
        if len(t) >= 2 and t not in _FUNCTION and t not in INSTRUCTION_WORDS and t not in skip
    }


def find_facts(
    prompt: str,
    words: Sequence[Word],
    on_page: Collection[str],
    reached: Collection[str],
    values: Sequence[str] = (),
) -> Tensor:
    """One page's facts for the scroll-find head (module contract), ``(N_FIND,)``."""
    from perception.builtin.type_ahead import _read_as

    labels = goal_labels(prompt, values)
    page = {t for w in words for t in tokens(w.text)}
    folded = {_fold(t) for t in page}
    absent = {t for t in labels if not _read_as(t, page) and _fold(t) not in folded}
    open_ = (labels & set(on_page)) - set(reached)
    steps = [m.group(1) for m in history_steps(prompt)]
    scrolls = sum(v == "scroll" for v in steps)
    facts = [
        *one_hot(min(len(absent), 2), 3),
        *one_hot(min(len(open_), 2), 3),
        float(bool(absent) and not open_ and 2 * len(absent) >= len(labels)),
        float(len(absent) < len(labels)),
        *one_hot(min(len(steps), 3), 4),
        float(bool(steps) and steps[-1] == "scroll"),
        *one_hot(min(scrolls, 2), 3),
    ]
    return torch.tensor(facts)


@dataclass(frozen=True)
class FindFit:
    rows: int  # demonstration steps whose target clicks or scrolls (the head fits the FIRE ones)
    scrolls: float  # share of them that scroll
    accuracy: float  # on the rows, after the fit
    recall: float  # of the scrolling rows, the share the head says scroll for
    precision: float  # of the rows the head says scroll for, the share that do
    loss: float


def head_input(prompts: Tensor, facts: Tensor, buckets: int) -> Tensor:
    """The scroll-find head's input: the goal's instruction words and pairs
    (``model.goal_words``, ``buckets``) where the facts say "absent and none open" (``FIRE``),
    zeros elsewhere, then the facts: the wording speaks to a target that is missing only
    ("Look through the tabs for Merge" looks in other tabs)."""
    from perception.builtin.model import goal_words

    bow = goal_words(prompts, buckets, pairs=True, only=INSTRUCTION_WORDS)
    facts = facts.float().cpu()
    return torch.cat([bow * facts[:, FIRE : FIRE + 1], facts], 1)


class FindRows(NamedTuple):
    prompts: Tensor  # (N, P) left-padded prompt ids
    facts: Tensor  # (N, N_FIND)
    scrolls: Tensor  # (N,) 1.0 where the demonstration scrolls


def find_rows(
    config: ModelConfig, samples: Sequence[LoadedSample], words: dict[str, list[Word]]
) -> FindRows:
    """The head's rows: every click or scroll step of the demonstrations of ``samples`` (a
    demonstration: a data folder's page and goal; a screenshot listed twice counts once), its
    facts read with ``words`` (OCR words by image path, ``train.Words``) and the value its
    demonstration types next (module contract); none when the samples have no such step."""
    from perception.builtin.data import FULL_PROMPT, compact_prompt, pad_prompts, prompt_ids
    from perception.builtin.progress import progress_tokens
    from perception.builtin.words import score_words

    demos: dict[tuple[str, str, str], dict[str, LoadedSample]] = {}
    for ls in samples:  # by folder, page and goal; each screenshot once (a weighted pool)
        s = ls.sample
        if s.kind == "demo" and s.goal is not None:
            key = (str(ls.image_path.parent), s.page.page_id, s.goal)
            demos.setdefault(key, {})[str(ls.image_path)] = ls
    prompts, facts, labels = [], [], []
    for _, shots in sorted(demos.items()):
        steps = sorted(shots.values(), key=lambda ls: ls.sample.step or 0)
        typed = [typed_value(ls.sample.target) for ls in steps]
        for i, ls in enumerate(steps):
            s = ls.sample
            if not s.target.startswith(("click(", "scroll(")):
                continue
            seen = words.get(str(ls.image_path), [])
            said = compact_prompt(s.prompt, FULL_PROMPT)
            scored = score_words(seen, said, split_glyphs=config.round_outlines)
            on_page, reached, _ = progress_tokens(said, scored, None, config)
            left = [v.decode("utf-8", errors="ignore") for v in typed[i:] if v][:1]
            prompts.append(prompt_ids(said, config))
            facts.append(find_facts(said, seen, on_page, reached, left))
            labels.append(float(s.target.startswith("scroll(")))
    if not prompts:
        return FindRows(torch.zeros(0, 2, dtype=torch.long), torch.zeros(0, N_FIND), torch.zeros(0))
    return FindRows(pad_prompts(prompts), torch.stack(facts), torch.tensor(labels))


def gate(logits: Tensor, facts: Tensor) -> Tensor:
    """The head's logits where the facts say ``FIRE``, ``NO`` (says click) elsewhere: it is
    asked only when half or more of the goal's labels are absent and none is open."""
    return torch.where(facts[:, FIRE] > 0, logits, torch.full_like(logits, NO))


def judge(logits: Tensor, scrolls: Tensor) -> FindFit:
    """How the head's ``logits`` (N,) answer rows whose demonstrations ``scrolls`` (N,)."""
    said = (logits > 0).float()
    hit = float((said * scrolls).sum())
    return FindFit(
        rows=len(scrolls),
        scrolls=float(scrolls.mean()),
        accuracy=float((said == scrolls).float().mean()),
        recall=hit / max(float(scrolls.sum()), 1.0),
        precision=hit / max(float(said.sum()), 1.0),
        loss=float(F.binary_cross_entropy_with_logits(logits, scrolls)),
    )


def fit(model: GazeVLM, samples: Sequence[LoadedSample], words: dict[str, list[Word]]) -> FindFit:
    """Fit ``model.scroll_find`` on the click and scroll steps of the demonstrations of
    ``samples`` (module contract, ``find_rows``); deterministic (full batch from zeros)."""
    from perception.builtin.type_ahead import _fit_linear

    head = model.scroll_find
    assert head is not None, "ModelConfig.scroll_find is 0: the model has no scroll-find head"
    rows = find_rows(model.config, samples, words)
    fire = rows.facts[:, FIRE] > 0
    if not bool(fire.any()):  # nothing to fit on: the head stays as it is
        return FindFit(len(rows.scrolls), 0.0, 0.0, 0.0, 0.0, 0.0)
    x = head_input(rows.prompts[fire], rows.facts[fire], model.config.scroll_find)
    y = rows.scrolls[fire]

    def says(logits: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits[:, 0], y)

    with torch.enable_grad():
        _fit_linear(x, says, 1, head)
    with torch.no_grad():
        return judge(model.find_logit(rows.prompts, rows.facts), rows.scrolls)
