"""Which action comes next: the verb vocabulary and what the prompt's history says about it.

Contract:
- ``VERBS``: the action names the verb head chooses among, in a fixed order (the head's output
  rows; weights depend on it): the gaze dialect's actions except ``give_up`` and ``ask_user``,
  which no demonstration uses (a test checks). Decoding leaves those to the text when a grammar
  offers nothing else.
- ``verb_positions(targets, pad)``: which answer tokens spell the action's name (the text loss
  may weight them: ``--verb-weight``).
- ``verb_index(ids)``: an answer's token ids -> the index of the verb it starts with (the bytes
  before its first ``(``), or -1 when the answer is not an action call (alignment questions).
- ``prompt_state(prompt)`` -> a ``(N_STATE,)`` float tensor of facts read from the prompt's history
  lines (``3. type(text='tara69', submit=False) -> ok``, as the agent and the demonstrations write
  them): how many steps so far, the last and the one-before-last action, whether the last step
  failed, how many strings were typed, how many steps since the last typing, and how much of the
  goal's quoted and plain words the typed strings already cover.
- ``typed_clicks(prompt)`` -> ``(x, y, text)`` for each ``type(...)`` step since the newest
  scroll, drag or navigation: the latest click before it (across ``key`` steps such as
  ``key(Control+a)``: the click that put the caret there) and the text it typed; a type step
  with no such click gives none. What ``ModelConfig.avoid_typed_field`` keeps later clicks from.

Why: the policy's decision "the field is focused, now type" is one byte among ~30 in the text loss,
and the 3-layer decoder has to rediscover from the prompt's bytes what was done already. These
counts are free to compute, the same at training and at run time (the same function on the same
text), and give the verb head (``GazeVLM``) the step's situation directly. Nothing here is learned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import Tensor

from perception.builtin.marks import CLICK_VERBS, MOVE_VERBS, STEP, XY, history_steps
from perception.builtin.tokenizer import N_BYTES

VERBS: tuple[str, ...] = (
    "click",
    "double_click",
    "right_click",
    "hover",
    "scroll",
    "drag",
    "type",
    "key",
    "navigate",
    "done",
    "back",
    "wait",
)
_TYPED = re.compile(r"""^text=(['"])(.*?)\1""")
_QUOTED = re.compile(r"""["“']([^"”']{1,80})["”']""")
_OPEN = ord("(")
MAX_STEPS = 4  # step counts 0..3 and "4 or more"
N_STATE = (MAX_STEPS + 1) + 2 * (len(VERBS) + 1) + 1 + 3 + 1 + 3


def verb_positions(targets: Tensor, pad: int) -> Tensor:
    """(B, L) answer ids -> bool mask of the tokens before each answer's first ``(``: the action's
    name (all of a non-action answer)."""
    return ((targets == _OPEN).long().cumsum(1) == 0) & (targets != pad)


def verb_index(ids: Sequence[int]) -> int:
    """The answer's verb (index into VERBS), -1 when it does not start with ``verb(``."""
    if _OPEN not in ids:
        return -1
    head = ids[: list(ids).index(_OPEN)]
    if any(i >= N_BYTES for i in head):
        return -1
    name = bytes(head).decode("latin-1")
    return VERBS.index(name) if name in VERBS else -1


def _words(text: str) -> set[str]:
    return {w for w in (t.strip(".,;:!?\"'()“”") for t in text.split()) if len(w) >= 2}


def one_hot(i: int, n: int) -> list[float]:
    out = [0.0] * n
    out[i] = 1.0
    return out


def typed_in(line: str) -> str | None:
    """The string a history line typed (``3. type(text='ana7', submit=False) -> ok``, as
    ``actions.types.describe`` writes it); None for any other line."""
    m = STEP.match(line)
    t = _TYPED.match(m.group(2)) if m and m.group(1) == "type" else None
    return t.group(2) if t else None


def typed_values(prompt: str) -> list[str]:
    """What each ``type(...)`` history step of ``prompt`` typed, oldest first."""
    return [t for t in (typed_in(m.group(0)) for m in history_steps(prompt)) if t is not None]


def typed_without_enter(prompt: str) -> bool:
    """Whether the newest history step of ``prompt`` is a ``type(...)`` without Enter
    (``submit=False``): what ``ModelConfig.submit_typing`` keeps done() from following."""
    steps = history_steps(prompt)
    return bool(steps) and steps[-1].group(1) == "type" and "submit=False" in steps[-1].group(2)


def typed_clicks(prompt: str) -> list[tuple[float, float, str]]:
    """Where each field typed into was clicked, and what was typed; see the module contract."""
    out: list[tuple[float, float, str]] = []
    caret: tuple[float, float] | None = None  # the latest click, while only keys follow it
    for line in prompt.splitlines():
        m = STEP.match(line)
        if not m:
            continue
        verb = m.group(1)
        if verb in MOVE_VERBS:
            out, caret = [], None
        elif verb in CLICK_VERBS:
            xy = XY.match(m.group(2))
            caret = (float(xy.group(1)), float(xy.group(2))) if xy else None
        elif verb == "type":
            text = typed_in(line)
            if caret is not None and text:
                out.append((*caret, text))
        elif verb != "key":
            caret = None
    return out


def prompt_state(prompt: str) -> Tensor:
    """The history facts of ``prompt`` (see the module contract), ``(N_STATE,)``."""
    goal_lines, steps = [], []
    for line in prompt.splitlines():
        m = STEP.match(line)
        if m:
            steps.append((m.group(1), typed_in(line), line.rsplit("->", 1)[-1].strip()))
        elif line.strip() and not line.startswith("Earlier steps"):
            goal_lines.append(line)
    goal = " ".join(goal_lines)
    verbs = [VERBS.index(v) if v in VERBS else len(VERBS) for v, _, _ in steps]
    rows = len(VERBS) + 1  # the verbs, then "another verb"
    typed: list[str] = []
    since_typed = 0
    for _, text, _ in steps:
        if text is not None:
            typed.append(text)
            since_typed = 0
        else:
            since_typed += 1
    typed_text = " ".join(typed)
    quoted = _QUOTED.findall(goal)
    goal_words = _words(goal)
    feats = one_hot(min(len(steps), MAX_STEPS), MAX_STEPS + 1)
    feats += one_hot(verbs[-1], rows) if verbs else [0.0] * rows
    feats += one_hot(verbs[-2], rows) if len(verbs) >= 2 else [0.0] * rows
    feats.append(float(bool(steps) and not steps[-1][2].startswith("ok")))
    feats += one_hot(min(len(typed), 2), 3)
    feats.append(min(since_typed, 4) / 4 if typed else 1.0)
    feats.append(min(len(quoted), 3) / 3)
    feats.append(sum(q in typed_text for q in quoted) / len(quoted) if quoted else 0.0)
    feats.append(len(goal_words & _words(typed_text)) / len(goal_words) if goal_words else 0.0)
    assert len(feats) == N_STATE
    return torch.tensor(feats, dtype=torch.float32)
