"""Where earlier steps clicked, as marks on the patch grid: the model sees its own history in place.

Contract:
- ``history_clicks(prompt)`` reads the prompt's history lines (``1. click(x=92, y=134) -> ok``:
  ``actions.types.describe`` of each action, viewport CSS px, as the agent and the demonstrations
  write them) and returns the points clicked since the newest scroll, drag or navigation (after
  those, old positions no longer hold), each with whether it was the newest step.
- ``patch_marks(clicks, origin, config)`` -> (grid*grid, ``config.history_marks``) float tensor
  for the canvas that starts at ``origin`` (CSS px): channel 0 marks the patch under every such
  click (1.0, its 8 neighbours 0.5), channel 1 the same for the newest step's click only. Clicks
  off the canvas mark nothing; a config with ``history_marks == 0`` gets a (G, 0) tensor.

The model adds a learned projection of these marks to its patch tokens (and so to the word
tokens that sit on them): "I clicked this already" without having to match coordinates in the
prompt's bytes against the screen. Training and run time build them the same way from the same
text, so nothing here is learned or tuned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import Tensor

from perception.builtin.config import ModelConfig

# a history line, "3. click(x=92, y=134) -> ok": the verb and everything after its "("
STEP = re.compile(r"^\s*\d+\.\s+(\w+)\((.*)$")
XY = re.compile(r"^x=(-?\d+(?:\.\d+)?), y=(-?\d+(?:\.\d+)?)")
CLICK_VERBS = frozenset({"click", "double_click", "right_click"})
MOVE_VERBS = frozenset({"scroll", "drag", "navigate", "back"})

Click = tuple[float, float, bool]  # x, y (viewport CSS px), whether it was the newest step


def history_steps(prompt: str) -> list[re.Match[str]]:
    """The history lines of ``prompt`` (``STEP`` matches: the verb, then its arguments), oldest
    first."""
    return [m for m in (STEP.match(line) for line in prompt.splitlines()) if m]


def history_clicks(prompt: str) -> list[Click]:
    """Clicks since the newest scroll/drag/navigation; see the module contract."""
    steps = history_steps(prompt)
    out: list[Click] = []
    for i, m in enumerate(steps):
        verb = m.group(1)
        if verb in MOVE_VERBS:
            out = []
        elif verb in CLICK_VERBS and (xy := XY.match(m.group(2))):
            out.append((float(xy.group(1)), float(xy.group(2)), i == len(steps) - 1))
    return out


def patch_marks(
    clicks: Sequence[Click], origin: tuple[float, float], config: ModelConfig
) -> Tensor:
    g, st, n = config.grid, config.stride, config.history_marks
    marks = torch.zeros(g, g, n)
    if n == 0:
        return marks.reshape(g * g, 0)
    ox, oy = origin
    for x, y, newest in clicks:
        cx, cy = x - ox, y - oy
        if not (0 <= cx < config.canvas and 0 <= cy < config.canvas):
            continue
        c, r = int(cx // st), int(cy // st)
        ch = slice(0, 2 if newest else 1)
        around = marks[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2, ch]
        around.clamp_(min=0.5)  # the 8 neighbours (never lowering a 1.0 already there)
        marks[r, c, ch] = 1.0
    return marks.reshape(g * g, n)
