"""Rendering generated pages in headless Chromium and reading every visible element from the DOM.

Contract:
- ``Renderer`` owns one Chromium (found by ``actions.chromium``, launched with its quiet flags) and
  a pool of ``workers`` tabs per device scale factor; ``async with renderer.tab(w, h, dpr)`` lends
  one tab sized to the viewport, so several pages render at once. Tabs are reused: ``Tab.load``
  replaces the document with ``set_content``, parks the mouse at (0, 0) and waits until fonts are
  loaded and two frames are laid out, and the page runtime resets the scroll position, so a page
  renders the same on any tab.
- ``Tab.annotate()`` is one ``evaluate``: every ``[data-gid]`` element that is rendered, not
  transparent, at least 2x2 CSS px after clipping to the viewport and to its scrolling ancestors,
  and hit by ``elementFromPoint`` at some point of its visible box (so an element under a dialog is
  left out). Boxes and points are viewport CSS px; ``point`` is where the hit test succeeded (the
  box centre whenever that works), and ``exact`` says the hit landed on the element itself rather
  than on a descendant with its own gid.
- ``Tab.screenshot()`` is the viewport as PNG at device pixels (``round(w * dpr)`` x
  ``round(h * dpr)``), straight from the DevTools protocol.

It knows nothing about samples; Playwright is used directly (not ``BrowserEnv``) because one
browser serving many tabs at once is what makes generation fast.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from playwright.async_api import Browser, CDPSession, Page, Playwright, async_playwright

from actions.chromium import QUIET_ARGS, find_chromium, needs_no_sandbox
from tasks.synth.annotations import Annotation

ANNOTATE_JS = """() => {
  const VW = window.innerWidth, VH = window.innerHeight;
  const IMPLIED = { a: 'link', button: 'button', select: 'combobox', textarea: 'textbox',
    h1: 'heading', h2: 'heading', h3: 'heading', h4: 'heading', li: 'listitem', td: 'cell',
    th: 'columnheader', label: 'label', nav: 'navigation', form: 'form', table: 'table',
    ul: 'list', ol: 'list', footer: 'contentinfo', section: 'region', p: 'text', span: 'text',
    b: 'text', div: 'group' };
  const INPUT_ROLES = { checkbox: 'checkbox', radio: 'radio', button: 'button', submit: 'button',
    search: 'searchbox' };
  const roleOf = (el) => {
    const r = el.getAttribute('role');
    if (r) return r;
    const tag = el.tagName.toLowerCase();
    if (tag === 'input') return INPUT_ROLES[el.type] || 'textbox';
    return IMPLIED[tag] || 'generic';
  };
  const squash = (s) => s.replace(/\\s+/g, ' ').trim();
  const ownText = (el) => {
    const tag = el.tagName.toLowerCase();
    if (tag === 'input') {
      if (el.type === 'checkbox' || el.type === 'radio') return '';
      return el.type === 'password' ? '•'.repeat(el.value.length) : el.value;
    }
    if (tag === 'textarea') return el.value;
    if (tag === 'select') return el.selectedIndex >= 0 ? squash(el.options[el.selectedIndex].text) : '';
    const parts = [];
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const p = n.parentElement;
      if (!p || p.closest('[data-gid]') !== el || !p.checkVisibility()) continue;
      const t = getComputedStyle(p).textTransform;
      parts.push(t === 'uppercase' ? n.data.toUpperCase() : n.data);
    }
    return squash(parts.join(' '));
  };
  const nameOf = (el) => {
    const aria = el.getAttribute('aria-label');
    if (aria) return aria;
    if (el.labels && el.labels.length) return ownText(el.labels[0]) || squash(el.labels[0].innerText);
    return el.getAttribute('placeholder') || el.getAttribute('title') || '';
  };
  // The part of the viewport an element's ancestors let it show, and its nearest scrolling
  // ancestor; memoised per ancestor, since siblings share their whole chain.
  const memo = new Map();
  const VIEW = [0, 0, VW, VH, null];
  const chain = (a) => {
    if (!a || a === document.body || a === document.documentElement) return VIEW;
    let res = memo.get(a);
    if (res) return res;
    const cs = getComputedStyle(a);
    res = cs.position === 'fixed' ? VIEW : chain(a.parentElement);
    if (cs.overflowX !== 'visible' || cs.overflowY !== 'visible') {
      const ar = a.getBoundingClientRect();
      const l = ar.left + a.clientLeft, t = ar.top + a.clientTop;
      const scrolls = /(auto|scroll)/.test(cs.overflowY + cs.overflowX)
        && (a.scrollHeight > a.clientHeight || a.scrollWidth > a.clientWidth);
      res = [Math.max(res[0], l), Math.max(res[1], t), Math.min(res[2], l + a.clientWidth),
        Math.min(res[3], t + a.clientHeight), scrolls ? a.closest('[data-gid]') : res[4]];
    }
    memo.set(a, res);
    return res;
  };
  const clip = (el, r) => {
    const [cx0, cy0, cx1, cy1, scroller] = chain(el.parentElement);
    return [Math.max(r.left, cx0), Math.max(r.top, cy0), Math.min(r.right, cx1),
      Math.min(r.bottom, cy1), scroller];
  };
  const out = [];
  for (const el of document.querySelectorAll('[data-gid]')) {
    if (!el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
    const r = el.getBoundingClientRect();
    const [x0, y0, x1, y1, scroller] = clip(el, r);
    if (x1 - x0 < 2 || y1 - y0 < 2) continue;
    const inside = (x, y) => x >= x0 && x < x1 && y >= y0 && y < y1;
    const cands = [[(x0 + x1) / 2, (y0 + y1) / 2]];
    for (const cr of el.getClientRects()) cands.push([(cr.left + cr.right) / 2, (cr.top + cr.bottom) / 2]);
    for (const fx of [0.25, 0.75]) for (const fy of [0.3, 0.7])
      cands.push([x0 + (x1 - x0) * fx, y0 + (y1 - y0) * fy]);
    let point = null, exact = false;
    for (const [x, y] of cands) {
      if (!inside(x, y)) continue;
      const h = document.elementFromPoint(x, y);
      if (!h || !(h === el || el.contains(h))) continue;
      const own = h.closest('[data-gid]') === el;
      if (point === null || (own && !exact)) { point = [x, y]; exact = own; }
      if (exact) break;
    }
    if (point === null) continue;
    const tag = el.tagName.toLowerCase();
    const aria = (k) => { const v = el.getAttribute(k); return v === null ? null : v === 'true'; };
    const isInput = tag === 'input' || tag === 'textarea' || tag === 'select';
    const checkable = tag === 'input' && (el.type === 'checkbox' || el.type === 'radio');
    const text = ownText(el);
    let role = roleOf(el);
    if ((role === 'group' || role === 'generic') && text) role = 'text';
    out.push({
      gid: el.dataset.gid, tag, role, text, name: squash(nameOf(el)),
      box: { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }, point, exact,
      clipped: x0 > r.left + 0.5 || y0 > r.top + 0.5 || x1 < r.right - 0.5 || y1 < r.bottom - 0.5,
      scroller: scroller ? scroller.dataset.gid : null,
      input_type: tag === 'input' ? el.type : null,
      value: isInput && !checkable ? el.value : null,
      checked: checkable ? el.checked : null,
      selected: aria('aria-selected'), expanded: aria('aria-expanded'),
      disabled: !!el.disabled, focused: el === document.activeElement,
    });
  }
  const d = document.documentElement;
  return { viewport_w: VW, viewport_h: VH, scroll_x: window.scrollX, scroll_y: window.scrollY,
    page_w: d.scrollWidth, page_h: d.scrollHeight, elements: out };
}"""

# Grayscale text antialiasing whatever the layer, no hinting: text pixels depend less on history
# (a page rendered twice mostly gives the same bytes; see docs/DATA.md).
TEXT_ARGS = ("--disable-lcd-text", "--font-render-hinting=none")
# Every font the page asked for is loaded, and two frames have been laid out since.
FONTS_SETTLED_JS = (
    "async () => { await document.fonts.ready; await new Promise(r => "
    "requestAnimationFrame(() => requestAnimationFrame(() => r(null)))); }"
)
# Two animation frames: whatever an action changed has been laid out and painted.
SETTLE_JS = (
    "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(null))))"
)


@dataclass(frozen=True)
class RenderConfig:
    workers: int = 3  # tabs rendering at once (per device scale factor)
    executable: str | None = None  # Chromium binary; None = detect (actions.chromium)
    fast_png: bool = False  # Chromium's fast PNG encoder: ~30% quicker captures, ~35% larger files
    timeout_s: float = 30.0  # any single browser call


@dataclass
class Tab:
    """One reusable browser tab at a fixed device scale factor."""

    page: Page
    cdp: CDPSession
    dpr: float
    config: RenderConfig
    viewport: tuple[int, int] = (0, 0)

    async def resize(self, w: int, h: int) -> None:
        if (w, h) != self.viewport:
            await self.page.set_viewport_size({"width": w, "height": h})
            self.viewport = (w, h)

    async def load(self, html: str) -> None:
        """Replace the document with ``html`` and park the mouse in the top-left corner."""
        await self.page.set_content(html, wait_until="load", timeout=self.config.timeout_s * 1000)
        await self.page.mouse.move(0, 0)
        # Measured without this, about one load in four on a busy machine laid a line out 1 px
        # off (a font face still arriving); after it, every load of a page measured the same.
        await self.page.evaluate(FONTS_SETTLED_JS)

    async def settle(self) -> None:
        await self.page.evaluate(SETTLE_JS)

    async def annotate(self) -> Annotation:
        raw: dict[str, Any] = await self.page.evaluate(ANNOTATE_JS)
        return Annotation.model_validate({**raw, "dpr": self.dpr})

    async def screenshot(self) -> bytes:
        """The viewport as PNG bytes at device pixels."""
        params: dict[str, Any] = {"format": "png", "optimizeForSpeed": self.config.fast_png}
        if self.dpr != 1:
            metrics = await self.cdp.send("Page.getLayoutMetrics")
            vv = metrics["cssVisualViewport"]
            w, h = self.viewport
            params["clip"] = {
                "x": vv["pageX"],
                "y": vv["pageY"],
                "width": w,
                "height": h,
                "scale": self.dpr,
            }
        shot = await asyncio.wait_for(
            self.cdp.send("Page.captureScreenshot", params), self.config.timeout_s
        )
        return base64.b64decode(shot["data"])

    async def evaluate(self, expression: str, arg: object = None) -> Any:
        return await self.page.evaluate(expression, arg)


@dataclass
class _Slot:
    tabs: dict[float, Tab] = field(default_factory=dict)


class Renderer:
    """One Chromium, ``workers`` slots of tabs; see the module contract."""

    def __init__(self, config: RenderConfig | None = None) -> None:
        self.config = config or RenderConfig()
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self._slots: asyncio.Queue[_Slot] = asyncio.Queue()

    async def __aenter__(self) -> Renderer:
        self._pw = await async_playwright().start()
        args = [*QUIET_ARGS, *TEXT_ARGS, *(["--no-sandbox"] if needs_no_sandbox() else [])]
        exe = find_chromium(self.config.executable, self._pw.chromium.executable_path)
        self._browser = await self._pw.chromium.launch(
            executable_path=exe, headless=True, args=args, timeout=self.config.timeout_s * 1000
        )
        for _ in range(self.config.workers):
            self._slots.put_nowait(_Slot())
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._browser is not None:
            with contextlib.suppress(Exception):
                await self._browser.close()
        if self._pw is not None:
            await self._pw.stop()

    @property
    def browser_version(self) -> str:
        return self._browser.version if self._browser is not None else ""

    async def _tab(self, slot: _Slot, dpr: float) -> Tab:
        tab = slot.tabs.get(dpr)
        if tab is None:
            assert self._browser is not None, "use Renderer as an async context manager"
            ctx = await self._browser.new_context(
                viewport={"width": 800, "height": 600}, device_scale_factor=dpr
            )
            ctx.set_default_timeout(self.config.timeout_s * 1000)
            page = await ctx.new_page()
            tab = Tab(page, await ctx.new_cdp_session(page), dpr, self.config, (800, 600))
            slot.tabs[dpr] = tab
        return tab

    @contextlib.asynccontextmanager
    async def tab(self, w: int, h: int, dpr: float) -> AsyncIterator[Tab]:
        """Borrow a tab with a ``w`` x ``h`` CSS px viewport at device scale ``dpr``."""
        slot = await self._slots.get()
        try:
            tab = await self._tab(slot, dpr)
            await tab.resize(w, h)
            yield tab
        finally:
            self._slots.put_nowait(slot)
