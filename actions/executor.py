"""The hands: one small coroutine per action kind, acting on a Playwright page with mouse and keyboard.

Contract:
- ``execute(page, action, viewport, timeout_s)`` performs a page-touching Action and returns an
  ``ActionResult``. Page-level failures (a point outside the viewport, an unknown key, a navigation
  error) come back as ``ActionResult.failure`` with a sentence the model can act on; only bugs raise.
- Everything goes through ``page.mouse`` / ``page.keyboard`` at viewport CSS px, like a person:
  no selectors, no DOM shortcuts. A point outside the viewport is refused, never clamped.
- Terminal actions (done, give_up, ask_user) are not executed here.
- Safety (``actions.safety``): a ``navigate`` the policy refuses fails before it runs; a ``type``
  text's ``${{ secrets.NAME }}`` placeholders are filled with their values only here, just
  before typing (the model never sees them), and typing one into a field that does not mask it
  adds a note saying screenshots may show it.

Waiting for navigations an action starts is the environment's job (``actions.browser``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, assert_never

from actions.environment import first_line
from actions.keys import normalize_combo
from actions.safety import SecretError, Secrets, UrlPolicy, secret_names
from actions.types import (
    Action,
    ActionResult,
    AskUser,
    Back,
    Click,
    Done,
    DoubleClick,
    Drag,
    GiveUp,
    Hover,
    KeyPress,
    Navigate,
    RightClick,
    Scroll,
    Type,
    Wait,
)

if TYPE_CHECKING:
    from playwright.async_api import Page

DRAG_STEPS = 12  # intermediate mouse moves, so pages that track mousemove see a real drag
TYPE_DELAY_MS = 0.0  # per-character delay; 0 is fastest and works for ordinary inputs


def outside(x: float, y: float, viewport: tuple[int, int]) -> str | None:
    """An error sentence if (x, y) is not inside the viewport, else None."""
    w, h = viewport
    if 0 <= x < w and 0 <= y < h:
        return None
    return (
        f"({x:.0f}, {y:.0f}) is outside the {w}x{h} viewport; coordinates must be inside the "
        f"screenshot"
    )


async def _click(page: Page, x: float, y: float, *, button: str = "left", count: int = 1) -> None:
    await page.mouse.click(x, y, button=button, click_count=count)  # type: ignore[arg-type]


async def _drag(page: Page, a: Drag) -> None:
    await page.mouse.move(a.x, a.y)
    await page.mouse.down()
    await page.mouse.move(a.to_x, a.to_y, steps=DRAG_STEPS)
    await page.mouse.up()


# Wheel events scroll asynchronously (the compositor applies them, smooth scrolling animates
# them), and Playwright's wheel() does not wait. One animation frame was not always enough: on a
# loaded 2-core host a replay's click right after an inner box's scroll landed on the row the box
# showed before it (tests/integration/test_demo_tasks.py, inner_scroll). So a listener notes
# the scroll events of any element from before the wheel turns, and the action ends when they
# have been quiet for SCROLL_QUIET_MS (or none came in that long), at most SCROLL_MAX_MS.
SCROLL_QUIET_MS = 80
SCROLL_MAX_MS = 1500
_SCROLL_WATCH_JS = """() => {
  const w = { last: performance.now() };
  w.on = () => { w.last = performance.now(); };
  document.addEventListener('scroll', w.on, { capture: true, passive: true });
  window.__gazeScrollWatch = w;
}"""
_SCROLL_SETTLE_JS = """([quiet, most]) => new Promise(resolve => {
  const w = window.__gazeScrollWatch, t0 = performance.now();
  const end = () => {
    if (w) document.removeEventListener('scroll', w.on, { capture: true });
    delete window.__gazeScrollWatch;
    resolve(null);
  };
  const tick = () => {
    const now = performance.now();
    if (!w || now - t0 >= most || (now - Math.max(w.last, t0) >= quiet)) end();
    else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})"""


async def _scroll(page: Page, a: Scroll) -> None:
    await page.mouse.move(a.x, a.y)
    await page.evaluate(_SCROLL_WATCH_JS)
    await page.mouse.wheel(a.dx, a.dy)
    await page.evaluate(_SCROLL_SETTLE_JS, [SCROLL_QUIET_MS, SCROLL_MAX_MS])


# The focused element, through same-origin frames and shadow roots
_FOCUSED_JS = """let el = document.activeElement;
  for (;;) {
    if (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
    else if (el && el.contentDocument && el.contentDocument.activeElement) el = el.contentDocument.activeElement;
    else break;
  }"""
# is it a masked field?
_FOCUS_MASKED_JS = f"""() => {{
  {_FOCUSED_JS}
  return !!el && el.tagName === 'INPUT' && (el.type || '').toLowerCase() === 'password';
}}"""
# should a typing that replaces select its text first? It is a text field (not the page: select-all
# there would highlight the whole page) that this page's agent has not typed into before
# (remembered from now on; a new page forgets)
_SELECT_FIRST_JS = f"""() => {{
  {_FOCUSED_JS}
  if (!el) return false;
  const tag = el.tagName, kind = (el.type || 'text').toLowerCase();
  const field = el.isContentEditable || tag === 'TEXTAREA' || (tag === 'INPUT' &&
    ['text', 'search', 'email', 'password', 'tel', 'url', 'number'].includes(kind));
  const typed = (window.__gazeTyped = window.__gazeTyped || new WeakSet());
  const before = typed.has(el);
  typed.add(el);
  return field && !before;
}}"""


async def _type(page: Page, a: Type, secrets: Secrets) -> str | None:
    """Type the text, secrets filled in (with ``replace``, over the text the focused field
    showed before this page's agent first typed into it); a note when a secret went into an
    unmasked field."""
    text = secrets.fill(a.text)
    names = secret_names(a.text)
    masked = True
    if names:
        try:
            masked = bool(await page.evaluate(_FOCUS_MASKED_JS))
        except Exception:  # a cross-origin frame has focus: assume the worst
            masked = False
    if a.replace:
        try:
            select = bool(await page.evaluate(_SELECT_FIRST_JS))
        except Exception:  # a cross-origin frame has focus: no telling, type as without
            select = False
        if select:
            await page.keyboard.press("ControlOrMeta+a")
    await page.keyboard.type(text, delay=TYPE_DELAY_MS)
    if a.submit:
        await page.keyboard.press("Enter")
    if masked:
        return None
    return (
        f"the secret {', '.join(names)} was typed into a field that does not mask it (not a "
        "password field); screenshots may show it"
    )


async def _navigate(page: Page, url: str, timeout_s: float) -> str | None:
    try:
        resp = await page.goto(url, wait_until="domcontentloaded", timeout=timeout_s * 1000)
    except Exception as e:  # Playwright raises plain Error subclasses for every navigation failure
        # a navigation that timed out is still pending in Chromium and would later replace
        # whatever the next action loads: stop it
        with contextlib.suppress(Exception):
            await page.evaluate("() => window.stop()")
        return f"could not load {url}: {first_line(e)}"
    if resp is not None and resp.status >= 400:
        return f"{url} answered HTTP {resp.status}"
    return None


async def execute(
    page: Page,
    action: Action,
    viewport: tuple[int, int],
    timeout_s: float,
    *,
    policy: UrlPolicy | None = None,
    secrets: Secrets | None = None,
) -> ActionResult:
    """Perform one action; see the module contract. ``policy`` None = any URL; ``secrets`` None
    = no secrets (a placeholder is then refused, never typed as written)."""
    for px, py in points(action):
        err = outside(px, py, viewport)
        if err:
            return ActionResult.failure(err)
    note: str | None = None
    match action:
        case Click(x=x, y=y):
            await _click(page, x, y)
        case DoubleClick(x=x, y=y):
            await _click(page, x, y, count=2)
        case RightClick(x=x, y=y):
            await _click(page, x, y, button="right")
        case Hover(x=x, y=y):
            await page.mouse.move(x, y)
        case Drag():
            await _drag(page, action)
        case Type():
            try:
                note = await _type(page, action, secrets or Secrets())
            except SecretError as e:
                return ActionResult.failure(str(e))
        case KeyPress(keys=keys):
            try:
                combo = normalize_combo(keys)
            except ValueError as e:
                return ActionResult.failure(str(e))
            await page.keyboard.press(combo)
        case Scroll():
            await _scroll(page, action)
        case Navigate(url=url):
            refused = policy.check_navigation(url) if policy is not None else None
            if refused is not None:
                return ActionResult.failure(f"navigation to {url} refused: {refused}")
            err = await _navigate(page, url, timeout_s)
            if err:
                return ActionResult.failure(err)
        case Back():
            resp = await page.go_back(wait_until="domcontentloaded", timeout=timeout_s * 1000)
            if resp is None:
                return ActionResult.failure("there is no previous page in this tab's history")
        case Wait(seconds=s):
            await asyncio.sleep(s)
        case Done() | GiveUp() | AskUser():
            return ActionResult.failure(f"{action.kind} ends the goal; it is not a page action")
        case _:
            assert_never(action)
    return ActionResult.success(*([note] if note else []))


def points(action: Action) -> list[tuple[float, float]]:
    match action:
        case Click() | DoubleClick() | RightClick() | Hover() | Scroll():
            return [(action.x, action.y)]
        case Drag():
            return [(action.x, action.y), (action.to_x, action.to_y)]
        case _:
            return []
