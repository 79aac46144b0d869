"""Stage-2 (instruction) samples: scripted demonstrations executed in the real browser.

Contract:
- ``run_demo(tab, page, kind, rng, ...)`` loads ``page`` in ``tab``, plans a goal of ``kind``
  (``tasks.synth.goals``) and carries it out one action at a time, like an agent would: at each
  step it takes a screenshot and an annotation, resolves the next intent against what is on
  screen (click an element at its hit-tested point; scroll the page or the list it sits in when
  it is out of view; press Escape when an open menu or dialog covers it), writes the action in
  the gaze dialect, parses that text back, and executes the parsed action with Gaze's own
  executor (``actions.executor.execute``: mouse and keyboard at viewport CSS px, no DOM
  shortcuts). The last step is ``done()`` (or ``done("answer")``).
- Each step becomes one sample: (screenshot, goal + earlier steps, next action). The demonstration
  is kept only if the goal's DOM check holds at the end; otherwise ``Demo.failure`` says why and
  no samples are returned.
- ``plan_demo_goal`` is that planning step on its own, for code that drives the page another way
  (``bench/synth_goals.py`` plans the same goal in ``BrowserEnv`` and lets an agent act).

Scrolling moves by 70% of the visible height of what is scrolled, so consecutive screens overlap.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import assert_never

from actions.executor import execute
from actions.types import Action, Click, Done, KeyPress, Scroll, Type, describe
from perception.parsers import format_action, parse
from perception.parsers.base import Parsed
from tasks.synth.annotations import Annotation, Element
from tasks.synth.goals import (
    CHECK_JS,
    Candidate,
    ClickOn,
    Goal,
    GoalKind,
    Intent,
    PressKey,
    Reveal,
    TypeText,
    plan_goal,
    plan_scroll,
)
from tasks.synth.pages import Page
from tasks.synth.render import Tab
from tasks.synth.samples import DIALECT, HistoryStep, PageInfo, Sample, Screen
from tasks.synth.vocab import Split

MAX_STEPS = 24
SCROLL_SHARE = 0.7  # of the visible height of what is scrolled
ACTION_TIMEOUT_S = 10.0

# Where an element is, and the scrolling box around it (rects in viewport CSS px).
LOCATE_JS = """(gid) => {
  const el = document.querySelector('[data-gid="' + gid + '"]');
  if (!el || !el.checkVisibility()) return null;
  const rect = (x) => { const r = x.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, left: r.left, right: r.right }; };
  let sc = null;
  for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
    if (/(auto|scroll)/.test(getComputedStyle(a).overflowY) && a.scrollHeight > a.clientHeight) {
      sc = a; break; }
  }
  return { rect: rect(el), scroller: sc ? rect(sc) : null };
}"""
# Whether a wheel turned at (x, y) would scroll something other than the document.
OVER_SCROLLER_JS = """([x, y]) => {
  for (let a = document.elementFromPoint(x, y); a && a !== document.body; a = a.parentElement) {
    const o = getComputedStyle(a).overflowY;
    if (/(auto|scroll)/.test(o) && a.scrollHeight > a.clientHeight) return true;
  }
  return false;
}"""
# Clickable elements out of view at the start, with their text (scroll goals pick one).
CANDIDATES_JS = """() => {
  const squash = (s) => s.replace(/\\s+/g, ' ').trim();
  const all = [...document.querySelectorAll('[data-gid]')].filter(e => e.checkVisibility());
  const count = {};
  for (const e of all) { const t = squash(e.innerText || ''); count[t] = (count[t] || 0) + 1; }
  const out = [];
  for (const e of all) {
    if (!e.matches('a, button')) continue;
    const t = squash(e.innerText || '');
    if (!t || count[t] !== 1 || t.length > 40) continue;
    const r = e.getBoundingClientRect();
    const sc = e.closest('.scroller');
    const below = sc ? r.top >= sc.getBoundingClientRect().bottom : r.top >= innerHeight;
    if (below) out.push([e.dataset.gid, t, !!sc]);
  }
  return out;
}"""


@dataclass(frozen=True)
class Step:
    screen: Screen
    action: Action  # parsed back from ``reply``: viewport CSS px
    reply: str  # the gaze-dialect text
    target: Element | None


@dataclass(frozen=True)
class Demo:
    goal: Goal | None
    steps: tuple[Step, ...]
    failure: str | None  # None: the goal's check held


class _Failed(Exception):
    """A demonstration that cannot go on; the message says why (it is counted, not raised)."""


def _usable(e: Element | None) -> bool:
    """On screen, hit-testable, and not a sliver at an edge."""
    return e is not None and e.exact and (not e.clipped or (e.box.h >= 10 and e.box.w >= 10))


def _round10(v: float) -> float:
    return float(max(50, round(v / 10) * 10))


class _Runner:
    def __init__(self, tab: Tab, name: str) -> None:
        self.tab, self.name = tab, name
        self.steps: list[Step] = []

    async def look(self) -> Screen:
        ann = await self.tab.annotate()
        png = await self.tab.screenshot()
        return Screen(f"{self.name}-{len(self.steps)}", png, ann)

    async def act(self, screen: Screen, action: Action, target: Element | None) -> None:
        """Write ``action`` as text, parse it back, record the step, execute the parsed action."""
        if len(self.steps) >= MAX_STEPS:
            raise _Failed(f"more than {MAX_STEPS} steps")
        frame = screen.frame()
        reply = format_action(action, frame, DIALECT)
        parsed = parse(reply, frame, DIALECT)
        if not isinstance(parsed, Parsed) or len(parsed.actions) != 1:
            raise _Failed(f"{reply!r} does not parse back: {parsed}")
        exact = parsed.actions[0]
        self.steps.append(Step(screen, exact, reply, target))
        if isinstance(exact, Done):
            return
        ann = screen.annotation
        result = await execute(
            self.tab.page, exact, (ann.viewport_w, ann.viewport_h), ACTION_TIMEOUT_S
        )
        if not result.ok:
            raise _Failed(f"{describe(exact)} failed: {result.error}")
        await self.tab.settle()

    async def scroll_towards(self, screen: Screen, gid: str) -> None:
        """One scroll that moves ``gid`` towards the screen: inside its list when the list is in
        view, else the page (towards the list, or the element itself). An element in view but
        covered by an open menu or dialog gets Escape instead."""
        where = await self.tab.evaluate(LOCATE_JS, gid)
        if where is None:
            raise _Failed(f"{gid} is not rendered")
        ann = screen.annotation
        rect, sc = where["rect"], where["scroller"]
        if sc is not None and sc["top"] >= -1 and sc["bottom"] <= ann.viewport_h + 1:
            x, y = (sc["left"] + sc["right"]) / 2, (sc["top"] + sc["bottom"]) / 2
            amount = _round10((sc["bottom"] - sc["top"]) * SCROLL_SHARE)
            lo, hi, aim = sc["top"], sc["bottom"], rect
        else:
            x, y = await self._free_point(ann)
            amount = _round10(ann.viewport_h * SCROLL_SHARE)
            lo, hi, aim = 0.0, float(ann.viewport_h), sc if sc is not None else rect
        if aim["bottom"] > hi:
            dy = amount
        elif aim["top"] < lo:
            dy = -amount
        elif any(e.role in ("menuitem", "dialog") for e in ann.elements):
            # in view but covered by an open menu or a dialog: Escape closes both
            await self.act(screen, KeyPress(keys="Escape"), None)
            return
        else:
            raise _Failed(f"{gid} is in view but cannot be clicked")
        await self.act(screen, Scroll(x=x, y=y, dy=dy), None)

    async def _free_point(self, ann: Annotation) -> tuple[float, float]:
        """A point where the wheel scrolls the document rather than an inner list."""
        w, h = ann.viewport_w, ann.viewport_h
        for fx, fy in ((0.5, 0.5), (0.25, 0.5), (0.75, 0.5), (0.5, 0.3), (0.5, 0.7), (0.1, 0.5)):
            x, y = round(w * fx), round(h * fy)
            if not await self.tab.evaluate(OVER_SCROLLER_JS, [x, y]):
                return float(x), float(y)
        raise _Failed("no point to scroll the page from")

    async def bring(self, gid: str) -> tuple[Screen, Element]:
        """Scroll until ``gid`` is usable on screen; the screen it is on and its element."""
        for _ in range(MAX_STEPS):
            screen = await self.look()
            e = screen.annotation.get(gid)
            if e is not None and _usable(e):
                return screen, e
            await self.scroll_towards(screen, gid)
        raise _Failed(f"{gid} never came into view")

    async def run(self, intents: Sequence[Intent]) -> Screen:
        for intent in intents:
            match intent:
                case ClickOn(gid=gid):
                    screen, e = await self.bring(gid)
                    await self.act(screen, Click(x=e.point[0], y=e.point[1]), e)
                case Reveal(gid=gid):
                    await self.bring(gid)
                case TypeText(text=text, submit=submit):
                    await self.act(await self.look(), Type(text=text, submit=submit), None)
                case PressKey(keys=keys):
                    await self.act(await self.look(), KeyPress(keys=keys), None)
                case _:
                    assert_never(intent)
        return await self.look()


def plan_demo_goal(
    kind: GoalKind,
    page: Page,
    rng: random.Random,
    candidates: Sequence[Candidate],
    *,
    phrases: float = 0.0,
) -> Goal | None:
    """The goal ``run_demo`` plans on the loaded ``page`` with ``rng`` (the engine seeds it with
    the page plan's ``sample_seed``). ``candidates`` are what ``CANDIDATES_JS`` returns on the
    freshly loaded page; only scroll goals read them. ``phrases``: see ``goals.plan_goal``."""
    if kind != "scroll":
        return plan_goal(kind, page, rng, phrases=phrases)
    return plan_scroll(page, candidates, rng)


async def _plan(
    tab: Tab, page: Page, kind: GoalKind, rng: random.Random, phrases: float
) -> Goal | None:
    raw = await tab.evaluate(CANDIDATES_JS) if kind == "scroll" else []
    cands = [Candidate(g, t, s) for g, t, s in raw]
    return plan_demo_goal(kind, page, rng, cands, phrases=phrases)


async def run_demo(
    tab: Tab, page: Page, kind: GoalKind, rng: random.Random, *, name: str, phrases: float = 0.0
) -> Demo:
    """Load ``page`` and demonstrate a goal of ``kind``; see the module contract."""
    await tab.load(page.html)
    goal = await _plan(tab, page, kind, rng, phrases)
    if goal is None:
        return Demo(None, (), f"the page cannot host a {kind} goal")
    runner = _Runner(tab, name)
    try:
        final = await runner.run(goal.intents)
        ok = await tab.evaluate(CHECK_JS, goal.check.as_arg())
        if ok is not True:
            raise _Failed("the goal's check does not hold")
        await runner.act(final, Done(answer=goal.answer), None)
    except _Failed as e:
        return Demo(goal, tuple(runner.steps), str(e))
    return Demo(goal, tuple(runner.steps), None)


def demo_prompt(goal: str, history: Sequence[HistoryStep]) -> str:
    """The text of a demo step's prompt, laid out as ``perception.prompts`` lays out a text-only
    history: the goal, then one line per earlier step."""
    lines = [f"Goal: {goal}"]
    if history:
        lines.append("Earlier steps:")
        lines.extend(f"{i + 1}. {h.summary} -> {h.outcome}" for i, h in enumerate(history))
    return "\n".join(lines)


def demo_samples(demo: Demo, *, split: Split, page: PageInfo, id_prefix: str) -> list[Sample]:
    """One sample per step of a successful demonstration."""
    assert demo.goal is not None and demo.failure is None
    history: list[HistoryStep] = []
    out = []
    for i, step in enumerate(demo.steps):
        w, h = step.screen.image_size
        out.append(
            Sample(
                id=f"{id_prefix}-{i:02d}",
                kind="demo",
                task=demo.goal.kind,
                split=split,
                image=step.screen.image_path,
                image_w=w,
                image_h=h,
                frame=step.screen.frame(),
                prompt=demo_prompt(demo.goal.text, history),
                target=step.reply,
                action=step.action,
                target_gid=step.target.gid if step.target else None,
                target_box=step.target.box if step.target else None,
                goal=demo.goal.text,
                history=tuple(history),
                step=i,
                page=page,
            )
        )
        history.append(HistoryStep(reply=step.reply, summary=describe(step.action)))
    return out
