"""Reference solutions: turn a task's ``RefStep`` list into concrete Actions on a live page.

Contract:
- ``resolve(step, env)`` returns the Action for one step, with selector targets resolved to the
  centre (plus offset) of the first matching element's box in viewport CSS px *now*. It raises
  ``ReferenceError_`` when the selector matches nothing or the point is outside the viewport: a
  reference solution never scrolls implicitly, so a broken solution fails loudly.
- Resolution happens step by step against the live page (a step's target may appear only after the
  previous step), which is why this takes an Environment and not just the spec.

Reference solutions prove tasks solvable and drive end-to-end tests; they are never shown to models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from actions.environment import BrowserConfig, EnvError, Environment, open_start_page
from actions.types import (
    POINTER_ACTIONS,
    Action,
    Back,
    Done,
    Drag,
    KeyPress,
    Navigate,
    Scroll,
    Type,
    Wait,
)
from tasks.checks import CheckResult, run_checks
from tasks.spec import DoneStep, Point, RefStep, SelectorTarget, Target, TaskSpec, TypeStep

_BOX_JS = """(sel) => {
  const el = document.querySelector(sel);
  if (!el) return null;
  const r = el.getBoundingClientRect();
  return [r.left, r.top, r.width, r.height, innerWidth, innerHeight];
}"""


class ReferenceError_(RuntimeError):
    pass


def locate(target: Target, env: Environment) -> tuple[float, float]:
    """Viewport CSS px for a target; see the module contract."""
    if isinstance(target, Point):
        return target.x, target.y
    sel = SelectorTarget(selector=target, dx=0.0, dy=0.0) if isinstance(target, str) else target
    try:
        box = env.evaluate(_BOX_JS, sel.selector)
    except EnvError as e:
        raise ReferenceError_(f"cannot locate {sel.selector!r}: {e}") from None
    if not isinstance(box, list) or len(box) != 6:
        raise ReferenceError_(f"no element matches {sel.selector!r} on {env.url}")
    left, top, w, h, vw, vh = (float(v) for v in box if isinstance(v, (int, float)))
    x, y = left + w / 2 + sel.dx, top + h / 2 + sel.dy
    if not (0 <= x < vw and 0 <= y < vh):
        raise ReferenceError_(
            f"{sel.selector!r} is at ({x:.0f}, {y:.0f}), outside the {vw:.0f}x{vh:.0f} viewport: "
            f"add a scroll step before it"
        )
    return x, y


def resolve(step: RefStep, env: Environment) -> Action:
    name = step.name
    if name in ("click", "double_click", "right_click", "hover"):
        target = getattr(step, name)
        x, y = locate(target, env)
        return POINTER_ACTIONS[name](x=x, y=y)
    if step.drag is not None:
        (x, y), (tx, ty) = locate(step.drag.from_, env), locate(step.drag.to, env)
        return Drag(x=x, y=y, to_x=tx, to_y=ty)
    if step.type is not None:
        t = step.type if isinstance(step.type, TypeStep) else TypeStep(text=step.type)
        return Type(text=t.text, submit=t.submit)
    if step.key is not None:
        return KeyPress(keys=step.key)
    if step.scroll is not None:
        x, y = locate(step.scroll.at, env)
        return Scroll(x=x, y=y, dx=step.scroll.dx, dy=step.scroll.dy)
    if step.navigate is not None:
        return Navigate(url=step.navigate)
    if step.back is not None:
        return Back()
    if step.wait is not None:
        return Wait(seconds=step.wait)
    if step.done is not None:
        d = step.done if isinstance(step.done, DoneStep) else DoneStep(answer=step.done)
        return Done(answer=d.answer)
    raise AssertionError(f"unhandled reference step {name}")  # RefStep guarantees one key


@dataclass
class ReferenceRun:
    ok: bool
    actions: list[Action] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None


def run_reference(
    task: TaskSpec, env: Environment, start_url: str, config: BrowserConfig
) -> ReferenceRun:
    """Execute a task's reference solution on a fresh page and evaluate its checks."""
    if task.reference is None:
        return ReferenceRun(ok=False, error=f"task {task.id!r} has no reference solution")
    out = ReferenceRun(ok=False)
    out.error = open_start_page(env, start_url, config)
    if out.error is not None:
        return out
    answer: str | None = None
    for i, step in enumerate(task.reference, start=1):
        try:
            action = resolve(step, env)
        except ReferenceError_ as e:
            out.error = f"reference step {i} ({step.name}): {e}"
            return out
        out.actions.append(action)
        if isinstance(action, Done):  # ends a goal; a multi-goal solution goes on
            answer = action.answer
            continue
        result = env.act(action)
        if not result.ok:
            out.error = f"reference step {i} ({step.name}) failed: {result.error}"
            return out
    out.checks = run_checks(task.checks, env, answer)
    out.ok = all(c.passed for c in out.checks)
    return out
