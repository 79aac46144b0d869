"""Type before you press: whether a goal types a value, and what waits until it is typed.

Contract:
- ``goal_types(samples)`` -> ``{(page_id, goal): bool}``: whether each demonstration (the demo
  samples of one page and goal) has a ``type(`` step.
- ``fit(model, samples, *, seed)`` fits ``model.type_ahead`` alone (``ModelConfig.type_ahead``
  buckets; every other tensor untouched): logistic regression of "the demonstration types a
  value" on the goal's words and word pairs (``model.goal_words``, the prompt as the model gets
  it, ``data.prompt_ids``) of every demonstration's goal in ``samples``, each said also in two
  rephrasings (``rephrase.rephrase``, as training says them), full batch, ``FIT_STEPS`` AdamW
  steps from zeros: seconds, no image read. Returns a ``Fit`` (goals, rows, accuracy, loss).
- ``first_click(goal, value, words, named, outlines)`` -> a ``model.Keep`` (CSS px boxes
  ``(x, y, w, h)``) for the first click of a goal that types ``value``. ``off``: the page
  words holding a goal token named after the value, not before it, that counts on the page
  (``named``: ``progress.page_inputs``' goal tokens on the page outside echoed instructions),
  each as the smallest outline at most ``FIELD_MAX_H`` tall around its centre (a button
  around its caption), or its own box. ``on``: the text fields, outlines ``FIELD_MIN_H`` to
  ``FIELD_MAX_H`` tall and ``FIELD_ASPECT`` times as wide, empty or holding a placeholder or a
  value of at most ``FIELD_WORDS`` words (starting nearer its left edge than half their gap to
  its right edge, a button centring its caption, or cut off at its right edge), none in
  ``off``; a left-aligned word in such an outline is never in ``off`` either (a placeholder
  "Search" is where the value goes). Anywhere (``Keep()``) when the value is not in the goal
  or one of its tokens is in any page word, an echoed instruction's too, or one character off
  for a token of ``OCR_SLIP`` or more (the value is then a label to click, "Hit Invite and
  then Reject", or the page repeats the goal, as MiniWoB++'s do: there the head, which never
  saw their wording, took "Click the button in the dialog box labeled Cancel" for typing
  "button", and a checkbox "6nLl" read "6nLI").
- ``ModelConfig.type_ahead``: at a goal's first step (no history) when the verb is click,
  when the head says the goal types, decoding reads the value the span head would type now
  (``GazeVLM.generate``'s look-ahead) and the click goes where ``first_click`` of it says
  (``predict.Predictor``; ``GazeVLM._best_candidate``).
- ``goal_plans(samples)`` -> ``{(page_id, goal): model.Plan}``: each demonstration's type()
  steps and whether it types one value twice, from its last step's history and target. ``fit``
  also fits ``model.type_plan`` when the model has it (``model.PLAN_STEPS`` classes of step
  counts, a "twice" and an "its last type() presses Enter" logit, the last on typing goals
  only: cross-entropy and logistic regression on the goal's words, pairs and repeated words
  hashed to ``ModelConfig.type_plan`` buckets, ``model.goal_words``; the same rows, the same
  steps).
- ``ModelConfig.type_plan``: the first-click rule holds at every step while the plan has
  values left to type (the look-ahead passing over the values typed), so a form's second field
  is clicked before its button; the rest of what the plan decides is ``GazeVLM.generate``'s.

Why: every entry, form, login and search demonstration clicks the field first, types, then
presses the button the goal names after the value; run 84 clicked that button first on 13 of
20 training-split entry goals (the pointer's vote for a word the goal names), submitting an
empty form, after which the typing went nowhere; on search pages it clicked a line of text
beside the "Find anything" field. The verb head had the order right (click, type, click,
done) but not the place. Whether a goal types is in its wording ("Fill ... with",
"Type ... into", "Sign in as ... with the password"): the data engine's goal phrasings are
shared by both splits; only labels and values are held out.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from perception.builtin.data import pad_prompts, prompt_ids
from perception.builtin.model import PLAN_FLAGS, PLAN_STEPS, Box, Keep, Plan
from perception.builtin.reader import Word
from perception.builtin.rephrase import rephrase
from perception.builtin.spans import FUNCTION_WORDS, typed_value
from perception.builtin.words import tokens

if TYPE_CHECKING:
    from perception.builtin.model import GazeVLM
    from tasks.synth.shards import LoadedSample

FIELD_MAX_H = 80.0  # CSS px: a taller outline is a card or a text area (predict's too)
FIELD_MIN_H = 16.0  # CSS px: a lower outline is a rule or an underlined link, not a field
FIELD_WORDS = 3  # a field shows this many words at most (a placeholder, a value); a notice more
FIELD_ASPECT = 2.5  # a text field is this many times as wide as tall or more ("Find": 80x30)
CLIPPED = 3.0  # CSS px: words this near a field's right edge run past it (a cut placeholder)
OCR_SLIP = 4  # a value token this long counts as on the page when read one character off
FIT_STEPS = 400
FIT_LR = 0.05
REPHRASINGS = 2
_FUNCTION = frozenset(w.decode() for w in FUNCTION_WORDS)


@dataclass(frozen=True)
class Fit:
    goals: int  # distinct demonstrations
    rows: int  # goals and their rephrasings
    typing: float  # share of rows whose demonstration types
    accuracy: float  # on the rows, after the fit
    loss: float
    plan_accuracy: float | None = None  # type_plan: the step counts right, on the rows
    twice_accuracy: float | None = None  # type_plan: "types a value twice" right
    enter_accuracy: float | None = None  # type_plan: "its last type() presses Enter" right


def _by_demo(samples: Sequence[LoadedSample]) -> dict[tuple[str, str], list[LoadedSample]]:
    """The demonstration samples of ``samples`` by (page id, goal)."""
    out: dict[tuple[str, str], list[LoadedSample]] = {}
    for ls in samples:
        s = ls.sample
        if s.kind == "demo" and s.goal is not None:
            out.setdefault((s.page.page_id, s.goal), []).append(ls)
    return out


def goal_types(samples: Sequence[LoadedSample]) -> dict[tuple[str, str], bool]:
    """Whether each demonstration in ``samples`` types a value (see the module contract)."""
    return {
        key: any(ls.sample.target.startswith("type(") for ls in steps)
        for key, steps in _by_demo(samples).items()
    }


def goal_plans(samples: Sequence[LoadedSample]) -> dict[tuple[str, str], Plan]:
    """Each demonstration's ``model.Plan``: its ``type(`` steps, whether one value is typed
    twice and whether the last presses Enter (+1, else -1), read from its last step (the
    history's replies and the target)."""
    out: dict[tuple[str, str], Plan] = {}
    for key, steps in _by_demo(samples).items():
        last = max(steps, key=lambda ls: ls.sample.step or 0).sample
        replies = [h.reply for h in last.history] + [last.target]
        typing = [(r, v) for r in replies if (v := typed_value(r))]
        values = [v.decode().strip().casefold() for _, v in typing]
        enter = bool(typing) and "submit=true" in typing[-1][0]
        out[key] = Plan(len(values), len(set(values)) < len(values), 1.0 if enter else -1.0)
    return out


def _fit_linear(
    x: Tensor, loss: Callable[[Tensor], Tensor], outputs: int, head: torch.nn.Linear
) -> Tensor:
    """Full-batch AdamW from zeros (``FIT_STEPS``) of a linear map ``x`` -> ``outputs`` logits
    under ``loss``, copied into ``head``; returns the fitted logits."""
    lin = torch.nn.Linear(x.shape[1], outputs)  # float32 here, whatever the model's dtype
    torch.nn.init.zeros_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    opt = torch.optim.AdamW(lin.parameters(), lr=FIT_LR, weight_decay=1e-3)
    for _ in range(FIT_STEPS):
        opt.zero_grad()
        loss(lin(x)).backward()
        opt.step()
    with torch.no_grad():
        head.weight.copy_(lin.weight.to(head.weight))
        head.bias.copy_(lin.bias.to(head.bias))
        return lin(x)


def fit(model: GazeVLM, samples: Sequence[LoadedSample], *, seed: int) -> Fit:
    """Fit ``model.type_ahead`` (and ``model.type_plan``) on the demonstrations of ``samples``
    (module contract)."""
    from perception.builtin.model import goal_words

    head = model.type_ahead
    assert head is not None, "ModelConfig.type_ahead is 0: the model has no type-ahead head"
    rng = random.Random(seed)
    prompts, labels, plans = [], [], []
    demos = goal_types(samples)
    planned = goal_plans(samples)
    for key, types in sorted(demos.items()):
        goal = key[1]
        said = {f"Goal: {goal}"}
        said |= {rephrase(f"Goal: {goal}", rng) for _ in range(REPHRASINGS)}
        for text in sorted(said):
            prompts.append(prompt_ids(text, model.config))
            labels.append(float(types))
            plans.append(planned[key])
    if not prompts:
        raise ValueError("no demonstration in the samples: nothing to fit the type-ahead head on")
    ids = pad_prompts(prompts)
    x = goal_words(ids, model.config.type_ahead, pairs=True)
    y = torch.tensor(labels)

    def says(logits: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits[:, 0], y)

    logits = _fit_linear(x, says, 1, head)[:, 0]
    acc = float(((logits > 0).float() == y).float().mean())
    final = float(F.binary_cross_entropy_with_logits(logits, y))
    plan_acc = twice_acc = enter_acc = None
    if model.type_plan is not None:
        classes = PLAN_STEPS
        xp = goal_words(ids, model.config.type_plan, pairs=True, repeats=True)
        steps = torch.tensor([min(p.steps, classes - 1) for p in plans])
        twice = torch.tensor([float(p.twice) for p in plans])
        enter = torch.tensor([float(p.enter > 0) for p in plans])
        typing = torch.tensor([float(p.steps > 0) for p in plans])  # Enter: of typing goals

        def plan_loss(lg: Tensor) -> Tensor:
            k = classes
            on_enter = F.binary_cross_entropy_with_logits(lg[:, k + 1], enter, reduction="none")
            return (
                F.cross_entropy(lg[:, :k], steps)
                + F.binary_cross_entropy_with_logits(lg[:, k], twice)
                + (on_enter * typing).sum() / typing.sum().clamp(min=1.0)
            )

        lg = _fit_linear(xp, plan_loss, classes + PLAN_FLAGS, model.type_plan)
        plan_acc = float((lg[:, :classes].argmax(-1) == steps).float().mean())
        twice_acc = float(((lg[:, classes] > 0).float() == twice).float().mean())
        hit = ((lg[:, classes + 1] > 0).float() == enter).float()
        enter_acc = float((hit * typing).sum() / typing.sum().clamp(min=1.0))
    return Fit(len(demos), len(labels), float(y.mean()), acc, final, plan_acc, twice_acc, enter_acc)


def first_click(
    goal: str,
    value: str,
    words: Sequence[Word],
    named: frozenset[str] | set[str],
    outlines: Sequence[Word] | None,
) -> Keep:
    """Where the first click of a goal that types ``value`` goes (see the module contract)."""
    at = goal.casefold().find(value.casefold().strip())
    said = set(tokens(value))
    page = {t for w in words for t in tokens(w.text)}
    if at < 0 or not value.strip() or any(_read_as(t, page) for t in said):
        return Keep()
    before = set(tokens(goal[:at]))
    after = {t for t in tokens(goal[at + len(value.strip()) :]) if len(t) >= 2}
    wait = (after - before - said - _FUNCTION) & set(named)
    off: list[Box] = []
    for w in words:
        if not wait & set(tokens(w.text)):
            continue
        x, y = w.center
        around = [o for o in outlines or () if o.h <= FIELD_MAX_H and o.contains(x, y)]
        o = min(around, key=lambda o: o.w * o.h) if around else None
        if o is None:
            off.append((w.x, w.y, w.w, w.h))
        elif not _placeholder(o, [v for v in words if o.contains(*v.center)]):
            off.append((o.x, o.y, o.w, o.h))
    on = [
        (o.x, o.y, o.w, o.h)
        for o in outlines or ()
        if FIELD_MIN_H <= o.h <= FIELD_MAX_H
        and o.w >= FIELD_ASPECT * o.h
        and _field(o, [v for v in words if o.contains(*v.center)])
        and not any(_holds(b, *o.center) for b in off)
    ]
    return Keep(tuple(off), tuple(on))


def _holds(box: Box, x: float, y: float) -> bool:
    bx, by, bw, bh = box
    return bx <= x <= bx + bw and by <= y <= by + bh


def _read_as(token: str, page: set[str]) -> bool:
    """Whether the OCR read ``token`` on the page: as it is, or for a token of ``OCR_SLIP``
    characters or more, with one character read wrong, added or dropped ("6nLl" read "6nLI")."""
    if token in page:
        return True
    return len(token) >= OCR_SLIP and any(_one_edit(token, p) for p in page)


def _one_edit(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with exactly one character changed, added or dropped."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k, (x, y) in enumerate(zip(short, long, strict=False)) if x != y), len(short))
    return short[i:] == long[i + 1 :]


def _placeholder(o: Word, inside: Sequence[Word]) -> bool:
    """Whether ``o``'s words are a text field's placeholder (or value): ``o`` ``FIELD_ASPECT``
    times as wide as tall, its words (together) starting nearer its left edge than half their
    gap to its right edge (a button centres its caption), or running into its right edge from
    its left quarter (a placeholder cut off: "Find anyt")."""
    if o.w < FIELD_ASPECT * o.h or not inside:
        return False
    left = min(v.x for v in inside) - o.x
    right = o.x + o.w - max(v.x + v.w for v in inside)
    return left < right / 2 or (right <= CLIPPED and left < o.w / 4)


def _field(o: Word, inside: Sequence[Word]) -> bool:
    """Whether an outline ``FIELD_ASPECT`` times as wide as tall is a text field: empty, or
    holding a placeholder or a value (``_placeholder``) of at most ``FIELD_WORDS`` words (a
    notice bar's sentence starts at its left edge too)."""
    return not inside or (len(inside) <= FIELD_WORDS and _placeholder(o, inside))
